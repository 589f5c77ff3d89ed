// Attention kernel for one (token, kv head, query-head run) work item, AVX2 + FMA.
// Same algorithm as AttendRowsScalar (attention.cpp); see there for the online-softmax scheme.
//
// Per block of keys: scores for four keys at a time (each key row loaded once for all query
// rows, the four dot products reduced together), a vectorised exp over the block, then the value
// rows accumulated into registers 32 dims at a time.

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/ops_internal.h"

namespace mint::kernels::ops_detail {
namespace {

// Returns the four dot products q.k0 .. q.k3 (n floats each) in one __m128.
inline __m128 Dot4(const float* q, const float* k0, const float* k1, const float* k2,
                   const float* k3, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  int64_t d = 0;
  for (; d + 8 <= n; d += 8) {
    const __m256 qv = _mm256_loadu_ps(q + d);
    s0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + d), s0);
    s1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k1 + d), s1);
    s2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k2 + d), s2);
    s3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k3 + d), s3);
  }
  if (d < n) {
    const __m256i m = TailMask8(n - d);
    const __m256 qv = _mm256_maskload_ps(q + d, m);
    s0 = _mm256_fmadd_ps(qv, _mm256_maskload_ps(k0 + d, m), s0);
    s1 = _mm256_fmadd_ps(qv, _mm256_maskload_ps(k1 + d, m), s1);
    s2 = _mm256_fmadd_ps(qv, _mm256_maskload_ps(k2 + d, m), s2);
    s3 = _mm256_fmadd_ps(qv, _mm256_maskload_ps(k3 + d, m), s3);
  }
  // Two rounds of hadd leave, in each 128-bit lane, that lane's partial sums of the four keys.
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(s0, s1), _mm256_hadd_ps(s2, s3));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

inline float Dot1(const float* q, const float* k, int64_t n) {
  __m256 s = _mm256_setzero_ps();
  int64_t d = 0;
  for (; d + 8 <= n; d += 8) s = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(k + d), s);
  if (d < n) {
    const __m256i m = TailMask8(n - d);
    s = _mm256_fmadd_ps(_mm256_maskload_ps(q + d, m), _mm256_maskload_ps(k + d, m), s);
  }
  return HorizontalSum8(s);
}

// Scores of keys [p0, p0 + nb) for every row, times scale, into sc (row stride kAttnKeyBlock).
void ScoreBlock(const AttnRows& r, int64_t p0, int64_t nb, float* sc) {
  const int64_t hd = r.head_dim;
  const __m128 scale = _mm_set1_ps(r.scale);
  int64_t j = 0;
  for (; j + 4 <= nb; j += 4) {
    const float* k0 = r.k + (p0 + j) * r.kv_stride;
    const float* k1 = k0 + r.kv_stride;
    const float* k2 = k1 + r.kv_stride;
    const float* k3 = k2 + r.kv_stride;
    for (int rr = 0; rr < r.n_rows; ++rr) {
      _mm_storeu_ps(sc + rr * kAttnKeyBlock + j,
                    _mm_mul_ps(Dot4(r.q[rr], k0, k1, k2, k3, hd), scale));
    }
  }
  for (; j < nb; ++j) {
    const float* kj = r.k + (p0 + j) * r.kv_stride;
    for (int rr = 0; rr < r.n_rows; ++rr) {
      sc[rr * kAttnKeyBlock + j] = Dot1(r.q[rr], kj, hd) * r.scale;
    }
  }
}

float BlockMax(const float* s, int64_t nb) {
  __m256 mx = _mm256_set1_ps(-INFINITY);
  int64_t j = 0;
  for (; j + 8 <= nb; j += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(s + j));
  float out = HorizontalMax8(mx);
  for (; j < nb; ++j) out = std::fmax(out, s[j]);
  return out;
}

// Replaces s[0, nb) by exp(s - m_new) and returns their sum.
float ExpBlock(float* s, int64_t nb, float m_new) {
  const __m256 mv = _mm256_set1_ps(m_new);
  __m256 sum = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= nb; j += 8) {
    const __m256 e = Exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), mv));
    _mm256_storeu_ps(s + j, e);
    sum = _mm256_add_ps(sum, e);
  }
  if (j < nb) {
    const __m256i m = TailMask8(nb - j);
    const __m256 e = _mm256_and_ps(Exp8(_mm256_sub_ps(_mm256_maskload_ps(s + j, m), mv)),
                                   _mm256_castsi256_ps(m));
    _mm256_maskstore_ps(s + j, m, e);
    sum = _mm256_add_ps(sum, e);
  }
  return HorizontalSum8(sum);
}

