// Prefill kernels for Q4_K and Q6_K, for matmul_simd.h (same rules: ISA files only).
//
// With many tokens, each weight row is read once per token tile, so per-row work (unpacking
// codes, decoding 6-bit scales) would be repeated n_tokens / kTokens times. Instead each row
// tile is prepared once per token block into per-thread scratch: codes unpacked to one byte per
// value in value order, scale vectors ready for the 16-bit multiply-add, and (Q4_K) the mins
// folded into floats. The token loop then does only: maddubs + dpwssd per 32 values, and per
// super-block one conversion and two or three FMAs.
#pragma once

#include <vector>

#include "kernels/matmul_simd_kquant.h"

namespace mint::kernels::matmul_detail {
namespace {

struct alignas(32) KPrepBlock {
  uint8_t codes[kQK_K];    // unsigned codes in value order (Q4_K: 0..15, Q6_K: 0..63)
  __m256i scales[8];       // Q6_K: i16 scale per maddubs lane, for values [32k, 32k + 32)
  int32_t scale_pairs[8];  // Q4_K: the scale of values [32k, 32k + 32) in both i16 halves
  __m256i offset_scales;   // Q6_K: the 16 group scales as i16 (for the -32 code offset)
  float neg_mins[8];       // Q4_K: -dmin * m[k] per 32 values
  float d;
};

// Per-thread scratch for one row tile: rows x super-blocks, grown on demand, never shrunk.
inline KPrepBlock* KPrepScratch(size_t blocks) {
  thread_local std::vector<KPrepBlock> scratch;
  if (scratch.size() < blocks) scratch.resize(blocks);
  return scratch.data();
}

inline void PrepareQ4KBlock(const BlockQ4_K& blk, KPrepBlock* out) {
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  MINT_UNROLL
  for (int c = 0; c < 4; ++c) {
    const __m256i v = Load256(blk.qs + 32 * c);
    _mm256_store_si256(reinterpret_cast<__m256i*>(out->codes + 64 * c),
                       _mm256_and_si256(v, nibble));
    _mm256_store_si256(reinterpret_cast<__m256i*>(out->codes + 64 * c + 32),
                       _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble));
  }
  __m256i mins16, sc[8];
  UnpackQ4KScalesSimd(blk, sc, &mins16);
  MINT_UNROLL
  for (int k = 0; k < 8; ++k) out->scale_pairs[k] = _mm256_extract_epi32(sc[k], 0);
  // mins16 holds m0, m0, m1, m1, ...: 32-bit lane k holds m[k] twice; keep one.
  const __m256i m32 = _mm256_and_si256(mins16, _mm256_set1_epi32(0xFFFF));
  _mm256_store_ps(out->neg_mins,
                  _mm256_mul_ps(_mm256_cvtepi32_ps(m32), _mm256_set1_ps(-F16(blk.dmin))));
  out->d = F16(blk.d);
}

inline void PrepareQ6KBlock(const BlockQ6_K& blk, KPrepBlock* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i high2 = _mm256_set1_epi8(0x30);
  MINT_UNROLL
  for (int h = 0; h < 2; ++h) {
    const __m256i ql0 = Load256(blk.ql + 64 * h);
    const __m256i ql1 = Load256(blk.ql + 64 * h + 32);
    const __m256i qh = Load256(blk.qh + 32 * h);
    const __m256i q[4] = {_mm256_or_si256(_mm256_and_si256(ql0, low4),
                                          _mm256_and_si256(_mm256_slli_epi16(qh, 4), high2)),
                          _mm256_or_si256(_mm256_and_si256(ql1, low4),
                                          _mm256_and_si256(_mm256_slli_epi16(qh, 2), high2)),
                          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                                          _mm256_and_si256(qh, high2)),
                          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                                          _mm256_and_si256(_mm256_srli_epi16(qh, 2), high2))};
    MINT_UNROLL
    for (int k = 0; k < 4; ++k) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(out->codes + 128 * h + 32 * k), q[k]);
    }
  }
  const __m128i s8 = Load128(blk.scales);
  out->offset_scales = _mm256_cvtepi8_epi16(s8);
  MINT_UNROLL
  for (int k = 0; k < 8; ++k) out->scales[k] = Q6KScalePair(s8, k);
  out->d = F16(blk.d);
}

template <DType kType>
struct PreparedKQuantKernel {
  static_assert(kType == DType::kQ4_K || kType == DType::kQ6_K);
  static constexpr int kRows = kKQuantRows;
  static constexpr int kTokens = kKQuantTokens;

  // Prepares rows [r, r + nr) into prep[i * nb + b].
  static void Prepare(const Problem& p, int64_t r, int64_t nr, KPrepBlock* prep) {
    const int64_t nb = p.cols / kQK_K;
    for (int64_t i = 0; i < nr; ++i) {
      const uint8_t* row = p.w + (r + i) * p.row_bytes;
      for (int64_t b = 0; b < nb; ++b) {
        if constexpr (kType == DType::kQ4_K) {
          PrepareQ4KBlock(reinterpret_cast<const BlockQ4_K*>(row)[b], &prep[i * nb + b]);
        } else {
          PrepareQ6KBlock(reinterpret_cast<const BlockQ6_K*>(row)[b], &prep[i * nb + b]);
        }
      }
    }
  }

