// The etcd Discovery against a real etcd (/usr/bin/etcd) that each test starts on free ports with
// a temporary data directory. Skipped when etcd is not installed.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "runtime/discovery.h"
#include "runtime/plane_tls.h"
#include "runtime/request_plane.h"

extern char** environ;

namespace mint::runtime {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kEtcdBinary[] = "/usr/bin/etcd";
constexpr char kPrefix[] = "/mint-test/workers/";
constexpr int64_t kTtl = 2;  // seconds; etcd's minimum lease TTL with default timings
// Generous: a loaded 2-core machine, an etcd starting up, a sanitizer build.
constexpr auto kPatience = seconds(15);

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return -1;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// Starts `argv` with stdout and stderr appended to `log_path` (empty: inherited) and `env_extra`
// added to the environment. Returns the pid, or -1.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log_path,
            const std::vector<std::string>& env_extra = {}) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings = env_extra;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  std::vector<char*> env;
  for (auto& e : env_strings) env.push_back(e.data());
  env.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!log_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
  }
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// Polls `pred` until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& pred, Clock::duration timeout = kPatience) {
  auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return pred();
}

// A single-member etcd on 127.0.0.1; restartable on the same ports and data directory.
class EtcdServer {
 public:
  // With `tls`: https only, client certificates required (--client-cert-auth), the cluster
  // certificate of `tls` as etcd's own.
  explicit EtcdServer(PlaneTls tls = {})
      : client_port_(FreePort()), peer_port_(FreePort()), tls_(std::move(tls)) {
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "mint-etcd-XXXXXX").string();
    data_dir_ = mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
    grpc::ChannelArguments args;  // retry soon while etcd starts, not after gRPC's 1 s+ backoff
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
    if (tls_.enabled() && !data_dir_.empty()) {
      EXPECT_TRUE(WritePlaneTls(tls_, data_dir_ + "/tls").ok());
    }
    channel_ = grpc::CreateCustomChannel(endpoint(), PlaneChannelCredentials(tls_, &args), args);
    kv_ = etcdserverpb::KV::NewStub(channel_);
    lease_ = etcdserverpb::Lease::NewStub(channel_);
  }
  ~EtcdServer() {
    Kill(SIGTERM);
    if (!data_dir_.empty()) std::filesystem::remove_all(data_dir_);
  }

  std::string endpoint() const { return "127.0.0.1:" + std::to_string(client_port_); }
  std::string peer_url() const { return "http://127.0.0.1:" + std::to_string(peer_port_); }

  // Starts etcd and waits until it answers a Range. As member `name` of a cluster
  // (`initial_cluster`: name=peer_url,...), `wait` false returns at once: no member answers
  // before a quorum runs, so start them all, then WaitReady() each.
  bool Start(const std::string& name = "default", std::string initial_cluster = "",
             bool wait = true) {
    if (data_dir_.empty() || client_port_ < 0 || peer_port_ < 0) return false;
    std::string client = std::string(tls_.enabled() ? "https" : "http") + "://127.0.0.1:" +
                         std::to_string(client_port_);
    std::string peer = peer_url();
    if (initial_cluster.empty()) initial_cluster = name + "=" + peer;
    std::vector<std::string> argv = {
        kEtcdBinary, "--name", name, "--data-dir", data_dir_ + "/data", "--listen-client-urls",
        client, "--advertise-client-urls", client, "--listen-peer-urls", peer,
        "--initial-advertise-peer-urls", peer, "--initial-cluster", initial_cluster};
    if (tls_.enabled()) {
      for (const std::string& a :
           {"--cert-file=" + data_dir_ + "/tls/cert.pem", "--key-file=" + data_dir_ + "/tls/key.pem",
            "--trusted-ca-file=" + data_dir_ + "/tls/ca.pem", std::string("--client-cert-auth")}) {
        argv.push_back(a);
      }
    }
    pid_ = Spawn(argv, data_dir_ + "/etcd.log");
    if (pid_ < 0) return false;
    return !wait || WaitReady();
  }
  bool WaitReady() {
    return Eventually([&] {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + milliseconds(300));
      ctx.set_wait_for_ready(true);  // else gRPC 1.51 does not reconnect after a refusal
      etcdserverpb::RangeRequest req;
      req.set_key("/");
      etcdserverpb::RangeResponse resp;
      return kv_->Range(&ctx, req, &resp).ok();
    });
  }
  void Kill(int sig) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // The lease of `key`; 0: no such key (or no lease).
  int64_t LeaseOf(const std::string& key) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(2));
    ctx.set_wait_for_ready(true);
    etcdserverpb::RangeRequest req;
    req.set_key(key);
    etcdserverpb::RangeResponse resp;
    if (!kv_->Range(&ctx, req, &resp).ok() || resp.kvs_size() == 0) return 0;
    return resp.kvs(0).lease();
  }
  bool Revoke(int64_t lease) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(2));
    ctx.set_wait_for_ready(true);
    etcdserverpb::LeaseRevokeRequest req;
    req.set_id(lease);
    etcdserverpb::LeaseRevokeResponse resp;
    return lease_->LeaseRevoke(&ctx, req, &resp).ok();
  }
  // The end of etcd's log, for failure messages (the data directory goes with the test).
  std::string LogTail() const {
    std::ifstream in(data_dir_ + "/etcd.log");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.size() > 3000 ? text.substr(text.size() - 3000) : text;
  }

 private:
  int client_port_;
  int peer_port_;
  PlaneTls tls_;
  std::string data_dir_;
  pid_t pid_ = -1;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<etcdserverpb::KV::Stub> kv_;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease_;
};

