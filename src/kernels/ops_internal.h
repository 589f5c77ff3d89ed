// Internal to src/kernels: the per-ISA entry points behind the elementwise, rope and attention
// ops of kernels.h, and the vectorised exp they share.
//
// The dispatchers (ops.cpp, rope.cpp, attention.cpp) are compiled for baseline x86-64 and call
// the *Avx2 / *Avx512 functions only after resolving the Isa against the CPU, so the wider code
// never runs on a machine without it.
//
// The SIMD helpers at the bottom are compiled only inside the matching *_avx2.cpp / *_avx512.cpp
// files (guarded by the compiler's ISA macros) and have internal linkage, so the same helper
// compiled with different flags in two files can never be merged by the linker.
//
// Thread-safety: every function here is reentrant and touches only its arguments.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/kernels.h"

namespace mint::kernels::ops_detail {

// kBest -> BestIsa(); a tier above what this CPU (or MINT_CPU) allows is capped to BestIsa().
inline Isa ResolveIsa(Isa isa) {
  const Isa best = BestIsa();
  if (isa == Isa::kBest) return best;
  return static_cast<int>(isa) > static_cast<int>(best) ? best : isa;
}

// ---- Elementwise ops (ops_avx2.cpp, ops_avx512.cpp) ----
void RmsNormAvx2(const float* x, const float* weight, float* y, int64_t n, float eps);
void SwiGluAvx2(const float* gate, const float* up, float* out, int64_t n);
void SoftmaxAvx2(float* x, int64_t n);
void AddAvx2(const float* x, float* y, int64_t n);
// Max of x[0, n) passing over NaN (-inf when every value is NaN); the SIMD half of ArgMax.
float MaxIgnoringNanAvx2(const float* x, int64_t n);
float MaxIgnoringNanAvx512(const float* x, int64_t n);
void RmsNormAvx512(const float* x, const float* weight, float* y, int64_t n, float eps);
void SwiGluAvx512(const float* gate, const float* up, float* out, int64_t n);
void SoftmaxAvx512(float* x, int64_t n);
void AddAvx512(const float* x, float* y, int64_t n);
void F16ToF32Avx2(const uint16_t* src, float* dst, int64_t n);
void F16ToF32Avx512(const uint16_t* src, float* dst, int64_t n);
// Round to nearest even, as F32ToF16 (the scalar reference).
void F32ToF16Avx2(const float* src, uint16_t* dst, int64_t n);
void F32ToF16Avx512(const float* src, uint16_t* dst, int64_t n);

// ---- Rope (rope_avx2.cpp, rope_avx512.cpp) ----
// Rotates one head in place with a precomputed table for the current position:
//   kInterleaved: cos_tab/sin_tab have head_dim entries, each pair's value duplicated
//                 (cos_tab[2i] == cos_tab[2i+1]); sin_tab[2i] holds -sin, sin_tab[2i+1] +sin, so
//                 y = x * cos_tab + swap_pairs(x) * sin_tab.
//   kNeox:        cos_tab/sin_tab have head_dim / 2 entries (one per pair).
void RopeHeadAvx2(float* x, int64_t head_dim, RopeMode mode, const float* cos_tab,
                  const float* sin_tab);
void RopeHeadAvx512(float* x, int64_t head_dim, RopeMode mode, const float* cos_tab,
                    const float* sin_tab);

// ---- Attention (attention*.cpp) ----
// Up to kMaxAttnRows query rows that share one kv head are processed together, so each key and
// value row is loaded once for all of them: the query heads of one kv group, and in a prefill of
// paged attention several consecutive query tokens' heads.
inline constexpr int kMaxAttnRows = 16;
// Keys are scored in blocks of this many; the online-softmax rescale happens once per block.
inline constexpr int64_t kAttnKeyBlock = 64;

struct AttnRows {
  int n_rows = 0;                     // in [1, kMaxAttnRows]
  const float* q[kMaxAttnRows] = {};  // query rows, head_dim floats each
  float* out[kMaxAttnRows] = {};      // output rows, head_dim floats each
  const float* k = nullptr;           // key of position 0 for this kv head
  const float* v = nullptr;           // value of position 0 for this kv head
  // F16 keys/values instead of k/v (the paged cache's rows, read without a conversion pass);
  // only AttendRowsAvx512 accepts them.
  const uint16_t* k16 = nullptr;
  const uint16_t* v16 = nullptr;
  int64_t kv_stride = 0;              // elements between positions
  int64_t head_dim = 0;
  int64_t n_keys = 0;  // attends to positions [0, n_keys), n_keys >= 1
  float scale = 1.0f;
  // A row's keys may come in several segments (paged KV: one per block), one call each with the
  // same scratch: `first` starts the online softmax, `last` writes out = acc / l. The running
  // state (acc, m, l) lives in scratch between calls.
  bool first = true;
  bool last = true;
};
// Floats of scratch AttendRows* needs: accumulators, one block of scores per row, and the
// running max and sum per row.
inline int64_t AttnScratchFloats(int64_t head_dim) {
  return kMaxAttnRows * (head_dim + kAttnKeyBlock + 2);
}
// Scratch layout shared by every variant.
struct AttnState {
  float* acc;  // n_rows x head_dim
  float* sc;   // n_rows x kAttnKeyBlock
  float* m;    // n_rows
  float* l;    // n_rows
};
// Where a scratch of AttnScratchFloats(head_dim) floats keeps each part.
inline AttnState AttnStateIn(float* scratch, int64_t head_dim) {
  return {scratch, scratch + kMaxAttnRows * head_dim,
          scratch + kMaxAttnRows * (head_dim + kAttnKeyBlock),
          scratch + kMaxAttnRows * (head_dim + kAttnKeyBlock) + kMaxAttnRows};
}
inline AttnState StartAttnState(const AttnRows& r, float* scratch) {
  const int64_t hd = r.head_dim;
  const AttnState st = AttnStateIn(scratch, hd);
  if (r.first) {
    for (int rr = 0; rr < r.n_rows; ++rr) {
      st.m[rr] = -INFINITY;
      st.l[rr] = 0.0f;
      for (int64_t d = 0; d < hd; ++d) st.acc[rr * hd + d] = 0.0f;
    }
  }
  return st;
}
// out = acc / l for every row (a `last` call's end; AVX-512 computes the same products).
inline void WriteAttnRows(const AttnRows& r, const AttnState& st) {
  for (int rr = 0; rr < r.n_rows; ++rr) {
    const float inv = 1.0f / st.l[rr];
    for (int64_t d = 0; d < r.head_dim; ++d) r.out[rr][d] = st.acc[rr * r.head_dim + d] * inv;
  }
}
// Moves row `from`'s running state (acc, m, l) to row `to` of the same scratch.
inline void MoveAttnRowState(float* scratch, int64_t head_dim, int from, int to) {
  const AttnState st = AttnStateIn(scratch, head_dim);
  std::copy_n(st.acc + from * head_dim, head_dim, st.acc + to * head_dim);
  st.m[to] = st.m[from];
  st.l[to] = st.l[from];
}
void AttendRowsScalar(const AttnRows& r, float* scratch);
void AttendRowsAvx2(const AttnRows& r, float* scratch);
void AttendRowsAvx512(const AttnRows& r, float* scratch);

}  // namespace mint::kernels::ops_detail

