// Attention kernel for one (token, kv head, query-head run) work item, AVX-512F.
// Same algorithm as AttendRowsScalar (attention.cpp); see there for the online-softmax scheme.
//
// Per block of keys: scores for four keys at a time (each key row loaded once for all query
// rows, the four dot products reduced together), a vectorised exp over the block, then the value
// rows accumulated into registers 64 dims at a time.

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/ops_internal.h"

namespace mint::kernels::ops_detail {
namespace {

inline __mmask16 DimMask(int64_t hd, int64_t d) { return TailMask16(hd - d < 16 ? hd - d : 16); }

// Keys and values are f32, or F16 straight from the paged cache (converted in registers).
inline __m512 Load16(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
inline __m512 Load16(const uint16_t* p, __mmask16 m) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}
inline __m512 Load16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 Load16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// Sums each of s0..s3 across its lanes: the four results, in order, in one __m128.
inline __m128 Reduce4(__m512 s0, __m512 s1, __m512 s2, __m512 s3) {
  // 512 -> 256 per key, then two rounds of hadd interleave the four keys, then fold 256 -> 128.
  const __m256 y0 = _mm256_add_ps(_mm512_castps512_ps256(s0), _mm512_extractf32x8_ps(s0, 1));
  const __m256 y1 = _mm256_add_ps(_mm512_castps512_ps256(s1), _mm512_extractf32x8_ps(s1, 1));
  const __m256 y2 = _mm256_add_ps(_mm512_castps512_ps256(s2), _mm512_extractf32x8_ps(s2, 1));
  const __m256 y3 = _mm256_add_ps(_mm512_castps512_ps256(s3), _mm512_extractf32x8_ps(s3, 1));
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(y0, y1), _mm256_hadd_ps(y2, y3));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// Dot products of query rows qa and qb with keys k[0..3] (n floats each): two rows share every
// key load, which keeps the loop under the two-loads-per-cycle limit.
template <class T>
inline void Dot4x2(const float* qa, const float* qb, const T* const k[4], int64_t n,
                   __m128* out_a, __m128* out_b) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
  __m512 b2 = _mm512_setzero_ps(), b3 = _mm512_setzero_ps();
  for (int64_t d = 0; d < n; d += 16) {
    const __mmask16 m = TailMask16(n - d < 16 ? n - d : 16);
    const __m512 qav = _mm512_maskz_loadu_ps(m, qa + d);
    const __m512 qbv = _mm512_maskz_loadu_ps(m, qb + d);
    __m512 kv = Load16(k[0] + d, m);
    a0 = _mm512_fmadd_ps(qav, kv, a0);
    b0 = _mm512_fmadd_ps(qbv, kv, b0);
    kv = Load16(k[1] + d, m);
    a1 = _mm512_fmadd_ps(qav, kv, a1);
    b1 = _mm512_fmadd_ps(qbv, kv, b1);
    kv = Load16(k[2] + d, m);
    a2 = _mm512_fmadd_ps(qav, kv, a2);
    b2 = _mm512_fmadd_ps(qbv, kv, b2);
    kv = Load16(k[3] + d, m);
    a3 = _mm512_fmadd_ps(qav, kv, a3);
    b3 = _mm512_fmadd_ps(qbv, kv, b3);
  }
  *out_a = Reduce4(a0, a1, a2, a3);
  *out_b = Reduce4(b0, b1, b2, b3);
}

// Single-row version of Dot4x2.
template <class T>
inline __m128 Dot4(const float* q, const T* const k[4], int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  for (int64_t d = 0; d < n; d += 16) {
    const __mmask16 m = TailMask16(n - d < 16 ? n - d : 16);
    const __m512 qv = _mm512_maskz_loadu_ps(m, q + d);
    s0 = _mm512_fmadd_ps(qv, Load16(k[0] + d, m), s0);
    s1 = _mm512_fmadd_ps(qv, Load16(k[1] + d, m), s1);
    s2 = _mm512_fmadd_ps(qv, Load16(k[2] + d, m), s2);
    s3 = _mm512_fmadd_ps(qv, Load16(k[3] + d, m), s3);
  }
  return Reduce4(s0, s1, s2, s3);
}

template <class T>
inline float Dot1(const float* q, const T* k, int64_t n) {
  __m512 s = _mm512_setzero_ps();
  for (int64_t d = 0; d < n; d += 16) {
    const __mmask16 m = DimMask(n, d);
    s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + d), Load16(k + d, m), s);
  }
  return _mm512_reduce_add_ps(s);
}

