#include "runtime/event_plane.h"

#include <gtest/gtest.h>
#include <zmq.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "runtime/convert_events.h"

// ThreadSanitizer and libzmq / gRPC (not built with it): tests/support/tsan_grpc_options.cpp.

namespace mint::runtime {
namespace {

using engine::KvEvent;
using engine::KvSnapshot;
using Kind = engine::KvEvent::Kind;

constexpr auto kTimeout = std::chrono::seconds(15);  // generous: a loaded 2-core box

KvEvent Event(uint64_t id, Kind kind, std::vector<BlockHash> hashes = {}) {
  KvEvent e;
  e.id = id;
  e.kind = kind;
  e.block_hashes = std::move(hashes);
  return e;
}

// Polls `done` until it holds or kTimeout passes; returns its last value.
template <typename F>
bool WaitFor(F&& done) {
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// A worker's prefix cache as the source of truth: emits events in id order to a publisher and
// answers snapshots consistent with what it emitted (both under one lock, like the engine loop).
class FakeWorker {
 public:
  explicit FakeWorker(KvEventPublisher* publisher, uint64_t seed = 1)
      : publisher_(publisher), rng_(seed) {}

  void Store(std::vector<BlockHash> hashes, std::optional<BlockHash> parent = std::nullopt) {
    std::lock_guard<std::mutex> lock(mu_);
    KvEvent e{.id = ++last_id_,
              .kind = Kind::kStored,
              .block_hashes = hashes,
              .parent_hash = parent,
              .token_ids = {}};
    for (BlockHash h : hashes) {
      blocks_.insert(h);
      e.token_ids.push_back(static_cast<int32_t>(h));
    }
    publisher_->OnKvEvent(e);
  }
  void Remove(std::vector<BlockHash> hashes) {
    std::lock_guard<std::mutex> lock(mu_);
    for (BlockHash h : hashes) blocks_.erase(h);
    publisher_->OnKvEvent(Event(++last_id_, Kind::kRemoved, std::move(hashes)));
  }
  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    blocks_.clear();
    publisher_->OnKvEvent(Event(++last_id_, Kind::kCleared));
  }
  // One random event over a small universe of hashes, so stores, removals and re-stores mix.
  void EmitRandom() {
    std::vector<BlockHash> present;
    {
      std::lock_guard<std::mutex> lock(mu_);
      present.assign(blocks_.begin(), blocks_.end());
    }
    const int roll = static_cast<int>(rng_() % 100);
    if (roll < 1) {
      Clear();
    } else if (roll < 40 && !present.empty()) {
      std::vector<BlockHash> victims;
      for (int i = 0, n = 1 + static_cast<int>(rng_() % 3); i < n; ++i) {
        victims.push_back(present[rng_() % present.size()]);
      }
      std::sort(victims.begin(), victims.end());
      victims.erase(std::unique(victims.begin(), victims.end()), victims.end());
      Remove(std::move(victims));
    } else {
      std::vector<BlockHash> fresh;
      for (int i = 0, n = 1 + static_cast<int>(rng_() % 4); i < n; ++i)
        fresh.push_back(rng_() % 200);
      std::optional<BlockHash> parent;
      if (!present.empty() && rng_() % 2) parent = present[rng_() % present.size()];
      Store(std::move(fresh), parent);
    }
  }

  Result<KvSnapshot> Snapshot() {
    std::lock_guard<std::mutex> lock(mu_);
    KvSnapshot s;
    s.last_event_id = last_id_;
    for (BlockHash h : blocks_) {
      s.blocks.push_back(KvEvent{.id = 0,
                                 .kind = Kind::kStored,
                                 .block_hashes = {h},
                                 .parent_hash = std::nullopt,
                                 .token_ids = {static_cast<int32_t>(h)}});
    }
    return s;
  }
  std::set<BlockHash> blocks() const {
    std::lock_guard<std::mutex> lock(mu_);
    return blocks_;
  }
  uint64_t last_id() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_id_;
  }

 private:
  KvEventPublisher* publisher_;
  std::mt19937_64 rng_;
  mutable std::mutex mu_;
  std::set<BlockHash> blocks_;  // guarded by mu_
  uint64_t last_id_ = 0;        // guarded by mu_
};

// What a router rebuilds from the callbacks, per worker.
class Collector {
 public:
  KvEventSubscriber::Callbacks Callbacks() {
    return {
        .on_event = [this](const std::string& w, const KvEvent& e) { OnEvent(w, e); },
        .on_snapshot = [this](const std::string& w, const KvSnapshot& s) { OnSnapshot(w, s); },
        .on_load =
            [this](const std::string& w, const pb::LoadMetrics& l) {
              std::lock_guard<std::mutex> lock(mu_);
              loads_[w].push_back(l);
            },
    };
  }