// ---- Vectorised exp, compiled only in the ISA files -----------------------------------------
// exp(x) = 2^n * exp(r), n = round(x / ln2), r = x - n ln2 (two-part ln2, Cody-Waite), exp(r) by
// its degree-7 Taylor polynomial on |r| <= ln2/2 (truncation error < 1e-8 relative). Total error
// is about 1-2 ulp. Inputs above ~88.72 give +inf, below ~-87.33 give 0; NaN propagates.
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
namespace mint::kernels::ops_detail {
namespace {

inline __m256 ExpPoly8(__m256 r) {
  __m256 p = _mm256_set1_ps(1.0f / 5040);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  return _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
}

inline __m256 Exp8(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.7228f);
  const __m256 lo = _mm256_set1_ps(-87.3365f);
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  const __m256 p = ExpPoly8(r);
  // n in [-126, 128]: scale in two halves so 2^128 (which overflows to inf) and 2^-126 work.
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1);
  const __m256i n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
  y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));  // NaN in, NaN out
}

inline float HorizontalSum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float HorizontalMax8(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Lanes [0, n) set, n in [0, 8]: for _mm256_maskload_ps / _mm256_maskstore_ps tails.
inline __m256i TailMask8(int64_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), idx);
}

}  // namespace
}  // namespace mint::kernels::ops_detail
#endif  // __AVX2__ && __FMA__

#if defined(__AVX512F__)
#include <immintrin.h>
// GCC 12's AVX-512 intrinsics (_mm512_max_ps, _mm512_reduce_*_ps, ...) pass _mm512_undefined_*()
// as the merge source, which -Wmaybe-uninitialized reports at every inlined call site (GCC bug
// 105593, fixed in 13). The value is never read; silence it for the AVX-512 translation units.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
namespace mint::kernels::ops_detail {
namespace {

inline __m512 Exp16(__m512 x) {
  // scalef computes p * 2^n with correct overflow to inf and gradual underflow, so only the
  // reduction needs clamping (to keep n finite and r small).
  const __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(89.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  const __m512 y = _mm512_scalef_ps(p, n);
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  return _mm512_mask_mov_ps(y, nan, x);
}

// Lanes [0, n) set, n in [0, 16].
inline __mmask16 TailMask16(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }

}  // namespace
}  // namespace mint::kernels::ops_detail
#endif  // __AVX512F__