// Scores of keys [p0, p0 + nb) for every row, times scale, into sc (row stride kAttnKeyBlock).
template <class T>
void ScoreBlock(const AttnRows& r, const T* kbase, int64_t p0, int64_t nb, float* sc) {
  const int64_t hd = r.head_dim;
  const __m128 scale = _mm_set1_ps(r.scale);
  int64_t j = 0;
  for (; j + 4 <= nb; j += 4) {
    const T* k0 = kbase + (p0 + j) * r.kv_stride;
    const T* const k[4] = {k0, k0 + r.kv_stride, k0 + 2 * r.kv_stride, k0 + 3 * r.kv_stride};
    int rr = 0;
    for (; rr + 2 <= r.n_rows; rr += 2) {
      __m128 da, db;
      Dot4x2(r.q[rr], r.q[rr + 1], k, hd, &da, &db);
      _mm_storeu_ps(sc + rr * kAttnKeyBlock + j, _mm_mul_ps(da, scale));
      _mm_storeu_ps(sc + (rr + 1) * kAttnKeyBlock + j, _mm_mul_ps(db, scale));
    }
    if (rr < r.n_rows) {
      _mm_storeu_ps(sc + rr * kAttnKeyBlock + j, _mm_mul_ps(Dot4(r.q[rr], k, hd), scale));
    }
  }
  for (; j < nb; ++j) {
    const T* kj = kbase + (p0 + j) * r.kv_stride;
    for (int rr = 0; rr < r.n_rows; ++rr) {
      sc[rr * kAttnKeyBlock + j] = Dot1(r.q[rr], kj, hd) * r.scale;
    }
  }
}

// Replaces s[0, nb) by exp(s - m_new) and returns their sum.
float ExpBlock(float* s, int64_t nb, float m_new) {
  const __m512 mv = _mm512_set1_ps(m_new);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < nb; j += 16) {
    const __mmask16 m = DimMask(nb, j);
    const __m512 e = Exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + j), mv));
    _mm512_mask_storeu_ps(s + j, m, e);
    sum = _mm512_mask_add_ps(sum, m, sum, e);
  }
  return _mm512_reduce_add_ps(sum);
}

float BlockMax(const float* s, int64_t nb) {
  __m512 mx = _mm512_set1_ps(-INFINITY);
  for (int64_t j = 0; j < nb; j += 16) {
    const __mmask16 m = DimMask(nb, j);
    mx = _mm512_mask_max_ps(mx, m, mx, _mm512_maskz_loadu_ps(m, s + j));
  }
  return _mm512_reduce_max_ps(mx);
}

