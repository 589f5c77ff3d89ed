// Internal to src/kernels: the pieces of MatMul shared by the dispatcher (matmul.cpp, baseline
// x86-64) and the ISA variants (matmul_avx2.cpp, matmul_avx512.cpp).
//
// A MatMul call runs in two phases:
//   1. prepare: the activations are converted once into the form the weight type's dot product
//      wants (ActivationFormat), into per-thread scratch owned by the calling thread;
//   2. compute: the rows are split into contiguous ranges, one per pool thread, and each thread
//      runs MatMulRows* on its range for every token.
// Every variant of a type reads the same prepared activations (the quantizers of all ISAs are
// bit-identical), so the SIMD results differ from the scalar reference only by float summation
// order.
//
// Thread-safety: the functions are reentrant; a Problem is read-only while threads share it.
#pragma once

#include <cstdint>

#include "kernels/kernels.h"
#include "kernels/quant_formats.h"

namespace mint::kernels::matmul_detail {

// How the activations of a weight type are prepared.
enum class ActivationFormat {
  kF32,   // x as given (F32, F16; BF16 below AVX-512)
  kBf16,  // rows of bf16, zero-padded to kBf16Align values (BF16 weights on AVX-512)
  kQ8_0,  // blocks of 32: int8 values, f32 scale, int32 bias (Q4_0, Q8_0 weights)
  kQ8_K,  // BlockQ8_K super-blocks (Q4_K, Q6_K weights)
};

inline constexpr int64_t kBf16Align = 32;

// The integer added to each Q8_0 activation block's dot product by the SIMD kernels, as a
// multiple of the block's sum of int8 values: Q4_0 weights are used as unsigned nibbles q in
// [0, 15] (q - 8 is the value), so dot(q - 8, a) = dot(q, a) - 8 sum(a); packed Q5_0 likewise
// with q in [0, 31] and -16 sum(a); the AVX-512 Q8_0 kernel
// flips the weights' sign bit to use them as unsigned (w + 128), so it adds -128 sum(a).
int32_t Q8_0BiasMultiplier(DType weight_type, Isa isa);

struct Problem {
  DType type = DType::kF32;
  const uint8_t* w = nullptr;       // rows x row_bytes
  const uint8_t* packed = nullptr;  // WeightView::packed (PackWeights); AVX-512 kernels only
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t row_bytes = 0;
  int64_t n_tokens = 0;
  float* y = nullptr;  // n_tokens x rows

  // Prepared activations; which are set depends on the ActivationFormat.
  const float* x = nullptr;          // kF32: n_tokens x cols
  const uint16_t* x_bf16 = nullptr;  // kBf16: n_tokens x bf16_stride
  int64_t bf16_stride = 0;
  const int8_t* q8_qs = nullptr;     // kQ8_0: token t, block b at q8_qs + t * cols + 32 b
  const float* q8_d = nullptr;       // kQ8_0: [t * (cols / 32) + b]
  const int32_t* q8_bias = nullptr;  // kQ8_0: [t * (cols / 32) + b]
  const BlockQ8_K* q8k = nullptr;    // kQ8_K: [t * (cols / 256) + b]
};

// ---- Activation preparation, one token row at a time (bit-identical across ISAs) ----
// kQ8_0: per 32 values: d = amax / 127, q = round_half_even(x * (127 / amax)) (0 if amax is 0),
//        bias = bias_multiplier * sum(q).
// kQ8_K: per 256 values, the same rule; bsums per 16.
void QuantizeQ8_0ActsScalar(const float* x, int64_t cols, int8_t* qs, float* d, int32_t* bias,
                            int32_t bias_multiplier);
void QuantizeQ8_KActsScalar(const float* x, int64_t cols, BlockQ8_K* out);
void QuantizeQ8_0ActsAvx2(const float* x, int64_t cols, int8_t* qs, float* d, int32_t* bias,
                          int32_t bias_multiplier);
void QuantizeQ8_KActsAvx2(const float* x, int64_t cols, BlockQ8_K* out);
void QuantizeQ8_0ActsAvx512(const float* x, int64_t cols, int8_t* qs, float* d, int32_t* bias,
                            int32_t bias_multiplier);
void QuantizeQ8_KActsAvx512(const float* x, int64_t cols, BlockQ8_K* out);
// kBf16: round to nearest even; values [cols, round_up(cols, kBf16Align)) are zero.
void ConvertBf16ActsAvx512(const float* x, int64_t cols, uint16_t* out);

// ---- Compute: y[t][r] for every token t and r in [row_begin, row_end) ----
void MatMulRowsScalar(const Problem& p, int64_t row_begin, int64_t row_end);
void MatMulRowsAvx2(const Problem& p, int64_t row_begin, int64_t row_end);
void MatMulRowsAvx512(const Problem& p, int64_t row_begin, int64_t row_end);

}  // namespace mint::kernels::matmul_detail
