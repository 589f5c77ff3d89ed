// Rope rotation of one head, AVX2 + FMA, from the table rope.cpp builds (see ops_internal.h).

#include <immintrin.h>

#include "kernels/ops_internal.h"

namespace mint::kernels::ops_detail {

void RopeHeadAvx2(float* x, int64_t head_dim, RopeMode mode, const float* cos_tab,
                  const float* sin_tab) {
  if (mode == RopeMode::kInterleaved) {
    // y = x * cos + swap_pairs(x) * (-sin, +sin)
    int64_t i = 0;
    for (; i + 8 <= head_dim; i += 8) {
      const __m256 v = _mm256_loadu_ps(x + i);
      const __m256 swapped = _mm256_permute_ps(v, 0xB1);
      _mm256_storeu_ps(x + i,
                       _mm256_fmadd_ps(v, _mm256_loadu_ps(cos_tab + i),
                                       _mm256_mul_ps(swapped, _mm256_loadu_ps(sin_tab + i))));
    }
    if (i < head_dim) {
      const __m256i m = TailMask8(head_dim - i);
      const __m256 v = _mm256_maskload_ps(x + i, m);
      const __m256 swapped = _mm256_permute_ps(v, 0xB1);
      _mm256_maskstore_ps(
          x + i, m,
          _mm256_fmadd_ps(v, _mm256_maskload_ps(cos_tab + i, m),
                          _mm256_mul_ps(swapped, _mm256_maskload_ps(sin_tab + i, m))));
    }
    return;
  }
  const int64_t half = head_dim / 2;
  float* lo = x;
  float* hi = x + half;
  int64_t i = 0;
  for (; i + 8 <= half; i += 8) {
    const __m256 a = _mm256_loadu_ps(lo + i), b = _mm256_loadu_ps(hi + i);
    const __m256 c = _mm256_loadu_ps(cos_tab + i), s = _mm256_loadu_ps(sin_tab + i);
    _mm256_storeu_ps(lo + i, _mm256_fmsub_ps(a, c, _mm256_mul_ps(b, s)));
    _mm256_storeu_ps(hi + i, _mm256_fmadd_ps(a, s, _mm256_mul_ps(b, c)));
  }
  if (i < half) {
    const __m256i m = TailMask8(half - i);
    const __m256 a = _mm256_maskload_ps(lo + i, m), b = _mm256_maskload_ps(hi + i, m);
    const __m256 c = _mm256_maskload_ps(cos_tab + i, m), s = _mm256_maskload_ps(sin_tab + i, m);
    _mm256_maskstore_ps(lo + i, m, _mm256_fmsub_ps(a, c, _mm256_mul_ps(b, s)));
    _mm256_maskstore_ps(hi + i, m, _mm256_fmadd_ps(a, s, _mm256_mul_ps(b, c)));
  }
}

}  // namespace mint::kernels::ops_detail
