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
#include <cstring>
#include <type_traits>
#include <utility>

#include "kernels/matmul_internal.h"
#include "kernels/quant_formats.h"

#if defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__AVX512BW__)
#define MINT_MATMUL_AVX512 1
#else
#define MINT_MATMUL_AVX512 0
#endif

// The register tiles are small fixed-trip loops over rows, tokens and sub-blocks; they must be
// fully unrolled so the accumulators live in registers (GCC -O2 would keep them in memory).
#define MINT_UNROLL _Pragma("GCC unroll 16")

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

// Four bytes (a group of 4 int8 activations, or 2 int16 sums) as one i32, for broadcasting.
inline int32_t LoadI32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// ---- Tile driver ---------------------------------------------------------------------------

using TileFn = void (*)(const Problem&, int64_t row, int64_t token);

template <class K, int NR, int NT>
void TileEntry(const Problem& p, int64_t row, int64_t token) {
  K::template Tile<NR, NT>(p, row, token);
}

template <class K, size_t... I>
constexpr std::array<TileFn, sizeof...(I)> MakeTileTable(std::index_sequence<I...>) {
  return {
      &TileEntry<K, static_cast<int>(I) / K::kTokens + 1, static_cast<int>(I) % K::kTokens + 1>...};
}

// Tokens per pass over the row range: enough that one pass's activations (`act_bytes_per_token`
// each) stay in L2 while every row tile of the range streams past them.
inline int64_t TokenBlock(int64_t act_bytes_per_token, int tile_tokens) {
  constexpr int64_t kL2Budget = 384 * 1024;
  const int64_t tokens =
      std::max<int64_t>(tile_tokens, kL2Budget / std::max<int64_t>(1, act_bytes_per_token));
  return tokens / tile_tokens * tile_tokens;
}

template <class K>
void RunTiles(const Problem& p, int64_t row_begin, int64_t row_end, int64_t act_bytes_per_token) {
  static constexpr auto kTable =
      MakeTileTable<K>(std::make_index_sequence<K::kRows * K::kTokens>());
  const int64_t block = TokenBlock(act_bytes_per_token, K::kTokens);
  // Decode (one token) walks one row at a time, so the weights are read as one contiguous stream
  // that the hardware prefetcher follows. Interleaving kRows rows of ~1 KiB each defeats it:
  // measured 2x slower from DRAM (Qwen2.5-0.5B Q4_K_M, 1 thread: 21 vs 45-51 t/s), though faster
  // in cache. Prefill reuses each weight block across tokens, where the row tile pays. Small
  // decode batches stream too (measured, SmolLM2-135M Q8_0, 1 thread, 4 sequences: 103 -> 275
  // tokens/s aggregate); at 16 tokens the two are even.
  constexpr int64_t kStreamMaxTokens = 8;
  const int64_t rows_per_tile = p.n_tokens <= kStreamMaxTokens ? 1 : K::kRows;
  for (int64_t t0 = 0; t0 < p.n_tokens; t0 += block) {
    const int64_t t1 = std::min(p.n_tokens, t0 + block);
    for (int64_t r = row_begin; r < row_end; r += rows_per_tile) {
      const int64_t nr = std::min<int64_t>(rows_per_tile, row_end - r);
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
  MINT_UNROLL
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
  MINT_UNROLL
  for (int k = 0; k < n; k += 8)
    m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)));
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
    MINT_UNROLL
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
  MINT_UNROLL
  for (int j = 0; j < NT; ++j) {
    MINT_UNROLL
    for (int i = 0; i < NR; ++i) p.y[(t + j) * p.rows + r + i] = Hsum(acc[i][j]);
  }
}

// Weight codes of one block, ready for DotU8S8 against a Q8_0 activation block, in one of two
// forms. Unsigned: q in [0, 15] (Q4_0) or the value + 128 (Q8_0, IQ4_NL on AVX-512); the
// activations' bias (Q8_0BiasMultiplier x their sum) started in the accumulator removes the
// offset.
struct UnsignedCodes {
  __m256i u;
  __m256i Dot(__m256i acc, __m256i a) const { return DotU8S8(acc, u, a); }
};
// Signed (AVX2, no bias): |w| x (a with w's sign), as maddubs needs its first operand unsigned.
struct SignedCodes {
  __m256i w, abs;
  static SignedCodes Of(__m256i w) { return {w, _mm256_sign_epi8(w, w)}; }
  __m256i Dot(__m256i acc, __m256i a) const { return DotU8S8(acc, abs, _mm256_sign_epi8(a, w)); }
};

