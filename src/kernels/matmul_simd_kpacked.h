// Weights in the packed layouts (kernels.h, PackWeights): Q4_K, Q5_K, IQ4_XS, Q6_K, Q3_K and Q2_K
// x Q8_K activations, Q5_0, Q5_1, Q4_1 and MXFP4 x Q8_0, for matmul_simd.h (same rules: ISA files
// only). AVX-512 VNNI reads a 16-row group per 512-bit vector; AVX2 (at the end) reads the same
// bytes as two 8-row halves.
//
// A tile is 16 rows x NT tokens. Per super-block and pair of sub-blocks (64 columns), the 8
// chunks of codes are loaded once and split into low nibbles (sub-block 2c) and high nibbles
// (2c + 1); per token, 16 VNNI instructions against broadcast groups of 4 activation bytes leave
// the two sub-blocks' integer dot products of all 16 rows in two registers. Each is converted and
// weighted by the rows' scales in float (one FMA): a conversion plus an FMA cost fewer uops on
// the VNNI port than an exact int32 multiply (`vpmulld`, two uops), and for Q4_K the high nibbles
// stay in place (x16, the 1/16 folded into the float scale), which saves the shift too: the Q4_K
// tile, the hottest loop of a Q4_K_M prefill, ran 1.3x faster so (prefill512, one thread). The
// per-sub-block products are exact; only the sum over a super-block's 8 sub-blocks rounds
// (relative error below 1e-7 of that sum; IQ4_XS removes its codes' +128 after it, so its result
// can be smaller than the rounded sum and its relative error larger). The mins term takes 4 16-bit
// multiply-adds per super-block and token (mins pairs x the activations' per-32 sums).
//
// Q6_K works the same way per sub-block of 16 columns: 4 chunks rebuilt from a low-nibble and a
// high-bits plane, 4 VNNI instructions per token, the sub-block's i8 scale as a float FMA; the
// codes' +32 is removed once per super-block from the activations' per-16 sums
// (8 16-bit multiply-adds of scale pairs x sum pairs). Q3_K (codes q + 4 from a 2-bit and a
// 1-bit plane) and Q2_K (2-bit codes, 4-bit scales, and mins per 16 columns taken like Q4_K's)
// run the same kernel.
#pragma once

namespace mint::kernels::matmul_detail {
namespace {

// A tile reads its 16-row group as one sequential stream: in decode, one stream per thread, too
// few reads in flight for the hardware prefetcher to reach DRAM bandwidth (Zen 5, 2 threads,
// 2048x8192 decode_cold: packed Q4_K 37 GB/s against 53 for the GGUF layout's 4 row streams).
// Each block asks for the block kPrefetchBlocks ahead (past a group's end: the next group's, which
// the next tile reads; prefetches never fault). Only in calls of few tokens (decode steps):
// a prefill tile re-reads its group from L2 for every few tokens, where the prefetches are only
// instructions.
constexpr int64_t kPrefetchBlocks = 4;
constexpr int64_t kPrefetchMaxTokens = 16;
[[gnu::always_inline]] inline void PrefetchAhead(const Problem& p, const uint8_t* g,
                                                 int64_t block_bytes) {
  if (p.n_tokens > kPrefetchMaxTokens) return;
  const char* ahead = reinterpret_cast<const char*>(g + kPrefetchBlocks * block_bytes);
  for (int64_t o = 0; o < block_bytes; o += 64) _mm_prefetch(ahead + o, _MM_HINT_T0);
}

// The packed layouts of Q6_K, Q3_K and Q2_K (kernels.h): sub-blocks of 16 columns, the 8 pairs'
// scales at kScalesAt as [pair][row][2] bytes, then d (and Q2_K's dmin) per row as f16.
template <DType kType>
struct K16Layout {
  static_assert(kType == DType::kQ6_K || kType == DType::kQ3_K || kType == DType::kQ2_K);
  static constexpr bool kQ6 = kType == DType::kQ6_K;
  static constexpr bool kQ3 = kType == DType::kQ3_K;
  static constexpr int64_t kBlockBytes = kQ6   ? kPackedQ6_KBlockBytes
                                         : kQ3 ? kPackedQ3_KBlockBytes
                                               : kPackedQ2_KBlockBytes;
  static constexpr int64_t kScalesAt = kQ6 ? 3072 : kQ3 ? 1536 : 1024;
  static constexpr int64_t kDAt = kScalesAt + 256, kDminAt = kDAt + 32;
};

// The packed layouts of Q5_0, Q5_1, Q4_1 and MXFP4 (kernels.h): blocks of 32 columns, 4 chunks
// of nibbles, Q5_0's and Q5_1's fifth bits, then d and (Q5_1, Q4_1) m per row as f16, or MXFP4's
// scales as bf16.
template <DType kType>
struct SmallBlockLayout {
  static_assert(kType == DType::kQ5_0 || kType == DType::kQ5_1 || kType == DType::kQ4_1 ||
                kType == DType::kMXFP4);
  static constexpr bool kFifth = kType == DType::kQ5_0 || kType == DType::kQ5_1;
  static constexpr bool kMin = kType == DType::kQ5_1 || kType == DType::kQ4_1;
  static constexpr bool kTable = kType == DType::kMXFP4;  // nibbles index kMxfp4ValuesU8
  static constexpr int64_t kBlockBytes = kType == DType::kQ5_0   ? kPackedQ5_0BlockBytes
                                         : kType == DType::kQ5_1 ? kPackedQ5_1BlockBytes
                                         : kType == DType::kQ4_1 ? kPackedQ4_1BlockBytes
                                                                 : kPackedMXFP4BlockBytes;
  static constexpr int64_t kDAt = kFifth ? 320 : 256, kMAt = kDAt + 32;
};

#if MINT_MATMUL_AVX512
// `bits` with bit k of each byte moved to bit 4 (other bits garbage).
template <int k>
inline __m512i BitToFour(__m512i bits) {
  if constexpr (k < 4) return _mm512_slli_epi16(bits, 4 - k);
  if constexpr (k > 4) return _mm512_srli_epi16(bits, k - 4);
  return bits;
}

// Q4_K, Q5_K (the same layout plus a plane of fifth bits) and IQ4_XS (the same code layout; its
// 4-bit indices become table values + 128, unsigned 1..241, by one byte shuffle, and the +128 is
// removed once per super-block, as Q6_K removes its +32: scale pairs x sum pairs).
template <DType kType>
struct PackedKQuantKernel {
  static_assert(kType == DType::kQ4_K || kType == DType::kQ5_K || kType == DType::kIQ4_XS);
  static constexpr bool kFifth = kType == DType::kQ5_K;
  static constexpr bool kTable = kType == DType::kIQ4_XS;
  // Q4_K: the high nibbles (sub-block 2c + 1) are used in place, as 16 x code.
  static constexpr bool kHighInPlace = kType == DType::kQ4_K;
  static constexpr int64_t kBlockBytes = kType == DType::kQ4_K   ? kPackedQ4_KBlockBytes
                                         : kType == DType::kQ5_K ? kPackedQ5_KBlockBytes
                                                                 : kPackedIQ4_XSBlockBytes;
  static constexpr int kTokens = 4;

