// The seconds cost: the step-time model (prior, online fit) and the predicted TTFT / ITL
// arithmetic, by hand; then the router choosing by them.
#include "router/step_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "blocks.h"
#include "router/router.h"

namespace mint::router {
namespace {

// seconds = 0.010 + 0.020 per 1,000 prefill tokens + 0.001 per 100 decodes + 0.005 per 100,000
// context tokens (no quadratic term).
constexpr StepCoefficients kLinear = {0.010, 0.020, 0.0, 0.001, 0.005};

double Linear(int64_t p, int64_t s, int64_t k) {
  return 0.010 + 0.020 * p / 1e3 + 0.001 * s / 1e2 + 0.005 * k / 1e5;
}

TEST(StepTimeModelTest, BeforeAnySampleItIsThePrior) {
  StepTimeModel m(kLinear);
  EXPECT_EQ(m.samples(), 0u);
  EXPECT_NEAR(m.PredictSeconds(512, 0, 0), Linear(512, 0, 0), 1e-12);
  EXPECT_NEAR(m.PredictSeconds(0, 32, 40000), Linear(0, 32, 40000), 1e-12);
  EXPECT_EQ(m.PredictSeconds(0, 0, 0), 0.0);  // an empty step takes no time
}

TEST(StepTimeModelTest, FitPriorRecoversAFunctionInTheFeatures) {
  const StepCoefficients c = FitPrior(Linear);
  for (int i = 0; i < kStepFeatures; ++i) EXPECT_NEAR(c[i], kLinear[i], 1e-9) << i;
}

TEST(StepTimeModelTest, DefaultPriorFollowsDynamosPolynomial) {
  StepTimeModel m(DefaultStepPrior());
  // Dynamo: prefill of 2,048 tokens 4.209989e-07 * 2048^2 + 1.518344e-02 * 2048 + 16.50142 ms.
  const double prefill = (4.209989e-07 * 2048.0 * 2048.0 + 1.518344e-02 * 2048 + 16.50142) / 1e3;
  EXPECT_NEAR(m.PredictSeconds(2048, 0, 0), prefill, 0.25 * prefill);
  // Decoding at a quarter of the cache full costs more than at an empty cache.
  EXPECT_GT(m.PredictSeconds(0, 64, 65536), m.PredictSeconds(0, 64, 1024));
}

TEST(StepTimeModelTest, OnlineFitConvergesOnASyntheticStepSeries) {
  // A worker 3x slower than the prior believes, with 5 % noise: after a few hundred steps of
  // mixed shapes the model predicts within 10 % everywhere it has seen.
  auto truth = [](int64_t p, int64_t s, int64_t k) { return 3 * Linear(p, s, k); };
  StepTimeModel m(kLinear);
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> prefill(0, 4096), seqs(1, 128), ctx(0, 200000);
  std::normal_distribution<double> noise(1.0, 0.05);
  for (int i = 0; i < 600; ++i) {
    const int64_t p = i % 3 == 0 ? prefill(rng) : 0;  // a third of the steps carry a prefill
    const int64_t s = seqs(rng), k = ctx(rng);
    m.Add({.prefill_tokens = p, .decode_seqs = s, .decode_kv_tokens = k,
           .seconds = truth(p, s, k) * noise(rng)});
  }
  EXPECT_EQ(m.samples(), 600u);
  for (auto [p, s, k] : {std::tuple<int64_t, int64_t, int64_t>{2048, 0, 0},
                         {0, 64, 100000},
                         {1024, 16, 20000},
                         {4096, 100, 150000}}) {
    EXPECT_NEAR(m.PredictSeconds(p, s, k), truth(p, s, k), 0.1 * truth(p, s, k))
        << p << " " << s << " " << k;
  }
}

TEST(StepTimeModelTest, DirectionsNoSampleExploresKeepThePrior) {
  // Decode-only samples say nothing about prefill: the prefill slope stays the prior's.
  StepTimeModel m(kLinear);
  for (int i = 0; i < 500; ++i) {
    m.Add({.decode_seqs = 8 + i % 50, .decode_kv_tokens = 1000 * (i % 90), .seconds = 0.0101});
  }
  EXPECT_NEAR(m.coefficients()[1], kLinear[1], 0.1 * kLinear[1]);
}

TEST(StepTimeModelTest, BadSamplesAreIgnored) {
  StepTimeModel m(kLinear);
  m.Add({.prefill_tokens = 10, .seconds = NAN});
  m.Add({.prefill_tokens = 10, .seconds = -1});
  EXPECT_EQ(m.samples(), 0u);
}

TEST(TimeCostTest, PrefillInChunksBesideTheDecodes) {
  const StepTimeModel m(kLinear);
  // 5,000 tokens, 8 decodes with 10,000 context tokens, 2,048 tokens per step: chunks of 2,040,
  // two full steps and one of 920.
  const double full = Linear(2040, 8, 10000), rest = Linear(920, 8, 10000);
  EXPECT_NEAR(PrefillSeconds(5000, 8, 10000, 2048, m), 2 * full + rest, 1e-12);
  EXPECT_EQ(PrefillSeconds(0, 8, 10000, 2048, m), 0.0);
  // A batch wider than the step still makes progress, one token per step.
  EXPECT_NEAR(PrefillSeconds(2, 4096, 0, 2048, m), 2 * Linear(1, 4096, 0), 1e-12);
}

TEST(TimeCostTest, HandComputedTtftAndItl) {
  const StepTimeModel m(kLinear);
  // 3,000-token request, 1,000 cached on this worker; 1,500 queued ahead; 4 requests holding
  // 6,000 KV tokens; 8,192 tokens per step. TTFT: 3,500 tokens in one chunk of 8,188.
  const TimeCostInputs in{.request_tokens = 3000, .uncached_tokens = 2000,
                          .queued_prefill_tokens = 1500, .seqs = 4, .kv_tokens = 6000,
                          .max_batched_tokens = 8192};
  const TimeCost c = PredictTimeCost(in, m, 10);
  EXPECT_NEAR(c.ttft_s, Linear(3500, 4, 6000), 1e-12);
  const double with = Linear(0, 5, 9000), without = Linear(0, 4, 6000);
  EXPECT_NEAR(c.itl_s, with + 4 * (with - without), 1e-12);
  EXPECT_NEAR(c.cost, c.ttft_s + 10 * c.itl_s, 1e-12);
  // The cached 1,000 tokens save the difference between prefilling 4,500 and 3,500 tokens; a
  // cache credit of 3 takes twice that off the cost.
  const double saved = Linear(4500, 4, 6000) - Linear(3500, 4, 6000);
  const TimeCost credited = PredictTimeCost(in, m, 10, 3);
  EXPECT_NEAR(credited.saved_s, saved, 1e-12);
  EXPECT_NEAR(credited.cost, c.cost - 2 * saved, 1e-12);
  // Everything cached still computes one token.
  TimeCostInputs cached = in;
  cached.uncached_tokens = 0;
  EXPECT_NEAR(PredictTimeCost(cached, m, 0).ttft_s, Linear(1501, 4, 6000), 1e-12);
}

RouterConfig SecondsConfig() {
  RouterConfig c{.block_size = 16, .cost = CostUnit::kSeconds};
  c.step_prior = kLinear;
  c.max_batched_tokens = 2048;
  c.itl_weight = 0;  // these cases are about the TTFT and cache terms
  return c;
}

TEST(RouterSecondsTest, ACachedPrefixWinsWhenQueuesAreEqual) {
  Router r(SecondsConfig());
  for (WorkerId w : {1, 2}) r.AddWorker(w);
  const std::vector<BlockHash> req = Blocks(100, 64);  // 1,024 tokens
  r.ApplyEvent(2, {.kind = KvCacheEvent::Kind::kStored, .block_hashes = Blocks(100, 48)});
  auto d = r.Route({.block_hashes = req, .num_tokens = 1024});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->worker, 2u);
  EXPECT_NEAR(d->predicted_ttft_s, Linear(256, 0, 0), 1e-12);
}

TEST(RouterSecondsTest, AQueueOutweighsTheCacheItWouldSave) {
  // Worker 2 holds 48 of 64 blocks but has 4,000 prompt tokens queued (its prefill then takes four
  // steps); worker 1 holds 2,000 blocks of running requests' KV and computes all 1,024 tokens in
  // one step. The block cost (default weights) counts worker 1's KV as load and sends the request
  // to the cache; the seconds cost prices the queue and the KV at what they cost in time.
  for (CostUnit unit : {CostUnit::kBlocks, CostUnit::kSeconds}) {
    RouterConfig c = SecondsConfig();
    c.cost = unit;
    Router r(c);
    for (WorkerId w : {1, 2}) r.AddWorker(w);
    r.ApplyEvent(2, {.kind = KvCacheEvent::Kind::kStored, .block_hashes = Blocks(100, 48)});
    r.UpdateLoad(2, {.active_blocks = 8, .waiting_prefill_tokens = 4000, .seqs = 3});
    r.UpdateLoad(1, {.active_blocks = 2000, .seqs = 2});
    auto d = r.Route({.block_hashes = Blocks(100, 64), .num_tokens = 1024});
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->worker, unit == CostUnit::kSeconds ? 1u : 2u) << CostUnitName(unit);
  }
}