struct Q4_0Weights {
  using Block = BlockQ4_0;
  static constexpr int kBlockBytes = 18;
  // Tiles of up to this many tokens use GroupOf8 on AVX-512 (measured: faster for every tile).
  static constexpr int kGroupedMaxTokens = 2;
  // q: low nibbles (values 0-15) low, high nibbles (16-31) high; the bias is -8 x sum.
  using Codes = UnsignedCodes;
  // The 32 4-bit codes of a block in value order: low nibbles (values 0-15), then high (16-31).
  static __m256i Nibbles(const uint8_t* qs) {
    const __m256i packed = _mm256_broadcastsi128_si256(Load128(qs));
    const __m256i shifted = _mm256_srlv_epi32(packed, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
    return _mm256_and_si256(shifted, _mm256_set1_epi8(0x0F));
  }
  static Codes Unpack(const Block& b) { return {Nibbles(b.qs)}; }
};

// IQ4_NL: Q4_0's nibbles, each an index into the non-linear table (one byte shuffle per block).
struct IQ4_NLWeights {
  using Block = BlockIQ4_NL;
  static constexpr int kBlockBytes = 18;
  static constexpr int kGroupedMaxTokens = 2;
#if MINT_MATMUL_AVX512
  using Codes = UnsignedCodes;  // table value + 128; the bias is -128 x sum
  static Codes Unpack(const Block& b) {
    const __m256i table = _mm256_broadcastsi128_si256(Load128(kIq4NlValuesU8));
    return {_mm256_shuffle_epi8(table, Q4_0Weights::Nibbles(b.qs))};
  }
#else
  using Codes = SignedCodes;
  static Codes Unpack(const Block& b) {
    const __m256i table = _mm256_broadcastsi128_si256(Load128(kIq4NlValues));
    return SignedCodes::Of(_mm256_shuffle_epi8(table, Q4_0Weights::Nibbles(b.qs)));
  }
#endif
};

struct Q8_0Weights {
  using Block = BlockQ8_0;
  static constexpr int kBlockBytes = 34;
  // Grouping pays for decode; for prefill tiles the per-block path is faster.
  static constexpr int kGroupedMaxTokens = 2;
#if MINT_MATMUL_AVX512
  using Codes = UnsignedCodes;  // w + 128; the bias is -128 x sum
  static Codes Unpack(const Block& b) {
    return {_mm256_xor_si256(Load256(b.qs), _mm256_set1_epi8(static_cast<char>(0x80)))};
  }
#else
  using Codes = SignedCodes;
  static Codes Unpack(const Block& b) { return SignedCodes::Of(Load256(b.qs)); }
#endif
};

#if MINT_MATMUL_AVX512
// Lane k = the sum of the lanes of s[k].
inline __m256i SumLanes8(const __m256i (&s)[8]) {
  const __m256i h01 = _mm256_hadd_epi32(s[0], s[1]);
  const __m256i h23 = _mm256_hadd_epi32(s[2], s[3]);
  const __m256i h45 = _mm256_hadd_epi32(s[4], s[5]);
  const __m256i h67 = _mm256_hadd_epi32(s[6], s[7]);
  const __m256i h0123 = _mm256_hadd_epi32(h01, h23);  // [s0..s3 lanes 0-3 | s0..s3 lanes 4-7]
  const __m256i h4567 = _mm256_hadd_epi32(h45, h67);
  return _mm256_add_epi32(_mm256_permute2x128_si256(h0123, h4567, 0x20),
                          _mm256_permute2x128_si256(h0123, h4567, 0x31));
}

// The f16 scales (the first field) of 8 consecutive blocks, as floats: a two-source word permute
// picks them out of 128 bytes, so no per-block scalar conversion. Only the first `valid_bytes`
// bytes are read (masked loads); scales of blocks past them read as 0.
template <int kBlockBytes>
inline __m256 LoadBlockScales8(const uint8_t* first, int valid_bytes) {
  constexpr int kPerPermute = kBlockBytes * 7 + 2 <= 128 ? 8 : 4;
  static_assert(kBlockBytes % 2 == 0 && kBlockBytes * (kPerPermute - 1) + 2 <= 128,
                "the scales of one permute must lie in 128 bytes");
  alignas(64) static constexpr auto kIndex = [] {
    std::array<int16_t, 32> idx{};
    for (int k = 0; k < kPerPermute; ++k) idx[k] = static_cast<int16_t>(k * kBlockBytes / 2);
    return idx;
  }();
  const __m512i index = _mm512_load_si512(kIndex.data());
  auto load64 = [](const uint8_t* p, int valid) {
    if (valid >= 64) return _mm512_loadu_si512(p);
    const __mmask64 mask = valid <= 0 ? 0 : (~__mmask64{0} >> (64 - valid));
    return _mm512_maskz_loadu_epi8(mask, p);
  };
  auto pick = [&](int offset) {
    const int valid = valid_bytes - offset;
    return _mm512_castsi512_si128(_mm512_permutex2var_epi16(
        load64(first + offset, valid), index, load64(first + offset + 64, valid - 64)));
  };
  if constexpr (kPerPermute == 8) {
    return _mm256_cvtph_ps(pick(0));
  } else {
    return _mm256_cvtph_ps(_mm_unpacklo_epi64(pick(0), pick(4 * kBlockBytes)));
  }
}
#endif

// Q4_0 / Q8_0 weights x Q8_0 activations. Per block the integer dot product is scaled by
// d_w * d_a. On AVX-512, tiles of few tokens (decode) take 8 blocks at a time: the 8 integer
// dot products are reduced to one vector (lane k = block k) and scaled with one conversion and
// one FMA, and the 8 weight scales come from one permute instead of 8 scalar conversions.
template <class W>
struct Q8_0FamilyKernel {
  static constexpr int kRows = 4;
  static constexpr int kTokens = MINT_MATMUL_AVX512 ? 4 : 2;
  static constexpr int kGroupedMaxTokens = W::kGroupedMaxTokens;

