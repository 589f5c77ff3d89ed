#include "mocker/mocker.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "engine/kv_events.h"

namespace mint::mocker {
namespace {

using engine::Engine;
using engine::FinishReason;
using engine::Request;

std::vector<int32_t> Prompt(int n, int32_t start = 1) {
  std::vector<int32_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), start);
  return p;
}

// A request for `prompt` (built field by field: designated initializers warn about the rest).
Request Req(std::vector<int32_t> prompt, int64_t max_tokens,
            std::vector<int32_t> stop_token_ids = {}) {
  Request r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.stop_token_ids = std::move(stop_token_ids);
  return r;
}

std::unique_ptr<Engine> Make(MockerOptions o) {
  auto e = CreateMockerEngine(o);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? std::move(e).value() : nullptr;
}

// A fast mocker: default polynomial timing at 1000x.
MockerOptions Fast() { return {.num_blocks = 1024, .speedup = 1000}; }

TEST(MockerTest, RunsRequestsToExactlyMaxTokens) {
  auto eng = Make(Fast());
  ASSERT_NE(eng, nullptr);
  for (int max_tokens : {1, 7, 40}) {
    auto r = engine::RunToCompletion(eng.get(),
                                     Req(Prompt(50), max_tokens));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->finish, FinishReason::kLength);
    EXPECT_EQ(static_cast<int>(r->tokens.size()), max_tokens);
    for (int32_t t : r->tokens) {
      EXPECT_GE(t, 0);
      EXPECT_LT(t, 32000);
    }
  }
  EXPECT_EQ(eng->num_kv_blocks(), 1024);
  EXPECT_EQ(eng->config().scheduler.max_model_len, 8192);
}

// Load reports carry step times in simulated seconds whatever the speed-up, so a router's
// step-time model learns in the unit of its prior (the timing model's); busy time stays wall time.
TEST(MockerTest, StepSamplesAreInSimulatedSeconds) {
  auto eng = Make(Fast());  // 1000x
  ASSERT_NE(eng, nullptr);
  const auto start = std::chrono::steady_clock::now();
  auto r = engine::RunToCompletion(eng.get(), Req(Prompt(200), 3));
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const engine::EngineMetrics m = eng->Metrics();
  ASSERT_EQ(m.recent_steps.size(), 3u);
  EXPECT_EQ(m.recent_steps[0].prefill_tokens, 200);
  EXPECT_DOUBLE_EQ(
      m.recent_steps[0].seconds,
      TimingModel::Polynomial().StepMs({.prefill_tokens = 200, .kv_capacity_tokens = 1024 * 16}) /
          1e3);
  double simulated = 0;
  for (const engine::StepRecord& s : m.recent_steps) simulated += s.seconds;
  EXPECT_GT(simulated, 0);
  // Busy time stays wall time: never more than the run took (simulated seconds, ~32 ms here,
  // would be, on any machine not so loaded that the 1000x-faster run itself takes that long).
  EXPECT_LE(m.busy_seconds, elapsed);
}

