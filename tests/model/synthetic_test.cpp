// Synthetic models of every weight type, compared with the same weights dequantized to F32.
// Activation quantization (Q8_0 / Q8_K) and F16/BF16 rounding make small differences; the bound
// per type is stated below as a normalized mean squared error of the logits over a prompt.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "gguf/gguf.h"
#include "model/logits_diff.h"
#include "model/model.h"
#include "model/synth.h"

namespace mint::model {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / ("mint_" + name)).string();
}

std::string WriteSynth(const std::string& preset, SynthFileType type, uint64_t seed = 3) {
  const std::string path =
      TempPath(preset + "_" + SynthFileTypeName(type) + "_" + std::to_string(seed) + ".gguf");
  SynthOptions o{.preset = preset, .type = type, .seed = seed, .vocab = "builtin"};
  Status s = WriteSynthModel(o, path);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return path;
}

// Logits for every position of a fixed prompt.
std::vector<float> AllLogits(const std::string& path, int threads = 2) {
  auto m = Model::Load(path);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  if (!m.ok()) return {};
  const std::vector<int32_t> prompt = {1, 300, 301, 17, 400, 5, 6, 7, 250, 499, 42, 3};
  auto seq = (*m)->NewSequence(64);
  std::vector<float> logits(prompt.size() * (*m)->config().n_vocab);
  ThreadPool pool(threads);
  Status s = (*m)->Forward(seq.get(), prompt, logits, /*all_logits=*/true, &pool);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return logits;
}

struct TypeCase {
  SynthFileType type;
  double max_nmse;
};

class SyntheticTypeTest : public ::testing::TestWithParam<TypeCase> {};

TEST_P(SyntheticTypeTest, LogitsAgreeWithDequantizedF32) {
  const TypeCase tc = GetParam();
  const std::string quant = WriteSynth("tiny", tc.type);
  const std::string f32 = quant + ".f32.gguf";
  ASSERT_TRUE(DequantizeModelFile(quant, f32).ok());
  const auto ref = AllLogits(f32);
  const auto got = AllLogits(quant);
  ASSERT_EQ(ref.size(), got.size());
  ASSERT_FALSE(ref.empty());
  const double nmse = Nmse(ref, got);
  EXPECT_LT(nmse, tc.max_nmse) << SynthFileTypeName(tc.type);
  RecordProperty("nmse", std::to_string(nmse));
  std::printf("[ %-6s ] logits NMSE vs F32 = %.3g (bound %.0e)\n", SynthFileTypeName(tc.type),
              nmse, tc.max_nmse);
}

// Bounds: F32 is the same computation; F16/BF16 weights are exact after dequantization, so only
// summation order and (BF16 on AVX-512) bf16 activations differ; quantized types differ by the
// 8-bit activation quantization.
INSTANTIATE_TEST_SUITE_P(
    AllTypes, SyntheticTypeTest,
    ::testing::Values(TypeCase{SynthFileType::kF32, 1e-10}, TypeCase{SynthFileType::kF16, 1e-6},
                      TypeCase{SynthFileType::kBF16, 1e-3}, TypeCase{SynthFileType::kQ8_0, 1e-3},
                      TypeCase{SynthFileType::kQ4_0, 1e-3}, TypeCase{SynthFileType::kQ4_K, 1e-3},
                      TypeCase{SynthFileType::kQ6_K, 1e-3},
                      TypeCase{SynthFileType::kQ4_K_M, 1e-3}, TypeCase{SynthFileType::kQ4_1, 1e-3},
                      TypeCase{SynthFileType::kQ5_0, 1e-3}, TypeCase{SynthFileType::kQ5_1, 1e-3},
                      TypeCase{SynthFileType::kQ5_K, 1e-3}, TypeCase{SynthFileType::kQ5_K_M, 1e-3},
                      TypeCase{SynthFileType::kIQ4_NL, 1e-3},
                      TypeCase{SynthFileType::kIQ4_XS, 1e-3}),
    [](const auto& info) { return std::string(SynthFileTypeName(info.param.type)); });

// A Q4_K_M file of a model whose width (288) is not a whole number of K-quant blocks, made as
// llama-quantize makes hub releases: those rows fall back to Q5_0 (Q4_K's) and Q8_0 (Q6_K's).
// It loads, and its logits agree with its own weights in F32.
TEST(SyntheticTypeTest, KQuantFileWithLlamaCppFallbacksLoads) {
  const std::string quant = WriteSynth("tiny-288", SynthFileType::kQ4_K_M);
  auto f = gguf::GgufFile::Open(quant);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  std::map<DType, int> count;
  for (const auto& t : (*f)->tensors()) count[t.type]++;
  EXPECT_GT(count[DType::kQ5_0], 0);
  EXPECT_GT(count[DType::kQ8_0], 0);
  EXPECT_GT(count[DType::kQ4_K], 0);
  EXPECT_EQ(count[DType::kQ4_0], 0);
  const std::string f32 = quant + ".f32.gguf";
  ASSERT_TRUE(DequantizeModelFile(quant, f32).ok());
  EXPECT_LT(Nmse(AllLogits(f32), AllLogits(quant)), 1e-3);
}

