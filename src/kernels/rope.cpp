// Rotary position embedding: the per-position cos/sin table (shared by every ISA), the scalar
// rotation, dispatch, and the Llama-3.1 frequency factors.
//
// The table follows ggml's rope (ggml_rope_cache_init with ext_factor = 0, attn_factor = 1) step
// for step, in float: theta starts at pos and is multiplied by base^(-2/d) once per pair, each
// pair's angle is freq_scale * theta / freq_factor, and cos/sin come from libm's cosf/sinf. That
// keeps Mint's rotated q/k within float rounding of llama.cpp's for the same model and position.

#include <array>
#include <cassert>
#include <cmath>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/ops_internal.h"

namespace mint::kernels {
namespace {

// Stack space for tables of heads up to this many rotated dims; larger heads use the heap.
constexpr int64_t kStackRopeDims = 512;

// cos_out/sin_out receive head_dim / 2 values, one per rotated pair.
void RopePairTable(int64_t pos, const RopeConfig& cfg, float* cos_out, float* sin_out) {
  const int64_t half = cfg.head_dim / 2;
  const bool has_ff = !cfg.freq_factors.empty();
  const float theta_scale = std::pow(cfg.theta, -2.0f / static_cast<float>(cfg.head_dim));
  float theta = static_cast<float>(pos);
  for (int64_t i = 0; i < half; ++i) {
    const float ff = has_ff ? cfg.freq_factors[i] : 1.0f;
    const float angle = cfg.freq_scale * (theta / ff);
    cos_out[i] = std::cos(angle);
    sin_out[i] = std::sin(angle);
    theta *= theta_scale;
  }
}

void RopeHeadScalar(float* x, int64_t head_dim, RopeMode mode, const float* cos_tab,
                    const float* sin_tab) {
  const int64_t half = head_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    float* a = mode == RopeMode::kInterleaved ? x + 2 * i : x + i;
    float* b = mode == RopeMode::kInterleaved ? x + 2 * i + 1 : x + i + half;
    const float x0 = *a, x1 = *b, c = cos_tab[i], s = sin_tab[i];
    *a = x0 * c - x1 * s;
    *b = x0 * s + x1 * c;
  }
}

void RopeImpl(float* x, int64_t n_heads, int64_t head_stride, int64_t pos, const RopeConfig& cfg,
              Isa isa, float* pair_cos, float* pair_sin, float* dup_cos, float* dup_sin) {
  const int64_t d = cfg.head_dim;
  RopePairTable(pos, cfg, pair_cos, pair_sin);
  if (isa == Isa::kScalar) {
    for (int64_t h = 0; h < n_heads; ++h) {
      RopeHeadScalar(x + h * head_stride, d, cfg.mode, pair_cos, pair_sin);
    }
    return;
  }
  const float* cos_tab = pair_cos;
  const float* sin_tab = pair_sin;
  if (cfg.mode == RopeMode::kInterleaved) {
    for (int64_t i = 0; i < d / 2; ++i) {
      dup_cos[2 * i] = dup_cos[2 * i + 1] = pair_cos[i];
      dup_sin[2 * i] = -pair_sin[i];
      dup_sin[2 * i + 1] = pair_sin[i];
    }
    cos_tab = dup_cos;
    sin_tab = dup_sin;
  }
  for (int64_t h = 0; h < n_heads; ++h) {
    if (isa == Isa::kAvx512) {
      ops_detail::RopeHeadAvx512(x + h * head_stride, d, cfg.mode, cos_tab, sin_tab);
    } else {
      ops_detail::RopeHeadAvx2(x + h * head_stride, d, cfg.mode, cos_tab, sin_tab);
    }
  }
}

}  // namespace

void Rope(float* x, int64_t n_heads, int64_t head_stride, int64_t pos, const RopeConfig& cfg,
          Isa isa) {
  const int64_t d = cfg.head_dim;
  assert(d >= 0 && d % 2 == 0 && d <= head_stride);
  assert(cfg.freq_factors.empty() || static_cast<int64_t>(cfg.freq_factors.size()) >= d / 2);
  if (d == 0 || n_heads <= 0) return;
  isa = ops_detail::ResolveIsa(isa);
  if (d <= kStackRopeDims) {
    std::array<float, kStackRopeDims / 2> pair_cos, pair_sin;
    std::array<float, kStackRopeDims> dup_cos, dup_sin;
    RopeImpl(x, n_heads, head_stride, pos, cfg, isa, pair_cos.data(), pair_sin.data(),
             dup_cos.data(), dup_sin.data());
  } else {
    std::vector<float> buf(3 * d);
    RopeImpl(x, n_heads, head_stride, pos, cfg, isa, buf.data(), buf.data() + d / 2, buf.data() + d,
             buf.data() + 2 * d);
  }
}

std::vector<float> Llama3RopeFreqFactors(int64_t head_dim, float theta, float factor,
                                         float low_freq_factor, float high_freq_factor,
                                         int64_t original_context) {
  // Mirrors convert_hf_to_gguf.py (LlamaModel.generate_extra_tensors), which computes in
  // float32 torch tensors: freq = 1 / base^(2i/d), wavelen = 2 pi / freq; high-frequency pairs
  // (short wavelengths) keep factor 1, low-frequency ones get `factor`, and the band between
  // is interpolated smoothly in 1/factor.
  const float old_ctx = static_cast<float>(original_context);
  const float low_freq_wavelen = old_ctx / low_freq_factor;
  const float high_freq_wavelen = old_ctx / high_freq_factor;
  const float two_pi = 6.28318530717958647692f;
  std::vector<float> out;
  out.reserve(head_dim / 2);
  for (int64_t i = 0; i < head_dim; i += 2) {
    const float expo = static_cast<float>(i) / static_cast<float>(head_dim);
    const float freq = 1.0f / std::pow(theta, expo);
    const float wavelen = two_pi / freq;
    if (wavelen < high_freq_wavelen) {
      out.push_back(1.0f);
    } else if (wavelen > low_freq_wavelen) {
      out.push_back(factor);
    } else {
      const float smooth =
          (old_ctx / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
      out.push_back(1.0f / ((1.0f - smooth) / factor + smooth));
    }
  }
  return out;
}

}  // namespace mint::kernels
