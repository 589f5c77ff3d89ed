// The serving engine end to end on synthetic models (and stories260K when present): batch
// invariance, prefix reuse, preemption, abort without leaks, and KV events that replay to exactly
// what the engine caches.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "engine/engine.h"
#include "engine/executor.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "model/synth.h"

namespace mint::engine {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / ("mint_engine_" + name)).string();
}

std::unique_ptr<model::Model> LoadSynth(const std::string& preset, model::SynthFileType type) {
  const std::string path =
      TempPath(preset + "_" + model::SynthFileTypeName(type) + ".gguf");
  model::SynthOptions o{.preset = preset, .type = type, .seed = 5, .vocab = "builtin"};
  Status s = model::WriteSynthModel(o, path);
  EXPECT_TRUE(s.ok()) << s.ToString();
  auto m = model::Model::Load(path);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? std::move(m).value() : nullptr;
}

EngineConfig BaseConfig() {
  EngineConfig c;
  c.kv_cache_blocks = 512;
  c.threads = 2;
  c.scheduler.max_model_len = 2048;
  c.scheduler.max_num_batched_tokens = 4096;
  c.scheduler.max_num_seqs = 64;
  return c;
}

// 16 prompts of different lengths; some share long prefixes (as chat turns do).
std::vector<std::vector<int32_t>> MakePrompts(int n, int64_t n_vocab, uint64_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> tok(3, static_cast<int32_t>(n_vocab) - 1);
  std::vector<int32_t> shared(40);
  for (auto& t : shared) t = tok(rng);
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < n; ++i) {
    std::vector<int32_t> p;
    if (i % 3 == 0) p.assign(shared.begin(), shared.begin() + 16 + (i % 5) * 5);
    const int len = 3 + static_cast<int>(rng() % 70);
    for (int j = 0; j < len; ++j) p.push_back(tok(rng));
    prompts.push_back(std::move(p));
  }
  return prompts;
}

Request Greedy(std::vector<int32_t> prompt, int64_t max_tokens, int32_t logprobs = -1) {
  Request r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0;
  r.max_tokens = max_tokens;
  r.logprobs = logprobs;
  return r;
}

struct Run {
  std::vector<int32_t> tokens;
  std::vector<TokenLogprob> logprobs;
};

// Runs every prompt alone, one after another.
std::vector<Run> RunAloneWithLogprobs(const model::Model& m, EngineConfig c,
                                      const std::vector<std::vector<int32_t>>& prompts,
                                      int64_t max_tokens, int32_t logprobs) {
  c.enable_prefix_cache = false;
  auto e = Engine::Create(&m, c);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  std::vector<Run> out;
  for (const auto& p : prompts) {
    auto r = RunToCompletion(e->get(), Greedy(p, max_tokens, logprobs));
    EXPECT_TRUE(r.ok());
    out.push_back(r.ok() ? Run{r->tokens, r->logprobs} : Run{});
  }
  return out;
}

// Submits every prompt at once and waits for all.
struct BatchResult {
  std::vector<std::vector<int32_t>> tokens;
  std::vector<std::vector<TokenLogprob>> logprobs;
  std::vector<int64_t> cached;
  std::vector<FinishReason> finish;
};
BatchResult RunBatched(Engine* e, const std::vector<std::vector<int32_t>>& prompts,
                       int64_t max_tokens, int32_t logprobs = -1) {
  BatchResult res;
  res.tokens.resize(prompts.size());
  res.logprobs.resize(prompts.size());
  res.cached.resize(prompts.size());
  res.finish.resize(prompts.size());
  std::mutex mu;
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto id = e->Submit(Greedy(prompts[i], max_tokens, logprobs), [&, i](const RequestOutput& o) {
      std::lock_guard<std::mutex> lk(mu);
      res.tokens[i].insert(res.tokens[i].end(), o.tokens.begin(), o.tokens.end());
      res.logprobs[i].insert(res.logprobs[i].end(), o.logprobs.begin(), o.logprobs.end());
      if (o.finish != FinishReason::kNone) {
        res.finish[i] = o.finish;
        res.cached[i] = o.cached_prompt_tokens;
      }
    });
    EXPECT_TRUE(id.ok()) << id.status().ToString();
  }
  e->WaitIdle();
  return res;
}


