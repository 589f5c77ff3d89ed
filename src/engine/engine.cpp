// The engine loop: inbox -> schedule -> forward -> sample -> deliver, one step at a time.
#include "engine/engine.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <future>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>

#include "core/log.h"
#include "core/thread_pool.h"
#include "engine/executor.h"

namespace mint::engine {

Status EngineConfig::Validate() const {
  if (block_size < 1 || block_size > 1024) {
    return Status::InvalidArgument("block_size must be in [1, 1024]");
  }
  if (kv_cache_blocks < 0 || kv_cache_bytes < 0) {
    return Status::InvalidArgument("KV cache size must not be negative");
  }
  if (nice < 0 || nice > 19) return Status::InvalidArgument("nice must be in [0, 19]");
  if (!(kv_cache_memory_fraction > 0 && kv_cache_memory_fraction <= 1)) {
    return Status::InvalidArgument("kv_cache_memory_fraction must be in (0, 1]");
  }
  if (max_queued < 1) return Status::InvalidArgument("max_queued must be >= 1");
  if (scheduler.max_num_seqs < 1 || scheduler.max_num_batched_tokens < 1) {
    return scheduler.Validate();
  }
  return Status::Ok();
}

namespace {

// MemAvailable from /proc/meminfo, in bytes (0 if unknown).
uint64_t AvailableMemory() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit) {
    if (key == "MemAvailable:") return kb * 1024;
  }
  return 0;
}

struct LiveRequest {
  uint64_t id = 0;
  Request req;
  OutputCallback callback;
  Sampler sampler;
  SeqState* seq = nullptr;
  std::unique_ptr<LogitsProcessor> processor;  // requests with a grammar
  bool abort_after_load = false;  // aborted while its KV load was in flight
  bool kv_import_failed = false;  // its kv_import load failed (RequestOutput::kv_import_failed)
  LiveRequest(uint64_t id_in, Request r, OutputCallback cb, int64_t n_vocab)
      : id(id_in), req(std::move(r)), callback(std::move(cb)), sampler(req.sampling, n_vocab) {}
};

// The real executor: the model's batched forward pass over its paged KV arena, on a thread pool.
class ModelExecutor final : public StepExecutor {
 public:
  ModelExecutor(const model::Model* model, std::unique_ptr<model::KvArena> arena, int threads)
      : model_(model), arena_(std::move(arena)), threads_(threads) {}
  int64_t n_vocab() const override { return model_->config().n_vocab; }
  int64_t n_ctx_train() const override { return model_->config().n_ctx_train; }
  Status Execute(const StepBatch& step, std::span<float> logits) override {
    return model_->ForwardBatch(step.seqs, arena_.get(), logits, &threads_);
  }
  uint8_t* kv_base() const override { return arena_->BlockData(0); }
  int64_t kv_block_bytes() const override { return arena_->block_bytes(); }
  void OnEachThread(const std::function<void()>& fn) override {
    threads_.Run([&](int, int) { fn(); });
  }

 private:
  const model::Model* model_;
  std::unique_ptr<model::KvArena> arena_;
  ThreadPool threads_;
};

// Lets a connector's release callback, which may run after the engine is gone, reach the engine
// only while it exists.
struct ReleaseGate {
  std::mutex mu;
  std::function<void(std::vector<BlockId>)> post;  // null once the engine is stopping
  std::function<void(KvEvent)> event;              // a connector's tier event; likewise
};

}  // namespace

