// Simulator: a deployment of workers and a router, run in virtual time. Each
// simulated worker is Mint's real Scheduler and BlockPool (prefix cache, KV events, preemption);
// the router is the real Router fed by those KV events and by load reports at a fixed period, as
// the frontend feeds it; a step takes the time the mocker's TimingModel gives its shape (the
// same step shape the mocker and the engine count, engine::CountStep). No threads, no sleeps, no
// sockets: one event queue ordered by (time, insertion), so the same inputs give the same report
// byte for byte, and a trace of an hour runs in about a second.
//
// Aggregated (num_prefill_workers 0): the router picks a worker among all of them for each
// request. Disaggregated: requests are split as `mint frontend` splits them
// (frontend/remote_backend.h): a request with max_tokens > 1 whose prompt has at least
// remote_prefill_min_tokens (and remote_prefill_min_fraction of the prompt) uncached on the decode
// worker the router would pick is prefilled on a prefill worker (first token), then its KV is
// pulled by a decode worker over a link (the uncached blocks' bytes at kv_gbps, queued behind
// that worker's earlier pulls, plus kv_latency_s: the mocker's simulated link,
// worker/kv_transfer.h) and the decode worker generates the rest; the first token reaches the
// client with the decode worker's first output (the frontend's default). Other requests run on a
// decode worker alone.
//
// What it leaves out, against wall-clock mockers behind a frontend: the network and the
// frontend's own latency (a token reaches the client the moment its step ends; the time to route
// a request is modelled only when frontend_latency_s / frontend_s_per_token are set), the load
// reports' transit, and the KV events' (applied the moment a step ends); a prefill worker
// releases a prompt's blocks when its first token is sampled (the real one holds them until the
// decode worker has pulled them).
//
// Thread-safety: Simulate is a pure function of its arguments; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "bench_lib/stats.h"
#include "core/status.h"
#include "engine/scheduler.h"
#include "mocker/timing_model.h"
#include "router/queue.h"
#include "router/router.h"

namespace mint::sim {

struct SimConfig {
  int32_t num_workers = 8;  // aggregated workers, or the decode workers when disaggregated
  // Disaggregation (see above): prefill workers beside the num_workers decode workers.
  int32_t num_prefill_workers = 0;
  int64_t remote_prefill_min_tokens = 512;  // as `mint frontend --remote-prefill-min-tokens`
  double remote_prefill_min_fraction = 0.5;
  uint64_t kv_bytes_per_token = 131072;  // KV bytes a token's pull moves (Llama-3-8B, F16)
  double kv_gbps = 25;                   // each decode worker's link, GB/s
  double kv_latency_s = 0.001;           // per pull, on top of the bytes
  int32_t block_size = 16;
  int32_t num_blocks = 16384;  // per worker
  bool enable_prefix_cache = true;
  engine::SchedulerConfig scheduler{.max_num_seqs = 256, .max_num_batched_tokens = 8192,
                                    .max_model_len = 262144};
  mocker::TimingModel timing = mocker::TimingModel::Polynomial();
  router::RouterConfig router{};  // block_size must equal block_size above
  double load_report_interval_s = 0.1;  // as `mint worker` publishes its load
  // The frontend's time from a request's arrival to its routing decision (HTTP, JSON, hashing,
  // the hop to the worker), counted in TTFT: frontend_latency_s + frontend_s_per_token x prompt
  // tokens. 0 (the default): routed on arrival. A remote prefill's first token passes through the
  // frontend again (frontend_latency_s) before the decode worker is chosen. On the 2-core VM of
  // docs/perf.md, with the client beside it: about 2 ms + 0.16 us per token.
  double frontend_latency_s = 0;
  double frontend_s_per_token = 0;
  // A router queue (router/queue.h): requests wait at the router while every worker has at
  // least queue_busy_s of prefill queued. Unset: every request is routed on arrival.
  // Aggregated layouts only.
  std::optional<router::QueuePolicy> queue;
  double queue_busy_s = 0.5;
  double queue_max_age_s = 10.0;
  uint64_t token_seed = 0;  // synthetic generated tokens (mocker::SimulatedExecutor's choice)
  Status Validate() const;
};

struct SimRequest {
  double arrival_s = 0;
  std::vector<int32_t> prompt;  // non-empty, shorter than scheduler.max_model_len
  int32_t output_tokens = 1;    // generated, then the request ends (max_tokens with ignore_eos)
};

// A worker's state when the run ends.
struct WorkerEnd {
  int32_t used_blocks = 0;    // referenced by a sequence (0: nothing leaked)
  int32_t cached_blocks = 0;  // in its prefix cache
  size_t indexed_blocks = 0;  // what the router's index holds for it (from KV events)
  bool prefill = false;       // a prefill worker (disaggregated)
};

struct SimResult {
  // One record per request, in request order, on the virtual clock (seconds from 0): what
  // `mint bench` would have measured with a client beside the router.
  std::vector<bench::RequestRecord> records;
  int64_t prompt_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // found in the chosen worker's prefix cache at admission
  int64_t steps = 0;                 // engine steps over all workers
  int64_t preemptions = 0;
  int64_t queued = 0;  // requests the router queue held before routing them
  // Disaggregated: requests prefilled on a prefill worker, and their KV pulls.
  int64_t remote_prefills = 0;
  // Kept on a decode worker although prefill workers exist (max_tokens > 1), as the frontend
  // counts them: the prompt is shorter than remote_prefill_min_tokens, or enough of it is cached.
  int64_t local_prefills_short = 0, local_prefills_cached = 0;
  int64_t kv_pulled_blocks = 0;      // blocks moved (a decode worker's cached blocks are not)
  double kv_pull_s = 0;              // pull durations (queueing on the link included), summed
  double end_s = 0;                  // virtual time when the last request finished
  double busy_s = 0;                 // step time summed over all workers
  // busy_s / (all workers * (end_s - first arrival)): 1 = every worker stepping all the time.
  double utilization = 0;
  router::RouterStats router;
  std::vector<WorkerEnd> workers;  // decode (or aggregated) workers first, then prefill
  double hit_rate() const {
    return prompt_tokens ? static_cast<double>(cached_prompt_tokens) / prompt_tokens : 0.0;
  }
};

// Runs `requests` (any order of arrival) to completion. Errors: kInvalidArgument for a bad
// config or request (naming it).
Result<SimResult> Simulate(const SimConfig& config, const std::vector<SimRequest>& requests);

}  // namespace mint::sim
