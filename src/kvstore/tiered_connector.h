// TieredKvConnector: host-RAM and disk tiers under the engine's KV block pool, on the engine's
// KV connector seam (engine/kv_connector.h). Policies (README "Tiered KV cache" says why):
//   offload     a cached block's KV is copied into the host tier when the pool evicts it
//               (OffloadPoint::kEviction, the default) or as soon as it is full and cached
//               (kCompletion). The copy is made on the engine loop, inside the call.
//   disk filter a host block goes on to disk only once it has been seen twice (offered, then
//               onboarded again): a frequency that doubles on each sighting and halves every
//               frequency_half_life_s. Disk writes run on I/O threads, never on the engine loop.
//   eviction    least recently used, leaf-first, in each tier (TierIndex).
//   onboarding  at admission the engine asks Lookup for the prompt's blocks past its own
//               cached prefix: the longest run found in host, else disk, block by block, as long
//               as loading a block from its tier is measured faster than the engine computing it
//               (each tier's seconds per block, smoothed over its loads, against the engine's
//               recompute estimate). The sequence waits for KV while I/O threads copy the blocks;
//               a failed load (a block evicted meanwhile, a corrupt file, an I/O error) makes the
//               engine recompute, never fail the request.
// Requests that import from another worker (kv_import) and exports go to `inner`, the
// disaggregation connector, when there is one.
//
// Lifetime: the connector outlives the engine (EngineConfig::kv_connector). The engine waits for
// its loads before it stops; disk writes read only the host tier.
//
// Thread-safety: every method is thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "engine/kv_connector.h"
#include "kvstore/disk_tier.h"
#include "kvstore/frequency.h"
#include "kvstore/host_tier.h"

namespace mint::kvstore {

struct TieredKvConfig {
  uint64_t block_bytes = 0;  // > 0: the engine's KV bytes per block
  int64_t host_blocks = 0;   // host tier capacity; 0 = no host tier
  std::string disk_dir;      // empty = no disk tier
  int64_t disk_blocks = 0;   // disk tier capacity (> 0 with disk_dir)
  uint64_t fingerprint = 0;  // model + KV layout (disk_tier.h)
  engine::OffloadPoint offload = engine::OffloadPoint::kEviction;
  double disk_min_frequency = 2;       // sightings before a block is written to disk
  double frequency_half_life_s = 600;  // how fast sightings are forgotten
  int io_threads = 2;
  size_t max_pending_writes = 4096;      // disk writes queued beyond this are skipped
  BlockFileIo* io = nullptr;             // not owned; null = POSIX
  const Clock* clock = nullptr;          // not owned; null = SystemClock
  engine::KvConnector* inner = nullptr;  // not owned: kv_import / kv_export go there
  Status Validate() const;
};

enum class Tier { kHost = 0, kDisk = 1 };
const char* TierName(Tier tier);

struct TieredKvStats {
  bool has_host = false, has_disk = false;
  HostTierStats host;
  DiskTierStats disk;
  // Per tier (index Tier), cumulative.
  uint64_t onboard_blocks[2] = {};  // blocks loaded into the engine (tier hits)
  uint64_t onboard_bytes[2] = {};
  double onboard_seconds[2] = {};
  double seconds_per_block[2] = {};  // the smoothed load cost Lookup uses
  // Lookups that stopped at a block held but cheaper to recompute (an admission that waits for
  // free blocks looks up again, so one prompt may count more than once).
  uint64_t recompute_blocks = 0;
  uint64_t onboard_loads = 0, onboard_failures = 0;
  uint64_t offered_blocks = 0, offload_bytes = 0;  // into the host tier
  double offload_seconds = 0;
  uint64_t disk_writes_queued = 0, disk_writes_skipped = 0;  // skipped: queue full or paused
  uint64_t disk_bytes_written = 0;
  double disk_write_seconds = 0;
  // Seconds per onboarding load, cumulative: onboard_seconds_le[i] took at most kSecondsBounds[i].
  static constexpr double kSecondsBounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                              0.01,   0.025,   0.05,   0.1,   0.25,   1};
  uint64_t onboard_seconds_le[std::size(kSecondsBounds)] = {};
  // Seconds per block copied into a tier (index Tier: host from the pool, disk from host),
  // cumulative: offload_seconds_le[t][i] took at most kBlockSecondsBounds[i]; offload_count[t]
  // blocks in all (offload_seconds and disk_write_seconds are the sums).
  static constexpr double kBlockSecondsBounds[] = {1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4,
                                                   5e-4, 1e-3,   5e-3, 2e-2};
  uint64_t offload_seconds_le[2][std::size(kBlockSecondsBounds)] = {};
  uint64_t offload_count[2] = {};
};

class TieredKvConnector final : public engine::KvConnector {
 public:
  static Result<std::unique_ptr<TieredKvConnector>> Create(const TieredKvConfig& config);
  ~TieredKvConnector() override;

  Result<uint8_t*> AllocateKvMemory(uint64_t bytes) override;
  void OnKvMemory(const engine::KvMemory& memory) override;
  int64_t Lookup(std::span<const BlockHash> hashes, double recompute_seconds_per_block) override;
  engine::OffloadPoint offload_point() const override { return config_.offload; }
  void Offer(BlockHash hash, std::optional<BlockHash> parent, const uint8_t* bytes) override;
  void SetEventSink(std::function<void(engine::KvEvent)> sink) override;
  void Load(engine::KvLoad load, std::function<void(Status)> done) override;
  Result<std::string> Export(uint64_t request_id, std::span<const engine::BlockId> blocks,
                             int64_t num_tokens, std::function<void()> release) override;

  // Waits until queued disk writes are done (tests, shutdown).
  void Flush();
  TieredKvStats Stats() const;
  HostTier* host() { return host_.get(); }
  DiskTier* disk() { return disk_.get(); }

 private:
  explicit TieredKvConnector(const TieredKvConfig& config);
  void Post(std::function<void()> job);
  void IoLoop();
  Status RunLoad(const engine::KvLoad& load);
  // A sighting of `hash`; queues its disk write when it crosses the threshold.
  void Sighted(BlockHash hash);
  void WriteToDisk(BlockHash hash);
  void CountOffload(Tier tier, double seconds);  // mu_ held
  // Reports a tier's change to the engine's event subscribers (kv_events.h, id 0).
  void Emit(engine::KvEvent::Kind kind, Tier tier, std::vector<BlockHash> hashes,
            std::optional<BlockHash> parent = std::nullopt);

  TieredKvConfig config_;
  SystemClock system_clock_;
  const Clock* clock_;
  std::unique_ptr<HostTier> host_;
  std::unique_ptr<DiskTier> disk_;
  engine::KvMemory memory_;  // set once by OnKvMemory, before loads

  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<std::function<void()>> jobs_;     // guarded by mu_
  int busy_ = 0;                               // guarded by mu_: jobs running
  size_t pending_writes_ = 0;                  // guarded by mu_
  bool stop_ = false;                          // guarded by mu_
  FrequencyFilter sightings_;                  // guarded by mu_
  double disk_paused_until_s_ = 0;             // guarded by mu_: after a write error
  TieredKvStats stats_;                        // guarded by mu_ (tiers' own stats aside)
  std::function<void(engine::KvEvent)> sink_;  // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace mint::kvstore