  std::set<BlockHash> blocks(const std::string& w) {
    std::lock_guard<std::mutex> lock(mu_);
    return workers_[w].blocks;
  }
  uint64_t last_id(const std::string& w) {
    std::lock_guard<std::mutex> lock(mu_);
    return workers_[w].last_id;
  }
  std::vector<uint64_t> event_ids(const std::string& w) {
    std::lock_guard<std::mutex> lock(mu_);
    return workers_[w].event_ids;
  }
  std::vector<uint64_t> snapshot_ids(const std::string& w) {
    std::lock_guard<std::mutex> lock(mu_);
    return workers_[w].snapshot_ids;
  }
  std::vector<pb::LoadMetrics> loads(const std::string& w) {
    std::lock_guard<std::mutex> lock(mu_);
    return loads_[w];
  }
  size_t callbacks(const std::string& w) {
    std::lock_guard<std::mutex> lock(mu_);
    return workers_[w].event_ids.size() + workers_[w].snapshot_ids.size() + loads_[w].size();
  }
  bool sequence_broken() {
    std::lock_guard<std::mutex> lock(mu_);
    return broken_;
  }
  std::set<BlockHash> tier_blocks(const std::string& w) {
    std::lock_guard<std::mutex> lock(mu_);
    return workers_[w].tier_blocks;
  }

 private:
  struct State {
    std::set<BlockHash> blocks;
    uint64_t last_id = 0;
    std::vector<uint64_t> event_ids;
    std::vector<uint64_t> snapshot_ids;
    std::set<BlockHash> tier_blocks;
  };

  void OnEvent(const std::string& w, const KvEvent& e) {
    std::lock_guard<std::mutex> lock(mu_);
    State& s = workers_[w];
    if (e.tier != engine::StorageTier::kDevice) {  // a tier's hint: outside the sequence
      s.tier_blocks.insert(e.block_hashes.begin(), e.block_hashes.end());
      return;
    }
    if (e.id != s.last_id + 1) broken_ = true;  // the subscriber promises consecutive ids
    s.last_id = e.id;
    s.event_ids.push_back(e.id);
    switch (e.kind) {
      case Kind::kStored:
        s.blocks.insert(e.block_hashes.begin(), e.block_hashes.end());
        break;
      case Kind::kRemoved:
        for (BlockHash h : e.block_hashes) s.blocks.erase(h);
        break;
      case Kind::kCleared:
        s.blocks.clear();
        break;
    }
  }
  void OnSnapshot(const std::string& w, const KvSnapshot& snap) {
    std::lock_guard<std::mutex> lock(mu_);
    State& s = workers_[w];
    s.blocks.clear();
    for (const KvEvent& b : snap.blocks)
      s.blocks.insert(b.block_hashes.begin(), b.block_hashes.end());
    s.last_id = snap.last_event_id;
    s.snapshot_ids.push_back(snap.last_event_id);
  }

  std::mutex mu_;
  std::map<std::string, State> workers_;                       // guarded by mu_
  std::map<std::string, std::vector<pb::LoadMetrics>> loads_;  // guarded by mu_
  bool broken_ = false;                                        // guarded by mu_
};

std::unique_ptr<KvEventPublisher> MakePublisher(const std::string& id) {
  auto p = KvEventPublisher::Create(id, "tcp://127.0.0.1:0");
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return std::move(p).value();
}

// Publishes loads until one arrives: the subscription is live from then on (slow joiner).
void WaitLive(KvEventPublisher* publisher, Collector* collector, const std::string& w) {
  const size_t before = collector->loads(w).size();
  ASSERT_TRUE(WaitFor([&] {
    publisher->PublishLoad(engine::EngineMetrics{});
    return collector->loads(w).size() > before;
  }));
}

bool WorkerLive(KvEventSubscriber* sub, const std::string& w) {
  auto stats = sub->Stats();
  auto it = stats.workers.find(w);
  return it != stats.workers.end() && it->second.live;
}

// Worker "w" publishing to one subscriber, connected and live: the setup most tests share.
struct LiveStream {
  std::unique_ptr<KvEventPublisher> pub = MakePublisher("w");
  FakeWorker worker{pub.get()};
  Collector got;
  std::unique_ptr<KvEventSubscriber> sub;

