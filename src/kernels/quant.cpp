// Row (de)quantization of the GGUF block formats: scalar, bit-exact with ggml.
//
// The quantizers re-implement ggml's reference algorithms (quantize_row_*_ref, with
// make_qkx2_quants for Q4_K / Q5_K, make_qx_quants for Q6_K, quantize_row_iq4_nl_impl for the
// IQ4 types, all without importance matrices) step for step, in the same float
// operation order, so a file Mint writes decodes in llama.cpp to the values Mint computed.
// Rounding matters for bit-exactness and differs between formats, as it does in ggml:
//   Q8_0 uses roundf (ties away from zero), Q4_0 truncates x + 8.5, the K-quants use
//   NearestInt (the float magic-number trick: ties to even).

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "core/status.h"
#include "kernels/decode.h"
#include "kernels/kernels.h"
#include "kernels/quant_formats.h"

namespace mint::kernels {
namespace {

constexpr float kGroupMaxEps = 1e-15f;  // ggml's GROUP_MAX_EPS: a group below this is all zero

// ggml's nearest_int: round to nearest, ties to even, for |x| <= 2^22.
int NearestInt(float x) {
  const float shifted = x + 12582912.0f;  // 1.5 * 2^23
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof(bits));
  return (bits & 0x007FFFFF) - 0x00400000;
}

// ---- Dequantization -------------------------------------------------------------------------

void DequantizeQ4_0(const BlockQ4_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK4_0) {
    const float d = F16ToF32(b[i].d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      y[j] = d * static_cast<float>((b[i].qs[j] & 0xF) - 8);
      y[j + kQK4_0 / 2] = d * static_cast<float>((b[i].qs[j] >> 4) - 8);
    }
  }
}

void DequantizeQ8_0(const BlockQ8_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK8_0) {
    const float d = F16ToF32(b[i].d);
    for (int j = 0; j < kQK8_0; ++j) y[j] = d * static_cast<float>(b[i].qs[j]);
  }
}

void DequantizeQ4_K(const BlockQ4_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = F16ToF32(b[i].d);
    const float dmin = F16ToF32(b[i].dmin);
    const uint8_t* q = b[i].qs;
    for (int chunk = 0; chunk < 4; ++chunk, q += 32, y += 64) {
      uint8_t sc, m;
      UnpackQ4KScale(b[i].scales, 2 * chunk, &sc, &m);
      const float d_lo = d * sc, m_lo = dmin * m;
      UnpackQ4KScale(b[i].scales, 2 * chunk + 1, &sc, &m);
      const float d_hi = d * sc, m_hi = dmin * m;
      for (int l = 0; l < 32; ++l) y[l] = d_lo * static_cast<float>(q[l] & 0xF) - m_lo;
      for (int l = 0; l < 32; ++l) y[l + 32] = d_hi * static_cast<float>(q[l] >> 4) - m_hi;
    }
  }
}

