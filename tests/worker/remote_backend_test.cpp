// The request plane end to end in one process: workers (engine + gRPC server) registered in the
// embedded discovery, the frontend's RemoteBackend in front of them. Greedy outputs must equal a
// single engine's, through routing, worker loss (migration), aborts and rejections.
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "../support/promtool.h"
#include "engine/engine.h"
#include "frontend/remote_backend.h"
#include "model/model.h"
#include "model/synth.h"
#include "runtime/discovery.h"
#include "worker/engine_adapter.h"
#include "worker/worker.h"

namespace mint {
namespace {

using protocol::FinishReason;

std::unique_ptr<model::Model> LoadSynth() {
  const std::string path =
      (std::filesystem::path(::testing::TempDir()) / "mint_worker_tiny_f32.gguf").string();
  model::SynthOptions o{.preset = "tiny", .type = model::SynthFileType::kF32, .seed = 7,
                        .vocab = "builtin"};
  Status s = model::WriteSynthModel(o, path);
  EXPECT_TRUE(s.ok()) << s.ToString();
  auto m = model::Model::Load(path);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? std::move(m).value() : nullptr;
}

engine::EngineConfig BackendConfig() {
  engine::EngineConfig c;
  c.kv_cache_blocks = 1024;
  c.threads = 1;
  c.scheduler.max_model_len = 1024;
  c.scheduler.max_num_seqs = 32;
  return c;
}

// Token-for-token equality holds with the batch-invariant scalar kernels (MINT_CPU=scalar, the
// worker_migration_scalar ctest); SIMD kernels round differently with the batch's shape, so there
// a greedy path may fork at a near-tie and only most requests must match.
bool ExactKernels() {
  const char* cpu = std::getenv("MINT_CPU");
  return cpu != nullptr && std::string(cpu) == "scalar";
}

void ExpectSameTokens(const std::map<uint64_t, std::vector<int32_t>>& got,
                      const std::vector<uint64_t>& ids,
                      const std::vector<std::vector<int32_t>>& want) {
  size_t same = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto it = got.find(ids[i]);
    const bool eq = it != got.end() && it->second == want[i];
    same += eq;
    if (ExactKernels()) {
      EXPECT_TRUE(eq) << "request " << i;
    }
  }
  if (!ExactKernels()) {
    EXPECT_GE(same * 10, ids.size() * 8) << same << " of " << ids.size();
  }
}

std::vector<int32_t> Prompt(std::mt19937& rng, int64_t n_vocab) {
  std::uniform_int_distribution<int32_t> tok(3, static_cast<int32_t>(n_vocab) - 1);
  std::vector<int32_t> p(5 + rng() % 30);
  for (auto& t : p) t = tok(rng);
  return p;
}

// Collects the outputs of many requests submitted to a backend.
struct Collector {
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, std::vector<int32_t>> tokens;
  std::map<uint64_t, protocol::GenerateOutput> finals;
  int outputs = 0;