class Engine::Impl {
 public:
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
  std::deque<StepRecord> recent_steps_;  // loop thread; EngineMetrics::recent_steps
  uint64_t steps_ = 0, finished_ = 0, aborted_ = 0, prompt_computed_ = 0, generated_ = 0;
  bool waited_since_step_ = false;  // loop thread: waited for work since the last step
  double busy_seconds_ = 0;  // loop thread; EngineMetrics::busy_seconds
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

Result<uint64_t> Engine::Impl::Submit(Request request, OutputCallback on_output) {
  const int64_t n_vocab = n_vocab_;
  const int64_t n = static_cast<int64_t>(request.prompt.size());
  if (n == 0) return Status::InvalidArgument("prompt: empty");
  for (int32_t t : request.prompt) {
    if (t < 0 || t >= n_vocab) {
      return Status::InvalidArgument("prompt: token id " + std::to_string(t) +
                                     " outside the vocabulary (" + std::to_string(n_vocab) + ")");
    }
  }
  const int64_t max_len = config_.scheduler.max_model_len;
  if (n >= max_len) {
    return Status::InvalidArgument("prompt: " + std::to_string(n) +
                                   " tokens; the maximum context is " + std::to_string(max_len) +
                                   " (prompt plus at least one new token)");
  }
  const int64_t blocks_needed = (n + 1 + config_.block_size - 1) / config_.block_size;
  if (blocks_needed > config_.kv_cache_blocks) {
    return Status::InvalidArgument(
        "prompt: " + std::to_string(n) + " tokens do not fit in the KV cache (" +
        std::to_string(config_.kv_cache_blocks * config_.block_size) + " tokens)");
  }
  if (request.max_tokens < 1) return Status::InvalidArgument("max_tokens: must be >= 1");
  if (request.logprobs > 20) return Status::InvalidArgument("logprobs: at most 20");
  for (int32_t t : request.stop_token_ids) {
    if (t < 0 || t >= n_vocab) {
      return Status::InvalidArgument("stop_token_ids: " + std::to_string(t) +
                                     " outside the vocabulary");
    }
  }
  if ((request.kv_export || !request.kv_import.empty()) && config_.kv_connector == nullptr) {
    return Status::InvalidArgument("kv_transfer: this engine has no KV connector");
  }
  if (!request.kv_import.empty() &&
      (request.kv_import_tokens < 1 || request.kv_import_tokens >= n)) {
    return Status::InvalidArgument("kv_import_tokens: " +
                                   std::to_string(request.kv_import_tokens) + " (1.." +
                                   std::to_string(n - 1) + " for a " + std::to_string(n) +
                                   "-token prompt)");
  }
  MINT_RETURN_IF_ERROR(request.sampling.Validate());
  std::unique_ptr<LogitsProcessor> processor;
  if (!request.grammar.empty()) {
    if (!config_.logits_processor_factory) {
      return Status::InvalidArgument("grammar: this engine has no constrained decoding");
    }
    MINT_ASSIGN_OR_RETURN(processor, config_.logits_processor_factory(request));
  }
  if (!request.sampling.has_seed) {
    request.sampling.seed = std::random_device{}();
    request.sampling.has_seed = true;
  }
  const uint64_t id = next_id_.fetch_add(1);
  auto live = std::make_unique<LiveRequest>(id, std::move(request), std::move(on_output), n_vocab);
  live->processor = std::move(processor);
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stop_) return Status::Unavailable("engine is stopping");
    if (outstanding_ >= config_.max_queued) {
      return Status::ResourceExhausted("engine queue is full (" +
                                       std::to_string(config_.max_queued) + " requests)");
    }
    ++outstanding_;
    {
      std::lock_guard<std::mutex> mk(metrics_mu_);
      ++unpublished_.seqs;
      unpublished_.tokens += n;
    }
    inbox_.push_back(std::move(live));
    idle_ = false;
  }
  cv_.notify_all();
  return id;
}

RequestOutput Engine::Impl::MakeOutput(const LiveRequest& r) const {
  RequestOutput out;
  out.request_id = r.id;
  out.prompt_tokens = r.seq->num_prompt;
  out.cached_prompt_tokens = r.seq->num_cached_prompt;
  out.generated_tokens = r.seq->num_generated();
  out.kv_import_failed = r.kv_import_failed;
  return out;
}

void Engine::Impl::ExportBlocks(LiveRequest* r, FinishReason* reason, Status* error,
                                RequestOutput* out) {
  SeqState* seq = r->seq;
  const int64_t bs = config_.block_size;
  const int64_t n = seq->num_prompt;
  const auto keep = static_cast<size_t>((n + bs - 1) / bs);
  MINT_CHECK(seq->num_computed >= n && seq->blocks.size() >= keep);
  std::vector<BlockId> held(seq->blocks.begin(), seq->blocks.begin() + keep);
  // The rest (a block for the sampled token) is released with the sequence.
  seq->blocks.erase(seq->blocks.begin(), seq->blocks.begin() + keep);
  std::weak_ptr<ReleaseGate> gate = release_gate_;
  auto release = [gate, held] {
    if (auto g = gate.lock()) {
      std::lock_guard<std::mutex> lk(g->mu);
      if (g->post) g->post(held);
    }
  };
  auto handle = config_.kv_connector->Export(r->id, held, n, std::move(release));
  if (!handle.ok()) {
    log::Warn("request {}: KV export failed: {}", r->id, handle.status().ToString());
    pool_.Release(held);
    *reason = FinishReason::kError;
    *error = handle.status();
    return;
  }
  out->kv_export_handle = std::move(*handle);
  ++exports_pending_;
  ++kv_exports_;
}

