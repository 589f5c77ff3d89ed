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

namespace {

void Metric(std::string* out, const char* name, const char* type, const char* help) {
  *out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

std::string KvTierMetricsText(const kvstore::TieredKvStats& s, const engine::EngineMetrics& e) {
  using kvstore::Tier;
  std::string out;
  const bool has[2] = {s.has_host, s.has_disk};
  const int64_t blocks[2] = {s.host.blocks, s.disk.blocks};
  const int64_t capacity[2] = {s.host.capacity_blocks, s.disk.capacity_blocks};
  const uint64_t block_bytes = s.host.block_bytes != 0 ? s.host.block_bytes : s.disk.block_bytes;
  auto each = [&](const char* name, const char* type, const char* help, auto value) {
    Metric(&out, name, type, help);
    for (int t = 0; t < 2; ++t) {
      if (has[t]) {
        out += fmt::format("{}{{tier=\"{}\"}} {}\n", name, kvstore::TierName(static_cast<Tier>(t)),
                           value(t));
      }
    }
  };
  each("mint_kv_tier_blocks", "gauge", "KV blocks held by the tier",
       [&](int t) { return blocks[t]; });
  each("mint_kv_tier_capacity_blocks", "gauge", "KV blocks the tier can hold",
       [&](int t) { return capacity[t]; });
  each("mint_kv_tier_bytes", "gauge", "Bytes of KV held by the tier",
       [&](int t) { return static_cast<uint64_t>(blocks[t]) * block_bytes; });
  each("mint_kv_tier_hit_blocks_total", "counter",
       "Prompt blocks loaded from the tier instead of computed",
       [&](int t) { return s.onboard_blocks[t]; });
  each("mint_kv_tier_onboard_bytes_total", "counter", "Bytes loaded from the tier into the engine",
       [&](int t) { return s.onboard_bytes[t]; });
  each("mint_kv_tier_onboard_seconds_total", "counter", "Seconds spent loading from the tier",
       [&](int t) { return s.onboard_seconds[t]; });
  each("mint_kv_tier_load_seconds_per_block", "gauge",
       "Measured seconds to load one block from the tier (compared with recomputing it)",
       [&](int t) { return s.seconds_per_block[t]; });
  Metric(&out, "mint_kv_tier_offload_bytes_total", "counter",
         "Bytes copied into a tier (host: from the engine's pool; disk: from the host tier)");
  if (s.has_host) {
    out += fmt::format("mint_kv_tier_offload_bytes_total{{tier=\"host\"}} {}\n", s.offload_bytes);
  }
  if (s.has_disk) {
    out +=
        fmt::format("mint_kv_tier_offload_bytes_total{{tier=\"disk\"}} {}\n", s.disk_bytes_written);
  }
  Metric(&out, "mint_kv_tier_offload_block_seconds", "histogram",
         "Seconds to copy one block into a tier (host: from the engine's pool, on its loop; "
         "disk: from the host tier, on an I/O thread)");
  const double sums[2] = {s.offload_seconds, s.disk_write_seconds};
  for (int t = 0; t < 2; ++t) {
    if (!has[t]) continue;
    const char* tier = kvstore::TierName(static_cast<Tier>(t));
    for (size_t i = 0; i < std::size(kvstore::TieredKvStats::kBlockSecondsBounds); ++i) {
      out += fmt::format("mint_kv_tier_offload_block_seconds_bucket{{tier=\"{}\",le=\"{}\"}} {}\n",
                         tier, kvstore::TieredKvStats::kBlockSecondsBounds[i],
                         s.offload_seconds_le[t][i]);
    }
    out += fmt::format("mint_kv_tier_offload_block_seconds_bucket{{tier=\"{}\",le=\"+Inf\"}} {}\n",
                       tier, s.offload_count[t]);
    out += fmt::format("mint_kv_tier_offload_block_seconds_sum{{tier=\"{}\"}} {}\n", tier, sums[t]);
    out += fmt::format("mint_kv_tier_offload_block_seconds_count{{tier=\"{}\"}} {}\n", tier,
                       s.offload_count[t]);
  }
  Metric(&out, "mint_kv_tier_onboard_seconds", "histogram", "Seconds per onboarding load");
  for (size_t i = 0; i < std::size(kvstore::TieredKvStats::kSecondsBounds); ++i) {
    out += fmt::format("mint_kv_tier_onboard_seconds_bucket{{le=\"{}\"}} {}\n",
                       kvstore::TieredKvStats::kSecondsBounds[i], s.onboard_seconds_le[i]);
  }
  const uint64_t ok_loads = s.onboard_loads - s.onboard_failures;
  out += fmt::format("mint_kv_tier_onboard_seconds_bucket{{le=\"+Inf\"}} {}\n", ok_loads);
  out += fmt::format("mint_kv_tier_onboard_seconds_sum {}\n",
                     s.onboard_seconds[0] + s.onboard_seconds[1]);
  out += fmt::format("mint_kv_tier_onboard_seconds_count {}\n", ok_loads);
  Metric(&out, "mint_kv_tier_decisions_total", "counter",
         "Blocks loaded from a tier (onboard), and lookups that stopped at a block cheaper to "
         "recompute than to load (recompute)");
  out += fmt::format("mint_kv_tier_decisions_total{{decision=\"onboard\"}} {}\n",
                     s.onboard_blocks[0] + s.onboard_blocks[1]);
  out += fmt::format("mint_kv_tier_decisions_total{{decision=\"recompute\"}} {}\n",
                     s.recompute_blocks);
  Metric(&out, "mint_kv_tier_onboard_failures_total", "counter",
         "Onboarding loads that failed (the engine recomputed those prompts)");
  out += fmt::format("mint_kv_tier_onboard_failures_total {}\n", e.kv_onboard_failures);
  Metric(&out, "mint_kv_tier_disk_errors_total", "counter", "Disk tier errors by operation");
  out += fmt::format("mint_kv_tier_disk_errors_total{{op=\"write\"}} {}\n", s.disk.write_errors);
  out += fmt::format("mint_kv_tier_disk_errors_total{{op=\"read\"}} {}\n", s.disk.read_errors);
  out += fmt::format("mint_kv_tier_disk_errors_total{{op=\"dropped_file\"}} {}\n", s.disk.dropped);
  Metric(
      &out, "mint_kv_tier_disk_writes_skipped_total", "counter",
      "Disk writes not made (queue full, paused after an error, or the block left the host tier)");
  out += fmt::format("mint_kv_tier_disk_writes_skipped_total {}\n", s.disk_writes_skipped);
  Metric(&out, "mint_kv_tier_disk_found_at_start_blocks", "gauge",
         "Valid blocks the disk tier found when the worker started (a warm restart)");
  out += fmt::format("mint_kv_tier_disk_found_at_start_blocks {}\n", s.disk.found_at_open);
  Metric(&out, "mint_engine_recompute_seconds_per_block", "gauge",
         "The engine's measured seconds to compute one block of prompt");
  out += fmt::format("mint_engine_recompute_seconds_per_block {}\n", e.recompute_seconds_per_block);
  return out;
}

std::string SimulatedKvTierMetricsText(const kvstore::SimulatedTiersStats& s) {
  std::string out;
  Metric(&out, "mint_kv_tier_blocks", "gauge", "KV blocks held by the (simulated) tier");
  out += fmt::format(
      "mint_kv_tier_blocks{{tier=\"host\"}} {}\nmint_kv_tier_blocks{{tier=\"disk\"}} {}\n",
      s.host_blocks, s.disk_blocks);
  Metric(&out, "mint_kv_tier_hit_blocks_total", "counter",
         "Prompt blocks found in the (simulated) tier at admission and loaded instead of computed");
  out += fmt::format(
      "mint_kv_tier_hit_blocks_total{{tier=\"host\"}} {}\n"
      "mint_kv_tier_hit_blocks_total{{tier=\"disk\"}} {}\n",
      s.onboard_blocks[0], s.onboard_blocks[1]);
  Metric(&out, "mint_kv_tier_decisions_total", "counter",
         "Blocks held in a tier: loaded (onboard) or recomputed because loading was slower");
  out += fmt::format(
      "mint_kv_tier_decisions_total{{decision=\"onboard\"}} {}\n"
      "mint_kv_tier_decisions_total{{decision=\"recompute\"}} {}\n",
      s.onboard_blocks[0] + s.onboard_blocks[1], s.recompute_blocks);
  Metric(&out, "mint_kv_tier_simulated_load_seconds_total", "counter",
         "Simulated seconds of tier loads");
  out += fmt::format("mint_kv_tier_simulated_load_seconds_total {}\n", s.load_seconds);
  return out;
}

}  // namespace mint::apps