  protocol::OutputCallback Callback() {
    return [this](const protocol::GenerateOutput& o) {
      std::lock_guard<std::mutex> lk(mu);
      auto& t = tokens[o.request_id];
      t.insert(t.end(), o.tokens.begin(), o.tokens.end());
      ++outputs;
      if (o.finish != FinishReason::kNone) finals[o.request_id] = o;
      cv.notify_all();
    };
  }
  bool WaitFinals(size_t n, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    std::unique_lock<std::mutex> lk(mu);
    return cv.wait_for(lk, timeout, [&] { return finals.size() >= n; });
  }
  void WaitOutputs(int n) {
    std::unique_lock<std::mutex> lk(mu);
    cv.wait_for(lk, std::chrono::seconds(30), [&] { return outputs >= n; });
  }
};

class RemoteBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = LoadSynth();
    ASSERT_NE(model_, nullptr);
    discovery_ = runtime::NewEmbeddedDiscovery();
  }
  // drain 0 (the default here): stopping a worker cuts its streams at once, as a crash would.
  void AddWorker(const std::string& id, int drain_ms = 0) {
    auto eng = engine::Engine::Create(model_.get(), BackendConfig());
    ASSERT_TRUE(eng.ok()) << eng.status().ToString();
    auto w = worker::Worker::Create(eng->get(), discovery_.get(),
                                    {.id = id, .model_name = "tiny", .drain_ms = drain_ms});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    engines_[id] = std::move(eng).value();
    workers_[id] = std::move(w).value();
  }
  void KillWorker(const std::string& id) {
    workers_.erase(id);  // deregisters and cancels its calls
    engines_.erase(id);
  }
  std::unique_ptr<frontend::RemoteBackend> Backend(
      int migration_limit = 3, int wait_ms = 10000,
      std::optional<router::QueuePolicy> queue = std::nullopt) {
    frontend::RemoteBackendOptions o{.model_name = "tiny", .migration_limit = migration_limit,
                                     .max_model_len = 1024,
                                     .wait_for_worker = std::chrono::milliseconds(wait_ms)};
    o.router_queue = queue;
    o.router_queue_busy_s = 1e-9;  // any prefill queued or running makes a worker busy
    auto b = frontend::RemoteBackend::Create(discovery_.get(), o);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? std::move(b).value() : nullptr;
  }
  // Greedy tokens of each request from one engine, one request at a time.
  std::vector<std::vector<int32_t>> Reference(const std::vector<protocol::GenerateRequest>& reqs) {
    auto eng = engine::Engine::Create(model_.get(), BackendConfig());
    EXPECT_TRUE(eng.ok());
    std::vector<std::vector<int32_t>> out;
    for (const auto& r : reqs) {
      auto c = engine::RunToCompletion(eng->get(), worker::ToEngine(r));
      EXPECT_TRUE(c.ok());
      out.push_back(c.ok() ? c->tokens : std::vector<int32_t>{});
    }
    return out;
  }
  std::vector<protocol::GenerateRequest> Requests(int n, int64_t max_tokens, uint64_t seed) {
    std::mt19937 rng(seed);
    std::vector<protocol::GenerateRequest> reqs;
    for (int i = 0; i < n; ++i) {
      protocol::GenerateRequest r;
      r.prompt = Prompt(rng, model_->config().n_vocab);
      r.sampling.temperature = 0;
      r.max_tokens = max_tokens;
      reqs.push_back(std::move(r));
    }
    return reqs;
  }

  std::unique_ptr<model::Model> model_;
  std::unique_ptr<runtime::Discovery> discovery_;
  std::map<std::string, std::unique_ptr<engine::Engine>> engines_;
  std::map<std::string, std::unique_ptr<worker::Worker>> workers_;
};

TEST_F(RemoteBackendTest, GreedyOutputsEqualOneEngineAcrossWorkers) {
  AddWorker("a");
  AddWorker("b");
  AddWorker("c");
  auto backend = Backend();
  ASSERT_TRUE(backend->WaitForWorkers(3, std::chrono::seconds(5)));
  const auto reqs = Requests(24, 24, 1);
  const auto want = Reference(reqs);
  Collector col;
  std::vector<uint64_t> ids;
  for (const auto& r : reqs) {
    auto id = backend->Submit(r, col.Callback());
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ids.push_back(*id);
  }
  ASSERT_TRUE(col.WaitFinals(reqs.size()));
  ExpectSameTokens(col.tokens, ids, want);
  for (size_t i = 0; i < reqs.size(); ++i) {
    const auto& f = col.finals[ids[i]];
    EXPECT_EQ(f.finish, FinishReason::kLength);
    EXPECT_EQ(f.prompt_tokens, static_cast<int64_t>(reqs[i].prompt.size()));
    EXPECT_EQ(f.generated_tokens, 24);
  }
  // Every worker took some of the load.
  for (const auto& [id, w] : workers_) EXPECT_GT(w->stats().requests, 0u) << id;
  EXPECT_EQ(backend->stats().migrated, 0u);
}