  template <int NR, int NT>
  static void Tile(const Problem& p, int64_t r, int64_t t) {
    using Block = typename W::Block;
    const int64_t nb = p.cols / 32;
    const Block* w[NR];
    MINT_UNROLL
    for (int i = 0; i < NR; ++i) w[i] = reinterpret_cast<const Block*>(p.w + (r + i) * p.row_bytes);
    Q8_0ActView a[NT];
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) a[j] = Q8_0Acts(p, t + j);
    __m256 acc[NR][NT];
    MINT_UNROLL
    for (auto& row : acc)
      for (auto& v : row) v = _mm256_setzero_ps();
    int64_t b = 0;
#if MINT_MATMUL_AVX512
    if constexpr (NT <= kGroupedMaxTokens) {
      for (; b + 8 <= nb; b += 8) GroupOf8<NR, NT, false>(w, a, b, 8, acc);
      if (b < nb) GroupOf8<NR, NT, true>(w, a, b, static_cast<int>(nb - b), acc);
      b = nb;
    } else if constexpr (std::is_same_v<W, Q8_0Weights>) {
      b = PairsOfBlocks<NR, NT>(w, a, nb, acc);
    }
#endif
    for (; b < nb; ++b) {
      typename W::Codes q[NR];
      __m256 dw[NR];
      MINT_UNROLL
      for (int i = 0; i < NR; ++i) {
        q[i] = W::Unpack(w[i][b]);
        dw[i] = _mm256_set1_ps(F16(w[i][b].d));
      }
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) {
        const __m256i av = Load256(a[j].qs + 32 * b);
        const __m256 da = _mm256_set1_ps(a[j].d[b]);
        const __m256i bias = _mm256_zextsi128_si256(_mm_cvtsi32_si128(a[j].bias[b]));
        MINT_UNROLL
        for (int i = 0; i < NR; ++i) {
          // (dot * dw) * da, not dot * (dw * da): GCC would compute dw * da as a scalar and
          // broadcast it, two operations per row x token instead of one.
          const __m256 dot = _mm256_mul_ps(_mm256_cvtepi32_ps(q[i].Dot(bias, av)), dw[i]);
          acc[i][j] = _mm256_fmadd_ps(dot, da, acc[i][j]);
        }
      }
    }
    StoreTile<NR, NT>(p, r, t, acc);
  }