  LiveStream() {
    auto s = KvEventSubscriber::Create(got.Callbacks(),
                                       [this](const std::string&) { return worker.Snapshot(); });
    EXPECT_TRUE(s.ok());
    if (!s.ok()) return;
    sub = std::move(s).value();
    EXPECT_TRUE(sub->Connect("w", pub->endpoint()).ok());
    WaitLive(pub.get(), &got, "w");
    EXPECT_TRUE(WaitFor([&] { return WorkerLive(sub.get(), "w"); }));
  }
};

// ---------------------------------------------------------------------------------------------

TEST(ConvertEventsTest, KvEventRoundTrip) {
  KvEvent stored{.id = 7,
                 .kind = Kind::kStored,
                 .block_hashes = {11, 12},
                 .parent_hash = 10,
                 .token_ids = {1, 2, 3, 4}};
  KvEvent root{.id = 8,
               .kind = Kind::kStored,
               .block_hashes = {~0ull},
               .parent_hash = std::nullopt,
               .token_ids = {-1, 5}};
  KvEvent removed = Event(9, Kind::kRemoved, {11});
  KvEvent cleared = Event(10, Kind::kCleared);
  for (const KvEvent& e : {stored, root, removed, cleared}) {
    pb::KvEvent wire = ToProto(e);
    ASSERT_TRUE(IsValidKvEvent(wire));
    pb::KvEvent reparsed;
    ASSERT_TRUE(reparsed.ParseFromString(wire.SerializeAsString()));
    KvEvent back = FromProto(reparsed);
    EXPECT_EQ(back.id, e.id);
    EXPECT_EQ(back.kind, e.kind);
    EXPECT_EQ(back.block_hashes, e.block_hashes);
    EXPECT_EQ(back.parent_hash, e.parent_hash);
    EXPECT_EQ(back.token_ids, e.token_ids);
    EXPECT_EQ(back.tier, engine::StorageTier::kDevice);
  }
  for (auto tier : {engine::StorageTier::kHost, engine::StorageTier::kDisk}) {
    KvEvent t = Event(0, Kind::kStored, {5});
    t.tier = tier;
    EXPECT_EQ(FromProto(ToProto(t)).tier, tier);
  }
  pb::KvEvent unknown;
  unknown.set_kind(static_cast<pb::KvEvent::Kind>(42));
  EXPECT_FALSE(IsValidKvEvent(unknown));
}

TEST(ConvertEventsTest, SnapshotAndLoad) {
  KvSnapshot s{.last_event_id = 99,
               .blocks = {KvEvent{.id = 0,
                                  .kind = Kind::kStored,
                                  .block_hashes = {1},
                                  .parent_hash = std::nullopt,
                                  .token_ids = {3}},
                          KvEvent{.id = 0,
                                  .kind = Kind::kStored,
                                  .block_hashes = {2},
                                  .parent_hash = 1,
                                  .token_ids = {4}}}};
  KvSnapshot back = FromProto(ToProto(s));
  EXPECT_EQ(back.last_event_id, 99u);
  ASSERT_EQ(back.blocks.size(), 2u);
  EXPECT_EQ(back.blocks[1].block_hashes, std::vector<BlockHash>{2});
  EXPECT_EQ(back.blocks[1].parent_hash, std::optional<BlockHash>(1));
  EXPECT_EQ(back.blocks[0].token_ids, std::vector<int32_t>{3});

  engine::EngineMetrics m;
  m.running = 3;
  m.waiting = 4;
  m.waiting_prefill_tokens = 500;
  m.blocks.num_blocks = 100;
  m.blocks.used = 25;
  m.blocks.cached = 40;
  m.blocks.free = 70;
  m.blocks.lookup_blocks = 10;
  m.blocks.hit_blocks = 5;
  m.preemptions = 2;
  m.last_kv_event_id = 17;
  pb::LoadMetrics l = ToProto(m, "w1");
  EXPECT_EQ(l.worker_id(), "w1");
  EXPECT_EQ(l.running(), 3);
  EXPECT_EQ(l.waiting(), 4);
  EXPECT_EQ(l.prefill_tokens_queued(), 500);
  EXPECT_EQ(l.kv_blocks_total(), 100);
  EXPECT_EQ(l.kv_blocks_used(), 25);
  EXPECT_DOUBLE_EQ(l.kv_usage(), 0.25);
  EXPECT_EQ(l.kv_blocks_cached(), 40);
  EXPECT_EQ(l.kv_blocks_free(), 70);
  EXPECT_DOUBLE_EQ(l.prefix_hit_rate(), 0.5);
  EXPECT_EQ(l.preemptions(), 2);
  EXPECT_EQ(l.last_kv_event_id(), 17u);
}

TEST(EventPlaneTest, CreateRejectsBadArguments) {
  EXPECT_FALSE(KvEventPublisher::Create("", "tcp://127.0.0.1:0").ok());
  EXPECT_FALSE(KvEventPublisher::Create("w", "nonsense://x").ok());
  EXPECT_FALSE(KvEventSubscriber::Create({}, nullptr).ok());
  auto sub = KvEventSubscriber::Create(
      {}, [](const std::string&) -> Result<KvSnapshot> { return KvSnapshot{}; });
  ASSERT_TRUE(sub.ok());
  EXPECT_FALSE(sub.value()->Connect("w", "nonsense://x").ok());
  EXPECT_FALSE(sub.value()->Connect("", "tcp://127.0.0.1:1").ok());
}

TEST(EventPlaneTest, PublisherReportsItsRealEndpoint) {
  auto pub = MakePublisher("w");
  EXPECT_EQ(pub->endpoint().rfind("tcp://127.0.0.1:", 0), 0u) << pub->endpoint();
  EXPECT_NE(pub->endpoint(), "tcp://127.0.0.1:0");
}

TEST(EventPlaneTest, DeliversEventsInOrder) {
  LiveStream live;
  ASSERT_NE(live.sub, nullptr);
  FakeWorker& worker = live.worker;
  Collector& got = live.got;
  KvEventPublisher* pub = live.pub.get();

  for (BlockHash h = 1; h <= 200; ++h)
    worker.Store({h}, h > 1 ? std::optional(h - 1) : std::nullopt);
  worker.Remove({5, 6});
  ASSERT_TRUE(WaitFor([&] { return got.last_id("w") == 201; }));
  std::vector<uint64_t> expected(201);
  for (uint64_t i = 0; i < expected.size(); ++i) expected[i] = i + 1;
  EXPECT_EQ(got.event_ids("w"), expected);
  EXPECT_EQ(got.snapshot_ids("w"), std::vector<uint64_t>{0});  // the initial (empty) snapshot
  EXPECT_EQ(got.blocks("w"), worker.blocks());
  EXPECT_FALSE(got.sequence_broken());
  auto stats = live.sub->Stats();
  EXPECT_EQ(stats.gaps_detected, 0u);
  EXPECT_EQ(stats.resyncs, 1u);
  EXPECT_EQ(stats.workers["w"].last_event_id, 201u);
  EXPECT_EQ(stats.workers["w"].events_received, 201u);
  EXPECT_EQ(pub->Stats().events_published, 201u);
  EXPECT_EQ(pub->Stats().events_dropped, 0u);
}

TEST(EventPlaneTest, TierEventsArriveOutsideTheSequence) {
  LiveStream live;
  ASSERT_NE(live.sub, nullptr);
  live.worker.Store({1}, std::nullopt);
  KvEvent host = Event(0, Kind::kStored, {100, 101});
  host.tier = engine::StorageTier::kHost;
  live.pub->OnKvEvent(host);  // id 0: neither stale nor a gap
  live.worker.Store({2}, 1);
  ASSERT_TRUE(
      WaitFor([&] { return live.got.last_id("w") == 2 && live.got.tier_blocks("w").size() == 2; }));
  EXPECT_EQ(live.got.event_ids("w"), (std::vector<uint64_t>{1, 2}));
  EXPECT_FALSE(live.got.sequence_broken());
  EXPECT_EQ(live.sub->Stats().gaps_detected, 0u);
}

TEST(EventPlaneTest, LateJoinerGetsSnapshotThenContinuingEvents) {
  auto pub = MakePublisher("w");
  FakeWorker worker(pub.get(), 7);
  for (int i = 0; i < 300; ++i) worker.EmitRandom();  // nobody listens yet

  Collector got;
  std::atomic<int> fetches{0};
  auto sub = KvEventSubscriber::Create(got.Callbacks(), [&](const std::string& w) {
    EXPECT_EQ(w, "w");
    ++fetches;
    return worker.Snapshot();
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(sub.value()->Connect("w", pub->endpoint()).ok());
  WaitLive(pub.get(), &got, "w");
  for (int i = 0; i < 300; ++i) worker.EmitRandom();
  ASSERT_TRUE(WaitFor([&] { return got.last_id("w") == 600; }));

  EXPECT_EQ(got.blocks("w"), worker.blocks());
  EXPECT_FALSE(got.sequence_broken());
  // The events delivered after the last snapshot continue it exactly: no duplicates, no holes.
  std::vector<uint64_t> snaps = got.snapshot_ids("w");
  ASSERT_FALSE(snaps.empty());
  EXPECT_GE(snaps.front(), 300u);
  std::vector<uint64_t> ids = got.event_ids("w");
  std::set<uint64_t> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), ids.size());
  EXPECT_EQ(fetches.load(), static_cast<int>(snaps.size()));
}

TEST(EventPlaneTest, ForcedGapTriggersExactlyOneResync) {
  auto pub = MakePublisher("w");
  FakeWorker worker(pub.get());
  pub->SetDropFilterForTest([](const KvEvent& e) { return e.id == 6; });
  Collector got;
  auto sub = KvEventSubscriber::Create(got.Callbacks(),
                                       [&](const std::string&) { return worker.Snapshot(); });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(sub.value()->Connect("w", pub->endpoint()).ok());
  WaitLive(pub.get(), &got, "w");
  ASSERT_TRUE(WaitFor([&] { return WorkerLive(sub.value().get(), "w"); }));
  const uint64_t resyncs_before = sub.value()->Stats().resyncs;

  for (BlockHash h = 1; h <= 5; ++h) worker.Store({h});
  worker.Remove({2});                                     // id 6: dropped by the publisher
  for (BlockHash h = 7; h <= 12; ++h) worker.Store({h});  // ids 7..12
  ASSERT_TRUE(WaitFor([&] { return got.last_id("w") == 12; }));
  ASSERT_TRUE(WaitFor([&] { return WorkerLive(sub.value().get(), "w"); }));

  EXPECT_EQ(got.blocks("w"), worker.blocks());
  EXPECT_EQ(got.blocks("w").count(2), 0u);  // the lost Removed is repaired by the snapshot
  auto stats = sub.value()->Stats();
  EXPECT_EQ(stats.gaps_detected, 1u);
  EXPECT_EQ(stats.resyncs, resyncs_before + 1);
  EXPECT_EQ(pub->Stats().events_dropped, 1u);
  EXPECT_FALSE(got.sequence_broken());
}

TEST(EventPlaneTest, LostTailIsRepairedThroughLoad) {
  auto pub = MakePublisher("w");
  FakeWorker worker(pub.get());
  pub->SetDropFilterForTest([](const KvEvent& e) { return e.id >= 4; });
  Collector got;
  auto sub = KvEventSubscriber::Create(got.Callbacks(),
                                       [&](const std::string&) { return worker.Snapshot(); });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(sub.value()->Connect("w", pub->endpoint()).ok());
  WaitLive(pub.get(), &got, "w");
  for (BlockHash h = 1; h <= 5; ++h) worker.Store({h});  // 4 and 5 never leave
  ASSERT_TRUE(WaitFor([&] {
    pub->PublishLoad(engine::EngineMetrics{});  // as a worker does periodically
    return got.last_id("w") == 5;
  }));
  EXPECT_EQ(got.blocks("w"), worker.blocks());
  EXPECT_EQ(got.loads("w").back().last_kv_event_id(), 5u);
}

TEST(EventPlaneTest, LoadMetricsArrive) {
  auto pub = MakePublisher("w");
  Collector got;
  auto sub = KvEventSubscriber::Create(
      got.Callbacks(), [](const std::string&) { return Result<KvSnapshot>(KvSnapshot{}); });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(sub.value()->Connect("w", pub->endpoint()).ok());
  WaitLive(pub.get(), &got, "w");
  engine::EngineMetrics m;
  m.running = 5;
  m.waiting = 2;
  m.blocks.num_blocks = 64;
  m.blocks.used = 16;
  pub->PublishLoad(m);
  ASSERT_TRUE(WaitFor([&] {
    auto loads = got.loads("w");
    return !loads.empty() && loads.back().running() == 5;
  }));
  pb::LoadMetrics l = got.loads("w").back();
  EXPECT_EQ(l.worker_id(), "w");
  EXPECT_EQ(l.waiting(), 2);
  EXPECT_EQ(l.kv_blocks_total(), 64);
  EXPECT_DOUBLE_EQ(l.kv_usage(), 0.25);
  EXPECT_GE(pub->Stats().loads_published, 2u);
}

// CURVE: a publisher with the cluster key streams only to subscribers holding the same key. The
// reproduction this guards: a plain ZeroMQ subscriber on a worker's KV-event port received token
// ids that decode back to other users' prompts.
TEST(EventPlaneTest, CurveSubscribersNeedTheClusterKey) {
  const std::string key(32, '\x11');
  auto pub = KvEventPublisher::Create("w", "tcp://127.0.0.1:0", {.curve_secret = key});
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  auto fetch = [](const std::string&) { return Result<KvSnapshot>(KvSnapshot{}); };
  Collector member, plain, stranger;
  auto sub_member = KvEventSubscriber::Create(member.Callbacks(), fetch, {.curve_secret = key});
  auto sub_plain = KvEventSubscriber::Create(plain.Callbacks(), fetch);
  auto sub_stranger =
      KvEventSubscriber::Create(stranger.Callbacks(), fetch, {.curve_secret = std::string(32, '\x22')});
  ASSERT_TRUE(sub_member.ok() && sub_plain.ok() && sub_stranger.ok());
  for (auto* s : {&sub_member, &sub_plain, &sub_stranger}) {
    ASSERT_TRUE(s->value()->Connect("w", (*pub)->endpoint()).ok());
  }
  WaitLive(pub->get(), &member, "w");  // the cluster member gets the stream
  // Keep publishing for a while: the others get nothing at all.
  for (int i = 0; i < 50; ++i) {
    (*pub)->PublishLoad(engine::EngineMetrics{});
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(member.loads("w").size(), 10u);
  EXPECT_TRUE(plain.loads("w").empty());
  EXPECT_TRUE(stranger.loads("w").empty());
  // The stranger does not even know the publisher's public key: its handshake fails before any
  // authentication. One who does (a raw ZeroMQ client with the cluster's public key but a key
  // pair of its own) is refused by the ZAP handler, and counted.
  char secret_z85[41] = {}, public_z85[41] = {}, my_public[41] = {}, my_secret[41] = {};
  zmq_z85_encode(secret_z85, reinterpret_cast<const uint8_t*>(key.data()), 32);
  ASSERT_EQ(zmq_curve_public(public_z85, secret_z85), 0);
  ASSERT_EQ(zmq_curve_keypair(my_public, my_secret), 0);
  void* ctx = zmq_ctx_new();
  void* raw = zmq_socket(ctx, ZMQ_SUB);
  int zero = 0, timeout_ms = 500;
  zmq_setsockopt(raw, ZMQ_LINGER, &zero, sizeof(zero));
  zmq_setsockopt(raw, ZMQ_RCVTIMEO, &timeout_ms, sizeof(timeout_ms));
  zmq_setsockopt(raw, ZMQ_CURVE_SERVERKEY, public_z85, 40);
  zmq_setsockopt(raw, ZMQ_CURVE_PUBLICKEY, my_public, 40);
  zmq_setsockopt(raw, ZMQ_CURVE_SECRETKEY, my_secret, 40);
  zmq_setsockopt(raw, ZMQ_SUBSCRIBE, "", 0);
  ASSERT_EQ(zmq_connect(raw, (*pub)->endpoint().c_str()), 0);
  EXPECT_TRUE(WaitFor([&] { return (*pub)->Stats().subscribers_refused >= 1; }))
      << "a foreign client key was not refused by the ZAP handler";
  (*pub)->PublishLoad(engine::EngineMetrics{});
  char buf[256];
  EXPECT_LT(zmq_recv(raw, buf, sizeof(buf), 0), 0) << "the refused client received a message";
  zmq_close(raw);
  zmq_ctx_term(ctx);
}

TEST(EventPlaneTest, FetchFailureRetriesWithBackoff) {
  auto pub = MakePublisher("w");
  FakeWorker worker(pub.get());
  worker.Store({1, 2, 3});
  Collector got;
  std::atomic<int> calls{0};
  auto sub =
      KvEventSubscriber::Create(got.Callbacks(), [&](const std::string&) -> Result<KvSnapshot> {
        if (++calls <= 3) return Status::Unavailable("worker not up yet");
        return worker.Snapshot();
      });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(sub.value()->Connect("w", pub->endpoint()).ok());
  ASSERT_TRUE(WaitFor([&] { return WorkerLive(sub.value().get(), "w"); }));
  EXPECT_EQ(got.blocks("w"), (std::set<BlockHash>{1, 2, 3}));
  EXPECT_EQ(sub.value()->Stats().fetch_failures, 3u);
  EXPECT_EQ(calls.load(), 4);
}

TEST(EventPlaneTest, DisconnectStopsDelivery) {
  auto pub_a = MakePublisher("a");
  auto pub_b = MakePublisher("b");
  FakeWorker a(pub_a.get()), b(pub_b.get());
  Collector got;
  auto sub = KvEventSubscriber::Create(got.Callbacks(), [&](const std::string& w) {
    return w == "a" ? a.Snapshot() : b.Snapshot();
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(sub.value()->Connect("a", pub_a->endpoint()).ok());
  ASSERT_TRUE(sub.value()->Connect("b", pub_b->endpoint()).ok());
  EXPECT_TRUE(sub.value()->Connect("a", pub_a->endpoint()).ok());   // same: a no-op
  EXPECT_FALSE(sub.value()->Connect("c", pub_a->endpoint()).ok());  // endpoint taken
  WaitLive(pub_a.get(), &got, "a");
  WaitLive(pub_b.get(), &got, "b");
  a.Store({1});
  ASSERT_TRUE(WaitFor([&] { return got.last_id("a") == 1; }));

  sub.value()->Disconnect("a");
  const size_t a_callbacks = got.callbacks("a");
  EXPECT_EQ(sub.value()->Stats().workers.count("a"), 0u);
  // Keep both publishing until b's events have gone through the subscriber many times over.
  for (int round = 1; round <= 20; ++round) {
    a.Store({static_cast<BlockHash>(100 + round)});
    pub_a->PublishLoad(engine::EngineMetrics{});
    b.Store({static_cast<BlockHash>(round)});
  }
  ASSERT_TRUE(WaitFor([&] { return got.last_id("b") == 20; }));
  EXPECT_EQ(got.callbacks("a"), a_callbacks);
  sub.value()->Disconnect("nobody");  // unknown: ignored
}

// Builds a publisher and a subscriber, floods them, and destroys both with the publisher queue
// and the subscriber socket likely still full; returns how long that took.
std::chrono::steady_clock::duration DestroyUnderLoad() {
  const auto start = std::chrono::steady_clock::now();
  {
    auto pub = MakePublisher("w");
    FakeWorker worker(pub.get());
    Collector got;
    auto sub = KvEventSubscriber::Create(got.Callbacks(),
                                         [&](const std::string&) { return worker.Snapshot(); });
    EXPECT_TRUE(sub.ok());
    if (!sub.ok()) return {};
    EXPECT_TRUE(sub.value()->Connect("w", pub->endpoint()).ok());
    for (int i = 0; i < 20000; ++i) worker.EmitRandom();
  }
  return std::chrono::steady_clock::now() - start;
}

// Destruction with full queues is clean (the sanitizer builds run this one).
TEST(EventPlaneTest, DestroysUnderLoad) { DestroyUnderLoad(); }

// Timing (release only): and prompt. Expected well under a second on a loaded 2-core machine;
// the 5 s bound only fails if destruction waits on a blocked send or a linger.
TEST(EventPlaneTest, DestroysPromptlyUnderLoad) {
  EXPECT_LT(DestroyUnderLoad(), std::chrono::seconds(5));
}

TEST(EventPlaneTest, WildcardBindReportsItsPort) {
  auto pub = KvEventPublisher::Create("w", "tcp://*:0");
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(pub.value()->endpoint().rfind("tcp://0.0.0.0:", 0), 0u) << pub.value()->endpoint();
  EXPECT_NE(pub.value()->endpoint(), "tcp://0.0.0.0:0");
}

TEST(EventPlaneTest, QueueOverflowDropsAndTheSubscriberRepairs) {
  auto created = KvEventPublisher::Create("w", "tcp://127.0.0.1:0", {.queue_capacity = 4});
  ASSERT_TRUE(created.ok());
  auto pub = std::move(created).value();
  FakeWorker worker(pub.get(), 3);
  Collector got;
  auto sub = KvEventSubscriber::Create(got.Callbacks(),
                                       [&](const std::string&) { return worker.Snapshot(); });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(sub.value()->Connect("w", pub->endpoint()).ok());
  WaitLive(pub.get(), &got, "w");
  for (int i = 0; i < 5000; ++i) worker.EmitRandom();  // far faster than 4 slots drain
  EXPECT_GT(pub->Stats().events_dropped, 0u);
  ASSERT_TRUE(WaitFor([&] {
    pub->PublishLoad(engine::EngineMetrics{});
    return got.last_id("w") == worker.last_id() && got.blocks("w") == worker.blocks();
  }));
  EXPECT_FALSE(got.sequence_broken());
}

TEST(EventPlaneTest, CallbacksMayConnectAndDisconnectInline) {
  auto pub = MakePublisher("w");
  FakeWorker worker(pub.get());
  Collector got;
  std::atomic<KvEventSubscriber*> self{nullptr};
  std::atomic<uint64_t> after_disconnect{0};
  std::atomic<bool> disconnected{false};
  KvEventSubscriber::Callbacks callbacks = got.Callbacks();
  auto record = callbacks.on_event;
  callbacks.on_event = [&](const std::string& w, const KvEvent& e) {
    if (disconnected) ++after_disconnect;
    record(w, e);
    if (e.id == 3) {
      self.load()->Disconnect(w);  // from the socket thread: takes effect at once
      disconnected = true;
    }
  };
  auto sub =
      KvEventSubscriber::Create(callbacks, [&](const std::string&) { return worker.Snapshot(); });
  ASSERT_TRUE(sub.ok());
  self = sub.value().get();
  ASSERT_TRUE(sub.value()->Connect("w", pub->endpoint()).ok());
  WaitLive(pub.get(), &got, "w");
  ASSERT_TRUE(WaitFor([&] { return WorkerLive(sub.value().get(), "w"); }));  // empty snapshot in
  for (BlockHash h = 1; h <= 10; ++h) worker.Store({h});
  ASSERT_TRUE(WaitFor([&] { return disconnected.load(); }));
  EXPECT_EQ(sub.value()->Stats().workers.count("w"), 0u);

  // Connect again: a fresh snapshot, then the stream continues.
  ASSERT_TRUE(sub.value()->Connect("w", pub->endpoint()).ok());
  WaitLive(pub.get(), &got, "w");
  for (BlockHash h = 11; h <= 20; ++h) worker.Store({h});
  ASSERT_TRUE(WaitFor([&] { return got.last_id("w") == 20; }));
  EXPECT_EQ(got.blocks("w"), worker.blocks());
  EXPECT_EQ(after_disconnect.load(), got.event_ids("w").size() - 3);  // only after reconnecting
  EXPECT_GE(got.snapshot_ids("w").size(), 2u);
}

// Property: however events are lost (publisher drops, slow joiner), once the stream quiesces
// and loads keep flowing, every worker's reconstructed block set equals the truth.
TEST(EventPlaneTest, ReconstructedStateMatchesTruthDespiteDrops) {
  constexpr int kWorkers = 3;
  constexpr int kEventsPerWorker = 2000;
  std::vector<std::unique_ptr<KvEventPublisher>> pubs;
  std::vector<std::unique_ptr<FakeWorker>> workers;
  std::vector<std::string> names;
  for (int i = 0; i < kWorkers; ++i) {
    names.push_back("worker-" + std::to_string(i));
    pubs.push_back(MakePublisher(names.back()));
    workers.push_back(std::make_unique<FakeWorker>(pubs.back().get(), 100 + i));
    auto rng = std::make_shared<std::mt19937_64>(200 + i);
    pubs.back()->SetDropFilterForTest([rng](const KvEvent&) { return (*rng)() % 100 < 3; });
  }
  Collector got;
  auto sub = KvEventSubscriber::Create(got.Callbacks(), [&](const std::string& w) {
    for (int i = 0; i < kWorkers; ++i) {
      if (names[i] == w) return workers[i]->Snapshot();
    }
    return Result<KvSnapshot>(Status::NotFound(w));
  });
  ASSERT_TRUE(sub.ok());
  // Half the stream before connecting (and no waiting for the subscription: slow joiners).
  for (int n = 0; n < kEventsPerWorker / 2; ++n) {
    for (auto& w : workers) w->EmitRandom();
  }
  for (int i = 0; i < kWorkers; ++i) {
    ASSERT_TRUE(sub.value()->Connect(names[i], pubs[i]->endpoint()).ok());
  }
  for (int n = 0; n < kEventsPerWorker / 4; ++n) {
    for (auto& w : workers) w->EmitRandom();
  }
  // The last quarter once every subscription is live, so that drops are seen as gaps.
  for (int i = 0; i < kWorkers; ++i) WaitLive(pubs[i].get(), &got, names[i]);
  for (int n = 0; n < kEventsPerWorker / 4; ++n) {
    for (auto& w : workers) w->EmitRandom();
    if (n % 100 == 0) {
      for (auto& p : pubs) p->PublishLoad(engine::EngineMetrics{});
    }
  }
  auto consistent = [&] {
    for (int i = 0; i < kWorkers; ++i) {
      // Live first: the flag is set just after the snapshot and its events are delivered.
      if (!WorkerLive(sub.value().get(), names[i])) return false;
      if (got.last_id(names[i]) != workers[i]->last_id()) return false;
      if (got.blocks(names[i]) != workers[i]->blocks()) return false;
    }
    return true;
  };
  EXPECT_TRUE(WaitFor([&] {
    for (auto& p : pubs) p->PublishLoad(engine::EngineMetrics{});
    return consistent();
  }));
  EXPECT_FALSE(got.sequence_broken());
  auto stats = sub.value()->Stats();
  uint64_t dropped = 0;
  for (auto& p : pubs) dropped += p->Stats().events_dropped;
  EXPECT_GT(dropped, 0u);
  EXPECT_GT(stats.gaps_detected, 0u);
  EXPECT_GE(stats.resyncs, static_cast<uint64_t>(kWorkers));
  for (const std::string& n : names) EXPECT_TRUE(stats.workers[n].live) << n;
}

}  // namespace
}  // namespace mint::runtime