void Engine::Impl::AttachConnector() {
  KvConnector* c = config_.kv_connector;
  if (c == nullptr) return;
  scheduler_.SetExternalLookup([this, c](std::span<const BlockHash> hashes) {
    return c->Lookup(hashes, recompute_s_per_block_);
  });
  c->SetEventSink([gate = std::weak_ptr<ReleaseGate>(release_gate_)](KvEvent e) {
    if (auto g = gate.lock()) {
      std::lock_guard<std::mutex> lk(g->mu);
      if (g->event) g->event(std::move(e));
    }
  });
  const KvMemory memory{executor_->kv_base(), executor_->kv_block_bytes(), config_.kv_cache_blocks};
  if (memory.base != nullptr) c->OnKvMemory(memory);
  // A simulated engine has no KV bytes: its blocks are offered by hash alone (null bytes).
  BlockPool::BlockObserver offer = [c, memory](BlockId b, BlockHash h,
                                               std::optional<BlockHash> parent) {
    c->Offer(h, parent,
             memory.base != nullptr ? memory.base + static_cast<int64_t>(b) * memory.block_bytes
                                    : nullptr);
  };
  switch (c->offload_point()) {
    case OffloadPoint::kNone:
      break;
    case OffloadPoint::kEviction:
      pool_.SetObservers(std::move(offer), nullptr);
      break;
    case OffloadPoint::kCompletion:
      pool_.SetObservers(nullptr, std::move(offer));
      break;
  }
}

void Engine::Impl::StartLoad(SeqState* seq) {
  auto* r = static_cast<LiveRequest*>(seq->user);
  KvLoad load;
  load.request_id = r->id;
  load.num_tokens = seq->import_tokens;
  load.blocks = seq->blocks;
  load.num_local_blocks = seq->num_committed_blocks;
  if (seq->onboarding) {
    load.hashes.assign(seq->hashes.begin(),
                       seq->hashes.begin() + static_cast<ptrdiff_t>(seq->blocks.size()));
    ++kv_onboards_;
  } else {
    load.source = r->req.kv_import;
    kv_blocks_skipped_ += static_cast<uint64_t>(load.num_local_blocks);
    ++kv_loads_;
  }
  ++loads_in_flight_;
  config_.kv_connector->Load(std::move(load), [this, id = r->id](Status st) {
    // Notified under the lock: once the loop has taken this result the engine may be destroyed
    // (a stop waits for loads in flight), so this thread must not touch cv_ after unlocking.
    std::lock_guard<std::mutex> lk(mu_);
    loaded_.emplace_back(id, std::move(st));
    idle_ = false;
    cv_.notify_all();
  });
}

void Engine::Impl::OnLoaded(uint64_t id, Status status) {
  --loads_in_flight_;
  blocked_on_loads_ = false;
  auto it = live_.find(id);
  MINT_CHECK(it != live_.end());
  LiveRequest* r = it->second.get();
  SeqState* seq = r->seq;
  const int64_t loaded = static_cast<int64_t>(seq->blocks.size()) - seq->num_committed_blocks;
  const bool onboarding = seq->onboarding;
  if (status.ok() && !r->abort_after_load) {
    (onboarding ? kv_blocks_onboarded_ : kv_blocks_loaded_) += static_cast<uint64_t>(loaded);
    scheduler_.LoadDone(seq, true);
    return;
  }
  scheduler_.LoadDone(seq, false);
  if (r->abort_after_load) {
    Finish(r, FinishReason::kAbort, Status::Ok(), MakeOutput(*r));
    return;
  }
  if (onboarding) {
    // A tier that could not deliver costs a recomputation, never the request.
    ++kv_onboard_failures_;
    log::Warn("request {}: KV tier load failed ({}); computing the prompt instead", id,
              status.ToString());
    return;
  }
  ++kv_load_failures_;
  r->kv_import_failed = true;
  if (config_.kv_load_failure_recompute) {
    log::Warn("request {}: KV load failed ({}); computing the prompt here instead", id,
              status.ToString());
    return;
  }
  Finish(r, FinishReason::kError,
         Status(status.code(), "KV load failed: " + status.message()), MakeOutput(*r));
}

void Engine::Impl::Finish(LiveRequest* r, FinishReason reason, Status error, RequestOutput out) {
  // (Nor does one that never computed its prompt, e.g. one the cache could not fit: its final
  // output has no handle.)
  // Only a request that ran out of tokens is continued elsewhere: one that stopped exports
  // nothing.
  if (r->req.kv_export && reason == FinishReason::kLength &&
      r->seq->num_computed >= r->seq->num_prompt) {
    ExportBlocks(r, &reason, &error, &out);
  }
  out.finish = reason;
  out.error = std::move(error);
  if (reason == FinishReason::kAbort) {
    ++aborted_;
  } else {
    ++finished_;
  }
  scheduler_.Finish(r->seq);
  r->seq = nullptr;
  // A caller that sees its request end reads metrics that already count it (steps, tokens,
  // freed blocks): publish before the final callback, not only at the end of the loop turn.
  PublishMetrics();
  if (r->callback) r->callback(out);
  live_.erase(r->id);
  std::lock_guard<std::mutex> lk(mu_);
  --outstanding_;
}

