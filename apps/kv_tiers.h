// Command-line options of the tiered KV cache (src/kvstore), shared by `mint serve` and
// `mint worker`, and its /metrics lines.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "engine/engine.h"
#include "kvstore/simulated_tiers.h"
#include "kvstore/tiered_connector.h"
#include "metrics/metrics.h"
#include "model/model.h"
#include "worker/local_backend.h"

namespace mint::apps {

struct KvTierArgs {
  std::string host_memory;  // bytes with an optional K/M/G suffix; empty = no host tier
  std::string disk_dir;     // empty = no disk tier
  std::string disk_size = "10G";
  std::string offload = "eviction";
  int io_threads = 2;
};

void AddKvTierOptions(CLI::App* cmd, KvTierArgs* a);
bool KvTiersEnabled(const KvTierArgs& a);
// The tiers of one engine of `model` (loaded from `model_path`) configured by `engine`; `inner`
// (may be null) takes kv_import / kv_export. `instance` > 0 puts the disk tier in a subdirectory
// of its own (several engines in one process) and `share` divides the host memory among them.
Result<std::unique_ptr<kvstore::TieredKvConnector>> MakeKvTiers(const KvTierArgs& a,
                                                                const model::Model& model,
                                                                const std::string& model_path,
                                                                const engine::EngineConfig& engine,
                                                                engine::KvConnector* inner,
                                                                int instance = 0, int share = 1);
// Metrics series: per tier blocks, bytes, hits, onboard/offload bytes and seconds (histogram),
// onboard-versus-recompute decisions, disk errors; plus the engine's onboarding counters.
void AddKvTierMetrics(const kvstore::TieredKvStats& s, const engine::EngineMetrics& e,
                      metrics::Registry* registry);

// A mocker's simulated tiers: the same mint_kv_tier_blocks / mint_kv_tier_hit_blocks_total /
// decisions series.
void AddSimulatedKvTierMetrics(const kvstore::SimulatedTiersStats& s, metrics::Registry* registry);

// An engine in this process with its tiers' /metrics lines (tiers may be null: none).
class TieredLocalBackend final : public worker::LocalBackend {
 public:
  TieredLocalBackend(engine::Engine* engine, const kvstore::TieredKvConnector* tiers)
      : LocalBackend(engine), tiers_(tiers) {}
  std::string MetricsText() const override {
    if (tiers_ == nullptr) return {};
    metrics::Registry registry;
    AddKvTierMetrics(tiers_->Stats(), Metrics(), &registry);
    return registry.Prometheus();
  }

 private:
  const kvstore::TieredKvConnector* tiers_;
};

}  // namespace mint::apps