void DequantizeQ6_K(const BlockQ6_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = F16ToF32(b[i].d);
    const uint8_t* ql = b[i].ql;
    const uint8_t* qh = b[i].qh;
    const int8_t* sc = b[i].scales;
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, y += 128) {
      for (int l = 0; l < 32; ++l) {
        const int s = l / 16;
        const int q1 = ((ql[l] & 0xF) | ((qh[l] >> 0 & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | ((qh[l] >> 2 & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | ((qh[l] >> 4 & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6 & 3) << 4)) - 32;
        y[l] = d * static_cast<float>(sc[s]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[s + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[s + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[s + 6]) * static_cast<float>(q4);
      }
    }
  }
}

// ---- Quantization: Q4_0 and Q8_0 --------------------------------------------------------------

void QuantizeQ4_0(const float* x, BlockQ4_0* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK4_0) {
    // The value of largest magnitude, with its sign, maps to -8 (the one-sided end of [-8, 7]).
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK4_0; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = F32ToF16(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const float x0 = x[j] * id;
      const float x1 = x[j + kQK4_0 / 2] * id;
      const uint8_t q0 =
          static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(x0 + 8.5f))));
      const uint8_t q1 =
          static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(x1 + 8.5f))));
      b[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void QuantizeQ8_0(const float* x, BlockQ8_0* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK8_0) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = F32ToF16(d);
    for (int j = 0; j < kQK8_0; ++j) b[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
}

// ---- Quantization: Q4_K ---------------------------------------------------------------------

// ggml's make_qkx2_quants: fits x ~ scale * L - min (L in [0, nmax], min >= 0) minimising the
// weighted squared error, trying the plain max/min fit and nstep + 1 perturbed inverse scales,
// each refined by weighted least squares. Returns scale; *min_out receives min.
float FitScaleMin(int n, int nmax, const float* x, const float* w, uint8_t* L, float* min_out,
                  uint8_t* L_try, float rmin, float rdelta, int nstep) {
  float min = x[0], max = x[0];
  float sum_w = w[0], sum_x = w[0] * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *min_out = -min;
    return 0.0f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<uint8_t>(std::clamp(NearestInt(iscale * (x[i] - min)), 0, nmax));
    const float diff = scale * L[i] + min - x[i];
    best_error += w[i] * (diff * diff);
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(NearestInt(iscale * (x[i] - min)), 0, nmax);
      L_try[i] = static_cast<uint8_t>(l);
      sum_l += w[i] * l;
      sum_l2 += w[i] * l * l;
      sum_xl += w[i] * l * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det <= 0) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (this_min > 0) {
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    float error = 0;
    for (int i = 0; i < n; ++i) {
      const float diff = this_scale * L_try[i] + this_min - x[i];
      error += w[i] * (diff * diff);
    }
    if (error < best_error) {
      std::memcpy(L, L_try, static_cast<size_t>(n));
      best_error = error;
      scale = this_scale;
      min = this_min;
    }
  }
  *min_out = -min;
  return scale;
}

// The shared part of ggml's quantize_row_q4_K_ref and quantize_row_q5_K_ref for one
// super-block: per sub-block of 32 a scale and min fitted by make_qkx2_quants (nmax levels),
// both quantized to 6 bits against the block maxima (stored into d, dmin and the 12 scale
// bytes), then the codes L[256] in [0, nmax] re-quantized against the scales as stored.
void QuantizeScaleMinBlock(const float* x, int nmax, float rmin, int nstep, uint16_t* d_out,
                           uint16_t* dmin_out, uint8_t* scale_bytes, uint8_t* L) {
  uint8_t L_try[32];
  float weights[32], mins[8], scales[8];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] = FitScaleMin(32, nmax, xs, weights, L + 32 * j, &mins[j], L_try, rmin, 0.1f, nstep);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  // Scales and mins are themselves quantized to 6 bits against the block maxima.
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  std::memset(scale_bytes, 0, kKScaleBytes);
  for (int j = 0; j < 8; ++j) {
    const uint8_t ls =
        std::min<uint8_t>(63, static_cast<uint8_t>(NearestInt(inv_scale * scales[j])));
    const uint8_t lm = std::min<uint8_t>(63, static_cast<uint8_t>(NearestInt(inv_min * mins[j])));
    if (j < 4) {
      scale_bytes[j] = ls;
      scale_bytes[j + 4] = lm;
    } else {
      scale_bytes[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
      scale_bytes[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
      scale_bytes[j] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
  }
  *d_out = F32ToF16(max_scale / 63.0f);
  *dmin_out = F32ToF16(max_min / 63.0f);
  // Re-quantize the values against the scales as stored.
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    UnpackQ4KScale(scale_bytes, j, &sc, &m);
    const float d = F16ToF32(*d_out) * sc;
    if (d == 0.0f) continue;
    const float dm = F16ToF32(*dmin_out) * m;
    for (int l = 0; l < 32; ++l) {
      L[32 * j + l] =
          static_cast<uint8_t>(std::clamp(NearestInt((x[32 * j + l] + dm) / d), 0, nmax));
    }
  }
}

void QuantizeQ4_K(const float* x, BlockQ4_K* b, int64_t nb) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    QuantizeScaleMinBlock(x, 15, -1.0f, 20, &b[i].d, &b[i].dmin, b[i].scales, L);
    for (int chunk = 0; chunk < 4; ++chunk) {
      for (int l = 0; l < 32; ++l) {
        b[i].qs[32 * chunk + l] =
            static_cast<uint8_t>(L[64 * chunk + l] | (L[64 * chunk + 32 + l] << 4));
      }
    }
  }
}