TEST(MockerTest, OutputIsDeterministicWhateverTheSampling) {
  auto a = Make(Fast());  // the executor hands the engine its tokens
  MockerOptions via_logits = Fast();
  via_logits.choose_tokens = false;  // the engine samples peaked logits
  auto b = Make(via_logits);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  Request greedy = Req(Prompt(30, 100), 20);
  greedy.sampling.temperature = 0;
  Request random = Req(Prompt(30, 100), 20);
  random.sampling.temperature = 1.5f;  // unseeded: a random seed each time
  random.sampling.top_p = 0.9f;
  random.sampling.frequency_penalty = 2.0f;
  random.logprobs = 2;
  auto r1 = engine::RunToCompletion(a.get(), greedy);
  auto r2 = engine::RunToCompletion(b.get(), random);
  auto r3 = engine::RunToCompletion(a.get(), random);  // prefix-cached this time
  auto r4 = engine::RunToCompletion(b.get(), greedy);
  ASSERT_TRUE(r1.ok() && r2.ok() && r3.ok() && r4.ok());
  EXPECT_EQ(r1->tokens, r2->tokens);
  EXPECT_EQ(r1->tokens, r3->tokens);
  EXPECT_EQ(r1->tokens, r4->tokens);
  // Logprobs: the peak's is ~0 through logits; a chosen token's is 0 and it is the only entry.
  ASSERT_EQ(r2->logprobs.size(), 20u);
  EXPECT_EQ(r2->logprobs[0].token, r2->tokens[0]);
  EXPECT_NEAR(r2->logprobs[0].logprob, 0.0f, 1e-3);
  ASSERT_EQ(r2->logprobs[0].top.size(), 2u);
  EXPECT_EQ(r2->logprobs[0].top[0].first, r2->tokens[0]);
  ASSERT_EQ(r3->logprobs.size(), 20u);
  EXPECT_EQ(r3->logprobs[5].token, r3->tokens[5]);
  EXPECT_EQ(r3->logprobs[5].logprob, 0.0f);
  ASSERT_EQ(r3->logprobs[5].top.size(), 1u);
  EXPECT_EQ(r3->logprobs[5].top[0].first, r3->tokens[5]);
  // Tokens are not all the same.
  EXPECT_GT(std::set<int32_t>(r1->tokens.begin(), r1->tokens.end()).size(), 10u);
  // Another prompt, other tokens.
  auto other = engine::RunToCompletion(a.get(), Req(Prompt(30, 200), 20));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->tokens, r1->tokens);
}

class MockerPathTest : public testing::TestWithParam<bool> {};  // choose_tokens or via logits

TEST_P(MockerPathTest, NeverEmitsAStopTokenSoRequestsEndOnMaxTokens) {
  MockerOptions o = Fast();
  o.choose_tokens = GetParam();
  auto eng = Make(o);
  ASSERT_NE(eng, nullptr);
  auto free_run = engine::RunToCompletion(eng.get(), Req(Prompt(20), 12));
  ASSERT_TRUE(free_run.ok());
  // Make every token the free run produced (and its neighbours) a stop id.
  std::vector<int32_t> stops;
  for (int32_t t : free_run->tokens) {
    stops.push_back(t);
    stops.push_back((t + 1) % 32000);
  }
  auto r = engine::RunToCompletion(
      eng.get(), Req(Prompt(20), 12, stops));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish, FinishReason::kLength);
  ASSERT_EQ(r->tokens.size(), 12u);
  for (int32_t t : r->tokens) {
    EXPECT_EQ(std::find(stops.begin(), stops.end(), t), stops.end()) << t;
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, MockerPathTest, testing::Bool());

TEST(MockerTest, RespectsMaxNumSeqs) {
  MockerOptions o = Fast();
  o.max_num_seqs = 4;
  // Steps of about 10 ms: the poller sees them even when the machine is busy (at about 1 ms, a
  // loaded CI machine once ran all 16 requests before the poller was scheduled).
  o.speedup = 2;
  auto eng = Make(o);
  ASSERT_NE(eng, nullptr);
  std::atomic<bool> done{false};
  std::atomic<int32_t> max_running{0};
  std::thread poller([&] {
    while (!done.load()) {
      const int32_t r = eng->Metrics().running;
      int32_t m = max_running.load();
      while (r > m && !max_running.compare_exchange_weak(m, r)) {
      }
      std::this_thread::yield();
    }
  });
  std::vector<std::unique_ptr<engine::RequestHandle>> handles;
  for (int i = 0; i < 16; ++i) {
    auto h = engine::RequestHandle::Submit(eng.get(),
                                           Req(Prompt(20, 1 + 100 * i), 8));
    ASSERT_TRUE(h.ok());
    handles.push_back(std::move(h).value());
  }
  for (auto& h : handles) {
    int64_t n = 0;
    engine::RequestOutput o;
    do {
      o = h->Next();
      n += static_cast<int64_t>(o.tokens.size());
    } while (o.finish == FinishReason::kNone);
    EXPECT_EQ(o.finish, FinishReason::kLength);
    EXPECT_EQ(n, 8);
  }
  done = true;
  poller.join();
  eng->WaitIdle();  // metrics are published after the step's outputs
  EXPECT_LE(max_running.load(), 4);
  EXPECT_GE(max_running.load(), 1);
  EXPECT_EQ(eng->Metrics().requests_finished, 16u);
}