  // The sub-block scales of pair c (sub-blocks 2c, 2c + 1) as floats per row; the high one
  // divided by 16 where the high nibbles are used in place.
  static void Scales(const uint8_t* g, int c, __m512* sc_lo, __m512* sc_hi) {
    __m512i lo, hi;
    if constexpr (kTable) {  // i8 pairs [pair][row][2]
      const __m512i sp = _mm512_cvtepi8_epi16(Load256(g + 2048 + 32 * c));
      lo = _mm512_srai_epi32(_mm512_slli_epi32(sp, 16), 16);
      hi = _mm512_srai_epi32(sp, 16);
    } else {  // u8 [sub-block][row]
      lo = _mm512_cvtepu8_epi32(Load128(g + 2112 + 16 * (2 * c)));
      hi = _mm512_cvtepu8_epi32(Load128(g + 2112 + 16 * (2 * c + 1)));
    }
    *sc_lo = _mm512_cvtepi32_ps(lo);
    *sc_hi = _mm512_cvtepi32_ps(hi);
    if constexpr (kHighInPlace) *sc_hi = _mm512_mul_ps(*sc_hi, _mm512_set1_ps(1.0f / 16));
  }

  template <int NT>
  static void Tile(const Problem& p, int64_t r, int64_t t) {
    const int64_t nb = p.cols / kQK_K;
    const uint8_t* g = p.packed + r / kPackedRows * nb * kBlockBytes;
    const BlockQ8_K* a[NT];
    __m512 acc[NT];
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) {
      a[j] = p.q8k + (t + j) * nb;
      acc[j] = _mm512_setzero_ps();
    }
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    const __m512i bit4 = _mm512_set1_epi8(0x10);
    const __m512i table = _mm512_broadcast_i32x4(Load128(kIq4NlValuesU8));
    for (int64_t b = 0; b < nb; ++b, g += kBlockBytes) {
      PrefetchAhead(p, g, kBlockBytes);
      __m512 wsum[NT];  // per token: the super-block's scale-weighted sums
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) wsum[j] = _mm512_setzero_ps();
      MINT_UNROLL
      for (int c = 0; c < 4; ++c) {
        __m512i lo[8], hi[8];
        MINT_UNROLL
        for (int k = 0; k < 8; ++k) {
          const __m512i v = _mm512_load_si512(g + 512 * c + 64 * k);
          lo[k] = _mm512_and_si512(v, nibble);
          hi[k] = kHighInPlace ? _mm512_andnot_si512(nibble, v)
                               : _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble);
          if constexpr (kTable) {
            lo[k] = _mm512_shuffle_epi8(table, lo[k]);
            hi[k] = _mm512_shuffle_epi8(table, hi[k]);
          }
        }
        if constexpr (kFifth) {
          const __m512i h_lo = _mm512_load_si512(g + 2368 + 128 * c);
          const __m512i h_hi = _mm512_load_si512(g + 2368 + 128 * c + 64);
          [&]<int... k>(std::integer_sequence<int, k...>) {
            ((lo[k] = _mm512_or_si512(lo[k], _mm512_and_si512(BitToFour<k>(h_lo), bit4)),
              hi[k] = _mm512_or_si512(hi[k], _mm512_and_si512(BitToFour<k>(h_hi), bit4))),
             ...);
          }(std::make_integer_sequence<int, 8>());
        }
        __m512 sc_lo, sc_hi;
        Scales(g, c, &sc_lo, &sc_hi);
        MINT_UNROLL
        for (int j = 0; j < NT; ++j) {
          const int8_t* aq = a[j][b].qs + 64 * c;
          // Four chains of 4 (exact sums): one token alone leaves too little independent work to
          // hide the VNNI latency of longer chains.
          __m512i s[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                          _mm512_setzero_si512()};
          MINT_UNROLL
          for (int k = 0; k < 8; ++k) {
            s[k % 2] = _mm512_dpbusd_epi32(s[k % 2], lo[k], _mm512_set1_epi32(LoadI32(aq + 4 * k)));
            s[2 + k % 2] =
                _mm512_dpbusd_epi32(s[2 + k % 2], hi[k], _mm512_set1_epi32(LoadI32(aq + 32 + 4 * k)));
          }
          wsum[j] =
              _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s[0], s[1])), sc_lo, wsum[j]);
          wsum[j] =
              _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s[2], s[3])), sc_hi, wsum[j]);
        }
      }
      const __m512 d = _mm512_cvtph_ps(Load256(g + (kTable ? 2176 : 2048)));
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) {
        // The activations' sums per 32 values, as 8 x i16 (sub-block pairs in 32-bit lanes).
        const __m256i s32 = _mm256_madd_epi16(Load256(a[j][b].bsums), _mm256_set1_epi16(1));
        const __m128i s16 =
            _mm_packs_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
        alignas(16) int32_t pairs[4];
        _mm_store_si128(reinterpret_cast<__m128i*>(pairs), s16);
        // Q4_K / Q5_K: mins (u8 pairs at 2240); IQ4_XS: scales (i8 pairs at 2048) for the +128.
        __m512i msum = _mm512_setzero_si512();
        MINT_UNROLL
        for (int q = 0; q < 4; ++q) {
          const __m512i m = kTable ? _mm512_cvtepi8_epi16(Load256(g + 2048 + 32 * q))
                                   : _mm512_cvtepu8_epi16(Load256(g + 2240 + 32 * q));
          msum = _mm512_dpwssd_epi32(msum, m, _mm512_set1_epi32(pairs[q]));
        }
        const __m512 a_d = _mm512_set1_ps(a[j][b].d);
        if constexpr (kTable) {
          const __m512 dot =
              _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_set1_ps(128.0f), wsum[j]);
          acc[j] = _mm512_fmadd_ps(dot, _mm512_mul_ps(d, a_d), acc[j]);
        } else {
          const __m512 dmin = _mm512_cvtph_ps(Load256(g + 2080));
          acc[j] = _mm512_fmadd_ps(wsum[j], _mm512_mul_ps(d, a_d), acc[j]);
          acc[j] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_mul_ps(dmin, a_d), acc[j]);
        }
      }
    }
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) _mm512_storeu_ps(p.y + (t + j) * p.rows + r, acc[j]);
  }
};