// Batch invariance. With the scalar kernels (MINT_CPU=scalar; ctest runs this suite so too) every
// op computes a token's result in an order that does not depend on the batch, so tokens must be
// identical. The SIMD matmul kernels pick register tiles by the number of tokens in the call
// (decode tiles group 8 quant blocks per FMA, prefill tiles accumulate block by block), which
// reorders float sums: there, a batched sequence must agree with the alone run token for token
// until a step where the alone run's top two candidates were within kTieNats of each other
// (a near-tie that reassociation may flip), and its log-probabilities must match within
// kLogprobTol up to that point.
constexpr float kTieNats = 0.1f;
constexpr float kLogprobTol = 0.05f;

void ExpectInvariant(const std::vector<Run>& alone, const BatchResult& got,
                     const std::string& what) {
  const bool exact = kernels::BestIsa() == kernels::Isa::kScalar;
  ASSERT_EQ(alone.size(), got.tokens.size());
  for (size_t i = 0; i < alone.size(); ++i) {
    const Run& a = alone[i];
    if (exact) {
      EXPECT_EQ(a.tokens, got.tokens[i]) << what << ": sequence " << i;
      continue;
    }
    ASSERT_EQ(got.tokens[i].size(), a.tokens.size()) << what << ": sequence " << i;
    ASSERT_EQ(got.logprobs[i].size(), a.tokens.size());
    for (size_t j = 0; j < a.tokens.size(); ++j) {
      const TokenLogprob& la = a.logprobs[j];
      if (got.tokens[i][j] != a.tokens[j]) {
        // Allowed only at a near-tie of the alone run.
        ASSERT_GE(la.top.size(), 2u);
        EXPECT_LT(la.top[0].second - la.top[1].second, kTieNats)
            << what << ": sequence " << i << " diverges at step " << j << " without a near-tie";
        break;
      }
      EXPECT_NEAR(got.logprobs[i][j].logprob, la.logprob, kLogprobTol)
          << what << ": sequence " << i << " step " << j;
    }
  }
}

void CheckBatchInvariance(const model::Model& m) {
  const auto prompts = MakePrompts(16, m.config().n_vocab, 17);
  const int64_t kMax = 24;
  const auto alone = RunAloneWithLogprobs(m, BaseConfig(), prompts, kMax, 2);
  for (const auto& r : alone) ASSERT_EQ(r.tokens.size(), static_cast<size_t>(kMax));

  {  // batched, whole prompts per step, no prefix cache
    EngineConfig c = BaseConfig();
    c.enable_prefix_cache = false;
    auto e = Engine::Create(&m, c);
    ASSERT_TRUE(e.ok());
    ExpectInvariant(alone, RunBatched(e->get(), prompts, kMax, 0), "batched");
  }
  {  // batched with chunked prefill: 24-token steps cut prompts mid-block
    EngineConfig c = BaseConfig();
    c.enable_prefix_cache = false;
    c.scheduler.max_num_batched_tokens = 24;
    auto e = Engine::Create(&m, c);
    ASSERT_TRUE(e.ok());
    ExpectInvariant(alone, RunBatched(e->get(), prompts, kMax, 0), "chunked");
  }
  {  // batched with prefix reuse: the second round reuses the first round's blocks
    EngineConfig c = BaseConfig();
    c.scheduler.max_num_batched_tokens = 40;
    auto e = Engine::Create(&m, c);
    ASSERT_TRUE(e.ok());
    ExpectInvariant(alone, RunBatched(e->get(), prompts, kMax, 0), "prefix round 1");
    const auto again = RunBatched(e->get(), prompts, kMax, 0);
    ExpectInvariant(alone, again, "prefix round 2");
    int64_t cached = 0;
    for (int64_t c2 : again.cached) cached += c2;
    EXPECT_GT(cached, 0);
    EXPECT_GT((*e)->Metrics().blocks.hit_blocks, 0u);
  }
}

TEST(EngineTest, BatchInvarianceSyntheticLlamaQ8) {
  auto m = LoadSynth("tiny", model::SynthFileType::kQ8_0);
  ASSERT_NE(m, nullptr);
  CheckBatchInvariance(*m);
}

