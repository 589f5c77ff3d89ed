#include "router/flat_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace mint::router {
namespace {

TEST(FlatTableTest, RandomOpsMatchStdMap) {
  std::mt19937_64 rng(7);
  FlatTable table(2);
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> model;
  for (int step = 0; step < 200000; ++step) {
    // Small key range (with 0) so that probing chains collide and erase shifts entries back.
    const uint64_t key = rng() % 3000;
    const int op = static_cast<int>(rng() % 3);
    if (op == 0) {
      bool inserted = false;
      const size_t row = table.FindOrInsert(key, &inserted);
      EXPECT_EQ(inserted, model.count(key) == 0);
      table.Payload(row)[0] = key * 3;
      table.Payload(row)[1] = key + 11;
      model[key] = {key * 3, key + 11};
    } else if (op == 1) {
      EXPECT_EQ(table.Erase(key), model.erase(key) == 1);
    } else {
      const size_t row = table.Find(key);
      auto it = model.find(key);
      ASSERT_EQ(row != FlatTable::kNpos, it != model.end()) << key;
      if (it != model.end()) {
        EXPECT_EQ(table.Payload(row)[0], it->second.first);
        EXPECT_EQ(table.Payload(row)[1], it->second.second);
      }
    }
    ASSERT_EQ(table.size(), model.size());
  }
  size_t seen = 0;
  table.ForEach([&](uint64_t key, const uint64_t* payload) {
    ++seen;
    ASSERT_TRUE(model.count(key));
    EXPECT_EQ(payload[0], model[key].first);
  });
  EXPECT_EQ(seen, model.size());
}

TEST(FlatTableTest, SetWordsKeepsPayloadAndZeroFills) {
  FlatTable table(1);
  for (uint64_t k = 0; k < 100; ++k) {
    bool inserted;
    table.Payload(table.FindOrInsert(k, &inserted))[0] = k + 1;
  }
  table.SetWords(3);
  for (uint64_t k = 0; k < 100; ++k) {
    const size_t row = table.Find(k);
    ASSERT_NE(row, FlatTable::kNpos);
    EXPECT_EQ(table.Payload(row)[0], k + 1);
    EXPECT_EQ(table.Payload(row)[1], 0u);
    EXPECT_EQ(table.Payload(row)[2], 0u);
  }
  table.Clear();
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.Find(0), FlatTable::kNpos);
  EXPECT_EQ(table.Find(5), FlatTable::kNpos);
}

}  // namespace
}  // namespace mint::router
