// Transfer: moving KV blocks between processes and hosts (disaggregated prefill -> decode).
//
// The side that holds the blocks (a prefill worker) runs a TransferServer over one memory
// region (its KV arena: fixed-size blocks, each one contiguous range). For every finished
// prefill it calls Export(block ids) and hands the returned Descriptor to the other side through
// the request plane. The decode side calls Pull(descriptor, destinations): decode pulls, as
// Dynamo's decode workers read through NIXL. Transports:
//   tcp  always available; the blocks stream over the server's socket straight from the region
//        into the destinations (no user-space copy on either side), in order, block by block.
//   shm  same host only: the region lives in a POSIX shared-memory object; the puller maps it
//        and copies each block once. The export's slot in the object's control area authorizes
//        and completes the pull with atomics, no round trip (shm_slots.h); without a slot, the
//        TCP connection does.
//   ucx  UCX (Debian's libucx) moves the blocks: over TCP, or RDMA where the hosts have it (it
//        picks; UCX_TLS narrows); the TCP connection authorizes and completes, as for shm.
//        UCX's own listening ports take no key and its address parser aborts on corrupt input:
//        use it on a trusted fabric only (as NIXL is); a holder serves it only when asked to.
// A block list, never a copy per layer: a block is all layers' K and V (model/kv_arena.h).
//
// Security: an export is pullable once, by whoever presents its 128-bit random secret (it
// travels only inside the authenticated request plane); the server compares it in constant
// time. The shared-memory object is created 0600 (same user only). Every socket read and write
// has a timeout, connections are bounded, and an export nobody pulls is released after
// `export_timeout` (its on_end says why), so a lost peer holds no blocks.
//
// Thread-safety: TransferServer is thread-safe; Pull may run on many threads at once.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace mint::transfer {

enum class Transport : uint8_t { kTcp = 0, kShm = 1, kUcx = 2 };
const char* TransportName(Transport t);
// "tcp" | "shm" | "ucx" (an error naming the fix when this build lacks UCX)
Result<Transport> ParseTransport(std::string_view name);

struct Capabilities {
  bool cross_host = false;  // works between hosts
  bool one_copy = false;    // the bytes are copied once, by the puller, from the holder's pages
};
Capabilities CapabilitiesOf(Transport t);

// What the puller needs for one transfer. Travels as bytes (Serialize / ParseDescriptor).
struct Descriptor {
  std::string host;             // the server's advertised host
  uint16_t port = 0;            // its TCP port
  std::string shm_name;         // the region's shared-memory object ("" when not shared)
  int32_t shm_slot = -1;        // the export's slot in its control area (-1: none)
  uint64_t export_id = 0;
  std::array<uint8_t, 16> secret{};
  uint64_t block_bytes = 0;     // bytes per block on the holder's side
  std::vector<int32_t> blocks;  // source block ids, in transfer order

  uint64_t bytes() const { return block_bytes * blocks.size(); }
};
std::string Serialize(const Descriptor& d);
// Rejects anything malformed (bad magic or version, lengths past the end, trailing bytes, more
// than kMaxBlocksPerExport blocks, zero block size) with a clear error; never reads past `bytes`.
Result<Descriptor> ParseDescriptor(std::string_view bytes);
inline constexpr size_t kMaxBlocksPerExport = 1 << 20;

// The memory a server exports from: `num_blocks` blocks of `block_bytes` at `base`. A region
// made by SharedRegion::Create can also be pulled over shm.
struct Region {
  uint8_t* base = nullptr;
  uint64_t block_bytes = 0;
  int64_t num_blocks = 0;
  std::string shm_name;         // set when the region is a SharedRegion
  void* shm_control = nullptr;  // its control(): same-host pulls with no round trip
};

// Memory in a POSIX shared-memory object (0600, unlinked when the owner destroys it), for a KV
// arena that same-host peers pull from with one copy.
class SharedRegion {
 public:
  static Result<std::unique_ptr<SharedRegion>> Create(uint64_t bytes);
  ~SharedRegion();
  uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& name() const { return name_; }
  // The control area after the data (export slots of same-host pulls; see shm_slots.h).
  void* control() const { return control_; }
  // This region as a server's Region of `num_blocks` blocks of `block_bytes` from data().
  Region AsRegion(uint64_t block_bytes, int64_t num_blocks) const {
    return {data_, block_bytes, num_blocks, name_, control_};
  }

 private:
  SharedRegion() = default;
  uint8_t* data_ = nullptr;
  void* control_ = nullptr;
  uint64_t size_ = 0;
  std::string name_;
};

enum class ExportEnd { kPulled, kExpired, kFailed, kServerStopped };
const char* ExportEndName(ExportEnd e);

struct ServerOptions {
  std::string bind_host = "127.0.0.1";
  uint16_t port = 0;               // 0: any free port
  std::string advertise_host;      // put in descriptors; default: bind_host
  std::chrono::milliseconds export_timeout{30000};
  std::chrono::milliseconds io_timeout{10000};  // per socket read / write
  int max_connections = 64;
  // Also serve UCX pulls (UCX starts with the first). Off by default: UCX's own ports and peer
  // address parsing are not hardened against hostile peers, so only an opted-in holder runs it.
  bool ucx = false;
};

struct ServerStats {
  uint64_t exports = 0, pulled = 0, expired = 0, failed = 0, rejected = 0;
  uint64_t blocks_sent = 0, bytes_sent = 0;  // sent by this server (tcp, ucx)
  uint64_t blocks_shared = 0;                // pulled over shm
  int64_t pending = 0;                       // exports not yet ended
};

class TransferServer {
 public:
  static Result<std::unique_ptr<TransferServer>> Create(const Region& region,
                                                        const ServerOptions& options);
  ~TransferServer();

  // Makes `blocks` (ids in [0, num_blocks)) pullable once. The caller must leave their bytes
  // unchanged until on_end runs (exactly once: pulled, expired, failed, or the server stopped);
  // on_end runs on a server thread and must not call back into the server.
  Result<Descriptor> Export(std::vector<int32_t> blocks, std::function<void(ExportEnd)> on_end);
  uint16_t port() const;
  ServerStats Stats() const;

  class Impl;

 private:
  explicit TransferServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct PullOptions {
  Transport transport = Transport::kTcp;  // kShm falls back to an error if not same host
  std::chrono::milliseconds io_timeout{10000};
  // tcp, ucx: the server sends an xxh3 checksum per block and the puller checks it
  bool verify = false;
};

struct PullStats {
  uint64_t bytes = 0;
  double seconds = 0;
};

// Copies the descriptor's blocks, in order, into dst[i] (each dst[i] must hold block_bytes).
// Blocks whose dst[i] is null are skipped (the puller already holds them): they do not move.
// Returns only when every block has landed (or with an error, after which dst contents are
// unspecified and the export is gone).
Result<PullStats> Pull(const Descriptor& d, std::span<uint8_t* const> dst,
                       const PullOptions& options = {});

}  // namespace mint::transfer
