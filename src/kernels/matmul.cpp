// MatMul: ISA dispatch, activation preparation, threading, and the scalar reference kernels.
//
// The scalar kernels define what every type computes; the SIMD variants (matmul_avx2.cpp,
// matmul_avx512.cpp) must agree with them up to float summation order. Quantized types follow
// llama.cpp: the activations are quantized once per call (Q8_0 blocks for Q4_0/Q8_0 weights,
// Q8_K super-blocks for Q4_K/Q6_K) and each block's dot product is exact integer arithmetic,
// scaled by the product of the two block scales.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/cpu.h"
#include "core/status.h"
#include "kernels/decode.h"
#include "kernels/kernels.h"
#include "kernels/matmul_internal.h"
#include "kernels/quant_formats.h"

namespace mint::kernels {
namespace matmul_detail {
namespace {

// Round half to even for |x| <= 2^22 (the SIMD quantizers use the same rounding mode).
int RoundHalfEven(float x) {
  const float shifted = x + 12582912.0f;  // 1.5 * 2^23
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof(bits));
  return (bits & 0x007FFFFF) - 0x00400000;
}

// Quantizes n values symmetrically with one scale; returns the scale and the sum of q.
float QuantizeSymmetric(const float* x, int n, int8_t* q, int32_t* sum) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
  int32_t s = 0;
  for (int j = 0; j < n; ++j) {
    q[j] = static_cast<int8_t>(RoundHalfEven(x[j] * id));
    s += q[j];
  }
  *sum = s;
  return amax / 127.0f;
}

// Unpacks a Q4_K block to q in [0, 15] (value order), sc and m per sub-block of 32.
void UnpackQ4K(const BlockQ4_K& b, uint8_t* q, int* sc, int* m) {
  for (int chunk = 0; chunk < 4; ++chunk) {
    for (int l = 0; l < 32; ++l) {
      q[64 * chunk + l] = b.qs[32 * chunk + l] & 0xF;
      q[64 * chunk + 32 + l] = b.qs[32 * chunk + l] >> 4;
    }
  }
  for (int j = 0; j < 8; ++j) {
    uint8_t s, mm;
    UnpackQ4KScale(b.scales, j, &s, &mm);
    sc[j] = s;
    m[j] = mm;
  }
}

// Unpacks a Q6_K block to q - 32 in [-32, 31] (value order).
void UnpackQ6K(const BlockQ6_K& b, int8_t* q) {
  for (int half = 0; half < 2; ++half) {
    const uint8_t* ql = b.ql + 64 * half;
    const uint8_t* qh = b.qh + 32 * half;
    int8_t* out = q + 128 * half;
    for (int l = 0; l < 32; ++l) {
      out[l] = static_cast<int8_t>(((ql[l] & 0xF) | ((qh[l] >> 0 & 3) << 4)) - 32);
      out[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | ((qh[l] >> 2 & 3) << 4)) - 32);
      out[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | ((qh[l] >> 4 & 3) << 4)) - 32);
      out[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | ((qh[l] >> 6 & 3) << 4)) - 32);
    }
  }
}

float DotQ4_0(const BlockQ4_0* w, const int8_t* a, const float* ad, int64_t nb) {
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b, a += 32) {
    int32_t isum = 0;
    for (int j = 0; j < 16; ++j) {
      isum += ((w[b].qs[j] & 0xF) - 8) * a[j] + ((w[b].qs[j] >> 4) - 8) * a[j + 16];
    }
    sum += static_cast<float>(isum) * (F16ToF32(w[b].d) * ad[b]);
  }
  return sum;
}

float DotQ8_0(const BlockQ8_0* w, const int8_t* a, const float* ad, int64_t nb) {
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b, a += 32) {
    int32_t isum = 0;
    for (int j = 0; j < 32; ++j) isum += w[b].qs[j] * a[j];
    sum += static_cast<float>(isum) * (F16ToF32(w[b].d) * ad[b]);
  }
  return sum;
}

float DotQ4_K(const BlockQ4_K* w, const BlockQ8_K* a, int64_t nb) {
  float sum = 0.0f;
  uint8_t q[kQK_K];
  int sc[8], m[8];
  for (int64_t b = 0; b < nb; ++b) {
    UnpackQ4K(w[b], q, sc, m);
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < 8; ++j) {
      int32_t dot = 0;
      for (int l = 0; l < 32; ++l) dot += q[32 * j + l] * a[b].qs[32 * j + l];
      isum += sc[j] * dot;
      msum += m[j] * (a[b].bsums[2 * j] + a[b].bsums[2 * j + 1]);
    }
    sum += static_cast<float>(isum) * (F16ToF32(w[b].d) * a[b].d);
    sum -= static_cast<float>(msum) * (F16ToF32(w[b].dmin) * a[b].d);
  }
  return sum;
}

