// Golden values for the block hash. The expected numbers come from Debian's python3-xxhash
// (an implementation we did not write), computed by tests/core/block_hash_oracle.py:
//   xxhash.xxh3_64_intdigest(struct.pack('<4I', 1, 2, 3, 4), seed=1337)
#include "core/hash.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace mint {
namespace {

TEST(BlockHashTest, MatchesPythonXxhashOracle) {
  std::string cmd = std::string("/usr/bin/python3 ") + MINT_SOURCE_DIR + "/tests/core/block_hash_oracle.py";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  unsigned long long local = 0, seq2 = 0, salted = 0;
  int n = fscanf(p, "%llu %llu %llu", &local, &seq2, &salted);
  int rc = pclose(p);
  if (n != 3 || rc != 0) GTEST_SKIP() << "python3-xxhash not available to compute the oracle";
  const uint32_t tokens[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(LocalBlockHash(std::span(tokens, 4)), local);
  auto seq = SequenceBlockHashes(std::span(tokens, 8), 4);
  ASSERT_EQ(seq.size(), 2u);
  EXPECT_EQ(seq[0], local);
  EXPECT_EQ(seq[1], seq2);
  EXPECT_EQ(LocalBlockHash(std::span(tokens, 4), 7), salted);
}

TEST(BlockHashTest, PartialBlockIsNotHashedAndPrefixesShareHashes) {
  const uint32_t a[10] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
  const uint32_t b[10] = {9, 8, 7, 6, 5, 4, 3, 2, 42, 0};
  auto ha = SequenceBlockHashes(std::span(a, 10), 4);
  auto hb = SequenceBlockHashes(std::span(b, 10), 4);
  ASSERT_EQ(ha.size(), 2u);
  EXPECT_EQ(ha[0], hb[0]);
  EXPECT_EQ(ha[1], hb[1]);
  auto hc = SequenceBlockHashes(std::span(b, 10), 3);
  EXPECT_EQ(hc.size(), 3u);
}

}  // namespace
}  // namespace mint
