// Pull: the decode side of a transfer (see transfer.h and wire.h).

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <random>

#include "transfer/shm_slots.h"
#include "transfer/socket.h"
#include "transfer/transfer.h"
#include "transfer/ucx.h"
#include "transfer/wire.h"

namespace mint::transfer {
namespace {

// Populates the page tables of [p, p + n) (MADV_POPULATE_READ / _WRITE, Linux 5.14+); a no-op
// where the kernel lacks it (the copy then faults page by page).
void Prefault(const void* p, size_t n, bool write) {
#if defined(MADV_POPULATE_READ) && defined(MADV_POPULATE_WRITE)
  static const uintptr_t kPage = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(p) & ~(kPage - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + n + kPage - 1) & ~(kPage - 1);
  madvise(reinterpret_cast<void*>(begin), end - begin,
          write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
#else
  (void)p, (void)n, (void)write;
#endif
}

// Mappings of peers' shared regions (data read-only, the control area writable), kept for later
// pulls (mapping a region of GBs for every transfer would cost page-table setup each time). At
// most kMaxMappings, least recently used first out; a mapping keeps an unlinked region's memory
// alive until dropped.
class Mappings {
 public:
  struct View {
    std::shared_ptr<const uint8_t> base;
    uint64_t size = 0;  // of the data (the control area follows)
    shm::Control* control = nullptr;
    // One bit per kChunk bytes of the mapping: its page tables are populated already.
    std::shared_ptr<std::atomic<uint64_t>[]> populated;

    // Populates the page tables of the mapping's [offset, offset + n) with one call per chunk
    // not populated before through this mapping (a fresh mapping otherwise traps once per 4 KiB
    // page, most of a copy's time; a populated one costs nothing more, where populating it again
    // would walk its page tables each time).
    void Populate(uint64_t offset, uint64_t n) const {
      for (uint64_t c = offset / kChunk; c * kChunk < offset + n; ++c) {
        std::atomic<uint64_t>& word = populated[c / 64];
        const uint64_t bit = uint64_t{1} << (c % 64);
        if (word.load(std::memory_order_relaxed) & bit) continue;
        Prefault(base.get() + c * kChunk, std::min(kChunk, size - c * kChunk), /*write=*/false);
        word.fetch_or(bit, std::memory_order_relaxed);
      }
    }
  };
  static constexpr uint64_t kChunk = 2 << 20;

  static Mappings& Get() {
    static Mappings m;
    return m;
  }

  Result<View> Map(const std::string& name) {
    std::lock_guard lk(mu_);
    for (auto it = list_.begin(); it != list_.end(); ++it) {
      if (it->first == name) {
        list_.splice(list_.begin(), list_, it);
        return list_.front().second;
      }
    }
    const int fd = shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
      return Status::Unavailable("open shared KV region " + name + ": " + std::strerror(errno) +
                                 " (shm pulls need the same host and user)");
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) <= shm::kControlBytes) {
      close(fd);
      return Status::Unavailable("shared KV region " + name + " is empty");
    }
    const auto total = static_cast<uint64_t>(st.st_size);
    const uint64_t size = total - shm::kControlBytes;
    void* p = mmap(nullptr, total, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
      return Status::Unavailable("map shared KV region " + name + ": " + std::strerror(errno));
    }
    auto* control = reinterpret_cast<shm::Control*>(static_cast<uint8_t*>(p) + size);
    if (mprotect(control, shm::kControlBytes, PROT_READ | PROT_WRITE) != 0 ||
        control->magic != shm::kMagic || control->version != shm::kVersion ||
        control->slots != shm::kSlots) {
      control = nullptr;  // no slots: every pull is authorized over TCP
    }
    View v{std::shared_ptr<const uint8_t>(
               static_cast<const uint8_t*>(p),
               [total](const uint8_t* q) { munmap(const_cast<uint8_t*>(q), total); }),
           size, control,
           std::shared_ptr<std::atomic<uint64_t>[]>(
               new std::atomic<uint64_t>[(size / kChunk + 64) / 64]())};
    list_.emplace_front(name, v);
    if (list_.size() > kMaxMappings) list_.pop_back();
    return v;
  }