TEST_F(RemoteBackendTest, TheRouterQueueHoldsRequestsWhileEveryWorkerIsBusy) {
  AddWorker("a");
  AddWorker("b");
  for (router::QueuePolicy policy : {router::QueuePolicy::kFcfs, router::QueuePolicy::kWspt}) {
    auto backend = Backend(3, 10000, policy);
    ASSERT_TRUE(backend->WaitForWorkers(2, std::chrono::seconds(5)));
    // Ten requests at once on two workers: once each has a prompt in prefill, the rest wait at
    // the router and leave as prefills end; every one finishes with one engine's tokens. A load
    // report taken before a request reached its worker can say "idle" during a burst (the
    // tracker trusts reports), so bursts repeat, with new prompts, until one was held.
    uint64_t seed = policy == router::QueuePolicy::kFcfs ? 100 : 200;
    for (int burst = 0; burst < 5 && backend->stats().held == 0; ++burst) {
      const auto reqs = Requests(10, 6, ++seed);
      const auto want = Reference(reqs);
      Collector col;
      std::vector<uint64_t> ids;
      for (const auto& r : reqs) ids.push_back(backend->Submit(r, col.Callback()).value());
      ASSERT_TRUE(col.WaitFinals(reqs.size()));
      for (size_t i = 0; i < reqs.size(); ++i) {
        EXPECT_EQ(col.finals[ids[i]].finish, protocol::FinishReason::kLength) << i;
        EXPECT_EQ(col.tokens[ids[i]], want[i]) << i;
      }
    }
    const auto s = backend->stats();
    EXPECT_GE(s.held, 1u) << router::QueuePolicyName(policy);
    EXPECT_EQ(s.holding, 0);
    EXPECT_NE(backend->MetricsText().find("mint_router_queue_held_total"), std::string::npos);
    // A held request that is aborted ends at once, and closing the backend ends the others.
    std::vector<uint64_t> more;
    Collector col2;
    for (const auto& r : Requests(12, 200, 22)) more.push_back(backend->Submit(r, col2.Callback()).value());
    backend->Abort(more.back());
    backend->Close();
    ASSERT_TRUE(col2.WaitFinals(more.size()));
    EXPECT_EQ(col2.finals[more.back()].finish, protocol::FinishReason::kAbort);
  }
}

TEST_F(RemoteBackendTest, LostWorkerIsInvisibleToTheCaller) {
  AddWorker("a");
  AddWorker("b");
  auto backend = Backend();
  ASSERT_TRUE(backend->WaitForWorkers(2, std::chrono::seconds(5)));
  const auto reqs = Requests(12, 160, 2);
  const auto want = Reference(reqs);
  Collector col;
  std::vector<uint64_t> ids;
  for (const auto& r : reqs) ids.push_back(backend->Submit(r, col.Callback()).value());
  col.WaitOutputs(static_cast<int>(reqs.size()));  // both workers are generating
  KillWorker("a");
  ASSERT_TRUE(col.WaitFinals(reqs.size()));
  ExpectSameTokens(col.tokens, ids, want);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(col.finals[ids[i]].finish, FinishReason::kLength) << i;
    EXPECT_EQ(col.finals[ids[i]].generated_tokens, 160) << i;
  }
  EXPECT_GT(backend->stats().migrated, 0u);
  EXPECT_EQ(backend->stats().failed, 0u);
  EXPECT_EQ(backend->stats().workers, 1);
}

