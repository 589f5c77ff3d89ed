// Rope rotation of one head, AVX-512F, from the table rope.cpp builds (see ops_internal.h).

#include <immintrin.h>

#include "kernels/ops_internal.h"

namespace mint::kernels::ops_detail {

void RopeHeadAvx512(float* x, int64_t head_dim, RopeMode mode, const float* cos_tab,
                    const float* sin_tab) {
  if (mode == RopeMode::kInterleaved) {
    // y = x * cos + swap_pairs(x) * (-sin, +sin)
    for (int64_t i = 0; i < head_dim; i += 16) {
      const __mmask16 m = TailMask16(head_dim - i < 16 ? head_dim - i : 16);
      const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
      const __m512 swapped = _mm512_permute_ps(v, 0xB1);
      const __m512 c = _mm512_maskz_loadu_ps(m, cos_tab + i);
      const __m512 s = _mm512_maskz_loadu_ps(m, sin_tab + i);
      _mm512_mask_storeu_ps(x + i, m, _mm512_fmadd_ps(v, c, _mm512_mul_ps(swapped, s)));
    }
    return;
  }
  const int64_t half = head_dim / 2;
  float* lo = x;
  float* hi = x + half;
  for (int64_t i = 0; i < half; i += 16) {
    const __mmask16 m = TailMask16(half - i < 16 ? half - i : 16);
    const __m512 a = _mm512_maskz_loadu_ps(m, lo + i), b = _mm512_maskz_loadu_ps(m, hi + i);
    const __m512 c = _mm512_maskz_loadu_ps(m, cos_tab + i);
    const __m512 s = _mm512_maskz_loadu_ps(m, sin_tab + i);
    _mm512_mask_storeu_ps(lo + i, m, _mm512_fmsub_ps(a, c, _mm512_mul_ps(b, s)));
    _mm512_mask_storeu_ps(hi + i, m, _mm512_fmadd_ps(a, s, _mm512_mul_ps(b, c)));
  }
}

}  // namespace mint::kernels::ops_detail
