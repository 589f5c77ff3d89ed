// stories260K.gguf against the reference produced by llama.cpp (an implementation we did not
// write): greedy token ids must match exactly, log-probabilities within 1e-3.
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
  double max_logprob_error = 0;
  engine::GenerateOptions opts{.max_new_tokens = static_cast<int64_t>(expected.size()),
                               .sampling = {.temperature = 0.0f}};
  std::vector<float> logprobs(model_->config().n_vocab);
  auto stats = engine::Generate(
      *model_, seq.get(), prompt, opts, &pool, [&](int32_t t, std::span<const float> logits) {
        const auto& step = c["steps"][got.size()];
        engine::LogSoftmax(logits, logprobs);
        for (const auto& top : step["top"]) {
          const double err = std::abs(logprobs[top["id"].get<int>()] - top["logprob"].get<double>());
          max_logprob_error = std::max(max_logprob_error, err);
        }
        got.push_back(t);
        return true;
      });
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(got, expected) << "prompt: " << c["prompt"];
  EXPECT_LT(max_logprob_error, 1e-3);
}

INSTANTIATE_TEST_SUITE_P(AllPrompts, StoriesReferenceTest, ::testing::Range(0, 4));

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
