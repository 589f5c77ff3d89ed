// Test helper shared by the router tests.
#pragma once

#include <cstddef>
#include <vector>

#include "core/hash.h"

namespace mint::router {

// n consecutive stand-in block hashes first, first + 1, ... (tests only need them distinct).
inline std::vector<BlockHash> Blocks(BlockHash first, size_t n) {
  std::vector<BlockHash> h(n);
  for (size_t i = 0; i < n; ++i) h[i] = first + i;
  return h;
}

}  // namespace mint::router
