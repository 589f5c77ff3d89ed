// Elementwise and normalization ops: the scalar references and the ISA dispatch.
//
// The scalar code is the reference the parity harness compares every SIMD variant with, so it
// favours accuracy over speed (double accumulation, libm exp).

#include <cmath>
#include <cstring>

#include "kernels/kernels.h"
#include "kernels/ops_internal.h"

namespace mint::kernels {
namespace {

void RmsNormScalar(const float* x, const float* weight, float* y, int64_t n, float eps) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float mean = n > 0 ? static_cast<float>(sum / static_cast<double>(n)) : 0.0f;
  const float inv = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * inv * weight[i];
}

void SwiGluScalar(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void SoftmaxScalar(float* x, int64_t n) {
  if (n <= 0) return;
  float max = x[0];
  for (int64_t i = 1; i < n; ++i) max = std::fmax(max, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void AddScalar(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

}  // namespace

void RmsNorm(const float* x, const float* weight, float* y, int64_t n, float eps, Isa isa) {
  switch (ops_detail::ResolveIsa(isa)) {
    case Isa::kAvx512:
      return ops_detail::RmsNormAvx512(x, weight, y, n, eps);
    case Isa::kAvx2:
      return ops_detail::RmsNormAvx2(x, weight, y, n, eps);
    default:
      return RmsNormScalar(x, weight, y, n, eps);
  }
}

void SwiGlu(const float* gate, const float* up, float* out, int64_t n, Isa isa) {
  switch (ops_detail::ResolveIsa(isa)) {
    case Isa::kAvx512:
      return ops_detail::SwiGluAvx512(gate, up, out, n);
    case Isa::kAvx2:
      return ops_detail::SwiGluAvx2(gate, up, out, n);
    default:
      return SwiGluScalar(gate, up, out, n);
  }
}

void Softmax(float* x, int64_t n, Isa isa) {
  switch (ops_detail::ResolveIsa(isa)) {
    case Isa::kAvx512:
      return ops_detail::SoftmaxAvx512(x, n);
    case Isa::kAvx2:
      return ops_detail::SoftmaxAvx2(x, n);
    default:
      return SoftmaxScalar(x, n);
  }
}

int64_t ArgMax(const float* x, int64_t n, Isa isa) {
  if (n <= 0) return 0;
  float best = x[0];
  if (ops_detail::ResolveIsa(isa) != Isa::kScalar && !std::isnan(best) && n >= 64) {
    // The maximum by SIMD, then the first index holding it: the same answer as the scalar scan
    // (NaN is never greater than anything, so it is passed over there too).
    const float m = MaxValue(x, n, isa);
    for (int64_t j = 0; j < n; ++j) {
      if (x[j] == m) return j;
    }
  }
  int64_t arg = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (x[i] > best) {
      best = x[i];
      arg = i;
    }
  }
  return arg;
}

float MaxValue(const float* x, int64_t n, Isa isa) {
  switch (ops_detail::ResolveIsa(isa)) {
    case Isa::kAvx512:
      return ops_detail::MaxIgnoringNanAvx512(x, n);
    case Isa::kAvx2:
      return ops_detail::MaxIgnoringNanAvx2(x, n);
    default: {
      float m = -INFINITY;
      for (int64_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
      return m;
    }
  }
}

void Add(const float* x, float* y, int64_t n, Isa isa) {
  switch (ops_detail::ResolveIsa(isa)) {
    case Isa::kAvx512:
      return ops_detail::AddAvx512(x, y, n);
    case Isa::kAvx2:
      return ops_detail::AddAvx2(x, y, n);
    default:
      return AddScalar(x, y, n);
  }
}

void ConvertToF32(DType t, const void* src, float* dst, int64_t n, Isa isa) {
  if (t == DType::kF32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  if (t == DType::kF16) {
    const auto* h = static_cast<const uint16_t*>(src);
    switch (ops_detail::ResolveIsa(isa)) {
      case Isa::kAvx512:
        return ops_detail::F16ToF32Avx512(h, dst, n);
      case Isa::kAvx2:
        return ops_detail::F16ToF32Avx2(h, dst, n);
      default:
        break;
    }
  }
  DequantizeRow(t, src, dst, n);
}

void ConvertFromF32(DType t, const float* src, void* dst, int64_t n, Isa isa) {
  if (t == DType::kF16) {
    auto* h = static_cast<uint16_t*>(dst);
    switch (ops_detail::ResolveIsa(isa)) {
      case Isa::kAvx512:
        return ops_detail::F32ToF16Avx512(src, h, n);
      case Isa::kAvx2:
        return ops_detail::F32ToF16Avx2(src, h, n);
      default:
        break;
    }
  }
  QuantizeRow(t, src, dst, n);
}

}  // namespace mint::kernels