// a = a * corr + sum_j w[j] * v_j over keys [p0, p0 + nb).
void AccumulateValues(const AttnRows& r, int64_t p0, int64_t nb, const float* w, float corr,
                      float* a) {
  const int64_t hd = r.head_dim;
  const __m256 cv = _mm256_set1_ps(corr);
  const float* vb = r.v + p0 * r.kv_stride;
  int64_t d = 0;
  for (; d + 32 <= hd; d += 32) {
    // Two sets of accumulators (even and odd keys) so consecutive FMAs do not wait on each
    // other's latency.
    __m256 a0 = _mm256_mul_ps(_mm256_loadu_ps(a + d), cv);
    __m256 a1 = _mm256_mul_ps(_mm256_loadu_ps(a + d + 8), cv);
    __m256 a2 = _mm256_mul_ps(_mm256_loadu_ps(a + d + 16), cv);
    __m256 a3 = _mm256_mul_ps(_mm256_loadu_ps(a + d + 24), cv);
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
    __m256 b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 2 <= nb; j += 2) {
      const float* vj = vb + j * r.kv_stride + d;
      const float* vk = vj + r.kv_stride;
      const __m256 wj = _mm256_broadcast_ss(w + j);
      const __m256 wk = _mm256_broadcast_ss(w + j + 1);
      a0 = _mm256_fmadd_ps(wj, _mm256_loadu_ps(vj), a0);
      a1 = _mm256_fmadd_ps(wj, _mm256_loadu_ps(vj + 8), a1);
      a2 = _mm256_fmadd_ps(wj, _mm256_loadu_ps(vj + 16), a2);
      a3 = _mm256_fmadd_ps(wj, _mm256_loadu_ps(vj + 24), a3);
      b0 = _mm256_fmadd_ps(wk, _mm256_loadu_ps(vk), b0);
      b1 = _mm256_fmadd_ps(wk, _mm256_loadu_ps(vk + 8), b1);
      b2 = _mm256_fmadd_ps(wk, _mm256_loadu_ps(vk + 16), b2);
      b3 = _mm256_fmadd_ps(wk, _mm256_loadu_ps(vk + 24), b3);
    }
    if (j < nb) {
      const float* vj = vb + j * r.kv_stride + d;
      const __m256 wj = _mm256_broadcast_ss(w + j);
      a0 = _mm256_fmadd_ps(wj, _mm256_loadu_ps(vj), a0);
      a1 = _mm256_fmadd_ps(wj, _mm256_loadu_ps(vj + 8), a1);
      a2 = _mm256_fmadd_ps(wj, _mm256_loadu_ps(vj + 16), a2);
      a3 = _mm256_fmadd_ps(wj, _mm256_loadu_ps(vj + 24), a3);
    }
    _mm256_storeu_ps(a + d, _mm256_add_ps(a0, b0));
    _mm256_storeu_ps(a + d + 8, _mm256_add_ps(a1, b1));
    _mm256_storeu_ps(a + d + 16, _mm256_add_ps(a2, b2));
    _mm256_storeu_ps(a + d + 24, _mm256_add_ps(a3, b3));
  }
  for (; d < hd; d += 8) {
    const __m256i m = TailMask8(hd - d < 8 ? hd - d : 8);
    __m256 a0 = _mm256_mul_ps(_mm256_maskload_ps(a + d, m), cv);
    for (int64_t j = 0; j < nb; ++j) {
      a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w + j),
                           _mm256_maskload_ps(vb + j * r.kv_stride + d, m), a0);
    }
    _mm256_maskstore_ps(a + d, m, a0);
  }
}

}  // namespace

void AttendRowsAvx2(const AttnRows& r, float* scratch) {
  const int64_t hd = r.head_dim;
  const AttnState st = StartAttnState(r, scratch);
  float* acc = st.acc;
  float* sc = st.sc;
  float* m = st.m;
  float* l = st.l;
  for (int64_t p0 = 0; p0 < r.n_keys; p0 += kAttnKeyBlock) {
    const int64_t nb = std::min(kAttnKeyBlock, r.n_keys - p0);
    ScoreBlock(r, p0, nb, sc);
    for (int rr = 0; rr < r.n_rows; ++rr) {
      float* s = sc + rr * kAttnKeyBlock;
      const float m_new = std::fmax(m[rr], BlockMax(s, nb));
      const float corr = std::exp(m[rr] - m_new);  // 0 on the first block (m = -inf)
      l[rr] = l[rr] * corr + ExpBlock(s, nb, m_new);
      m[rr] = m_new;
      AccumulateValues(r, p0, nb, s, corr, acc + rr * hd);
    }
  }
  if (r.last) WriteAttnRows(r, st);
}

}  // namespace mint::kernels::ops_detail
