// Happens-before edges that ThreadSanitizer cannot see: handoffs through uninstrumented libraries
// (Debian's gRPC runs a reactor's reactions on its own threads, one after another, ordered by its
// completion queue). Call TsanRelease(obj) before handing `obj` to such a library and
// TsanAcquire(obj) where the library calls back with it. No-ops in builds without TSan.
//
// Thread-safety: free functions.
#pragma once

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace mint {

inline void TsanRelease([[maybe_unused]] const void* handoff) {
#if defined(__SANITIZE_THREAD__)
  __tsan_release(const_cast<void*>(handoff));
#endif
}

inline void TsanAcquire([[maybe_unused]] const void* handoff) {
#if defined(__SANITIZE_THREAD__)
  __tsan_acquire(const_cast<void*>(handoff));
#endif
}

}  // namespace mint