// Q6_K, Q3_K and Q2_K: sub-blocks of 16 columns with a scale each, 4 chunks of 4 columns per
// sub-block (kernels.h). Per sub-block pair and token: 8 VNNI instructions, two conversions and two
// FMAs with the pair's scales. Per super-block, the codes' offset (Q6_K + 32, Q3_K + 4) is
// removed with the scales, or Q2_K's mins term added, from the activations' per-16 sums
// (8 16-bit multiply-adds of weight pairs x sum pairs).
template <DType kType>
struct PackedK16Kernel : K16Layout<kType> {
  using L = K16Layout<kType>;
  using L::kBlockBytes, L::kQ3, L::kQ6, L::kScalesAt;
  static constexpr float kBias = kQ6 ? 32.0f : kQ3 ? 4.0f : 0.0f;  // Q2_K: mins instead
  static constexpr int kTokens = 8;

  // The 4 chunks of codes of sub-block sb.
  static void Codes(const uint8_t* g, int sb, __m512i w[4]) {
    if constexpr (kQ6) {
      const __m512i low4 = _mm512_set1_epi8(0x0F);
      const __m512i high2 = _mm512_set1_epi8(0x30);
      const __m512i l01 = _mm512_load_si512(g + 128 * sb);
      const __m512i l23 = _mm512_load_si512(g + 128 * sb + 64);
      const __m512i hb = _mm512_load_si512(g + 2048 + 64 * sb);
      w[0] = _mm512_or_si512(_mm512_and_si512(l01, low4),
                             _mm512_and_si512(_mm512_slli_epi16(hb, 4), high2));
      w[1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l01, 4), low4),
                             _mm512_and_si512(_mm512_slli_epi16(hb, 2), high2));
      w[2] = _mm512_or_si512(_mm512_and_si512(l23, low4), _mm512_and_si512(hb, high2));
      w[3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l23, 4), low4),
                             _mm512_and_si512(_mm512_srli_epi16(hb, 2), high2));
    } else {
      const __m512i three = _mm512_set1_epi8(3);
      const __m512i lo = _mm512_load_si512(g + 64 * sb);
      w[0] = _mm512_and_si512(lo, three);
      w[1] = _mm512_and_si512(_mm512_srli_epi16(lo, 2), three);
      w[2] = _mm512_and_si512(_mm512_srli_epi16(lo, 4), three);
      w[3] = _mm512_and_si512(_mm512_srli_epi16(lo, 6), three);
      if constexpr (kQ3) {  // bit k (sb even) or 4 + k (odd) of the pair's byte, to bit 2
        const __m512i four = _mm512_set1_epi8(4);
        __m512i hb = _mm512_load_si512(g + 1024 + 64 * (sb / 2));
        if (sb % 2 != 0) hb = _mm512_srli_epi16(hb, 4);
        w[0] = _mm512_or_si512(w[0], _mm512_and_si512(_mm512_slli_epi16(hb, 2), four));
        w[1] = _mm512_or_si512(w[1], _mm512_and_si512(_mm512_slli_epi16(hb, 1), four));
        w[2] = _mm512_or_si512(w[2], _mm512_and_si512(hb, four));
        w[3] = _mm512_or_si512(w[3], _mm512_and_si512(_mm512_srli_epi16(hb, 1), four));
      }
    }
  }

  // Pair p's weights of the activations' per-16 sums, i16 [row][2]: the scales (offset term) or
  // Q2_K's mins.
  static __m512i OffsetWeights(const uint8_t* g, int pair) {
    const __m256i bytes = Load256(g + kScalesAt + 32 * pair);
    if constexpr (kQ6 || kQ3) return _mm512_cvtepi8_epi16(bytes);
    return _mm512_srli_epi16(_mm512_cvtepu8_epi16(bytes), 4);
  }

  // Pair p's scales as floats per row: sub-block 2p (e) and 2p + 1 (o).
  static void Scales(const uint8_t* g, int pair, __m512* e, __m512* o) {
    if constexpr (kQ6 || kQ3) {
      const __m512i sp = _mm512_cvtepi8_epi16(Load256(g + kScalesAt + 32 * pair));
      *e = _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(sp, 16), 16));
      *o = _mm512_cvtepi32_ps(_mm512_srai_epi32(sp, 16));
    } else {
      const __m512i sp = _mm512_cvtepu8_epi16(Load256(g + kScalesAt + 32 * pair));
      const __m512i low4 = _mm512_set1_epi32(0xF);
      *e = _mm512_cvtepi32_ps(_mm512_and_si512(sp, low4));
      *o = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(sp, 16), low4));
    }
  }

  template <int NT>
  static void Tile(const Problem& p, int64_t r, int64_t t) {
    const int64_t nb = p.cols / kQK_K;
    const uint8_t* g = p.packed + r / kPackedRows * nb * kBlockBytes;
    const BlockQ8_K* a[NT];
    __m512 acc[NT];
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) {
      a[j] = p.q8k + (t + j) * nb;
      acc[j] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; ++b, g += kBlockBytes) {
      PrefetchAhead(p, g, kBlockBytes);
      __m512 wsum[NT];  // per token: the super-block's scale-weighted sums
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) wsum[j] = _mm512_setzero_ps();
      MINT_UNROLL
      for (int pair = 0; pair < 8; ++pair) {
        __m512i w[2][4];  // sub-blocks 2 pair + h
        Codes(g, 2 * pair, w[0]);
        Codes(g, 2 * pair + 1, w[1]);
        __m512 sc_e, sc_o;
        Scales(g, pair, &sc_e, &sc_o);
        MINT_UNROLL
        for (int j = 0; j < NT; ++j) {
          const int8_t* aq = a[j][b].qs + 32 * pair;
          __m512i s[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                          _mm512_setzero_si512()};
          MINT_UNROLL
          for (int h = 0; h < 2; ++h) {
            MINT_UNROLL
            for (int k = 0; k < 4; ++k) {
              s[2 * h + k % 2] = _mm512_dpbusd_epi32(
                  s[2 * h + k % 2], w[h][k],
                  _mm512_set1_epi32(LoadI32(aq + 16 * h + 4 * k)));
            }
          }
          wsum[j] =
              _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s[0], s[1])), sc_e, wsum[j]);
          wsum[j] =
              _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s[2], s[3])), sc_o, wsum[j]);
        }
      }
      const __m512 d = _mm512_cvtph_ps(Load256(g + L::kDAt));
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) {
        __m512i osum = _mm512_setzero_si512();
        MINT_UNROLL
        for (int pair = 0; pair < 8; ++pair) {
          osum = _mm512_dpwssd_epi32(osum, OffsetWeights(g, pair),
                                     _mm512_set1_epi32(LoadI32(a[j][b].bsums + 2 * pair)));
        }
        const __m512 a_d = _mm512_set1_ps(a[j][b].d);
        if constexpr (kBias != 0.0f) {  // codes are q + kBias
          const __m512 dot =
              _mm512_fnmadd_ps(_mm512_cvtepi32_ps(osum), _mm512_set1_ps(kBias), wsum[j]);
          acc[j] = _mm512_fmadd_ps(dot, _mm512_mul_ps(d, a_d), acc[j]);
        } else {
          const __m512 dmin = _mm512_cvtph_ps(Load256(g + L::kDminAt));
          acc[j] = _mm512_fmadd_ps(wsum[j], _mm512_mul_ps(d, a_d), acc[j]);
          acc[j] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(osum), _mm512_mul_ps(dmin, a_d), acc[j]);
        }
      }
    }
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) _mm512_storeu_ps(p.y + (t + j) * p.rows + r, acc[j]);
  }
};

