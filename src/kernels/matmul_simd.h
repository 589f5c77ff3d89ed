// MatMul kernels shared by matmul_avx2.cpp and matmul_avx512.cpp. Include only from those files:
// everything here has internal linkage and is compiled once per ISA, so the AVX-512 build of a
// template (VNNI dot products, 32 vector registers) can never be merged with the AVX2 build.
//
// Structure: each weight type has a Kernel struct with a register tile of kRows weight rows x
// kTokens tokens. Tile<NR, NT> computes an NR x NT block of y (NR <= kRows, NT <= kTokens: the
// smaller instantiations handle the edges); RunTiles walks a row range tile by tile, token block
// by token block, so each weight block loaded into registers is reused for NT tokens (prefill)
// and decode (one token) streams each weight row exactly once.
//
// Thread-safety: reentrant; kernels only read the Problem and write their own rows of y.
#pragma once

#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "matmul_simd.h is for the *_avx2.cpp / *_avx512.cpp kernel files only"
#endif

// GCC 12's AVX-512 intrinsics build their pass-through operand from _mm512_undefined_*(), which
// it then reports as uninitialized wherever they are inlined; the value is never used.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "kernels/matmul_internal.h"
#include "kernels/quant_formats.h"

#if defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__AVX512BW__)
#define MINT_MATMUL_AVX512 1
#else
#define MINT_MATMUL_AVX512 0
#endif

namespace mint::kernels::matmul_detail {
namespace {

// ---- Primitives ----------------------------------------------------------------------------

// acc + per-i32-lane sums of four u8 x s8 products. The AVX2 form goes through 16-bit pairs
// (maddubs), so callers keep |u0*s0 + u1*s1| < 32768 (true for every use below).
inline __m256i DotU8S8(__m256i acc, __m256i u, __m256i s) {
#if MINT_MATMUL_AVX512
  return _mm256_dpbusd_epi32(acc, u, s);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}

// acc + per-i32-lane sums of two i16 x i16 products.
inline __m256i DotI16(__m256i acc, __m256i a, __m256i b) {
#if MINT_MATMUL_AVX512
  return _mm256_dpwssd_epi32(acc, a, b);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
#endif
}

inline float Hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int32_t HsumI32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

inline float F16(uint16_t h) { return _cvtsh_ss(h); }

inline __m256i Load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m128i Load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

// ---- Tile driver ---------------------------------------------------------------------------

using TileFn = void (*)(const Problem&, int64_t row, int64_t token);

template <class K, int NR, int NT>
void TileEntry(const Problem& p, int64_t row, int64_t token) {
  K::template Tile<NR, NT>(p, row, token);
}

template <class K, size_t... I>
constexpr std::array<TileFn, sizeof...(I)> MakeTileTable(std::index_sequence<I...>) {
  return {&TileEntry<K, static_cast<int>(I) / K::kTokens + 1, static_cast<int>(I) % K::kTokens + 1>...};
}

// Tokens per pass over the row range: enough that one pass's activations (`act_bytes_per_token`
// each) stay in L2 while every row tile of the range streams past them.
inline int64_t TokenBlock(int64_t act_bytes_per_token, int tile_tokens) {
  constexpr int64_t kL2Budget = 384 * 1024;
  const int64_t tokens = std::max<int64_t>(tile_tokens, kL2Budget / std::max<int64_t>(1, act_bytes_per_token));
  return tokens / tile_tokens * tile_tokens;
}

template <class K>
void RunTiles(const Problem& p, int64_t row_begin, int64_t row_end, int64_t act_bytes_per_token) {
  static constexpr auto kTable = MakeTileTable<K>(std::make_index_sequence<K::kRows * K::kTokens>());
  const int64_t block = TokenBlock(act_bytes_per_token, K::kTokens);
  for (int64_t t0 = 0; t0 < p.n_tokens; t0 += block) {
    const int64_t t1 = std::min(p.n_tokens, t0 + block);
    for (int64_t r = row_begin; r < row_end; r += K::kRows) {
      const int64_t nr = std::min<int64_t>(K::kRows, row_end - r);
      for (int64_t t = t0; t < t1; t += K::kTokens) {
        const int64_t nt = std::min<int64_t>(K::kTokens, t1 - t);
        kTable[(nr - 1) * K::kTokens + (nt - 1)](p, r, t);
      }
    }
  }
}

// ---- Activation quantization (bit-identical to QuantizeQ8_0ActsScalar) ---------------------

// Quantizes 32 values with inverse scale `id`; returns the int8 values packed in order and
// adds their per-lane partial sums (lanes 0-3: values 0-15, lanes 4-7: values 16-31) to *sums.
inline __m256i Quantize32(const float* x, __m256 id, __m256i* sum_lo, __m256i* sum_hi) {
  __m256i q[4];
  for (int k = 0; k < 4; ++k) {
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), id);
    q[k] = _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  *sum_lo = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), *sum_lo);
  *sum_hi = _mm256_add_epi32(_mm256_add_epi32(q[2], q[3]), *sum_hi);
  const __m256i p01 = _mm256_packs_epi32(q[0], q[1]);
  const __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
  const __m256i packed = _mm256_packs_epi16(p01, p23);
  return _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

