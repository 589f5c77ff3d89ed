#include "core/host.h"

#include <gtest/gtest.h>

namespace mint {
namespace {

TEST(HostTest, LoopbackNamesAndAddresses) {
  for (const char* h : {"localhost", "LocalHost", "app.localhost", "127.0.0.1", "127.1.2.3", "::1",
                        "[::1]", "::ffff:127.0.0.1", "0:0:0:0:0:0:0:1"}) {
    EXPECT_TRUE(IsLoopbackHost(h)) << h;
  }
  for (const char* h : {"", "0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "localhost.evil.example",
                        "evil.example", "::ffff:10.0.0.1", "[::2]", "127.0.0.1:8000"}) {
    EXPECT_FALSE(IsLoopbackHost(h)) << h;
  }
}

}  // namespace
}  // namespace mint
