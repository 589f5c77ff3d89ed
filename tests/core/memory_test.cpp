#include "core/memory.h"

#include <gtest/gtest.h>

#include <cstring>

namespace mint {
namespace {

TEST(AllocateLargeTest, SmallBuffersAre64ByteAlignedLargeOnes2MiB) {
  for (size_t n : {size_t{1}, size_t{100}, size_t{4096}, (size_t{2} << 20) - 1}) {
    LargeBuffer b = AllocateLarge(n);
    ASSERT_NE(b, nullptr) << n;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.get()) % 64, 0u) << n;
    std::memset(b.get(), 0xab, n);  // every byte writable (ASan checks the bounds)
  }
  for (size_t n : {size_t{2} << 20, (size_t{5} << 20) + 3}) {
    LargeBuffer b = AllocateLarge(n);
    ASSERT_NE(b, nullptr) << n;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.get()) % (size_t{2} << 20), 0u) << n;
    std::memset(b.get(), 0xcd, n);
    EXPECT_EQ(b[n - 1], 0xcd);
  }
}

}  // namespace
}  // namespace mint