TEST(RouterSecondsTest, ASlowerWorkerLearnedFromItsStepsGetsLessWork) {
  Router r(SecondsConfig());
  for (WorkerId w : {1, 2}) r.AddWorker(w);
  std::vector<StepSample> fast, slow;
  for (int i = 0; i < 200; ++i) {
    const int64_t p = 100 + 10 * i, s = i % 20, k = 500 * (i % 20);
    fast.push_back({p, s, k, Linear(p, s, k)});
    slow.push_back({p, s, k, 4 * Linear(p, s, k)});
  }
  r.AddStepSamples(1, slow);
  r.AddStepSamples(2, fast);
  uint64_t n = 0;
  const StepCoefficients c = r.StepModel(1, &n);
  EXPECT_EQ(n, 200u);
  EXPECT_GT(c[1], 2 * kLinear[1]);
  // Equal (empty) load: the fresh 4,096-token prompt goes to the fast worker, and keeps going
  // there until its queue makes it as slow as the slow one.
  int to_fast = 0;
  for (int i = 0; i < 4; ++i) {
    auto d = r.Route({.block_hashes = Blocks(1000 * (i + 1), 256), .num_tokens = 4096});
    ASSERT_TRUE(d.ok());
    to_fast += d->worker == 2;
  }
  EXPECT_GE(to_fast, 3);
  // The slow worker's model survives nothing once it is removed.
  r.RemoveWorker(1);
  r.StepModel(1, &n);
  EXPECT_EQ(n, 0u);
}

