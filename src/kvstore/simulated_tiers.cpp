#include "kvstore/simulated_tiers.h"

#include <algorithm>
#include <chrono>

namespace mint::kvstore {

Status SimulatedTiersConfig::Validate() const {
  if (block_bytes == 0) return Status::InvalidArgument("simulated KV tiers: block bytes unknown");
  if (host_blocks < 0 || disk_blocks < 0) {
    return Status::InvalidArgument("simulated KV tiers: negative size");
  }
  if (disk_blocks > 0 && host_blocks == 0) {
    return Status::InvalidArgument("simulated KV tiers: a disk tier needs a host tier");
  }
  if (!(host_gbps > 0) || !(disk_gbps > 0) || disk_latency_s < 0 || !(speedup > 0)) {
    return Status::InvalidArgument("simulated KV tiers: bandwidths and speed-up must be > 0");
  }
  return Status::Ok();
}

Result<std::unique_ptr<SimulatedTiers>> SimulatedTiers::Create(const SimulatedTiersConfig& config) {
  MINT_RETURN_IF_ERROR(config.Validate());
  std::unique_ptr<SimulatedTiers> t(new SimulatedTiers(config));
  t->timer_ = std::thread([p = t.get()] { p->TimerLoop(); });
  return t;
}

SimulatedTiers::SimulatedTiers(const SimulatedTiersConfig& config)
    : config_(config),
      clock_(config.clock != nullptr ? config.clock : &system_clock_),
      sightings_(config.frequency_half_life_s,
                 4 * static_cast<size_t>(config.host_blocks + config.disk_blocks) + 1024) {}

SimulatedTiers::~SimulatedTiers() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  timer_.join();
}

double SimulatedTiers::SecondsPerBlock(int tier) const {
  const double gbps = tier == 0 ? config_.host_gbps : config_.disk_gbps;
  return static_cast<double>(config_.block_bytes) / (gbps * 1e9);
}

int64_t SimulatedTiers::Lookup(std::span<const BlockHash> hashes,
                               double recompute_seconds_per_block) {
  std::lock_guard lk(mu_);
  int64_t n = 0;
  for (BlockHash h : hashes) {
    const int tier = host_.Touch(h) ? 0 : disk_.Touch(h) ? 1 : -1;
    if (tier < 0) break;
    // The engine measures steps in wall time: simulated seconds / speedup.
    if (recompute_seconds_per_block > 0 &&
        SecondsPerBlock(tier) / config_.speedup >= recompute_seconds_per_block) {
      ++stats_.recompute_blocks;
      break;
    }
    ++n;
  }
  return n;
}

void SimulatedTiers::SetEventSink(std::function<void(engine::KvEvent)> sink) {
  std::lock_guard lk(mu_);
  sink_ = std::move(sink);
}

namespace {

engine::KvEvent TierEvent(engine::KvEvent::Kind kind, engine::StorageTier tier,
                          std::vector<BlockHash> hashes, std::optional<BlockHash> parent) {
  engine::KvEvent e;
  e.kind = kind;
  e.tier = tier;
  e.block_hashes = std::move(hashes);
  if (kind == engine::KvEvent::Kind::kStored) e.parent_hash = parent;
  return e;
}

}  // namespace

