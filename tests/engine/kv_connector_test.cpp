// The engine's KV connector seam (engine/kv_connector.h), with a connector that copies blocks
// between two engines in this process: a prefill engine exports, a decode engine imports, and
// the result equals one engine doing both. Loads finish on another thread, fail, or never end
// until told; exports are held until released.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "engine/engine.h"
#include "model/model.h"
#include "model/synth.h"

#include "../support/tiny_model.h"

namespace mint::engine {
namespace {

// Exports hand out "<export id>"; loads copy from the exporting engine's blocks. The exporter's
// engine is set after both exist.
class CopyConnector final : public KvConnector {
 public:
  Engine* source = nullptr;  // the engine whose exports loads read
  bool fail_loads = false;
  bool hold_loads = false;  // loads wait until Proceed()

  void Load(KvLoad load, std::function<void(Status)> done) override {
    std::lock_guard lk(mu_);
    threads_.emplace_back([this, load = std::move(load), done = std::move(done)] {
      if (hold_loads) {
        std::unique_lock lk2(mu_);
        cv_.wait(lk2, [&] { return proceed_; });
      }
      done(Copy(load));
    });
  }

  Result<std::string> Export(uint64_t, std::span<const BlockId> blocks, int64_t num_tokens,
                             std::function<void()> release) override {
    std::lock_guard lk(mu_);
    const uint64_t id = next_++;
    exports_[id] = {std::vector<BlockId>(blocks.begin(), blocks.end()), num_tokens,
                    std::move(release)};
    return std::to_string(id);
  }

  void ReleaseAll() {
    std::vector<std::function<void()>> fns;
    {
      std::lock_guard lk(mu_);
      for (auto& [id, e] : exports_) fns.push_back(std::move(e.release));
      exports_.clear();
    }
    for (auto& f : fns) f();
  }
  void Proceed() {
    std::lock_guard lk(mu_);
    proceed_ = true;
    cv_.notify_all();
  }
  ~CopyConnector() override {
    Proceed();
    for (auto& t : threads_) t.join();
  }

 private:
  struct Exported {
    std::vector<BlockId> blocks;
    int64_t num_tokens;
    std::function<void()> release;
  };

  Status Copy(const KvLoad& load) {
    if (fail_loads) return Status::Unavailable("injected load failure");
    std::vector<BlockId> src;
    {
      std::lock_guard lk(mu_);
      auto it = exports_.find(std::stoull(load.source));
      if (it == exports_.end()) return Status::NotFound("no such export");
      src = it->second.blocks;
    }
    if (src.size() != load.blocks.size()) return Status::InvalidArgument("block count differs");
    const KvMemory from = source->kv_memory();
    // The decode engine's memory: the load's blocks index it. (Both engines share a model and
    // cache type, so block_bytes agree.)
    for (size_t i = static_cast<size_t>(load.num_local_blocks); i < src.size(); ++i) {
      std::memcpy(to.base + load.blocks[i] * to.block_bytes,
                  from.base + src[i] * from.block_bytes, static_cast<size_t>(from.block_bytes));
    }
    copied += src.size() - static_cast<size_t>(load.num_local_blocks);
    return Status::Ok();
  }

 public:
  KvMemory to;  // the importing engine's memory
  std::atomic<size_t> copied{0};

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool proceed_ = false;
  uint64_t next_ = 1;
  std::map<uint64_t, Exported> exports_;
  std::vector<std::thread> threads_;
};

EngineConfig Config(KvConnector* c) {
  EngineConfig e;
  e.kv_cache_blocks = 256;
  e.threads = 1;
  e.scheduler.max_model_len = 1024;
  e.scheduler.max_num_batched_tokens = 256;  // long prompts prefill in chunks
  e.kv_connector = c;
  return e;
}

struct Pair {
  std::unique_ptr<model::Model> model = test_support::LoadTinyModel(9);
  CopyConnector connector;
  std::unique_ptr<Engine> prefill, decode, agg;

  explicit Pair(bool recompute = true) {
    prefill = std::move(Engine::Create(model.get(), Config(&connector))).value();
    EngineConfig dc = Config(&connector);
    dc.kv_load_failure_recompute = recompute;
    decode = std::move(Engine::Create(model.get(), dc)).value();
    agg = std::move(Engine::Create(model.get(), Config(nullptr))).value();
    connector.source = prefill.get();
    connector.to = decode->kv_memory();
  }