// a = a * corr + sum_j w[j] * v_j over keys [p0, p0 + nb).
template <class T>
void AccumulateValues(const AttnRows& r, const T* vbase, int64_t p0, int64_t nb, const float* w,
                      float corr, float* a) {
  const int64_t hd = r.head_dim;
  const __m512 cv = _mm512_set1_ps(corr);
  const T* vb = vbase + p0 * r.kv_stride;
  int64_t d = 0;
  for (; d + 64 <= hd; d += 64) {
    // Two sets of accumulators (even and odd keys) so consecutive FMAs do not wait on each
    // other's latency.
    __m512 a0 = _mm512_mul_ps(_mm512_loadu_ps(a + d), cv);
    __m512 a1 = _mm512_mul_ps(_mm512_loadu_ps(a + d + 16), cv);
    __m512 a2 = _mm512_mul_ps(_mm512_loadu_ps(a + d + 32), cv);
    __m512 a3 = _mm512_mul_ps(_mm512_loadu_ps(a + d + 48), cv);
    __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
    __m512 b2 = _mm512_setzero_ps(), b3 = _mm512_setzero_ps();
    int64_t j = 0;
    for (; j + 2 <= nb; j += 2) {
      const T* vj = vb + j * r.kv_stride + d;
      const T* vk = vj + r.kv_stride;
      const __m512 wj = _mm512_set1_ps(w[j]);
      const __m512 wk = _mm512_set1_ps(w[j + 1]);
      a0 = _mm512_fmadd_ps(wj, Load16(vj), a0);
      a1 = _mm512_fmadd_ps(wj, Load16(vj + 16), a1);
      a2 = _mm512_fmadd_ps(wj, Load16(vj + 32), a2);
      a3 = _mm512_fmadd_ps(wj, Load16(vj + 48), a3);
      b0 = _mm512_fmadd_ps(wk, Load16(vk), b0);
      b1 = _mm512_fmadd_ps(wk, Load16(vk + 16), b1);
      b2 = _mm512_fmadd_ps(wk, Load16(vk + 32), b2);
      b3 = _mm512_fmadd_ps(wk, Load16(vk + 48), b3);
    }
    if (j < nb) {
      const T* vj = vb + j * r.kv_stride + d;
      const __m512 wj = _mm512_set1_ps(w[j]);
      a0 = _mm512_fmadd_ps(wj, Load16(vj), a0);
      a1 = _mm512_fmadd_ps(wj, Load16(vj + 16), a1);
      a2 = _mm512_fmadd_ps(wj, Load16(vj + 32), a2);
      a3 = _mm512_fmadd_ps(wj, Load16(vj + 48), a3);
    }
    _mm512_storeu_ps(a + d, _mm512_add_ps(a0, b0));
    _mm512_storeu_ps(a + d + 16, _mm512_add_ps(a1, b1));
    _mm512_storeu_ps(a + d + 32, _mm512_add_ps(a2, b2));
    _mm512_storeu_ps(a + d + 48, _mm512_add_ps(a3, b3));
  }
  for (; d < hd; d += 16) {
    const __mmask16 m = DimMask(hd, d);
    __m512 a0 = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + d), cv);
    for (int64_t j = 0; j < nb; ++j) {
      a0 = _mm512_fmadd_ps(_mm512_set1_ps(w[j]), Load16(vb + j * r.kv_stride + d, m), a0);
    }
    _mm512_mask_storeu_ps(a + d, m, a0);
  }
}


template <class T>
void AttendRows(const AttnRows& r, const T* kbase, const T* vbase, float* scratch) {
  const int64_t hd = r.head_dim;
  const AttnState st = StartAttnState(r, scratch);
  float* acc = st.acc;
  float* sc = st.sc;
  float* m = st.m;
  float* l = st.l;
  for (int64_t p0 = 0; p0 < r.n_keys; p0 += kAttnKeyBlock) {
    const int64_t nb = std::min(kAttnKeyBlock, r.n_keys - p0);
    ScoreBlock(r, kbase, p0, nb, sc);
    for (int rr = 0; rr < r.n_rows; ++rr) {
      float* s = sc + rr * kAttnKeyBlock;
      const float m_new = std::fmax(m[rr], BlockMax(s, nb));
      const float corr = std::exp(m[rr] - m_new);  // 0 on the first block (m = -inf)
      l[rr] = l[rr] * corr + ExpBlock(s, nb, m_new);
      m[rr] = m_new;
      AccumulateValues(r, vbase, p0, nb, s, corr, acc + rr * hd);
    }
  }
  if (!r.last) return;
  for (int rr = 0; rr < r.n_rows; ++rr) {
    const __m512 inv = _mm512_set1_ps(1.0f / l[rr]);
    for (int64_t d = 0; d < hd; d += 16) {
      const __mmask16 mk = DimMask(hd, d);
      _mm512_mask_storeu_ps(r.out[rr] + d, mk,
                            _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, acc + rr * hd + d), inv));
    }
  }
}

}  // namespace

void AttendRowsAvx512(const AttnRows& r, float* scratch) {
  if (r.k16 != nullptr) return AttendRows(r, r.k16, r.v16, scratch);
  AttendRows(r, r.k, r.v, scratch);
}

}  // namespace mint::kernels::ops_detail
