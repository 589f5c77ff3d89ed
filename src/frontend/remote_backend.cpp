#include "frontend/remote_backend.h"

#include "frontend/remote_backend_impl.h"

namespace mint::frontend {

RemoteBackend::RemoteBackend(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
RemoteBackend::~RemoteBackend() { Close(); }

Result<std::unique_ptr<RemoteBackend>> RemoteBackend::Create(runtime::Discovery* discovery,
                                                             const RemoteBackendOptions& options) {
  if (options.migration_limit < 0) return Status::InvalidArgument("--migration-limit must be >= 0");
  if (Status s = options.router.Validate(); !s.ok()) return s.WithContext("router");
  auto impl = std::make_shared<Impl>();
  impl->options = options;
  impl->router = std::make_unique<router::Router>(options.router);
  if (options.router_queue) {
    impl->hold.emplace(*options.router_queue, options.router_queue_max_age_s);
  }
  Impl* raw = impl.get();
  if (options.subscribe_kv_events) {
    runtime::KvEventSubscriber::Callbacks cb;
    cb.on_event = [raw](const std::string& id, const engine::KvEvent& e) { raw->OnKvEvent(id, e); };
    cb.on_snapshot = [raw](const std::string& id, const engine::KvSnapshot& s) {
      raw->OnKvSnapshot(id, s);
    };
    cb.on_load = [raw](const std::string& id, const pb::LoadMetrics& l) { raw->OnLoad(id, l); };
    runtime::KvEventSubscriberOptions so;
    so.curve_secret = runtime::PlaneCurveSecret(options.tls);  // the workers' CURVE key, if any
    auto sub = runtime::KvEventSubscriber::Create(
        std::move(cb), [raw](const std::string& id) { return raw->FetchSnapshot(id); }, so);
    if (!sub.ok()) return sub.status().WithContext("event plane");
    impl->events = std::move(sub).value();
  }
  auto watch = discovery->Watch([raw](const runtime::Membership& m) { raw->OnMembership(m); });
  if (!watch.ok()) return watch.status();
  impl->watch = std::move(watch).value();
  impl->waiter = std::thread([raw] { raw->WaitLoop(); });
  return std::unique_ptr<RemoteBackend>(new RemoteBackend(std::move(impl)));
}

Result<uint64_t> RemoteBackend::Submit(protocol::GenerateRequest request,
                                       protocol::OutputCallback on_output,
                                       const router::RouteOverrides& route) {
  if (request.prompt.empty()) return Status::InvalidArgument("the prompt is empty");
  if (Status s = request.sampling.Validate(); !s.ok()) return s;
  auto call = std::make_shared<Call>();
  call->request = std::move(request);
  call->on_output = std::move(on_output);
  call->route = route;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    if (impl_->closed) return Status::Unavailable("the server is shutting down");
    call->id = impl_->next_id++;
    impl_->calls[call->id] = call;
  }
  impl_->n_requests.fetch_add(1);
  impl_->Start(call);
  return call->id;
}

void RemoteBackend::Abort(uint64_t id) {
  std::shared_ptr<Call> call;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    auto it = impl_->calls.find(id);
    if (it == impl_->calls.end()) return;
    call = it->second;
  }
  {
    std::lock_guard<std::mutex> lk(call->mu);
    call->aborted = true;
    if (call->stream) call->stream->Cancel();
  }
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->Unhold(id);
  impl_->Kick();  // a request waiting for a worker ends now
}