TEST(EngineTest, BatchInvarianceSyntheticQwen3Q4KM) {
  auto m = LoadSynth("tiny-qwen3", model::SynthFileType::kQ4_K_M);
  ASSERT_NE(m, nullptr);
  CheckBatchInvariance(*m);
}

TEST(EngineTest, BatchInvarianceStories260K) {
  const std::string path = std::string(MINT_SHARED_DIR) + "/models/stories260K.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "missing " << path;
  auto m = model::Model::Load(path);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  CheckBatchInvariance(**m);
}

TEST(EngineTest, PrefixReuseSkipsCachedBlocks) {
  auto m = LoadSynth("tiny", model::SynthFileType::kQ8_0);
  ASSERT_NE(m, nullptr);
  std::mt19937 rng(3);
  std::vector<int32_t> prefix(1000);
  for (auto& t : prefix) t = 3 + static_cast<int32_t>(rng() % 500);
  auto a = prefix, b = prefix;
  for (int i = 0; i < 7; ++i) a.push_back(10 + i), b.push_back(100 + i);

  const auto want = RunAloneWithLogprobs(*m, BaseConfig(), {b}, 16, 2);

  auto e = Engine::Create(m.get(), BaseConfig());
  ASSERT_TRUE(e.ok());
  auto ra = RunToCompletion(e->get(), Greedy(a, 16));
  ASSERT_TRUE(ra.ok());
  EXPECT_EQ(ra->cached_prompt_tokens, 0);
  const uint64_t computed_before = (*e)->Metrics().prompt_tokens;
  auto rb = RunToCompletion(e->get(), Greedy(b, 16, 0));
  ASSERT_TRUE(rb.ok());
  EXPECT_EQ(rb->cached_prompt_tokens, 992);  // 62 full blocks of the shared 1,000 tokens
  EXPECT_EQ((*e)->Metrics().prompt_tokens - computed_before, b.size() - 992);
  BatchResult got;
  got.tokens = {rb->tokens};
  got.logprobs = {rb->logprobs};
  ExpectInvariant(want, got, "prefix-cached");
  const auto stats = (*e)->Metrics().blocks;
  EXPECT_GE(stats.hit_blocks, 62u);
  EXPECT_GT(stats.hit_rate(), 0.0);
}

