// Deterministic random blocks of any GGUF block type, for the kernel tests: random code bytes,
// with the scale fields rewritten as finite halves (or, for MXFP4, exponents) so that the
// values are finite and of a chosen size. With `any_scale` every finite half is possible,
// subnormals and negatives included (and every MXFP4 exponent): the dequantization oracle test
// wants the whole range; matmul tests want weights of a realistic size.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/kernels.h"

namespace mint::kernels::testing {

// Byte offsets of the f16 scale fields inside one block of `t` (ggml-common.h layouts).
inline std::vector<int> HalfFields(DType t) {
  switch (t) {
    case DType::kQ4_0: case DType::kQ5_0: case DType::kQ8_0: case DType::kIQ4_NL:
    case DType::kIQ4_XS:
      return {0};
    case DType::kQ4_1: case DType::kQ5_1: case DType::kQ4_K: case DType::kQ5_K:
      return {0, 2};
    case DType::kQ2_K: return {80, 82};
    case DType::kQ3_K: return {108};
    case DType::kQ6_K: return {208};
    default: return {};
  }
}

inline std::vector<uint8_t> RandomBlocks(DType t, int64_t n_values, uint64_t seed,
                                         bool any_scale) {
  const int64_t nb = n_values / DTypeBlockElements(t), bytes = DTypeBlockBytes(t);
  std::vector<uint8_t> out(static_cast<size_t>(nb * bytes));
  std::mt19937_64 rng(seed);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> magnitude(0.002f, 0.02f);
  for (int64_t i = 0; i < nb; ++i) {
    uint8_t* block = out.data() + i * bytes;
    for (int off : HalfFields(t)) {
      uint16_t h;
      if (any_scale) {
        do h = static_cast<uint16_t>(rng()); while ((h & 0x7C00) == 0x7C00);  // not inf/NaN
      } else {
        h = F32ToF16(magnitude(rng) * (rng() % 4 == 0 ? -1.0f : 1.0f));
      }
      std::memcpy(block + off, &h, sizeof(h));
    }
    if (t == DType::kMXFP4 && !any_scale) block[0] = static_cast<uint8_t>(118 + rng() % 6);
  }
  return out;
}

}  // namespace mint::kernels::testing
