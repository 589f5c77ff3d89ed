// Comparing one position's logits from two engines (or two builds) on the same file and tokens:
// the numbers `mint gguf logits --compare` prints and the parity notes in docs/perf.md quote.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace mint::model {

struct LogitsDiff {
  double nmse = 0;     // sum((got - ref)^2) / sum(ref^2); infinity when got has a non-finite value
  double max_abs = 0;  // largest |got - ref|
  int32_t argmax_ref = -1;
  int32_t argmax_got = -1;
  int top_k = 0;         // k of the overlap below (min(k asked, vocabulary))
  int top_k_shared = 0;  // how many of ref's k largest are among got's k largest
};

// sum((got - ref)^2) / sum(ref^2) (the plain sum when ref is all zeros); infinity when got has a
// non-finite value. Requires ref.size() == got.size().
double Nmse(std::span<const float> ref, std::span<const float> got);

// Requires ref.size() == got.size() > 0.
LogitsDiff CompareLogits(std::span<const float> ref, std::span<const float> got, int top_k = 10);

// The ids of the k largest values, largest first (ties: lower id first).
std::vector<int32_t> TopK(std::span<const float> logits, int k);

// n token ids spread over the vocabulary: (i * 7919 + 1) mod n_vocab. Parity runs use the same
// formula in the other engine's harness, so neither needs a tokenizer that agrees.
std::vector<int32_t> SpreadTokenIds(int n, int64_t n_vocab);

}  // namespace mint::model