// Q5_0, Q5_1, Q4_1 and MXFP4 x Q8_0 activations: codes q in [0, 31] (nibble | fifth bit << 4;
// Q4_1: the nibble; MXFP4: its table value + 12 by one byte shuffle) against broadcast groups of 4
// activations. Q5_0's and MXFP4's sums start from the activation block's bias (-16 or -12 sum), so
// each row's lane ends with the signed block dot product: one conversion and one FMA per block
// and token. Q5_1 and Q4_1 add m x the block's sum (their bias, multiplier 1) with one more FMA.
template <DType kType>
struct PackedSmallKernel : SmallBlockLayout<kType> {
  using L = SmallBlockLayout<kType>;
  using L::kBlockBytes, L::kFifth, L::kMin, L::kTable;
  static constexpr int kTokens = 4;

  // The 16 rows' d (f16), or MXFP4's scales (bf16).
  static __m512 Scales(const uint8_t* g) {
    if constexpr (kTable) {
      return _mm512_castsi512_ps(
          _mm512_slli_epi32(_mm512_cvtepu16_epi32(Load256(g + L::kDAt)), 16));
    }
    return _mm512_cvtph_ps(Load256(g + L::kDAt));
  }

  template <int NT>
  static void Tile(const Problem& p, int64_t r, int64_t t) {
    const int64_t nb = p.cols / 32;
    const uint8_t* g = p.packed + r / kPackedRows * nb * kBlockBytes;
    const __m512i table = _mm512_broadcast_i32x4(Load128(kMxfp4ValuesU8));
    Q8_0ActView a[NT];
    __m512 acc[NT];
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) {
      a[j] = Q8_0Acts(p, t + j);
      acc[j] = _mm512_setzero_ps();
    }
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    const __m512i bit4 = _mm512_set1_epi8(0x10);
    for (int64_t b = 0; b < nb; ++b, g += kBlockBytes) {
      PrefetchAhead(p, g, kBlockBytes);
      __m512i q[8];
      if constexpr (kFifth) {
        const __m512i h = _mm512_loadu_si512(g + 256);
        [&]<int... v>(std::integer_sequence<int, v...>) {
          ((q[v] = _mm512_loadu_si512(g + 64 * v),
            q[v + 4] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(q[v], 4), nibble),
                                       _mm512_and_si512(BitToFour<v + 4>(h), bit4)),
            q[v] = _mm512_or_si512(_mm512_and_si512(q[v], nibble),
                                   _mm512_and_si512(BitToFour<v>(h), bit4))),
           ...);
        }
        (std::make_integer_sequence<int, 4>());
      } else {
        MINT_UNROLL
        for (int v = 0; v < 4; ++v) {
          q[v] = _mm512_loadu_si512(g + 64 * v);
          q[v + 4] = _mm512_and_si512(_mm512_srli_epi16(q[v], 4), nibble);
          q[v] = _mm512_and_si512(q[v], nibble);
          if constexpr (kTable) {
            q[v] = _mm512_shuffle_epi8(table, q[v]);
            q[v + 4] = _mm512_shuffle_epi8(table, q[v + 4]);
          }
        }
      }
      const __m512 dw = Scales(g);
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) {
        const int8_t* aq = a[j].qs + 32 * b;
        __m512i s0 = kMin ? _mm512_setzero_si512() : _mm512_set1_epi32(a[j].bias[b]);
        __m512i s1 = _mm512_setzero_si512();
        MINT_UNROLL
        for (int k = 0; k < 8; k += 2) {
          s0 = _mm512_dpbusd_epi32(s0, q[k], _mm512_set1_epi32(LoadI32(aq + 4 * k)));
          s1 = _mm512_dpbusd_epi32(s1, q[k + 1], _mm512_set1_epi32(LoadI32(aq + 4 * k + 4)));
        }
        acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)),
                                 _mm512_mul_ps(dw, _mm512_set1_ps(a[j].d[b])), acc[j]);
        if constexpr (kMin) {
          acc[j] =
              _mm512_fmadd_ps(_mm512_cvtph_ps(Load256(g + L::kMAt)),
                              _mm512_set1_ps(static_cast<float>(a[j].bias[b]) * a[j].d[b]), acc[j]);
        }
      }
    }
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) _mm512_storeu_ps(p.y + (t + j) * p.rows + r, acc[j]);
  }
};