inline float AbsMax(const float* x, int n) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  for (int k = 0; k < n; k += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)));
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

void QuantizeQ8_0ActsSimd(const float* x, int64_t cols, int8_t* qs, float* d, int32_t* bias,
                          int32_t bias_multiplier) {
  for (int64_t b = 0; b < cols / 32; ++b, x += 32) {
    const float amax = AbsMax(x, 32);
    d[b] = amax / 127.0f;
    const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + 32 * b), Quantize32(x, id, &lo, &hi));
    bias[b] = bias_multiplier * HsumI32(_mm256_add_epi32(lo, hi));
  }
}

void QuantizeQ8_KActsSimd(const float* x, int64_t cols, BlockQ8_K* out) {
  for (int64_t b = 0; b < cols / kQK_K; ++b, x += kQK_K) {
    const float amax = AbsMax(x, kQK_K);
    out[b].d = amax / 127.0f;
    const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    for (int k = 0; k < 8; ++k) {
      __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].qs + 32 * k),
                          Quantize32(x + 32 * k, id, &lo, &hi));
      out[b].bsums[2 * k] = static_cast<int16_t>(HsumI32(lo));
      out[b].bsums[2 * k + 1] = static_cast<int16_t>(HsumI32(hi));
    }
  }
}

// ---- Q4_0 and Q8_0 weights x Q8_0 activations ----------------------------------------------

// Weights enter the integer dot product as unsigned bytes; the activation block's bias
// (Q8_0BiasMultiplier) starts the accumulator so the sum is the signed dot product.
struct Q8_0ActView {
  const int8_t* qs;
  const float* d;
  const int32_t* bias;
};

inline Q8_0ActView Q8_0Acts(const Problem& p, int64_t t) {
  const int64_t nb = p.cols / 32;
  return {p.q8_qs + t * p.cols, p.q8_d + t * nb, p.q8_bias + t * nb};
}

// Finishes a tile: y[token j][row i] = sum of acc[i][j]'s lanes.
template <int NR, int NT>
inline void StoreTile(const Problem& p, int64_t r, int64_t t, const __m256 (&acc)[NR][NT]) {
  for (int j = 0; j < NT; ++j) {
    for (int i = 0; i < NR; ++i) p.y[(t + j) * p.rows + r + i] = Hsum(acc[i][j]);
  }
}

struct Q4_0Kernel {
  static constexpr int kRows = 4;
  static constexpr int kTokens = MINT_MATMUL_AVX512 ? 4 : 2;

  template <int NR, int NT>
  static void Tile(const Problem& p, int64_t r, int64_t t) {
    const int64_t nb = p.cols / 32;
    const BlockQ4_0* w[NR];
    for (int i = 0; i < NR; ++i) w[i] = reinterpret_cast<const BlockQ4_0*>(p.w + (r + i) * p.row_bytes);
    Q8_0ActView a[NT];
    for (int j = 0; j < NT; ++j) a[j] = Q8_0Acts(p, t + j);
    __m256 acc[NR][NT];
    for (auto& row : acc) for (auto& v : row) v = _mm256_setzero_ps();
    // Low nibbles (values 0-15) in the low 128 bits, high nibbles (16-31) in the high 128.
    const __m256i shift = _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4);
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    for (int64_t b = 0; b < nb; ++b) {
      __m256i q[NR];
      __m256 dw[NR];
      for (int i = 0; i < NR; ++i) {
        const __m256i packed = _mm256_broadcastsi128_si256(Load128(w[i][b].qs));
        q[i] = _mm256_and_si256(_mm256_srlv_epi32(packed, shift), nibble);
        dw[i] = _mm256_set1_ps(F16(w[i][b].d));
      }
      for (int j = 0; j < NT; ++j) {
        const __m256i av = Load256(a[j].qs + 32 * b);
        const __m256 da = _mm256_set1_ps(a[j].d[b]);
        const __m256i bias = _mm256_zextsi128_si256(_mm_cvtsi32_si128(a[j].bias[b]));
        for (int i = 0; i < NR; ++i) {
          const __m256 dot = _mm256_cvtepi32_ps(DotU8S8(bias, q[i], av));
          acc[i][j] = _mm256_fmadd_ps(dot, _mm256_mul_ps(dw[i], da), acc[i][j]);
        }
      }
    }
    StoreTile<NR, NT>(p, r, t, acc);
  }
};

