// The seeded synthetic tiny model (Q8_0, builtin vocabulary) that engine-level tests run on, and
// the requests they send it. Header-only: the test binaries that use it link mint_model.
#pragma once

#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "model/model.h"
#include "model/synth.h"

namespace mint::test_support {

// Written under the test temp dir, one file per seed and process (test binaries run at once), and
// removed once loaded (the model maps it; the mapping outlives the name).
inline std::unique_ptr<model::Model> LoadTinyModel(uint64_t seed) {
  const std::string path =
      (std::filesystem::path(::testing::TempDir()) /
       ("mint_tiny_q8_" + std::to_string(seed) + "_" + std::to_string(::getpid()) + ".gguf"))
          .string();
  model::SynthOptions o{.preset = "tiny", .type = model::SynthFileType::kQ8_0, .seed = seed,
                        .vocab = "builtin"};
  EXPECT_TRUE(model::WriteSynthModel(o, path).ok());
  auto m = model::Model::Load(path);
  std::error_code ec;
  std::filesystem::remove(path, ec);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? std::move(m).value() : nullptr;
}

inline engine::Request GreedyRequest(std::vector<int32_t> prompt, int64_t max_tokens,
                                     int32_t logprobs = -1) {
  engine::Request r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0;
  r.max_tokens = max_tokens;
  r.logprobs = logprobs;
  return r;
}

// `n` token ids in [3, 403), from `seed`.
inline std::vector<int32_t> RandomPrompt(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> p(static_cast<size_t>(n));
  for (auto& t : p) t = 3 + static_cast<int32_t>(rng() % 400);
  return p;
}

}  // namespace mint::test_support
