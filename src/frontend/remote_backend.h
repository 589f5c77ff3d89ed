// RemoteBackend: the frontend's GenerationBackend over workers found through discovery and
// reached over the request plane (gRPC `Worker.Generate`).
//
// Each request goes to one worker, chosen by the router (src/router: KV-cache overlap from the
// workers' KV events, and load), fed by the event plane. If the worker dies or its stream breaks
// before the request finishes, the request is re-sent to another worker with the tokens
// generated so far appended to the prompt and max_tokens reduced by as many — up to
// `migration_limit` times — and the caller sees one uninterrupted stream of outputs. A request
// rejected by the worker (invalid, too long) is not retried.
//
// Thread-safety: every method may be called from any thread. No thread is held per request: each
// call's stream is read by a gRPC reactor, and output callbacks arrive on gRPC's callback threads
// (or, for a request that waited for a worker, on the backend's one waiter thread). Callbacks
// must not block.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "frontend/backend.h"
#include "runtime/plane_tls.h"
#include "router/queue.h"
#include "router/router.h"
#include "runtime/discovery.h"

namespace mint::frontend {

struct RemoteBackendOptions {
  std::string model_name;   // route only to workers announcing this model ("" = any)
  int migration_limit = 3;  // re-sends per request after a worker is lost
  int64_t max_model_len = 0;  // used until a worker announces its own (then the smallest wins)
  // How long a request waits for a worker to appear when none is serving (at start or after a
  // loss) before it fails with kUnavailable.
  std::chrono::milliseconds wait_for_worker{std::chrono::seconds(10)};
  // Follow each worker's KV events and load on the event plane (workers that announce an
  // events address); the per-worker cache state feeds /metrics and, later, KV-aware routing.
  bool subscribe_kv_events = true;
  // A request still running this long after Submit ends with an error (0: no limit). The
  // deadline travels with each gRPC call, so the worker aborts the request at the same moment.
  std::chrono::milliseconds request_timeout{0};
  // How a worker is chosen (src/router): kv (KV-cache overlap x load, the default),
  // round-robin, random or least-loaded; block_size must match the workers'. Among workers not
  // excluded for the request, ones that broke a call in the last 2 s are avoided if others exist.
  router::RouterConfig router{};
  // Conditional disaggregation (as Dynamo's disaggregated router). With a prefill worker (role
  // "prefill") registered, a prompt is prefilled there and decoded on a decode (or aggregated)
  // worker that pulls its KV when all three hold; otherwise one worker does both:
  //   - the tokens the router predicts the decode worker it would pick lacks (the prompt less its
  //     cached prefix there) are at least remote_prefill_min_tokens,
  //   - and at least remote_prefill_min_fraction of the prompt (a prompt mostly cached on the
  //     decode worker is cheaper to finish there than to move),
  //   - and some prefill worker has less than remote_prefill_max_queue_s of prefill queued (its
  //     router step-time model's estimate; 0: no limit).
  // A prompt whose remote prefill fails is prefilled on the decode worker.
  int64_t remote_prefill_min_tokens = 512;
  double remote_prefill_min_fraction = 0.5;
  double remote_prefill_max_queue_s = 0;
  // A remotely prefilled request's first token (computed by the prefill worker) reaches the
  // client: false (as Dynamo and vLLM) with the decode worker's first output, so the time to
  // first token includes the KV transfer and the stream has no handoff gap; true as soon as the
  // prefill worker returns it (an earlier first token, then one gap of transfer + first step).
  bool stream_prefill_token = false;
  // A router queue (router/queue.h): a new request is held here, not routed, while every worker
  // has at least router_queue_busy_s of prefill queued (its router step-time model's estimate),
  // and released in the policy's order as workers report less. Unset: route every request at
  // once. Requests prefilled on a prefill worker are not held.
  std::optional<router::QueuePolicy> router_queue{};
  double router_queue_busy_s = 0.5;
  double router_queue_max_age_s = 10.0;
  // Mutual TLS to the workers (they must run with the same cluster CA); disabled: plaintext.
  runtime::PlaneTls tls{};
};

struct RemoteBackendStats {
  uint64_t requests = 0;   // submitted
  uint64_t migrated = 0;   // re-sends after a lost worker (one request may count several)
  uint64_t failed = 0;     // ended with an error the client sees
  uint64_t aborted = 0;    // aborted by the caller
  uint64_t remote_prefills = 0;    // prefilled on a prefill worker
  uint64_t prefill_fallbacks = 0;  // prefill worker failed: prefilled on the decode worker
  // The decode worker could not pull the prompt's KV: it computed the prompt itself
  // (--kv-load-failure-policy recompute) / the request failed (fail).
  uint64_t kv_import_recomputed = 0, kv_import_failed = 0;
  // Prefilled on the decode worker although a prefill worker was up (the options above): too
  // few uncached tokens / mostly cached there / every prefill worker's queue too long.
  uint64_t local_prefills_short = 0, local_prefills_cached = 0, local_prefills_queue = 0;
  int64_t prefill_queue_tokens = 0;  // prompt tokens queued on prefill workers (their reports)
  uint64_t held = 0;               // held by the router queue before routing (cumulative)
  int64_t holding = 0;             // held now
  int64_t workers = 0;     // workers serving the model now
  int64_t in_flight = 0;
  uint64_t kv_events = 0;   // KV events received from workers (event plane)
  uint64_t kv_gaps = 0;     // gaps in their ids, each repaired from a snapshot
  uint64_t kv_resyncs = 0;
  int64_t kv_blocks = 0;    // cached blocks over all workers, as rebuilt from the events
};

class RemoteBackend : public GenerationBackend {
 public:
  // Starts watching `discovery` (which must outlive the backend).
  static Result<std::unique_ptr<RemoteBackend>> Create(runtime::Discovery* discovery,
                                                       const RemoteBackendOptions& options);
  ~RemoteBackend() override;  // Close()

  using GenerationBackend::Submit;
  Result<uint64_t> Submit(protocol::GenerateRequest request, protocol::OutputCallback on_output,
                          const router::RouteOverrides& route) override;
  void Abort(uint64_t id) override;
  engine::EngineMetrics Metrics() const override;
  int64_t max_model_len() const override;
  std::string MetricsText() const override;

  RemoteBackendStats stats() const;
  // Waits until at least `n` workers serve the model; false on timeout.
  bool WaitForWorkers(size_t n, std::chrono::milliseconds timeout) const;
  // Aborts everything in flight, waits until every request has delivered its final output, and
  // refuses later Submits.
  void Close();

 private:
  struct Impl;
  explicit RemoteBackend(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace mint::frontend