// ggml's quantize_row_q5_K_ref: Q4_K's fit with 32 levels (rmin -0.5, 15 steps); the fifth bit
// of value 64c + l is bit 2c of qh[l], of value 64c + 32 + l bit 2c + 1.
void QuantizeQ5_K(const float* x, BlockQ5_K* b, int64_t nb) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    QuantizeScaleMinBlock(x, 31, -0.5f, 15, &b[i].d, &b[i].dmin, b[i].scales, L);
    std::memset(b[i].qh, 0, sizeof(b[i].qh));
    for (int chunk = 0; chunk < 4; ++chunk) {
      for (int l = 0; l < 32; ++l) {
        const int l1 = L[64 * chunk + l], l2 = L[64 * chunk + 32 + l];
        b[i].qh[l] |= static_cast<uint8_t>((l1 >> 4) << (2 * chunk) | (l2 >> 4) << (2 * chunk + 1));
        b[i].qs[32 * chunk + l] = static_cast<uint8_t>((l1 & 0xF) | (l2 & 0xF) << 4);
      }
    }
  }
}

// ---- Quantization: IQ4_NL, IQ4_XS -------------------------------------------------------------

// ggml's best_index_int8: the index of the table value nearest x (ties to the lower index).
int BestIndex(float x) {
  const int8_t* val = kIq4NlValues;
  if (x <= val[0]) return 0;
  if (x >= val[15]) return 15;
  int ml = 0, mu = 15;
  while (mu - ml > 1) {
    const int mav = (ml + mu) / 2;
    if (x < val[mav]) {
      mu = mav;
    } else {
      ml = mav;
    }
  }
  return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

// ggml's quantize_row_iq4_nl_impl without importance weights (weights x^2), ntry 7: per group of
// 32, the scale whose table fit has the best weighted least-squares objective among the max
// fit and 15 perturbed ones. Fills scales[n / 32] and the indices L[n].
void FitIq4Groups(const float* x, int n, float* scales, uint8_t* L) {
  constexpr int kTry = 7;
  const int8_t* values = kIq4NlValues;
  for (int ib = 0; ib < n / 32; ++ib) {
    const float* xb = x + 32 * ib;
    uint8_t* Lb = L + 32 * ib;
    float weight[32];
    for (int j = 0; j < 32; ++j) weight[j] = xb[j] * xb[j];
    float amax = 0, max = 0;
    for (int j = 0; j < 32; ++j) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) {
        amax = ax;
        max = xb[j];
      }
    }
    if (amax < kGroupMaxEps) {
      scales[ib] = 0;
      continue;
    }
    float d = -max / values[0];
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < 32; ++j) {
      const int l = BestIndex(id * xb[j]);
      Lb[j] = static_cast<uint8_t>(l);
      const float q = values[l];
      sumqx += weight[j] * q * xb[j];
      sumq2 += weight[j] * q * q;
    }
    d = sumqx / sumq2;
    float best = d * sumqx;
    for (int itry = -kTry; itry <= kTry; ++itry) {
      id = (itry + values[0]) / max;
      sumqx = sumq2 = 0;
      for (int j = 0; j < 32; ++j) {
        const float q = values[BestIndex(id * xb[j])];
        sumqx += weight[j] * q * xb[j];
        sumq2 += weight[j] * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scales[ib] = d;
  }
}

// Stores 32 indices as Q4_0-order nibbles.
void PackIq4Nibbles(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(L[j] | (L[16 + j] << 4));
}

void QuantizeIQ4_NL(const float* x, BlockIQ4_NL* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    uint8_t L[32] = {};
    float scale;
    FitIq4Groups(x, 32, &scale, L);
    b[i].d = F32ToF16(scale);
    const float id = scale != 0.0f ? 1 / scale : 0.0f;
    for (int j = 0; j < 32; ++j) L[j] = static_cast<uint8_t>(BestIndex(id * x[j]));
    PackIq4Nibbles(L, b[i].qs);
  }
}