// Threads of this process at niceness `nice` (/proc/self/task/*/stat, field 19).
int ThreadsAtNice(int nice) {
  int n = 0;
  for (const auto& t : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream f(t.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const size_t close = stat.rfind(')');  // the name may hold spaces
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    for (int i = 3; i <= 19 && rest >> field; ++i) {
      if (i == 19 && std::stoi(field) == nice) ++n;
    }
  }
  return n;
}

TEST(EngineTest, NiceLowersEveryComputeThreadsPriority) {
  auto m = LoadSynth("tiny", model::SynthFileType::kQ8_0);
  ASSERT_NE(m, nullptr);
  EngineConfig c = BaseConfig();
  c.threads = 2;
  c.nice = 7;
  EXPECT_EQ(ThreadsAtNice(7), 0);
  auto e = Engine::Create(m.get(), c);
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE(RunToCompletion(e->get(), Greedy({5, 6, 7}, 2)).ok());
  EXPECT_EQ(ThreadsAtNice(7), 2);  // the loop thread and its one pool thread
  e->reset();
  c.nice = 20;
  EXPECT_FALSE(c.Validate().ok());
}

TEST(EngineTest, PreemptionWithTinyPoolFinishesEverythingCorrectly) {
  auto m = LoadSynth("tiny", model::SynthFileType::kQ8_0);
  ASSERT_NE(m, nullptr);
  const auto prompts = MakePrompts(64, m->config().n_vocab, 99);
  const int64_t kMax = 40;
  const auto alone = RunAloneWithLogprobs(*m, BaseConfig(), prompts, kMax, 2);
  EngineConfig c = BaseConfig();
  c.kv_cache_blocks = 48;  // 768 tokens for 64 requests of up to ~150 tokens each
  c.scheduler.max_num_batched_tokens = 64;
  auto e = Engine::Create(m.get(), c);
  ASSERT_TRUE(e.ok());
  const auto got = RunBatched(e->get(), prompts, kMax, 0);
  ExpectInvariant(alone, got, "preempted");
  for (FinishReason f : got.finish) EXPECT_EQ(f, FinishReason::kLength);
  const EngineMetrics mt = (*e)->Metrics();
  EXPECT_GT(mt.preemptions, 0u);
  EXPECT_EQ(mt.blocks.used, 0);
}

TEST(EngineTest, AbortingAThousandRequestsLeaksNoBlocks) {
  auto m = LoadSynth("tiny", model::SynthFileType::kQ8_0);
  ASSERT_NE(m, nullptr);
  EngineConfig c = BaseConfig();
  c.kv_cache_blocks = 256;
  c.scheduler.max_num_batched_tokens = 256;
  c.max_queued = 2000;
  auto e = Engine::Create(m.get(), c);
  ASSERT_TRUE(e.ok());
  const auto prompts = MakePrompts(1000, m->config().n_vocab, 5);
  std::atomic<int> finished{0}, aborted{0};
  std::vector<uint64_t> ids;
  std::mt19937 rng(8);
  for (size_t i = 0; i < prompts.size(); ++i) {
    Request r = Greedy(prompts[i], 100000 % 1500);
    r.sampling.temperature = 0.8f;
    auto id = (*e)->Submit(std::move(r), [&](const RequestOutput& o) {
      if (o.finish == FinishReason::kAbort) ++aborted;
      if (o.finish != FinishReason::kNone) ++finished;
    });
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ids.push_back(*id);
    // Abort an earlier request now and then, while the engine runs.
    if (rng() % 3 == 0) (*e)->Abort(ids[rng() % ids.size()]);
  }
  std::shuffle(ids.begin(), ids.end(), rng);
  for (size_t i = 0; i < ids.size(); ++i) {
    (*e)->Abort(ids[i]);
    if (i % 100 == 0) std::this_thread::yield();
  }
  (*e)->WaitIdle();
  EXPECT_EQ(finished.load(), 1000);
  EXPECT_EQ(aborted.load(), 1000);
  const EngineMetrics mt = (*e)->Metrics();
  EXPECT_EQ(mt.blocks.used, 0) << "leaked blocks";
  EXPECT_EQ(mt.blocks.free, mt.blocks.num_blocks);
  EXPECT_EQ(mt.running + mt.waiting, 0);
}

// Replays KV events into a set of cached hashes.
class ReplaySink : public KvEventSink {
 public:
  void OnKvEvent(const KvEvent& ev) override {
    std::lock_guard<std::mutex> lk(mu_);
    if (last_id_ != 0 && ev.id != last_id_ + 1) gaps_++;
    last_id_ = ev.id;
    switch (ev.kind) {
      case KvEvent::Kind::kStored:
        for (BlockHash h : ev.block_hashes) cached_.insert(h);
        break;
      case KvEvent::Kind::kRemoved:
        for (BlockHash h : ev.block_hashes) {
          if (cached_.erase(h) == 0) unknown_removed_++;
        }
        break;
      case KvEvent::Kind::kCleared:
        cached_.clear();
        break;
    }
  }
  void OnKvSnapshot(const KvSnapshot& snap) override { Load(snap); }
  void Load(const KvSnapshot& snap) {
    std::lock_guard<std::mutex> lk(mu_);
    last_id_ = snap.last_event_id;
    for (const KvEvent& ev : snap.blocks) {
      for (BlockHash h : ev.block_hashes) cached_.insert(h);
    }
  }
  std::set<BlockHash> cached() {
    std::lock_guard<std::mutex> lk(mu_);
    return cached_;
  }
  int gaps() const { return gaps_; }
  int unknown_removed() const { return unknown_removed_; }

 private:
  std::mutex mu_;
  std::set<BlockHash> cached_;
  uint64_t last_id_ = 0;
  int gaps_ = 0;
  int unknown_removed_ = 0;
};

std::set<BlockHash> SnapshotSet(Engine* e) {
  ReplaySink probe;
  e->SubscribeKvEvents(&probe);
  e->UnsubscribeKvEvents(&probe);
  return probe.cached();
}

TEST(EngineTest, KvEventsReplayToTheCachedSetUnderRandomWorkloads) {
  auto m = LoadSynth("tiny", model::SynthFileType::kQ8_0);
  ASSERT_NE(m, nullptr);
  for (uint64_t seed : {1, 2, 3}) {
    EngineConfig c = BaseConfig();
    c.kv_cache_blocks = 40 + static_cast<int64_t>(seed) * 16;  // small: evictions happen
    c.scheduler.max_num_batched_tokens = 48;
    auto e = Engine::Create(m.get(), c);
    ASSERT_TRUE(e.ok());
    ReplaySink early, late;
    (*e)->SubscribeKvEvents(&early);
    std::mt19937 rng(seed);
    for (int round = 0; round < 6; ++round) {
      const auto prompts = MakePrompts(12, m->config().n_vocab, seed * 100 + round % 3);
      std::vector<uint64_t> ids;
      for (const auto& p : prompts) {
        Request r = Greedy(p, 1 + rng() % 30);
        auto id = (*e)->Submit(std::move(r), nullptr);
        ASSERT_TRUE(id.ok());
        ids.push_back(*id);
      }
      if (rng() % 2) (*e)->Abort(ids[rng() % ids.size()]);
      if (round == 2) (*e)->SubscribeKvEvents(&late);
      if (round == 4 && seed == 2) (*e)->ResetPrefixCache();
      (*e)->WaitIdle();
      const std::set<BlockHash> held = SnapshotSet(e->get());
      EXPECT_EQ(early.cached(), held) << "seed " << seed << " round " << round;
      if (round >= 2) {
        EXPECT_EQ(late.cached(), held) << "late, seed " << seed;
      }
      EXPECT_EQ((*e)->Metrics().blocks.cached, static_cast<int32_t>(held.size()));
    }
    EXPECT_EQ(early.gaps(), 0);
    EXPECT_EQ(late.gaps(), 0);
    EXPECT_EQ(late.unknown_removed(), 0);
    EXPECT_EQ(early.unknown_removed(), 0);
    EXPECT_GT((*e)->Metrics().blocks.evictions, 0u) << "workload too small to evict";
    (*e)->UnsubscribeKvEvents(&early);
    (*e)->UnsubscribeKvEvents(&late);
  }
}

TEST(EngineTest, SubmitRejectsBadRequestsClearly) {
  auto m = LoadSynth("tiny", model::SynthFileType::kQ8_0);
  ASSERT_NE(m, nullptr);
  EngineConfig c = BaseConfig();
  c.kv_cache_blocks = 8;
  auto e = Engine::Create(m.get(), c);
  ASSERT_TRUE(e.ok());
  auto expect_invalid = [&](Request r, const std::string& field) {
    auto id = (*e)->Submit(std::move(r), nullptr);
    ASSERT_FALSE(id.ok());
    EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(id.status().message().find(field), std::string::npos) << id.status().ToString();
  };
  expect_invalid(Greedy({}, 4), "prompt");
  expect_invalid(Greedy({1, 100000}, 4), "prompt");
  expect_invalid(Greedy(std::vector<int32_t>(200, 5), 4), "KV cache");
  expect_invalid(Greedy({1, 2}, 0), "max_tokens");
  Request bad = Greedy({1, 2}, 4);
  bad.sampling.top_p = 0;
  expect_invalid(bad, "top_p");
  Request lp = Greedy({1, 2}, 4);
  lp.logprobs = 21;
  expect_invalid(lp, "logprobs");
}

TEST(EngineTest, LogprobsAndStopTokens) {
  auto m = LoadSynth("tiny", model::SynthFileType::kQ8_0);
  ASSERT_NE(m, nullptr);
  auto e = Engine::Create(m.get(), BaseConfig());
  ASSERT_TRUE(e.ok());
  Request r = Greedy({1, 50, 60, 70}, 12);
  r.logprobs = 3;
  auto full = RunToCompletion(e->get(), r);
  ASSERT_TRUE(full.ok());
  ASSERT_EQ(full->tokens.size(), 12u);
  ASSERT_EQ(full->logprobs.size(), 12u);
  for (size_t i = 0; i < 12; ++i) {
    const TokenLogprob& lp = full->logprobs[i];
    EXPECT_EQ(lp.token, full->tokens[i]);
    ASSERT_EQ(lp.top.size(), 3u);
    EXPECT_EQ(lp.top[0].first, lp.token);  // greedy takes the most likely token
    EXPECT_LE(lp.logprob, 0.0f);
    EXPECT_GE(lp.top[0].second, lp.top[1].second);
  }
  Request s = Greedy({1, 50, 60, 70}, 12);
  s.stop_token_ids = {full->tokens[4]};
  auto stopped = RunToCompletion(e->get(), s);
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->finish, FinishReason::kStop);
  const size_t first = std::find(full->tokens.begin(), full->tokens.end(), full->tokens[4]) -
                       full->tokens.begin();
  EXPECT_EQ(stopped->tokens.size(), first + 1);
}

}  // namespace
}  // namespace mint::engine