float DotQ6_K(const BlockQ6_K* w, const BlockQ8_K* a, int64_t nb) {
  float sum = 0.0f;
  int8_t q[kQK_K];
  for (int64_t b = 0; b < nb; ++b) {
    UnpackQ6K(w[b], q);
    int32_t isum = 0;
    for (int g = 0; g < 16; ++g) {
      int32_t dot = 0;
      for (int l = 0; l < 16; ++l) dot += q[16 * g + l] * a[b].qs[16 * g + l];
      isum += w[b].scales[g] * dot;
    }
    sum += static_cast<float>(isum) * (F16ToF32(w[b].d) * a[b].d);
  }
  return sum;
}

// Per-thread decoded row (decode.h) for the scalar reference of the decoded types.
struct DecodedRow {
  std::vector<int8_t> v;
  std::vector<float> scale, offset;
};

DecodedRow& DecodeScratch(DType t, const uint8_t* row, int64_t cols) {
  thread_local DecodedRow d;
  d.v.resize(static_cast<size_t>(cols));
  d.scale.resize(static_cast<size_t>(cols / kDecodeGroup));
  d.offset.resize(static_cast<size_t>(cols / kDecodeGroup));
  DecodeRow(t, row, cols, d.v.data(), d.scale.data(), d.offset.data());
  return d;
}

int32_t GroupDot(const int8_t* v, const int8_t* a) {
  int32_t s = 0;
  for (int l = 0; l < kDecodeGroup; ++l) s += v[l] * a[l];
  return s;
}

// Decoded weights x Q8_0 activations (32-value types): per block, the two groups' integer dot
// products times their scales, plus the offset times the block's activation sum (the bias, with
// multiplier 1 for types with offsets), all times the activation scale.
float DotDecodedQ8_0(const DecodedRow& w, bool has_offset, const int8_t* a, const float* ad,
                     const int32_t* asum, int64_t nb) {
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t g = 2 * b;
    float block = w.scale[g] * static_cast<float>(GroupDot(&w.v[16 * g], a + 32 * b)) +
                  w.scale[g + 1] * static_cast<float>(GroupDot(&w.v[16 * g + 16], a + 32 * b + 16));
    if (has_offset) block += w.offset[g] * static_cast<float>(asum[b]);
    sum += block * ad[b];
  }
  return sum;
}

// Decoded weights x Q8_K activations (256-value types): the same per group of 16, with the
// activations' per-16 sums (bsums) for the offsets.
float DotDecodedQ8_K(const DecodedRow& w, bool has_offset, const BlockQ8_K* a, int64_t nb) {
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    float block = 0.0f;
    for (int k = 0; k < 16; ++k) {
      const int64_t g = 16 * b + k;
      block += w.scale[g] * static_cast<float>(GroupDot(&w.v[16 * g], a[b].qs + 16 * k));
      if (has_offset) block += w.offset[g] * static_cast<float>(a[b].bsums[k]);
    }
    sum += block * a[b].d;
  }
  return sum;
}

template <class Convert>
float DotFloat(const void* row, const float* x, int64_t n, Convert convert) {
  double sum = 0.0;
  for (int64_t c = 0; c < n; ++c) sum += static_cast<double>(convert(row, c)) * x[c];
  return static_cast<float>(sum);
}

float DotRow(const Problem& p, const uint8_t* row, int64_t t) {
  const int64_t nb32 = p.cols / 32, nbk = p.cols / kQK_K;
  const float* x = p.x + t * p.cols;
  switch (p.type) {
    case DType::kF32:
      return DotFloat(row, x, p.cols,
                      [](const void* r, int64_t c) { return static_cast<const float*>(r)[c]; });
    case DType::kF16:
      return DotFloat(row, x, p.cols, [](const void* r, int64_t c) {
        return F16ToF32(static_cast<const uint16_t*>(r)[c]);
      });
    case DType::kBF16:
      return DotFloat(row, x, p.cols, [](const void* r, int64_t c) {
        return BF16ToF32(static_cast<const uint16_t*>(r)[c]);
      });
    case DType::kQ4_0:
      return DotQ4_0(reinterpret_cast<const BlockQ4_0*>(row), p.q8_qs + t * p.cols,
                     p.q8_d + t * nb32, nb32);
    case DType::kQ8_0:
      return DotQ8_0(reinterpret_cast<const BlockQ8_0*>(row), p.q8_qs + t * p.cols,
                     p.q8_d + t * nb32, nb32);
    case DType::kQ4_K:
      return DotQ4_K(reinterpret_cast<const BlockQ4_K*>(row), p.q8k + t * nbk, nbk);
    case DType::kQ6_K:
      return DotQ6_K(reinterpret_cast<const BlockQ6_K*>(row), p.q8k + t * nbk, nbk);
    default:
      break;  // decoded types: MatMulRowsScalar decodes each row once for every token
  }
  return 0.0f;
}