void Engine::Impl::FinishById(uint64_t id, FinishReason reason, Status error) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  if (it->second->seq->status == SeqStatus::kWaitingForKv) {
    // Its blocks are being written: it ends when the load does.
    it->second->abort_after_load = true;
    return;
  }
  Finish(it->second.get(), reason, std::move(error), MakeOutput(*it->second));
}

void Engine::Impl::LowerThreadPriority() {
  // Every compute thread (this one included) lowers its own priority: niceness is per thread.
  executor_->OnEachThread([nice = config_.nice] {
    const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
    errno = 0;
    const int now = ::getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
    if (errno == 0 && ::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), now + nice) != 0) {
      log::Warn("engine: could not lower thread {}'s priority by {}", tid, nice);
    }
  });
}

void Engine::Impl::Ingest(std::deque<std::unique_ptr<LiveRequest>>& inbox) {
  for (auto& r : inbox) {
    LiveRequest* raw = r.get();
    for (int32_t t : raw->req.prompt) raw->sampler.Accept(t, /*is_prompt=*/true);
    raw->seq = scheduler_.Add(raw->id, raw->req.prompt, raw->req.priority, raw);
    ++ingested_.seqs;
    ingested_.tokens += static_cast<int64_t>(raw->req.prompt.size());
    if (!raw->req.kv_import.empty()) raw->seq->import_tokens = raw->req.kv_import_tokens;
    live_[raw->id] = std::move(r);
    blocked_on_loads_ = false;
  }
}

void Engine::Impl::Loop() {
  if (config_.nice > 0) LowerThreadPriority();
  while (true) {
    std::deque<std::unique_ptr<LiveRequest>> inbox;
    std::vector<uint64_t> aborts;
    std::vector<std::function<void()>> commands;
    std::vector<std::pair<uint64_t, Status>> loaded;
    {
      std::unique_lock<std::mutex> lk(mu_);
      const bool schedulable = scheduler_.HasWork() && !blocked_on_loads_;
      if (!schedulable && loads_in_flight_ == 0 && inbox_.empty() && aborts_.empty() &&
          commands_.empty() && loaded_.empty()) {
        idle_ = true;
        idle_cv_.notify_all();
      }
      auto ready = [&] {
        return stop_ || !inbox_.empty() || !aborts_.empty() || !commands_.empty() ||
               !loaded_.empty() || (scheduler_.HasWork() && !blocked_on_loads_);
      };
      if (!ready()) waited_since_step_ = true;
      cv_.wait(lk, ready);
      if (stop_) break;
      inbox.swap(inbox_);
      aborts.swap(aborts_);
      commands.swap(commands_);
      loaded.swap(loaded_);
    }
    for (auto& fn : commands) fn();
    Ingest(inbox);
    for (auto& [id, st] : loaded) OnLoaded(id, std::move(st));
    for (uint64_t id : aborts) FinishById(id, FinishReason::kAbort, Status::Ok());
    if (!aborts.empty() || !commands.empty()) blocked_on_loads_ = false;
    if (scheduler_.HasWork() && !blocked_on_loads_) Step();
    PublishMetrics();
  }
  AbortAllOnStop();
}

void Engine::Impl::AbortAllOnStop() {
  // Loads in flight write into our blocks; wait for them (connectors time out).
  while (loads_in_flight_ > 0) {
    std::vector<std::pair<uint64_t, Status>> loaded;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return !loaded_.empty(); });
      loaded.swap(loaded_);
    }
    for (auto& [id, st] : loaded) {
      auto it = live_.find(id);
      if (it != live_.end()) it->second->abort_after_load = true;
      OnLoaded(id, std::move(st));
    }
  }
  // Every live request ends as aborted.
  std::vector<uint64_t> ids;
  for (const auto& [id, r] : live_) ids.push_back(id);
  for (uint64_t id : ids) FinishById(id, FinishReason::kAbort, Status::Ok());
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& r : inbox_) {
    RequestOutput out;
    out.request_id = r->id;
    out.finish = FinishReason::kAbort;
    if (r->callback) r->callback(out);
  }
  inbox_.clear();
  idle_ = true;
  idle_cv_.notify_all();
}

