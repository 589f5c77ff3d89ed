// Internal to src/transfer: the control area of a SharedRegion, for same-host pulls with no
// round trip.
//
// It sits after the region's data, page aligned, in the same shared-memory object: a header and
// kSlots export slots. Each export of a shared region takes a slot; its word is
// export_id << 2 | state, and every change of state is a compare-and-swap on it, so exactly one
// side wins each transition:
//
//   holder Export       free -> (id, kExported), secret written before the word
//   puller              (id, kExported) -> (id, kClaimed); checks the secret; copies the blocks;
//                       stores how many it copied; (id, kClaimed) -> (id, kPulled). Its copy is
//                       valid exactly when this last swap succeeds: the holder kept the blocks.
//   holder reaper       sees (id, kPulled): the export ends pulled, the slot is freed;
//                       (id, kClaimed) for longer than its I/O timeout -> 0: ends failed (the
//                       puller died or stalled; its last swap fails, it reports an error);
//                       (id, kExported) past the export timeout -> 0: ends expired
//   holder TCP claim    (id, kExported) -> 0: the pull goes the TCP-authorized way instead
//
// A puller whose first swap fails (expired, pulled already, another puller) takes the
// TCP-authorized path, which says why. The area is writable by any process that can open the
// region, exactly those that can read every block anyway (same user, 0600).
#pragma once

#include <atomic>
#include <cstdint>

namespace mint::transfer::shm {

inline constexpr uint32_t kMagic = 0x534B564D;  // "MVKS"
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kSlots = 4096;

enum State : uint64_t { kExported = 1, kClaimed = 2, kPulled = 3 };
inline uint64_t Word(uint64_t export_id, State s) { return export_id << 2 | s; }

struct alignas(64) Slot {
  std::atomic<uint64_t> word;    // 0: not claimable here
  std::atomic<uint32_t> copied;  // blocks the puller copied (written before kPulled)
  uint32_t n_blocks;             // the export's block count and size, written with the secret
  uint64_t block_bytes;
  uint8_t secret[16];
};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "slots are shared between processes");

struct Control {
  uint32_t magic;
  uint32_t version;
  uint32_t slots;
  uint32_t reserved;
  alignas(64) Slot slot[kSlots];
};

inline constexpr uint64_t kPage = 4096;
inline constexpr uint64_t kControlBytes = (sizeof(Control) + kPage - 1) / kPage * kPage;
// Where the control area starts in a region object whose data is `data_bytes` long.
inline uint64_t ControlOffset(uint64_t data_bytes) {
  return (data_bytes + kPage - 1) / kPage * kPage;
}

}  // namespace mint::transfer::shm
