#include "router/load.h"

#include <gtest/gtest.h>

namespace mint::router {
namespace {

TEST(LoadTrackerTest, RouterRecordsWithoutReports) {
  LoadTracker t;
  t.OnRouted(1, 5, 10, 160);
  t.OnRouted(2, 5, 4, 64);
  EXPECT_EQ(t.Get(5).active_blocks, 14u);
  EXPECT_EQ(t.Get(5).prefill_tokens, 224u);
  t.OnPrefillDone(1);
  t.OnPrefillDone(1);  // idempotent
  EXPECT_EQ(t.Get(5).prefill_tokens, 64u);
  t.OnFinished(1);
  EXPECT_EQ(t.Get(5).active_blocks, 4u);
  t.OnFinished(2);
  t.OnFinished(99);  // unknown: ignored
  EXPECT_EQ(t.Get(5).active_blocks, 0u);
  EXPECT_EQ(t.Get(5).prefill_tokens, 0u);
  EXPECT_EQ(t.in_flight(), 0u);
  EXPECT_EQ(t.Get(6).active_blocks, 0u);
}

TEST(LoadTrackerTest, ReportReplacesAndKeepsLaterRoutes) {
  LoadTracker t;
  t.OnRouted(1, 5, 10, 100);
  t.UpdateFromWorker(5, {.active_blocks = 30, .waiting_prefill_tokens = 50});
  EXPECT_EQ(t.Get(5).active_blocks, 30u);
  EXPECT_EQ(t.Get(5).prefill_tokens, 50u);
  t.OnRouted(2, 5, 3, 40);  // after the report: added on top
  EXPECT_EQ(t.Get(5).active_blocks, 33u);
  EXPECT_EQ(t.Get(5).prefill_tokens, 90u);
  t.OnFinished(1);  // in the report already: no change until the next report
  EXPECT_EQ(t.Get(5).active_blocks, 33u);
  t.OnPrefillDone(2);
  EXPECT_EQ(t.Get(5).prefill_tokens, 50u);
  t.OnFinished(2);
  EXPECT_EQ(t.Get(5).active_blocks, 30u);
  t.UpdateFromWorker(5, {.active_blocks = 0, .waiting_prefill_tokens = 0});
  EXPECT_EQ(t.Get(5).active_blocks, 0u);
}

TEST(LoadTrackerTest, RemoveWorkerForgetsLoad) {
  LoadTracker t;
  t.OnRouted(1, 5, 10, 100);
  t.RemoveWorker(5);
  EXPECT_EQ(t.Get(5).active_blocks, 0u);
  t.OnRouted(2, 5, 1, 1);  // back again
  t.OnFinished(1);         // the old request no longer counts anywhere
  EXPECT_EQ(t.Get(5).active_blocks, 1u);
}

}  // namespace
}  // namespace mint::router