engine::EngineMetrics RemoteBackend::Metrics() const {
  // The workers' load reports summed; without any (no event plane), this frontend's own count.
  engine::EngineMetrics m;
  bool any = false;
  {
    std::lock_guard<std::mutex> kl(impl_->kv_mu);
    for (const auto& [id, w] : impl_->kv) {
      if (!w.has_load) continue;
      any = true;
      m.running += static_cast<int32_t>(w.load.running());
      m.waiting += static_cast<int32_t>(w.load.waiting());
      m.waiting_prefill_tokens += w.load.prefill_tokens_queued();
      m.blocks.num_blocks += static_cast<int32_t>(w.load.kv_blocks_total());
      m.blocks.used += static_cast<int32_t>(w.load.kv_blocks_used());
      m.blocks.cached += static_cast<int32_t>(w.load.kv_blocks_cached());
      m.blocks.free += static_cast<int32_t>(w.load.kv_blocks_free());
      m.preemptions += static_cast<uint64_t>(w.load.preemptions());
    }
  }
  if (!any) {
    std::lock_guard<std::mutex> lk(impl_->mu);
    m.running = static_cast<int32_t>(impl_->calls.size());
  }
  return m;
}

int64_t RemoteBackend::max_model_len() const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  int64_t len = 0;
  for (const auto& [id, c] : impl_->workers) {
    if (c->info.max_model_len > 0 && (len == 0 || c->info.max_model_len < len)) {
      len = c->info.max_model_len;
    }
  }
  return len > 0 ? len : impl_->options.max_model_len;
}

RemoteBackendStats RemoteBackend::stats() const {
  RemoteBackendStats s;
  s.requests = impl_->n_requests.load();
  s.migrated = impl_->n_migrated.load();
  s.remote_prefills = impl_->n_remote_prefills.load();
  s.prefill_fallbacks = impl_->n_prefill_fallbacks.load();
  s.kv_import_recomputed = impl_->n_kv_import_recomputed.load();
  s.kv_import_failed = impl_->n_kv_import_failed.load();
  s.local_prefills_short = impl_->n_local_short.load();
  s.local_prefills_cached = impl_->n_local_cached.load();
  s.local_prefills_queue = impl_->n_local_queue.load();
  s.failed = impl_->n_failed.load();
  s.aborted = impl_->n_aborted.load();
  s.held = impl_->n_held.load();
  s.holding = impl_->n_holding.load();
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    s.workers = static_cast<int64_t>(impl_->workers.size());
    s.in_flight = static_cast<int64_t>(impl_->calls.size());
    if (impl_->events) {
      const auto es = impl_->events->Stats();
      s.kv_events = es.events_received;
      s.kv_gaps = es.gaps_detected;
      s.kv_resyncs = es.resyncs;
    }
  }
  for (const auto& [id, n] : impl_->CachedBlocks())
    s.kv_blocks += static_cast<int64_t>(n);  // takes mu
  std::set<std::string> prefill_workers;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    for (const auto& [id, c] : impl_->workers) {
      if (c->info.role == "prefill") prefill_workers.insert(id);
    }
  }
  {
    std::lock_guard<std::mutex> kl(impl_->kv_mu);
    for (const auto& [id, w] : impl_->kv) {
      if (w.has_load && prefill_workers.count(id)) {
        s.prefill_queue_tokens += static_cast<int64_t>(w.load.prefill_tokens_queued());
      }
    }
  }
  return s;
}