#if MINT_MATMUL_AVX512
  // Q8_0 weights, tiles of several tokens: two blocks per 512-bit dot product (lanes 0-7 block
  // b, lanes 8-15 block b + 1), each half scaled by its own d_w * d_a; twice the work per
  // instruction of the 256-bit per-block loop (measured, SmolLM2-135M Q8_0 decode at 16
  // sequences). Returns the first block not done (an odd last block is left to the caller).
  template <int NR, int NT>
  static int64_t PairsOfBlocks(const typename W::Block* const (&w)[NR], const Q8_0ActView (&a)[NT],
                               int64_t nb, __m256 (&acc)[NR][NT]) {
    __m512 acc2[NR][NT];
    MINT_UNROLL
    for (auto& row : acc2)
      for (auto& v : row) v = _mm512_setzero_ps();
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    constexpr int kPrefetchBytes = 1024;
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
      __m512i q[NR];
      __m512 dw[NR];
      MINT_UNROLL
      for (int i = 0; i < NR; ++i) {
        // Several interleaved row streams defeat the hardware prefetcher (decode batches read
        // each weight once per step, from DRAM): fetch ~8 cache lines ahead by hand.
        _mm_prefetch(reinterpret_cast<const char*>(w[i] + b) + kPrefetchBytes, _MM_HINT_T0);
        const __m512i codes = _mm512_inserti64x4(_mm512_castsi256_si512(Load256(w[i][b].qs)),
                                                 Load256(w[i][b + 1].qs), 1);
        q[i] = _mm512_xor_si512(codes, flip);
        dw[i] = _mm512_insertf32x8(_mm512_set1_ps(F16(w[i][b].d)),
                                   _mm256_set1_ps(F16(w[i][b + 1].d)), 1);
      }
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) {
        const __m512i av = _mm512_loadu_si512(a[j].qs + 32 * b);
        const __m512 da =
            _mm512_insertf32x8(_mm512_set1_ps(a[j].d[b]), _mm256_set1_ps(a[j].d[b + 1]), 1);
        const __m512i bias =
            _mm512_inserti32x4(_mm512_castsi128_si512(_mm_cvtsi32_si128(a[j].bias[b])),
                               _mm_cvtsi32_si128(a[j].bias[b + 1]), 2);
        MINT_UNROLL
        for (int i = 0; i < NR; ++i) {
          const __m512 dot =
              _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(bias, q[i], av)), dw[i]);
          acc2[i][j] = _mm512_fmadd_ps(dot, da, acc2[i][j]);
        }
      }
    }
    MINT_UNROLL
    for (int i = 0; i < NR; ++i) {
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) {
        acc[i][j] = _mm256_add_ps(acc[i][j], _mm256_add_ps(_mm512_castps512_ps256(acc2[i][j]),
                                                           _mm512_extractf32x8_ps(acc2[i][j], 1)));
      }
    }
    return b;
  }

  // Blocks [b, b + m), m in [1, 8]; a partial group (m < 8, the end of a row) reads nothing
  // past block b + m - 1.
  template <int NR, int NT, bool kPartial>
  static void GroupOf8(const typename W::Block* const (&w)[NR], const Q8_0ActView (&a)[NT],
                       int64_t b, int m, __m256 (&acc)[NR][NT]) {
    if constexpr (!kPartial) m = 8;  // lets the compiler drop every k < m test
    const __mmask8 valid = static_cast<__mmask8>((1u << m) - 1);
    __m256 da[NT];
    __m256i bias[NT];
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) {
      da[j] = kPartial ? _mm256_maskz_loadu_ps(valid, a[j].d + b) : _mm256_loadu_ps(a[j].d + b);
      bias[j] = kPartial ? _mm256_maskz_loadu_epi32(valid, a[j].bias + b) : Load256(a[j].bias + b);
    }
    MINT_UNROLL
    for (int i = 0; i < NR; ++i) {
      const __m256 dw =
          LoadBlockScales8<W::kBlockBytes>(reinterpret_cast<const uint8_t*>(w[i] + b),
                                           kPartial ? m * W::kBlockBytes : 8 * W::kBlockBytes);
      typename W::Codes q[8];
      MINT_UNROLL
      for (int k = 0; k < 8; ++k) q[k] = k < m ? W::Unpack(w[i][b + k]) : typename W::Codes{};
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) {
        __m256i s[8];
        MINT_UNROLL
        for (int k = 0; k < 8; ++k) {
          s[k] = k < m ? q[k].Dot(_mm256_setzero_si256(), Load256(a[j].qs + 32 * (b + k)))
                       : _mm256_setzero_si256();
        }
        const __m256i sums = _mm256_add_epi32(SumLanes8(s), bias[j]);
        acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_mul_ps(dw, da[j]), acc[i][j]);
      }
    }
  }
