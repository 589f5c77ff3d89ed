#include "planner/connector.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace mint::planner {
namespace {

std::string Host() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return host;
}

bool Alive(int64_t pid) { return kill(static_cast<pid_t>(pid), 0) == 0; }

// Real processes (`sleep`) stand in for workers: started, counted while they have not
// registered, stopped with SIGTERM, and reaped.
TEST(LocalConnectorTest, StartsCountsAndStopsProcesses) {
  LocalConnector c({.commands = {{"decode", "exec sleep 60"}},
                    .log_dir = ::testing::TempDir(),
                    .start_grace_s = 60});
  runtime::Membership none;
  EXPECT_EQ(c.Actual("m", "decode", none), 0);
  auto up = c.Scale("m", "decode", 2, none);
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  EXPECT_NE(up->find("started 2 decode"), std::string::npos) << *up;
  EXPECT_EQ(c.Actual("m", "decode", none), 2);  // starting, not registered yet
  EXPECT_EQ(c.Actual("m", "prefill", none), 0);
  auto again = c.Scale("m", "decode", 2, none);  // nothing to do
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, "");
  auto down = c.Scale("m", "decode", 0, none);
  ASSERT_TRUE(down.ok());
  EXPECT_NE(down->find("stopping 2 decode"), std::string::npos) << *down;
  for (int i = 0; i < 100 && c.Actual("m", "decode", none) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(c.Actual("m", "decode", none), 0);
}

// A restarted planner adopts what discovery shows on this host and starts no duplicate; a
// scale-down stops a registered worker by its pid.
TEST(LocalConnectorTest, AdoptsRegisteredWorkers) {
  LocalConnector starter(
      {.commands = {{"prefill", "exec sleep 60"}}, .log_dir = ::testing::TempDir()});
  runtime::Membership none;
  ASSERT_TRUE(starter.Scale("m", "prefill", 1, none).ok());
  // The worker registers; a fresh connector (the restarted planner) sees it.
  int64_t pid = 0;
  for (int i = 0; i < 50 && pid == 0; ++i) {
    // The started pid is the only child of this test process running sleep.
    FILE* p = popen(("pgrep -P " + std::to_string(getpid()) + " sleep").c_str(), "r");
    if (p != nullptr) {
      long v = 0;
      if (fscanf(p, "%ld", &v) == 1) pid = v;
      pclose(p);
    }
    if (pid == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(pid, 0);
  runtime::Membership members(1);
  members[0].id = "w1";
  members[0].model = "m";
  members[0].role = "prefill";
  members[0].request_address = "127.0.0.1:1";
  members[0].host = Host();
  members[0].pid = pid;
  LocalConnector restarted(
      {.commands = {{"prefill", "exec sleep 60"}}, .log_dir = ::testing::TempDir()});
  EXPECT_EQ(restarted.Actual("m", "prefill", members), 1);
  auto same = restarted.Scale("m", "prefill", 1, members);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, "");
  // Another model's or another host's workers are not this role's.
  members[0].host = "elsewhere";
  EXPECT_EQ(restarted.Actual("m", "prefill", members), 0);
  members[0].host = Host();
  auto down = restarted.Scale("m", "prefill", 0, members);
  ASSERT_TRUE(down.ok());
  EXPECT_NE(down->find(std::to_string(pid)), std::string::npos) << *down;
  for (int i = 0; i < 100 && Alive(pid); ++i) {
    starter.Actual("m", "prefill", none);  // reaps its child
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(Alive(pid));
}

// The virtual connector writes desired counts for someone else to act on, and counts what
// registered.
TEST(EtcdConnectorTest, WritesDesiredCountsAndCountsRegisteredWorkers) {
  auto discovery = runtime::NewEmbeddedDiscovery();
  EtcdConnector c(discovery.get(), "/mint/planner/desired/");
  runtime::Membership members(2);
  members[0].model = members[1].model = "m";
  members[0].role = "decode";
  members[1].role = "prefill";
  EXPECT_EQ(c.Actual("m", "decode", members), 1);
  EXPECT_EQ(c.Actual("other", "decode", members), 0);
  auto did = c.Scale("m", "decode", 3, members);
  ASSERT_TRUE(did.ok());
  EXPECT_EQ(*did, "desired 3 decode written to /mint/planner/desired/m/decode");
  auto v = discovery->GetValue("/mint/planner/desired/m/decode");
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_EQ(v->value().rfind("{\"replicas\":3,\"updated\":", 0), 0u) << v->value();
  EXPECT_EQ(*c.Scale("m", "decode", 3, members), "");  // unchanged: not rewritten
  EXPECT_NE(c.Scale("m", "decode", 2, members)->find("desired 2"), std::string::npos);
}

TEST(LocalConnectorTest, ARoleWithoutACommandIsAnError) {
  LocalConnector c({.commands = {}, .log_dir = ::testing::TempDir()});
  EXPECT_EQ(c.Scale("m", "decode", 1, {}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mint::planner
