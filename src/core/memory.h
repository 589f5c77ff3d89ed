// Large, long-lived buffers: packed weights and the KV cache arena.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace mint {

struct FreeDeleter {
  void operator()(void* p) const;
};
using LargeBuffer = std::unique_ptr<uint8_t[], FreeDeleter>;

// Allocates n bytes (n > 0) aligned to 64. Buffers of 2 MiB or more are aligned to 2 MiB and,
// with `huge_pages`, advised MADV_HUGEPAGE, so that where transparent huge pages are enabled
// ("always" or "madvise") kernels that stream through them take a TLB miss per 2 MiB instead of
// per 4 KiB. Pages are touched on first write, as with malloc; a huge page's first touch can cost
// far more than 512 small ones (the kernel may compact memory to find it: 0.36 GB/s against
// 1.8 GB/s on this project's VM), so memory first written on a latency path should not ask.
// Returns nullptr when out of memory.
LargeBuffer AllocateLarge(size_t n, bool huge_pages = true);

}  // namespace mint