#endif
};

using Q4_0Kernel = Q8_0FamilyKernel<Q4_0Weights>;
using Q8_0Kernel = Q8_0FamilyKernel<Q8_0Weights>;
using IQ4_NLKernel = Q8_0FamilyKernel<IQ4_NLWeights>;

#if MINT_MATMUL_AVX512
// Q8_0 weights in the packed layout (kernels.h, PackQ8_0): a tile is 16 rows x NT tokens. Per
// block and token, 8 VNNI instructions (weights from registers, 4 activation bytes broadcast)
// leave the 16 rows' integer dot products in one register's lanes, started from the
// activations' bias (-128 sum, undoing the weights' +128); one conversion, one multiply (row
// scales x the token's scale) and one FMA finish the block. Every token's sum runs through the
// same operations in the same order whatever NT is, so results do not depend on the batch.
struct PackedQ8_0Kernel {
  static constexpr int kTokens = 8;

  template <int NT>
  static void Tile(const Problem& p, int64_t r, int64_t t) {
    const int64_t nb = p.cols / 32;
    const uint8_t* g = p.packed + r / kPackedRows * nb * kPackedQ8_0BlockBytes;
    Q8_0ActView a[NT];
    __m512 acc[NT];
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) {
      a[j] = Q8_0Acts(p, t + j);
      acc[j] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; ++b, g += kPackedQ8_0BlockBytes) {
      const __m512 dw = _mm512_load_ps(reinterpret_cast<const float*>(g));
      __m512i w[8];
      MINT_UNROLL
      for (int k = 0; k < 8; ++k) w[k] = _mm512_load_si512(g + 64 + 64 * k);
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) {
        const int8_t* aq = a[j].qs + 32 * b;
        // Two chains of 4 (their sum is exact): few tokens leave too little independent work
        // to hide one chain of 8 dependent VNNI latencies.
        __m512i s0 = _mm512_set1_epi32(a[j].bias[b]), s1 = _mm512_setzero_si512();
        MINT_UNROLL
        for (int k = 0; k < 8; k += 2) {
          s0 = _mm512_dpbusd_epi32(s0, w[k], _mm512_set1_epi32(LoadI32(aq + 4 * k)));
          s1 = _mm512_dpbusd_epi32(s1, w[k + 1], _mm512_set1_epi32(LoadI32(aq + 4 * k + 4)));
        }
        const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(a[j].d[b]));
        acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), scale, acc[j]);
      }
    }
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) _mm512_storeu_ps(p.y + (t + j) * p.rows + r, acc[j]);
  }

  // Rows [row_begin, row_end) must be whole groups of 16.
  static void Run(const Problem& p, int64_t row_begin, int64_t row_end) {
    using Fn = void (*)(const Problem&, int64_t, int64_t);
    static constexpr Fn kTiles[kTokens] = {&Tile<1>, &Tile<2>, &Tile<3>, &Tile<4>,
                                           &Tile<5>, &Tile<6>, &Tile<7>, &Tile<8>};
    const int64_t block = TokenBlock(p.cols * 9 / 8, kTokens);
    for (int64_t t0 = 0; t0 < p.n_tokens; t0 += block) {
      const int64_t t1 = std::min(p.n_tokens, t0 + block);
      for (int64_t r = row_begin; r < row_end; r += kPackedRows) {
        for (int64_t t = t0; t < t1; t += kTokens) {
          kTiles[std::min<int64_t>(kTokens, t1 - t) - 1](p, r, t);
        }
      }
    }
  }
};
#endif

}  // namespace
}  // namespace mint::kernels::matmul_detail

// The kernel headers below build on the primitives above, and kprep on kquant: keep this order
// (one include per block, so include sorting cannot reorder them).
#include "kernels/matmul_simd_kquant.h"

