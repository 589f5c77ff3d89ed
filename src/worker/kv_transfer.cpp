#include "worker/kv_transfer.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "core/log.h"

namespace mint::worker {

KvTransferConnector::KvTransferConnector(const KvTransferOptions& options) : options_(options) {}

Result<std::unique_ptr<KvTransferConnector>> KvTransferConnector::Create(
    const KvTransferOptions& options) {
  if (options.loader_threads < 1) {
    return Status::InvalidArgument("KV transfer: loader_threads must be >= 1");
  }
  const SimulatedLink& sim = options.simulated;
  if (sim.block_bytes > 0 && !(sim.gbps > 0 && sim.latency_s >= 0 && sim.speedup > 0)) {
    return Status::InvalidArgument(
        "KV transfer: a simulated link needs gbps > 0, latency >= 0 and speedup > 0");
  }
  std::unique_ptr<KvTransferConnector> c(new KvTransferConnector(options));
  for (int i = 0; i < options.loader_threads; ++i) {
    c->loaders_.emplace_back([raw = c.get()] { raw->LoaderLoop(); });
  }
  return c;
}

KvTransferConnector::~KvTransferConnector() {
  Shutdown();
  for (auto& t : loaders_) t.join();
}

Result<uint8_t*> KvTransferConnector::AllocateKvMemory(uint64_t bytes) {
  if (!options_.shared_memory) return nullptr;
  std::lock_guard lk(mu_);
  if (region_ != nullptr) return Status::Internal("KV transfer: memory already allocated");
  MINT_ASSIGN_OR_RETURN(region_, transfer::SharedRegion::Create(bytes));
  return region_->data();
}

Status KvTransferConnector::Attach(engine::Engine* engine) {
  engine::KvMemory m = engine->kv_memory();
  if (m.base == nullptr && options_.simulated.block_bytes > 0) {
    // A simulated engine: serve the stand-in region, so exports and pulls run for real.
    stand_in_.assign(static_cast<size_t>(engine->num_kv_blocks()) * kStandInBlockBytes, 0);
    m = {stand_in_.data(), static_cast<int64_t>(kStandInBlockBytes), engine->num_kv_blocks()};
  }
  if (m.base == nullptr) return Status::InvalidArgument("KV transfer: the engine has no KV memory");
  transfer::Region r{m.base, static_cast<uint64_t>(m.block_bytes), m.num_blocks, ""};
  {
    std::lock_guard lk(mu_);
    if (server_ != nullptr) return Status::Internal("KV transfer: already attached");
    if (region_ != nullptr && region_->data() == m.base) {
      r = region_->AsRegion(r.block_bytes, r.num_blocks);
    }
  }
  MINT_ASSIGN_OR_RETURN(auto server, transfer::TransferServer::Create(r, options_.server));
  std::lock_guard lk(mu_);
  memory_ = m;
  server_ = std::move(server);
  log::Info("KV transfer: serving {} blocks of {} bytes on port {}{}", m.num_blocks,
            m.block_bytes, server_->port(), r.shm_name.empty() ? "" : " (and shared memory)");
  return Status::Ok();
}

void KvTransferConnector::Shutdown() {
  std::unique_ptr<transfer::TransferServer> server;
  std::deque<Job> jobs;
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    stopping_ = true;
    server = std::move(server_);
    jobs.swap(jobs_);
  }
  cv_.notify_all();
  server.reset();  // ends every export (their release runs)
  for (auto& j : jobs) j.done(Status::Cancelled("KV transfer is shutting down"));
  // Loads already running finish on their loader threads (their pulls have timeouts).
}

uint16_t KvTransferConnector::port() const {
  std::lock_guard lk(mu_);
  return server_ != nullptr ? server_->port() : 0;
}

KvTransferStats KvTransferConnector::Stats() const {
  std::lock_guard lk(mu_);
  KvTransferStats s = stats_;
  if (server_ != nullptr) s.server = server_->Stats();
  return s;
}

Result<std::string> KvTransferConnector::Export(uint64_t request_id,
                                                std::span<const engine::BlockId> blocks,
                                                int64_t num_tokens,
                                                std::function<void()> release) {
  std::lock_guard lk(mu_);
  if (server_ == nullptr) return Status::Unavailable("KV transfer: not serving");
  auto d = server_->Export(std::vector<int32_t>(blocks.begin(), blocks.end()),
                           [release = std::move(release), request_id](transfer::ExportEnd e) {
                             if (e != transfer::ExportEnd::kPulled) {
                               log::Info("request {}: KV export {}", request_id,
                                         transfer::ExportEndName(e));
                             }
                             release();
                           });
  if (!d.ok()) return d.status();
  (void)num_tokens;
  return transfer::Serialize(*d);
}

