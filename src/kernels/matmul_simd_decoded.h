// Kernels for the decoded types (decode.h: Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q5_K, IQ4_XS, MXFP4;
// IQ4_NL has its own kernel, IQ4_NLWeights), for matmul_simd.h (same rules: ISA files only).
//
// Each weight row is decoded once per token block (scalar, decode.cpp) into per-thread scratch:
// int8 values, and per 32 values one vector of 8 scales whose lanes line up with DotU8S8's
// (lanes 0-3: the first group of 16, lanes 4-7: the second). Per 32 values and token the kernel
// then runs two sign operations, one integer dot product, one conversion, one multiply and one
// FMA. The decode is the cost of this path (most of a decode step); the packed layouts replace
// it for Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q5_K and IQ4_XS matrices that can be packed (whole 16-row
// groups). MXFP4 and matrices that cannot be packed stay on it.
#pragma once

#include <vector>

#include "kernels/decode.h"

namespace mint::kernels::matmul_detail {
namespace {

struct DecodedScratch {
  std::vector<int8_t> v;
  std::vector<float> scale, offset;
  std::vector<float> scale8;  // 8 per 32 values
};

// Signed int8 x int8 dot products of 32 values, per i32 lane (4 values each): |w| x sign(a, w).
inline __m256i DotS8(__m256i w, __m256i a) {
  return DotU8S8(_mm256_setzero_si256(), _mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
}

// Decoded weights x Q8_0 activations (32-value types); the offset term uses the activation
// block's sum (the bias, multiplier 1 for types with offsets).
inline float DotDecoded32(const DecodedScratch& w, bool has_offset, const Q8_0ActView& a,
                          int64_t nb) {
  __m256 acc = _mm256_setzero_ps();
  float tail = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i dot = DotS8(Load256(w.v.data() + 32 * b), Load256(a.qs + 32 * b));
    const __m256 s = _mm256_mul_ps(_mm256_loadu_ps(w.scale8.data() + 8 * b),
                                   _mm256_set1_ps(a.d[b]));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), s, acc);
    if (has_offset) tail += w.offset[2 * b] * static_cast<float>(a.bias[b]) * a.d[b];
  }
  return Hsum(acc) + tail;
}

// Decoded weights x Q8_K activations (256-value types); offsets per 16 use the bsums.
inline float DotDecoded256(const DecodedScratch& w, bool has_offset, const BlockQ8_K* a,
                           int64_t nb) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const int8_t* v = w.v.data() + kQK_K * b;
    const float* s8 = w.scale8.data() + 64 * b;
    __m256 block = _mm256_setzero_ps();
    MINT_UNROLL
    for (int c = 0; c < 8; ++c) {
      const __m256i dot = DotS8(Load256(v + 32 * c), Load256(a[b].qs + 32 * c));
      block = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_loadu_ps(s8 + 8 * c), block);
    }
    if (has_offset) {
      const float* o = w.offset.data() + 16 * b;
      const __m256 bs0 = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(Load128(a[b].bsums)));
      const __m256 bs1 = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(Load128(a[b].bsums + 8)));
      block = _mm256_fmadd_ps(bs0, _mm256_loadu_ps(o), block);
      block = _mm256_fmadd_ps(bs1, _mm256_loadu_ps(o + 8), block);
    }
    acc = _mm256_fmadd_ps(block, _mm256_set1_ps(a[b].d), acc);
  }
  return Hsum(acc);
}

void RunDecodedRows(const Problem& p, int64_t row_begin, int64_t row_end) {
  thread_local DecodedScratch w;
  const int64_t cols = p.cols, groups = cols / kDecodeGroup;
  w.v.resize(static_cast<size_t>(cols));
  w.scale.resize(static_cast<size_t>(groups));
  w.offset.resize(static_cast<size_t>(groups));
  w.scale8.resize(static_cast<size_t>(cols / 32 * 8));
  const bool k256 = DTypeBlockElements(p.type) == kQK_K;
  const bool has_offset = DecodedHasOffset(p.type);
  const int64_t act_bytes = k256 ? cols / kQK_K * static_cast<int64_t>(sizeof(BlockQ8_K))
                                 : cols * 9 / 8;
  const int64_t block = TokenBlock(act_bytes, 1);
  for (int64_t t0 = 0; t0 < p.n_tokens; t0 += block) {
    const int64_t t1 = std::min(p.n_tokens, t0 + block);
    for (int64_t r = row_begin; r < row_end; ++r) {
      DecodeRow(p.type, p.w + r * p.row_bytes, cols, w.v.data(), w.scale.data(), w.offset.data());
      for (int64_t c = 0; c < cols / 32; ++c) {
        _mm256_storeu_ps(w.scale8.data() + 8 * c,
                         _mm256_set_m128(_mm_set1_ps(w.scale[2 * c + 1]),
                                         _mm_set1_ps(w.scale[2 * c])));
      }
      for (int64_t t = t0; t < t1; ++t) {
        p.y[t * p.rows + r] =
            k256 ? DotDecoded256(w, has_offset, p.q8k + t * (cols / kQK_K), cols / kQK_K)
                 : DotDecoded32(w, has_offset, Q8_0Acts(p, t), cols / 32);
      }
    }
  }
}

}  // namespace
}  // namespace mint::kernels::matmul_detail