  template <int NR, int NT>
  static void Tile(const Problem& p, const KPrepBlock* prep, int64_t r, int64_t t) {
    const int64_t nb = p.cols / kQK_K;
    const BlockQ8_K* a[NT];
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) a[j] = p.q8k + (t + j) * nb;
    __m256 acc[NR][NT];
    MINT_UNROLL
    for (auto& row : acc)
      for (auto& v : row) v = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const KPrepBlock* pb[NR];
      MINT_UNROLL
      for (int i = 0; i < NR; ++i) pb[i] = prep + i * nb + b;
      __m256i isum[NR][NT];
      MINT_UNROLL
      for (auto& row : isum)
        for (auto& v : row) v = _mm256_setzero_si256();
      MINT_UNROLL
      for (int k = 0; k < 8; ++k) {
        MINT_UNROLL
        for (int i = 0; i < NR; ++i) {
          const __m256i q =
              _mm256_load_si256(reinterpret_cast<const __m256i*>(pb[i]->codes + 32 * k));
          MINT_UNROLL
          for (int j = 0; j < NT; ++j) {
            const __m256i prod = _mm256_maddubs_epi16(q, Load256(a[j][b].qs + 32 * k));
            // Q4_K's scale is one value per 32: a broadcast load (an embedded {1to8} operand on
            // AVX-512) instead of a 32-byte vector keeps the prepared rows small.
            const __m256i scale =
                kType == DType::kQ4_K ? _mm256_set1_epi32(pb[i]->scale_pairs[k]) : pb[i]->scales[k];
            isum[i][j] = DotI16(isum[i][j], prod, scale);
          }
        }
      }
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) {
        const __m256i bsums = Load256(a[j][b].bsums);
        const __m256 a_d = _mm256_set1_ps(a[j][b].d);
        if constexpr (kType == DType::kQ4_K) {
          // Activation sums per 32 values, scaled: the min term is neg_mins . sums32.
          const __m256 sums32 = _mm256_mul_ps(
              _mm256_cvtepi32_ps(_mm256_madd_epi16(bsums, _mm256_set1_epi16(1))), a_d);
          MINT_UNROLL
          for (int i = 0; i < NR; ++i) {
            const __m256 dot =
                _mm256_mul_ps(_mm256_cvtepi32_ps(isum[i][j]), _mm256_set1_ps(pb[i]->d));
            acc[i][j] = _mm256_fmadd_ps(dot, a_d, acc[i][j]);
            acc[i][j] = _mm256_fmadd_ps(_mm256_load_ps(pb[i]->neg_mins), sums32, acc[i][j]);
          }
        } else {
          MINT_UNROLL
          for (int i = 0; i < NR; ++i) {
            const __m256i offset =
                _mm256_slli_epi32(_mm256_madd_epi16(pb[i]->offset_scales, bsums), 5);
            const __m256 dot = _mm256_mul_ps(
                _mm256_cvtepi32_ps(_mm256_sub_epi32(isum[i][j], offset)), _mm256_set1_ps(pb[i]->d));
            acc[i][j] = _mm256_fmadd_ps(dot, a_d, acc[i][j]);
          }
        }
      }
    }
    StoreTile<NR, NT>(p, r, t, acc);
  }
};

using PreparedTileFn = void (*)(const Problem&, const KPrepBlock*, int64_t row, int64_t token);

template <class K, int NR, int NT>
void PreparedTileEntry(const Problem& p, const KPrepBlock* prep, int64_t row, int64_t token) {
  K::template Tile<NR, NT>(p, prep, row, token);
}

template <class K, size_t... I>
constexpr std::array<PreparedTileFn, sizeof...(I)> MakePreparedTileTable(
    std::index_sequence<I...>) {
  return {&PreparedTileEntry<K, static_cast<int>(I) / K::kTokens + 1,
                             static_cast<int>(I) % K::kTokens + 1>...};
}

// RunTiles with a Prepare step per row tile and token block.
template <class K>
void RunPreparedTiles(const Problem& p, int64_t row_begin, int64_t row_end,
                      int64_t act_bytes_per_token) {
  static constexpr auto kTable =
      MakePreparedTileTable<K>(std::make_index_sequence<K::kRows * K::kTokens>());
  const int64_t block = TokenBlock(act_bytes_per_token, K::kTokens);
  KPrepBlock* prep = KPrepScratch(static_cast<size_t>(K::kRows * (p.cols / kQK_K)));
  for (int64_t t0 = 0; t0 < p.n_tokens; t0 += block) {
    const int64_t t1 = std::min(p.n_tokens, t0 + block);
    for (int64_t r = row_begin; r < row_end; r += K::kRows) {
      const int64_t nr = std::min<int64_t>(K::kRows, row_end - r);
      K::Prepare(p, r, nr, prep);
      for (int64_t t = t0; t < t1; t += K::kTokens) {
        const int64_t nt = std::min<int64_t>(K::kTokens, t1 - t);
        kTable[(nr - 1) * K::kTokens + (nt - 1)](p, prep, r, t);
      }
    }
  }
}

}  // namespace
}  // namespace mint::kernels::matmul_detail
