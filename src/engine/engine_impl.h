// Engine::Impl: the engine loop's state, shared by engine.cpp (submission, lifecycle, KV
// connector, the loop) and engine_step.cpp (one step: schedule, forward, sample, deliver, and
// the metrics it publishes). Internal to mint_engine; include only from those files.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "engine/executor.h"

namespace mint::engine {

class Engine::Impl {
 public:
  // One request on the loop thread, from Submit to its finish.
  struct LiveRequest {
    uint64_t id = 0;
    Request req;
    OutputCallback callback;
    Sampler sampler;
    SeqState* seq = nullptr;
    std::unique_ptr<LogitsProcessor> processor;  // requests with a grammar
    bool abort_after_load = false;               // aborted while its KV load was in flight
    bool kv_import_failed = false;  // its kv_import load failed (RequestOutput::kv_import_failed)
    LiveRequest(uint64_t id_in, Request r, OutputCallback cb, int64_t n_vocab)
        : id(id_in), req(std::move(r)), callback(std::move(cb)), sampler(req.sampling, n_vocab) {}
  };

  // Lets a connector's release callback, which may run after the engine is gone, reach the engine
  // only while it exists.
  struct ReleaseGate {
    std::mutex mu;
    std::function<void(std::vector<BlockId>)> post;  // null once the engine is stopping
    std::function<void(KvEvent)> event;              // a connector's tier event; likewise
  };

  // config.kv_cache_blocks is resolved (> 0).
  Impl(std::unique_ptr<StepExecutor> executor, const EngineConfig& config)
      : executor_(std::move(executor)),
        n_vocab_(executor_->n_vocab()),
        chooses_tokens_(executor_->chooses_tokens()),
        config_(config),
        pool_(BlockPoolConfig{.num_blocks = static_cast<int32_t>(config.kv_cache_blocks),
                              .block_size = config.block_size,
                              .enable_prefix_cache = config.enable_prefix_cache,
                              .salt = config.cache_salt}),
        scheduler_(config.scheduler, &pool_),
        release_gate_(std::make_shared<ReleaseGate>()) {
    release_gate_->event = [this](KvEvent e) {
      {
        std::lock_guard<std::mutex> lk(mu_);
        commands_.push_back([this, e = std::move(e)] { pool_.PublishExternal(e); });
        idle_ = false;
      }
      cv_.notify_all();
    };
    release_gate_->post = [this](std::vector<BlockId> blocks) {
      {
        std::lock_guard<std::mutex> lk(mu_);
        commands_.push_back([this, blocks = std::move(blocks)] {
          pool_.Release(blocks);
          --exports_pending_;
        });
        idle_ = false;
      }
      cv_.notify_all();
    };
    AttachConnector();
    loop_ = std::thread([this] { Loop(); });
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lk(release_gate_->mu);
      release_gate_->post = nullptr;
      release_gate_->event = nullptr;
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    loop_.join();
  }