float DotDecoded(const Problem& p, const DecodedRow& d, int64_t t) {
  const int64_t nb32 = p.cols / 32, nbk = p.cols / kQK_K;
  const bool has_offset = DecodedHasOffset(p.type);
  if (DTypeBlockElements(p.type) == kQK_K) {
    return DotDecodedQ8_K(d, has_offset, p.q8k + t * nbk, nbk);
  }
  return DotDecodedQ8_0(d, has_offset, p.q8_qs + t * p.cols, p.q8_d + t * nb32,
                        p.q8_bias + t * nb32, nb32);
}

}  // namespace

int32_t Q8_0BiasMultiplier(DType weight_type, Isa isa) {
  if (weight_type == DType::kQ4_0) return -8;
  // Packed Q5_0 codes are q in [0, 31], packed MXFP4's its table values + 12; the decoded path
  // (no offset) ignores the bias.
  if (weight_type == DType::kQ5_0) return -16;
  if (weight_type == DType::kMXFP4) return -kMxfp4Offset;
  if (weight_type == DType::kQ4_1 || weight_type == DType::kQ5_1) return 1;  // offset x sum
  if ((weight_type == DType::kQ8_0 || weight_type == DType::kIQ4_NL) && isa == Isa::kAvx512) {
    return -128;  // codes stored + 128 (IQ4_NL: its table values + 128)
  }
  return 0;
}

void QuantizeQ8_0ActsScalar(const float* x, int64_t cols, int8_t* qs, float* d, int32_t* bias,
                            int32_t bias_multiplier) {
  for (int64_t b = 0; b < cols / 32; ++b) {
    int32_t sum;
    d[b] = QuantizeSymmetric(x + 32 * b, 32, qs + 32 * b, &sum);
    bias[b] = bias_multiplier * sum;
  }
}

void QuantizeQ8_KActsScalar(const float* x, int64_t cols, BlockQ8_K* out) {
  for (int64_t b = 0; b < cols / kQK_K; ++b, x += kQK_K) {
    int32_t sum;
    out[b].d = QuantizeSymmetric(x, kQK_K, out[b].qs, &sum);
    for (int g = 0; g < 16; ++g) {
      int32_t s = 0;
      for (int l = 0; l < 16; ++l) s += out[b].qs[16 * g + l];
      out[b].bsums[g] = static_cast<int16_t>(s);
    }
  }
}

void MatMulRowsScalar(const Problem& p, int64_t row_begin, int64_t row_end) {
  if (IsDecodedType(p.type)) {
    for (int64_t r = row_begin; r < row_end; ++r) {
      const DecodedRow& d = DecodeScratch(p.type, p.w + r * p.row_bytes, p.cols);
      for (int64_t t = 0; t < p.n_tokens; ++t) p.y[t * p.rows + r] = DotDecoded(p, d, t);
    }
    return;
  }
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* row = p.w + r * p.row_bytes;
    for (int64_t t = 0; t < p.n_tokens; ++t) p.y[t * p.rows + r] = DotRow(p, row, t);
  }
}

}  // namespace matmul_detail

