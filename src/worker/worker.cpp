#include "worker/worker.h"

#include <unistd.h>

#include <random>

#include <fmt/format.h>

#include "core/host.h"
#include "core/log.h"

namespace mint::worker {

std::string DefaultWorkerId() {
  std::random_device rd;
  return fmt::format("{}-{}-{:04x}", HostName(), static_cast<int>(getpid()), rd() & 0xffff);
}

Result<std::unique_ptr<Worker>> Worker::Create(engine::Engine* engine,
                                               runtime::Discovery* discovery,
                                               const WorkerOptions& options) {
  std::unique_ptr<Worker> w(new Worker());
  w->info_.id = options.id.empty() ? DefaultWorkerId() : options.id;
  w->info_.model = options.model_name;
  w->info_.role = options.role;
  w->info_.metrics_url = options.metrics_url;
  w->info_.block_size = engine->config().block_size;
  w->info_.max_model_len = engine->config().scheduler.max_model_len;
  w->info_.host = HostName();
  w->info_.pid = getpid();
  std::string advertise = options.advertise_host;
  if (advertise.empty()) {
    advertise = options.bind_host;
    if (advertise == "0.0.0.0") advertise = HostName();
  }
  auto server = WorkerServer::Start(
      engine, {.worker_id = w->info_.id,
               .model_name = options.model_name,
               .bind = fmt::format("{}:{}", options.bind_host, options.port),
               .drain_ms = options.drain_ms,
               .tls = options.tls});
  if (!server.ok()) return server.status();
  w->server_ = std::move(server).value();
  w->info_.request_address = fmt::format("{}:{}", advertise, w->server_->port());
  w->engine_ = engine;
  if (options.events_port >= 0) {
    runtime::KvEventPublisherOptions po;
    po.curve_secret = runtime::PlaneCurveSecret(options.tls);  // CURVE with the request plane's TLS
    auto pub = runtime::KvEventPublisher::Create(
        w->info_.id, fmt::format("tcp://{}:{}", options.bind_host, options.events_port), po);
    if (!pub.ok()) return pub.status().WithContext("event plane");
    w->publisher_ = std::move(pub).value();
    // "tcp://0.0.0.0:N" is not dialable: announce the advertised host with the real port.
    const std::string& ep = w->publisher_->endpoint();
    w->info_.events_address = fmt::format("tcp://{}:{}", advertise, ep.substr(ep.rfind(':') + 1));
    engine->SubscribeKvEvents(w->publisher_.get());
    w->load_thread_ = std::thread([raw = w.get()] { raw->LoadLoop(); });
  }
  auto reg = discovery->Register(w->info_);
  if (!reg.ok()) return reg.status().WithContext("registering in " + std::string(discovery->kind()));
  w->registration_ = std::move(reg).value();
  log::Info("worker {} serving '{}' on {} (registered in {} discovery){}", w->info_.id,
            options.model_name, w->info_.request_address, discovery->kind(),
            w->info_.events_address.empty() ? "" : ", KV events on " + w->info_.events_address);
  return w;
}

void Worker::LoadLoop() {
  std::unique_lock<std::mutex> lk(load_mu_);
  while (!stop_load_) {
    lk.unlock();
    publisher_->PublishLoad(engine_->Metrics());
    lk.lock();
    load_cv_.wait_for(lk, std::chrono::milliseconds(100), [&] { return stop_load_; });
  }
}

Worker::~Worker() {
  registration_.reset();  // new requests stop coming first
  if (server_) server_->Shutdown();
  if (load_thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lk(load_mu_);
      stop_load_ = true;
    }
    load_cv_.notify_all();
    load_thread_.join();
  }
  if (publisher_) engine_->UnsubscribeKvEvents(publisher_.get());
}

}  // namespace mint::worker
