// F32, F16 and BF16 weights x f32 activations (FMA), and on AVX-512 BF16 weights x bf16
// activations (vdpbf16ps), for matmul_simd.h (same rules: ISA files only).
#pragma once

#include <cstring>

namespace mint::kernels::matmul_detail {
namespace {

#if defined(__AVX512F__)
using VecF = __m512;
inline constexpr int kLanes = 16;
inline VecF ZeroF() { return _mm512_setzero_ps(); }
inline VecF LoadF(const float* p) { return _mm512_loadu_ps(p); }
inline VecF Fma(VecF a, VecF b, VecF c) { return _mm512_fmadd_ps(a, b, c); }
// (Not _mm512_reduce_add_ps: GCC 12's version trips -Wuninitialized.)
inline float HsumF(VecF v) {
  return Hsum(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}
inline VecF LoadF16(const uint16_t* p) { return _mm512_cvtph_ps(Load256(p)); }
inline VecF LoadBf16(const uint16_t* p) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(Load256(p)), 16));
}
inline VecF BroadcastF(const float* p) { return _mm512_set1_ps(*p); }
inline VecF AddF(VecF a, VecF b) { return _mm512_add_ps(a, b); }
inline void StoreF(float* p, VecF v) { _mm512_storeu_ps(p, v); }
#else
using VecF = __m256;
inline constexpr int kLanes = 8;
inline VecF ZeroF() { return _mm256_setzero_ps(); }
inline VecF LoadF(const float* p) { return _mm256_loadu_ps(p); }
inline VecF Fma(VecF a, VecF b, VecF c) { return _mm256_fmadd_ps(a, b, c); }
inline float HsumF(VecF v) { return Hsum(v); }
inline VecF LoadF16(const uint16_t* p) { return _mm256_cvtph_ps(Load128(p)); }
inline VecF LoadBf16(const uint16_t* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(Load128(p)), 16));
}
inline VecF BroadcastF(const float* p) { return _mm256_broadcast_ss(p); }
inline VecF AddF(VecF a, VecF b) { return _mm256_add_ps(a, b); }
inline void StoreF(float* p, VecF v) { _mm256_storeu_ps(p, v); }
#endif

struct F32Weights {
  using Elem = float;
  static VecF Load(const float* p) { return LoadF(p); }
  static float Scalar(const float* p) { return *p; }
};
struct F16Weights {
  using Elem = uint16_t;
  static VecF Load(const uint16_t* p) { return LoadF16(p); }
  static float Scalar(const uint16_t* p) { return F16(*p); }
};
struct Bf16Weights {
  using Elem = uint16_t;
  static VecF Load(const uint16_t* p) { return LoadBf16(p); }
  static float Scalar(const uint16_t* p) {
    const uint32_t bits = static_cast<uint32_t>(*p) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    return f;
  }
};

template <class W>
struct FloatKernel {
  static constexpr int kRows = 4;
  static constexpr int kTokens = MINT_MATMUL_AVX512 ? 6 : 2;

  template <int NR, int NT>
  static void Tile(const Problem& p, int64_t r, int64_t t) {
    using Elem = typename W::Elem;
    // With one token, two accumulators per row hide the FMA latency.
    constexpr int U = NT == 1 ? 2 : 1;
    const Elem* w[NR];
    MINT_UNROLL
    for (int i = 0; i < NR; ++i) w[i] = reinterpret_cast<const Elem*>(p.w + (r + i) * p.row_bytes);
    const float* x[NT];
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) x[j] = p.x + (t + j) * p.cols;
    VecF acc[U][NR][NT];
    MINT_UNROLL
    for (auto& u : acc)
      for (auto& row : u)
        for (auto& v : row) v = ZeroF();
    int64_t c = 0;
    for (; c + U * kLanes <= p.cols; c += U * kLanes) {
      MINT_UNROLL
      for (int u = 0; u < U; ++u) {
        VecF wv[NR];
        MINT_UNROLL
        for (int i = 0; i < NR; ++i) wv[i] = W::Load(w[i] + c + u * kLanes);
        MINT_UNROLL
        for (int j = 0; j < NT; ++j) {
          const VecF xv = LoadF(x[j] + c + u * kLanes);
          MINT_UNROLL
          for (int i = 0; i < NR; ++i) acc[u][i][j] = Fma(wv[i], xv, acc[u][i][j]);
        }
      }
    }
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) {
      MINT_UNROLL
      for (int i = 0; i < NR; ++i) {
        float sum = HsumF(acc[0][i][j]);
        if constexpr (U == 2) sum += HsumF(acc[1][i][j]);
        for (int64_t k = c; k < p.cols; ++k) sum += W::Scalar(w[i] + k) * x[j][k];
        p.y[(t + j) * p.rows + r + i] = sum;
      }
    }
  }
};

