// TransferServer: exports of block lists, served to pullers over TCP (data or, for shm, only the
// authorization and the completion). One thread accepts, one thread per connection (at most
// max_connections), one reaper expires exports nobody pulled.

#include <xxhash.h>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <list>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

#include "core/log.h"
#include "transfer/shm_slots.h"
#include "transfer/socket.h"
#include "transfer/transfer.h"
#include "transfer/ucx.h"
#include "transfer/wire.h"

namespace mint::transfer {
namespace {

using Clock = std::chrono::steady_clock;

Status Reply(Socket& s, wire::ReplyCode code, const std::string& message) {
  const uint32_t head[2] = {code, static_cast<uint32_t>(message.size())};
  if (Status st = s.SendAll(head, sizeof(head)); !st.ok()) return st;
  return s.SendAll(message.data(), message.size());
}

}  // namespace

class TransferServer::Impl {
 public:
  Impl(const Region& region, const ServerOptions& options, Socket listener, uint16_t port)
      : region_(region),
        options_(options),
        listener_(std::move(listener)),
        port_(port),
        control_(static_cast<shm::Control*>(region.shm_control)) {
    if (control_ != nullptr) {
      for (uint32_t i = shm::kSlots; i > 0; --i) free_slots_.push_back(static_cast<int32_t>(i - 1));
    }
    std::random_device rd;
    rng_.seed((static_cast<uint64_t>(rd()) << 32) ^ rd());
    accept_thread_ = std::thread([this] { AcceptLoop(); });
    reaper_thread_ = std::thread([this] { ReapLoop(); });
  }

  ~Impl() {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
      for (auto& c : conns_) c.socket->Shutdown();
    }
    cv_.notify_all();
    listener_.Shutdown();
    accept_thread_.join();
    reaper_thread_.join();
    std::list<Conn> conns;
    {
      std::lock_guard lk(mu_);
      conns.swap(conns_);
    }
    for (auto& c : conns) c.thread.join();
    // Whatever was never pulled ends now.
    std::unordered_map<uint64_t, Entry> left;
    {
      std::lock_guard lk(mu_);
      left.swap(exports_);
    }
    for (auto& [id, e] : left) {
      // A puller copying through the slot now fails its completing swap.
      if (e.slot >= 0) control_->slot[e.slot].word.store(0, std::memory_order_release);
      if (e.on_end) e.on_end(ExportEnd::kServerStopped);
    }
  }

  Result<Descriptor> Export(std::vector<int32_t> blocks, std::function<void(ExportEnd)> on_end) {
    if (blocks.empty() || blocks.size() > kMaxBlocksPerExport) {
      return Status::InvalidArgument("export of " + std::to_string(blocks.size()) + " blocks");
    }
    for (int32_t b : blocks) {
      if (b < 0 || b >= region_.num_blocks) {
        return Status::OutOfRange("block " + std::to_string(b) + " is outside the region (" +
                                  std::to_string(region_.num_blocks) + " blocks)");
      }
    }
    Descriptor d;
    d.host = options_.advertise_host.empty() ? options_.bind_host : options_.advertise_host;
    d.port = port_;
    d.shm_name = region_.shm_name;
    d.block_bytes = region_.block_bytes;
    d.blocks = blocks;
    bool wake = false;
    {
      std::lock_guard lk(mu_);
      d.export_id = ++next_id_;
      for (size_t i = 0; i < d.secret.size(); i += 8) {
        const uint64_t r = rng_();
        std::memcpy(d.secret.data() + i, &r, 8);
      }
      Entry e;
      e.blocks = std::move(blocks);
      e.secret = d.secret;
      e.deadline = Clock::now() + options_.export_timeout;
      e.on_end = std::move(on_end);
      if (!free_slots_.empty()) {
        e.slot = d.shm_slot = free_slots_.back();
        free_slots_.pop_back();
        shm::Slot& slot = control_->slot[e.slot];
        std::memcpy(slot.secret, d.secret.data(), sizeof(slot.secret));
        slot.n_blocks = static_cast<uint32_t>(e.blocks.size());
        slot.block_bytes = region_.block_bytes;
        slot.copied.store(0, std::memory_order_relaxed);
        slot.word.store(shm::Word(d.export_id, shm::kExported), std::memory_order_release);
      }
      // The reaper needs waking only if it sleeps past this export's first look.
      const Clock::time_point look = e.slot >= 0 ? Clock::now() + kSlotPoll : e.deadline;
      wake = look < reaper_wakes_at_;
      exports_.emplace(d.export_id, std::move(e));
      ++stats_.exports;
      ++stats_.pending;
    }
    if (wake) cv_.notify_all();
    return d;
  }

