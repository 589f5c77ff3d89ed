#include "mocker/timing_model.h"

#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "engine/executor.h"

namespace mint::mocker {
namespace {

TEST(TimingModelTest, DynamoPolynomialDefaults) {
  const TimingModel m = TimingModel::Polynomial();
  EXPECT_FALSE(m.is_profile());
  EXPECT_EQ(m.PrefillMs(0), 0);
  EXPECT_NEAR(m.PrefillMs(1000), 4.209989e-07 * 1e6 + 15.18344 + 16.50142, 1e-9);
  EXPECT_EQ(m.DecodeMs(0, 0, 1000), 0);
  EXPECT_NEAR(m.DecodeMs(1, 0, 1000), 5.74, 1e-9);                        // empty cache
  EXPECT_NEAR(m.DecodeMs(8, 500, 1000), -25.74 * 0.25 + 54.01 * 0.5 + 5.74, 1e-9);
  EXPECT_NEAR(m.DecodeMs(8, 5000, 1000), -25.74 + 54.01 + 5.74, 1e-9);   // usage clamped to 1
  // A mixed step costs both parts.
  EXPECT_NEAR(m.StepMs({.prefill_tokens = 1000, .decode_seqs = 1, .decode_kv_tokens = 0,
                        .kv_capacity_tokens = 1000}),
              m.PrefillMs(1000) + 5.74, 1e-9);
}

TEST(TimingModelTest, ProfileInterpolatesPiecewiseLinearly) {
  auto m = TimingModel::ParseProfile(R"({
      "prefill": [[16, 2], [256, 20], [1024, 100]],
      "decode": [[1, 10], [8, 24]],
      "decode_ms_per_kv_token": 0.001, "source": "unit test"})");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE(m->is_profile());
  EXPECT_NEAR(m->PrefillMs(16), 2, 1e-9);
  EXPECT_NEAR(m->PrefillMs(136), 11, 1e-9);      // halfway between the first two points
  EXPECT_NEAR(m->PrefillMs(2048), 100 + 1024 * 80.0 / 768, 1e-9);  // along the last segment
  EXPECT_NEAR(m->PrefillMs(1), 0.875, 1e-9);     // and along the first, below the range
  EXPECT_NEAR(m->DecodeMs(4, 1000, 0), 16 + 1.0, 1e-9);
  EXPECT_NE(m->Describe().find("unit test"), std::string::npos);

  auto single = TimingModel::ParseProfile(R"({"prefill": [[100, 10]], "decode": [[1, 5]]})");
  ASSERT_TRUE(single.ok());
  EXPECT_NEAR(single->PrefillMs(50), 10, 1e-9);
  EXPECT_NEAR(single->PrefillMs(200), 20, 1e-9);  // one point: proportional above it
}

TEST(TimingModelTest, ProfileErrorsAreClear) {
  auto expect_error = [](const std::string& json, const std::string& needle) {
    auto m = TimingModel::ParseProfile(json);
    ASSERT_FALSE(m.ok()) << json;
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(m.status().message().find(needle), std::string::npos)
        << m.status().ToString() << " lacks " << needle;
  };
  expect_error("{", "not valid JSON");
  expect_error("[1, 2]", "JSON object");
  expect_error(R"({"decode": [[1, 1]]})", "\"prefill\": missing");
  expect_error(R"({"prefill": [], "decode": [[1, 1]]})", "non-empty array");
  expect_error(R"({"prefill": [[1, 1]], "decode": [[1, "x"]]})", "\"decode\"[0]");
  expect_error(R"({"prefill": [[1, 1], [1, 2]], "decode": [[1, 1]]})", "increase strictly");
  expect_error(R"({"prefill": [[1, -1]], "decode": [[1, 1]]})", "ms >= 0");
  expect_error(R"({"prefill": [[1, 1]], "decode": [[1, 1]], "decode_ms_per_kv_token": -1})",
               "decode_ms_per_kv_token");
}

TEST(TimingModelTest, PrefillAfterCachedTokensCostsPerNewTokenPerCachedToken) {
  auto m = TimingModel::ParseProfile(
      R"({"prefill": [[100, 10], [200, 20]], "decode": [[1, 5]], "prefill_ms_per_kv_token": 1e-5})");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_NEAR(m->PrefillMs(100), 10, 1e-9);
  EXPECT_NEAR(m->PrefillMs(100, 100 * 1000), 11, 1e-9);  // 100 new tokens after 1,000 cached
  // The step shape counts it: a chunk of 100 at position 1,000 and one of 50 at 0.
  engine::StepShapeCounts c;
  c.Add(1000, 100);
  c.Add(0, 50);
  c.Add(77, 1);  // a decode
  EXPECT_EQ(c.prefill_tokens, 150);
  EXPECT_EQ(c.prefill_kv_tokens, 100000);
  EXPECT_EQ(c.decode_kv_tokens, 78);
  EXPECT_NEAR(m->StepMs({.prefill_tokens = 150, .prefill_kv_tokens = 100000}),
              m->PrefillMs(150) + 1.0, 1e-9);
  EXPECT_FALSE(TimingModel::ParseProfile(
                   R"({"prefill": [[1, 1]], "decode": [[1, 1]], "prefill_ms_per_kv_token": -1})")
                   .ok());
}

TEST(TimingModelTest, VersionOneProfilesNameTheirDevice) {
  auto m = TimingModel::ParseProfile(R"j({"prefill": [[1, 1]], "decode": [[1, 1]], "version": 1,
      "device": "Xeon (2 threads)", "cost_per_hour": 0.08, "kv_bytes_per_token": 36864,
      "kv_capacity_tokens": 65536, "kv_transfer_gbps": 12.5})j");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const DeviceInfo& d = m->device();
  EXPECT_EQ(d.version, 1);
  EXPECT_EQ(d.device, "Xeon (2 threads)");
  EXPECT_DOUBLE_EQ(*d.cost_per_hour, 0.08);
  EXPECT_EQ(*d.kv_bytes_per_token, 36864u);
  EXPECT_EQ(*d.kv_capacity_tokens, 65536);
  EXPECT_DOUBLE_EQ(*d.kv_transfer_gbps, 12.5);
  // Version 0 files (no device fields) read as before.
  auto old = TimingModel::ParseProfile(R"({"prefill": [[1, 1]], "decode": [[1, 1]]})");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->device().version, 0);
  EXPECT_FALSE(old->device().cost_per_hour.has_value());
  for (const char* bad :
       {R"("version": 2)", R"("version": "1")", R"("cost_per_hour": -1)",
        R"("kv_transfer_gbps": 0)", R"("kv_bytes_per_token": "x")", R"("device": 5)"}) {
    auto r = TimingModel::ParseProfile(
        std::string(R"({"prefill": [[1, 1]], "decode": [[1, 1]], )") + bad + "}");
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST(TimingModelTest, LoadProfileNamesThePath) {
  auto missing = TimingModel::LoadProfile("/nonexistent/profile.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/profile.json"), std::string::npos);

  const std::string path = testing::TempDir() + "/mocker_bad_profile.json";
  std::ofstream(path) << R"({"prefill": [[1, 1]]})";
  auto bad = TimingModel::LoadProfile(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(path + ": \"decode\": missing"), std::string::npos)
      << bad.status().ToString();
  std::remove(path.c_str());
}

}  // namespace
}  // namespace mint::mocker