// F32 and F16 weights in the packed layout (kernels.h): outer products. Per column, the 16
// rows' weights are loaded once (one or two vectors) and multiplied by each token's broadcast
// activation: one FMA per token and vector, no horizontal sums. Each token keeps kChains sums
// (columns c % kChains) to cover the FMA latency with few tokens, combined at the end of each
// pass; a pass covers kBlockCols columns and continues the sums left in y by the previous one.
// Passes are column blocks so that in prefill a group's block of weights stays in L1 while every
// token of a token block (whose activations stay in L2) runs over it: without them, each weight
// would come from memory once per tile of tokens. A token's arithmetic is the same whatever the
// loop order or the call's token count (batch-invariant).
template <class W>
struct PackedFloatKernel {
  using Elem = typename W::Elem;
  static constexpr int kVecs = 16 / kLanes;             // vectors per column of 16 rows
  static constexpr int kChains = 2;                     // FMA latency x throughput / tokens
  static constexpr int kTokens = kLanes == 16 ? 8 : 2;  // kChains x kTokens x kVecs registers
  static constexpr int64_t kBlockCols = 512;            // 16 KiB of F16 per group
  static constexpr int64_t kStreamMaxTokens = 8;
  static constexpr int64_t kPrefetchBytes = 2048;

  template <int NT>
  static void Tile(const Problem& p, const Elem* g, int64_t r, int64_t t, int64_t c0, int64_t c1) {
    VecF acc[kChains][NT][kVecs];
    MINT_UNROLL
    for (auto& ch : acc)
      for (auto& tok : ch)
        for (auto& v : tok) v = ZeroF();
    if (c0 > 0) {
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) {
        MINT_UNROLL
        for (int v = 0; v < kVecs; ++v)
          acc[0][j][v] = LoadF(p.y + (t + j) * p.rows + r + kLanes * v);
      }
    }
    const float* x[NT];
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) x[j] = p.x + (t + j) * p.cols;
    const bool prefetch = p.n_tokens <= kStreamMaxTokens;
    auto column = [&](int ch, int64_t c) {
      VecF w[kVecs];
      MINT_UNROLL
      for (int v = 0; v < kVecs; ++v) w[v] = W::Load(g + 16 * c + kLanes * v);
      MINT_UNROLL
      for (int j = 0; j < NT; ++j) {
        const VecF xb = BroadcastF(x[j] + c);
        MINT_UNROLL
        for (int v = 0; v < kVecs; ++v) acc[ch][j][v] = Fma(w[v], xb, acc[ch][j][v]);
      }
    };
    int64_t c = c0;
    for (; c + kChains <= c1; c += kChains) {
      if (prefetch) {
        _mm_prefetch(reinterpret_cast<const char*>(g + 16 * c) + kPrefetchBytes, _MM_HINT_T0);
      }
      MINT_UNROLL
      for (int ch = 0; ch < kChains; ++ch) column(ch, c + ch);
    }
    for (; c < c1; ++c) column(0, c);
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) {
      MINT_UNROLL
      for (int v = 0; v < kVecs; ++v) {
        VecF sum = acc[0][j][v];
        MINT_UNROLL
        for (int ch = 1; ch < kChains; ++ch) sum = AddF(sum, acc[ch][j][v]);
        StoreF(p.y + (t + j) * p.rows + r + kLanes * v, sum);
      }
    }
  }

  // Rows [row_begin, row_end) must be whole groups of 16.
  static void Run(const Problem& p, int64_t row_begin, int64_t row_end) {
    using Fn = void (*)(const Problem&, const Elem*, int64_t, int64_t, int64_t, int64_t);
    static constexpr auto kTiles = []<size_t... I>(std::index_sequence<I...>) {
      return std::array<Fn, kTokens>{&Tile<static_cast<int>(I) + 1>...};
    }
    (std::make_index_sequence<kTokens>());
    const auto* base = reinterpret_cast<const Elem*>(p.packed);
    auto pass = [&](int64_t r, int64_t c0, int64_t t0, int64_t t1) {
      const Elem* g = base + r / 16 * p.cols * 16;
      const int64_t c1 = std::min(p.cols, c0 + kBlockCols);
      for (int64_t t = t0; t < t1; t += kTokens) {
        kTiles[std::min<int64_t>(kTokens, t1 - t) - 1](p, g, r, t, c0, c1);
      }
    };
    if (p.n_tokens <= kStreamMaxTokens) {
      // Decode: each group's weights as one sequential stream.
      for (int64_t r = row_begin; r < row_end; r += 16) {
        for (int64_t c0 = 0; c0 < p.cols; c0 += kBlockCols) pass(r, c0, 0, p.n_tokens);
      }
      return;
    }
    const int64_t block = TokenBlock(kBlockCols * 4, kTokens);
    for (int64_t t0 = 0; t0 < p.n_tokens; t0 += block) {
      const int64_t t1 = std::min(p.n_tokens, t0 + block);
      for (int64_t c0 = 0; c0 < p.cols; c0 += kBlockCols) {
        for (int64_t r = row_begin; r < row_end; r += 16) pass(r, c0, t0, t1);
      }
    }
  }
};