// Records every membership a watch reports.
class Recorder {
 public:
  MembershipCallback Callback() {
    return [this](const Membership& m) {
      std::lock_guard<std::mutex> lk(mu_);
      history_.push_back(m);
      cv_.notify_all();
    };
  }
  // Waits until the latest membership has exactly these ids.
  bool WaitForIds(const std::vector<std::string>& ids, Clock::duration timeout = kPatience) {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, timeout,
                        [&] { return !history_.empty() && Ids(history_.back()) == ids; });
  }
  std::vector<Membership> history() {
    std::lock_guard<std::mutex> lk(mu_);
    return history_;
  }
  size_t calls() { return history().size(); }
  static std::vector<std::string> Ids(const Membership& m) {
    std::vector<std::string> ids;
    for (const auto& w : m) ids.push_back(w.id);
    return ids;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Membership> history_;  // guarded by mu_
};

WorkerInfo EtcdWorker(std::string id) {
  WorkerInfo w;
  w.id = std::move(id);
  w.model = "tiny";
  w.role = "decode";
  w.request_address = "127.0.0.1:7001";
  w.events_address = "tcp://127.0.0.1:7002";
  w.metrics_url = "http://127.0.0.1:7003/metrics";
  w.block_size = 16;
  w.max_model_len = 4096;
  w.host = "h1";
  w.pid = 4242;
  return w;
}

std::unique_ptr<Discovery> Connect(const std::string& endpoint) {
  auto d = NewEtcdDiscovery({.endpoints = {endpoint}, .prefix = kPrefix, .lease_ttl_s = kTtl});
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return d.ok() ? std::move(d.value()) : nullptr;
}

class EtcdDiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kEtcdBinary, X_OK) != 0)
      GTEST_SKIP() << kEtcdBinary << " is not installed (apt-get install etcd-server)";
    etcd_ = std::make_unique<EtcdServer>();
    ASSERT_TRUE(etcd_->Start()) << "etcd did not come up:\n" << etcd_->LogTail();
    discovery_ = Connect(etcd_->endpoint());
    ASSERT_NE(discovery_, nullptr);
  }

  std::unique_ptr<EtcdServer> etcd_;
  std::unique_ptr<Discovery> discovery_;
};

TEST_F(EtcdDiscoveryTest, WatchSeesRegistrationsComeAndGo) {
  EXPECT_EQ(discovery_->kind(), "etcd");
  Recorder rec;
  auto watch = discovery_->Watch(rec.Callback());
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  ASSERT_TRUE(rec.WaitForIds({})) << "the first callback reports the (empty) membership";

  auto reg_a = discovery_->Register(EtcdWorker("a"));
  ASSERT_TRUE(reg_a.ok()) << reg_a.status().ToString();
  ASSERT_TRUE(rec.WaitForIds({"a"}));
  EXPECT_EQ(rec.history().back()[0], EtcdWorker("a")) << "every JSON field survives the round trip";

  auto reg_b = discovery_->Register(EtcdWorker("b"));
  ASSERT_TRUE(reg_b.ok()) << reg_b.status().ToString();
  ASSERT_TRUE(rec.WaitForIds({"a", "b"}));

  reg_b.value().reset();
  ASSERT_TRUE(rec.WaitForIds({"a"})) << "a destroyed registration is gone";

  EXPECT_EQ(discovery_->Register(EtcdWorker("")).status().code(), StatusCode::kInvalidArgument);
  watch.value().reset();
  size_t calls = rec.calls();
  reg_a.value().reset();
  auto reg_c = discovery_->Register(EtcdWorker("c"));
  ASSERT_TRUE(reg_c.ok());
  EXPECT_TRUE(Eventually([&] { return etcd_->LeaseOf(std::string(kPrefix) + "c") != 0; }));
  EXPECT_EQ(rec.calls(), calls) << "no callback after the watch handle is destroyed";
}

