// KvTransferConnector: the engine's KV connector (engine/kv_connector.h) over src/transfer, for
// disaggregated prefill and decode workers.
//
// Prefill side: Export hands the finished prompt's blocks to a TransferServer over the engine's
// KV memory; the handle is the serialized transfer Descriptor (it travels with the first token
// through the request plane), and the blocks are released when the decode side has pulled them,
// when the pull failed, or after export_timeout. Decode side: Load parses the handle and pulls
// the blocks the engine does not hold into its own blocks, on a loader thread (the engine loop
// never waits). With shared_memory the engine's KV memory is a SharedRegion, so a same-host
// decode worker copies straight out of it (transport shm); otherwise blocks stream over TCP, or
// UCX (transport ucx, served only with options.server.ucx).
//
// Lifetime: create the connector, create the engine with it (EngineConfig::kv_connector), then
// Attach(engine). Before the engine is destroyed, call Shutdown(): it stops serving (ending
// every export) and fails queued loads, so nothing reads or writes the engine's memory after.
//
// Simulated (a mocker, whose engine has no KV bytes): the real export lifecycle, protocol and
// sockets run over a small stand-in region (kStandInBlockBytes per block), and each load then
// waits out the time the simulated link would take: its blocks' simulated bytes at `gbps`,
// queued behind earlier loads on the same link, plus `latency_s`, all divided by `speedup`.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <iterator>
#include <string>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "engine/kv_connector.h"
#include "metrics/metrics.h"
#include "transfer/transfer.h"

namespace mint::worker {

// A simulated transfer link (see above). block_bytes 0: real transfers.
struct SimulatedLink {
  uint64_t block_bytes = 0;  // simulated KV bytes per block (the model's bytes/token x block size)
  double gbps = 25;          // link bandwidth, GB/s
  double latency_s = 0.001;  // per load, on top of the bytes
  double speedup = 1;        // simulated time / wall time (the mocker's --speedup)
};

struct KvTransferOptions {
  transfer::ServerOptions server;                   // where exports are served (prefill side)
  transfer::Transport transport = transfer::Transport::kTcp;  // how loads pull (decode side)
  bool shared_memory = false;  // the engine's KV memory in a SharedRegion (needed to serve shm)
  std::chrono::milliseconds io_timeout{10000};
  int loader_threads = 2;
  SimulatedLink simulated{};
};

struct KvTransferStats {
  // Simulated links count simulated bytes and simulated seconds (wall time x speedup).
  uint64_t loads = 0, load_failures = 0;
  uint64_t bytes_pulled = 0, blocks_pulled = 0, blocks_skipped = 0;
  double pull_seconds = 0;  // summed over loads
  // Seconds per successful load, cumulative: pull_seconds_le[i] loads took at most
  // kPullSecondsBounds[i] (Prometheus histogram buckets; +Inf is `loads - load_failures`).
  static constexpr double kPullSecondsBounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                  0.05,   0.1,   0.25,   0.5,   1,    2.5};
  uint64_t pull_seconds_le[std::size(kPullSecondsBounds)] = {};
  transfer::ServerStats server;
};

// The worker's /metrics series for its KV transfers: loads (decode side: bytes, blocks pulled and
// skipped because already held, seconds as a histogram, achieved GB/s) and exports (prefill
// side: handed out, pulled, expired, failed, bytes and blocks sent).
void AddKvTransferMetrics(const KvTransferStats& stats, metrics::Registry* registry);

class KvTransferConnector final : public engine::KvConnector {
 public:
  static Result<std::unique_ptr<KvTransferConnector>> Create(const KvTransferOptions& options);
  ~KvTransferConnector() override;

  // Starts serving exports from `engine`'s KV memory. Once, after the engine exists.
  Status Attach(engine::Engine* engine);
  // Stops serving and loading; see the lifetime note above. Idempotent.
  void Shutdown();

  Result<uint8_t*> AllocateKvMemory(uint64_t bytes) override;
  void Load(engine::KvLoad load, std::function<void(Status)> done) override;
  Result<std::string> Export(uint64_t request_id, std::span<const engine::BlockId> blocks,
                             int64_t num_tokens, std::function<void()> release) override;

  KvTransferStats Stats() const;
  uint16_t port() const;

 private:
  explicit KvTransferConnector(const KvTransferOptions& options);
  struct Job {
    engine::KvLoad load;
    std::function<void(Status)> done;
  };
  void LoaderLoop();
  Status RunLoad(const engine::KvLoad& load);
  // Simulated link: waits until this load's bytes would have crossed it; the simulated seconds.
  double WaitSimulatedLink(uint64_t blocks, std::chrono::steady_clock::time_point started);

  const KvTransferOptions options_;
  std::unique_ptr<transfer::SharedRegion> region_;
  engine::KvMemory memory_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;  // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::unique_ptr<transfer::TransferServer> server_;  // guarded by mu_ (set once)
  KvTransferStats stats_;  // guarded by mu_
  std::vector<std::thread> loaders_;
  std::vector<uint8_t> stand_in_;  // simulated: the region exports are served from
  std::chrono::steady_clock::time_point link_free_{};  // simulated: guarded by mu_
};

inline constexpr uint64_t kStandInBlockBytes = 8;

}  // namespace mint::worker