// The packed kernel of each type on this ISA (MatMulRowsSimd dispatches through it).
struct PackedKernels {
  using Q4_K = PackedKQuantKernel<DType::kQ4_K>;
  using Q5_K = PackedKQuantKernel<DType::kQ5_K>;
  using Q6_K = PackedK16Kernel<DType::kQ6_K>;
  using Q3_K = PackedK16Kernel<DType::kQ3_K>;
  using Q2_K = PackedK16Kernel<DType::kQ2_K>;
  using IQ4_XS = PackedKQuantKernel<DType::kIQ4_XS>;
  using Q5_0 = PackedSmallKernel<DType::kQ5_0>;
  using Q5_1 = PackedSmallKernel<DType::kQ5_1>;
  using Q4_1 = PackedSmallKernel<DType::kQ4_1>;
  using MXFP4 = PackedSmallKernel<DType::kMXFP4>;
};

#else  // AVX2: the same layouts, each 16-row group as two halves of 8 rows

// Rows 8h..8h+7 of a group are the first (h = 0) or second 32 bytes of every 64-byte chunk, and
// the second half of every per-row array. 16 vector registers: per 4-column chunk the two code
// vectors are used for every token of the tile before the next chunk is loaded. Products go
// through 16-bit pairs (maddubs: every type's codes keep |u0 * s0 + u1 * s1| < 32768; IQ4_XS by
// taking signed table values, |v| x sign(a, v)), and one madd with (scale, scale) pairs both
// weights them by their sub-block's scale and sums them into i32: no 32-bit multiplies.
template <DType kType>
struct PackedHalfKernel {
  static_assert(kType == DType::kQ4_K || kType == DType::kQ5_K || kType == DType::kIQ4_XS);
  static constexpr int64_t kBlockBytes = kType == DType::kQ4_K   ? kPackedQ4_KBlockBytes
                                         : kType == DType::kQ5_K ? kPackedQ5_KBlockBytes
                                                                 : kPackedIQ4_XSBlockBytes;
  static constexpr int kTokens = 2;