  // Drops a mapping whose owner is gone (its pull failed), so its memory can be freed.
  void Drop(const std::string& name) {
    std::lock_guard lk(mu_);
    list_.remove_if([&](const auto& e) { return e.first == name; });
  }

 private:
  static constexpr size_t kMaxMappings = 8;
  std::mutex mu_;
  std::list<std::pair<std::string, View>> list_;
};

// Idle connections to transfer servers, a few per server, reused by later pulls (a connect and
// TCP's slow start cost more than a one-block pull).
class Connections {
 public:
  static Connections& Get() {
    static Connections c;
    return c;
  }
  // An idle connection to host:port, if any (it may have been closed by the server since).
  Socket Take(const std::string& host, uint16_t port) {
    std::lock_guard lk(mu_);
    auto it = idle_.find(Key(host, port));
    if (it == idle_.end() || it->second.empty()) return Socket();
    Socket s = std::move(it->second.back());
    it->second.pop_back();
    return s;
  }
  void Give(const std::string& host, uint16_t port, Socket s) {
    std::lock_guard lk(mu_);
    auto& v = idle_[Key(host, port)];
    if (v.size() < kMaxIdlePerServer) v.push_back(std::move(s));
  }

 private:
  static constexpr size_t kMaxIdlePerServer = 4;
  static std::string Key(const std::string& host, uint16_t port) {
    return host + ":" + std::to_string(port);
  }
  std::mutex mu_;
  std::map<std::string, std::vector<Socket>> idle_;
};

Status ReadReply(Socket& s) {
  uint32_t head[2];
  if (Status st = s.RecvAll(head, sizeof(head)); !st.ok()) return st;
  if (head[1] > 4096) return Status::Corruption("transfer server: oversized reply");
  std::string message(head[1], '\0');
  if (Status st = s.RecvAll(message.data(), message.size()); !st.ok()) return st;
  switch (head[0]) {
    case wire::kOk: return Status::Ok();
    case wire::kDenied: return Status::NotFound("KV transfer refused: " + message);
    case wire::kMismatch: return Status::InvalidArgument("KV transfer refused: " + message);
    case wire::kNotShared: return Status::Unsupported("KV transfer refused: " + message);
    case wire::kBusy: return Status::Unavailable("KV transfer refused: " + message);
    case wire::kNoUcx:
      return Status::Unsupported("KV transfer refused: " + message);
    default: return Status::Corruption("KV transfer refused: " + message);
  }
}

// Copies the wanted blocks out of a mapped shared region into their destinations.
void CopyShm(const Descriptor& d, const Mappings::View& view, const std::vector<uint32_t>& wanted,
             std::span<uint8_t* const> dst) {
  for (uint32_t i : wanted) {
    const uint64_t offset = static_cast<uint64_t>(d.blocks[i]) * d.block_bytes;
    // The destination is the puller's own arena, warm after its first use; the source is
    // populated once per mapping.
    view.Populate(offset, d.block_bytes);
    std::memcpy(dst[i], view.base.get() + offset, d.block_bytes);
  }
}

// A same-host pull through the export's slot (shm_slots.h): claim, copy, complete, no word to
// the server. nullopt when the slot cannot be claimed (expired, pulled, another puller, another
// layout): the TCP-authorized pull then says why.
std::optional<Status> PullThroughSlot(const Descriptor& d, const Mappings::View& view,
                                      const std::vector<uint32_t>& wanted,
                                      std::span<uint8_t* const> dst) {
  if (view.control == nullptr || d.shm_slot < 0 ||
      static_cast<uint32_t>(d.shm_slot) >= shm::kSlots) {
    return std::nullopt;
  }
  shm::Slot& slot = view.control->slot[d.shm_slot];
  const uint64_t exported = shm::Word(d.export_id, shm::kExported);
  const uint64_t claimed = shm::Word(d.export_id, shm::kClaimed);
  uint64_t word = exported;
  if (!slot.word.compare_exchange_strong(word, claimed, std::memory_order_acq_rel)) {
    return std::nullopt;
  }
  if (!wire::SecretsEqual(slot.secret, d.secret.data()) || slot.block_bytes != d.block_bytes ||
      slot.n_blocks != d.blocks.size()) {
    word = claimed;  // not ours to take: give it back
    slot.word.compare_exchange_strong(word, exported, std::memory_order_acq_rel);
    return std::nullopt;
  }
  CopyShm(d, view, wanted, dst);
  slot.copied.store(static_cast<uint32_t>(wanted.size()), std::memory_order_relaxed);
  word = claimed;
  if (!slot.word.compare_exchange_strong(word, shm::Word(d.export_id, shm::kPulled),
                                         std::memory_order_acq_rel)) {
    return Status::Unavailable(
        "KV export taken back by its holder during the copy (past its I/O timeout)");
  }
  return Status::Ok();
}

// The holder's shared region, mapped, with every block of `d` inside it.
Result<Mappings::View> MapShared(const Descriptor& d) {
  if (d.shm_name.empty()) {
    return Status::Unsupported("the holder's KV region is not in shared memory");
  }
  MINT_ASSIGN_OR_RETURN(Mappings::View view, Mappings::Get().Map(d.shm_name));
  for (int32_t b : d.blocks) {
    if ((static_cast<uint64_t>(b) + 1) * d.block_bytes > view.size) {
      return Status::OutOfRange("block " + std::to_string(b) + " is outside the shared region");
    }
  }
  return view;
}

// The request and the indices of the wanted blocks, in one write.
std::string RequestMessage(const Descriptor& d, const PullOptions& options, bool verify,
                           const std::vector<uint32_t>& wanted) {
  wire::PullRequest req;
  req.transport = static_cast<uint8_t>(options.transport);
  req.verify = verify ? 1 : 0;
  req.export_id = d.export_id;
  std::memcpy(req.secret, d.secret.data(), sizeof(req.secret));
  req.block_bytes = d.block_bytes;
  req.n_blocks = static_cast<uint32_t>(d.blocks.size());
  req.n_wanted = static_cast<uint32_t>(wanted.size());
  std::string message(sizeof(req) + wanted.size() * sizeof(uint32_t), '\0');
  std::memcpy(message.data(), &req, sizeof(req));
  if (!wanted.empty()) {  // (data() of an empty vector may be null: memcpy must not see it)
    std::memcpy(message.data() + sizeof(req), wanted.data(), wanted.size() * sizeof(uint32_t));
  }
  return message;
}

// ucx: a worker with one receive posted per wanted block, straight into its destination, before
// the request leaves; the trailer and the worker's address go at the end of `message`. The
// worker cancels the receives if it is dropped (any failure later) and goes back to the pool
// only after a clean pull.
Result<std::unique_ptr<ucx::Worker>> PostUcxReceives(const Descriptor& d,
                                                     const std::vector<uint32_t>& wanted,
                                                     std::span<uint8_t* const> dst,
                                                     std::string* message) {
  MINT_ASSIGN_OR_RETURN(std::unique_ptr<ucx::Worker> worker, ucx::TakeWorker());
  static thread_local std::mt19937_64 rng(std::random_device{}());
  wire::UcxTrailer trailer;
  trailer.nonce = rng() >> ucx::kIndexBits;
  trailer.address_size = static_cast<uint32_t>(worker->address().size());
  std::vector<ucx::Buffer> bufs;
  for (uint32_t i : wanted) bufs.push_back({dst[i], d.block_bytes});
  MINT_RETURN_IF_ERROR(worker->PostReceives(trailer.nonce, bufs));
  message->append(reinterpret_cast<const char*>(&trailer), sizeof(trailer));
  message->append(worker->address());
  return worker;
}

// Sends the request and reads the reply, on an idle connection if there is one; if the server
// closed that one meanwhile (it had not read the request, so nothing was consumed), once more
// on a fresh connection. `meanwhile` runs between the request and the reply.
Result<Socket> Request(const Descriptor& d, const PullOptions& options, const std::string& message,
                       const std::function<void()>& meanwhile) {
  Socket s = Connections::Get().Take(d.host, d.port);
  if (s.valid()) {
    Status sent = s.SetTimeout(options.io_timeout);
    if (sent.ok()) sent = s.SendAll(message.data(), message.size());
    if (sent.ok()) {
      meanwhile();
      sent = ReadReply(s);
    }
    if (sent.ok()) return s;
    if (sent.code() != StatusCode::kUnavailable) return sent;  // a real refusal
  }
  auto fresh = Socket::Connect(d.host, d.port, options.io_timeout);
  if (!fresh.ok()) {
    // Its owner is gone: let the shared memory go.
    if (options.transport == Transport::kShm) Mappings::Get().Drop(d.shm_name);
    return fresh.status();
  }
  s = std::move(*fresh);
  MINT_RETURN_IF_ERROR(s.SendAll(message.data(), message.size()));
  meanwhile();
  MINT_RETURN_IF_ERROR(ReadReply(s));
  return s;
}

// After an OK reply: tcp, each wanted block off the socket; with `verify` (tcp, ucx), each
// block's checksum, checked.
Status ReceiveBlocks(Socket& s, const Descriptor& d, const std::vector<uint32_t>& wanted,
                     std::span<uint8_t* const> dst, bool tcp, bool verify) {
  if (!tcp && !verify) return Status::Ok();
  for (uint32_t i : wanted) {
    if (tcp) MINT_RETURN_IF_ERROR(s.RecvAll(dst[i], d.block_bytes));
    if (!verify) continue;
    uint64_t h = 0;
    MINT_RETURN_IF_ERROR(s.RecvValue(&h));
    if (h != XXH3_64bits(dst[i], d.block_bytes)) {
      return Status::Corruption("KV block " + std::to_string(d.blocks[i]) +
                                " arrived with a wrong checksum");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<PullStats> Pull(const Descriptor& d, std::span<uint8_t* const> dst,
                       const PullOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (dst.size() != d.blocks.size()) {
    return Status::InvalidArgument("pull of " + std::to_string(d.blocks.size()) +
                                   " blocks into " + std::to_string(dst.size()) + " destinations");
  }
  const bool shm = options.transport == Transport::kShm;
  const bool ucx = options.transport == Transport::kUcx;
  std::vector<uint32_t> wanted;
  for (size_t i = 0; i < dst.size(); ++i) {
    if (dst[i] != nullptr) wanted.push_back(static_cast<uint32_t>(i));
  }
  auto done = [&] {
    PullStats stats;
    stats.bytes = wanted.size() * d.block_bytes;
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return stats;
  };
  Mappings::View view;
  if (shm) {
    MINT_ASSIGN_OR_RETURN(view, MapShared(d));
    if (auto st = PullThroughSlot(d, view, wanted, dst)) {
      if (!st->ok()) return *st;
      return done();
    }
  }
  const bool verify = options.verify && !shm;
  std::string message = RequestMessage(d, options, verify, wanted);
  std::unique_ptr<ucx::Worker> worker;
  if (ucx) {
    MINT_ASSIGN_OR_RETURN(worker, PostUcxReceives(d, wanted, dst, &message));
  }
  // shm: the blocks are copied while the server checks the request, not after its reply: one
  // round trip less. That copy is valid exactly when the reply is OK: the export then existed
  // when the server claimed it, so its blocks were held unchanged from before the request until
  // the acknowledgement; on a refusal the copied bytes are discarded (dst is unspecified).
  auto copy_shm = [&] {
    if (shm) CopyShm(d, view, wanted, dst);
  };
  MINT_ASSIGN_OR_RETURN(Socket s, Request(d, options, message, copy_shm));
  if (ucx) MINT_RETURN_IF_ERROR(worker->WaitReceives(options.io_timeout));
  MINT_RETURN_IF_ERROR(ReceiveBlocks(s, d, wanted, dst, !shm && !ucx, verify));
  MINT_RETURN_IF_ERROR(s.SendValue(wire::kAck));
  Connections::Get().Give(d.host, d.port, std::move(s));
  if (worker) ucx::GiveWorker(std::move(worker));
  return done();
}

}  // namespace mint::transfer
