// One request's flow over attempts (remote_backend_impl.h): the prefill on a prefill worker,
// decode attempts, and migration to another worker when one is lost.
#include "core/log.h"
#include "frontend/remote_backend_impl.h"

namespace mint::frontend {

// One Generate stream of a request (its prefill, or a decode attempt) on a worker's client: no
// thread waits on it; its callbacks run on gRPC's threads. Deleted on the waiter thread (Bury)
// once the stream is done.
class RemoteBackend::Impl::Attempt final {
 public:
  Attempt(std::shared_ptr<RemoteBackend::Impl> impl, std::shared_ptr<Call> call,
          RemoteBackend::Impl::Picked picked, const protocol::GenerateRequest& req, bool prefill)
      : impl_(std::move(impl)),
        call_(std::move(call)),
        picked_(std::move(picked)),
        prefill_(prefill) {
    std::optional<std::chrono::system_clock::time_point> deadline;
    if (impl_->options.request_timeout.count() > 0) deadline = call_->deadline;
    // (Not started: Begin starts it once the call can be cancelled through it.)
    stream_ = conn().client->NewGenerate(
        req, call_->id, deadline,
        {[this](const protocol::GenerateOutput& o) { OnOutput(o); },
         [this](runtime::StreamEnd end, const Status& st) { OnDone(end, st); }});
  }
  Conn& conn() { return *picked_.conn; }
  uint64_t route_id() const { return picked_.route_id; }

  // Starts the stream; false (and nothing started) when the request was aborted meanwhile.
  bool Begin() {
    {
      std::lock_guard<std::mutex> lk(call_->mu);
      if (call_->aborted) return false;
      call_->stream = stream_.get();
    }
    {
      std::lock_guard<std::mutex> lk(impl_->mu);
      ++impl_->attempts_alive;
    }
    conn().in_flight.fetch_add(1);
    conn().calls.fetch_add(1);
    stream_->Start();
    return true;
  }

  // What the stream delivered.
  bool finished = false;                // a final output arrived
  bool first = true;                    // no output yet
  bool import_failure_counted = false;  // its kv_import_failed was counted
  protocol::GenerateOutput prefilled;   // prefill: the first token (and logprobs), finish
  std::string handle;                   // prefill: the KV handle for the decode worker

 private:
  void OnOutput(const protocol::GenerateOutput& o) {
    if (!prefill_) {
      impl_->OnDecodeOutput(*call_, *this, o);
      return;
    }
    prefilled.tokens.insert(prefilled.tokens.end(), o.tokens.begin(), o.tokens.end());
    prefilled.logprobs.insert(prefilled.logprobs.end(), o.logprobs.begin(), o.logprobs.end());
    prefilled.cached_prompt_tokens = o.cached_prompt_tokens;
    if (o.finish != protocol::FinishReason::kNone) {
      finished = true;
      prefilled.finish = o.finish;
      handle = o.kv_export_handle;
    }
  }

  void OnDone(runtime::StreamEnd end, const Status& status) {
    conn().in_flight.fetch_sub(1);
    {
      std::lock_guard<std::mutex> lk(call_->mu);
      call_->stream = nullptr;
    }
    if (prefill_) {
      impl_->OnPrefillDone(call_, *this, status);
    } else {
      impl_->OnDecodeDone(call_, *this, end, status);
    }
    impl_->Bury(this);  // deleted on the waiter thread, not on gRPC's
  }