// The other mixes on the same 288-wide model: Q5_K_M falls back to Q5_1 (and Q8_0 for Q6_K's
// rows), IQ4_XS to IQ4_NL, as llama-quantize does.
TEST(SyntheticTypeTest, Q5_K_MAndIQ4_XSFilesWithFallbacksLoad) {
  struct Mix {
    SynthFileType type;
    DType fallback;
  };
  for (const Mix mix : {Mix{SynthFileType::kQ5_K_M, DType::kQ5_1},
                        Mix{SynthFileType::kIQ4_XS, DType::kIQ4_NL}}) {
    const std::string quant = WriteSynth("tiny-288", mix.type);
    auto f = gguf::GgufFile::Open(quant);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    std::map<DType, int> count;
    for (const auto& t : (*f)->tensors()) count[t.type]++;
    EXPECT_GT(count[mix.fallback], 0) << SynthFileTypeName(mix.type);
    const std::string f32 = quant + ".f32.gguf";
    ASSERT_TRUE(DequantizeModelFile(quant, f32).ok());
    EXPECT_LT(Nmse(AllLogits(f32), AllLogits(quant)), 1e-3) << SynthFileTypeName(mix.type);
  }
}

TEST(SyntheticArchTest, QwenArchitecturesRunAndMatchF32) {
  for (const char* preset : {"tiny-qwen2", "tiny-qwen3"}) {
    const std::string quant = WriteSynth(preset, SynthFileType::kQ8_0);
    const std::string f32 = quant + ".f32.gguf";
    ASSERT_TRUE(DequantizeModelFile(quant, f32).ok());
    auto m = Model::Load(quant);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ((*m)->config().arch, std::string(preset).substr(5));
    EXPECT_LT(Nmse(AllLogits(f32), AllLogits(quant)), 1e-3) << preset;
  }
}

TEST(SyntheticModelTest, BatchedPrefillEqualsTokenByToken) {
  const std::string path = WriteSynth("tiny", SynthFileType::kF32);
  auto m = Model::Load(path);
  ASSERT_TRUE(m.ok());
  const int64_t V = (*m)->config().n_vocab;
  const std::vector<int32_t> prompt = {1, 300, 301, 17, 400, 5, 6, 7, 250};
  ThreadPool pool(2);
  auto batched = (*m)->NewSequence(32);
  std::vector<float> all(prompt.size() * V);
  ASSERT_TRUE((*m)->Forward(batched.get(), prompt, all, true, &pool).ok());
  auto single = (*m)->NewSequence(32);
  std::vector<float> one(V);
  for (size_t i = 0; i < prompt.size(); ++i) {
    ASSERT_TRUE((*m)->Forward(single.get(), std::span(&prompt[i], 1), one, false, &pool).ok());
    std::vector<float> row(all.begin() + i * V, all.begin() + (i + 1) * V);
    EXPECT_LT(Nmse(row, one), 1e-9) << "position " << i;
  }
}

TEST(SyntheticModelTest, ThreadCountDoesNotChangeLogits) {
  const std::string path = WriteSynth("tiny", SynthFileType::kQ4_K_M);
  EXPECT_LT(Nmse(AllLogits(path, 1), AllLogits(path, 3)), 1e-9);
}

TEST(SyntheticModelTest, SameSeedSameFile) {
  const std::string a = WriteSynth("tiny", SynthFileType::kQ4_0, 11);
  const std::string b = TempPath("copy.gguf");
  SynthOptions o{.preset = "tiny", .type = SynthFileType::kQ4_0, .seed = 11, .vocab = "builtin"};
  ASSERT_TRUE(WriteSynthModel(o, b).ok());
  auto fa = gguf::GgufFile::Open(a);
  auto fb = gguf::GgufFile::Open(b);
  ASSERT_TRUE(fa.ok() && fb.ok());
  ASSERT_EQ((*fa)->file_size(), (*fb)->file_size());
  for (size_t i = 0; i < (*fa)->tensors().size(); ++i) {
    const auto& ta = (*fa)->tensors()[i];
    const auto& tb = (*fb)->tensors()[i];
    EXPECT_EQ(0, std::memcmp(ta.data, tb.data, ta.nbytes)) << ta.name;
  }
}

TEST(ModelErrorsTest, ClearErrors) {
  // Unsupported architecture.
  gguf::GgufWriter w;
  w.SetString("general.architecture", "mamba");
  const std::string path = TempPath("mamba.gguf");
  ASSERT_TRUE(w.WriteFile(path).ok());
  auto m = Model::Load(path);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(m.status().message().find("mamba"), std::string::npos) << m.status().message();

  // Bad token id and capacity overflow leave the sequence unchanged.
  auto good = Model::Load(WriteSynth("tiny", SynthFileType::kF32));
  ASSERT_TRUE(good.ok());
  auto seq = (*good)->NewSequence(4);
  std::vector<float> logits((*good)->config().n_vocab);
  const std::vector<int32_t> bad = {1, 100000};
  EXPECT_EQ((*good)->Forward(seq.get(), bad, logits, false, nullptr).code(),
            StatusCode::kInvalidArgument);
  const std::vector<int32_t> many = {1, 2, 3, 4, 5};
  EXPECT_EQ((*good)->Forward(seq.get(), many, logits, false, nullptr).code(),
            StatusCode::kOutOfRange);
  EXPECT_EQ(seq->n_past(), 0);
}

}  // namespace
}  // namespace mint::model