struct Q8_0Kernel {
  static constexpr int kRows = 4;
  static constexpr int kTokens = MINT_MATMUL_AVX512 ? 4 : 2;

  template <int NR, int NT>
  static void Tile(const Problem& p, int64_t r, int64_t t) {
    const int64_t nb = p.cols / 32;
    const BlockQ8_0* w[NR];
    for (int i = 0; i < NR; ++i) w[i] = reinterpret_cast<const BlockQ8_0*>(p.w + (r + i) * p.row_bytes);
    Q8_0ActView a[NT];
    for (int j = 0; j < NT; ++j) a[j] = Q8_0Acts(p, t + j);
    __m256 acc[NR][NT];
    for (auto& row : acc) for (auto& v : row) v = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      __m256i q[NR];
#if !MINT_MATMUL_AVX512
      __m256i qabs[NR];
#endif
      __m256 dw[NR];
      for (int i = 0; i < NR; ++i) {
        q[i] = Load256(w[i][b].qs);
#if MINT_MATMUL_AVX512
        q[i] = _mm256_xor_si256(q[i], _mm256_set1_epi8(static_cast<char>(0x80)));  // w + 128
#else
        qabs[i] = _mm256_sign_epi8(q[i], q[i]);
#endif
        dw[i] = _mm256_set1_ps(F16(w[i][b].d));
      }
      for (int j = 0; j < NT; ++j) {
        const __m256i av = Load256(a[j].qs + 32 * b);
        const __m256 da = _mm256_set1_ps(a[j].d[b]);
#if MINT_MATMUL_AVX512
        const __m256i bias = _mm256_zextsi128_si256(_mm_cvtsi32_si128(a[j].bias[b]));
#endif
        for (int i = 0; i < NR; ++i) {
#if MINT_MATMUL_AVX512
          const __m256i isum = DotU8S8(bias, q[i], av);
#else
          // |w| x (a with w's sign): maddubs needs its first operand unsigned.
          const __m256i isum = DotU8S8(_mm256_setzero_si256(), qabs[i], _mm256_sign_epi8(av, q[i]));
#endif
          acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw[i], da), acc[i][j]);
        }
      }
    }
    StoreTile<NR, NT>(p, r, t, acc);
  }
};

}  // namespace
}  // namespace mint::kernels::matmul_detail

#include "kernels/matmul_simd_kquant.h"
#include "kernels/matmul_simd_float.h"

namespace mint::kernels::matmul_detail {
namespace {

void MatMulRowsSimd(const Problem& p, int64_t row_begin, int64_t row_end) {
  switch (p.type) {
    case DType::kQ4_0: return RunTiles<Q4_0Kernel>(p, row_begin, row_end, p.cols * 9 / 8);
    case DType::kQ8_0: return RunTiles<Q8_0Kernel>(p, row_begin, row_end, p.cols * 9 / 8);
    case DType::kQ4_K: return RunTiles<Q4_KKernel>(p, row_begin, row_end, p.cols * 292 / 256);
    case DType::kQ6_K: return RunTiles<Q6_KKernel>(p, row_begin, row_end, p.cols * 292 / 256);
    case DType::kF32: return RunTiles<FloatKernel<F32Weights>>(p, row_begin, row_end, p.cols * 4);
    case DType::kF16: return RunTiles<FloatKernel<F16Weights>>(p, row_begin, row_end, p.cols * 4);
    case DType::kBF16:
#if MINT_MATMUL_AVX512
      return RunTiles<Bf16DotKernel>(p, row_begin, row_end, p.bf16_stride * 2);
#else
      return RunTiles<FloatKernel<Bf16Weights>>(p, row_begin, row_end, p.cols * 4);
#endif
  }
}

}  // namespace
}  // namespace mint::kernels::matmul_detail
