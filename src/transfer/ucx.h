// Internal to src/transfer: the UCX data path of a pull (Debian's libucx, UCP tag messages).
//
// The TCP connection of the pull protocol still authorizes the pull and carries the completion
// (wire.h); only the blocks travel through UCX. The puller posts one tagged receive per wanted
// block straight into its destination, then sends its UCP worker's address and a random tag
// nonce with the request; the holder, once the request checks out, sends each block from its
// region to that address. Endpoints report a dead peer (UCP_ERR_HANDLING_MODE_PEER: a lost puller
// fails its sends instead of hanging them), so UCX picks among the transports that can: TCP, and
// RDMA (InfiniBand, RoCE) where present. UCX 1.13's shared-memory transports cannot, which is
// why same-host pulls belong to the shm transport. UCX_TLS narrows the choice further.
//
// Tags: nonce (44 random bits) << 20 | block index (kMaxBlocksPerExport is 2^20), so a message
// meant for another pull, a late one from a failed pull or a forged one without the nonce never
// lands in a destination.
//
// Thread-safety: a Worker serializes every call on its UCP worker with its own mutex; Send may
// run on many threads at once (the holder's server threads share one worker).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/status.h"

namespace mint::transfer::ucx {

// Ok when this build has UCX (its headers) and UCX's libraries load here (on first use);
// otherwise every call below fails with the same clear error.
Status Available();

struct Buffer {
  uint8_t* data = nullptr;
  size_t size = 0;
};

inline constexpr int kIndexBits = 20;
inline uint64_t Tag(uint64_t nonce, uint32_t index) { return (nonce << kIndexBits) | index; }

class Worker {
 public:
  static Result<std::unique_ptr<Worker>> Create();
  ~Worker();

  // This worker's UCP address (what a peer needs to send to it).
  const std::string& address() const;

  // Starts one receive per buffer, tagged Tag(nonce, i) for bufs[i]. At most one batch is
  // outstanding per worker; the buffers must stay valid until WaitReceives has returned or the
  // worker is destroyed (which cancels what is left).
  Status PostReceives(uint64_t nonce, std::span<const Buffer> bufs);
  // Waits until every posted receive has landed with exactly its buffer's size. Fails (and
  // cancels what is left) when none completes for `idle_timeout`, or on any error.
  Status WaitReceives(std::chrono::milliseconds idle_timeout);

  // Sends bufs[i] tagged Tag(nonce, i) to the worker at `peer`, and returns once every one has
  // left this side (the peer holds it or read it). Endpoints are cached per peer address.
  Status Send(const std::string& peer, uint64_t nonce, std::span<const Buffer> bufs,
              std::chrono::milliseconds idle_timeout);

  class Impl;

 private:
  explicit Worker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A pool of idle workers for pullers (a UCP worker costs milliseconds to create): Take one or a
// new one; Give it back after a clean pull (a worker whose pull failed is dropped instead).
Result<std::unique_ptr<Worker>> TakeWorker();
void GiveWorker(std::unique_ptr<Worker> w);

}  // namespace mint::transfer::ucx