// A scale-down (the planner's SIGTERM): the worker deregisters, finishes what it has within its
// drain time, then goes; nothing is migrated, nothing fails, and what arrives meanwhile goes to
// the other worker.
TEST_F(RemoteBackendTest, AStoppingWorkerDrainsItsRequests) {
  AddWorker("a", /*drain_ms=*/30000);
  AddWorker("b", /*drain_ms=*/30000);
  auto backend = Backend();
  ASSERT_TRUE(backend->WaitForWorkers(2, std::chrono::seconds(5)));
  const auto reqs = Requests(8, 48, 3);
  const auto want = Reference(reqs);
  Collector col;
  std::vector<uint64_t> ids;
  for (const auto& r : reqs) ids.push_back(backend->Submit(r, col.Callback()).value());
  col.WaitOutputs(static_cast<int>(reqs.size()));  // both workers are generating
  std::thread stop([&] { KillWorker("a"); });      // blocks while "a" drains
  ASSERT_TRUE(col.WaitFinals(reqs.size()));
  stop.join();
  ExpectSameTokens(col.tokens, ids, want);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(col.finals[ids[i]].finish, FinishReason::kLength) << i;
  }
  EXPECT_EQ(backend->stats().migrated, 0u);
  EXPECT_EQ(backend->stats().failed, 0u);
  // Later requests all go to the one left.
  Collector more;
  const auto later = Requests(3, 4, 4);
  for (const auto& r : later) ASSERT_TRUE(backend->Submit(r, more.Callback()).ok());
  ASSERT_TRUE(more.WaitFinals(later.size()));
  EXPECT_EQ(backend->stats().failed, 0u);
  EXPECT_EQ(backend->stats().workers, 1);
}