  uint16_t port() const { return port_; }

  ServerStats Stats() const {
    std::lock_guard lk(mu_);
    return stats_;
  }

 private:
  struct Entry {
    std::vector<int32_t> blocks;
    std::array<uint8_t, 16> secret{};
    Clock::time_point deadline;
    std::function<void(ExportEnd)> on_end;
    bool in_use = false;       // claimed by a TCP connection
    int32_t slot = -1;         // its shm slot, if any
    bool shm_claimed = false;  // a puller claimed the slot (seen at shm_claimed_at)
    Clock::time_point shm_claimed_at;
  };
  static constexpr auto kSlotPoll = std::chrono::milliseconds(1);
  struct Conn {
    std::shared_ptr<Socket> socket;
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  void AcceptLoop() {
    while (true) {
      const int fd = ::accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
      std::unique_lock lk(mu_);
      if (stopping_) {
        if (fd >= 0) ::close(fd);
        return;
      }
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        // Out of descriptors or similar: do not spin.
        log::Warn("transfer: accept failed: {}", std::strerror(errno));
        lk.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      ReapFinishedConnections();
      auto sock = std::make_shared<Socket>(fd);
      if (static_cast<int>(conns_.size()) >= options_.max_connections) {
        ++stats_.rejected;
        continue;  // closes it
      }
      auto done = std::make_shared<std::atomic<bool>>(false);
      Conn c{sock, {}, done};
      c.thread = std::thread([this, sock, done] {
        Serve(*sock);
        {
          // Under mu_: the destructor shuts down every open connection's descriptor under it,
          // and must not reach this one's number once it is closed (and maybe reused).
          std::lock_guard lk(mu_);
          sock->Close();
        }
        done->store(true);
      });
      conns_.push_back(std::move(c));
    }
  }

