#include "runtime/discovery.h"

#include <gtest/gtest.h>

namespace mint::runtime {
namespace {

WorkerInfo Info(std::string id) {
  WorkerInfo w;
  w.id = std::move(id);
  w.model = "m";
  w.request_address = "127.0.0.1:1";
  return w;
}

TEST(WorkerInfoTest, JsonRoundTrip) {
  WorkerInfo w = Info("a");
  w.events_address = "tcp://127.0.0.1:5";
  w.block_size = 16;
  w.max_model_len = 2048;
  auto back = WorkerInfo::FromJson(w.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back.value(), w);
  EXPECT_FALSE(WorkerInfo::FromJson("{").ok());
  EXPECT_FALSE(WorkerInfo::FromJson(R"({"id":"x"})").ok());
  EXPECT_FALSE(WorkerInfo::FromJson(R"({"id":"","model":"m","request_address":"a"})").ok());
}

TEST(EmbeddedDiscoveryTest, WatchSeesRegistrationsComeAndGo) {
  auto d = NewEmbeddedDiscovery();
  std::vector<Membership> seen;
  auto reg_a = d->Register(Info("a"));
  ASSERT_TRUE(reg_a.ok());
  auto watch = d->Watch([&](const Membership& m) { seen.push_back(m); });
  ASSERT_TRUE(watch.ok());
  ASSERT_EQ(seen.size(), 1u);
  ASSERT_EQ(seen[0].size(), 1u);
  {
    auto reg_b = d->Register(Info("b"));
    ASSERT_TRUE(reg_b.ok());
    ASSERT_EQ(seen.size(), 2u);
    ASSERT_EQ(seen[1].size(), 2u);
    EXPECT_EQ(seen[1][1].id, "b");
    EXPECT_FALSE(d->Register(Info("b")).ok()) << "duplicate ids are refused";
  }
  ASSERT_EQ(seen.size(), 3u);
  ASSERT_EQ(seen[2].size(), 1u);
  EXPECT_EQ(seen[2][0].id, "a");
  watch.value().reset();
  reg_a.value().reset();
  EXPECT_EQ(seen.size(), 3u) << "no calls after the watch handle is gone";
  EXPECT_FALSE(d->Register(Info("")).ok());
}

}  // namespace
}  // namespace mint::runtime
