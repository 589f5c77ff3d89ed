// The engine: submission, request lifecycle, the KV connector hooks and the loop (inbox ->
// step -> publish); one step itself is in engine_step.cpp, the shared state in engine_impl.h.
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
#include "engine/engine_impl.h"
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

}  // namespace

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
