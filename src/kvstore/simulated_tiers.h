// SimulatedTiers: the tiered KV cache's policies without bytes, for the mocker (`mint mocker
// --kv-host-blocks N --kv-disk-blocks M`): the same indexes (TierIndex: LRU, leaf-first), the same
// disk admission (FrequencyFilter: seen twice) and the same onboard-or-recompute choice as
// TieredKvConnector, with loads that take block_bytes / bandwidth (+ a per-load latency for
// disk) divided by `speedup` instead of copying. A simulated engine has no KV memory, so Offer
// gets null bytes; its blocks enter the host tier by hash alone.
//
// Thread-safety: every method is thread-safe. Loads end on the connector's timer thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "engine/kv_connector.h"
#include "kvstore/frequency.h"
#include "kvstore/tier_index.h"

namespace mint::kvstore {

struct SimulatedTiersConfig {
  uint64_t block_bytes = 0;        // > 0: simulated KV bytes per block
  int64_t host_blocks = 0;         // 0: no host tier
  int64_t disk_blocks = 0;         // 0: no disk tier (needs a host tier)
  double host_gbps = 20;           // GB/s from host memory into the engine
  double disk_gbps = 3;            // GB/s from disk
  double disk_latency_s = 100e-6;  // per load that reads disk
  double speedup = 1;              // simulated time / wall time (as the mocker's)
  double disk_min_frequency = 2;
  double frequency_half_life_s = 600;
  const Clock* clock = nullptr;  // null: SystemClock (frequency decay and load timing)
  Status Validate() const;
};

struct SimulatedTiersStats {
  int64_t host_blocks = 0, disk_blocks = 0;
  uint64_t onboard_blocks[2] = {};  // host, disk: blocks loaded (tier hits)
  uint64_t recompute_blocks = 0;    // held but cheaper to recompute
  uint64_t loads = 0;
  double load_seconds = 0;  // simulated
};

class SimulatedTiers final : public engine::KvConnector {
 public:
  static Result<std::unique_ptr<SimulatedTiers>> Create(const SimulatedTiersConfig& config);
  ~SimulatedTiers() override;

  int64_t Lookup(std::span<const BlockHash> hashes, double recompute_seconds_per_block) override;
  engine::OffloadPoint offload_point() const override { return engine::OffloadPoint::kEviction; }
  void Offer(BlockHash hash, std::optional<BlockHash> parent, const uint8_t* bytes) override;
  void SetEventSink(std::function<void(engine::KvEvent)> sink) override;
  void Load(engine::KvLoad load, std::function<void(Status)> done) override;
  Result<std::string> Export(uint64_t, std::span<const engine::BlockId>, int64_t,
                             std::function<void()>) override {
    return Status::Unsupported("KV export: a simulated tier exports nothing");
  }
  SimulatedTiersStats Stats() const;

 private:
  explicit SimulatedTiers(const SimulatedTiersConfig& config);
  double SecondsPerBlock(int tier) const;
  void TimerLoop();

  SimulatedTiersConfig config_;
  SystemClock system_clock_;
  const Clock* clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  TierIndex host_, disk_;                              // guarded by mu_
  FrequencyFilter sightings_;                          // guarded by mu_
  SimulatedTiersStats stats_;                          // guarded by mu_
  std::multimap<int64_t, std::function<void()>> due_;  // guarded by mu_: deadline ns -> done
  std::function<void(engine::KvEvent)> sink_;          // guarded by mu_
  bool stop_ = false;                                  // guarded by mu_
  std::thread timer_;
};

}  // namespace mint::kvstore