  Result<uint64_t> Submit(Request request, OutputCallback on_output);
  void Abort(uint64_t id) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      aborts_.push_back(id);
      idle_ = false;
    }
    cv_.notify_all();
  }
  EngineMetrics Metrics() const {
    std::lock_guard<std::mutex> lk(metrics_mu_);
    EngineMetrics m = metrics_;
    m.waiting += unpublished_.seqs;
    m.waiting_prefill_tokens += unpublished_.tokens;
    return m;
  }
  // Runs fn on the loop thread and waits for it.
  void RunOnLoop(std::function<void()> fn) {
    std::promise<void> done;
    auto fut = done.get_future();
    {
      std::lock_guard<std::mutex> lk(mu_);
      commands_.push_back([&] {
        fn();
        done.set_value();
      });
      idle_ = false;
    }
    cv_.notify_all();
    fut.wait();
  }
  void WaitIdle() {
    std::unique_lock<std::mutex> lk(mu_);
    idle_cv_.wait(lk, [&] { return idle_ || stop_; });
  }

  std::unique_ptr<StepExecutor> executor_;  // loop thread only
  const int64_t n_vocab_;
  const bool chooses_tokens_;  // the executor picks tokens: no logits, no sampler
  EngineConfig config_;
  BlockPool pool_;       // loop thread only
  Scheduler scheduler_;  // loop thread only

 private:
  void Loop();
  // Lowers every compute thread's priority by config_.nice.
  void LowerThreadPriority();
  // Takes new requests into the scheduler (loop thread).
  void Ingest(std::deque<std::unique_ptr<LiveRequest>>& inbox);
  // After stop: waits for loads in flight, then ends every request as aborted.
  void AbortAllOnStop();
  void Step();
  // A plan with nothing to run: waits for loads, or ends a request that can never fit.
  void OnEmptyPlan();
  // Fills batch_ / batch_stops_ from the plan; returns how many rows sample.
  int64_t BuildBatch(const StepPlan& plan);
  // Samples each sampling sequence's next token from the step's rows and reports or ends it.
  void EmitTokens(const StepPlan& plan);
  void Finish(LiveRequest* r, FinishReason reason, Status error, RequestOutput out);
  // kv_export: hands the prompt's blocks to the connector instead of releasing them.
  void ExportBlocks(LiveRequest* r, FinishReason* reason, Status* error, RequestOutput* out);
  // Tiers (kv_connector.h): the connector sees the KV memory, offered blocks and lookups.
  void AttachConnector();
  void StartLoad(SeqState* seq);
  void OnLoaded(uint64_t id, Status status);
  void FinishById(uint64_t id, FinishReason reason, Status error);
  RequestOutput MakeOutput(const LiveRequest& r) const;
  // The next token of `r` from the step's row `row` (its logprobs appended to `out` if asked),
  // through its logits processor if it has one; -1 when that constraint allows no token.
  int32_t NextToken(LiveRequest* r, int64_t row, RequestOutput* out);
  // For executors that choose tokens: the first token after `chosen` the constraint allows.
  int32_t ConstrainedChoice(LiveRequest* r, int32_t chosen);
  void PublishMetrics();
  void RecordStep(const StepBatch& step, std::chrono::steady_clock::duration took);

  std::thread loop_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  // Guarded by mu_.
  std::deque<std::unique_ptr<LiveRequest>> inbox_;
  std::vector<uint64_t> aborts_;
  std::vector<std::function<void()>> commands_;
  std::vector<std::pair<uint64_t, Status>> loaded_;  // finished KV loads
  bool stop_ = false;
  bool idle_ = true;
  int64_t outstanding_ = 0;  // submitted and not finished

  std::atomic<uint64_t> next_id_{1};
  std::unordered_map<uint64_t, std::unique_ptr<LiveRequest>> live_;  // loop thread only
  std::vector<float> logits_, logprobs_;                             // loop thread only
  std::vector<float> allowed_scratch_;                               // loop thread only
  std::vector<int32_t> allowed_ids_;                                 // loop thread only
  std::vector<int32_t> chosen_;  // loop thread only; tokens of an executor that chooses them
  std::vector<model::BatchSequence> batch_;            // loop thread only
  std::vector<std::span<const int32_t>> batch_stops_;  // loop thread only
  std::deque<StepRecord> recent_steps_;                // loop thread; EngineMetrics::recent_steps
  uint64_t steps_ = 0, finished_ = 0, aborted_ = 0, prompt_computed_ = 0, generated_ = 0;
  bool waited_since_step_ = false;  // loop thread: waited for work since the last step
  double busy_seconds_ = 0;         // loop thread; EngineMetrics::busy_seconds
  // KV connector state, loop thread only.
  int32_t loads_in_flight_ = 0;
  bool blocked_on_loads_ = false;  // nothing schedulable until a load ends
  int32_t exports_pending_ = 0;
  uint64_t kv_exports_ = 0, kv_loads_ = 0, kv_load_failures_ = 0, kv_blocks_loaded_ = 0,
           kv_blocks_skipped_ = 0;
  uint64_t kv_onboards_ = 0, kv_onboard_failures_ = 0, kv_blocks_onboarded_ = 0;
  // Seconds to compute one block of prompt, from recent prefill steps (0 until one ran).
  double recompute_s_per_block_ = 0;
  std::shared_ptr<ReleaseGate> release_gate_;

  // Requests the published metrics do not count yet: submitted, and either still in the inbox
  // or taken into the scheduler since the last PublishMetrics. Metrics() adds them to waiting,
  // so a load report made while a long step runs counts the requests that arrived during it
  // (a router that saw them vanish from its load sent more of the same prefix to that worker).
  struct Pending {
    int32_t seqs = 0;
    int64_t tokens = 0;  // their prompts: waiting prefill tokens
  };
  Pending ingested_;  // loop thread: taken into the scheduler since the last publish

  mutable std::mutex metrics_mu_;
  EngineMetrics metrics_;  // guarded by metrics_mu_
  Pending unpublished_;    // guarded by metrics_mu_ (Submit adds, PublishMetrics subtracts)
};

}  // namespace mint::engine