#include "kernels/matmul_simd_kprep.h"

#include "kernels/matmul_simd_float.h"

#include "kernels/matmul_simd_decoded.h"

#include "kernels/matmul_simd_kpacked.h"

namespace mint::kernels::matmul_detail {
namespace {

// From this many tokens on, K-quant rows are prepared once per row tile (see matmul_simd_kprep.h).
inline constexpr int64_t kPrepareMinTokens = 4;

void MatMulRowsSimd(const Problem& p, int64_t row_begin, int64_t row_end) {
  const int64_t q8k_bytes = p.cols / kQK_K * static_cast<int64_t>(sizeof(BlockQ8_K));
  if (p.packed != nullptr) {
    switch (p.type) {
      case DType::kQ4_K:
        return RunPacked<PackedKernels::Q4_K>(p, row_begin, row_end);
      case DType::kQ5_K:
        return RunPacked<PackedKernels::Q5_K>(p, row_begin, row_end);
      case DType::kQ6_K:
        return RunPacked<PackedKernels::Q6_K>(p, row_begin, row_end);
      case DType::kQ3_K:
        return RunPacked<PackedKernels::Q3_K>(p, row_begin, row_end);
      case DType::kQ2_K:
        return RunPacked<PackedKernels::Q2_K>(p, row_begin, row_end);
      case DType::kIQ4_XS:
        return RunPacked<PackedKernels::IQ4_XS>(p, row_begin, row_end);
      case DType::kQ5_0:
        return RunPacked<PackedKernels::Q5_0>(p, row_begin, row_end);
      case DType::kQ5_1:
        return RunPacked<PackedKernels::Q5_1>(p, row_begin, row_end);
      case DType::kQ4_1:
        return RunPacked<PackedKernels::Q4_1>(p, row_begin, row_end);
      case DType::kMXFP4:
        return RunPacked<PackedKernels::MXFP4>(p, row_begin, row_end);
      case DType::kF16:
        return PackedFloatKernel<F16Weights>::Run(p, row_begin, row_end);
      case DType::kF32:
        return PackedFloatKernel<F32Weights>::Run(p, row_begin, row_end);
#if MINT_MATMUL_AVX512
      case DType::kQ8_0:
        return PackedQ8_0Kernel::Run(p, row_begin, row_end);
#endif
      default:
        break;  // Q8_0 below AVX-512: the GGUF layout's kernel
    }
  }
  if (p.n_tokens >= kPrepareMinTokens && p.type == DType::kQ4_K) {
    return RunPreparedTiles<PreparedKQuantKernel<DType::kQ4_K>>(p, row_begin, row_end, q8k_bytes);
  }
  if (p.n_tokens >= kPrepareMinTokens && p.type == DType::kQ6_K) {
    return RunPreparedTiles<PreparedKQuantKernel<DType::kQ6_K>>(p, row_begin, row_end, q8k_bytes);
  }
  switch (p.type) {
    case DType::kQ4_0:
      return RunTiles<Q4_0Kernel>(p, row_begin, row_end, p.cols * 9 / 8);
    case DType::kQ8_0:
      return RunTiles<Q8_0Kernel>(p, row_begin, row_end, p.cols * 9 / 8);
    case DType::kIQ4_NL:
      return RunTiles<IQ4_NLKernel>(p, row_begin, row_end, p.cols * 9 / 8);
    case DType::kQ4_K:
      return RunTiles<Q4_KKernel>(p, row_begin, row_end, q8k_bytes);
    case DType::kQ6_K:
      return RunTiles<Q6_KKernel>(p, row_begin, row_end, q8k_bytes);
    case DType::kF32:
      return RunTiles<FloatKernel<F32Weights>>(p, row_begin, row_end, p.cols * 4);
    case DType::kF16:
      return RunTiles<FloatKernel<F16Weights>>(p, row_begin, row_end, p.cols * 4);
    case DType::kBF16:
#if MINT_MATMUL_AVX512
      return RunTiles<Bf16DotKernel>(p, row_begin, row_end, p.bf16_stride * 2);
#else
      return RunTiles<FloatKernel<Bf16Weights>>(p, row_begin, row_end, p.cols * 4);
#endif
    default:
      return RunDecodedRows(p, row_begin, row_end);
  }
}

}  // namespace
}  // namespace mint::kernels::matmul_detail
