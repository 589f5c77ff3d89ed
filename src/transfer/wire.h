// Internal to src/transfer: the pull protocol on the server's TCP port.
//
//   puller -> server  PullRequest, then (in the same write) n_wanted u32 indices into the
//                     export's block list, strictly increasing: the blocks it does not hold yet
//   server -> puller  reply: u32 status (0 = go ahead), u32 message length, message
//   tcp:  server -> puller, per wanted block: block_bytes bytes [+ u64 xxh3 when verify]
//   shm:  (when the export's shm slot could not be claimed, shm_slots.h) the puller copies the
//         wanted blocks out of the shared region itself, while the server checks the request
//         (the copy counts only if the reply is 0)
//   ucx:  the request's indices are followed by UcxTrailer and the puller's UCP worker address;
//         after the reply the server sends each wanted block as a UCP tag message to that
//         address (ucx.h) [+ over TCP, n_wanted u64 xxh3 when verify]
//   puller -> server  u32 kAck: every block landed; the export ends as pulled
// One round trip and the data. The connection then carries the puller's next pull (pullers keep
// a few idle connections per server); any non-zero status closes it on both sides.
//
// The secret is checked before the indices are read, so an unauthenticated peer can make the
// server allocate nothing.
#pragma once

#include <cstdint>

namespace mint::transfer::wire {

inline constexpr uint32_t kRequestMagic = 0x50564B4D;  // "MKVP"
inline constexpr uint8_t kVersion = 1;
inline constexpr uint32_t kAck = 0x4B434120;

struct PullRequest {
  uint32_t magic = kRequestMagic;
  uint8_t version = kVersion;
  uint8_t transport = 0;  // Transport
  uint8_t verify = 0;
  uint8_t reserved = 0;
  uint64_t export_id = 0;
  uint8_t secret[16] = {};
  uint64_t block_bytes = 0;
  uint32_t n_blocks = 0;
  uint32_t n_wanted = 0;
};
static_assert(sizeof(PullRequest) == 48, "the request is 48 bytes on the wire");

struct UcxTrailer {
  uint64_t nonce = 0;         // the tag nonce of this pull's messages (ucx.h)
  uint32_t address_size = 0;  // bytes of UCP worker address that follow
  uint32_t reserved = 0;
};
static_assert(sizeof(UcxTrailer) == 16, "the UCX trailer is 16 bytes on the wire");
inline constexpr uint32_t kMaxUcxAddress = 64 * 1024;

// Whether two 16-byte export secrets are equal, in constant time.
inline bool SecretsEqual(const uint8_t* a, const uint8_t* b) {
  uint8_t diff = 0;
  for (int i = 0; i < 16; ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

enum ReplyCode : uint32_t {
  kOk = 0,
  kDenied = 1,      // unknown export or wrong secret
  kBusy = 2,        // the export is being pulled already
  kMismatch = 3,    // block size or count differs
  kBadRequest = 4,  // malformed request
  kNotShared = 5,   // shm asked, region not in shared memory
  kNoUcx = 6,       // ucx asked, this server has no UCX (not built, or UCX failed to start)
};

}  // namespace mint::transfer::wire