  // Joins connection threads that have finished. Holds mu_.
  void ReapFinishedConnections() {
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (it->done->load()) {
        it->thread.join();
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void ReapLoop() {
    std::unique_lock lk(mu_);
    while (!stopping_) {
      Clock::time_point next = Clock::time_point::max();
      std::vector<std::pair<std::function<void(ExportEnd)>, ExportEnd>> ended;
      const auto now = Clock::now();
      for (auto it = exports_.begin(); it != exports_.end();) {
        const auto cur = it++;
        if (cur->second.in_use) continue;
        if (auto end = Check(cur->first, cur->second, now, &next)) {
          ended.emplace_back(Retire(cur, *end), *end);
        }
      }
      if (!ended.empty()) {
        lk.unlock();
        for (auto& [f, end] : ended) {
          if (f) f(end);
        }
        lk.lock();
        continue;
      }
      reaper_wakes_at_ = next;
      if (next == Clock::time_point::max()) {
        cv_.wait(lk);
      } else {
        cv_.wait_until(lk, next);
      }
      reaper_wakes_at_ = Clock::time_point::min();  // awake
    }
  }

  // How an export no TCP connection holds has ended, if it has; otherwise lowers *next to when
  // to look again. An export with a shm slot is looked at every kSlotPoll: a same-host puller
  // claims and completes it there without a word to this server (shm_slots.h). Holds mu_.
  std::optional<ExportEnd> Check(uint64_t id, Entry& e, Clock::time_point now,
                                 Clock::time_point* next) {
    if (e.slot < 0) {
      if (e.deadline <= now) return ExportEnd::kExpired;
      *next = std::min(*next, e.deadline);
      return std::nullopt;
    }
    shm::Slot& slot = control_->slot[e.slot];
    uint64_t word = slot.word.load(std::memory_order_acquire);
    if (word == shm::Word(id, shm::kPulled)) {
      stats_.blocks_shared += slot.copied.load(std::memory_order_relaxed);
      return ExportEnd::kPulled;
    }
    bool take_back = e.deadline <= now;  // unclaimed past its timeout: expired
    if (word == shm::Word(id, shm::kClaimed)) {
      if (!e.shm_claimed) {
        e.shm_claimed = true;
        e.shm_claimed_at = now;
      }
      take_back = now - e.shm_claimed_at >= options_.io_timeout;  // the puller died or stalled
    }
    if (take_back) {
      if (slot.word.compare_exchange_strong(word, 0, std::memory_order_acq_rel)) {
        return e.shm_claimed ? ExportEnd::kFailed : ExportEnd::kExpired;
      }
      *next = now;  // it moved on meanwhile: look again
      return std::nullopt;
    }
    *next = std::min(*next, std::min(e.deadline, now + kSlotPoll));
    return std::nullopt;
  }

  // Frees an ended export's shm slot (-1: none) for a later export. Holds mu_.
  void ReleaseSlot(int32_t slot) {
    if (slot < 0) return;
    control_->slot[slot].word.store(0, std::memory_order_release);
    free_slots_.push_back(slot);
  }

  // Ends export `id` (taken by this connection) with `end`.
  void End(uint64_t id, ExportEnd end) {
    std::function<void(ExportEnd)> f;
    {
      std::lock_guard lk(mu_);
      auto it = exports_.find(id);
      if (it == exports_.end()) return;
      f = Retire(it, end);
    }
    if (f) f(end);
  }

  // Removes an export that ended with `end`: frees its shm slot, counts it; returns its on_end,
  // for the caller to run outside mu_. Holds mu_.
  std::function<void(ExportEnd)> Retire(std::unordered_map<uint64_t, Entry>::iterator it,
                                        ExportEnd end) {
    std::function<void(ExportEnd)> f = std::move(it->second.on_end);
    ReleaseSlot(it->second.slot);
    exports_.erase(it);
    --stats_.pending;
    ++(end == ExportEnd::kPulled    ? stats_.pulled
       : end == ExportEnd::kExpired ? stats_.expired
                                    : stats_.failed);
    return f;
  }

  // Validates the request against its export and takes the export; a reply code on failure.
  wire::ReplyCode Claim(const wire::PullRequest& req, std::vector<int32_t>* blocks,
                        std::string* message) {
    std::lock_guard lk(mu_);
    auto it = exports_.find(req.export_id);
    if (it == exports_.end() || !wire::SecretsEqual(it->second.secret.data(), req.secret)) {
      ++stats_.rejected;
      *message = "unknown export or wrong secret";
      return wire::kDenied;
    }
    Entry& e = it->second;
    if (e.in_use) {
      *message = "the export is being pulled by another connection";
      return wire::kBusy;
    }
    if (e.deadline <= Clock::now()) {
      // Past its timeout: the reaper frees it (it may not have woken yet); never served late.
      cv_.notify_all();
      *message = "the export expired (not pulled within the holder's export timeout)";
      return wire::kDenied;
    }
    if (req.block_bytes != region_.block_bytes || req.n_blocks != e.blocks.size()) {
      *message = "block layout differs: this worker's blocks are " +
                 std::to_string(region_.block_bytes) + " bytes x " +
                 std::to_string(e.blocks.size()) + ", the puller expects " +
                 std::to_string(req.block_bytes) + " bytes x " + std::to_string(req.n_blocks);
      return wire::kMismatch;
    }
    if (req.transport == static_cast<uint8_t>(Transport::kShm) && region_.shm_name.empty()) {
      *message = "this worker's KV region is not in shared memory";
      return wire::kNotShared;
    }
    if (e.slot >= 0) {
      // Taken from the shm slot, unless a same-host puller claimed it there first.
      uint64_t word = shm::Word(req.export_id, shm::kExported);
      if (!control_->slot[e.slot].word.compare_exchange_strong(word, 0,
                                                               std::memory_order_acq_rel)) {
        *message = "the export is being pulled through shared memory";
        return wire::kBusy;
      }
    }
    e.in_use = true;
    *blocks = e.blocks;
    return wire::kOk;
  }

  // Serves pulls on one connection until it closes, fails or idles past io_timeout.
  void Serve(Socket& s) {
    if (!s.SetTimeout(options_.io_timeout).ok() || !s.SetNoDelay().ok()) return;
    while (ServeOne(s)) {
    }
  }

  // One pull; false when the connection is done.
  bool ServeOne(Socket& s) {
    wire::PullRequest req;
    if (!s.RecvValue(&req).ok()) return false;
    if (req.magic != wire::kRequestMagic || req.version != wire::kVersion ||
        req.transport > static_cast<uint8_t>(Transport::kUcx) || req.n_wanted > req.n_blocks) {
      (void)Reply(s, wire::kBadRequest, "malformed pull request");
      return false;
    }
    if (req.transport == static_cast<uint8_t>(Transport::kUcx)) {
      if (Status st = StartUcx(); !st.ok()) {
        (void)Reply(s, wire::kNoUcx, "this worker does not serve UCX: " + st.message());
        return false;
      }
    }
    std::vector<int32_t> blocks;
    std::string message;
    if (const auto code = Claim(req, &blocks, &message); code != wire::kOk) {
      (void)Reply(s, code, message);
      return false;
    }
    // From here the export is consumed: it ends pulled or failed.
    const ExportEnd end = Transfer(s, req, blocks);
    if (end != ExportEnd::kPulled) log::Warn("transfer: export {} failed", req.export_id);
    End(req.export_id, end);
    return end == ExportEnd::kPulled;
  }

  ExportEnd Transfer(Socket& s, const wire::PullRequest& req, const std::vector<int32_t>& blocks) {
    std::vector<uint32_t> wanted(req.n_wanted);
    if (!s.RecvAll(wanted.data(), wanted.size() * sizeof(uint32_t)).ok()) {
      return ExportEnd::kFailed;
    }
    for (size_t i = 0; i < wanted.size(); ++i) {
      if (wanted[i] >= blocks.size() || (i > 0 && wanted[i] <= wanted[i - 1])) {
        (void)Reply(s, wire::kBadRequest, "block indices must increase and be in range");
        return ExportEnd::kFailed;
      }
    }
    const bool tcp = req.transport == static_cast<uint8_t>(Transport::kTcp);
    const bool ucx = req.transport == static_cast<uint8_t>(Transport::kUcx);
    wire::UcxTrailer trailer;
    std::string peer;
    if (ucx) {
      if (!s.RecvValue(&trailer).ok()) return ExportEnd::kFailed;
      if (trailer.address_size == 0 || trailer.address_size > wire::kMaxUcxAddress) {
        (void)Reply(s, wire::kBadRequest, "malformed UCX worker address");
        return ExportEnd::kFailed;
      }
      peer.resize(trailer.address_size);
      if (!s.RecvAll(peer.data(), peer.size()).ok()) return ExportEnd::kFailed;
    }
    if (!Reply(s, wire::kOk, "").ok()) return ExportEnd::kFailed;
    auto block = [&](uint32_t i) {
      return region_.base + static_cast<uint64_t>(blocks[i]) * region_.block_bytes;
    };
    if (ucx && !wanted.empty()) {
      std::vector<ucx::Buffer> bufs;
      for (uint32_t i : wanted) bufs.push_back({block(i), region_.block_bytes});
      if (Status st = ucx_->Send(peer, trailer.nonce, bufs, options_.io_timeout); !st.ok()) {
        log::Warn("transfer: UCX send of export {}: {}", req.export_id, st.ToString());
        return ExportEnd::kFailed;
      }
    }
    // tcp: each block, then its checksum; ucx: the checksums after the blocks have gone (the
    // puller reads them once its receives have landed).
    if (tcp || ucx) {
      for (uint32_t i : wanted) {
        if (tcp && !s.SendAll(block(i), region_.block_bytes).ok()) return ExportEnd::kFailed;
        if (req.verify && !s.SendValue(XXH3_64bits(block(i), region_.block_bytes)).ok()) {
          return ExportEnd::kFailed;
        }
      }
    }
    uint32_t ack = 0;
    if (!s.RecvValue(&ack).ok() || ack != wire::kAck) return ExportEnd::kFailed;
    std::lock_guard lk(mu_);
    if (tcp || ucx) {
      stats_.blocks_sent += wanted.size();
      stats_.bytes_sent += wanted.size() * region_.block_bytes;
    } else {
      stats_.blocks_shared += wanted.size();
    }
    return ExportEnd::kPulled;
  }

  // The UCP worker that sends this server's UCX pulls, started by the first one.
  Status StartUcx() {
    if (!options_.ucx) {
      return Status::Unsupported("UCX pulls are off here (the holder runs with --kv-transport " +
                                 std::string("tcp or shm; start it with --kv-transport ucx)"));
    }
    std::lock_guard lk(ucx_mu_);
    if (ucx_) return Status::Ok();
    auto w = ucx::Worker::Create();
    if (!w.ok()) return w.status();
    ucx_ = std::move(*w);
    log::Info("transfer: UCX started for KV pulls on port {}", port_);
    return Status::Ok();
  }

  const Region region_;
  const ServerOptions options_;
  Socket listener_;
  const uint16_t port_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::mt19937_64 rng_;
  uint64_t next_id_ = 0;
  std::unordered_map<uint64_t, Entry> exports_;
  Clock::time_point reaper_wakes_at_ = Clock::time_point::min();  // min() while it is awake
  shm::Control* const control_;      // the region's shm control area, if any
  std::vector<int32_t> free_slots_;  // its slots no export holds
  std::list<Conn> conns_;
  ServerStats stats_;
  std::thread accept_thread_, reaper_thread_;
  std::mutex ucx_mu_;
  std::unique_ptr<ucx::Worker> ucx_;  // set once under ucx_mu_, then only read
};

TransferServer::TransferServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TransferServer::~TransferServer() = default;

Result<std::unique_ptr<TransferServer>> TransferServer::Create(const Region& region,
                                                               const ServerOptions& options) {
  if (region.base == nullptr || region.block_bytes == 0 || region.num_blocks <= 0) {
    return Status::InvalidArgument("transfer server: empty region");
  }
  if (region.shm_control != nullptr &&
      static_cast<const shm::Control*>(region.shm_control)->magic != shm::kMagic) {
    return Status::InvalidArgument("transfer server: the shm control area is not initialized");
  }
  if (options.max_connections <= 0 || options.io_timeout.count() <= 0 ||
      options.export_timeout.count() <= 0) {
    return Status::InvalidArgument("transfer server: connections and timeouts must be positive");
  }
  auto listener = Socket::Listen(options.bind_host, options.port, 64);
  if (!listener.ok()) return listener.status();
  auto port = listener->LocalPort();
  if (!port.ok()) return port.status();
  return std::unique_ptr<TransferServer>(new TransferServer(
      std::make_unique<Impl>(region, options, std::move(*listener), *port)));
}

Result<Descriptor> TransferServer::Export(std::vector<int32_t> blocks,
                                          std::function<void(ExportEnd)> on_end) {
  return impl_->Export(std::move(blocks), std::move(on_end));
}
uint16_t TransferServer::port() const { return impl_->port(); }
ServerStats TransferServer::Stats() const { return impl_->Stats(); }

}  // namespace mint::transfer
