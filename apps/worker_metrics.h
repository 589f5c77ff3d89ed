// The /metrics source of a worker process (`mint worker`, `mint mocker`): the engine's gauges (as
// a LocalBackend) plus what its request plane saw.
//
// Thread-safety: SetWorker before the HTTP server is attached; MetricsText from any thread after.
#pragma once

#include <string>

#include "apps/kv_tiers.h"
#include "metrics/metrics.h"
#include "runtime/request_plane.h"
#include "worker/kv_transfer.h"
#include "worker/local_backend.h"
#include "worker/worker.h"

namespace mint::apps {

class WorkerMetricsSource : public worker::LocalBackend {
 public:
  using LocalBackend::LocalBackend;
  void SetWorker(const worker::Worker* w) { worker_ = w; }
  // A disaggregated worker's transfers (null: none); set with SetWorker.
  void SetKvTransfer(const worker::KvTransferConnector* kv) { kv_ = kv; }
  // Its tiered KV cache (null: none); set with SetWorker.
  void SetKvTiers(const kvstore::TieredKvConnector* tiers) { tiers_ = tiers; }
  // A mocker's simulated tiers (null: none); set with SetWorker.
  void SetSimulatedTiers(const kvstore::SimulatedTiers* sim) { sim_ = sim; }
  std::string MetricsText() const override {
    if (worker_ == nullptr) return {};
    const auto s = worker_->stats();
    metrics::Registry reg;
    reg.AddCounter("mint_worker_generate_calls_total", "Generate calls accepted")
        .Inc(static_cast<double>(s.requests));
    reg.AddCounter("mint_worker_cancelled_total", "Calls ended by the caller before finishing")
        .Inc(static_cast<double>(s.cancelled));
    reg.AddCounter("mint_worker_rejected_total", "Calls the engine refused")
        .Inc(static_cast<double>(s.rejected));
    reg.AddCounter("mint_request_plane_tls_refused_total",
                   "TLS handshakes refused on the request plane (peers without a certificate of "
                   "the cluster CA)")
        .Inc(static_cast<double>(runtime::PlaneTlsHandshakeFailures()));
    reg.AddCounter("mint_event_plane_subscribers_refused_total",
                   "Event-plane subscribers refused by CURVE (not holding the cluster key)")
        .Inc(static_cast<double>(worker_->publisher() != nullptr
                                     ? worker_->publisher()->Stats().subscribers_refused
                                     : 0));
    if (kv_ != nullptr) worker::AddKvTransferMetrics(kv_->Stats(), &reg);
    if (tiers_ != nullptr) AddKvTierMetrics(tiers_->Stats(), Metrics(), &reg);
    if (sim_ != nullptr) AddSimulatedKvTierMetrics(sim_->Stats(), &reg);
    return reg.Prometheus();
  }

 private:
  const worker::Worker* worker_ = nullptr;
  const worker::KvTransferConnector* kv_ = nullptr;
  const kvstore::TieredKvConnector* tiers_ = nullptr;
  const kvstore::SimulatedTiers* sim_ = nullptr;
};

}  // namespace mint::apps
