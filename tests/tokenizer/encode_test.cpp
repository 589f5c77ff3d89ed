// The BPE merge table: every inserted pair is found with its rank and merged id, the first of
// duplicate pairs wins, and pairs that were never inserted are not found (through the filter and
// through the slots alike).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "tokenizer/tokenizer_internal.h"

namespace mint::tokenizer {
namespace {

TEST(MergeTable, FindsExactlyTheInsertedPairs) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> id(0, 4000);
  std::vector<MergeTable::Entry> entries;
  std::set<uint64_t> keys;
  for (int32_t rank = 0; rank < 50000; ++rank) {
    const int32_t l = id(rng), r = id(rng);
    entries.push_back({MergeTable::Key(l, r), rank, rank + 1});
    keys.insert(MergeTable::Key(l, r));
  }
  entries.push_back(entries[10]);  // a duplicate with a worse rank
  entries.back().rank = 999999;
  MergeTable table;
  EXPECT_EQ(table.Find(1, 2), nullptr);  // never built
  table.Build(entries);
  EXPECT_EQ(table.size(), keys.size());
  for (size_t i = 0; i + 1 < entries.size(); ++i) {
    const MergeTable::Entry& e = entries[i];
    const auto* hit = table.Find(static_cast<int32_t>(e.key >> 32), static_cast<int32_t>(e.key));
    ASSERT_NE(hit, nullptr) << i;
    EXPECT_LE(hit->rank, e.rank);  // the first occurrence of a pair wins
  }
  const auto* first = table.Find(static_cast<int32_t>(entries[10].key >> 32),
                                 static_cast<int32_t>(entries[10].key));
  ASSERT_NE(first, nullptr);
  EXPECT_NE(first->rank, 999999);
  int absent = 0;
  for (int32_t l = 0; l < 300; ++l) {
    for (int32_t r = 0; r < 300; ++r) {
      if (keys.count(MergeTable::Key(l, r))) continue;
      ++absent;
      EXPECT_EQ(table.Find(l, r), nullptr) << l << "," << r;
    }
  }
  EXPECT_GT(absent, 80000);
}

}  // namespace
}  // namespace mint::tokenizer