// The 8 group scales are quantized to 6 bits (ls - 32) against d = -max_scale / 32 and the
// indices refitted to the stored scales.
void QuantizeIQ4_XS(const float* x, BlockIQ4_XS* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    uint8_t L[kQK_K] = {};
    float scales[8];
    FitIq4Groups(x, kQK_K, scales, L);
    float max_scale = 0, amax_scale = 0;
    for (float sc : scales) {
      if (std::fabs(sc) > amax_scale) {
        amax_scale = std::fabs(sc);
        max_scale = sc;
      }
    }
    const float d = -max_scale / 32;
    b[i].d = F32ToF16(d);
    const float id = d != 0.0f ? 1 / d : 0.0f;
    b[i].scales_h = 0;
    std::memset(b[i].scales_l, 0, sizeof(b[i].scales_l));
    for (int ib = 0; ib < 8; ++ib) {
      int l = std::clamp(NearestInt(id * scales[ib]), -32, 31);
      const float dl = d * l;
      const float idl = dl != 0.0f ? 1 / dl : 0.0f;
      for (int j = 0; j < 32; ++j) L[32 * ib + j] = static_cast<uint8_t>(BestIndex(idl * x[32 * ib + j]));
      l += 32;
      b[i].scales_l[ib / 2] |= static_cast<uint8_t>((l & 0xF) << (4 * (ib % 2)));
      b[i].scales_h |= static_cast<uint16_t>((l >> 4) << (2 * ib));
    }
    for (int ib = 0; ib < 8; ++ib) PackIq4Nibbles(L + 32 * ib, b[i].qs + 16 * ib);
  }
}

// ---- Quantization: Q6_K ---------------------------------------------------------------------

// ggml's make_qx_quants with rmse_type 1 (weights x^2): fits x ~ scale * (L - nmax) with
// L - nmax in [-nmax, nmax - 1], starting from the max-magnitude fit and trying 18 perturbed
// inverse scales, keeping the one with the best weighted least-squares objective.
float FitSymmetricScale(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  auto quant = [&](float iscale, int i) {
    return std::clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
  };
  float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = quant(iscale, i);
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = quant(iscale, i);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(quant(iscale, i) + nmax);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

void QuantizeQ6_K(const float* x, BlockQ6_K* b, int64_t nb) {
  int8_t L[kQK_K];
  float scales[16];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float max_scale = 0, max_abs_scale = 0;
    for (int g = 0; g < 16; ++g) {
      scales[g] = FitSymmetricScale(16, 32, x + 16 * g, L + 16 * g);
      if (std::fabs(scales[g]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[g]);
        max_scale = scales[g];
      }
    }
    std::memset(&b[i], 0, sizeof(b[i]));
    if (max_abs_scale < kGroupMaxEps) continue;  // all zero (d = +0)
    const float iscale = -128.0f / max_scale;
    b[i].d = F32ToF16(1 / iscale);
    for (int g = 0; g < 16; ++g) {
      b[i].scales[g] = static_cast<int8_t>(std::min(127, NearestInt(iscale * scales[g])));
    }
    for (int g = 0; g < 16; ++g) {
      const float d = F16ToF32(b[i].d) * b[i].scales[g];
      if (d == 0.0f) continue;
      for (int l = 0; l < 16; ++l) {
        L[16 * g + l] =
            static_cast<int8_t>(std::clamp(NearestInt(x[16 * g + l] / d), -32, 31) + 32);
      }
    }
    for (int half = 0; half < 2; ++half) {
      const int8_t* Lh = L + 128 * half;
      uint8_t* ql = b[i].ql + 64 * half;
      uint8_t* qh = b[i].qh + 32 * half;
      for (int l = 0; l < 32; ++l) {
        const int q1 = Lh[l], q2 = Lh[l + 32], q3 = Lh[l + 64], q4 = Lh[l + 96];
        ql[l] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) |
                                     ((q4 >> 4) << 6));
      }
    }
  }
}

// ggml's quantize_row_q4_1_ref: 16 steps from the block's min to its max.
void QuantizeQ4_1(const float* x, BlockQ4_1* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float min = x[0], max = x[0];
    for (int j = 1; j < 32; ++j) {
      min = std::min(min, x[j]);
      max = std::max(max, x[j]);
    }
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = F32ToF16(d);
    b[i].m = F32ToF16(min);
    for (int j = 0; j < 16; ++j) {
      const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>((x[j] - min) * id + 0.5f)));
      const int q1 =
          std::min(15, static_cast<int>(static_cast<int8_t>((x[j + 16] - min) * id + 0.5f)));
      b[i].qs[j] = static_cast<uint8_t>(q0 | q1 << 4);
    }
  }
}

// Stores 5-bit codes q[32] as Q5_0/Q5_1 nibbles and high bits.
void PackFiveBits(const int* q, uint8_t* qs, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0xF) | (q[j + 16] & 0xF) << 4);
    qh |= static_cast<uint32_t>((q[j] & 0x10) >> 4) << j;
    qh |= static_cast<uint32_t>((q[j + 16] & 0x10) >> 4) << (j + 16);
  }
  std::memcpy(qh_bytes, &qh, sizeof(qh));
}