int32_t Engine::Impl::ConstrainedChoice(LiveRequest* r, int32_t chosen) {
  // The executor's token does not fit the constraint: take the first allowed token after it
  // (deterministic, as the executor's choice is).
  allowed_scratch_.assign(static_cast<size_t>(n_vocab_), 0.0f);
  if (!r->processor->Mask(allowed_scratch_)) return -1;
  for (int64_t k = 1; k <= n_vocab_; ++k) {
    const auto t = static_cast<int32_t>((chosen + k) % n_vocab_);
    if (allowed_scratch_[t] == 0.0f) return t;
  }
  return -1;
}

int32_t Engine::Impl::NextToken(LiveRequest* r, int64_t row, RequestOutput* out) {
  const int64_t n_vocab = n_vocab_;
  if (chooses_tokens_) {
    int32_t token = chosen_[static_cast<size_t>(row)];
    MINT_CHECK(token >= 0 && token < n_vocab);
    if (r->processor != nullptr && !r->processor->Allows(token)) {
      token = ConstrainedChoice(r, token);
      if (token < 0) return -1;
    }
    if (r->processor != nullptr) r->processor->Accept(token);
    r->sampler.Accept(token, /*is_prompt=*/false);
    if (r->req.logprobs >= 0) {
      TokenLogprob lp;
      lp.token = token;
      lp.logprob = 0;
      if (r->req.logprobs > 0) lp.top.emplace_back(token, 0.0f);
      out->logprobs.push_back(std::move(lp));
    }
    return token;
  }
  const std::span<float> logits(logits_.data() + row * n_vocab, static_cast<size_t>(n_vocab));
  if (r->req.logprobs >= 0) {
    logprobs_.resize(static_cast<size_t>(n_vocab));
    LogSoftmax(logits, logprobs_);
  }
  int32_t token = -1;
  if (r->processor != nullptr && r->processor->ListAllowed(&allowed_ids_)) {
    if (allowed_ids_.empty()) return -1;
    token = r->sampler.SampleAmong(logits, allowed_ids_);
  } else {
    if (r->processor != nullptr && !r->processor->Mask(logits)) return -1;
    token = r->sampler.Sample(logits);
  }
  if (r->processor != nullptr) r->processor->Accept(token);
  r->sampler.Accept(token, /*is_prompt=*/false);
  if (r->req.logprobs >= 0) {
    TokenLogprob lp;
    lp.token = token;
    lp.logprob = logprobs_[token];
    const int32_t k = std::min<int32_t>(r->req.logprobs, static_cast<int32_t>(n_vocab));
    std::vector<int32_t> ids(static_cast<size_t>(n_vocab));
    for (int32_t i = 0; i < n_vocab; ++i) ids[i] = i;
    std::partial_sort(ids.begin(), ids.begin() + k, ids.end(),
                      [&](int32_t a, int32_t b) { return logprobs_[a] > logprobs_[b]; });
    for (int32_t i = 0; i < k; ++i) lp.top.emplace_back(ids[i], logprobs_[ids[i]]);
    out->logprobs.push_back(std::move(lp));
  }
  return token;
}

void Engine::Impl::OnEmptyPlan() {
  if (scheduler_.num_waiting_for_kv() > 0) {
    // What is left to schedule waits for slots or blocks that loads in flight hold.
    blocked_on_loads_ = true;
    return;
  }
  // Nothing fits: the next waiting sequence needs more blocks than the whole cache has (it grew
  // by generation after a preemption). End it rather than spin.
  if (SeqState* s = scheduler_.FrontWaiting()) {
    auto* r = static_cast<LiveRequest*>(s->user);
    log::Warn("request {}: {} tokens no longer fit in the KV cache; finishing it", r->id,
              s->num_tokens());
    Finish(r, FinishReason::kLength, Status::Ok(), MakeOutput(*r));
  }
}

int64_t Engine::Impl::BuildBatch(const StepPlan& plan) {
  batch_.clear();
  batch_stops_.clear();
  int64_t n_rows = 0;
  for (const ScheduledSeq& s : plan.seqs) {
    batch_.push_back({.tokens = std::span<const int32_t>(s.seq->tokens).subspan(s.pos0, s.num_new),
                      .block_table = s.seq->blocks,
                      .pos0 = s.pos0,
                      .logits = s.samples ? model::BatchSequence::Logits::kLast
                                          : model::BatchSequence::Logits::kNone});
    batch_stops_.push_back(static_cast<const LiveRequest*>(s.seq->user)->req.stop_token_ids);
    if (s.samples) ++n_rows;
    if (s.pos0 < s.seq->num_prompt) {
      prompt_computed_ += std::min(s.num_new, s.seq->num_prompt - s.pos0);
    }
  }
  return n_rows;
}

