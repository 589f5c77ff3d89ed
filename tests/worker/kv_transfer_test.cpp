// Disaggregated prefill -> decode between two engines in this process, through the real KV
// transfer connector (worker/kv_transfer.h) over TCP and over shared memory.
#include <gtest/gtest.h>

#include "../support/promtool.h"

#include <filesystem>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "engine/engine.h"
#include "mocker/mocker.h"
#include "model/model.h"
#include "model/synth.h"
#include "worker/kv_transfer.h"

#include "../support/tiny_model.h"

namespace mint::worker {
namespace {

using engine::Engine;
using engine::FinishReason;
using engine::Request;

engine::EngineConfig Config(engine::KvConnector* c) {
  engine::EngineConfig e;
  e.kv_cache_blocks = 256;
  e.threads = 1;
  e.scheduler.max_model_len = 1024;
  e.kv_connector = c;
  return e;
}

// A prefill engine and a decode engine, each with its connector.
struct Disagg {
  std::unique_ptr<model::Model> model = test_support::LoadTinyModel(4);
  std::unique_ptr<KvTransferConnector> pc, dc;
  std::unique_ptr<Engine> prefill, decode;

  explicit Disagg(transfer::Transport t, std::chrono::milliseconds export_timeout =
                                             std::chrono::milliseconds(30000)) {
    KvTransferOptions po;
    po.shared_memory = true;
    po.server.export_timeout = export_timeout;
    po.server.ucx = t == transfer::Transport::kUcx;
    pc = std::move(KvTransferConnector::Create(po)).value();
    KvTransferOptions dopt;
    dopt.transport = t;
    dc = std::move(KvTransferConnector::Create(dopt)).value();
    prefill = std::move(Engine::Create(model.get(), Config(pc.get()))).value();
    decode = std::move(Engine::Create(model.get(), Config(dc.get()))).value();
    EXPECT_TRUE(pc->Attach(prefill.get()).ok());
    EXPECT_TRUE(dc->Attach(decode.get()).ok());
  }
  ~Disagg() {
    pc->Shutdown();
    dc->Shutdown();
  }

  // First token and handle from the prefill engine.
  std::pair<int32_t, std::string> Prefill(const std::vector<int32_t>& prompt) {
    Request p = test_support::GreedyRequest(prompt, 1);
    p.kv_export = true;
    auto h = engine::RequestHandle::Submit(prefill.get(), p);
    EXPECT_TRUE(h.ok());
    engine::RequestOutput o, first;
    do {
      o = (*h)->Next();
      if (!o.tokens.empty()) first = o;
    } while (o.finish == FinishReason::kNone);
    return {first.tokens.empty() ? -1 : first.tokens[0], o.kv_export_handle};
  }

