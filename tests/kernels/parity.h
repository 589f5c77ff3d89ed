// The kernel parity harness's shared pieces: error metric and deterministic inputs.
// Every variant of every op is compared with its scalar reference by normalized mean squared
// error: NMSE = sum((got - ref)^2) / sum(ref^2).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace mint::kernels::parity {

inline double Nmse(const float* ref, const float* got, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(got[i]) - ref[i];
    num += d * d;
    den += static_cast<double>(ref[i]) * ref[i];
  }
  if (!std::isfinite(num)) return INFINITY;
  return den == 0 ? num : num / den;
}

// n floats, normal(0, stddev), from a fixed seed.
inline std::vector<float> RandomVector(size_t n, uint64_t seed, float stddev = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

}  // namespace mint::kernels::parity
