#include "kvstore/tiered_connector.h"

#include <chrono>
#include <cmath>
#include <cstring>

#include "core/log.h"

namespace mint::kvstore {
namespace {

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// After a disk write error, the disk tier takes no writes for this long (reads go on).
constexpr double kDiskPauseSeconds = 10;

}  // namespace

const char* TierName(Tier tier) { return tier == Tier::kHost ? "host" : "disk"; }

Status TieredKvConfig::Validate() const {
  if (block_bytes == 0) return Status::InvalidArgument("KV tiers: block size in bytes unknown");
  if (host_blocks < 0) return Status::InvalidArgument("KV tiers: negative host tier size");
  if (!disk_dir.empty() && disk_blocks <= 0) {
    return Status::InvalidArgument("KV tiers: --kv-disk-size holds no block of " +
                                   std::to_string(block_bytes + kBlockFileHeaderBytes) + " bytes");
  }
  if (!disk_dir.empty() && host_blocks == 0) {
    return Status::InvalidArgument(
        "KV tiers: the disk tier is written from the host tier; give --kv-host-memory too");
  }
  if (io_threads < 1) return Status::InvalidArgument("KV tiers: io_threads must be >= 1");
  if (!(frequency_half_life_s > 0)) {
    return Status::InvalidArgument("KV tiers: frequency half-life must be > 0");
  }
  return Status::Ok();
}

Result<std::unique_ptr<TieredKvConnector>> TieredKvConnector::Create(const TieredKvConfig& config) {
  MINT_RETURN_IF_ERROR(config.Validate());
  std::unique_ptr<TieredKvConnector> c(new TieredKvConnector(config));
  if (config.host_blocks > 0) {
    MINT_ASSIGN_OR_RETURN(c->host_, HostTier::Create(config.host_blocks, config.block_bytes));
  }
  if (!config.disk_dir.empty()) {
    MINT_ASSIGN_OR_RETURN(c->disk_, DiskTier::Open({.dir = config.disk_dir,
                                                    .capacity_blocks = config.disk_blocks,
                                                    .block_bytes = config.block_bytes,
                                                    .fingerprint = config.fingerprint,
                                                    .io = config.io}));
    const DiskTierStats ds = c->disk_->Stats();
    log::Info("disk KV tier: {} ({} blocks of {} bytes at most), {} blocks found", c->disk_->dir(),
              config.disk_blocks, config.block_bytes, ds.found_at_open);
  }
  for (int i = 0; i < config.io_threads; ++i) {
    c->threads_.emplace_back([p = c.get()] { p->IoLoop(); });
  }
  return c;
}

TieredKvConnector::TieredKvConnector(const TieredKvConfig& config)
    : config_(config),
      clock_(config.clock != nullptr ? config.clock : &system_clock_),
      sightings_(config.frequency_half_life_s,
                 4 * static_cast<size_t>(config.host_blocks + config.disk_blocks) + 1024) {
  stats_.has_host = config.host_blocks > 0;
  stats_.has_disk = !config.disk_dir.empty();
  // Until measured: host memory at a few GB/s, disk at about 1 GB/s plus a file open.
  const double b = static_cast<double>(config.block_bytes);
  stats_.seconds_per_block[0] = b / 4e9;
  stats_.seconds_per_block[1] = b / 1e9 + 50e-6;
}

TieredKvConnector::~TieredKvConnector() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

Result<uint8_t*> TieredKvConnector::AllocateKvMemory(uint64_t bytes) {
  if (config_.inner != nullptr) return config_.inner->AllocateKvMemory(bytes);
  return nullptr;
}

void TieredKvConnector::OnKvMemory(const engine::KvMemory& memory) {
  if (config_.inner != nullptr) config_.inner->OnKvMemory(memory);
  MINT_CHECK(static_cast<uint64_t>(memory.block_bytes) == config_.block_bytes);
  memory_ = memory;
}

void TieredKvConnector::Post(std::function<void()> job) {
  {
    std::lock_guard lk(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void TieredKvConnector::IoLoop() {
  while (true) {
    std::function<void()> job;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and nothing left
      job = std::move(jobs_.front());
      jobs_.pop_front();
      ++busy_;
    }
    job();
    {
      std::lock_guard lk(mu_);
      --busy_;
      if (busy_ == 0 && jobs_.empty()) idle_cv_.notify_all();
    }
  }
}

void TieredKvConnector::Flush() {
  std::unique_lock lk(mu_);
  idle_cv_.wait(lk, [&] { return busy_ == 0 && jobs_.empty(); });
}

int64_t TieredKvConnector::Lookup(std::span<const BlockHash> hashes,
                                  double recompute_seconds_per_block) {
  if (host_ == nullptr && disk_ == nullptr) return 0;
  std::lock_guard lk(mu_);
  int64_t n = 0;
  for (BlockHash h : hashes) {
    // Found blocks become the most recently used of their tier, so the offers that admitting
    // this sequence causes (the pool evicting to make room) do not push them out before the load.
    int tier = -1;
    if (host_ != nullptr && host_->Touch(h)) {
      tier = static_cast<int>(Tier::kHost);
    } else if (disk_ != nullptr && disk_->Touch(h)) {
      tier = static_cast<int>(Tier::kDisk);
    }
    if (tier < 0) break;
    if (recompute_seconds_per_block > 0 &&
        stats_.seconds_per_block[tier] >= recompute_seconds_per_block) {
      ++stats_.recompute_blocks;
      break;
    }
    ++n;
  }
  return n;
}

void TieredKvConnector::Offer(BlockHash hash, std::optional<BlockHash> parent,
                              const uint8_t* bytes) {
  if (host_ == nullptr || bytes == nullptr) return;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<BlockHash> evicted;
  bool inserted = false;
  const bool stored = host_->Put(hash, parent, bytes, &evicted, &inserted);
  const double s = Since(t0);
  if (!evicted.empty()) Emit(engine::KvEvent::Kind::kRemoved, Tier::kHost, std::move(evicted));
  if (inserted) Emit(engine::KvEvent::Kind::kStored, Tier::kHost, {hash}, parent);
  {
    std::lock_guard lk(mu_);
    ++stats_.offered_blocks;
    if (stored) {
      stats_.offload_bytes += config_.block_bytes;
      stats_.offload_seconds += s;
      CountOffload(Tier::kHost, s);
    }
  }
  if (stored) Sighted(hash);
}

void TieredKvConnector::CountOffload(Tier tier, double seconds) {
  const int t = static_cast<int>(tier);
  ++stats_.offload_count[t];
  for (size_t i = 0; i < std::size(TieredKvStats::kBlockSecondsBounds); ++i) {
    if (seconds <= TieredKvStats::kBlockSecondsBounds[i]) ++stats_.offload_seconds_le[t][i];
  }
}

void TieredKvConnector::SetEventSink(std::function<void(engine::KvEvent)> sink) {
  if (config_.inner != nullptr) config_.inner->SetEventSink(sink);
  std::lock_guard lk(mu_);
  sink_ = std::move(sink);
}

void TieredKvConnector::Emit(engine::KvEvent::Kind kind, Tier tier, std::vector<BlockHash> hashes,
                             std::optional<BlockHash> parent) {
  std::function<void(engine::KvEvent)> sink;
  {
    std::lock_guard lk(mu_);
    sink = sink_;
  }
  if (!sink) return;
  engine::KvEvent e;
  e.kind = kind;
  e.tier = tier == Tier::kHost ? engine::StorageTier::kHost : engine::StorageTier::kDisk;
  e.block_hashes = std::move(hashes);
  if (kind == engine::KvEvent::Kind::kStored) e.parent_hash = parent;
  sink(std::move(e));
}

void TieredKvConnector::Sighted(BlockHash hash) {
  if (disk_ == nullptr) return;
  bool write = false;
  {
    std::lock_guard lk(mu_);
    const double now = clock_->NowSeconds();
    FrequencyFilter::Entry& s = sightings_.Sight(hash, now);
    if (s.written && !disk_->Contains(hash)) s.written = false;  // evicted from disk since
    if (s.written || !FrequencyFilter::Reached(s.frequency, config_.disk_min_frequency)) return;
    if (pending_writes_ >= config_.max_pending_writes || now < disk_paused_until_s_) {
      ++stats_.disk_writes_skipped;
      return;
    }
    s.written = true;
    ++pending_writes_;
    ++stats_.disk_writes_queued;
    write = true;
  }
  if (write) Post([this, hash] { WriteToDisk(hash); });
}

void TieredKvConnector::WriteToDisk(BlockHash hash) {
  Status st = Status::Ok();
  double s = 0;
  const uint8_t* bytes = host_->Acquire(hash, /*hit=*/false);
  if (bytes != nullptr) {
    const auto parent = host_->Parent(hash).value_or(std::nullopt);
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<BlockHash> evicted;
    bool inserted = false;
    st = disk_->Write(hash, parent, std::span<const uint8_t>(bytes, config_.block_bytes), &evicted,
                      &inserted);
    s = Since(t0);
    host_->Release(hash);
    if (!evicted.empty()) Emit(engine::KvEvent::Kind::kRemoved, Tier::kDisk, std::move(evicted));
    if (inserted) Emit(engine::KvEvent::Kind::kStored, Tier::kDisk, {hash}, parent);
  }
  std::lock_guard lk(mu_);
  --pending_writes_;
  if (bytes == nullptr) {  // the host tier dropped it before its turn
    if (auto* e = sightings_.Find(hash)) e->written = false;
    ++stats_.disk_writes_skipped;
    return;
  }
  if (!st.ok()) {
    if (auto* e = sightings_.Find(hash)) e->written = false;
    const double now = clock_->NowSeconds();
    if (now >= disk_paused_until_s_) {
      log::Warn("disk KV tier: write failed ({}); no disk writes for {} s, blocks are recomputed",
                st.ToString(), kDiskPauseSeconds);
    }
    disk_paused_until_s_ = now + kDiskPauseSeconds;
    return;
  }
  stats_.disk_bytes_written += config_.block_bytes;
  stats_.disk_write_seconds += s;
  CountOffload(Tier::kDisk, s);
}

void TieredKvConnector::Load(engine::KvLoad load, std::function<void(Status)> done) {
  if (!load.source.empty()) {
    if (config_.inner != nullptr) return config_.inner->Load(std::move(load), std::move(done));
    return done(Status::Unsupported("KV import: this worker has no transfer connector"));
  }
  Post([this, load = std::move(load), done = std::move(done)] { done(RunLoad(load)); });
}

Status TieredKvConnector::RunLoad(const engine::KvLoad& load) {
  MINT_CHECK(memory_.base != nullptr && load.hashes.size() == load.blocks.size());
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t bb = config_.block_bytes;
  uint64_t blocks[2] = {}, bytes[2] = {};
  double seconds[2] = {};
  Status st = Status::Ok();
  std::vector<BlockHash> seen;
  for (size_t i = static_cast<size_t>(load.num_local_blocks); i < load.blocks.size(); ++i) {
    const BlockHash h = load.hashes[i];
    uint8_t* dst = memory_.base + static_cast<int64_t>(load.blocks[i]) * memory_.block_bytes;
    const auto b0 = std::chrono::steady_clock::now();
    if (const uint8_t* src = host_ != nullptr ? host_->Acquire(h, /*hit=*/true) : nullptr) {
      std::memcpy(dst, src, bb);
      host_->Release(h);
      seen.push_back(h);
      ++blocks[0];
      bytes[0] += bb;
      seconds[0] += Since(b0);
      continue;
    }
    st = disk_ != nullptr ? disk_->Read(h, std::span<uint8_t>(dst, bb))
                          : Status::NotFound("block left the host tier");
    if (st.code() == StatusCode::kCorruption) {
      Emit(engine::KvEvent::Kind::kRemoved, Tier::kDisk, {h});
    }
    if (!st.ok()) break;
    ++blocks[1];
    bytes[1] += bb;
    seconds[1] += Since(b0);
  }
  const double total = Since(t0);
  for (BlockHash h : seen) Sighted(h);
  std::lock_guard lk(mu_);
  ++stats_.onboard_loads;
  for (int t = 0; t < 2; ++t) {
    if (st.ok()) stats_.onboard_blocks[t] += blocks[t];  // hits: blocks the engine then uses
    stats_.onboard_bytes[t] += bytes[t];
    stats_.onboard_seconds[t] += seconds[t];
    if (blocks[t] > 0) {
      const double per = seconds[t] / static_cast<double>(blocks[t]);
      stats_.seconds_per_block[t] = 0.8 * stats_.seconds_per_block[t] + 0.2 * per;
    }
  }
  if (!st.ok()) {
    ++stats_.onboard_failures;
    return st;
  }
  for (size_t i = 0; i < std::size(TieredKvStats::kSecondsBounds); ++i) {
    if (total <= TieredKvStats::kSecondsBounds[i]) ++stats_.onboard_seconds_le[i];
  }
  return Status::Ok();
}

Result<std::string> TieredKvConnector::Export(uint64_t request_id,
                                              std::span<const engine::BlockId> blocks,
                                              int64_t num_tokens, std::function<void()> release) {
  if (config_.inner != nullptr) {
    return config_.inner->Export(request_id, blocks, num_tokens, std::move(release));
  }
  return Status::Unsupported("KV export: this worker has no transfer connector");
}

TieredKvStats TieredKvConnector::Stats() const {
  TieredKvStats s;
  {
    std::lock_guard lk(mu_);
    s = stats_;
  }
  if (host_ != nullptr) s.host = host_->Stats();
  if (disk_ != nullptr) s.disk = disk_->Stats();
  return s;
}

}  // namespace mint::kvstore