namespace {

using matmul_detail::ActivationFormat;
using matmul_detail::Problem;

Isa ResolveMatMulIsa(Isa isa) {
  const Isa best = BestIsa();
  if (isa == Isa::kBest) return best;
  return static_cast<int>(isa) > static_cast<int>(best) ? best : isa;
}

ActivationFormat FormatFor(DType t, Isa isa) {
  switch (t) {
    case DType::kQ4_0:
    case DType::kQ8_0:
      return ActivationFormat::kQ8_0;
    case DType::kQ4_K:
    case DType::kQ6_K:
      return ActivationFormat::kQ8_K;
    case DType::kQ4_1:
    case DType::kQ5_0:
    case DType::kQ5_1:
    case DType::kIQ4_NL:
    case DType::kMXFP4:
      return ActivationFormat::kQ8_0;
    case DType::kQ2_K:
    case DType::kQ3_K:
    case DType::kQ5_K:
    case DType::kIQ4_XS:
      return ActivationFormat::kQ8_K;
    case DType::kBF16:
      return isa == Isa::kAvx512 ? ActivationFormat::kBf16 : ActivationFormat::kF32;
    default:
      return ActivationFormat::kF32;
  }
}

// Per-thread scratch for prepared activations: grows to the largest call seen, never shrinks,
// so steady-state calls allocate nothing.
uint8_t* Scratch(size_t bytes) {
  thread_local std::vector<uint8_t> buffer;
  if (buffer.size() < bytes + 64) buffer.resize(bytes + 64);
  const auto addr = reinterpret_cast<uintptr_t>(buffer.data());
  return buffer.data() + ((64 - addr % 64) % 64);
}

size_t RoundUp64(size_t n) { return (n + 63) / 64 * 64; }

// Prepares token rows [t0, t1) into the buffers `p` points at.
void PrepareTokens(const Problem& p, const float* x, Isa isa, int64_t t0, int64_t t1) {
  namespace md = matmul_detail;
  const int64_t cols = p.cols, nb32 = cols / 32, nbk = cols / kQK_K;
  const int32_t bias_mul = md::Q8_0BiasMultiplier(p.type, isa);
  for (int64_t t = t0; t < t1; ++t) {
    const float* xt = x + t * cols;
    switch (FormatFor(p.type, isa)) {
      case ActivationFormat::kF32:
        break;
      case ActivationFormat::kBf16:
        md::ConvertBf16ActsAvx512(xt, cols, const_cast<uint16_t*>(p.x_bf16 + t * p.bf16_stride));
        break;
      case ActivationFormat::kQ8_0: {
        auto* qs = const_cast<int8_t*>(p.q8_qs + t * cols);
        auto* d = const_cast<float*>(p.q8_d + t * nb32);
        auto* bias = const_cast<int32_t*>(p.q8_bias + t * nb32);
        if (isa == Isa::kAvx512)
          md::QuantizeQ8_0ActsAvx512(xt, cols, qs, d, bias, bias_mul);
        else if (isa == Isa::kAvx2)
          md::QuantizeQ8_0ActsAvx2(xt, cols, qs, d, bias, bias_mul);
        else
          md::QuantizeQ8_0ActsScalar(xt, cols, qs, d, bias, bias_mul);
        break;
      }
      case ActivationFormat::kQ8_K: {
        auto* out = const_cast<BlockQ8_K*>(p.q8k + t * nbk);
        if (isa == Isa::kAvx512)
          md::QuantizeQ8_KActsAvx512(xt, cols, out);
        else if (isa == Isa::kAvx2)
          md::QuantizeQ8_KActsAvx2(xt, cols, out);
        else
          md::QuantizeQ8_KActsScalar(xt, cols, out);
        break;
      }
    }
  }
}

// Points `p` at scratch buffers sized for its activation format.
void LayOutActivations(Problem* p, const float* x, Isa isa) {
  const auto n = static_cast<size_t>(p->n_tokens);
  const auto cols = static_cast<size_t>(p->cols);
  p->x = x;
  switch (FormatFor(p->type, isa)) {
    case ActivationFormat::kF32:
      return;
    case ActivationFormat::kBf16: {
      p->bf16_stride = (p->cols + matmul_detail::kBf16Align - 1) / matmul_detail::kBf16Align *
                       matmul_detail::kBf16Align;
      p->x_bf16 = reinterpret_cast<const uint16_t*>(Scratch(n * p->bf16_stride * 2));
      return;
    }
    case ActivationFormat::kQ8_0: {
      const size_t qs_bytes = RoundUp64(n * cols), d_bytes = RoundUp64(n * (cols / 32) * 4);
      uint8_t* base = Scratch(qs_bytes + 2 * d_bytes);
      p->q8_qs = reinterpret_cast<const int8_t*>(base);
      p->q8_d = reinterpret_cast<const float*>(base + qs_bytes);
      p->q8_bias = reinterpret_cast<const int32_t*>(base + qs_bytes + d_bytes);
      return;
    }
    case ActivationFormat::kQ8_K:
      p->q8k = reinterpret_cast<const BlockQ8_K*>(Scratch(n * (cols / kQK_K) * sizeof(BlockQ8_K)));
      return;
  }
}

// [begin, end) of `n` items for thread ith of nth, in whole multiples of `grain`.
std::pair<int64_t, int64_t> Split(int64_t n, int64_t grain, int ith, int nth) {
  const int64_t chunks = (n + grain - 1) / grain;
  const int64_t begin = std::min(n, chunks * ith / nth * grain);
  const int64_t end = std::min(n, chunks * (ith + 1) / nth * grain);
  return {begin, end};
}

}  // namespace