void Engine::Impl::Step() {
  const StepPlan plan = scheduler_.Schedule();
  for (SeqState* seq : plan.loads) StartLoad(seq);
  if (plan.empty()) {
    OnEmptyPlan();
    return;
  }
  ++steps_;
  const int64_t n_rows = BuildBatch(plan);
  const StepBatch step{.seqs = batch_,
                       .stop_token_ids = batch_stops_,
                       .back_to_back = steps_ > 1 && !waited_since_step_};
  waited_since_step_ = false;
  const auto step_start = std::chrono::steady_clock::now();
  Status st;
  if (chooses_tokens_) {
    chosen_.resize(static_cast<size_t>(std::max<int64_t>(n_rows, 1)));
    st = executor_->ExecuteChoosingTokens(step, chosen_);
  } else {
    logits_.resize(static_cast<size_t>(std::max<int64_t>(n_rows, 1) * n_vocab_));
    st = executor_->Execute(step, logits_);
  }
  if (!st.ok()) {
    log::Error("forward pass failed: {}", st.ToString());
    for (const ScheduledSeq& s : plan.seqs) {
      auto* r = static_cast<LiveRequest*>(s.seq->user);
      Finish(r, FinishReason::kError, st, MakeOutput(*r));
    }
    return;
  }
  RecordStep(step, std::chrono::steady_clock::now() - step_start);
  scheduler_.Complete(plan);
  EmitTokens(plan);
}

void Engine::Impl::EmitTokens(const StepPlan& plan) {
  int64_t row = 0;
  for (const ScheduledSeq& s : plan.seqs) {
    if (!s.samples) continue;
    auto* r = static_cast<LiveRequest*>(s.seq->user);
    RequestOutput out = MakeOutput(*r);
    const int32_t token = NextToken(r, row++, &out);
    if (r->processor != nullptr && !r->processor->status().ok()) {
      Finish(r, FinishReason::kError, r->processor->status(), std::move(out));
      continue;
    }
    if (token < 0) {  // the constraint is complete and allows no stop token
      Finish(r, FinishReason::kStop, Status::Ok(), std::move(out));
      continue;
    }
    scheduler_.AppendToken(s.seq, token);
    ++generated_;
    out.tokens.push_back(token);
    out.generated_tokens = s.seq->num_generated();
    const auto& stops = r->req.stop_token_ids;
    FinishReason reason = FinishReason::kNone;
    if (std::find(stops.begin(), stops.end(), token) != stops.end()) {
      reason = FinishReason::kStop;
    } else if (s.seq->num_generated() >= r->req.max_tokens ||
               s.seq->num_tokens() >= config_.scheduler.max_model_len) {
      reason = FinishReason::kLength;
    }
    if (reason == FinishReason::kNone) {
      if (r->callback) r->callback(out);
    } else {
      Finish(r, reason, Status::Ok(), std::move(out));
    }
  }
}

void Engine::Impl::RecordStep(const StepBatch& step, std::chrono::steady_clock::duration took) {
  const StepShapeCounts c = CountStep(step);
  const double wall_s = std::chrono::duration<double>(took).count();
  if (recent_steps_.size() == EngineMetrics::kRecentSteps) recent_steps_.pop_front();
  recent_steps_.push_back({.step = steps_,
                           .prefill_tokens = c.prefill_tokens,
                           .decode_seqs = c.decode_seqs,
                           .decode_kv_tokens = c.decode_kv_tokens,
                           .seconds = executor_->DeviceSeconds(wall_s)});
  busy_seconds_ += wall_s;
  // What a block of prompt costs to compute, for Lookup's load-or-recompute choice: steps that
  // are mostly prefill, smoothed.
  if (c.prefill_tokens >= config_.block_size && c.prefill_tokens >= 4 * c.decode_seqs) {
    const double per_block = wall_s / static_cast<double>(c.prefill_tokens + c.decode_seqs) *
                             static_cast<double>(config_.block_size);
    recompute_s_per_block_ =
        recompute_s_per_block_ == 0 ? per_block : 0.8 * recompute_s_per_block_ + 0.2 * per_block;
  }
}