// Timing (release only): destroying a registration or a watch does not wait out a keep-alive
// or a stream read, and the registration leaves etcd at once, not at its TTL. The bounds are
// about 10x what a loaded 2-core machine takes (20-100 ms), so only a real wait can fail them.
// Plain values (the planner's desired replica counts), outside any lease: etcd's own reply to
// a Range is the oracle.
TEST_F(EtcdDiscoveryTest, PutAndGetPlainValues) {
  auto none = discovery_->GetValue("/mint/planner/desired/tiny/decode");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(discovery_->PutValue("/mint/planner/desired/tiny/decode", "{\"replicas\":3}").ok());
  auto got = discovery_->GetValue("/mint/planner/desired/tiny/decode");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, "{\"replicas\":3}");
  EXPECT_EQ(etcd_->LeaseOf("/mint/planner/desired/tiny/decode"), 0) << "no lease: it outlives us";
}

TEST_F(EtcdDiscoveryTest, DestroyingARegistrationOrAWatchIsPrompt) {
  Recorder rec;
  auto watch = discovery_->Watch(rec.Callback());
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  auto reg_a = discovery_->Register(EtcdWorker("a"));
  ASSERT_TRUE(reg_a.ok()) << reg_a.status().ToString();
  ASSERT_TRUE(rec.WaitForIds({"a"}));

  auto start = Clock::now();
  reg_a.value().reset();
  EXPECT_LT(Clock::now() - start, seconds(1)) << "destroying a registration is prompt";
  ASSERT_TRUE(rec.WaitForIds({}, seconds(2))) << "a destroyed registration is gone at once";
  start = Clock::now();
  watch.value().reset();
  EXPECT_LT(Clock::now() - start, seconds(1)) << "destroying a watch is prompt";
}

// Run only as the child of DeadWorkerDisappearsWithinTtl: registers and waits to be killed.
TEST(EtcdChildProcess, DISABLED_RegisterAndWaitForKill) {
  const char* endpoint = std::getenv("MINT_ETCD_CHILD_ENDPOINT");
  if (endpoint == nullptr) GTEST_SKIP() << "only run as a child process";
  auto d = Connect(endpoint);
  ASSERT_NE(d, nullptr);
  auto reg = d->Register(EtcdWorker("doomed"));
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  std::this_thread::sleep_for(seconds(60));  // the parent SIGKILLs us long before
}

TEST_F(EtcdDiscoveryTest, DeadWorkerDisappearsWithinTtl) {
  Recorder rec;
  auto watch = discovery_->Watch(rec.Callback());
  ASSERT_TRUE(watch.ok());
  pid_t child = Spawn({"/proc/self/exe", "--gtest_also_run_disabled_tests",
                       "--gtest_filter=EtcdChildProcess.DISABLED_RegisterAndWaitForKill"},
                      "", {"MINT_ETCD_CHILD_ENDPOINT=" + etcd_->endpoint()});
  ASSERT_GT(child, 0);
  bool seen = rec.WaitForIds({"doomed"});
  // Let a few keep-alives pass: the registration must outlive its TTL while the process lives.
  if (seen) std::this_thread::sleep_for(seconds(kTtl) + milliseconds(500));
  EXPECT_TRUE(rec.WaitForIds({"doomed"}, seconds(0))) << "kept alive past its TTL";
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  ASSERT_TRUE(seen) << "the child's registration never showed up";
  auto killed = Clock::now();
  ASSERT_TRUE(rec.WaitForIds({}, seconds(kTtl + 5)));
  // Timing (release only). etcd checks expiry every 500 ms and deletes through raft: allow a
  // second and a half past the TTL (expected: 0.5-1 s past it).
  EXPECT_LT(Clock::now() - killed, seconds(kTtl) + milliseconds(1500))
      << "a dead worker is gone within its lease TTL";
}