// ggml's quantize_row_q5_0_ref: as Q4_0 with 32 levels (d = max / -16).
void QuantizeQ5_0(const float* x, BlockQ5_0* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = F32ToF16(d);
    int q[32];
    for (int j = 0; j < 32; ++j) {
      q[j] = std::min(31, static_cast<int>(static_cast<int8_t>(x[j] * id + 16.5f)));
    }
    PackFiveBits(q, b[i].qs, b[i].qh);
  }
}

// ggml's quantize_row_q5_1_ref: 32 steps from the block's min to its max.
void QuantizeQ5_1(const float* x, BlockQ5_1* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float min = x[0], max = x[0];
    for (int j = 1; j < 32; ++j) {
      min = std::min(min, x[j]);
      max = std::max(max, x[j]);
    }
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = F32ToF16(d);
    b[i].m = F32ToF16(min);
    int q[32];
    for (int j = 0; j < 32; ++j) q[j] = static_cast<uint8_t>((x[j] - min) * id + 0.5f);
    PackFiveBits(q, b[i].qs, b[i].qh);
  }
}

}  // namespace

void DequantizeRow(DType t, const void* src, float* dst, int64_t n) {
  assert(n % DTypeBlockElements(t) == 0);
  const int64_t nb = n / DTypeBlockElements(t);
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::kF16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = F16ToF32(h[i]);
      return;
    }
    case DType::kBF16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = BF16ToF32(h[i]);
      return;
    }
    case DType::kQ4_0:
      return DequantizeQ4_0(static_cast<const BlockQ4_0*>(src), dst, nb);
    case DType::kQ8_0:
      return DequantizeQ8_0(static_cast<const BlockQ8_0*>(src), dst, nb);
    case DType::kQ4_K:
      return DequantizeQ4_K(static_cast<const BlockQ4_K*>(src), dst, nb);
    case DType::kQ6_K:
      return DequantizeQ6_K(static_cast<const BlockQ6_K*>(src), dst, nb);
    default:
      MINT_CHECK(IsDecodedType(t));
      return DequantizeDecodedRow(t, src, dst, n);
  }
}

bool HasQuantizer(DType t) {
  return !IsDecodedType(t) || t == DType::kQ4_1 || t == DType::kQ5_0 || t == DType::kQ5_1 ||
         t == DType::kQ5_K || t == DType::kIQ4_NL || t == DType::kIQ4_XS;
}

void QuantizeRow(DType t, const float* src, void* dst, int64_t n) {
  assert(n % DTypeBlockElements(t) == 0);
  const int64_t nb = n / DTypeBlockElements(t);
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::kF16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = F32ToF16(src[i]);
      return;
    }
    case DType::kBF16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = F32ToBF16(src[i]);
      return;
    }
    case DType::kQ4_0:
      return QuantizeQ4_0(src, static_cast<BlockQ4_0*>(dst), nb);
    case DType::kQ8_0:
      return QuantizeQ8_0(src, static_cast<BlockQ8_0*>(dst), nb);
    case DType::kQ4_K:
      return QuantizeQ4_K(src, static_cast<BlockQ4_K*>(dst), nb);
    case DType::kQ6_K:
      return QuantizeQ6_K(src, static_cast<BlockQ6_K*>(dst), nb);
    case DType::kQ4_1:
      return QuantizeQ4_1(src, static_cast<BlockQ4_1*>(dst), nb);
    case DType::kQ5_0:
      return QuantizeQ5_0(src, static_cast<BlockQ5_0*>(dst), nb);
    case DType::kQ5_1:
      return QuantizeQ5_1(src, static_cast<BlockQ5_1*>(dst), nb);
    case DType::kQ5_K:
      return QuantizeQ5_K(src, static_cast<BlockQ5_K*>(dst), nb);
    case DType::kIQ4_NL:
      return QuantizeIQ4_NL(src, static_cast<BlockIQ4_NL*>(dst), nb);
    case DType::kIQ4_XS:
      return QuantizeIQ4_XS(src, static_cast<BlockIQ4_XS*>(dst), nb);
    default:
      MINT_CHECK(HasQuantizer(t));  // callers ask HasQuantizer first
  }
}

}  // namespace mint::kernels