TEST(RouterSecondsTest, AJoiningWorkerIsPricedLikeItsPeersNotThePrior) {
  // The prior says steps take 20x longer than they do on this fleet. Workers 1 and 2 have
  // reported their steps and have a little queued; worker 3 just joined (no step yet). Priced
  // with the prior it would look 20x slower and never get the request that would teach the
  // router otherwise; priced like its peers it is the idle one and gets it.
  RouterConfig c = SecondsConfig();
  for (double& v : c.step_prior) v *= 20;
  Router r(c);
  for (WorkerId w : {1, 2, 3}) r.AddWorker(w);
  std::vector<StepSample> steps;
  for (int i = 0; i < 32; ++i) {
    const int64_t p = 50 * i, s = i % 8, k = 300 * (i % 8);
    steps.push_back({p, s, k, Linear(p, s, k)});
  }
  r.AddStepSamples(1, steps);
  r.AddStepSamples(2, steps);
  r.UpdateLoad(1, {.active_blocks = 10, .waiting_prefill_tokens = 300, .seqs = 2});
  r.UpdateLoad(2, {.active_blocks = 10, .waiting_prefill_tokens = 300, .seqs = 2});
  auto d = r.Route({.block_hashes = Blocks(500, 4), .num_tokens = 64});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->worker, 3u);
}

TEST(RouterSecondsTest, ParseCostUnitAndValidation) {
  EXPECT_EQ(*ParseCostUnit("seconds"), CostUnit::kSeconds);
  EXPECT_EQ(*ParseCostUnit("blocks"), CostUnit::kBlocks);
  EXPECT_FALSE(ParseCostUnit("ms").ok());
  RouterConfig c;
  c.itl_weight = -1;
  EXPECT_FALSE(c.Validate().ok());
  c = RouterConfig{};
  c.max_batched_tokens = 0;
  EXPECT_FALSE(c.Validate().ok());
  c = RouterConfig{};
  c.cache_credit = 0.5;
  EXPECT_FALSE(c.Validate().ok());
  c = RouterConfig{};
  c.step_prior[0] = INFINITY;
  EXPECT_FALSE(c.Validate().ok());
}

}  // namespace
}  // namespace mint::router