TEST_F(RemoteBackendTest, AbortReachesTheWorker) {
  AddWorker("a");
  auto backend = Backend();
  ASSERT_TRUE(backend->WaitForWorkers(1, std::chrono::seconds(5)));
  auto reqs = Requests(1, 100000, 3);
  reqs[0].max_tokens = 900;
  Collector col;
  const uint64_t id = backend->Submit(reqs[0], col.Callback()).value();
  col.WaitOutputs(1);
  backend->Abort(id);
  ASSERT_TRUE(col.WaitFinals(1));
  EXPECT_EQ(col.finals[id].finish, FinishReason::kAbort);
  EXPECT_EQ(backend->stats().aborted, 1u);
  // The worker saw the cancellation and its engine stops generating.
  for (int i = 0; i < 200 && workers_["a"]->stats().cancelled == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(workers_["a"]->stats().cancelled, 1u);
  engines_["a"]->WaitIdle();
  EXPECT_EQ(engines_["a"]->Metrics().running, 0);
}

TEST_F(RemoteBackendTest, DeadlineEndsTheRequestOnBothSides) {
  AddWorker("a");
  auto b = frontend::RemoteBackend::Create(
      discovery_.get(), {.model_name = "tiny", .max_model_len = 1024,
                         .request_timeout = std::chrono::milliseconds(40)});
  ASSERT_TRUE(b.ok());
  auto backend = std::move(b).value();
  ASSERT_TRUE(backend->WaitForWorkers(1, std::chrono::seconds(5)));
  // Far longer than the deadline on any machine: 16 sequences x 950 tokens take hundreds of
  // milliseconds even with the SIMD kernels of a fast CPU.
  auto reqs = Requests(16, 950, 6);
  Collector col;
  for (const auto& r : reqs) ASSERT_TRUE(backend->Submit(r, col.Callback()).ok());
  ASSERT_TRUE(col.WaitFinals(reqs.size()));
  size_t timed_out = 0;
  for (const auto& [id, f] : col.finals) {
    if (f.finish == FinishReason::kError) {
      EXPECT_NE(f.error.message().find("deadline"), std::string::npos) << f.error.ToString();
      ++timed_out;
    }
  }
  EXPECT_GT(timed_out, 0u);
  EXPECT_EQ(backend->stats().migrated, 0u) << "a deadline is not a lost worker";
  engines_["a"]->WaitIdle();
  EXPECT_EQ(engines_["a"]->Metrics().running, 0) << "the worker aborted them too";
}

TEST_F(RemoteBackendTest, RejectionsAreNotMigrated) {
  AddWorker("a");
  AddWorker("b");
  auto backend = Backend();
  ASSERT_TRUE(backend->WaitForWorkers(2, std::chrono::seconds(5)));
  protocol::GenerateRequest r;
  r.prompt = {1, 2, static_cast<int32_t>(model_->config().n_vocab) + 5};  // outside the vocabulary
  Collector col;
  const uint64_t id = backend->Submit(r, col.Callback()).value();
  ASSERT_TRUE(col.WaitFinals(1));
  EXPECT_EQ(col.finals[id].finish, FinishReason::kError);
  EXPECT_EQ(col.finals[id].error.code(), StatusCode::kInvalidArgument)
      << col.finals[id].error.ToString();
  EXPECT_EQ(backend->stats().migrated, 0u);
  // Impossible sampling parameters fail at once, before any worker.
  r.prompt = {1, 2, 3};
  r.sampling.top_p = 2;
  EXPECT_EQ(backend->Submit(r, col.Callback()).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(RemoteBackendTest, NoWorkerFailsClearlyAfterWaiting) {
  auto backend = Backend(3, 200);
  protocol::GenerateRequest r;
  r.prompt = {1, 2, 3};
  Collector col;
  const uint64_t id = backend->Submit(r, col.Callback()).value();
  ASSERT_TRUE(col.WaitFinals(1));
  EXPECT_EQ(col.finals[id].finish, FinishReason::kError);
  EXPECT_EQ(col.finals[id].error.code(), StatusCode::kUnavailable);
  EXPECT_NE(col.finals[id].error.message().find("no worker"), std::string::npos);
}

TEST_F(RemoteBackendTest, WorkerJoiningLateTakesWaitingRequests) {
  auto backend = Backend();
  const auto reqs = Requests(4, 8, 4);
  const auto want = Reference(reqs);
  Collector col;
  std::vector<uint64_t> ids;
  for (const auto& r : reqs) ids.push_back(backend->Submit(r, col.Callback()).value());
  AddWorker("late");
  ASSERT_TRUE(col.WaitFinals(reqs.size()));
  ExpectSameTokens(col.tokens, ids, want);
}

}  // namespace
}  // namespace mint

namespace mint {
namespace {

TEST_F(RemoteBackendTest, FrontendRebuildsEachWorkersCacheFromKvEvents) {
  AddWorker("a");
  AddWorker("b");
  auto backend = Backend();
  ASSERT_TRUE(backend->WaitForWorkers(2, std::chrono::seconds(5)));
  const auto reqs = Requests(16, 40, 5);
  Collector col;
  for (const auto& r : reqs) ASSERT_TRUE(backend->Submit(r, col.Callback()).ok());
  ASSERT_TRUE(col.WaitFinals(reqs.size()));
  int64_t cached = 0;
  for (auto& [id, e] : engines_) {
    e->WaitIdle();
    cached += e->Metrics().blocks.cached;
  }
  ASSERT_GT(cached, 0);
  for (int i = 0; i < 500 && backend->stats().kv_blocks != cached; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto s = backend->stats();
  EXPECT_EQ(s.kv_blocks, cached) << "the frontend's view of the workers' caches";
  EXPECT_GT(s.kv_events, 0u);
  // The load reports arrive too (every 100 ms from each worker, idle or not): /metrics carries
  // per-worker gauges. Wait for both workers' (one's subscription may go live later).
  auto has_gauges = [&] {
    const std::string text = backend->MetricsText();
    return text.find("mint_worker_running{worker=\"a\"}") != std::string::npos &&
           text.find("mint_worker_running{worker=\"b\"}") != std::string::npos;
  };
  for (int i = 0; i < 250 && !has_gauges(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(backend->MetricsText().find("mint_worker_kv_cached_blocks{worker=\"a\"}"), std::string::npos);
  EXPECT_NE(backend->MetricsText().find("mint_worker_running{worker=\"b\"}"), std::string::npos);
  // With them, the steps each worker ran: the router's step-time models learn from them.
  auto samples = [&](const std::string& worker) {
    const std::string text = backend->MetricsText();
    const std::string key = "mint_router_step_samples{worker=\"" + worker + "\"} ";
    const size_t at = text.find(key);
    return at == std::string::npos ? 0L : std::stol(text.substr(at + key.size()));
  };
  for (auto& [id, e] : engines_) {
    const auto steps = static_cast<long>(e->Metrics().steps);
    if (steps == 0) continue;  // the router sent it nothing
    for (int i = 0; i < 250 && samples(id) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_GT(samples(id), 0) << id;
    EXPECT_LE(samples(id), steps) << id << ": a step counted twice";
  }
}

}  // namespace
}  // namespace mint

namespace mint {
namespace {

// KV-aware routing end to end: the frontend learns where a prompt's blocks are cached from the
// workers' KV events and sends requests that share the prefix to that worker.
TEST_F(RemoteBackendTest, KvRoutingFollowsThePrefix) {
  AddWorker("a");
  AddWorker("b");
  AddWorker("c");
  auto backend = Backend();
  ASSERT_TRUE(backend->WaitForWorkers(3, std::chrono::seconds(5)));
  std::mt19937 rng(9);
  std::uniform_int_distribution<int32_t> tok(3, static_cast<int32_t>(model_->config().n_vocab) - 1);
  std::vector<int32_t> prefix(96);
  for (auto& t : prefix) t = tok(rng);
  auto run = [&](std::vector<int32_t> prompt) {
    protocol::GenerateRequest r;
    r.prompt = std::move(prompt);
    r.sampling.temperature = 0;
    r.max_tokens = 4;
    // Overlap outweighs load here: a load report taken while the previous request ran (they come
    // every 100 ms) must not send this one elsewhere; this test is about the prefix.
    router::RouteOverrides weights;
    weights.prefill_load_scale = 100;
    Collector col;
    const uint64_t id = backend->Submit(r, col.Callback(), weights).value();
    EXPECT_TRUE(col.WaitFinals(1));
    return col.finals[id];
  };
  run(prefix);
  // The first request's blocks reach the router through the event plane.
  for (int i = 0; i < 500 && backend->stats().kv_blocks < 6; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a load report after it ended
  std::map<std::string, uint64_t> before;
  for (const auto& [id, w] : workers_) before[id] = w->stats().requests;
  for (int i = 0; i < 6; ++i) {
    auto p = prefix;
    for (int j = 0; j < 8; ++j) p.push_back(tok(rng));
    const auto f = run(p);
    EXPECT_GE(f.cached_prompt_tokens, 96) << "request " << i << " missed the cached prefix";
    // Let a fresh load report (every 100 ms) replace the one taken while the request ran: a
    // worker reported busy is rightly avoided, and this test is about the prefix, not the load.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  int targets = 0;
  for (const auto& [id, w] : workers_) targets += w->stats().requests > before[id];
  EXPECT_EQ(targets, 1) << "every request sharing the prefix went to the worker holding it";
  const std::string text = backend->MetricsText();
  EXPECT_NE(text.find("mint_router_decision_seconds_count"), std::string::npos);
  EXPECT_NE(text.find("mint_router_chosen_total{worker="), std::string::npos);
  if (auto problems = test_support::PromtoolProblems(text)) {
    EXPECT_EQ(*problems, "") << text;
  }
}

TEST_F(RemoteBackendTest, RoundRobinIgnoresThePrefix) {
  AddWorker("a");
  AddWorker("b");
  frontend::RemoteBackendOptions o;
  o.model_name = "tiny";
  o.max_model_len = 1024;
  o.router.mode = router::Mode::kRoundRobin;
  auto backend = frontend::RemoteBackend::Create(discovery_.get(), o).value();
  ASSERT_TRUE(backend->WaitForWorkers(2, std::chrono::seconds(5)));
  for (int i = 0; i < 6; ++i) {
    protocol::GenerateRequest r;
    r.prompt = std::vector<int32_t>(40, 7);
    r.max_tokens = 2;
    Collector col;
    ASSERT_TRUE(backend->Submit(r, col.Callback()).ok());
    ASSERT_TRUE(col.WaitFinals(1));
  }
  EXPECT_EQ(workers_["a"]->stats().requests, 3u);
  EXPECT_EQ(workers_["b"]->stats().requests, 3u);
}

}  // namespace
}  // namespace mint

namespace mint {
namespace {

// A request's own routing weights beat the backend's: kv by default, round-robin on request.
TEST_F(RemoteBackendTest, PerRequestOverridesBeatTheDefaults) {
  AddWorker("a");
  AddWorker("b");
  auto backend = Backend();  // kv
  ASSERT_TRUE(backend->WaitForWorkers(2, std::chrono::seconds(5)));
  router::RouteOverrides rr;
  rr.mode = router::Mode::kRoundRobin;
  for (int i = 0; i < 6; ++i) {
    protocol::GenerateRequest r;
    r.prompt = std::vector<int32_t>(48, 9);  // identical: kv would keep them on one worker
    r.max_tokens = 2;
    Collector col;
    ASSERT_TRUE(backend->Submit(r, col.Callback(), rr).ok());
    ASSERT_TRUE(col.WaitFinals(1));
  }
  EXPECT_EQ(workers_["a"]->stats().requests, 3u);
  EXPECT_EQ(workers_["b"]->stats().requests, 3u);
}

}  // namespace
}  // namespace mint

namespace mint {
namespace {

int ThreadCount() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

// Streams in flight hold no thread on either end of the request plane (the frontend's
// RemoteBackend reads each call with a reactor; the worker writes each from the engine loop).
// With a thread per stream on each end, 256 streams would add 512 threads.
TEST_F(RemoteBackendTest, StreamsInFlightHoldNoThreadEach) {
  if (!std::filesystem::exists("/proc/self/task")) GTEST_SKIP() << "no /proc/self/task";
  auto cfg = BackendConfig();
  cfg.kv_cache_blocks = 8192;
  cfg.scheduler.max_num_seqs = 256;
  auto eng = engine::Engine::Create(model_.get(), cfg);
  ASSERT_TRUE(eng.ok()) << eng.status().ToString();
  auto w = worker::Worker::Create(eng->get(), discovery_.get(),
                                  {.id = "a", .model_name = "tiny", .drain_ms = 0});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto backend = Backend();
  ASSERT_TRUE(backend->WaitForWorkers(1, std::chrono::seconds(5)));
  // Warm up: one request through, so the channel and gRPC's own threads exist.
  Collector warm;
  ASSERT_TRUE(backend->Submit(Requests(1, 2, 5)[0], warm.Callback()).ok());
  ASSERT_TRUE(warm.WaitFinals(1));
  const int before = ThreadCount();

  constexpr int kStreams = 256;
  Collector col;
  std::vector<uint64_t> ids;
  for (auto& r : Requests(kStreams, 1000, 6)) ids.push_back(backend->Submit(r, col.Callback()).value());
  {
    std::unique_lock<std::mutex> lk(col.mu);
    ASSERT_TRUE(col.cv.wait_for(lk, std::chrono::seconds(60), [&] {
      return col.tokens.size() >= static_cast<size_t>(kStreams);
    })) << col.tokens.size() << " of " << kStreams << " streams have output";
  }
  const int during = ThreadCount();
  EXPECT_LT(during - before, 64) << before << " threads before, " << during << " with "
                                 << kStreams << " streams";
  EXPECT_EQ(backend->stats().in_flight, kStreams - static_cast<int64_t>(col.finals.size()));
  for (uint64_t id : ids) backend->Abort(id);
  ASSERT_TRUE(col.WaitFinals(kStreams));
  for (uint64_t id : ids) {
    EXPECT_TRUE(col.finals[id].finish == FinishReason::kAbort ||
                col.finals[id].finish == FinishReason::kLength) << id;
  }
  (*eng)->WaitIdle();
  EXPECT_EQ((*eng)->Metrics().running, 0);
  backend.reset();
  w->reset();
}

}  // namespace
}  // namespace mint
