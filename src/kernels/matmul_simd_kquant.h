// Q4_K and Q6_K weights x Q8_K activations, for matmul_simd.h (same rules: ISA files only).
//
// Both formats keep the whole super-block's dot product in int32: maddubs multiplies unsigned
// weight codes by signed activations into 16-bit pairs, and a 16-bit multiply-add (dpwssd on
// AVX-512) applies the sub-block scale. The constant parts (Q4_K mins, Q6_K's -32 offset) come
// from the activations' bsums, once per super-block. One float conversion per super-block.
#pragma once

#include <cstring>

namespace mint::kernels::matmul_detail {
namespace {

// The 8 scales of a Q4_K block, each broadcast to 16 x i16, and the 8 mins as 16 x i16
// (m0, m0, m1, m1, ...: one per 16-value bsum).
inline void UnpackQ4KScalesSimd(const BlockQ4_K& blk, __m256i sc[8], __m256i* mins) {
  uint32_t u[3];
  std::memcpy(u, blk.scales, sizeof(u));
  constexpr uint32_t kLow6 = 0x3F3F3F3F, kLow4 = 0x0F0F0F0F, kLow2 = 0x03030303;
  const uint32_t sc_lo = u[0] & kLow6;
  const uint32_t sc_hi = (u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4);
  const uint32_t m_lo = u[1] & kLow6;
  const uint32_t m_hi = ((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kLow2) << 4);
  const __m128i sc8 = _mm_cvtsi64_si128(static_cast<int64_t>(sc_lo | uint64_t{sc_hi} << 32));
  const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sc8));
  MINT_UNROLL
  for (int k = 0; k < 8; ++k) {
    sc[k] = _mm256_shuffle_epi8(sc16,
                                _mm256_set1_epi16(static_cast<int16_t>((2 * k + 1) << 8 | 2 * k)));
  }
  const __m128i m8 = _mm_cvtsi64_si128(static_cast<int64_t>(m_lo | uint64_t{m_hi} << 32));
  *mins = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
}

// Register budget of the K-quant tiles: NR x NT int32 super-block sums plus NR x NT float
// accumulators must fit with a few temporaries (32 vector registers on AVX-512, 16 on AVX2);
// scale vectors and activations are read from L1 as memory operands.
inline constexpr int kKQuantRows = MINT_MATMUL_AVX512 ? 4 : 2;
inline constexpr int kKQuantTokens = MINT_MATMUL_AVX512 ? 3 : 2;

// acc += a_d * (d * isum - dmin * msum) for one super-block of one row x token.
inline __m256 FinishSuperBlock(__m256 acc, __m256i isum, __m256i msum, __m256 d, __m256 dmin,
                               __m256 a_d) {
  const __m256 f =
      _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), dmin, _mm256_mul_ps(_mm256_cvtepi32_ps(isum), d));
  return _mm256_fmadd_ps(f, a_d, acc);
}

struct Q4_KKernel {
  static constexpr int kRows = kKQuantRows;
  static constexpr int kTokens = kKQuantTokens;

  template <int NR, int NT>
  static void Tile(const Problem& p, int64_t r, int64_t t) {
    const int64_t nb = p.cols / kQK_K;
    const BlockQ4_K* w[NR];
    MINT_UNROLL
    for (int i = 0; i < NR; ++i)
      w[i] = reinterpret_cast<const BlockQ4_K*>(p.w + (r + i) * p.row_bytes);
    const BlockQ8_K* a[NT];
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) a[j] = p.q8k + (t + j) * nb;
    __m256 acc[NR][NT];
    MINT_UNROLL
    for (auto& row : acc)
      for (auto& v : row) v = _mm256_setzero_ps();
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    for (int64_t b = 0; b < nb; ++b) {
      __m256i sc[NR][8], mins[NR];
      __m256 d[NR], dmin[NR];
      MINT_UNROLL
      for (int i = 0; i < NR; ++i) {
        UnpackQ4KScalesSimd(w[i][b], sc[i], &mins[i]);
        d[i] = _mm256_set1_ps(F16(w[i][b].d));
        dmin[i] = _mm256_set1_ps(F16(w[i][b].dmin));
      }
      __m256i isum[NR][NT];
      MINT_UNROLL
      for (auto& row : isum)
        for (auto& v : row) v = _mm256_setzero_si256();
      MINT_UNROLL
      for (int c = 0; c < 4; ++c) {
        MINT_UNROLL
        for (int i = 0; i < NR; ++i) {
          const __m256i v = Load256(w[i][b].qs + 32 * c);
          const __m256i lo = _mm256_and_si256(v, nibble);
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
          MINT_UNROLL
          for (int j = 0; j < NT; ++j) {
            const int8_t* aq = a[j][b].qs + 64 * c;
            isum[i][j] = DotI16(isum[i][j], _mm256_maddubs_epi16(lo, Load256(aq)), sc[i][2 * c]);
            isum[i][j] =
                DotI16(isum[i][j], _mm256_maddubs_epi16(hi, Load256(aq + 32)), sc[i][2 * c + 1]);
          }
        }
      }
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) {
        const __m256i bsums = Load256(a[j][b].bsums);
        const __m256 a_d = _mm256_set1_ps(a[j][b].d);
        MINT_UNROLL
        for (int i = 0; i < NR; ++i) {
          acc[i][j] = FinishSuperBlock(acc[i][j], isum[i][j], _mm256_madd_epi16(mins[i], bsums),
                                       d[i], dmin[i], a_d);
        }
      }
    }
    StoreTile<NR, NT>(p, r, t, acc);
  }
};