namespace mint::engine {
namespace {

TEST(EngineHandleTest, StreamsTokensAndAbortsOnRequest) {
  auto m = LoadSynth("tiny", model::SynthFileType::kQ8_0);
  ASSERT_NE(m, nullptr);
  auto e = Engine::Create(m.get(), BaseConfig());
  ASSERT_TRUE(e.ok());
  auto h = RequestHandle::Submit(e->get(), Greedy({1, 7, 8, 9}, 5));
  ASSERT_TRUE(h.ok());
  std::vector<int32_t> tokens;
  RequestOutput o;
  do {
    o = (*h)->Next();
    tokens.insert(tokens.end(), o.tokens.begin(), o.tokens.end());
  } while (o.finish == FinishReason::kNone);
  EXPECT_EQ(o.finish, FinishReason::kLength);
  EXPECT_EQ(tokens.size(), 5u);
  EXPECT_EQ((*h)->Next().finish, FinishReason::kLength);  // the final output repeats

  auto long_one = RequestHandle::Submit(e->get(), Greedy({1, 7, 8, 9}, 1500));
  ASSERT_TRUE(long_one.ok());
  (*long_one)->Next();  // running
  (*long_one)->Abort();
  do {
    o = (*long_one)->Next();
  } while (o.finish == FinishReason::kNone);
  EXPECT_EQ(o.finish, FinishReason::kAbort);
  EXPECT_LT(o.generated_tokens, 1500);
  (*e)->WaitIdle();
  EXPECT_EQ((*e)->Metrics().blocks.used, 0);
}

}  // namespace
}  // namespace mint::engine