  std::vector<int32_t> Run(const std::vector<int32_t>& prompt, int64_t max_tokens) {
    auto [first, handle] = Prefill(prompt);
    EXPECT_FALSE(handle.empty());
    Request d = test_support::GreedyRequest(prompt, max_tokens - 1);
    d.prompt.push_back(first);
    d.kv_import = handle;
    d.kv_import_tokens = static_cast<int64_t>(prompt.size());
    auto r = engine::RunToCompletion(decode.get(), d);
    EXPECT_TRUE(r.ok());
    std::vector<int32_t> out = {first};
    if (r.ok()) out.insert(out.end(), r->tokens.begin(), r->tokens.end());
    return out;
  }
};

// The value of the metric line `name` (with labels, if any) in Prometheus text; -1 if absent.
double MetricValue(const std::string& text, const std::string& name) {
  const std::string key = "\n" + name + " ";
  const size_t at = ("\n" + text).find(key);
  return at == std::string::npos ? -1 : std::stod(text.substr(at + key.size() - 1));
}

// /metrics of both sides say what the stats say; the pull-time histogram is cumulative.
void ExpectMetricsAgree(const KvTransferStats& decode, const KvTransferStats& prefill) {
  metrics::Registry dr, pr;
  AddKvTransferMetrics(decode, &dr);
  AddKvTransferMetrics(prefill, &pr);
  const std::string d = dr.Prometheus(), p = pr.Prometheus();
  EXPECT_EQ(MetricValue(d, "mint_kv_transfer_loads_total"), static_cast<double>(decode.loads));
  EXPECT_EQ(MetricValue(d, "mint_kv_transfer_pulled_blocks_total"),
            static_cast<double>(decode.blocks_pulled));
  EXPECT_EQ(MetricValue(d, "mint_kv_transfer_pulled_bytes_total"),
            static_cast<double>(decode.bytes_pulled));
  EXPECT_EQ(MetricValue(d, "mint_kv_transfer_pull_seconds_count"),
            static_cast<double>(decode.loads - decode.load_failures));
  EXPECT_EQ(MetricValue(d, "mint_kv_transfer_pull_seconds_bucket{le=\"+Inf\"}"),
            static_cast<double>(decode.loads - decode.load_failures));
  double prev = 0;
  for (double le : KvTransferStats::kPullSecondsBounds) {
    const double v =
        MetricValue(d, "mint_kv_transfer_pull_seconds_bucket{le=\"" + fmt::format("{}", le) + "\"}");
    EXPECT_GE(v, prev) << le;
    prev = v;
  }
  EXPECT_LE(prev, static_cast<double>(decode.loads));
  EXPECT_GT(MetricValue(d, "mint_kv_transfer_pull_gbps"), 0);
  EXPECT_EQ(MetricValue(p, "mint_kv_exports_pulled_total"),
            static_cast<double>(prefill.server.pulled));
  EXPECT_EQ(MetricValue(p, "mint_kv_exports_total"), static_cast<double>(prefill.server.exports));
  for (const std::string* text : {&d, &p}) {
    if (auto problems = test_support::PromtoolProblems(*text)) {
      EXPECT_EQ(*problems, "") << *text;
    }
  }
}

void ExpectEqualToOneEngine(transfer::Transport t) {
  Disagg d(t);
  ASSERT_NE(d.model, nullptr);
  auto agg = std::move(Engine::Create(d.model.get(), Config(nullptr))).value();
  for (int len : {1, 16, 33, 200, 700}) {
    const auto prompt = test_support::RandomPrompt(len, static_cast<uint32_t>(len) * 3);
    auto want = engine::RunToCompletion(agg.get(), test_support::GreedyRequest(prompt, 10));
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(d.Run(prompt, 10), want->tokens) << "prompt of " << len;
  }
  d.prefill->WaitIdle();
  // Every export was pulled and released: the prefill engine holds nothing.
  for (int i = 0; i < 200 && d.prefill->Metrics().kv_exports_pending > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  d.prefill->WaitIdle();
  EXPECT_EQ(d.prefill->Metrics().kv_exports_pending, 0);
  EXPECT_EQ(d.prefill->Metrics().blocks.used, 0);
  EXPECT_EQ(d.decode->Metrics().blocks.used, 0);
  const KvTransferStats s = d.dc->Stats();
  EXPECT_EQ(s.loads, 5u);
  EXPECT_EQ(s.load_failures, 0u);
  EXPECT_GT(s.blocks_pulled, 0u);
  const transfer::ServerStats ps = d.pc->Stats().server;
  EXPECT_EQ(ps.pulled, 5u);
  if (t == transfer::Transport::kShm) {
    EXPECT_EQ(ps.bytes_sent, 0u);
    EXPECT_GT(ps.blocks_shared, 0u);
  } else {
    EXPECT_GT(ps.bytes_sent, 0u);
  }
  ExpectMetricsAgree(s, d.pc->Stats());
}

TEST(KvTransferTest, TcpDisaggregationEqualsOneEngine) {
  ExpectEqualToOneEngine(transfer::Transport::kTcp);
}

TEST(KvTransferTest, ShmDisaggregationEqualsOneEngine) {
  ExpectEqualToOneEngine(transfer::Transport::kShm);
}

TEST(KvTransferTest, UcxDisaggregationEqualsOneEngine) {
  if (!transfer::ParseTransport("ucx").ok()) GTEST_SKIP() << "built without UCX";
  ExpectEqualToOneEngine(transfer::Transport::kUcx);
}

TEST(KvTransferTest, AnExportNobodyPullsIsFreedAfterItsTimeout) {
  Disagg d(transfer::Transport::kTcp, std::chrono::milliseconds(200));
  auto [first, handle] = d.Prefill(test_support::RandomPrompt(100, 1));
  ASSERT_FALSE(handle.empty());
  d.prefill->WaitIdle();
  EXPECT_EQ(d.prefill->Metrics().kv_exports_pending, 1);
  for (int i = 0; i < 200 && d.prefill->Metrics().kv_exports_pending > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  d.prefill->WaitIdle();
  EXPECT_EQ(d.prefill->Metrics().kv_exports_pending, 0);
  EXPECT_EQ(d.prefill->Metrics().blocks.used, 0);
  EXPECT_EQ(d.pc->Stats().server.expired, 1u);
  // The late decode request's load fails; it computes the prompt itself (the default policy).
  Request r = test_support::GreedyRequest(test_support::RandomPrompt(100, 1), 3);
  r.prompt.push_back(first);
  r.kv_import = handle;
  r.kv_import_tokens = 100;
  auto out = engine::RunToCompletion(d.decode.get(), r);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->finish, FinishReason::kLength);
  EXPECT_EQ(d.decode->Metrics().kv_load_failures, 1u);
}

TEST(KvTransferTest, AnUnreachableHolderFallsBackToComputing) {
  Disagg d(transfer::Transport::kTcp);
  auto [first, handle] = d.Prefill(test_support::RandomPrompt(40, 2));
  d.pc->Shutdown();  // the prefill worker is gone
  Request r = test_support::GreedyRequest(test_support::RandomPrompt(40, 2), 4);
  r.prompt.push_back(first);
  r.kv_import = handle;
  r.kv_import_tokens = 40;
  auto out = engine::RunToCompletion(d.decode.get(), r);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->finish, FinishReason::kLength);
  EXPECT_EQ(out->tokens.size(), 4u);
  EXPECT_TRUE(out->kv_import_failed) << "the request says its import failed";
  EXPECT_EQ(d.dc->Stats().load_failures, 1u);
  // A malformed handle fails the load the same way.
  r.kv_import = "not a descriptor";
  ASSERT_TRUE(engine::RunToCompletion(d.decode.get(), r).ok());
  EXPECT_EQ(d.decode->Metrics().kv_load_failures, 2u);
}

// Mockers (`mint mocker --role prefill|decode`): the real export lifecycle over a stand-in
// region, and each pull waits what the simulated link would take.
TEST(KvTransferTest, MockersPullSimulatedBlocksAtTheLinksSpeed) {
  const SimulatedLink link{.block_bytes = 1 << 20, .gbps = 1, .latency_s = 0.02, .speedup = 1};
  auto make = [&](engine::KvConnector* c) {
    mocker::MockerOptions o;
    o.num_blocks = 256;
    o.block_size = 16;
    o.vocab = 512;
    o.kv_connector = c;
    return std::move(mocker::CreateMockerEngine(o)).value();
  };
  KvTransferOptions opt;
  opt.simulated = link;
  auto pc = std::move(KvTransferConnector::Create(opt)).value();
  auto dc = std::move(KvTransferConnector::Create(opt)).value();
  auto prefill = make(pc.get()), decode = make(dc.get()), agg = make(nullptr);
  ASSERT_TRUE(pc->Attach(prefill.get()).ok());
  ASSERT_TRUE(dc->Attach(decode.get()).ok());
  const auto prompt = test_support::RandomPrompt(160, 7);  // 10 full blocks
  auto want = engine::RunToCompletion(agg.get(), test_support::GreedyRequest(prompt, 6));
  ASSERT_TRUE(want.ok());
  for (int round = 0; round < 2; ++round) {
    Request p = test_support::GreedyRequest(prompt, 1);
    p.kv_export = true;
    auto h = engine::RequestHandle::Submit(prefill.get(), p);
    ASSERT_TRUE(h.ok());
    engine::RequestOutput o;
    std::vector<int32_t> got;
    do {
      o = (*h)->Next();
      got.insert(got.end(), o.tokens.begin(), o.tokens.end());
    } while (o.finish == FinishReason::kNone);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_FALSE(o.kv_export_handle.empty());
    Request d = test_support::GreedyRequest(prompt, 5);
    d.prompt.push_back(got[0]);
    d.kv_import = o.kv_export_handle;
    d.kv_import_tokens = static_cast<int64_t>(prompt.size());
    const auto t0 = std::chrono::steady_clock::now();
    auto rest = engine::RunToCompletion(decode.get(), d);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(rest.ok());
    got.insert(got.end(), rest->tokens.begin(), rest->tokens.end());
    EXPECT_EQ(got, want->tokens) << "round " << round;
    const KvTransferStats st = dc->Stats();
    EXPECT_EQ(st.loads, static_cast<uint64_t>(round + 1));
    EXPECT_EQ(st.load_failures, 0u);
    EXPECT_EQ(st.blocks_pulled, 10u);  // the second round's blocks were already cached
    EXPECT_EQ(st.blocks_skipped, round == 0 ? 0u : 10u);
    EXPECT_EQ(st.bytes_pulled, 10u << 20);
    if (round == 0) {
      // 10 MiB at 1 GB/s is 10.5 ms, plus 20 ms of latency.
      EXPECT_GE(s, 0.030);
      EXPECT_GE(st.pull_seconds, 0.030);
    }
  }
  for (int i = 0; i < 200 && prefill->Metrics().kv_exports_pending > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(prefill->Metrics().kv_exports_pending, 0);
  EXPECT_EQ(pc->Stats().server.pulled, 2u);
  pc->Shutdown();
  dc->Shutdown();
}

}  // namespace
}  // namespace mint::worker