  template <int NT>
  static void Tile(const Problem& p, int64_t r, int64_t t) {
    const int64_t nb = p.cols / kQK_K;
    const uint8_t* g0 = p.packed + r / kPackedRows * nb * kBlockBytes;
    const BlockQ8_K* a[NT];
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) a[j] = p.q8k + (t + j) * nb;
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const __m256i table = _mm256_broadcastsi128_si256(Load128(kIq4NlValues));
    for (int h = 0; h < 2; ++h) {
      __m256 acc[NT];
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) acc[j] = _mm256_setzero_ps();
      const uint8_t* g = g0;
      for (int64_t b = 0; b < nb; ++b, g += kBlockBytes) {
        if (h == 0) PrefetchAhead(p, g, kBlockBytes);
        __m256i isum[NT];
        MINT_UNROLL
        for (int j = 0; j < NT; ++j) isum[j] = _mm256_setzero_si256();
        for (int c = 0; c < 4; ++c) {
          // The sub-blocks' scales as (scale, scale) i16 pairs per row: maddubs leaves pairs of
          // products in i16 lanes, and one madd with these both scales and sums them.
          __m256i sc_lo, sc_hi;
          if constexpr (kType == DType::kIQ4_XS) {
            const __m256i sp = _mm256_cvtepi8_epi16(Load128(g + 2048 + 32 * c + 16 * h));
            const __m256i low16 = _mm256_set1_epi32(0xFFFF);
            sc_lo = _mm256_or_si256(_mm256_and_si256(sp, low16), _mm256_slli_epi32(sp, 16));
            sc_hi = _mm256_or_si256(_mm256_srli_epi32(sp, 16), _mm256_andnot_si256(low16, sp));
          } else {
            const __m256i lo32 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(
                reinterpret_cast<const __m128i*>(g + 2112 + 16 * (2 * c) + 8 * h)));
            const __m256i hi32 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(
                reinterpret_cast<const __m128i*>(g + 2112 + 16 * (2 * c + 1) + 8 * h)));
            sc_lo = _mm256_or_si256(lo32, _mm256_slli_epi32(lo32, 16));
            sc_hi = _mm256_or_si256(hi32, _mm256_slli_epi32(hi32, 16));
          }
          __m256i h_lo = _mm256_setzero_si256(), h_hi = _mm256_setzero_si256();
          if constexpr (kType == DType::kQ5_K) {
            h_lo = Load256(g + 2368 + 128 * c + 32 * h);
            h_hi = Load256(g + 2368 + 128 * c + 64 + 32 * h);
          }
          // Q4_K and Q5_K: maddubs's pair sums (codes <= 15 / 31 against |a| <= 128: at most 3840
          // / 7936) are summed in i16 over kI16Run chunks before the madd that scales them, one
          // madd per run instead of per chunk; IQ4_XS's codes (|w| <= 127) leave no headroom.
          constexpr int kI16Run = kType == DType::kQ4_K ? 8 : kType == DType::kQ5_K ? 4 : 1;
          __m256i p_lo[NT], p_hi[NT];
          MINT_UNROLL
          for (int k = 0; k < 8; ++k) {
            const __m256i v = Load256(g + 512 * c + 64 * k + 32 * h);
            __m256i lo = _mm256_and_si256(v, nibble);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
            if constexpr (kType == DType::kQ5_K) {
              // Bit k of each byte of the fifth-bit planes, moved to bit 4.
              const __m256i bit4 = _mm256_set1_epi8(0x10);
              const __m256i sl = k <= 4 ? _mm256_slli_epi16(h_lo, 4 - k) : _mm256_srli_epi16(h_lo, k - 4);
              const __m256i sh = k <= 4 ? _mm256_slli_epi16(h_hi, 4 - k) : _mm256_srli_epi16(h_hi, k - 4);
              lo = _mm256_or_si256(lo, _mm256_and_si256(sl, bit4));
              hi = _mm256_or_si256(hi, _mm256_and_si256(sh, bit4));
            }
            __m256i sign_lo = lo, sign_hi = hi;
            if constexpr (kType == DType::kIQ4_XS) {
              sign_lo = _mm256_shuffle_epi8(table, lo);
              sign_hi = _mm256_shuffle_epi8(table, hi);
              lo = _mm256_sign_epi8(sign_lo, sign_lo);
              hi = _mm256_sign_epi8(sign_hi, sign_hi);
            }
            MINT_UNROLL
            for (int j = 0; j < NT; ++j) {
              const int8_t* aq = a[j][b].qs + 64 * c;
              __m256i al = _mm256_set1_epi32(LoadI32(aq + 4 * k));
              __m256i ah = _mm256_set1_epi32(LoadI32(aq + 32 + 4 * k));
              if constexpr (kType == DType::kIQ4_XS) {
                al = _mm256_sign_epi8(al, sign_lo);
                ah = _mm256_sign_epi8(ah, sign_hi);
              }
              const __m256i pl = _mm256_maddubs_epi16(lo, al);
              const __m256i ph = _mm256_maddubs_epi16(hi, ah);
              p_lo[j] = k % kI16Run == 0 ? pl : _mm256_add_epi16(p_lo[j], pl);
              p_hi[j] = k % kI16Run == 0 ? ph : _mm256_add_epi16(p_hi[j], ph);
              if (k % kI16Run == kI16Run - 1) {
                isum[j] = _mm256_add_epi32(isum[j], _mm256_madd_epi16(p_lo[j], sc_lo));
                isum[j] = _mm256_add_epi32(isum[j], _mm256_madd_epi16(p_hi[j], sc_hi));
              }
            }
          }
        }
        const int64_t d_at = kType == DType::kIQ4_XS ? 2176 : 2048;
        const __m256 d = _mm256_cvtph_ps(Load128(g + d_at + 16 * h));
        MINT_UNROLL
        for (int j = 0; j < NT; ++j) {
          const __m256 a_d = _mm256_set1_ps(a[j][b].d);
          acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[j]), _mm256_mul_ps(d, a_d), acc[j]);
          if constexpr (kType != DType::kIQ4_XS) {
            const __m256i s32 = _mm256_madd_epi16(Load256(a[j][b].bsums), _mm256_set1_epi16(1));
            const __m128i s16 =
                _mm_packs_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
            alignas(16) int32_t pairs[4];
            _mm_store_si128(reinterpret_cast<__m128i*>(pairs), s16);
            __m256i msum = _mm256_setzero_si256();
            MINT_UNROLL
            for (int q = 0; q < 4; ++q) {
              const __m256i mins = _mm256_cvtepu8_epi16(Load128(g + 2240 + 32 * q + 16 * h));
              msum = _mm256_add_epi32(msum, _mm256_madd_epi16(mins, _mm256_set1_epi32(pairs[q])));
            }
            const __m256 dmin = _mm256_cvtph_ps(Load128(g + 2080 + 16 * h));
            acc[j] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_mul_ps(dmin, a_d), acc[j]);
          }
        }
      }
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) _mm256_storeu_ps(p.y + (t + j) * p.rows + r + 8 * h, acc[j]);
    }
  }
};

// Q5_0, Q5_1, Q4_1 and MXFP4 (see PackedSmallKernel): maddubs pairs summed by madd, Q5_0's and
// MXFP4's started from the block's bias.
template <DType kType>
struct PackedHalfSmallKernel : SmallBlockLayout<kType> {
  using L = SmallBlockLayout<kType>;
  using L::kBlockBytes, L::kFifth, L::kMin, L::kTable;
  static constexpr int kTokens = 2;

  // Rows 8h..8h + 7's d (f16), or MXFP4's scales (bf16).
  static __m256 Scales(const uint8_t* g, int h) {
    if constexpr (kTable) {
      return _mm256_castsi256_ps(
          _mm256_slli_epi32(_mm256_cvtepu16_epi32(Load128(g + L::kDAt + 16 * h)), 16));
    }
    return _mm256_cvtph_ps(Load128(g + L::kDAt + 16 * h));
  }