namespace mint::engine {
namespace {

// A constraint for the seam's tests: only multiples of 3, then (after `limit` tokens) nothing.
class EveryThird final : public LogitsProcessor {
 public:
  explicit EveryThird(int limit) : limit_(limit) {}
  bool Mask(std::span<float> logits) override {
    if (accepted_ >= limit_) return false;
    for (size_t i = 0; i < logits.size(); ++i) {
      if (i % 3 != 0) logits[i] = -std::numeric_limits<float>::infinity();
    }
    return true;
  }
  bool Allows(int32_t token) override { return accepted_ < limit_ && token % 3 == 0; }
  void Accept(int32_t token) override {
    EXPECT_EQ(token % 3, 0);
    ++accepted_;
  }

 private:
  int limit_;
  int accepted_ = 0;
};

LogitsProcessorFactory EveryThirdFactory() {
  return [](const Request& r) -> Result<std::unique_ptr<LogitsProcessor>> {
    if (r.grammar == "bad") return Status::InvalidArgument("grammar: bad at line 1");
    return std::unique_ptr<LogitsProcessor>(new EveryThird(std::stoi(r.grammar)));
  };
}

TEST(LogitsProcessorTest, MasksEveryTokenAndEndsWhenNothingIsAllowed) {
  auto m = LoadSynth("tiny", model::SynthFileType::kQ8_0);
  ASSERT_NE(m, nullptr);
  {
    auto plain = Engine::Create(m.get(), BaseConfig());
    ASSERT_TRUE(plain.ok());
    Request r = Greedy({1, 50, 60}, 8);
    r.grammar = "5";
    auto id = (*plain)->Submit(r, nullptr);
    ASSERT_FALSE(id.ok());
    EXPECT_NE(id.status().message().find("grammar"), std::string::npos);
  }
  EngineConfig c = BaseConfig();
  c.logits_processor_factory = EveryThirdFactory();
  auto e = Engine::Create(m.get(), c);
  ASSERT_TRUE(e.ok());
  Request bad = Greedy({1, 50, 60}, 8);
  bad.grammar = "bad";
  auto refused = (*e)->Submit(bad, nullptr);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("line 1"), std::string::npos);
  for (float temperature : {0.0f, 1.0f}) {
    Request r = Greedy({1, 50, 60, 70}, 20, /*logprobs=*/0);
    r.sampling.temperature = temperature;
    r.grammar = "6";
    auto out = RunToCompletion(e->get(), r);
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out->finish, FinishReason::kStop);
    ASSERT_EQ(out->tokens.size(), 6u);
    for (int32_t t : out->tokens) EXPECT_EQ(t % 3, 0);
    // Logprobs stay the model's own (before the mask), as vLLM reports them.
    for (const TokenLogprob& lp : out->logprobs) EXPECT_TRUE(std::isfinite(lp.logprob));
  }
  Request unconstrained = Greedy({1, 50, 60, 70}, 12);
  auto free_run = RunToCompletion(e->get(), unconstrained);
  ASSERT_TRUE(free_run.ok());
  EXPECT_EQ(free_run->tokens.size(), 12u);
}

}  // namespace
}  // namespace mint::engine