TEST_F(EtcdDiscoveryTest, SurvivesEtcdRestart) {
  auto reg_a = discovery_->Register(EtcdWorker("a"));
  ASSERT_TRUE(reg_a.ok()) << reg_a.status().ToString();
  Recorder rec;
  auto watch = discovery_->Watch(rec.Callback());
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE(rec.WaitForIds({"a"}));

  etcd_->Kill(SIGKILL);
  // While etcd is down: registering fails, a new watch starts (and reports nothing yet). How
  // fast the failure comes is checked by RegisterFailsFastAndWatchStillStarts (timing).
  auto reg_fail = discovery_->Register(EtcdWorker("c"));
  EXPECT_EQ(reg_fail.status().code(), StatusCode::kUnavailable);
  Recorder late;
  auto late_watch = discovery_->Watch(late.Callback());
  ASSERT_TRUE(late_watch.ok()) << "Watch succeeds while etcd is down";
  // Outlast the lease TTL with etcd down so the keep-alive and the watch both retry a while.
  std::this_thread::sleep_for(seconds(kTtl) + milliseconds(500));
  EXPECT_EQ(late.calls(), 0u);

  ASSERT_TRUE(etcd_->Start()) << "etcd did not come back:\n" << etcd_->LogTail();
  ASSERT_TRUE(late.WaitForIds({"a"})) << "a watch begun while etcd was down reports once it is up";
  auto reg_b = discovery_->Register(EtcdWorker("b"));
  ASSERT_TRUE(reg_b.ok()) << reg_b.status().ToString();
  ASSERT_TRUE(rec.WaitForIds({"a", "b"})) << "the watch resumed after the restart";
  ASSERT_TRUE(late.WaitForIds({"a", "b"}));

  // The lease of "a" is lost (as if it had expired while etcd was unreachable): "a" registers
  // again under a new lease.
  std::string key_a = std::string(kPrefix) + "a";
  int64_t old_lease = etcd_->LeaseOf(key_a);
  ASSERT_NE(old_lease, 0);
  ASSERT_TRUE(etcd_->Revoke(old_lease));
  EXPECT_TRUE(Eventually([&] {
    int64_t lease = etcd_->LeaseOf(key_a);
    return lease != 0 && lease != old_lease;
  })) << "the registration is re-announced under a new lease";
  ASSERT_TRUE(rec.WaitForIds({"a", "b"}));

  for (const auto& m : rec.history()) {
    EXPECT_FALSE(m.empty()) << "a watch never reports an empty membership because etcd went away";
  }
}

// Several endpoints (a 3-member cluster): when the member in use dies, the registration's
// keep-alive, the watch and new registrations continue through the others.
TEST(EtcdClusterTest, DiscoveryFailsOverToAnotherMember) {
  if (access(kEtcdBinary, X_OK) != 0)
    GTEST_SKIP() << kEtcdBinary << " is not installed (apt-get install etcd-server)";
  std::vector<std::unique_ptr<EtcdServer>> members;
  std::string cluster;
  std::vector<std::string> endpoints;
  for (int i = 0; i < 3; ++i) {
    members.push_back(std::make_unique<EtcdServer>());
    cluster += (i ? "," : "") + ("m" + std::to_string(i)) + "=" + members[i]->peer_url();
    endpoints.push_back(members[i]->endpoint());
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(members[i]->Start("m" + std::to_string(i), cluster, /*wait=*/false));
  }
  for (auto& m : members)
    ASSERT_TRUE(m->WaitReady()) << "member did not come up:\n" << m->LogTail();
  auto d = NewEtcdDiscovery({.endpoints = endpoints, .prefix = kPrefix, .lease_ttl_s = kTtl});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  Recorder rec;
  auto watch = (*d)->Watch(rec.Callback());
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  auto reg_a = (*d)->Register(EtcdWorker("a"));
  ASSERT_TRUE(reg_a.ok()) << reg_a.status().ToString();
  ASSERT_TRUE(rec.WaitForIds({"a"}));

  members[0]->Kill(SIGKILL);  // the first address: the one in use
  // Outlast the lease TTL: "a" stays only if its keep-alive reached another member.
  std::this_thread::sleep_for(seconds(kTtl) + milliseconds(1500));
  Result<std::unique_ptr<Handle>> reg_b = Status::Unavailable("not yet");
  ASSERT_TRUE(Eventually([&] {
    reg_b = (*d)->Register(EtcdWorker("b"));
    return reg_b.ok();
  })) << reg_b.status().ToString();
  ASSERT_TRUE(rec.WaitForIds({"a", "b"})) << "the watch moved to another member";
  EXPECT_NE(members[1]->LeaseOf(std::string(kPrefix) + "a"), 0) << "a's lease was kept alive";
}