class CollectingSink : public engine::KvEventSink {
 public:
  void OnKvEvent(const engine::KvEvent& ev) override {
    std::lock_guard<std::mutex> lk(mu_);
    if (ev.kind == engine::KvEvent::Kind::kStored) stored_blocks_ += ev.block_hashes.size();
    ids_.push_back(ev.id);
  }
  size_t stored_blocks() {
    std::lock_guard<std::mutex> lk(mu_);
    return stored_blocks_;
  }
  std::vector<uint64_t> ids() {
    std::lock_guard<std::mutex> lk(mu_);
    return ids_;
  }

 private:
  std::mutex mu_;
  size_t stored_blocks_ = 0;
  std::vector<uint64_t> ids_;
};

TEST(MockerTest, PrefixCacheHitsAndKvEventsFlow) {
  auto eng = Make(Fast());
  ASSERT_NE(eng, nullptr);
  CollectingSink sink;
  eng->SubscribeKvEvents(&sink);
  const Request req = Req(Prompt(100), 4);
  auto first = engine::RunToCompletion(eng.get(), req);
  auto second = engine::RunToCompletion(eng.get(), req);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->cached_prompt_tokens, 0);
  EXPECT_EQ(second->cached_prompt_tokens, 96);  // six full 16-token blocks
  EXPECT_EQ(first->tokens, second->tokens);
  eng->WaitIdle();
  EXPECT_GE(sink.stored_blocks(), 6u);
  const auto ids = sink.ids();
  for (size_t i = 1; i < ids.size(); ++i) EXPECT_EQ(ids[i], ids[i - 1] + 1);
  eng->UnsubscribeKvEvents(&sink);
  EXPECT_GT(eng->Metrics().last_kv_event_id, 0u);
}

TEST(MockerTest, PreemptsWhenTheSimulatedCacheIsFull) {
  MockerOptions o = Fast();
  o.num_blocks = 12;  // 192 tokens for 4 requests of up to 140: any two running at once overflow
  auto eng = Make(o);
  ASSERT_NE(eng, nullptr);
  std::vector<std::unique_ptr<engine::RequestHandle>> handles;
  for (int i = 0; i < 4; ++i) {
    auto h = engine::RequestHandle::Submit(eng.get(),
                                           Req(Prompt(40, 1000 * i + 1), 100));
    ASSERT_TRUE(h.ok());
    handles.push_back(std::move(h).value());
  }
  for (auto& h : handles) {
    int64_t n = 0;
    engine::RequestOutput out;
    do {
      out = h->Next();
      n += static_cast<int64_t>(out.tokens.size());
    } while (out.finish == FinishReason::kNone);
    EXPECT_EQ(out.finish, FinishReason::kLength);
    EXPECT_EQ(n, 100);
  }
  eng->WaitIdle();
  EXPECT_GT(eng->Metrics().preemptions, 0u);
}

TEST(MockerTest, AbortEndsARequest) {
  MockerOptions o = Fast();
  o.speedup = 1;  // each decode step sleeps ~6 ms
  auto eng = Make(o);
  ASSERT_NE(eng, nullptr);
  auto h = engine::RequestHandle::Submit(eng.get(), Req(Prompt(10), 100000));
  ASSERT_TRUE(h.ok());
  (*h)->Next();  // first token
  (*h)->Abort();
  engine::RequestOutput out;
  do {
    out = (*h)->Next();
  } while (out.finish == FinishReason::kNone);
  EXPECT_EQ(out.finish, FinishReason::kAbort);
  EXPECT_LT(out.generated_tokens, 1000);
}

