// The /metrics source of a worker process (`mint worker`, `mint mocker`): the engine's gauges (as
// a LocalBackend) plus what its request plane saw.
//
// Thread-safety: SetWorker before the HTTP server is attached; MetricsText from any thread after.
#pragma once

#include <string>

#include <fmt/format.h>

#include "apps/kv_tiers.h"
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
    const uint64_t curve_refused =
        worker_->publisher() != nullptr ? worker_->publisher()->Stats().subscribers_refused : 0;
    return fmt::format(
               "# HELP mint_worker_generate_calls_total Generate calls accepted\n"
               "# TYPE mint_worker_generate_calls_total counter\nmint_worker_generate_calls_total "
               "{}\n"
               "# HELP mint_worker_cancelled_total Calls ended by the caller before finishing\n"
               "# TYPE mint_worker_cancelled_total counter\nmint_worker_cancelled_total {}\n"
               "# HELP mint_worker_rejected_total Calls the engine refused\n"
               "# TYPE mint_worker_rejected_total counter\nmint_worker_rejected_total {}\n"
               "# HELP mint_request_plane_tls_refused_total TLS handshakes refused on the request "
               "plane "
               "(peers without a certificate of the cluster CA)\n"
               "# TYPE mint_request_plane_tls_refused_total counter\n"
               "mint_request_plane_tls_refused_total {}\n"
               "# HELP mint_event_plane_subscribers_refused_total Event-plane subscribers refused "
               "by "
               "CURVE (not holding the cluster key)\n"
               "# TYPE mint_event_plane_subscribers_refused_total counter\n"
               "mint_event_plane_subscribers_refused_total {}\n",
               s.requests, s.cancelled, s.rejected, runtime::PlaneTlsHandshakeFailures(),
               curve_refused) +
           (kv_ != nullptr ? worker::KvTransferMetricsText(kv_->Stats()) : std::string()) +
           (tiers_ != nullptr ? KvTierMetricsText(tiers_->Stats(), Metrics()) : std::string()) +
           (sim_ != nullptr ? SimulatedKvTierMetricsText(sim_->Stats()) : std::string());
  }

 private:
  const worker::Worker* worker_ = nullptr;
  const worker::KvTransferConnector* kv_ = nullptr;
  const kvstore::TieredKvConnector* tiers_ = nullptr;
  const kvstore::SimulatedTiers* sim_ = nullptr;
};

}  // namespace mint::apps