// etcd over TLS with client certificates (--client-cert-auth): a client with the cluster's
// certificate registers and watches; one without TLS, or with another CA's certificate, cannot.
TEST(EtcdTlsTest, ClientCertificatesAreRequired) {
  if (access(kEtcdBinary, X_OK) != 0)
    GTEST_SKIP() << kEtcdBinary << " is not installed (apt-get install etcd-server)";
  auto tls = GeneratePlaneTls();
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  EtcdServer etcd(*tls);
  ASSERT_TRUE(etcd.Start()) << "etcd with TLS did not come up:\n" << etcd.LogTail();
  auto d = NewEtcdDiscovery({.endpoints = {etcd.endpoint()}, .prefix = kPrefix, .lease_ttl_s = kTtl,
                             .tls = *tls, .tls_server_name = kPlaneTlsName});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  Recorder rec;
  auto watch = (*d)->Watch(rec.Callback());
  ASSERT_TRUE(watch.ok());
  auto reg = (*d)->Register(EtcdWorker("a"));
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  ASSERT_TRUE(rec.WaitForIds({"a"}));

  auto plain = Connect(etcd.endpoint());
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(plain->Register(EtcdWorker("p")).ok()) << "a plaintext client registered";
  auto other = GeneratePlaneTls();
  ASSERT_TRUE(other.ok());
  auto stranger = NewEtcdDiscovery({.endpoints = {etcd.endpoint()}, .prefix = kPrefix,
                                    .lease_ttl_s = kTtl, .tls = *other,
                                    .tls_server_name = kPlaneTlsName});
  ASSERT_TRUE(stranger.ok());
  EXPECT_FALSE((*stranger)->Register(EtcdWorker("s")).ok()) << "another CA's client registered";
  EXPECT_EQ(etcd.LeaseOf(std::string(kPrefix) + "p"), 0);
  EXPECT_EQ(etcd.LeaseOf(std::string(kPrefix) + "s"), 0);
}

TEST(EtcdDiscoveryNoServerTest, OptionsAreValidated) {
  EXPECT_FALSE(NewEtcdDiscovery({.endpoints = {}}).ok());
  EXPECT_FALSE(NewEtcdDiscovery({.endpoints = {"127.0.0.1:2379", "no-port"}}).ok());
  EXPECT_FALSE(NewEtcdDiscovery({.endpoints = {"127.0.0.1:2379", ""}}).ok());
  EXPECT_FALSE(NewEtcdDiscovery({.prefix = ""}).ok());
  EXPECT_FALSE(NewEtcdDiscovery({.lease_ttl_s = 0}).ok());
}

// Timing (release only). With nothing listening, Register gives up at its 2 s call deadline
// (bound 3 s: 1 s of margin) and destroying a watch that never connected is prompt (bound 1 s;
// milliseconds expected).
TEST(EtcdDiscoveryNoServerTest, RegisterFailsFastAndWatchStillStarts) {
  auto d = Connect("127.0.0.1:" + std::to_string(FreePort()));  // nothing listens there
  ASSERT_NE(d, nullptr);
  auto start = Clock::now();
  auto reg = d->Register(EtcdWorker("a"));
  EXPECT_EQ(reg.status().code(), StatusCode::kUnavailable) << reg.status().ToString();
  EXPECT_LT(Clock::now() - start, seconds(3));
  Recorder rec;
  auto watch = d->Watch(rec.Callback());
  ASSERT_TRUE(watch.ok());
  start = Clock::now();
  watch.value().reset();
  EXPECT_LT(Clock::now() - start, seconds(1));
  EXPECT_EQ(rec.calls(), 0u) << "no membership is reported before etcd is reached";
}

}  // namespace
}  // namespace mint::runtime