namespace {

// Runs every problem of `group` (all sharing x and one activation layout, prepared in
// group[0]) with one pool wake-up: each thread takes its row range of every problem.
void RunGroup(std::span<matmul_detail::Problem> group, const float* x, Isa isa, ThreadPool* pool) {
  const Problem& p0 = group[0];
  const int64_t n_tokens = p0.n_tokens;
  int64_t work = 0;
  for (const Problem& p : group) work += p.rows * p.cols * n_tokens;
  const int nth = pool != nullptr ? pool->size() : 1;
  // Small calls are not worth waking the pool for.
  const bool parallel = nth > 1 && work >= (int64_t{1} << 16);
  if (parallel && n_tokens >= 8 && FormatFor(p0.type, isa) != ActivationFormat::kF32) {
    pool->Run([&](int ith, int nth_) {
      const auto [t0, t1] = Split(n_tokens, 1, ith, nth_);
      PrepareTokens(p0, x, isa, t0, t1);
    });
  } else {
    PrepareTokens(p0, x, isa, 0, n_tokens);
  }

  void (*rows_fn)(const Problem&, int64_t, int64_t) = matmul_detail::MatMulRowsScalar;
  if (isa == Isa::kAvx512) rows_fn = matmul_detail::MatMulRowsAvx512;
  if (isa == Isa::kAvx2) rows_fn = matmul_detail::MatMulRowsAvx2;
  if (!parallel) {
    for (const Problem& p : group) rows_fn(p, 0, p.rows);
    return;
  }
  constexpr int64_t kRowGrain = 16;  // a multiple of every kernel's row tile
  pool->Run([&](int ith, int nth_) {
    for (const Problem& p : group) {
      const auto [r0, r1] = Split(p.rows, kRowGrain, ith, nth_);
      if (r0 < r1) rows_fn(p, r0, r1);
    }
  });
}

Problem MakeProblem(const WeightView& w, int64_t n_tokens, float* y) {
  Problem p;
  p.type = w.type;
  p.w = static_cast<const uint8_t*>(w.data);
  p.rows = w.rows;
  p.cols = w.cols;
  p.row_bytes = DTypeRowBytes(w.type, w.cols);
  p.packed = static_cast<const uint8_t*>(w.packed);
  p.n_tokens = n_tokens;
  p.y = y;
  return p;
}

void ShareActivations(const Problem& from, Problem* to) {
  to->x = from.x;
  to->x_bf16 = from.x_bf16;
  to->bf16_stride = from.bf16_stride;
  to->q8_qs = from.q8_qs;
  to->q8_d = from.q8_d;
  to->q8_bias = from.q8_bias;
  to->q8k = from.q8k;
}

// Problems can share prepared activations when their format and Q8_0 bias agree.
bool SameActivations(DType a, DType b, Isa isa) {
  return FormatFor(a, isa) == FormatFor(b, isa) &&
         matmul_detail::Q8_0BiasMultiplier(a, isa) == matmul_detail::Q8_0BiasMultiplier(b, isa);
}

}  // namespace

namespace {

void PackQ8_0(const void* src, int64_t rows, int64_t cols, void* dst) {
  const int64_t nb = cols / 32;
  const auto* w = static_cast<const BlockQ8_0*>(src);
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t g = 0; g < rows / kPackedRows; ++g) {
    for (int64_t b = 0; b < nb; ++b, out += kPackedQ8_0BlockBytes) {
      float* d = reinterpret_cast<float*>(out);
      uint8_t* codes = out + kPackedRows * 4;
      for (int64_t r = 0; r < kPackedRows; ++r) {
        const BlockQ8_0& blk = w[(g * kPackedRows + r) * nb + b];
        d[r] = F16ToF32(blk.d);
        for (int k = 0; k < 8; ++k) {
          for (int e = 0; e < 4; ++e) {
            codes[64 * k + 4 * r + e] = static_cast<uint8_t>(blk.qs[4 * k + e] ^ 0x80);
          }
        }
      }
    }
  }
}

// Q4_K and Q5_K (Q4_K's layout of its nibbles, d, dmin, scales and mins, then the fifth bits).
template <class Block>
void PackScaleMin(const void* src, int64_t rows, int64_t cols, void* dst) {
  constexpr bool kFifth = std::is_same_v<Block, BlockQ5_K>;
  constexpr int64_t kBytes = kFifth ? kPackedQ5_KBlockBytes : kPackedQ4_KBlockBytes;
  const int64_t nb = cols / kQK_K;
  const auto* w = static_cast<const Block*>(src);
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t g = 0; g < rows / kPackedRows; ++g) {
    for (int64_t b = 0; b < nb; ++b, out += kBytes) {
      if constexpr (kFifth) std::memset(out + 2368, 0, kBytes - 2368);
      uint16_t d[2 * kPackedRows];
      for (int64_t r = 0; r < kPackedRows; ++r) {
        const Block& blk = w[(g * kPackedRows + r) * nb + b];
        for (int c = 0; c < 4; ++c) {
          for (int k = 0; k < 8; ++k) {
            std::memcpy(out + 512 * c + 64 * k + 4 * r, blk.qs + 32 * c + 4 * k, 4);
            if constexpr (kFifth) {
              for (int e = 0; e < 4; ++e) {
                const uint8_t qh = blk.qh[4 * k + e];  // columns 64c + 4k + e, 64c + 32 + 4k + e
                out[2368 + 128 * c + 4 * r + e] |= static_cast<uint8_t>((qh >> (2 * c) & 1) << k);
                out[2368 + 128 * c + 64 + 4 * r + e] |=
                    static_cast<uint8_t>((qh >> (2 * c + 1) & 1) << k);
              }
            }
          }
        }
        d[r] = blk.d;
        d[kPackedRows + r] = blk.dmin;
        for (int sb = 0; sb < 8; ++sb) {
          uint8_t sc, m;
          UnpackQ4KScale(blk.scales, sb, &sc, &m);
          out[2112 + 16 * sb + r] = sc;
          out[2240 + 32 * (sb / 2) + 2 * r + sb % 2] = m;
        }
      }
      std::memcpy(out + 2048, d, sizeof(d));
    }
  }
}