void Engine::Impl::PublishMetrics() {
  const SchedulerStats ss = scheduler_.Stats();
  EngineMetrics m;
  m.running = ss.running;
  m.waiting = ss.waiting;
  m.waiting_prefill_tokens = ss.waiting_prefill_tokens;
  m.preemptions = ss.preemptions;
  m.blocks = pool_.Stats();
  m.steps = steps_;
  m.busy_seconds = busy_seconds_;
  m.requests_finished = finished_;
  m.requests_aborted = aborted_;
  m.prompt_tokens = prompt_computed_;
  m.generated_tokens = generated_;
  m.last_kv_event_id = pool_.last_event_id();
  m.waiting_for_kv = ss.waiting_for_kv;
  m.kv_exports_pending = exports_pending_;
  m.kv_exports = kv_exports_;
  m.kv_loads = kv_loads_;
  m.kv_load_failures = kv_load_failures_;
  m.kv_blocks_loaded = kv_blocks_loaded_;
  m.kv_blocks_skipped = kv_blocks_skipped_;
  m.kv_onboards = kv_onboards_;
  m.kv_onboard_failures = kv_onboard_failures_;
  m.kv_blocks_onboarded = kv_blocks_onboarded_;
  m.recompute_seconds_per_block = recompute_s_per_block_;
  m.recent_steps.assign(recent_steps_.begin(), recent_steps_.end());
  m.max_num_batched_tokens = scheduler_.config().max_num_batched_tokens;
  std::lock_guard<std::mutex> lk(metrics_mu_);
  metrics_ = m;
  unpublished_.seqs -= ingested_.seqs;
  unpublished_.tokens -= ingested_.tokens;
  ingested_ = {};
}

// ---- Engine facade ----------------------------------------------------------------------------

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::Create(const model::Model* model,
                                               const EngineConfig& config_in) {
  EngineConfig config = config_in;
  MINT_RETURN_IF_ERROR(config.Validate());
  const auto& mc = model->config();
  if (config.scheduler.max_model_len <= 0) {
    config.scheduler.max_model_len = mc.n_ctx_train > 0 ? mc.n_ctx_train : 4096;
  }
  MINT_RETURN_IF_ERROR(config.scheduler.Validate());
  if (config.threads <= 0) config.threads = ThreadPool::HardwareThreads();
  MINT_ASSIGN_OR_RETURN(const int64_t block_bytes,
                        model::KvArena::BytesPerBlock(mc, config.kv_cache_type, config.block_size));
  int64_t blocks = config.kv_cache_blocks;
  if (blocks == 0 && config.kv_cache_bytes > 0) blocks = config.kv_cache_bytes / block_bytes;
  if (blocks == 0) {
    const int64_t per_seq =
        (config.scheduler.max_model_len + config.block_size - 1) / config.block_size;
    const int64_t cap = per_seq * config.scheduler.max_num_seqs;
    const auto budget = static_cast<int64_t>(static_cast<double>(AvailableMemory()) *
                                             config.kv_cache_memory_fraction);
    blocks = std::min(cap, budget / block_bytes);
  }
  if (blocks < 1) {
    return Status::ResourceExhausted("KV cache: no room for a single block of " +
                                     std::to_string(block_bytes) + " bytes");
  }
  if (blocks > INT32_MAX) blocks = INT32_MAX;
  config.kv_cache_blocks = blocks;
  config.kv_cache_bytes = blocks * block_bytes;
  uint8_t* memory = nullptr;
  if (config.kv_connector != nullptr) {
    MINT_ASSIGN_OR_RETURN(memory, config.kv_connector->AllocateKvMemory(
                                      static_cast<uint64_t>(blocks * block_bytes)));
  }
  MINT_ASSIGN_OR_RETURN(auto arena, model::KvArena::Create(mc, {.type = config.kv_cache_type,
                                                                .block_size = config.block_size,
                                                                .num_blocks = blocks,
                                                                .memory = memory}));
  log::Info("KV cache: {} blocks x {} tokens ({} MiB, {}), prefix cache {}", blocks,
            config.block_size, (blocks * block_bytes) >> 20, DTypeName(config.kv_cache_type),
            config.enable_prefix_cache ? "on" : "off");
  auto executor = std::make_unique<ModelExecutor>(model, std::move(arena), config.threads);
  return std::unique_ptr<Engine>(new Engine(std::make_unique<Impl>(std::move(executor), config)));
}

Result<std::unique_ptr<Engine>> Engine::CreateWithExecutor(std::unique_ptr<StepExecutor> executor,
                                                           const EngineConfig& config_in) {
  if (executor == nullptr) return Status::InvalidArgument("executor: null");
  EngineConfig config = config_in;
  MINT_RETURN_IF_ERROR(config.Validate());
  if (config.kv_cache_blocks < 1) {
    return Status::InvalidArgument("kv_cache_blocks: must be > 0 with a custom executor");
  }
  if (config.kv_cache_blocks > INT32_MAX) {
    return Status::InvalidArgument("kv_cache_blocks: at most " + std::to_string(INT32_MAX));
  }
  if (executor->n_vocab() < 1) return Status::InvalidArgument("executor: n_vocab must be > 0");
  if (config.scheduler.max_model_len <= 0) {
    config.scheduler.max_model_len = executor->n_ctx_train() > 0 ? executor->n_ctx_train() : 4096;
  }
  MINT_RETURN_IF_ERROR(config.scheduler.Validate());
  config.kv_cache_bytes = 0;
  return std::unique_ptr<Engine>(new Engine(std::make_unique<Impl>(std::move(executor), config)));
}