namespace mint::engine {
namespace {

// Holds every step until Open(): a step that takes as long as the test wants.
class GatedExecutor : public StepExecutor {
 public:
  int64_t n_vocab() const override { return 64; }
  int64_t n_ctx_train() const override { return 1024; }
  Status Execute(const StepBatch&, std::span<float>) override {
    return Status::Internal("chooses tokens");
  }
  bool chooses_tokens() const override { return true; }
  Status ExecuteChoosingTokens(const StepBatch& step, std::span<int32_t> tokens) override {
    std::unique_lock<std::mutex> lk(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lk, [&] { return open_; });
    size_t row = 0;
    for (const model::BatchSequence& s : step.seqs) {
      if (s.logits != model::BatchSequence::Logits::kNone) tokens[row++] = 7;
    }
    return Status::Ok();
  }
  void WaitEntered(int n) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return entered_ >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> lk(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool open_ = false;
};

// A load report taken while a step runs counts the requests that arrived during it: they wait
// in the engine's inbox until the step ends, and a router that did not see them would keep
// sending that worker more (docs/perf.md, "mint simulate against wall-clock mockers").
TEST(EngineMetricsTest, RequestsSubmittedDuringAStepCountAsWaiting) {
  auto owned = std::make_unique<GatedExecutor>();
  GatedExecutor* exec = owned.get();
  EngineConfig c;
  c.kv_cache_blocks = 64;
  auto e = Engine::CreateWithExecutor(std::move(owned), c);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  std::atomic<int> done{0};
  auto on_output = [&](const RequestOutput& out) {
    if (out.finish != FinishReason::kNone) ++done;
  };
  auto prompt = [](int n) { return std::vector<int32_t>(static_cast<size_t>(n), 3); };
  ASSERT_TRUE((*e)->Submit(Greedy(prompt(10), 2), on_output).ok());
  exec->WaitEntered(1);  // the first request's prefill step is running
  ASSERT_TRUE((*e)->Submit(Greedy(prompt(20), 2), on_output).ok());
  ASSERT_TRUE((*e)->Submit(Greedy(prompt(30), 2), on_output).ok());
  const EngineMetrics during = (*e)->Metrics();
  // No step has ended: nothing is published, so all three count (the running one as waiting).
  EXPECT_EQ(during.waiting, 3);
  EXPECT_EQ(during.waiting_prefill_tokens, 60);
  exec->Open();
  for (int i = 0; i < 5000 && done.load() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(done.load(), 3);
  const EngineMetrics after = (*e)->Metrics();
  EXPECT_EQ(after.waiting, 0);
  EXPECT_EQ(after.waiting_prefill_tokens, 0);
  EXPECT_EQ(after.running, 0);
}

}  // namespace
}  // namespace mint::engine