// Q6_K scale vector k in [0, 8): scales 2k and 2k + 1, each over 8 x i16 (one maddubs result
// covers 32 values = two 16-value groups).
inline __m256i Q6KScalePair(__m128i scales8, int k) {
  const __m128i pick =
      _mm_setr_epi8(2 * k, 2 * k, 2 * k, 2 * k, 2 * k, 2 * k, 2 * k, 2 * k, 2 * k + 1, 2 * k + 1,
                    2 * k + 1, 2 * k + 1, 2 * k + 1, 2 * k + 1, 2 * k + 1, 2 * k + 1);
  return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales8, pick));
}

struct Q6_KKernel {
  static constexpr int kRows = kKQuantRows;
  static constexpr int kTokens = kKQuantTokens;

  template <int NR, int NT>
  static void Tile(const Problem& p, int64_t r, int64_t t) {
    const int64_t nb = p.cols / kQK_K;
    const BlockQ6_K* w[NR];
    MINT_UNROLL
    for (int i = 0; i < NR; ++i)
      w[i] = reinterpret_cast<const BlockQ6_K*>(p.w + (r + i) * p.row_bytes);
    const BlockQ8_K* a[NT];
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) a[j] = p.q8k + (t + j) * nb;
    __m256 acc[NR][NT];
    MINT_UNROLL
    for (auto& row : acc)
      for (auto& v : row) v = _mm256_setzero_ps();
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i high2 = _mm256_set1_epi8(0x30);
    for (int64_t b = 0; b < nb; ++b) {
      __m256i sc[NR][8], sc16[NR];
      __m256 d[NR];
      MINT_UNROLL
      for (int i = 0; i < NR; ++i) {
        const __m128i s8 = Load128(w[i][b].scales);
        sc16[i] = _mm256_cvtepi8_epi16(s8);
        MINT_UNROLL
        for (int k = 0; k < 8; ++k) sc[i][k] = Q6KScalePair(s8, k);
        d[i] = _mm256_set1_ps(F16(w[i][b].d));
      }
      __m256i isum[NR][NT];
      MINT_UNROLL
      for (auto& row : isum)
        for (auto& v : row) v = _mm256_setzero_si256();
      MINT_UNROLL
      for (int h = 0; h < 2; ++h) {
        MINT_UNROLL
        for (int i = 0; i < NR; ++i) {
          const __m256i ql0 = Load256(w[i][b].ql + 64 * h);
          const __m256i ql1 = Load256(w[i][b].ql + 64 * h + 32);
          const __m256i qh = Load256(w[i][b].qh + 32 * h);
          __m256i q[4];
          q[0] = _mm256_or_si256(_mm256_and_si256(ql0, low4),
                                 _mm256_and_si256(_mm256_slli_epi16(qh, 4), high2));
          q[1] = _mm256_or_si256(_mm256_and_si256(ql1, low4),
                                 _mm256_and_si256(_mm256_slli_epi16(qh, 2), high2));
          q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                                 _mm256_and_si256(qh, high2));
          q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                                 _mm256_and_si256(_mm256_srli_epi16(qh, 2), high2));
          MINT_UNROLL
          for (int j = 0; j < NT; ++j) {
            const int8_t* aq = a[j][b].qs + 128 * h;
            MINT_UNROLL
            for (int k = 0; k < 4; ++k) {
              isum[i][j] = DotI16(isum[i][j], _mm256_maddubs_epi16(q[k], Load256(aq + 32 * k)),
                                  sc[i][4 * h + k]);
            }
          }
        }
      }
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) {
        const __m256i bsums = Load256(a[j][b].bsums);
        const __m256 a_d = _mm256_set1_ps(a[j][b].d);
        MINT_UNROLL
        for (int i = 0; i < NR; ++i) {
          // Codes are q + 32: subtract 32 * sum over groups of scale * bsum.
          const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(sc16[i], bsums), 5);
          const __m256 dot =
              _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(isum[i][j], offset)), d[i]);
          acc[i][j] = _mm256_fmadd_ps(dot, a_d, acc[i][j]);
        }
      }
    }
    StoreTile<NR, NT>(p, r, t, acc);
  }
};

}  // namespace
}  // namespace mint::kernels::matmul_detail