std::string RemoteBackend::MetricsText() const {
  const RemoteBackendStats s = stats();
  metrics::Registry reg;
  auto counter = [&](const char* name, const char* help, uint64_t v,
                     const metrics::Labels& labels = {}) {
    reg.AddCounter(name, help, labels).Inc(static_cast<double>(v));
  };
  auto gauge = [&](const char* name, const char* help, double v,
                   const metrics::Labels& labels = {}) { reg.AddGauge(name, help, labels).Set(v); };
  counter("mint_requests_migrated_total",
          "Requests re-sent to another worker after theirs was lost", s.migrated);
  counter("mint_remote_prefills_total",
          "Requests prefilled on a prefill worker and decoded elsewhere with its KV",
          s.remote_prefills);
  counter("mint_prefill_fallbacks_total",
          "Requests whose prefill worker failed, prefilled on the decode worker instead",
          s.prefill_fallbacks);
  const char* import_help =
      "Requests whose decode worker could not pull the prompt's KV from the prefill worker, by "
      "outcome (recomputed: it computed the prompt itself; failed: the request ended with an "
      "error, --kv-load-failure-policy fail)";
  counter("mint_kv_import_failures_total", import_help, s.kv_import_recomputed,
          {{"outcome", "recomputed"}});
  counter("mint_kv_import_failures_total", import_help, s.kv_import_failed,
          {{"outcome", "failed"}});
  const char* local_help =
      "Requests prefilled on their decode worker although a prefill worker was up, by the rule "
      "that kept them there (short: too few uncached tokens; cached: mostly cached on the decode "
      "worker; queue: every prefill worker's queue too long)";
  counter("mint_local_prefills_total", local_help, s.local_prefills_short, {{"reason", "short"}});
  counter("mint_local_prefills_total", local_help, s.local_prefills_cached, {{"reason", "cached"}});
  counter("mint_local_prefills_total", local_help, s.local_prefills_queue, {{"reason", "queue"}});
  gauge("mint_prefill_queue_tokens", "Prompt tokens queued on prefill workers (their load reports)",
        static_cast<double>(s.prefill_queue_tokens));
  counter("mint_requests_failed_total", "Requests that ended with an error from the workers",
          s.failed);
  counter("mint_requests_aborted_total", "Requests aborted by their client", s.aborted);
  counter("mint_router_queue_held_total",
          "Requests the router queue held while every worker was busy", s.held);
  gauge("mint_router_queue_holding", "Requests held by the router queue now",
        static_cast<double>(s.holding));
  gauge("mint_workers", "Workers serving the model", static_cast<double>(s.workers));
  counter("mint_kv_events_received_total", "KV events received from workers (event plane)",
          s.kv_events);
  counter("mint_kv_event_gaps_total",
          "Gaps in workers' KV event ids (each repaired from a snapshot)", s.kv_gaps);
  counter("mint_kv_resyncs_total", "Worker KV snapshots fetched to (re)start an event stream",
          s.kv_resyncs);
  impl_->RouterMetrics(&reg);
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    for (const auto& [id, c] : impl_->workers) {
      counter("mint_worker_requests_total", "Requests (attempts) sent to each worker",
              c->calls.load(), {{"worker", id}});
    }
  }
  for (const auto& [id, n] : impl_->CachedBlocks()) {
    gauge("mint_worker_kv_cached_blocks", "Prefix-cache blocks per worker, from its KV events",
          static_cast<double>(n), {{"worker", id}});
  }
  std::lock_guard<std::mutex> kl(impl_->kv_mu);
  for (const auto& [id, w] : impl_->kv) {
    if (!w.has_load) continue;
    gauge("mint_worker_running", "Requests running on each worker (its load report)",
          w.load.running(), {{"worker", id}});
    gauge("mint_worker_kv_usage", "Fraction of each worker's KV blocks in use (its load report)",
          w.load.kv_usage(), {{"worker", id}});
  }
  return reg.Prometheus();
}

bool RemoteBackend::WaitForWorkers(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lk(impl_->mu);
  return impl_->cv.wait_for(lk, timeout, [&] { return impl_->workers.size() >= n; });
}

void RemoteBackend::Close() {
  std::vector<std::shared_ptr<Call>> calls;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->closed = true;
    for (const auto& [id, c] : impl_->calls) calls.push_back(c);
  }
  for (const auto& c : calls) {
    std::lock_guard<std::mutex> lk(c->mu);
    c->aborted = true;
    if (c->stream) c->stream->Cancel();
  }
  std::unique_lock<std::mutex> lk(impl_->mu);
  for (const auto& c : calls) impl_->Unhold(c->id);
  impl_->Kick();
  impl_->cv.wait(lk, [&] { return impl_->calls.empty() && impl_->attempts_alive == 0; });
  impl_->stop_waiter = true;
  impl_->cv.notify_all();
  lk.unlock();
  if (impl_->waiter.joinable()) impl_->waiter.join();
  impl_->watch.reset();  // no membership callback runs after this
  impl_->events.reset();
}

}  // namespace mint::frontend