// Q5_0, Q5_1, Q4_1 and MXFP4: per 16-row group and block of 32 columns, 4 chunks of nibbles (row
// r's bytes 4r + e are its qs[4v + e]: columns 4v + e low, 16 + 4v + e high), the fifth bits (Q5_0,
// Q5_1: row r's byte 4r + e holds column 4k + e's at bit k), then the 16 rows' d (and m; MXFP4:
// its scale as bf16).
template <class Block, DType kType>
void PackSmallBlocks(const void* src, int64_t rows, int64_t cols, void* dst) {
  constexpr bool kFifth = kType == DType::kQ5_0 || kType == DType::kQ5_1;
  constexpr bool kMin = kType == DType::kQ5_1 || kType == DType::kQ4_1;
  constexpr int64_t kBytes = kType == DType::kQ5_0   ? kPackedQ5_0BlockBytes
                             : kType == DType::kQ5_1 ? kPackedQ5_1BlockBytes
                             : kType == DType::kQ4_1 ? kPackedQ4_1BlockBytes
                                                     : kPackedMXFP4BlockBytes;
  constexpr int64_t kDAt = kFifth ? 320 : 256;
  const int64_t nb = cols / 32;
  const auto* w = static_cast<const Block*>(src);
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t g = 0; g < rows / kPackedRows; ++g) {
    for (int64_t b = 0; b < nb; ++b, out += kBytes) {
      uint16_t d[2 * kPackedRows];
      for (int64_t r = 0; r < kPackedRows; ++r) {
        const Block& blk = w[(g * kPackedRows + r) * nb + b];
        for (int v = 0; v < 4; ++v) std::memcpy(out + 64 * v + 4 * r, blk.qs + 4 * v, 4);
        if constexpr (kFifth) {
          uint32_t qh;
          std::memcpy(&qh, blk.qh, sizeof(qh));
          for (int e = 0; e < 4; ++e) {
            uint8_t bits = 0;
            for (int k = 0; k < 8; ++k) bits |= static_cast<uint8_t>((qh >> (4 * k + e) & 1) << k);
            out[256 + 4 * r + e] = bits;
          }
        }
        if constexpr (kType == DType::kMXFP4) {
          d[r] = static_cast<uint16_t>(E8M0HalfBits(blk.e) >> 16);  // exact as bf16
        } else {
          d[r] = blk.d;
        }
        if constexpr (kMin) d[kPackedRows + r] = blk.m;
      }
      std::memcpy(out + kDAt, d, (kMin ? 2 : 1) * kPackedRows * sizeof(uint16_t));
    }
  }
}

// IQ4_XS: per sub-block pair p and chunk k, row r's bytes 4r + e hold the 4-bit indices of
// columns 64p + 4k + e (low nibble) and 64p + 32 + 4k + e (high nibble).
void PackIQ4_XS(const void* src, int64_t rows, int64_t cols, void* dst) {
  const int64_t nb = cols / kQK_K;
  const auto* w = static_cast<const BlockIQ4_XS*>(src);
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t g = 0; g < rows / kPackedRows; ++g) {
    for (int64_t b = 0; b < nb; ++b, out += kPackedIQ4_XSBlockBytes) {
      std::memset(out, 0, kPackedIQ4_XSBlockBytes);
      uint16_t d[kPackedRows];
      for (int64_t r = 0; r < kPackedRows; ++r) {
        const BlockIQ4_XS& blk = w[(g * kPackedRows + r) * nb + b];
        auto index = [&](int v) {  // value v's 4-bit index (sub-block v / 32, Q4_0 nibble order)
          const uint8_t byte = blk.qs[16 * (v / 32) + v % 16];
          return v % 32 < 16 ? byte & 15 : byte >> 4;
        };
        for (int pair = 0; pair < 4; ++pair) {
          for (int k = 0; k < 8; ++k) {
            for (int e = 0; e < 4; ++e) {
              out[512 * pair + 64 * k + 4 * r + e] = static_cast<uint8_t>(
                  index(64 * pair + 4 * k + e) | index(64 * pair + 32 + 4 * k + e) << 4);
            }
          }
        }
        for (int s = 0; s < 8; ++s) {
          const int ls = ((blk.scales_l[s / 2] >> (4 * (s % 2))) & 0xF) |
                         (((blk.scales_h >> (2 * s)) & 3) << 4);
          out[2048 + 32 * (s / 2) + 2 * r + s % 2] = static_cast<uint8_t>(ls - 32);
        }
        d[r] = blk.d;
      }
      std::memcpy(out + 2176, d, sizeof(d));
    }
  }
}