// Wall time of one 1000-token prefill step (max_tokens 1: the step that prefills also samples).
double PrefillSeconds(const std::string& profile, double speedup) {
  MockerOptions o{.num_blocks = 256, .max_num_batched_tokens = 2048, .speedup = speedup,
                  .timing_profile = profile};
  auto eng = Make(o);
  if (eng == nullptr) return -1;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = engine::RunToCompletion(eng.get(), Req(Prompt(1000), 1));
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(eng->Metrics().steps, 1u);
  return std::chrono::duration<double>(t1 - t0).count();
}

TEST(MockerTest, StepTimeFollowsTheProfileAndSpeedup) {
  const std::string path = testing::TempDir() + "/mocker_timing_profile.json";
  std::ofstream(path) << R"({"prefill": [[1, 0], [1000, 1000]], "decode": [[1, 10]]})";
  // Timing (release only). Predicted: 1000 ms; at 5x 200 ms, at 20x 50 ms. With a busy process
  // on one of 2 cores both runs together took 0.25 s: the 0.6 s bound on the 5x run leaves 2.4x.
  const double t5 = PrefillSeconds(path, 5);
  const double t20 = PrefillSeconds(path, 20);
  std::remove(path.c_str());
  EXPECT_GE(t5, 0.199);  // a sleep never ends early
  EXPECT_LT(t5, 0.6);
  EXPECT_GE(t20, 0.049);
  EXPECT_LT(t20, t5);
}

// Timing (release only): 100 requests x 32 tokens at speed-up 1000 take 8-12 ms with a busy
// process on one of 2 cores; the 5 s bound only fails if steps sleep far longer than predicted.
TEST(MockerTest, HighSpeedupRunsHundredsOfRequestsQuickly) {
  std::atomic<int> finished{0}, tokens{0};  // outlive the engine (its callbacks use them)
  auto eng = Make({.num_blocks = 16384, .speedup = 1000});
  ASSERT_NE(eng, nullptr);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) {
    auto id = eng->Submit(Req(Prompt(64, 1 + 7 * i), 32),
                          [&](const engine::RequestOutput& o) {
                            tokens += static_cast<int>(o.tokens.size());
                            if (o.finish == FinishReason::kLength) ++finished;
                          });
    ASSERT_TRUE(id.ok());
  }
  eng->WaitIdle();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(finished.load(), 100);
  EXPECT_EQ(tokens.load(), 100 * 32);
  EXPECT_LT(s, 5.0);
}

TEST(MockerTest, OptionsAreValidated) {
  auto bad = [](MockerOptions o, const char* field) {
    auto e = CreateMockerEngine(o);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(e.status().message().find(field), std::string::npos) << e.status().ToString();
  };
  bad({.speedup = 0}, "speedup");
  bad({.num_blocks = 0}, "num_blocks");
  bad({.vocab = 1}, "vocab");
  bad({.max_num_seqs = 0}, "max_num_seqs");
  auto missing = CreateMockerEngine({.timing_profile = "/nonexistent.json"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

  // Prompts are checked against the simulated vocabulary.
  auto eng = Make({.vocab = 100, .speedup = 1000});
  ASSERT_NE(eng, nullptr);
  auto r = eng->Submit(Req({5, 100}, 16), nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("vocabulary (100)"), std::string::npos);
}

TEST(MockerTest, EngineWithExecutorNeedsExplicitBlocks) {
  auto exec = std::make_unique<SimulatedExecutor>(TimingModel::Polynomial(),
                                                  SimulatedExecutor::Options{});
  auto e = engine::Engine::CreateWithExecutor(std::move(exec), {});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("kv_cache_blocks"), std::string::npos);
}

TEST(MockerTest, StepShapeSplitsPrefillAndDecode) {
  SimulatedExecutor exec(TimingModel::Polynomial(), {.kv_capacity_tokens = 4096});
  const std::vector<int32_t> toks = Prompt(64);
  const std::vector<int32_t> blocks = {0, 1, 2, 3};
  std::vector<model::BatchSequence> seqs = {
      {.tokens = std::span(toks).subspan(10, 1), .block_table = blocks, .pos0 = 10},  // decode
      {.tokens = std::span(toks).subspan(0, 1), .block_table = blocks, .pos0 = 0},    // 1-token prompt
      {.tokens = std::span(toks).subspan(16, 32), .block_table = blocks, .pos0 = 16}, // chunk
  };
  const StepShape s = exec.ShapeOf({.seqs = seqs});
  EXPECT_EQ(s.prefill_tokens, 33);
  EXPECT_EQ(s.decode_seqs, 1);
  EXPECT_EQ(s.decode_kv_tokens, 11);
  EXPECT_EQ(s.kv_capacity_tokens, 4096);
}

}  // namespace
}  // namespace mint::mocker

