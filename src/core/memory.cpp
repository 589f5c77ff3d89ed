#include "core/memory.h"

#include <sys/mman.h>

#include <cstdlib>

namespace mint {

void FreeDeleter::operator()(void* p) const { std::free(p); }

LargeBuffer AllocateLarge(size_t n, bool huge_pages) {
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t align = n >= kHuge ? kHuge : 64;
  const size_t rounded = (n + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded);
  if (p == nullptr) return nullptr;
  // Advice only: a kernel without THP (or with it off) keeps 4 KiB pages.
  if (align == kHuge && huge_pages) madvise(p, rounded, MADV_HUGEPAGE);
  return LargeBuffer(static_cast<uint8_t*>(p));
}

}  // namespace mint