  std::shared_ptr<RemoteBackend::Impl> impl_;  // outlives the call (Close waits for it)
  std::shared_ptr<Call> call_;
  RemoteBackend::Impl::Picked picked_;
  const bool prefill_;
  std::unique_ptr<runtime::GenerateStream> stream_;
};

void RemoteBackend::Impl::DeleteAttempt(Attempt* a) { delete a; }

bool RemoteBackend::Impl::StartPrefill(const std::shared_ptr<Call>& call,
                                       std::span<const BlockHash> hashes) {
  Picked p;
  {
    std::lock_guard<std::mutex> lk(mu);
    p = Pick({}, hashes, call->request.prompt.size(), call->route, /*prefill=*/true);
  }
  if (!p.conn) return false;
  protocol::GenerateRequest pre = call->request;
  pre.max_tokens = 1;
  pre.kv_export = true;
  const uint64_t route_id = p.route_id;
  auto* a = new Attempt(shared_from_this(), call, std::move(p), pre, /*prefill=*/true);
  if (a->Begin()) return true;
  delete a;
  if (route_id != 0) router->OnFinished(route_id);
  return false;
}

void RemoteBackend::Impl::OnPrefillDone(const std::shared_ptr<Call>& call, Attempt& a,
                                        const Status& status) {
  if (a.route_id() != 0) {
    router->OnPrefillDone(a.route_id());
    router->OnFinished(a.route_id());
  }
  protocol::GenerateOutput& out = a.prefilled;
  const bool usable = a.finished && out.tokens.size() == 1 &&
                      (out.finish == protocol::FinishReason::kStop ||
                       (out.finish == protocol::FinishReason::kLength && !a.handle.empty()));
  if (!usable) {
    if (!call->aborted) {
      n_prefill_fallbacks.fetch_add(1);
      log::Warn("request {}: prefill on worker {} failed ({}); prefilling on the decode worker",
                call->id, a.conn().info.id, status.ok() ? "no KV handle" : status.ToString());
      if (!status.ok()) a.conn().lost_at_ns.store(Clock::now().time_since_epoch().count());
    }
    NextAttempt(call);
    return;
  }
  n_remote_prefills.fetch_add(1);
  out.request_id = call->id;
  out.prompt_tokens = call->prompt_tokens();
  out.generated_tokens = 1;
  call->cached = std::min(out.cached_prompt_tokens, call->prompt_tokens());
  call->generated = out.tokens;
  if (out.finish == protocol::FinishReason::kStop) {
    call->on_output(out);
    Complete(*call);
    return;
  }
  out.finish = protocol::FinishReason::kNone;
  if (options.stream_prefill_token) {
    call->on_output(out);
  } else {
    call->held_first = out;
  }
  call->import_handle = std::move(a.handle);
  NextAttempt(call);
}

void RemoteBackend::Impl::NextAttempt(const std::shared_ptr<Call>& call, bool in_submit) {
  // The attempt's prompt (the original plus what earlier attempts generated), hashed the way the
  // workers' prefix caches hash it.
  const auto t0 = Clock::now();
  std::vector<uint32_t> tokens(call->request.prompt.begin(), call->request.prompt.end());
  tokens.insert(tokens.end(), call->generated.begin(), call->generated.end());
  const std::vector<BlockHash> hashes =
      SequenceBlockHashes(tokens, static_cast<size_t>(router->config().block_size));
  router->RecordHashingNanos(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
  if (!call->aborted && !closed && Hold(call, hashes, tokens.size())) return;
  Picked p;
  {
    std::unique_lock<std::mutex> lk(mu);
    if (!call->aborted && !closed) {
      p = Pick(call->failed_workers, hashes, tokens.size(), call->route);
      if (!p.conn) {
        const auto now = Clock::now();
        if (!call->wait_until) call->wait_until = now + options.wait_for_worker;
        if (now < *call->wait_until) {
          parked[call->id] = call;  // the waiter thread retries it
          cv.notify_all();
          return;
        }
      }
    }
    if (in_submit && !p.conn) {  // it ends now: the waiter thread says so
      parked[call->id] = call;
      Kick();
      return;
    }
  }
  call->wait_until.reset();
  if (call->aborted || closed) {
    n_aborted.fetch_add(1);
    Emit(*call, protocol::FinishReason::kAbort, Status::Ok());
    Complete(*call);
    return;
  }
  if (!p.conn) {
    Fail(*call,
         Status::Unavailable(
             call->last_error.ok()
                 ? fmt::format("no worker is serving model '{}'", options.model_name)
                 : "no worker left to continue the request after: " + call->last_error.message()));
    Complete(*call);
    return;
  }
  protocol::GenerateRequest attempt = call->request;
  attempt.prompt.insert(attempt.prompt.end(), call->generated.begin(), call->generated.end());
  attempt.max_tokens -= static_cast<int64_t>(call->generated.size());
  if (!attempt.grammar.empty())
    attempt.grammar_generated = static_cast<int64_t>(call->generated.size());
  if (!call->import_handle.empty()) {
    // The first attempt after a remote prefill pulls its KV (a later one, after a lost decode
    // worker, computes it: the handle is single-use).
    attempt.kv_import = std::move(call->import_handle);
    attempt.kv_import_tokens = call->prompt_tokens();
    call->import_handle.clear();
  }
  const uint64_t route_id = p.route_id;
  auto* a = new Attempt(shared_from_this(), call, std::move(p), attempt, false);
  if (a->Begin()) return;
  delete a;  // aborted meanwhile: the next step reports it
  if (route_id != 0) router->OnFinished(route_id);
  NextAttempt(call);
}

void RemoteBackend::Impl::OnDecodeOutput(Call& call, Attempt& a,
                                         const protocol::GenerateOutput& o) {
  if (a.first) {
    a.first = false;
    if (a.route_id() != 0) router->OnPrefillDone(a.route_id());
    OnLoadForQueue();  // its prefill left the worker's queue: a held request may go
    n_prompt_tokens.fetch_add(static_cast<uint64_t>(o.prompt_tokens));
    n_cached_tokens.fetch_add(static_cast<uint64_t>(o.cached_prompt_tokens));
  }
  if (a.finished) return;  // nothing follows a final output
  if (o.kv_import_failed && !a.import_failure_counted) {
    a.import_failure_counted = true;
    (o.finish == protocol::FinishReason::kError ? n_kv_import_failed : n_kv_import_recomputed)
        .fetch_add(1);
  }
  protocol::GenerateOutput out = o;
  out.request_id = call.id;
  call.generated.insert(call.generated.end(), out.tokens.begin(), out.tokens.end());
  if (call.generated.size() == out.tokens.size()) call.cached = out.cached_prompt_tokens;
  out.prompt_tokens = call.prompt_tokens();
  out.cached_prompt_tokens = std::min(call.cached, call.prompt_tokens());
  out.generated_tokens = static_cast<int64_t>(call.generated.size());
  if (out.finish != protocol::FinishReason::kNone) {
    a.finished = true;
    if (out.finish == protocol::FinishReason::kError) n_failed.fetch_add(1);
    if (out.finish == protocol::FinishReason::kAbort) n_aborted.fetch_add(1);
  }
  Deliver(call, out);
}

void RemoteBackend::Impl::OnDecodeDone(const std::shared_ptr<Call>& call, Attempt& a,
                                       runtime::StreamEnd end, const Status& s) {
  if (a.route_id() != 0) router->OnFinished(a.route_id());
  if (a.finished) {
    Complete(*call);
    return;
  }
  if (call->aborted) {  // the next step reports the abort
    NextAttempt(call);
    return;
  }
  if (end == runtime::StreamEnd::kDeadline) {
    Fail(*call, Status::Unavailable(fmt::format("the request ran past its {} ms deadline",
                                                options.request_timeout.count())));
    Complete(*call);
    return;
  }
  if (end == runtime::StreamEnd::kRejected) {
    Fail(*call, s);
    Complete(*call);
    return;
  }
  // The worker was lost (or refused for want of room): continue elsewhere.
  call->last_error =
      s.ok() ? Status::Unavailable("the stream ended before the request finished") : s;
  if (end != runtime::StreamEnd::kBusy) {
    a.conn().lost_at_ns.store(Clock::now().time_since_epoch().count());
  }
  call->failed_workers.insert(a.conn().info.id);
  if (static_cast<int64_t>(call->generated.size()) >= call->request.max_tokens) {
    Emit(*call, protocol::FinishReason::kLength, Status::Ok());
    Complete(*call);
    return;
  }
  if (call->migrations >= options.migration_limit) {
    Fail(*call, Status::Unavailable(fmt::format("request failed after {} migrations: {}",
                                                call->migrations, call->last_error.message())));
    Complete(*call);
    return;
  }
  ++call->migrations;
  n_migrated.fetch_add(1);
  log::Info("request {}: worker {} lost ({}); migrating with {} tokens generated ({}/{})", call->id,
            a.conn().info.id, call->last_error.ToString(), call->generated.size(), call->migrations,
            options.migration_limit);
  NextAttempt(call);
}

}  // namespace mint::frontend