  // Prefill there (1 token, export), then decode here with the handle.
  Result<CompletedRequest> Disaggregated(const std::vector<int32_t>& prompt, int64_t max_tokens,
                                         std::string* handle = nullptr) {
    Request p = test_support::GreedyRequest(prompt, 1, /*logprobs=*/1);
    p.kv_export = true;
    std::string h;
    auto first = RequestHandle::Submit(prefill.get(), p);
    if (!first.ok()) return first.status();
    CompletedRequest out;
    while (true) {
      RequestOutput o = (*first)->Next();
      out.tokens.insert(out.tokens.end(), o.tokens.begin(), o.tokens.end());
      out.logprobs.insert(out.logprobs.end(), o.logprobs.begin(), o.logprobs.end());
      if (o.finish != FinishReason::kNone) {
        h = o.kv_export_handle;
        break;
      }
    }
    if (h.empty()) return Status::Internal("no export handle");
    if (handle != nullptr) *handle = h;
    Request d = test_support::GreedyRequest(prompt, max_tokens - 1, /*logprobs=*/1);
    d.prompt.push_back(out.tokens[0]);
    d.kv_import = h;
    d.kv_import_tokens = static_cast<int64_t>(prompt.size());
    auto rest = RunToCompletion(decode.get(), d);
    if (!rest.ok()) return rest.status();
    out.tokens.insert(out.tokens.end(), rest->tokens.begin(), rest->tokens.end());
    out.logprobs.insert(out.logprobs.end(), rest->logprobs.begin(), rest->logprobs.end());
    out.finish = rest->finish;
    out.error = rest->error;
    out.cached_prompt_tokens = rest->cached_prompt_tokens;
    out.kv_import_failed = rest->kv_import_failed;
    return out;
  }
};

TEST(KvConnectorTest, PrefillThereDecodeHereEqualsOneEngine) {
  Pair p;
  ASSERT_NE(p.model, nullptr);
  for (int len : {1, 2, 15, 16, 17, 40, 255, 256, 257, 600}) {
    const auto prompt = test_support::RandomPrompt(len, static_cast<uint32_t>(len));
    auto agg = RunToCompletion(p.agg.get(), test_support::GreedyRequest(prompt, 12, /*logprobs=*/1));
    auto dis = p.Disaggregated(prompt, 12);
    ASSERT_TRUE(agg.ok() && dis.ok()) << dis.status().ToString();
    EXPECT_EQ(dis->tokens, agg->tokens) << "prompt of " << len;
    ASSERT_EQ(dis->logprobs.size(), agg->logprobs.size());
    // The first token's logprob is bit-identical: the same engine code computed it.
    EXPECT_EQ(dis->logprobs[0].logprob, agg->logprobs[0].logprob) << len;
    EXPECT_EQ(dis->finish, FinishReason::kLength);
  }
  const EngineMetrics d = p.decode->Metrics();
  EXPECT_EQ(d.kv_loads, 10u);
  EXPECT_EQ(d.kv_load_failures, 0u);
  EXPECT_GT(d.kv_blocks_loaded, 0u);
  // The decode engine never computed an imported prompt token: one per request (the first
  // generated token, fed back as the prompt's last).
  EXPECT_EQ(d.prompt_tokens, 10u);
  // The exports are held until released; then the prefill engine holds no block.
  p.prefill->WaitIdle();
  EXPECT_EQ(p.prefill->Metrics().kv_exports_pending, 10);
  EXPECT_GT(p.prefill->Metrics().blocks.used, 0);
  p.connector.ReleaseAll();
  for (int i = 0; i < 100 && p.prefill->Metrics().kv_exports_pending > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  p.prefill->WaitIdle();
  EXPECT_EQ(p.prefill->Metrics().kv_exports_pending, 0);
  EXPECT_EQ(p.prefill->Metrics().blocks.used, 0);
  EXPECT_EQ(p.decode->Metrics().blocks.used, 0);
}

TEST(KvConnectorTest, OnlyBlocksMissingLocallyAreLoaded) {
  Pair p;
  ASSERT_NE(p.model, nullptr);
  const auto prompt = test_support::RandomPrompt(100, 7);  // 6 full blocks + 4 tokens
  // The decode engine already computed the first 64 tokens (4 blocks) of this prompt.
  ASSERT_TRUE(RunToCompletion(p.decode.get(),
                              test_support::GreedyRequest(std::vector<int32_t>(prompt.begin(), prompt.begin() + 70), 1, /*logprobs=*/1))
                  .ok());
  const size_t before = p.connector.copied.load();
  auto agg = RunToCompletion(p.agg.get(), test_support::GreedyRequest(prompt, 6, /*logprobs=*/1));
  auto dis = p.Disaggregated(prompt, 6);
  ASSERT_TRUE(agg.ok() && dis.ok()) << dis.status().ToString();
  EXPECT_EQ(dis->tokens, agg->tokens);
  EXPECT_EQ(p.connector.copied.load() - before, 3u) << "7 blocks, 4 held locally";
  EXPECT_EQ(p.decode->Metrics().kv_blocks_skipped, 4u);
  EXPECT_EQ(dis->cached_prompt_tokens, 64);
}

TEST(KvConnectorTest, FailedLoadRecomputesOrFails) {
  {
    Pair p(/*recompute=*/true);
    p.connector.fail_loads = true;
    const auto prompt = test_support::RandomPrompt(90, 3);
    auto agg = RunToCompletion(p.agg.get(), test_support::GreedyRequest(prompt, 8, /*logprobs=*/1));
    auto dis = p.Disaggregated(prompt, 8);
    ASSERT_TRUE(agg.ok() && dis.ok()) << dis.status().ToString();
    EXPECT_EQ(dis->tokens, agg->tokens) << "recomputed here";
    EXPECT_TRUE(dis->kv_import_failed);
    EXPECT_FALSE(agg->kv_import_failed);
    EXPECT_EQ(p.decode->Metrics().kv_load_failures, 1u);
    EXPECT_EQ(p.decode->Metrics().prompt_tokens, 91u);
  }
  {
    Pair p(/*recompute=*/false);
    p.connector.fail_loads = true;
    auto dis = p.Disaggregated(test_support::RandomPrompt(90, 3), 8);
    ASSERT_TRUE(dis.ok());
    EXPECT_EQ(dis->finish, FinishReason::kError);
    EXPECT_TRUE(dis->kv_import_failed);
    EXPECT_NE(dis->error.message().find("injected"), std::string::npos) << dis->error.ToString();
    p.decode->WaitIdle();
    EXPECT_EQ(p.decode->Metrics().blocks.used, 0);
  }
}

TEST(KvConnectorTest, AbortWhileLoadingEndsWhenTheLoadDoes) {
  Pair p;
  p.connector.hold_loads = true;
  const auto prompt = test_support::RandomPrompt(50, 11);
  Request pre = test_support::GreedyRequest(prompt, 1, /*logprobs=*/1);
  pre.kv_export = true;
  auto h = RequestHandle::Submit(p.prefill.get(), pre);
  ASSERT_TRUE(h.ok());
  RequestOutput o;
  do o = (*h)->Next(); while (o.finish == FinishReason::kNone);
  ASSERT_FALSE(o.kv_export_handle.empty());
  Request d = test_support::GreedyRequest(prompt, 5, /*logprobs=*/1);
  d.prompt.push_back(o.tokens.empty() ? 5 : o.tokens[0]);
  d.kv_import = o.kv_export_handle;
  d.kv_import_tokens = 50;
  auto dh = RequestHandle::Submit(p.decode.get(), d);
  ASSERT_TRUE(dh.ok());
  for (int i = 0; i < 200 && p.decode->Metrics().waiting_for_kv == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(p.decode->Metrics().waiting_for_kv, 1);
  // Meanwhile other requests run: the loop does not wait on the load.
  EXPECT_TRUE(RunToCompletion(p.decode.get(), test_support::GreedyRequest(test_support::RandomPrompt(20, 1), 3, /*logprobs=*/1)).ok());
  (*dh)->Abort();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(p.decode->Metrics().waiting_for_kv, 1) << "blocks are still being written";
  p.connector.Proceed();
  RequestOutput end;
  do end = (*dh)->Next(); while (end.finish == FinishReason::kNone);
  EXPECT_EQ(end.finish, FinishReason::kAbort);
  p.decode->WaitIdle();
  EXPECT_EQ(p.decode->Metrics().blocks.used, 0);
  EXPECT_EQ(p.decode->Metrics().waiting_for_kv, 0);
  p.connector.ReleaseAll();
}

TEST(KvConnectorTest, RequestsAreValidated) {
  auto model = test_support::LoadTinyModel(9);
  auto plain = std::move(Engine::Create(model.get(), Config(nullptr))).value();
  Request r = test_support::GreedyRequest(test_support::RandomPrompt(10, 1), 2, /*logprobs=*/1);
  r.kv_export = true;
  EXPECT_EQ(plain->Submit(r, nullptr).status().code(), StatusCode::kInvalidArgument);
  CopyConnector c;
  auto e = std::move(Engine::Create(model.get(), Config(&c))).value();
  Request i = test_support::GreedyRequest(test_support::RandomPrompt(10, 1), 2, /*logprobs=*/1);
  i.kv_import = "1";
  for (int64_t bad : {0, 10, 11, -1}) {
    i.kv_import_tokens = bad;
    EXPECT_EQ(e->Submit(i, nullptr).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(e->kv_memory().base, nullptr);
  EXPECT_GT(e->kv_memory().block_bytes, 0);
}

}  // namespace
}  // namespace mint::engine
