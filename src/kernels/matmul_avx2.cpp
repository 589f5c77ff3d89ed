// MatMul kernels compiled for AVX2 + FMA + F16C (see matmul_simd.h for the kernels themselves).

#include "kernels/matmul_simd.h"

namespace mint::kernels::matmul_detail {

void MatMulRowsAvx2(const Problem& p, int64_t row_begin, int64_t row_end) {
  MatMulRowsSimd(p, row_begin, row_end);
}

void QuantizeQ8_0ActsAvx2(const float* x, int64_t cols, int8_t* qs, float* d, int32_t* bias,
                          int32_t bias_multiplier) {
  QuantizeQ8_0ActsSimd(x, cols, qs, d, bias, bias_multiplier);
}

void QuantizeQ8_KActsAvx2(const float* x, int64_t cols, BlockQ8_K* out) {
  QuantizeQ8_KActsSimd(x, cols, out);
}

}  // namespace mint::kernels::matmul_detail
