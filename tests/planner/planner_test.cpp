#include <algorithm>
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "planner/planner.h"
#include "planner/predictor.h"
#include "planner/replicas.h"

namespace mint::planner {
namespace {

std::vector<double> Feed(Predictor& p, const std::vector<double>& xs) {
  std::vector<double> out;
  for (double x : xs) {
    p.Add(x);
    out.push_back(p.Predict());
  }
  return out;
}

TEST(PredictorTest, ConstantRepeatsTheLastValue) {
  ConstantPredictor p;
  EXPECT_EQ(p.Predict(), 0);
  EXPECT_EQ(Feed(p, {3, 7, 5}), (std::vector<double>{3, 7, 5}));
}

TEST(PredictorTest, MovingAverageOverItsWindow) {
  MovingAveragePredictor p(3);
  EXPECT_EQ(Feed(p, {3, 6, 9, 12}), (std::vector<double>{3, 4.5, 6, 9}));
}

TEST(PredictorTest, HoltFollowsARampWithoutLag) {
  HoltPredictor p(0.5, 0.3);
  // A linear ramp: after the first difference sets the trend, level + trend is the next value.
  const std::vector<double> got = Feed(p, {10, 20, 30, 40, 50});
  EXPECT_DOUBLE_EQ(got[1], 30);
  EXPECT_DOUBLE_EQ(got[4], 60);
  // Hand-computed step after a change of slope: level = 0.5 * 50 + 0.5 * (40 + 10) = 50 -> the
  // ramp above continues exactly; now a flat 50: level = 0.5*50 + 0.5*60 = 55, trend = 0.3*5 +
  // 0.7*10 = 8.5, prediction 63.5.
  p.Add(50);
  EXPECT_DOUBLE_EQ(p.Predict(), 63.5);
  // Constant and moving average lag a ramp by construction; Holt does not.
  MovingAveragePredictor ma(3);
  EXPECT_LT(Feed(ma, {10, 20, 30, 40, 50}).back(), 50);
}

TEST(PredictorTest, HoltNeverPredictsBelowZero) {
  HoltPredictor p(0.9, 0.9);
  Feed(p, {100, 50, 0, 0});
  EXPECT_GE(p.Predict(), 0);
}

TEST(PredictorTest, MakePredictorChecksItsOptions) {
  EXPECT_TRUE(MakePredictor({.kind = "constant"}).ok());
  EXPECT_TRUE(MakePredictor({.kind = "moving-average", .window = 4}).ok());
  EXPECT_TRUE(MakePredictor({.kind = "holt"}).ok());
  EXPECT_EQ(MakePredictor({.kind = "arima"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(MakePredictor({.kind = "moving-average", .window = 0}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MakePredictor({.kind = "holt", .alpha = 0}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MakePredictor({.kind = "holt", .beta = 1.5}).status().code(),
            StatusCode::kInvalidArgument);
}

// A profile with round numbers: prefill 0.1 ms per token (through the origin); decode 10 ms at
// batch 1 rising linearly to 50 ms at batch 64, i.e. 10 + (b - 1) * 40 / 63 ms.
mocker::TimingModel Profile() {
  auto m = mocker::TimingModel::ParseProfile(
      R"({"prefill": [[100, 10], [10000, 1000]], "decode": [[1, 10], [64, 50]]})");
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return std::move(m).value();
}

const LoadForecast kLoad{.requests = 600, .isl = 2000, .osl = 200, .interval_s = 60};
const Sla kSla{.ttft_s = 2.0, .itl_s = 0.030};
// No headroom beyond the TTFT bound, so the counts below are the formulas' own.
const WorkerShape kFull{.kv_capacity_tokens = 0, .max_num_seqs = 256, .max_utilization = 1};

TEST(ReplicasTest, HandComputedCounts) {
  const mocker::TimingModel m = Profile();
  // Prefill: 600 x 2000 / 60 = 20,000 tok/s needed; one worker: 2000 tokens in 200 ms = 10,000
  // tok/s at full load, planned at most 1 - 0.2 / 2 = 90 % busy (M/M/1 TTFT within 2 s): 9,000
  // -> ceil(2.22) = 3. Decode: largest b with 10 + (b - 1) * 40/63 <= 30 ms is 32 (29.68 ms):
  // 32 / 0.02968 = 1,078 tok/s per worker; need 600 x 200 / 60 = 2,000 -> 2.
  const ReplicaPlan p = PlanReplicas(m, kLoad, kSla, {}, kFull, {});
  EXPECT_EQ(p.prefill, 3);
  EXPECT_DOUBLE_EQ(p.prefill_tokens_per_s, 20000);
  EXPECT_NEAR(p.prefill_tokens_per_s_per_worker, 9000, 1e-6);
  EXPECT_EQ(p.decode_batch, 32);
  EXPECT_NEAR(p.decode_tokens_per_s_per_worker, 32 / (0.010 + 31 * 0.040 / 63), 1e-6);
  EXPECT_EQ(p.decode, 2);
  EXPECT_FALSE(p.ttft_unreachable);
  EXPECT_FALSE(p.itl_unreachable);
  EXPECT_FALSE(p.capped);
}

TEST(ReplicasTest, HeadroomAndTheTtftBoundLowerWhatAWorkerTakes) {
  const mocker::TimingModel m = Profile();
  // At most half busy: prefill 5,000 tok/s per worker -> 4; decode 539 -> ceil(3.71) = 4.
  WorkerShape half = kFull;
  half.max_utilization = 0.5;
  const ReplicaPlan p = PlanReplicas(m, kLoad, kSla, {}, half, {});
  EXPECT_NEAR(p.prefill_tokens_per_s_per_worker, 5000, 1e-6);
  EXPECT_EQ(p.prefill, 4);
  EXPECT_EQ(p.decode, 4);
  // A TTFT SLA of 250 ms against a 200 ms prefill leaves each worker 20 % busy: 2,000 tok/s ->
  // 10 workers.
  const ReplicaPlan tight = PlanReplicas(m, kLoad, {.ttft_s = 0.25, .itl_s = 0.030}, {}, kFull, {});
  EXPECT_NEAR(tight.prefill_tokens_per_s_per_worker, 2000, 1e-6);
  EXPECT_EQ(tight.prefill, 10);
}

TEST(ReplicasTest, DecodeWorkersTakeThePrefillRemainderWhenThatSavesAWorker) {
  const mocker::TimingModel m = Profile();
  WorkerShape w = kFull;
  w.decode_takes_prefill_overflow = true;
  // 9.5 req/s, isl 2,000, osl 100. Prefill 19,000 tok/s against 9,000 per worker: 3, or 2
  // leaving 1,000 tok/s x 0.1 ms = 0.1 busy seconds per second. Decode 950 tok/s against 1,078
  // per worker (batch 32): 0.881 + 0.1 still fits 1 worker, so 2 + 1 beats 3 + 1. That worker
  // carries 950 tok/s at batch 23 (23 / 23.97 ms = 960), leaving 1 - 23.97 / 30 = 20 % of its
  // time for prefill >= 0.1.
  const LoadForecast load{.requests = 570, .isl = 2000, .osl = 100, .interval_s = 60};
  const ReplicaPlan p = PlanReplicas(m, load, kSla, {}, w, {});
  EXPECT_EQ(p.prefill, 2);
  EXPECT_EQ(p.decode, 1);
  EXPECT_NEAR(p.prefill_on_decode, 0.1, 1e-9);
  EXPECT_NEAR(p.decode_prefill_headroom, 1 - (10 + 22 * 40.0 / 63) / 30, 1e-9);
  EXPECT_NE(p.Describe().find("0.10 worker's prefill to the decode workers"), std::string::npos)
      << p.Describe();
  EXPECT_EQ(PlanReplicas(m, load, kSla, {}, kFull, {}).prefill, 3);  // without overflow
  // kLoad: 2 prefill workers leave 0.2, and 1.855 + 0.2 decode workers round up to 3: 2 + 3 as
  // many workers as 3 + 2, with the prefill workers busier; 3 decode workers at 667 tok/s each
  // (batch 11, 16.35 ms) leave 3 x 0.455 >= 0.2.
  const ReplicaPlan tie = PlanReplicas(m, kLoad, kSla, {}, w, {});
  EXPECT_EQ(tie.prefill, 2);
  EXPECT_EQ(tie.decode, 3);
  EXPECT_NEAR(tie.prefill_on_decode, 0.2, 1e-9);
  EXPECT_NEAR(tie.decode_prefill_headroom, 3 * (1 - (10 + 10 * 40.0 / 63) / 30), 1e-9);
  // Low load, 1 req/s: prefill 0.2 of a worker; one decode worker carries 200 tok/s at batch 3
  // (11.27 ms), 62 % headroom: no prefill worker when the bounds allow none.
  const LoadForecast low{.requests = 60, .isl = 2000, .osl = 200, .interval_s = 60};
  const ReplicaPlan none = PlanReplicas(m, low, kSla, {}, w, {.min_prefill = 0});
  EXPECT_EQ(none.prefill, 0);
  EXPECT_EQ(none.decode, 1);
  EXPECT_EQ(PlanReplicas(m, low, kSla, {}, w, {}).prefill, 1);  // --min-prefill 1
  EXPECT_EQ(PlanReplicas(m, low, kSla, {}, kFull, {.min_prefill = 0}).prefill, 1);
  // An ITL SLA of 12 ms leaves that worker 1 - 11.27 / 12 = 6 % < 0.2: a prefill worker stays.
  const ReplicaPlan tight =
      PlanReplicas(m, low, {.ttft_s = 2, .itl_s = 0.012}, {}, w, {.min_prefill = 0});
  EXPECT_EQ(tight.prefill, 1);
  EXPECT_EQ(tight.prefill_on_decode, 0);
  EXPECT_NEAR(tight.decode_prefill_headroom, 1 - (10 + 2 * 40.0 / 63) / 12, 1e-9);
}

TEST(ReplicasTest, KvCapacityLimitsTheDecodeBatch) {
  // Context 2000 + 200 / 2 = 2,100 tokens; 21,000 tokens of cache hold 10 sequences: 10 / (10 +
  // 9 * 40/63 ms) = 636 tok/s per worker -> ceil(2000 / 636) = 4.
  WorkerShape w = kFull;
  w.kv_capacity_tokens = 21000;
  const ReplicaPlan p = PlanReplicas(Profile(), kLoad, kSla, {}, w, {});
  EXPECT_EQ(p.decode_batch, 10);
  EXPECT_EQ(p.decode, 4);
}

TEST(ReplicasTest, CorrectionsMoveTheCounts) {
  const mocker::TimingModel m = Profile();
  // Prefill correction 0.5 (TTFT half of expected: prefix hits) halves the need -> 10,000 /
  // 9,000 -> 2; 2 (queueing) does not raise it (3, as without).
  EXPECT_EQ(PlanReplicas(m, kLoad, kSla, {.prefill = 0.5}, kFull, {}).prefill, 2);
  EXPECT_EQ(PlanReplicas(m, kLoad, kSla, {.prefill = 2}, kFull, {}).prefill, 3);
  // Decode correction 1.5: ITL target 20 ms -> batch 16 (19.52 ms), 820 tok/s -> 3 workers.
  const ReplicaPlan d = PlanReplicas(m, kLoad, kSla, {.decode = 1.5}, kFull, {});
  EXPECT_EQ(d.decode_batch, 16);
  EXPECT_EQ(d.decode, 3);
}

TEST(ReplicasTest, UnreachableSlasAreFlagged) {
  const mocker::TimingModel m = Profile();
  // A 20,000-token prompt takes 2 s alone against a 1 s TTFT SLA; batch 1 (10 ms) misses a 5 ms
  // ITL.
  const ReplicaPlan p = PlanReplicas(m, {.requests = 6, .isl = 20000, .osl = 10, .interval_s = 60},
                                     {.ttft_s = 1, .itl_s = 0.005}, {}, kFull, {});
  EXPECT_TRUE(p.ttft_unreachable);
  EXPECT_TRUE(p.itl_unreachable);
  EXPECT_EQ(p.decode_batch, 1);
  EXPECT_NE(p.Describe().find("misses the TTFT SLA"), std::string::npos) << p.Describe();
}

TEST(ReplicasTest, BoundsAndBudget) {
  const mocker::TimingModel m = Profile();
  // No load: the minimums.
  const ReplicaPlan idle = PlanReplicas(m, {.requests = 0, .isl = 2000, .osl = 200}, kSla, {},
                                        kFull, {.min_prefill = 1, .min_decode = 2});
  EXPECT_EQ(idle.prefill, 1);
  EXPECT_EQ(idle.decode, 2);
  // Ten times the load: 23 prefill, 19 decode wanted; max 8 each.
  LoadForecast heavy = kLoad;
  heavy.requests *= 10;
  const ReplicaPlan capped =
      PlanReplicas(m, heavy, kSla, {}, kFull, {.max_prefill = 8, .max_decode = 8});
  EXPECT_EQ(capped.prefill, 8);
  EXPECT_EQ(capped.decode, 8);
  EXPECT_TRUE(capped.capped);
  // A budget of 10 workers shared in proportion to the clamped 8 + 8.
  const ReplicaPlan budget = PlanReplicas(m, heavy, kSla, {}, kFull,
                                          {.max_prefill = 8, .max_decode = 8, .max_workers = 10});
  EXPECT_EQ(budget.prefill + budget.decode, 10);
  EXPECT_EQ(budget.prefill, 5);
}

TEST(ScaleDamperTest, UpAtOnceDownAfterConsecutiveIntervals) {
  ScaleDamper d(3);
  EXPECT_EQ(d.Next(2, 5), 5);  // up at once
  EXPECT_EQ(d.Next(5, 3), 5);  // 1st lower
  EXPECT_EQ(d.Next(5, 2), 5);  // 2nd lower
  EXPECT_EQ(d.Next(5, 6), 6);  // up again: the count of lower ones restarts
  EXPECT_EQ(d.Next(6, 4), 6);
  EXPECT_EQ(d.Next(6, 3), 6);
  EXPECT_EQ(d.Next(6, 2), 4);  // 3 lower in a row: the largest of them
  EXPECT_EQ(d.Next(4, 4), 4);
}

// A ramp up, then quiet: the planner adds workers as the load rises (Holt sees the trend), and
// gives them back only after `scale_down_intervals` quiet intervals.
TEST(PlannerTest, FollowsARampAndScalesDownLate) {
  PlannerConfig c;
  c.sla = {.ttft_s = 1, .itl_s = 0.030};
  c.interval_s = 10;
  c.scale_down_intervals = 3;
  c.bounds = {.min_prefill = 1, .max_prefill = 20, .min_decode = 1, .max_decode = 20};
  auto p = Planner::Create(Profile(), c);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  FleetState fleet{.prefill = 1, .decode = 1, .decode_running = 4};
  std::vector<int> prefill;
  for (double rate : {1.0, 2.0, 4.0, 6.0, 8.0, 10.0}) {
    Observation o{.interval_s = 10, .requests = rate * 10, .isl = 2000, .osl = 200};
    const Decision d = (*p)->Step(o, fleet);
    SCOPED_TRACE(d.Describe(o, fleet));
    prefill.push_back(d.prefill);
    fleet.prefill = d.prefill;
    fleet.decode = d.decode;
  }
  // 10 req/s x 2,000 tokens = 20,000 tok/s against 10,000 per worker: 2, and Holt predicts the
  // next step of the ramp (12 req/s: 3).
  EXPECT_EQ(prefill.back(), 3) << ::testing::PrintToString(prefill);
  EXPECT_TRUE(std::is_sorted(prefill.begin(), prefill.end()));
  // Quiet: held for two intervals, released on the third to the largest count those three asked
  // for (Holt's prediction decays over them: 5.6, 2.0, then 0 req/s -> 2, 1, 1 prefill workers).
  int held = 0;
  for (int i = 0; i < 3; ++i) {
    const Decision d = (*p)->Step({.interval_s = 10, .requests = 0}, fleet);
    if (d.prefill == fleet.prefill) ++held;
    fleet.prefill = d.prefill;
    fleet.decode = d.decode;
  }
  EXPECT_EQ(held, 2);
  EXPECT_EQ(fleet.prefill, 2);
}

// A queue on the prefill workers that would take longer than half the TTFT SLA to drain adds a
// prefill worker now, whatever the forecast says.
TEST(PlannerTest, APrefillQueueAddsAWorkerAtOnce) {
  PlannerConfig c;
  c.sla = {.ttft_s = 2, .itl_s = 0.030};
  c.interval_s = 10;
  auto p = Planner::Create(Profile(), c);
  ASSERT_TRUE(p.ok());
  // Light load: 1 worker planned; usable 10,000 x 0.8 = 8,000 tok/s per worker.
  const Observation o{.interval_s = 10, .requests = 10, .isl = 2000, .osl = 200};
  const Decision calm = (*p)->Step(o, {.prefill = 1, .decode = 1, .prefill_queue_tokens = 7000});
  EXPECT_EQ(calm.prefill, 1);  // 7,000 tokens drain in 0.9 s < 1 s
  EXPECT_FALSE(calm.queue_bump);
  const Decision busy = (*p)->Step(o, {.prefill = 1, .decode = 1, .prefill_queue_tokens = 9000});
  EXPECT_EQ(busy.prefill, 2);  // 1.1 s > 1 s
  EXPECT_TRUE(busy.queue_bump);
  EXPECT_NE(busy.Describe(o, {.prefill = 1, .prefill_queue_tokens = 9000}).find("queued"),
            std::string::npos);
}

TEST(PlannerTest, CorrectionsComeFromObservedLatency) {
  PlannerConfig c;
  c.sla = {.ttft_s = 1, .itl_s = 0.030};
  c.interval_s = 10;
  auto p = Planner::Create(Profile(), c);
  ASSERT_TRUE(p.ok());
  // Profile: 2,000-token prefill 200 ms; batch 4 decode 10 + 3 x 40/63 = 11.9 ms.
  const Decision d = (*p)->Step({.interval_s = 10,
                                 .requests = 10,
                                 .isl = 2000,
                                 .osl = 200,
                                 .ttft_s = 0.1,
                                 .itl_s = 0.0238,
                                 .has_ttft = true,
                                 .has_itl = true},
                                {.prefill = 1, .decode = 1, .decode_running = 4});
  EXPECT_NEAR(d.corrections.prefill, 0.5, 1e-9);
  EXPECT_NEAR(d.corrections.decode, 0.0238 / (0.010 + 3 * 0.040 / 63), 1e-9);
  EXPECT_NE(d.Describe({}, {}).find("corrections prefill 0.50"), std::string::npos)
      << d.Describe({}, {});
  EXPECT_FALSE(Planner::Create(Profile(), {.interval_s = 0}).ok());
}

}  // namespace
}  // namespace mint::planner