#if MINT_MATMUL_AVX512
// BF16 weights x activations rounded to bf16 once per call: vdpbf16ps does 32 products per
// instruction, accumulating pairs in f32.
struct Bf16DotKernel {
  static constexpr int kRows = 4;
  static constexpr int kTokens = 6;

  template <int NR, int NT>
  static void Tile(const Problem& p, int64_t r, int64_t t) {
    constexpr int U = NT == 1 ? 2 : 1;
    const uint16_t* w[NR];
    MINT_UNROLL
    for (int i = 0; i < NR; ++i)
      w[i] = reinterpret_cast<const uint16_t*>(p.w + (r + i) * p.row_bytes);
    const uint16_t* x[NT];
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) x[j] = p.x_bf16 + (t + j) * p.bf16_stride;
    __m512 acc[U][NR][NT];
    MINT_UNROLL
    for (auto& u : acc)
      for (auto& row : u)
        for (auto& v : row) v = _mm512_setzero_ps();
    int64_t c = 0;
    for (; c + 32 * U <= p.cols; c += 32 * U) {
      MINT_UNROLL
      for (int u = 0; u < U; ++u) {
        __m512bh wv[NR];
        MINT_UNROLL
        for (int i = 0; i < NR; ++i) wv[i] = (__m512bh)_mm512_loadu_si512(w[i] + c + 32 * u);
        MINT_UNROLL
        for (int j = 0; j < NT; ++j) {
          const __m512bh xv = (__m512bh)_mm512_load_si512(x[j] + c + 32 * u);
          MINT_UNROLL
          for (int i = 0; i < NR; ++i) acc[u][i][j] = _mm512_dpbf16_ps(acc[u][i][j], wv[i], xv);
        }
      }
    }
    // The activations are zero-padded to a multiple of 32; masked weight loads stop at cols.
    for (; c < p.cols; c += 32) {
      const int n = static_cast<int>(std::min<int64_t>(32, p.cols - c));
      const __mmask32 mask = n == 32 ? ~__mmask32{0} : ((__mmask32{1} << n) - 1);
      MINT_UNROLL
      for (int i = 0; i < NR; ++i) {
        const __m512bh wv = (__m512bh)_mm512_maskz_loadu_epi16(mask, w[i] + c);
        MINT_UNROLL
        for (int j = 0; j < NT; ++j) {
          const __m512bh xv = (__m512bh)_mm512_load_si512(x[j] + c);
          acc[0][i][j] = _mm512_dpbf16_ps(acc[0][i][j], wv, xv);
        }
      }
    }
    MINT_UNROLL
    for (int j = 0; j < NT; ++j) {
      MINT_UNROLL
      for (int i = 0; i < NR; ++i) {
        float sum = HsumF(acc[0][i][j]);
        if constexpr (U == 2) sum += HsumF(acc[1][i][j]);
        p.y[(t + j) * p.rows + r + i] = sum;
      }
    }
  }
};

// Rounds to bf16 (nearest even) and zero-pads to kBf16Align values.
void ConvertBf16ActsSimd(const float* x, int64_t cols, uint16_t* out) {
  const int64_t padded = (cols + kBf16Align - 1) / kBf16Align * kBf16Align;
  for (int64_t c = 0; c < padded; c += 32) {
    const int64_t n = std::min<int64_t>(32, std::max<int64_t>(0, cols - c));
    const __mmask16 m_lo = static_cast<__mmask16>(n >= 16 ? 0xFFFF : (1u << n) - 1);
    const __mmask16 m_hi = static_cast<__mmask16>(n >= 32   ? 0xFFFF
                                                  : n <= 16 ? 0
                                                            : (1u << (n - 16)) - 1);
    const __m512 lo = _mm512_maskz_loadu_ps(m_lo, x + c);
    const __m512 hi = _mm512_maskz_loadu_ps(m_hi, x + c + 16);
    _mm512_storeu_si512(out + c, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
  }
}
#endif

}  // namespace
}  // namespace mint::kernels::matmul_detail
