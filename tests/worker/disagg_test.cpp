// Disaggregated serving end to end in one process: a prefill worker and a decode worker (each an
// engine with the KV transfer connector behind a gRPC worker server) in the embedded discovery,
// the frontend's RemoteBackend planning prefill there and decode here.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "engine/engine.h"
#include "frontend/remote_backend.h"
#include "model/model.h"
#include "model/synth.h"
#include "runtime/discovery.h"
#include "worker/engine_adapter.h"
#include "worker/kv_transfer.h"
#include "worker/worker.h"

#include "../support/tiny_model.h"

namespace mint {
namespace {

using protocol::FinishReason;

engine::EngineConfig Config() {
  engine::EngineConfig c;
  c.kv_cache_blocks = 512;
  c.threads = 1;
  c.scheduler.max_model_len = 1024;
  return c;
}

// One worker: its connector (roles prefill and decode), engine and server, stopped in order.
struct Node {
  std::unique_ptr<worker::KvTransferConnector> kv;
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<worker::Worker> worker;
  ~Node() {
    worker.reset();
    if (kv) kv->Shutdown();
    engine.reset();
  }
};

class DisaggTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = test_support::LoadTinyModel(12);
    ASSERT_NE(model_, nullptr);
    discovery_ = runtime::NewEmbeddedDiscovery();
  }
  void TearDown() override {
    backend_.reset();
    nodes_.clear();
  }

  Node* Add(const std::string& id, const std::string& role,
            transfer::Transport t = transfer::Transport::kTcp) {
    auto n = std::make_unique<Node>();
    engine::EngineConfig c = Config();
    if (role != "agg") {
      worker::KvTransferOptions ko;
      ko.shared_memory = role == "prefill";
      ko.server.ucx = true;
      ko.transport = t;
      n->kv = std::move(worker::KvTransferConnector::Create(ko)).value();
      c.kv_connector = n->kv.get();
    }
    n->engine = std::move(engine::Engine::Create(model_.get(), c)).value();
    if (n->kv) {
      EXPECT_TRUE(n->kv->Attach(n->engine.get()).ok());
    }
    auto w = worker::Worker::Create(n->engine.get(), discovery_.get(),
                                    {.id = id, .model_name = "tiny", .role = role, .drain_ms = 0});
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    n->worker = std::move(w).value();
    Node* raw = n.get();
    nodes_[id] = std::move(n);
    return raw;
  }

  void StartBackend(size_t workers, int64_t min_tokens = 0, double min_fraction = 0) {
    frontend::RemoteBackendOptions o;
    o.model_name = "tiny";
    o.max_model_len = 1024;
    o.remote_prefill_min_tokens = min_tokens;
    o.remote_prefill_min_fraction = min_fraction;
    backend_ = std::move(frontend::RemoteBackend::Create(discovery_.get(), o)).value();
    ASSERT_TRUE(backend_->WaitForWorkers(workers, std::chrono::seconds(5)));
  }

  // Runs `prompt` through the backend; its tokens and final output.
  std::pair<std::vector<int32_t>, protocol::GenerateOutput> Run(const std::vector<int32_t>& prompt,
                                                                int64_t max_tokens) {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<int32_t> tokens;
    protocol::GenerateOutput final_out;
    bool done = false;
    protocol::GenerateRequest r;
    r.prompt = prompt;
    r.sampling.temperature = 0;
    r.max_tokens = max_tokens;
    auto id = backend_->Submit(r, [&](const protocol::GenerateOutput& o) {
      std::lock_guard lk(mu);
      tokens.insert(tokens.end(), o.tokens.begin(), o.tokens.end());
      if (o.finish != FinishReason::kNone) {
        final_out = o;
        done = true;
        cv.notify_all();
      }
    });
    EXPECT_TRUE(id.ok());
    std::unique_lock lk(mu);
    cv.wait_for(lk, std::chrono::seconds(60), [&] { return done; });
    return {tokens, final_out};
  }