  template <int NT>
  static void Tile(const Problem& p, int64_t r, int64_t t) {
    const int64_t nb = p.cols / 32;
    const uint8_t* g0 = p.packed + r / kPackedRows * nb * kBlockBytes;
    Q8_0ActView a[NT];
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) a[j] = Q8_0Acts(p, t + j);
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i table = _mm256_broadcastsi128_si256(Load128(kMxfp4ValuesU8));
    for (int h = 0; h < 2; ++h) {
      __m256 acc[NT];
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) acc[j] = _mm256_setzero_ps();
      const uint8_t* g = g0;
      for (int64_t b = 0; b < nb; ++b, g += kBlockBytes) {
        if (h == 0) PrefetchAhead(p, g, kBlockBytes);
        const __m256i hb = kFifth ? Load256(g + 256 + 32 * h) : _mm256_setzero_si256();
        __m256i s[NT];
        MINT_UNROLL
        for (int j = 0; j < NT; ++j) {
          s[j] = kMin ? _mm256_setzero_si256() : _mm256_set1_epi32(a[j].bias[b]);
        }
        MINT_UNROLL
        for (int v = 0; v < 4; ++v) {
          const __m256i x = Load256(g + 64 * v + 32 * h);
          __m256i lo = _mm256_and_si256(x, nibble);
          __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), nibble);
          if constexpr (kTable) {
            lo = _mm256_shuffle_epi8(table, lo);
            hi = _mm256_shuffle_epi8(table, hi);
          }
          if constexpr (kFifth) {
            const __m256i sl = _mm256_slli_epi16(hb, 4 - v);  // bit v to bit 4
            const __m256i sh = _mm256_srli_epi16(hb, v);      // bit v + 4 to bit 4
            lo = _mm256_or_si256(lo, _mm256_and_si256(sl, bit4));
            hi = _mm256_or_si256(hi, _mm256_and_si256(sh, bit4));
          }
          MINT_UNROLL
          for (int j = 0; j < NT; ++j) {
            const int8_t* aq = a[j].qs + 32 * b;
            const __m256i pl = _mm256_maddubs_epi16(lo, _mm256_set1_epi32(LoadI32(aq + 4 * v)));
            const __m256i ph =
                _mm256_maddubs_epi16(hi, _mm256_set1_epi32(LoadI32(aq + 16 + 4 * v)));
            s[j] = _mm256_add_epi32(s[j], _mm256_madd_epi16(_mm256_add_epi16(pl, ph), ones));
          }
        }
        const __m256 dw = Scales(g, h);
        MINT_UNROLL
        for (int j = 0; j < NT; ++j) {
          acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[j]),
                                   _mm256_mul_ps(dw, _mm256_set1_ps(a[j].d[b])), acc[j]);
          if constexpr (kMin) {
            acc[j] = _mm256_fmadd_ps(_mm256_cvtph_ps(Load128(g + L::kMAt + 16 * h)),
                                     _mm256_set1_ps(static_cast<float>(a[j].bias[b]) * a[j].d[b]),
                                     acc[j]);
          }
        }
      }
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) _mm256_storeu_ps(p.y + (t + j) * p.rows + r + 8 * h, acc[j]);
    }
  }
};

// Q6_K, Q3_K and Q2_K (see PackedK16Kernel): per sub-block, maddubs pairs summed in i16 over
// chunks (Q6_K's codes <= 63: two chunks, <= 2 x 16128; Q3_K's <= 7 and Q2_K's <= 3: all four),
// then one madd with the sub-block's (scale, scale) pairs.
template <DType kType>
struct PackedHalfK16Kernel : K16Layout<kType> {
  using L = K16Layout<kType>;
  using L::kBlockBytes, L::kQ3, L::kQ6, L::kScalesAt;
  static constexpr int kBiasShift = kQ6 ? 5 : kQ3 ? 2 : 0;  // codes are q + 2^shift; Q2_K: mins
  static constexpr int kI16Run = kQ6 ? 2 : 4;
  static constexpr int kTokens = 2;

  // The 4 chunks of codes of sub-block sb, rows 8h..8h + 7.
  static void Codes(const uint8_t* g, int sb, int h, __m256i w[4]) {
    if constexpr (kQ6) {
      const __m256i low4 = _mm256_set1_epi8(0x0F);
      const __m256i high2 = _mm256_set1_epi8(0x30);
      const __m256i l01 = Load256(g + 128 * sb + 32 * h);
      const __m256i l23 = Load256(g + 128 * sb + 64 + 32 * h);
      const __m256i hb = Load256(g + 2048 + 64 * sb + 32 * h);
      w[0] = _mm256_or_si256(_mm256_and_si256(l01, low4),
                             _mm256_and_si256(_mm256_slli_epi16(hb, 4), high2));
      w[1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l01, 4), low4),
                             _mm256_and_si256(_mm256_slli_epi16(hb, 2), high2));
      w[2] = _mm256_or_si256(_mm256_and_si256(l23, low4), _mm256_and_si256(hb, high2));
      w[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l23, 4), low4),
                             _mm256_and_si256(_mm256_srli_epi16(hb, 2), high2));
    } else {
      const __m256i three = _mm256_set1_epi8(3);
      const __m256i lo = Load256(g + 64 * sb + 32 * h);
      w[0] = _mm256_and_si256(lo, three);
      w[1] = _mm256_and_si256(_mm256_srli_epi16(lo, 2), three);
      w[2] = _mm256_and_si256(_mm256_srli_epi16(lo, 4), three);
      w[3] = _mm256_and_si256(_mm256_srli_epi16(lo, 6), three);
      if constexpr (kQ3) {
        const __m256i four = _mm256_set1_epi8(4);
        __m256i hb = Load256(g + 1024 + 64 * (sb / 2) + 32 * h);
        if (sb % 2 != 0) hb = _mm256_srli_epi16(hb, 4);
        w[0] = _mm256_or_si256(w[0], _mm256_and_si256(_mm256_slli_epi16(hb, 2), four));
        w[1] = _mm256_or_si256(w[1], _mm256_and_si256(_mm256_slli_epi16(hb, 1), four));
        w[2] = _mm256_or_si256(w[2], _mm256_and_si256(hb, four));
        w[3] = _mm256_or_si256(w[3], _mm256_and_si256(_mm256_srli_epi16(hb, 1), four));
      }
    }
  }

  // Pair p's weights of the per-16 activation sums, i16 [row][2] for rows 8h..8h + 7.
  static __m256i OffsetWeights(const uint8_t* g, int pair, int h) {
    const __m128i bytes = Load128(g + kScalesAt + 32 * pair + 16 * h);
    if constexpr (kQ6 || kQ3) return _mm256_cvtepi8_epi16(bytes);
    return _mm256_srli_epi16(_mm256_cvtepu8_epi16(bytes), 4);
  }

  // Sub-block sb's scale as an (scale, scale) i16 pair per row (see PackedHalfKernel).
  static __m256i ScalePairs(const uint8_t* g, int sb, int h) {
    __m256i sp;  // i16 [row][2]: the scales of sub-blocks 2 (sb / 2) and 2 (sb / 2) + 1
    if constexpr (kQ6 || kQ3) {
      sp = _mm256_cvtepi8_epi16(Load128(g + kScalesAt + 32 * (sb / 2) + 16 * h));
    } else {
      sp = _mm256_and_si256(_mm256_cvtepu8_epi16(Load128(g + kScalesAt + 32 * (sb / 2) + 16 * h)),
                            _mm256_set1_epi16(0xF));
    }
    const __m256i low16 = _mm256_set1_epi32(0xFFFF);
    return sb % 2 == 0 ? _mm256_or_si256(_mm256_and_si256(sp, low16), _mm256_slli_epi32(sp, 16))
                       : _mm256_or_si256(_mm256_srli_epi32(sp, 16), _mm256_andnot_si256(low16, sp));
  }

  template <int NT>
  static void Tile(const Problem& p, int64_t r, int64_t t) {
    const int64_t nb = p.cols / kQK_K;
    const uint8_t* g0 = p.packed + r / kPackedRows * nb * kBlockBytes;
    const BlockQ8_K* a[NT];
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) a[j] = p.q8k + (t + j) * nb;
    for (int h = 0; h < 2; ++h) {
      __m256 acc[NT];
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) acc[j] = _mm256_setzero_ps();
      const uint8_t* g = g0;
      for (int64_t b = 0; b < nb; ++b, g += kBlockBytes) {
        if (h == 0) PrefetchAhead(p, g, kBlockBytes);
        __m256i isum[NT];
        MINT_UNROLL
        for (int j = 0; j < NT; ++j) isum[j] = _mm256_setzero_si256();
        for (int sb = 0; sb < 16; ++sb) {
          __m256i w[4];
          Codes(g, sb, h, w);
          const __m256i sc = ScalePairs(g, sb, h);
          MINT_UNROLL
          for (int j = 0; j < NT; ++j) {
            const int8_t* aq = a[j][b].qs + 16 * sb;
            MINT_UNROLL
            for (int k = 0; k < 4; k += kI16Run) {
              __m256i prod = _mm256_maddubs_epi16(w[k], _mm256_set1_epi32(LoadI32(aq + 4 * k)));
              MINT_UNROLL
              for (int i = 1; i < kI16Run; ++i) {
                prod = _mm256_add_epi16(
                    prod,
                    _mm256_maddubs_epi16(w[k + i], _mm256_set1_epi32(LoadI32(aq + 4 * (k + i)))));
              }
              isum[j] = _mm256_add_epi32(isum[j], _mm256_madd_epi16(prod, sc));
            }
          }
        }
        const __m256 d = _mm256_cvtph_ps(Load128(g + L::kDAt + 16 * h));
        MINT_UNROLL
        for (int j = 0; j < NT; ++j) {
          __m256i osum = _mm256_setzero_si256();
          MINT_UNROLL
          for (int pair = 0; pair < 8; ++pair) {
            osum = _mm256_add_epi32(
                osum, _mm256_madd_epi16(OffsetWeights(g, pair, h),
                                        _mm256_set1_epi32(LoadI32(a[j][b].bsums + 2 * pair))));
          }
          const __m256 a_d = _mm256_set1_ps(a[j][b].d);
          if constexpr (kBiasShift != 0) {
            const __m256i dot = _mm256_sub_epi32(isum[j], _mm256_slli_epi32(osum, kBiasShift));
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(d, a_d), acc[j]);
          } else {
            const __m256 dmin = _mm256_cvtph_ps(Load128(g + L::kDminAt + 16 * h));
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[j]), _mm256_mul_ps(d, a_d), acc[j]);
            acc[j] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(osum), _mm256_mul_ps(dmin, a_d), acc[j]);
          }
        }
      }
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) _mm256_storeu_ps(p.y + (t + j) * p.rows + r + 8 * h, acc[j]);
    }
  }
};

