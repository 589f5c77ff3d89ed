#include "apps/kv_tiers.h"

#include <fmt/format.h>

#include "apps/engine_options.h"
#include "core/dtype.h"
#include "core/log.h"
#include "model/kv_arena.h"

namespace mint::apps {

void AddKvTierOptions(CLI::App* cmd, KvTierArgs* a) {
  cmd->add_option(
      "--kv-host-memory", a->host_memory,
      "Tiered KV cache: host RAM for KV blocks the engine's pool evicts (suffix K, M\n"
      "or G), e.g. 8G. Prompts whose prefix was evicted load it back from here instead\n"
      "of recomputing it. Default: no host tier");
  cmd->add_option(
      "--kv-disk-dir", a->disk_dir,
      "Tiered KV cache: a directory for KV blocks on local disk (needs --kv-host-memory;\n"
      "blocks seen twice are written there). Kept across restarts: a worker started\n"
      "again with the same directory and model finds its blocks");
  cmd->add_option("--kv-disk-size", a->disk_size,
                  "Tiered KV cache: disk tier size (suffix K, M or G)")
      ->capture_default_str();
  cmd->add_option("--kv-offload", a->offload,
                  "Tiered KV cache: copy a block to the host tier when the pool evicts it\n"
                  "(eviction) or as soon as it is full (completion)")
      ->capture_default_str()
      ->check(CLI::IsMember({"eviction", "completion"}));
  cmd->add_option("--kv-io-threads", a->io_threads,
                  "Tiered KV cache: threads for loads and disk writes")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
}

bool KvTiersEnabled(const KvTierArgs& a) { return !a.host_memory.empty() || !a.disk_dir.empty(); }

Result<std::unique_ptr<kvstore::TieredKvConnector>> MakeKvTiers(
    const KvTierArgs& a, const model::Model& model, const std::string& model_path,
    const engine::EngineConfig& engine, engine::KvConnector* inner, int instance, int share) {
  if (!KvTiersEnabled(a)) return std::unique_ptr<kvstore::TieredKvConnector>();
  MINT_ASSIGN_OR_RETURN(
      const int64_t block_bytes,
      model::KvArena::BytesPerBlock(model.config(), engine.kv_cache_type, engine.block_size));
  kvstore::TieredKvConfig c;
  c.block_bytes = static_cast<uint64_t>(block_bytes);
  if (!a.host_memory.empty()) {
    MINT_ASSIGN_OR_RETURN(const int64_t bytes, ParseByteSize(a.host_memory));
    c.host_blocks = bytes / std::max(share, 1) / block_bytes;
    if (c.host_blocks < 1) {
      return Status::InvalidArgument("--kv-host-memory " + a.host_memory +
                                     " holds no KV block of " + std::to_string(block_bytes) +
                                     " bytes");
    }
  }
  if (!a.disk_dir.empty()) {
    MINT_ASSIGN_OR_RETURN(const int64_t bytes, ParseByteSize(a.disk_size));
    c.disk_dir = instance > 0 ? a.disk_dir + "/engine-" + std::to_string(instance) : a.disk_dir;
    c.disk_blocks = bytes / (block_bytes + static_cast<int64_t>(kvstore::kBlockFileHeaderBytes));
    const std::string layout = fmt::format("{} block {} salt {}", DTypeName(engine.kv_cache_type),
                                           engine.block_size, engine.cache_salt);
    MINT_ASSIGN_OR_RETURN(c.fingerprint, kvstore::KvFingerprint(model_path, layout));
  }
  c.offload = a.offload == "completion" ? engine::OffloadPoint::kCompletion
                                        : engine::OffloadPoint::kEviction;
  c.io_threads = a.io_threads;
  c.inner = inner;
  MINT_ASSIGN_OR_RETURN(auto tiers, kvstore::TieredKvConnector::Create(c));
  log::Info("tiered KV cache: host {} blocks ({} MiB), disk {}, offload on {}", c.host_blocks,
            (c.host_blocks * block_bytes) >> 20,
            c.disk_dir.empty() ? std::string("off")
                               : fmt::format("{} blocks under {}", c.disk_blocks, c.disk_dir),
            a.offload);
  return tiers;
}

void AddKvTierMetrics(const kvstore::TieredKvStats& s, const engine::EngineMetrics& e,
                      metrics::Registry* reg) {
  using kvstore::Tier;
  const bool has[2] = {s.has_host, s.has_disk};
  const int64_t blocks[2] = {s.host.blocks, s.disk.blocks};
  const int64_t capacity[2] = {s.host.capacity_blocks, s.disk.capacity_blocks};
  const uint64_t block_bytes = s.host.block_bytes != 0 ? s.host.block_bytes : s.disk.block_bytes;
  const uint64_t offload_bytes[2] = {s.offload_bytes, s.disk_bytes_written};
  auto tier = [](int t) -> metrics::Labels {
    return {{"tier", kvstore::TierName(static_cast<Tier>(t))}};
  };
  for (int t = 0; t < 2; ++t) {
    if (!has[t]) continue;
    reg->AddGauge("mint_kv_tier_blocks", "KV blocks held by the tier", tier(t))
        .Set(static_cast<double>(blocks[t]));
    reg->AddGauge("mint_kv_tier_capacity_blocks", "KV blocks the tier can hold", tier(t))
        .Set(static_cast<double>(capacity[t]));
    reg->AddGauge("mint_kv_tier_bytes", "Bytes of KV held by the tier", tier(t))
        .Set(static_cast<double>(static_cast<uint64_t>(blocks[t]) * block_bytes));
    reg->AddCounter("mint_kv_tier_hit_blocks_total",
                    "Prompt blocks loaded from the tier instead of computed", tier(t))
        .Inc(static_cast<double>(s.onboard_blocks[t]));
    reg->AddCounter("mint_kv_tier_onboard_bytes_total",
                    "Bytes loaded from the tier into the engine", tier(t))
        .Inc(static_cast<double>(s.onboard_bytes[t]));
    reg->AddCounter("mint_kv_tier_onboard_seconds_total", "Seconds spent loading from the tier",
                    tier(t))
        .Inc(s.onboard_seconds[t]);
    reg->AddGauge("mint_kv_tier_load_seconds_per_block",
                  "Measured seconds to load one block from the tier (compared with recomputing it)",
                  tier(t))
        .Set(s.seconds_per_block[t]);
    reg->AddCounter(
           "mint_kv_tier_offload_bytes_total",
           "Bytes copied into a tier (host: from the engine's pool; disk: from the host tier)",
           tier(t))
        .Inc(static_cast<double>(offload_bytes[t]));
  }
  const double sums[2] = {s.offload_seconds, s.disk_write_seconds};
  for (int t = 0; t < 2; ++t) {
    if (!has[t]) continue;
    reg->AddHistogramCallback(
        "mint_kv_tier_offload_block_seconds",
        "Seconds to copy one block into a tier (host: from the engine's pool, on its loop; disk: "
        "from the host tier, on an I/O thread)",
        tier(t),
        [h = metrics::FromCumulative(kvstore::TieredKvStats::kBlockSecondsBounds,
                                     s.offload_seconds_le[t], s.offload_count[t], sums[t])] {
          return h;
        });
  }
  reg->AddHistogramCallback(
      "mint_kv_tier_onboard_seconds", "Seconds per onboarding load", {},
      [h = metrics::FromCumulative(kvstore::TieredKvStats::kSecondsBounds, s.onboard_seconds_le,
                                   s.onboard_loads - s.onboard_failures,
                                   s.onboard_seconds[0] + s.onboard_seconds[1])] { return h; });
  const char* decisions =
      "Blocks loaded from a tier (onboard), and lookups that stopped at a block cheaper to "
      "recompute than to load (recompute)";
  reg->AddCounter("mint_kv_tier_decisions_total", decisions, {{"decision", "onboard"}})
      .Inc(static_cast<double>(s.onboard_blocks[0] + s.onboard_blocks[1]));
  reg->AddCounter("mint_kv_tier_decisions_total", decisions, {{"decision", "recompute"}})
      .Inc(static_cast<double>(s.recompute_blocks));
  reg->AddCounter("mint_kv_tier_onboard_failures_total",
                  "Onboarding loads that failed (the engine recomputed those prompts)")
      .Inc(static_cast<double>(e.kv_onboard_failures));
  const std::pair<const char*, uint64_t> disk_errors[] = {{"write", s.disk.write_errors},
                                                          {"read", s.disk.read_errors},
                                                          {"dropped_file", s.disk.dropped}};
  for (const auto& [op, n] : disk_errors) {
    reg->AddCounter("mint_kv_tier_disk_errors_total", "Disk tier errors by operation", {{"op", op}})
        .Inc(static_cast<double>(n));
  }
  reg->AddCounter("mint_kv_tier_disk_writes_skipped_total",
                  "Disk writes not made (queue full, paused after an error, or the block left the "
                  "host tier)")
      .Inc(static_cast<double>(s.disk_writes_skipped));
  reg->AddGauge("mint_kv_tier_disk_found_at_start_blocks",
                "Valid blocks the disk tier found when the worker started (a warm restart)")
      .Set(static_cast<double>(s.disk.found_at_open));
  reg->AddGauge("mint_engine_recompute_seconds_per_block",
                "The engine's measured seconds to compute one block of prompt")
      .Set(e.recompute_seconds_per_block);
}

void AddSimulatedKvTierMetrics(const kvstore::SimulatedTiersStats& s, metrics::Registry* reg) {
  const int64_t blocks[2] = {s.host_blocks, s.disk_blocks};
  const char* tiers[2] = {"host", "disk"};
  for (int t = 0; t < 2; ++t) {
    reg->AddGauge("mint_kv_tier_blocks", "KV blocks held by the (simulated) tier",
                  {{"tier", tiers[t]}})
        .Set(static_cast<double>(blocks[t]));
  }
  for (int t = 0; t < 2; ++t) {
    reg->AddCounter("mint_kv_tier_hit_blocks_total",
                    "Prompt blocks found in the (simulated) tier at admission and loaded instead "
                    "of computed",
                    {{"tier", tiers[t]}})
        .Inc(static_cast<double>(s.onboard_blocks[t]));
  }
  const char* decisions =
      "Blocks held in a tier: loaded (onboard) or recomputed because loading was slower";
  reg->AddCounter("mint_kv_tier_decisions_total", decisions, {{"decision", "onboard"}})
      .Inc(static_cast<double>(s.onboard_blocks[0] + s.onboard_blocks[1]));
  reg->AddCounter("mint_kv_tier_decisions_total", decisions, {{"decision", "recompute"}})
      .Inc(static_cast<double>(s.recompute_blocks));
  reg->AddCounter("mint_kv_tier_simulated_load_seconds_total", "Simulated seconds of tier loads")
      .Inc(s.load_seconds);
}

}  // namespace mint::apps