void PackQ6_K(const void* src, int64_t rows, int64_t cols, void* dst) {
  const int64_t nb = cols / kQK_K;
  const auto* w = static_cast<const BlockQ6_K*>(src);
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t g = 0; g < rows / kPackedRows; ++g) {
    for (int64_t b = 0; b < nb; ++b, out += kPackedQ6_KBlockBytes) {
      std::memset(out, 0, kPackedQ6_KBlockBytes);
      uint16_t d[kPackedRows];
      for (int64_t r = 0; r < kPackedRows; ++r) {
        const BlockQ6_K& blk = w[(g * kPackedRows + r) * nb + b];
        int8_t q[kQK_K];
        matmul_detail::UnpackQ6K(blk, q);
        for (int sb = 0; sb < 16; ++sb) {
          for (int e = 0; e < 4; ++e) {
            uint8_t code[4];  // columns 16 sb + 4 k + e, k in [0, 4), unsigned
            for (int k = 0; k < 4; ++k) code[k] = static_cast<uint8_t>(q[16 * sb + 4 * k + e] + 32);
            uint8_t* lo = out + 128 * sb + 4 * r + e;
            lo[0] = static_cast<uint8_t>((code[0] & 15) | (code[1] & 15) << 4);
            lo[64] = static_cast<uint8_t>((code[2] & 15) | (code[3] & 15) << 4);
            out[2048 + 64 * sb + 4 * r + e] = static_cast<uint8_t>(
                code[0] >> 4 | (code[1] >> 4) << 2 | (code[2] >> 4) << 4 | (code[3] >> 4) << 6);
          }
          out[3072 + 32 * (sb / 2) + 2 * r + sb % 2] = static_cast<uint8_t>(blk.scales[sb]);
        }
        d[r] = blk.d;
      }
      std::memcpy(out + 3328, d, sizeof(d));
    }
  }
}

// Q3_K and Q2_K: 2-bit planes as Q6_K's high bits (row r's byte 4r + e of sub-block sb holds
// chunk k, column 16 sb + 4k + e, at bits 2k); Q3_K adds its third bits per sub-block pair.
template <class Block, DType kType>
void PackTwoBit(const void* src, int64_t rows, int64_t cols, void* dst) {
  constexpr bool kQ3 = kType == DType::kQ3_K;
  constexpr int64_t kBytes = kQ3 ? kPackedQ3_KBlockBytes : kPackedQ2_KBlockBytes;
  constexpr int64_t kScalesAt = kQ3 ? 1536 : 1024;
  const int64_t nb = cols / kQK_K;
  const auto* w = static_cast<const Block*>(src);
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t g = 0; g < rows / kPackedRows; ++g) {
    for (int64_t b = 0; b < nb; ++b, out += kBytes) {
      std::memset(out, 0, kBytes);
      uint16_t d[2 * kPackedRows];
      for (int64_t r = 0; r < kPackedRows; ++r) {
        const Block& blk = w[(g * kPackedRows + r) * nb + b];
        int8_t v[kQK_K];
        float scale[kQK_K / kDecodeGroup], offset[kQK_K / kDecodeGroup];
        DecodeRow(kType, &blk, kQK_K, v, scale, offset);
        int sc[16];
        if constexpr (kQ3) UnpackQ3KScales(blk.scales, sc);
        for (int sb = 0; sb < 16; ++sb) {
          for (int k = 0; k < 4; ++k) {
            for (int e = 0; e < 4; ++e) {
              const int code = v[16 * sb + 4 * k + e] + (kQ3 ? 4 : 0);  // [0, 8) / [0, 4)
              out[64 * sb + 4 * r + e] |= static_cast<uint8_t>((code & 3) << (2 * k));
              if constexpr (kQ3) {
                out[1024 + 64 * (sb / 2) + 4 * r + e] |=
                    static_cast<uint8_t>((code >> 2) << (4 * (sb % 2) + k));
              }
            }
          }
          out[kScalesAt + 32 * (sb / 2) + 2 * r + sb % 2] =
              kQ3 ? static_cast<uint8_t>(static_cast<int8_t>(sc[sb])) : blk.scales[sb];
        }
        d[r] = blk.d;
        if constexpr (!kQ3) d[kPackedRows + r] = blk.dmin;
      }
      std::memcpy(out + kScalesAt + 256, d, (kQ3 ? 1 : 2) * kPackedRows * sizeof(uint16_t));
    }
  }
}

// F16 and F32: per 16-row group, column by column, the 16 rows' values.
template <class Elem>
void PackColumns(const void* src, int64_t rows, int64_t cols, void* dst) {
  const auto* w = static_cast<const Elem*>(src);
  auto* out = static_cast<Elem*>(dst);
  for (int64_t g = 0; g < rows / kPackedRows; ++g) {
    for (int64_t c = 0; c < cols; ++c) {
      for (int64_t r = 0; r < kPackedRows; ++r) *out++ = w[(g * kPackedRows + r) * cols + c];
    }
  }
}

