// stories260K.gguf against the reference produced by llama.cpp (an implementation we did not
// write): greedy token ids must match exactly, log-probabilities closely (bounds below).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/generate.h"
#include "model/model.h"

namespace mint::model {
namespace {

const std::string kModel = std::string(MINT_SHARED_DIR) + "/models/stories260K.gguf";
const std::string kReference =
    std::string(MINT_SHARED_DIR) + "/reference/stories260K-greedy-top5.json";

class StoriesReferenceTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kModel) || !std::filesystem::exists(kReference)) {
      GTEST_SKIP() << "shared model/reference absent: " << kModel << ", " << kReference;
    }
    std::ifstream in(kReference);
    reference_ = nlohmann::json::parse(in);
    auto m = Model::Load(kModel);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    model_ = std::move(m).value();
  }
  nlohmann::json reference_;
  std::unique_ptr<Model> model_;
};

TEST_P(StoriesReferenceTest, GreedyIdsAndLogprobsMatchLlamaCpp) {
  const auto& c = reference_["cases"][GetParam()];
  const std::vector<int32_t> prompt = c["prompt_token_ids"].get<std::vector<int32_t>>();
  const std::vector<int32_t> expected = c["completion_token_ids"].get<std::vector<int32_t>>();
  ThreadPool pool(2);
  auto seq = model_->NewSequence(prompt.size() + expected.size() + 1);
  std::vector<int32_t> got;
  double max_logprob_error = 0;  // over the top-5 candidates
  double chosen_error = 0;        // over the chosen tokens
  engine::GenerateOptions opts{.max_new_tokens = static_cast<int64_t>(expected.size()),
                               .sampling = {.temperature = 0.0f}};
  std::vector<float> logprobs(model_->config().n_vocab);
  auto stats = engine::Generate(
      *model_, seq.get(), prompt, opts, &pool, [&](int32_t t, std::span<const float> logits) {
        const auto& step = c["steps"][got.size()];
        engine::LogSoftmax(logits, logprobs);
        chosen_error = std::max(
            chosen_error, std::abs(logprobs[step["id"].get<int>()] - step["logprob"].get<double>()));
        for (const auto& top : step["top"]) {
          const double err = std::abs(logprobs[top["id"].get<int>()] - top["logprob"].get<double>());
          max_logprob_error = std::max(max_logprob_error, err);
        }
        got.push_back(t);
        return true;
      });
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(got, expected) << "prompt: " << c["prompt"];
  // llama.cpp keeps its KV cache in F16, so its own log-probabilities stray from an exact
  // computation: the fp64 numpy pass below differs from this reference by up to 1.25e-2 on
  // unlikely top-5 candidates and 4e-3 on chosen tokens. Mint must be at least that close; the
  // tight check is against the fp64 pass (Fp64OracleTest).
  EXPECT_LT(chosen_error, 5e-3);
  EXPECT_LT(max_logprob_error, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(AllPrompts, StoriesReferenceTest, ::testing::Range(0, 4));

// Teacher-forced on the reference ids, Mint's log-probabilities of the reference's top-5 tokens
// must match an fp64 numpy forward pass (tests/model/stories_fp64_oracle.py) within 1e-4.
TEST_F(StoriesReferenceTest, MatchesFp64NumpyForwardPass) {
  const int case_index = 1;
  const std::string cmd = std::string("/usr/bin/python3 ") + MINT_SOURCE_DIR +
                          "/tests/model/stories_fp64_oracle.py " + kModel + " " + kReference +
                          " " + std::to_string(case_index) + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  if (pclose(p) != 0 || out.empty()) GTEST_SKIP() << "python3-numpy unavailable for the oracle";
  const auto oracle = nlohmann::json::parse(out);
  const auto& c = reference_["cases"][case_index];
  std::vector<int32_t> ids = c["prompt_token_ids"].get<std::vector<int32_t>>();
  const size_t n_prompt = ids.size();
  for (int32_t t : c["completion_token_ids"]) ids.push_back(t);
  const int64_t V = model_->config().n_vocab;
  auto seq = model_->NewSequence(ids.size());
  std::vector<float> logits(ids.size() * V), lp(V);
  ThreadPool pool(2);
  ASSERT_TRUE(model_->Forward(seq.get(), ids, logits, true, &pool).ok());
  double max_err = 0;
  for (size_t step = 0; step < oracle.size(); ++step) {
    const size_t pos = n_prompt - 1 + step;
    engine::LogSoftmax(std::span<const float>(logits.data() + pos * V, V), lp);
    for (auto it = oracle[step].begin(); it != oracle[step].end(); ++it) {
      max_err = std::max(max_err, std::abs(lp[std::stoi(it.key())] - it.value().get<double>()));
    }
  }
  EXPECT_LT(max_err, 1e-4);
}

TEST(StoriesModelTest, ConfigFromMetadata) {
  if (!std::filesystem::exists(kModel)) GTEST_SKIP() << "shared model absent: " << kModel;
  auto m = Model::Load(kModel);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const ModelConfig& c = (*m)->config();
  EXPECT_EQ(c.arch, "llama");
  EXPECT_EQ(c.n_layer, 5);
  EXPECT_EQ(c.n_embd, 64);
  EXPECT_EQ(c.n_head, 8);
  EXPECT_EQ(c.n_head_kv, 4);
  EXPECT_EQ(c.n_ff, 172);
  EXPECT_EQ(c.n_vocab, 512);
}

}  // namespace
}  // namespace mint::model