namespace mint::mocker {
namespace {

// A FakeClock runs the mocker in virtual time: the profile's step times add up on the clock
// exactly, and no wall time is slept (the same engine the wall-clock tests drive).
TEST(MockerVirtualTimeTest, StepsAdvanceAFakeClockByTheirPredictedTimes) {
  const std::string path = testing::TempDir() + "/mocker_virtual_profile.json";
  // Prefill 1000 ms per 1000 tokens (1 ms each), decode 10 ms per step whatever the batch.
  std::ofstream(path) << R"({"prefill": [[1, 1], [1000, 1000]], "decode": [[1, 10]]})";
  FakeClock clock;
  MockerOptions o{.num_blocks = 1024, .timing_profile = path};
  o.clock = &clock;
  auto eng = CreateMockerEngine(o);
  ASSERT_TRUE(eng.ok()) << eng.status().ToString();
  const auto t0 = std::chrono::steady_clock::now();
  Request r;
  r.prompt.assign(500, 7);
  r.max_tokens = 200;
  auto out = engine::RunToCompletion(eng->get(), r);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::remove(path.c_str());
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->tokens.size(), 200u);
  // One prefill step of 500 tokens (its first token included) and 199 decode steps.
  EXPECT_NEAR(clock.NowSeconds(), 0.5 + 199 * 0.010, 0.01);
  std::printf("2.49 s of virtual time in %.3f s of wall time\n", wall);
}

// The engine's CPU time between two back-to-back steps is not simulated time: the second step
// ends where the first ended plus its own time (unless that is already past); after a wait for
// work it starts from now.
TEST(MockerVirtualTimeTest, BackToBackStepsDoNotCountTheEnginesOwnTime) {
  // 10 ms per decode step whatever the batch.
  auto timing = TimingModel::ParseProfile(R"({"prefill": [[1, 1]], "decode": [[1, 10]]})");
  ASSERT_TRUE(timing.ok());
  FakeClock clock;
  SimulatedExecutor ex(*timing, {.vocab = 64, .clock = &clock});
  const std::vector<int32_t> token = {5};
  const std::vector<int32_t> table = {0};
  const model::BatchSequence seq{.tokens = token,
                                 .block_table = table,
                                 .pos0 = 8,
                                 .logits = model::BatchSequence::Logits::kLast};
  std::vector<int32_t> out(1);
  auto step = [&](bool back_to_back) {
    const engine::StepBatch b{.seqs = std::span(&seq, 1), .back_to_back = back_to_back};
    ASSERT_TRUE(ex.ExecuteChoosingTokens(b, out).ok());
  };
  constexpr int64_t kMs = 1000000;
  step(false);
  EXPECT_EQ(clock.NowNanos(), 10 * kMs);
  clock.AdvanceNanos(3 * kMs);  // the engine's own work between the steps
  step(true);
  EXPECT_EQ(clock.NowNanos(), 20 * kMs);
  clock.AdvanceNanos(25 * kMs);  // longer than a step: the next one cannot end in the past
  step(true);
  EXPECT_EQ(clock.NowNanos(), 45 * kMs);
  clock.AdvanceNanos(3 * kMs);  // a wait for work: the next step starts now
  step(false);
  EXPECT_EQ(clock.NowNanos(), 58 * kMs);
}

}  // namespace
}  // namespace mint::mocker
