// Engine: the serving engine — many requests in flight over one model, continuous batching,
// chunked prefill, a paged KV cache with prefix reuse, and KV events for a router.
//
// Threading model. The engine owns one loop thread that runs every step: it takes new requests
// and aborts from an inbox, plans the step (scheduler.h), runs one forward pass over the ragged
// batch (a StepExecutor: the model's ForwardBatch on the engine's thread pool, or a simulation),
// samples, and delivers outputs. All public methods are thread-safe and never wait for a step to
// finish, except SubscribeKvEvents, UnsubscribeKvEvents and ResetPrefixCache, which wait for the
// loop to reach them, and WaitIdle, which waits for the loop to go idle. Output
// callbacks and KV event sinks run on the loop thread: they must return quickly and must not call
// back into the engine except Abort().
//
// Request lifecycle: Submit validates (clear kInvalidArgument naming the field), queues, and
// returns an id. The callback receives zero or more outputs with new tokens and exactly one final
// output with finish != kNone (stop, length, abort or error). Abort(id) frees everything the
// request holds at the next step boundary and delivers its final output (kAbort). Destroying the
// engine aborts every request still live.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/block_pool.h"
#include "engine/kv_connector.h"
#include "engine/kv_events.h"
#include "engine/logits_processor.h"
#include "engine/sampler.h"
#include "engine/scheduler.h"
#include "model/model.h"

namespace mint::engine {

class StepExecutor;  // executor.h

struct EngineConfig {
  // KV cache: explicit blocks, else explicit bytes, else a fraction of available memory
  // (capped at what max_num_seqs full-length sequences can use).
  int64_t kv_cache_blocks = 0;
  int64_t kv_cache_bytes = 0;
  double kv_cache_memory_fraction = 0.25;
  DType kv_cache_type = DType::kF16;
  int32_t block_size = 16;
  bool enable_prefix_cache = true;
  uint64_t cache_salt = 0;    // namespace / LoRA salt for block hashes
  SchedulerConfig scheduler;  // max_model_len <= 0: the model's trained context
  int threads = 0;            // <= 0: physical cores
  int32_t max_queued = 1024;  // waiting requests beyond this are refused (kResourceExhausted)
  // KV held outside the pool (kv_connector.h); must outlive the engine. Null: requests with
  // kv_import / kv_export are refused.
  KvConnector* kv_connector = nullptr;
  // A failed KV load: compute the tokens instead (true), or end the request with kError.
  bool kv_load_failure_recompute = true;
  // Builds a LogitsProcessor for requests with a grammar (logits_processor.h). Empty: such
  // requests are refused.
  LogitsProcessorFactory logits_processor_factory = {};
  // Added to the scheduling niceness of the engine's threads (its loop and compute threads), in
  // [0, 19]. A prefill engine sharing cores with a decode engine can yield to it (and to its KV
  // pulls): decode steps are the latency-critical work.
  int nice = 0;
  Status Validate() const;
};

enum class FinishReason { kNone, kStop, kLength, kAbort, kError };

struct Request {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int64_t max_tokens = 16;  // new tokens at most (also capped by max_model_len)
  // Finish (kStop) after emitting one of these. The engine knows no tokenizer: callers add the
  // model's end-of-generation ids here unless the user asked to ignore EOS.
  std::vector<int32_t> stop_token_ids;
  int32_t logprobs = -1;  // < 0: none; 0: the sampled token's; n: plus the top n
  int32_t priority = 0;   // larger first; FCFS within a priority
  // Disaggregation (kv_connector.h). Prefill side: hold the prompt's KV blocks after the request
  // finishes and return their handle in the final output.
  bool kv_export = false;
  // Decode side: the KV of prompt tokens [0, kv_import_tokens) comes from this handle (another
  // engine's kv_export_handle) instead of being computed; 0 < kv_import_tokens < prompt size.
  std::string kv_import;
  int64_t kv_import_tokens = 0;
  // Constrained decoding: the output must match this GBNF grammar (src/grammar; JSON schemas,
  // regexes and choice lists arrive already written as GBNF). Empty: unconstrained. Stop tokens
  // are allowed only where the grammar is complete.
  std::string grammar;
  // Lazy grammars (tool calls under tool_choice auto): the output is free until it contains
  // this text, then `grammar` applies to what follows, until it completes. Empty: the grammar
  // covers the whole output.
  std::string grammar_trigger;
  // The last grammar_generated prompt tokens are output already generated under `grammar` (a
  // migrated request, or decode after a remote prefill): the constraint starts past them.
  int64_t grammar_generated = 0;
};

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // most likely first
};

struct RequestOutput {
  uint64_t request_id = 0;
  std::vector<int32_t> tokens;         // new since the previous output
  std::vector<TokenLogprob> logprobs;  // one per new token when requested
  FinishReason finish = FinishReason::kNone;
  Status error;  // kError only
  // Totals, valid in every output.
  int64_t prompt_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // prompt tokens served from the prefix cache
  int64_t generated_tokens = 0;
  // Final output of a kv_export request that ended by length: what the puller needs.
  std::string kv_export_handle;
  // Its kv_import could not be loaded: the prompt was computed here instead, or (with
  // kv_load_failure_recompute off) the request ends with kError. Set in every output after.
  bool kv_import_failed = false;
};
using OutputCallback = std::function<void(const RequestOutput&)>;