struct PackedKernels {
  using Q4_K = PackedHalfKernel<DType::kQ4_K>;
  using Q5_K = PackedHalfKernel<DType::kQ5_K>;
  using Q6_K = PackedHalfK16Kernel<DType::kQ6_K>;
  using Q3_K = PackedHalfK16Kernel<DType::kQ3_K>;
  using Q2_K = PackedHalfK16Kernel<DType::kQ2_K>;
  using IQ4_XS = PackedHalfKernel<DType::kIQ4_XS>;
  using Q5_0 = PackedHalfSmallKernel<DType::kQ5_0>;
  using Q5_1 = PackedHalfSmallKernel<DType::kQ5_1>;
  using Q4_1 = PackedHalfSmallKernel<DType::kQ4_1>;
  using MXFP4 = PackedHalfSmallKernel<DType::kMXFP4>;
};
#endif

// Rows [row_begin, row_end) must be whole groups of 16.
template <class K>
void RunPacked(const Problem& p, int64_t row_begin, int64_t row_end) {
  using Fn = void (*)(const Problem&, int64_t, int64_t);
  // Tile widths measured on Llama-3.2-1B FFN shapes, 512 tokens, 1 thread: Q4_K 8 tokens no
  // faster than 4 (248-279 vs 259-266 GFLOP/s); Q6_K, whose codes cost more to unpack, 8 tokens
  // 175-196 vs 159-171.
  static_assert(K::kTokens == 2 || K::kTokens == 4 || K::kTokens == 8);
  static constexpr Fn kTiles[8] = {
      &K::template Tile<1>, &K::template Tile<std::min(2, K::kTokens)>,
      &K::template Tile<std::min(3, K::kTokens)>, &K::template Tile<std::min(4, K::kTokens)>,
      &K::template Tile<std::min(5, K::kTokens)>,
      &K::template Tile<std::min(6, K::kTokens)>, &K::template Tile<std::min(7, K::kTokens)>,
      &K::template Tile<std::min(8, K::kTokens)>};
  const int64_t act_bytes = DTypeBlockElements(p.type) == kQK_K
                                ? p.cols / kQK_K * static_cast<int64_t>(sizeof(BlockQ8_K))
                                : p.cols * 9 / 8;
  const int64_t block = TokenBlock(act_bytes, K::kTokens);
  for (int64_t t0 = 0; t0 < p.n_tokens; t0 += block) {
    const int64_t t1 = std::min(p.n_tokens, t0 + block);
    for (int64_t r = row_begin; r < row_end; r += kPackedRows) {
      for (int64_t t = t0; t < t1; t += K::kTokens) {
        kTiles[std::min<int64_t>(K::kTokens, t1 - t) - 1](p, r, t);
      }
    }
  }
}

}  // namespace
}  // namespace mint::kernels::matmul_detail