  std::vector<int32_t> Reference(const std::vector<int32_t>& prompt, int64_t max_tokens) {
    if (!reference_) reference_ = std::move(engine::Engine::Create(model_.get(), Config())).value();
    protocol::GenerateRequest r;
    r.prompt = prompt;
    r.sampling.temperature = 0;
    r.max_tokens = max_tokens;
    auto c = engine::RunToCompletion(reference_.get(), worker::ToEngine(r));
    EXPECT_TRUE(c.ok());
    return c.ok() ? c->tokens : std::vector<int32_t>{};
  }

  static std::vector<int32_t> Prompt(int n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<int32_t> p(static_cast<size_t>(n));
    for (auto& t : p) t = 3 + static_cast<int32_t>(rng() % 400);
    return p;
  }

  void ExpectNoBlocksHeld() {
    for (auto& [id, n] : nodes_) {
      for (int i = 0; i < 200 && n->engine->Metrics().kv_exports_pending > 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      n->engine->WaitIdle();
      EXPECT_EQ(n->engine->Metrics().kv_exports_pending, 0) << id;
      EXPECT_EQ(n->engine->Metrics().blocks.used, 0) << id;
    }
  }

  std::unique_ptr<model::Model> model_;
  std::unique_ptr<runtime::Discovery> discovery_;
  std::map<std::string, std::unique_ptr<Node>> nodes_;
  std::unique_ptr<frontend::RemoteBackend> backend_;
  std::unique_ptr<engine::Engine> reference_;
};

// One request at a time, so each engine computes exactly what a lone engine would: the outputs
// are equal token for token with any kernels.
TEST_F(DisaggTest, PrefillWorkerThenDecodeWorkerEqualsOneEngine) {
  for (auto t : {transfer::Transport::kTcp, transfer::Transport::kShm, transfer::Transport::kUcx}) {
    if (!transfer::ParseTransport(transfer::TransportName(t)).ok()) continue;  // no UCX built
    SCOPED_TRACE(transfer::TransportName(t));
    nodes_.clear();
    Add("p", "prefill");
    Add("d", "decode", t);
    StartBackend(2);
    for (int len : {1, 17, 100, 400}) {
      const auto prompt = Prompt(len, static_cast<uint32_t>(len) + 1);
      auto [tokens, fin] = Run(prompt, 8);
      EXPECT_EQ(fin.finish, FinishReason::kLength);
      EXPECT_EQ(tokens, Reference(prompt, 8)) << "prompt of " << len;
    }
    EXPECT_EQ(backend_->stats().remote_prefills, 4u);
    EXPECT_EQ(backend_->stats().prefill_fallbacks, 0u);
    // The server counts a pull when its send completes, which (over UCX) can be after the
    // decode worker has the blocks and the request has ended.
    for (int i = 0; i < 200 && nodes_["p"]->kv->Stats().server.pulled < 4; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(nodes_["p"]->kv->Stats().server.pulled, 4u);
    EXPECT_EQ(nodes_["d"]->engine->Metrics().kv_loads, 4u);
    // The decode worker computed one prompt token per request (the first generated one).
    EXPECT_EQ(nodes_["d"]->engine->Metrics().prompt_tokens, 4u);
    ExpectNoBlocksHeld();
    backend_.reset();
  }
}

TEST_F(DisaggTest, WithoutAPrefillWorkerTheDecodeWorkerPrefills) {
  Add("d", "decode");
  StartBackend(1);
  const auto prompt = Prompt(60, 5);
  auto [tokens, fin] = Run(prompt, 6);
  EXPECT_EQ(tokens, Reference(prompt, 6));
  EXPECT_EQ(backend_->stats().remote_prefills, 0u);
  EXPECT_EQ(nodes_["d"]->engine->Metrics().kv_loads, 0u);
}

// Conditional disaggregation: what the decode worker already holds decides where a prompt is
// prefilled (RemoteBackendOptions::remote_prefill_min_tokens / _min_fraction).
TEST_F(DisaggTest, WhatTheDecodeWorkerHoldsDecidesWhereAPromptIsPrefilled) {
  Add("p", "prefill");
  Add("d", "decode");
  StartBackend(2, /*min_tokens=*/32, /*min_fraction=*/0.5);
  auto run = [&](const std::vector<int32_t>& prompt) {
    auto [tokens, fin] = Run(prompt, 4);
    EXPECT_EQ(fin.finish, FinishReason::kLength);
    EXPECT_EQ(tokens, Reference(prompt, 4)) << "prompt of " << prompt.size();
  };
  const auto a = Prompt(200, 31);
  run(a);  // nothing cached anywhere: prefilled remotely
  EXPECT_EQ(backend_->stats().remote_prefills, 1u);
  // Once the decode worker's KV events say it holds `a` (12 full blocks) ...
  for (int i = 0; i < 500 && backend_->stats().kv_blocks < 12; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GE(backend_->stats().kv_blocks, 12);
  // ... `a` plus 20 tokens lacks fewer than 32 there: finished on the decode worker.
  auto a2 = a;
  for (int i = 0; i < 20; ++i) a2.push_back(7 + i);
  run(a2);
  // `a` plus 150 tokens: 150 + 8 uncached >= 32 but < half the prompt: still local.
  auto a3 = a;
  for (int i = 0; i < 150; ++i) a3.push_back(9 + i % 300);
  run(a3);
  run(Prompt(20, 32));   // short
  run(Prompt(300, 33));  // new: remote
  const frontend::RemoteBackendStats s = backend_->stats();
  EXPECT_EQ(s.remote_prefills, 2u);
  EXPECT_EQ(s.local_prefills_cached, 2u);
  EXPECT_EQ(s.local_prefills_short, 1u);
  EXPECT_EQ(s.local_prefills_queue, 0u);
  EXPECT_EQ(s.prefill_fallbacks, 0u);
  const std::string m = backend_->MetricsText();
  EXPECT_NE(m.find("mint_local_prefills_total{reason=\"cached\"} 2\n"), std::string::npos) << m;
  EXPECT_NE(m.find("mint_prefill_queue_tokens "), std::string::npos);
  ExpectNoBlocksHeld();
}

// The prefill worker's first token is held until the decode worker's first output (the
// default): when the client sees it, the decode worker has already loaded the prompt's KV.
TEST_F(DisaggTest, TheFirstTokenLeavesWithTheDecodeWorkersFirstOutput) {
  Add("p", "prefill");
  Add("d", "decode");
  StartBackend(2);
  engine::Engine* decode = nodes_["d"]->engine.get();
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int32_t> tokens;
  uint64_t loads_at_first = 99;
  bool done = false;
  protocol::GenerateRequest r;
  r.prompt = Prompt(300, 41);
  r.sampling.temperature = 0;
  r.max_tokens = 5;
  ASSERT_TRUE(backend_
                  ->Submit(r,
                           [&](const protocol::GenerateOutput& o) {
                             std::lock_guard lk(mu);
                             if (tokens.empty() && !o.tokens.empty()) {
                               loads_at_first = decode->Metrics().kv_loads;
                             }
                             tokens.insert(tokens.end(), o.tokens.begin(), o.tokens.end());
                             if (o.finish != FinishReason::kNone) {
                               done = true;
                               cv.notify_all();
                             }
                           })
                  .ok());
  {
    std::unique_lock lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, std::chrono::seconds(60), [&] { return done; }));
  }
  EXPECT_EQ(loads_at_first, 1u);
  EXPECT_EQ(tokens, Reference(r.prompt, 5));
  EXPECT_EQ(backend_->stats().remote_prefills, 1u);
  ExpectNoBlocksHeld();
}

TEST_F(DisaggTest, ALostPrefillWorkerFallsBackAndLeaksNothing) {
  Add("p", "prefill");
  Add("d", "decode");
  StartBackend(2);
  const auto prompt = Prompt(80, 9);
  ASSERT_EQ(Run(prompt, 5).first, Reference(prompt, 5));
  nodes_.erase("p");  // the prefill worker dies
  for (int i = 0; i < 3; ++i) {
    const auto p = Prompt(50 + i, 20 + i);
    auto [tokens, fin] = Run(p, 5);
    EXPECT_EQ(fin.finish, FinishReason::kLength);
    EXPECT_EQ(tokens, Reference(p, 5));
  }
  ExpectNoBlocksHeld();
}

}  // namespace
}  // namespace mint