Result<uint64_t> Engine::Submit(Request request, OutputCallback on_output) {
  return impl_->Submit(std::move(request), std::move(on_output));
}
void Engine::Abort(uint64_t request_id) { impl_->Abort(request_id); }
EngineMetrics Engine::Metrics() const { return impl_->Metrics(); }
const EngineConfig& Engine::config() const { return impl_->config_; }
int64_t Engine::num_kv_blocks() const { return impl_->config_.kv_cache_blocks; }
KvMemory Engine::kv_memory() const {
  const StepExecutor& e = *impl_->executor_;
  if (e.kv_base() == nullptr) return {};
  return {e.kv_base(), e.kv_block_bytes(), impl_->config_.kv_cache_blocks};
}

KvSnapshot Engine::SubscribeKvEvents(KvEventSink* sink) {
  KvSnapshot snap;
  impl_->RunOnLoop([&] {
    snap = impl_->pool_.Snapshot();
    sink->OnKvSnapshot(snap);
    impl_->pool_.AddSubscriber(sink);
  });
  return snap;
}
void Engine::UnsubscribeKvEvents(KvEventSink* sink) {
  impl_->RunOnLoop([&] { impl_->pool_.RemoveSubscriber(sink); });
}
void Engine::ResetPrefixCache() {
  impl_->RunOnLoop([&] { impl_->pool_.Reset(); });
}
void Engine::WaitIdle() { impl_->WaitIdle(); }

struct RequestHandle::State {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<RequestOutput> outputs;  // guarded by mu
  RequestOutput final_output;         // guarded by mu, once finished
  bool finished = false;              // guarded by mu
};

Result<std::unique_ptr<RequestHandle>> RequestHandle::Submit(Engine* engine, Request request) {
  std::unique_ptr<RequestHandle> h(new RequestHandle());
  h->engine_ = engine;
  h->state_ = std::make_shared<State>();
  MINT_ASSIGN_OR_RETURN(
      h->id_, engine->Submit(std::move(request), [st = h->state_](const RequestOutput& o) {
        std::lock_guard<std::mutex> lk(st->mu);
        st->outputs.push_back(o);
        st->cv.notify_all();
      }));
  return h;
}

RequestHandle::~RequestHandle() {
  bool finished = false;
  {
    std::lock_guard<std::mutex> lk(state_->mu);
    finished = state_->finished ||
               (!state_->outputs.empty() && state_->outputs.back().finish != FinishReason::kNone);
  }
  if (!finished) engine_->Abort(id_);
}

RequestOutput RequestHandle::Next() {
  std::unique_lock<std::mutex> lk(state_->mu);
  if (state_->finished) return state_->final_output;
  state_->cv.wait(lk, [&] { return !state_->outputs.empty(); });
  RequestOutput o = std::move(state_->outputs.front());
  state_->outputs.pop_front();
  if (o.finish != FinishReason::kNone) {
    state_->finished = true;
    state_->final_output = o;
    state_->final_output.tokens.clear();
    state_->final_output.logprobs.clear();
  }
  return o;
}

void RequestHandle::Abort() { engine_->Abort(id_); }

Result<CompletedRequest> RunToCompletion(Engine* engine, Request request) {
  auto done = std::make_shared<std::promise<CompletedRequest>>();
  auto result = std::make_shared<CompletedRequest>();
  auto fut = done->get_future();
  MINT_ASSIGN_OR_RETURN(
      uint64_t id, engine->Submit(std::move(request), [done, result](const RequestOutput& o) {
        result->tokens.insert(result->tokens.end(), o.tokens.begin(), o.tokens.end());
        result->logprobs.insert(result->logprobs.end(), o.logprobs.begin(), o.logprobs.end());
        if (o.finish != FinishReason::kNone) {
          result->finish = o.finish;
          result->error = o.error;
          result->cached_prompt_tokens = o.cached_prompt_tokens;
          result->kv_import_failed = o.kv_import_failed;
          done->set_value(*result);
        }
      }));
  (void)id;
  return fut.get();
}

}  // namespace mint::engine