// One engine step as a router's step-time model sees it (executor.h, StepShapeCounts).
struct StepRecord {
  uint64_t step = 0;  // the engine's step number (EngineMetrics::steps when it ran)
  int64_t prefill_tokens = 0;
  int64_t decode_seqs = 0;
  int64_t decode_kv_tokens = 0;
  double seconds = 0;  // device time (StepExecutor::DeviceSeconds; a mocker's is simulated)
};

struct EngineMetrics {
  int32_t running = 0;
  // Requests not yet running, including those submitted since the loop last took new requests
  // in (so a load report made while a long step runs counts the requests that arrived during
  // it), and the prompt tokens of waiting and prefilling requests not yet computed.
  int32_t waiting = 0;
  int64_t waiting_prefill_tokens = 0;
  BlockPoolStats blocks;
  uint64_t preemptions = 0;
  uint64_t steps = 0;
  double busy_seconds = 0;  // cumulative wall time of the steps' forward passes
  uint64_t requests_finished = 0;
  uint64_t requests_aborted = 0;
  uint64_t prompt_tokens = 0;     // computed (not cached) prompt tokens, cumulative
  uint64_t generated_tokens = 0;  // cumulative
  uint64_t last_kv_event_id = 0;
  // KV connector (kv_connector.h).
  int32_t waiting_for_kv = 0;        // sequences whose KV load is in flight
  int32_t kv_exports_pending = 0;    // finished exports whose blocks are still held
  uint64_t kv_exports = 0;           // cumulative
  uint64_t kv_loads = 0;             // cumulative, started
  uint64_t kv_load_failures = 0;     // cumulative
  uint64_t kv_blocks_loaded = 0;     // cumulative: blocks a load brought in
  uint64_t kv_blocks_skipped = 0;    // cumulative: blocks of an import already in the prefix cache
  // Tiers (KvConnector::Lookup): loads of prompt blocks held outside the pool, cumulative.
  uint64_t kv_onboards = 0;
  uint64_t kv_onboard_failures = 0;  // each recomputed instead
  uint64_t kv_blocks_onboarded = 0;
  double recompute_seconds_per_block = 0;  // the engine's estimate that Lookup compares against
  // The last steps run (at most kRecentSteps, oldest first), for load reports: a reader that
  // remembers the last step number it saw takes the newer ones.
  static constexpr size_t kRecentSteps = 64;
  std::vector<StepRecord> recent_steps;
  int32_t max_num_batched_tokens = 0;  // the scheduler's tokens per step
};

class Engine {
 public:
  // `model` must outlive the engine. Allocates the KV cache and starts the loop thread.
  static Result<std::unique_ptr<Engine>> Create(const model::Model* model,
                                                const EngineConfig& config);
  // An engine whose steps `executor` computes (the mocker's simulated one, see executor.h). The
  // KV cache has no memory of its own here, so config.kv_cache_blocks must be > 0 (bytes and
  // fraction are ignored); max_model_len <= 0 means the executor's n_ctx_train (else 4096);
  // config.threads is unused.
  static Result<std::unique_ptr<Engine>> CreateWithExecutor(std::unique_ptr<StepExecutor> executor,
                                                            const EngineConfig& config);
  ~Engine();

  // Queues a request. Errors: kInvalidArgument (empty prompt, token outside the vocabulary,
  // prompt longer than max_model_len or than the whole KV cache, bad sampling parameters),
  // kResourceExhausted (queue full), kUnavailable (engine stopping).
  Result<uint64_t> Submit(Request request, OutputCallback on_output);
  // Aborts a request if it is still live; unknown ids are ignored.
  void Abort(uint64_t request_id);

  // Counters as of the last finished request or loop turn: a request's final output is delivered
  // after the metrics that count it are published.
  EngineMetrics Metrics() const;
  const EngineConfig& config() const;  // with sizes resolved (blocks, max_model_len, threads)
  int64_t num_kv_blocks() const;
  KvMemory kv_memory() const;

  // Adds a KV event subscriber: on the loop thread, the sink first receives OnKvSnapshot (what
  // is cached now) and then every later event, from last_event_id + 1 on. Returns the same
  // snapshot.
  KvSnapshot SubscribeKvEvents(KvEventSink* sink);
  void UnsubscribeKvEvents(KvEventSink* sink);
  // Drops every cached (unreferenced) block and emits Cleared.
  void ResetPrefixCache();
  // Returns once the loop has processed everything submitted before the call and is idle
  // (tests, benchmarks).
  void WaitIdle();

 private:
  class Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A submitted request as a pull stream: the handle form of Submit's callback. Thread-safety: one
// consumer thread calls Next(); any thread may call Abort(). Destroying the handle aborts the
// request if it is still running.
class RequestHandle {
 public:
  static Result<std::unique_ptr<RequestHandle>> Submit(Engine* engine, Request request);
  ~RequestHandle();
  uint64_t id() const { return id_; }
  // Blocks for the next output; after the final one (finish != kNone) returns it again forever.
  RequestOutput Next();
  void Abort();

 private:
  struct State;
  RequestHandle() = default;
  Engine* engine_ = nullptr;
  uint64_t id_ = 0;
  std::shared_ptr<State> state_;
};

// Submits one request and blocks until it finishes: the convenience path for tools and tests.
struct CompletedRequest {
  std::vector<int32_t> tokens;
  std::vector<TokenLogprob> logprobs;
  FinishReason finish = FinishReason::kNone;
  Status error;
  int64_t cached_prompt_tokens = 0;
  bool kv_import_failed = false;
};
Result<CompletedRequest> RunToCompletion(Engine* engine, Request request);

}  // namespace mint::engine
