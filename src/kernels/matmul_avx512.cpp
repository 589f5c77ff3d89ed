// MatMul kernels compiled for AVX-512 F/BW/VL/DQ/VNNI/BF16 (see matmul_simd.h): the integer dot
// products use VNNI (vpdpbusd, vpdpwssd) and BF16 weights use vdpbf16ps.

#include "kernels/matmul_simd.h"

namespace mint::kernels::matmul_detail {

void MatMulRowsAvx512(const Problem& p, int64_t row_begin, int64_t row_end) {
  MatMulRowsSimd(p, row_begin, row_end);
}

void QuantizeQ8_0ActsAvx512(const float* x, int64_t cols, int8_t* qs, float* d, int32_t* bias,
                            int32_t bias_multiplier) {
  QuantizeQ8_0ActsSimd(x, cols, qs, d, bias, bias_multiplier);
}

void QuantizeQ8_KActsAvx512(const float* x, int64_t cols, BlockQ8_K* out) {
  QuantizeQ8_KActsSimd(x, cols, out);
}

void ConvertBf16ActsAvx512(const float* x, int64_t cols, uint16_t* out) {
  ConvertBf16ActsSimd(x, cols, out);
}

}  // namespace mint::kernels::matmul_detail