void SimulatedTiers::Offer(BlockHash hash, std::optional<BlockHash> parent, const uint8_t*) {
  using Kind = engine::KvEvent::Kind;
  using engine::StorageTier;
  std::vector<engine::KvEvent> events;
  std::function<void(engine::KvEvent)> sink;
  {
    std::lock_guard lk(mu_);
    sink = sink_;
    if (config_.host_blocks == 0) return;
    if (!host_.Touch(hash)) {
      if (static_cast<int64_t>(host_.size()) >= config_.host_blocks) {
        auto v = host_.Victim();
        if (!v) return;
        host_.Remove(v->hash);
        events.push_back(TierEvent(Kind::kRemoved, StorageTier::kHost, {v->hash}, std::nullopt));
      }
      host_.Insert({hash, parent, 0});
      events.push_back(TierEvent(Kind::kStored, StorageTier::kHost, {hash}, parent));
    }
    if (config_.disk_blocks > 0) {
      FrequencyFilter::Entry& s = sightings_.Sight(hash, clock_->NowSeconds());
      if (FrequencyFilter::Reached(s.frequency, config_.disk_min_frequency) && !disk_.Touch(hash)) {
        bool room = true;
        if (static_cast<int64_t>(disk_.size()) >= config_.disk_blocks) {
          auto v = disk_.Victim();
          room = v.has_value();
          if (room) {
            disk_.Remove(v->hash);
            events.push_back(
                TierEvent(Kind::kRemoved, StorageTier::kDisk, {v->hash}, std::nullopt));
          }
        }
        if (room) {
          disk_.Insert({hash, parent, 0});  // written at once: disk writes cost the engine nothing
          events.push_back(TierEvent(Kind::kStored, StorageTier::kDisk, {hash}, parent));
        }
      }
    }
  }
  if (sink) {
    for (auto& e : events) sink(std::move(e));
  }
}

void SimulatedTiers::Load(engine::KvLoad load, std::function<void(Status)> done) {
  if (!load.source.empty()) {
    return done(Status::Unsupported("KV import: a simulated tier imports nothing"));
  }
  double seconds = 0;
  bool disk = false;
  uint64_t found[2] = {};
  Status st = Status::Ok();
  {
    std::lock_guard lk(mu_);
    for (size_t i = static_cast<size_t>(load.num_local_blocks); i < load.hashes.size(); ++i) {
      const BlockHash h = load.hashes[i];
      const int tier = host_.Contains(h) ? 0 : disk_.Contains(h) ? 1 : -1;
      if (tier < 0) {
        st = Status::NotFound("simulated KV tier: block evicted before its load");
        break;
      }
      seconds += SecondsPerBlock(tier);
      disk = disk || tier == 1;
      ++found[tier];
      if (tier == 0) sightings_.Sight(h, clock_->NowSeconds());  // seen again: maybe to disk
    }
    if (disk) seconds += config_.disk_latency_s;
    if (st.ok()) {
      stats_.onboard_blocks[0] += found[0];
      stats_.onboard_blocks[1] += found[1];
    }
    ++stats_.loads;
    stats_.load_seconds += seconds;
    const auto deadline =
        clock_->NowNanos() + static_cast<int64_t>(seconds / config_.speedup * 1e9);
    due_.emplace(deadline, [done = std::move(done), st] { done(st); });
  }
  cv_.notify_all();
}

void SimulatedTiers::TimerLoop() {
  std::unique_lock lk(mu_);
  while (true) {
    if (stop_ && due_.empty()) return;
    if (due_.empty()) {
      cv_.wait(lk);
      continue;
    }
    const int64_t now = clock_->NowNanos();
    auto it = due_.begin();
    if (it->first > now && !stop_) {
      // A virtual clock moves without waking us: look again every millisecond.
      auto wait = std::chrono::nanoseconds(it->first - now);
      if (clock_ != &system_clock_) {
        wait = std::min<std::chrono::nanoseconds>(wait, std::chrono::milliseconds(1));
      }
      cv_.wait_for(lk, wait);
      continue;
    }
    auto fn = std::move(it->second);
    due_.erase(it);
    lk.unlock();
    fn();
    lk.lock();
  }
}

SimulatedTiersStats SimulatedTiers::Stats() const {
  std::lock_guard lk(mu_);
  SimulatedTiersStats s = stats_;
  s.host_blocks = static_cast<int64_t>(host_.size());
  s.disk_blocks = static_cast<int64_t>(disk_.size());
  return s;
}

}  // namespace mint::kvstore