int64_t PackedBlockBytes(DType t) {
  switch (t) {
    case DType::kQ8_0:
      return kPackedQ8_0BlockBytes;
    case DType::kQ4_K:
      return kPackedQ4_KBlockBytes;
    case DType::kQ5_0:
      return kPackedQ5_0BlockBytes;
    case DType::kQ5_K:
      return kPackedQ5_KBlockBytes;
    case DType::kQ6_K:
      return kPackedQ6_KBlockBytes;
    case DType::kIQ4_XS:
      return kPackedIQ4_XSBlockBytes;
    case DType::kQ3_K:
      return kPackedQ3_KBlockBytes;
    case DType::kQ2_K:
      return kPackedQ2_KBlockBytes;
    case DType::kQ5_1:
      return kPackedQ5_1BlockBytes;
    case DType::kQ4_1:
      return kPackedQ4_1BlockBytes;
    case DType::kMXFP4:
      return kPackedMXFP4BlockBytes;
    case DType::kF16:
      return 16 * 2;  // one column of a group
    case DType::kF32:
      return 16 * 4;
    default:
      return 0;
  }
}

}  // namespace

bool PackedSupported(DType t, Isa isa) {
  if (PackedBlockBytes(t) == 0) return false;
  const Isa resolved = ResolveMatMulIsa(isa);
  return resolved == Isa::kAvx512 || (resolved == Isa::kAvx2 && t != DType::kQ8_0);
}

bool CanPack(DType t, int64_t rows, int64_t cols) {
  if (PackedBlockBytes(t) == 0) return false;
  return rows > 0 && cols > 0 && rows % kPackedRows == 0 && cols % DTypeBlockElements(t) == 0;
}

size_t PackedBytes(DType t, int64_t rows, int64_t cols) {
  return static_cast<size_t>(rows / kPackedRows) *
         static_cast<size_t>(cols / DTypeBlockElements(t)) *
         static_cast<size_t>(PackedBlockBytes(t));
}

void PackWeights(DType t, const void* src, int64_t rows, int64_t cols, void* dst) {
  MINT_CHECK(CanPack(t, rows, cols));
  if (t == DType::kQ8_0) return PackQ8_0(src, rows, cols, dst);
  if (t == DType::kQ4_K) return PackScaleMin<BlockQ4_K>(src, rows, cols, dst);
  if (t == DType::kQ5_K) return PackScaleMin<BlockQ5_K>(src, rows, cols, dst);
  if (t == DType::kQ5_0) return PackSmallBlocks<BlockQ5_0, DType::kQ5_0>(src, rows, cols, dst);
  if (t == DType::kQ5_1) return PackSmallBlocks<BlockQ5_1, DType::kQ5_1>(src, rows, cols, dst);
  if (t == DType::kQ4_1) return PackSmallBlocks<BlockQ4_1, DType::kQ4_1>(src, rows, cols, dst);
  if (t == DType::kMXFP4) return PackSmallBlocks<BlockMXFP4, DType::kMXFP4>(src, rows, cols, dst);
  if (t == DType::kF16) return PackColumns<uint16_t>(src, rows, cols, dst);
  if (t == DType::kF32) return PackColumns<float>(src, rows, cols, dst);
  if (t == DType::kIQ4_XS) return PackIQ4_XS(src, rows, cols, dst);
  if (t == DType::kQ3_K) return PackTwoBit<BlockQ3_K, DType::kQ3_K>(src, rows, cols, dst);
  if (t == DType::kQ2_K) return PackTwoBit<BlockQ2_K, DType::kQ2_K>(src, rows, cols, dst);
  PackQ6_K(src, rows, cols, dst);
}

void MatMul(const WeightView& w, const float* x, int64_t n_tokens, float* y, ThreadPool* pool,
            Isa isa) {
  MatMulGroup(std::span(&w, 1), x, n_tokens, std::span(&y, 1), pool, isa);
}

void MatMulGroup(std::span<const WeightView> ws, const float* x, int64_t n_tokens,
                 std::span<float* const> ys, ThreadPool* pool, Isa isa) {
  if (ws.empty() || n_tokens <= 0) return;
  isa = ResolveMatMulIsa(isa);
  Problem group[kMaxMatMulGroup];
  size_t n = 0;
  auto flush = [&] {
    if (n == 0) return;
    LayOutActivations(&group[0], x, isa);
    for (size_t i = 1; i < n; ++i) ShareActivations(group[0], &group[i]);
    RunGroup(std::span(group, n), x, isa, pool);
    n = 0;
  };
  for (size_t i = 0; i < ws.size(); ++i) {
    const WeightView& w = ws[i];
    if (w.rows <= 0) continue;
    if (w.cols <= 0) {
      std::fill(ys[i], ys[i] + n_tokens * w.rows, 0.0f);
      continue;
    }
    if (n > 0 && (n == kMaxMatMulGroup || w.cols != group[0].cols ||
                  !SameActivations(w.type, group[0].type, isa))) {
      flush();
    }
    group[n++] = MakeProblem(w, n_tokens, ys[i]);
  }
  flush();
}

}  // namespace mint::kernels