void KvTransferConnector::Load(engine::KvLoad load, std::function<void(Status)> done) {
  {
    std::lock_guard lk(mu_);
    if (!stopping_) {
      jobs_.push_back({std::move(load), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(Status::Cancelled("KV transfer is shutting down"));
}

void KvTransferConnector::LoaderLoop() {
  while (true) {
    Job job;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    Status st = RunLoad(job.load);
    job.done(std::move(st));
  }
}

Status KvTransferConnector::RunLoad(const engine::KvLoad& load) {
  MINT_ASSIGN_OR_RETURN(transfer::Descriptor d, transfer::ParseDescriptor(load.source));
  engine::KvMemory m;
  {
    std::lock_guard lk(mu_);
    m = memory_;
  }
  if (m.base == nullptr) return Status::Unavailable("KV transfer: not attached");
  if (d.blocks.size() != load.blocks.size()) {
    return Status::InvalidArgument(
        "KV import: the holder exported " + std::to_string(d.blocks.size()) +
        " blocks, this worker needs " + std::to_string(load.blocks.size()) + " for " +
        std::to_string(load.num_tokens) + " tokens (block sizes differ?)");
  }
  if (d.block_bytes != static_cast<uint64_t>(m.block_bytes)) {
    return Status::InvalidArgument(
        "KV import: the holder's blocks are " + std::to_string(d.block_bytes) +
        " bytes, this worker's " + std::to_string(m.block_bytes) +
        " (model, layer count, KV dtype or block size differ)");
  }
  std::vector<uint8_t*> dst(load.blocks.size(), nullptr);
  for (size_t i = static_cast<size_t>(load.num_local_blocks); i < dst.size(); ++i) {
    dst[i] = m.base + static_cast<int64_t>(load.blocks[i]) * m.block_bytes;
  }
  transfer::PullOptions po;
  po.transport = options_.transport;
  po.io_timeout = options_.io_timeout;
#ifndef NDEBUG
  po.verify = true;  // debug builds check each block's checksum
#endif
  const auto started = std::chrono::steady_clock::now();
  auto r = transfer::Pull(d, dst, po);
  const uint64_t pulled = dst.size() - static_cast<size_t>(load.num_local_blocks);
  if (r.ok() && options_.simulated.block_bytes > 0) {
    r->seconds = WaitSimulatedLink(pulled, started);
    r->bytes = pulled * options_.simulated.block_bytes;
  }
  std::lock_guard lk(mu_);
  ++stats_.loads;
  if (!r.ok()) {
    ++stats_.load_failures;
    return r.status();
  }
  stats_.blocks_pulled += pulled;
  stats_.blocks_skipped += static_cast<uint64_t>(load.num_local_blocks);
  stats_.bytes_pulled += r->bytes;
  stats_.pull_seconds += r->seconds;
  for (size_t i = 0; i < std::size(KvTransferStats::kPullSecondsBounds); ++i) {
    if (r->seconds <= KvTransferStats::kPullSecondsBounds[i]) ++stats_.pull_seconds_le[i];
  }
  return Status::Ok();
}

double KvTransferConnector::WaitSimulatedLink(uint64_t blocks,
                                              std::chrono::steady_clock::time_point started) {
  using namespace std::chrono;
  const SimulatedLink& sim = options_.simulated;
  const double wire_s =
      static_cast<double>(blocks * sim.block_bytes) / (sim.gbps * 1e9) / sim.speedup;
  steady_clock::time_point end;
  {
    // The link carries one load's bytes at a time: this one queues behind those before it.
    std::lock_guard lk(mu_);
    const steady_clock::time_point begin = std::max(steady_clock::now(), link_free_);
    link_free_ = begin + duration_cast<steady_clock::duration>(duration<double>(wire_s));
    end = link_free_ +
          duration_cast<steady_clock::duration>(duration<double>(sim.latency_s / sim.speedup));
  }
  std::this_thread::sleep_until(end);
  return duration<double>(steady_clock::now() - started).count() * sim.speedup;
}

void AddKvTransferMetrics(const KvTransferStats& s, metrics::Registry* reg) {
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    reg->AddCounter(name, help).Inc(static_cast<double>(v));
  };
  auto gauge = [&](const char* name, const char* help, double v) {
    reg->AddGauge(name, help).Set(v);
  };
  counter("mint_kv_transfer_loads_total", "Prompt KV loads from a prefill worker (decode side)",
          s.loads);
  counter("mint_kv_transfer_load_failures_total",
          "KV loads that failed (the prompt was recomputed or the request failed)",
          s.load_failures);
  counter("mint_kv_transfer_pulled_bytes_total", "KV bytes pulled from prefill workers",
          s.bytes_pulled);
  counter("mint_kv_transfer_pulled_blocks_total", "KV blocks pulled from prefill workers",
          s.blocks_pulled);
  counter("mint_kv_transfer_skipped_blocks_total",
          "Prompt KV blocks not pulled because this worker's prefix cache held them",
          s.blocks_skipped);
  reg->AddHistogramCallback(
      "mint_kv_transfer_pull_seconds", "Time to pull one prompt's KV blocks", {},
      [h = metrics::FromCumulative(KvTransferStats::kPullSecondsBounds, s.pull_seconds_le,
                                   s.loads - s.load_failures, s.pull_seconds)] { return h; });
  gauge("mint_kv_transfer_pull_gbps", "Achieved pull bandwidth over all loads, GB/s",
        s.pull_seconds > 0 ? static_cast<double>(s.bytes_pulled) / s.pull_seconds * 1e-9 : 0.0);
  counter("mint_kv_exports_total", "Finished prefills whose KV blocks were held for a puller",
          s.server.exports);
  counter("mint_kv_exports_pulled_total", "Exports pulled by a decode worker", s.server.pulled);
  counter("mint_kv_exports_expired_total",
          "Exports freed unpulled after --kv-export-timeout", s.server.expired);
  counter("mint_kv_exports_failed_total", "Exports whose pull failed", s.server.failed);
  gauge("mint_kv_exports_pending", "Finished prefills whose KV blocks are held for a puller now",
        static_cast<double>(s.server.pending));
  counter("mint_kv_transfer_rejected_connections_total",
          "Transfer connections refused (over the connection limit)", s.server.rejected);
  counter("mint_kv_transfer_sent_bytes_total", "KV bytes sent over TCP", s.server.bytes_sent);
  counter("mint_kv_transfer_sent_blocks_total", "KV blocks sent over TCP", s.server.blocks_sent);
  counter("mint_kv_transfer_shared_blocks_total",
          "KV blocks copied by a same-host puller out of shared memory", s.server.blocks_shared);
}

}  // namespace mint::worker
