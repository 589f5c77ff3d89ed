// Elementwise ops, rope and attention: the scalar references against double-precision formulas
// written out here, then every available ISA variant against the scalar reference (NMSE bounds).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "parity.h"

namespace mint::kernels {
namespace {

using parity::Nmse;
using parity::RandomVector;

// Odd sizes on purpose: tails of every SIMD width, plus real model widths (576, 4864).
const std::vector<int64_t> kSizes = {1, 7, 15, 16, 17, 63, 64, 65, 576, 4864};

// NMSE bounds, variant vs scalar. Add is exact; the reductions differ only in summation order;
// exp-based ops use a polynomial exp (~2 ulp) instead of libm.
constexpr double kAddBound = 1e-10;
constexpr double kRmsNormBound = 1e-8;
constexpr double kExpBound = 1e-6;
constexpr double kRopeBound = 1e-10;
constexpr double kAttentionBound = 1e-6;

std::vector<Isa> SimdIsas() {
  std::vector<Isa> out;
  for (Isa isa : AvailableIsas()) {
    if (isa != Isa::kScalar) out.push_back(isa);
  }
  return out;
}

double NmseD(const std::vector<double>& ref, const std::vector<float>& got) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return den == 0 ? num : num / den;
}

// ---- Scalar references vs double formulas -----------------------------------------------------

TEST(OpsReference, RmsNorm) {
  for (int64_t n : kSizes) {
    auto x = RandomVector(n, 1 + n, 2.0f);
    auto w = RandomVector(n, 2 + n);
    std::vector<float> y(n);
    RmsNorm(x.data(), w.data(), y.data(), n, 1e-6f, Isa::kScalar);
    double ss = 0;
    for (float v : x) ss += static_cast<double>(v) * v;
    const double inv = 1.0 / std::sqrt(ss / n + 1e-6);
    std::vector<double> ref(n);
    for (int64_t i = 0; i < n; ++i) ref[i] = x[i] * inv * w[i];
    EXPECT_LT(NmseD(ref, y), 1e-12) << "n=" << n;
  }
}

TEST(OpsReference, SwiGluSoftmaxAdd) {
  for (int64_t n : kSizes) {
    auto g = RandomVector(n, 3 + n, 3.0f);
    auto u = RandomVector(n, 4 + n);
    std::vector<float> out(n);
    SwiGlu(g.data(), u.data(), out.data(), n, Isa::kScalar);
    std::vector<double> ref(n);
    for (int64_t i = 0; i < n; ++i) ref[i] = g[i] / (1.0 + std::exp(-double{g[i]})) * u[i];
    EXPECT_LT(NmseD(ref, out), 1e-12) << "swiglu n=" << n;

    std::vector<float> sm = g;
    Softmax(sm.data(), n, Isa::kScalar);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += std::exp(double{g[i]});
    for (int64_t i = 0; i < n; ++i) ref[i] = std::exp(double{g[i]}) / sum;
    EXPECT_LT(NmseD(ref, sm), 1e-12) << "softmax n=" << n;

    std::vector<float> y = u;
    Add(g.data(), y.data(), n, Isa::kScalar);
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(y[i], u[i] + g[i]);
  }
}

TEST(OpsReference, SoftmaxIsShiftInvariantAndStable) {
  std::vector<float> x = {1000.0f, 1001.0f, 999.0f, -1e30f};
  Softmax(x.data(), 4, Isa::kScalar);
  const double z = 1 + std::exp(1.0) + std::exp(-1.0);
  EXPECT_NEAR(x[0], 1 / z, 1e-6);
  EXPECT_NEAR(x[1], std::exp(1.0) / z, 1e-6);
  EXPECT_NEAR(x[2], std::exp(-1.0) / z, 1e-6);
  EXPECT_EQ(x[3], 0.0f);
}

// Rope as an explicit complex rotation: pair j -> (a + ib) * e^{i theta_j},
// theta_j = pos * freq_scale * base^(-2j/d) / ff_j.
std::vector<double> RopeOracle(const std::vector<float>& x, int64_t n_heads, int64_t stride,
                               int64_t pos, const RopeConfig& cfg) {
  std::vector<double> out(x.begin(), x.end());
  const int64_t d = cfg.head_dim, half = d / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    for (int64_t j = 0; j < half; ++j) {
      const int64_t ia = h * stride + (cfg.mode == RopeMode::kInterleaved ? 2 * j : j);
      const int64_t ib = h * stride + (cfg.mode == RopeMode::kInterleaved ? 2 * j + 1 : j + half);
      const double ff = cfg.freq_factors.empty() ? 1.0 : cfg.freq_factors[j];
      const double theta = pos * double{cfg.freq_scale} *
                           std::pow(double{cfg.theta}, -2.0 * j / static_cast<double>(d)) / ff;
      const std::complex<double> z = std::complex<double>(x[ia], x[ib]) * std::polar(1.0, theta);
      out[ia] = z.real();
      out[ib] = z.imag();
    }
  }
  return out;
}

struct RopeCase {
  RopeMode mode;
  int64_t head_dim, stride, n_heads, pos;
  float theta, freq_scale;
  bool factors;
};

std::vector<RopeCase> RopeCases() {
  std::vector<RopeCase> cases;
  for (RopeMode mode : {RopeMode::kInterleaved, RopeMode::kNeox}) {
    cases.push_back({mode, 64, 64, 9, 0, 10000.0f, 1.0f, false});
    cases.push_back({mode, 64, 64, 9, 1, 10000.0f, 1.0f, false});
    cases.push_back({mode, 64, 64, 3, 37, 1000000.0f, 1.0f, false});
    cases.push_back({mode, 128, 128, 4, 1000, 500000.0f, 1.0f, true});
    cases.push_back({mode, 128, 128, 2, 511, 10000.0f, 0.25f, false});
    cases.push_back({mode, 32, 80, 5, 77, 10000.0f, 1.0f, false});  // partial rotation
    cases.push_back({mode, 6, 10, 3, 5, 10000.0f, 1.0f, true});     // tiny, odd pair count
    cases.push_back({mode, 36, 36, 2, 300, 10000.0f, 1.0f, false});
  }
  return cases;
}

RopeConfig MakeRopeConfig(const RopeCase& c) {
  RopeConfig cfg{.mode = c.mode,
                 .head_dim = c.head_dim,
                 .theta = c.theta,
                 .freq_scale = c.freq_scale,
                 .freq_factors = {}};
  if (c.factors) cfg.freq_factors = Llama3RopeFreqFactors(c.head_dim, c.theta, 8, 1, 4, 64);
  return cfg;
}

TEST(OpsReference, RopeMatchesComplexRotation) {
  for (const RopeCase& c : RopeCases()) {
    const RopeConfig cfg = MakeRopeConfig(c);
    auto x = RandomVector(c.n_heads * c.stride, 10 + c.pos);
    std::vector<float> got = x;
    Rope(got.data(), c.n_heads, c.stride, c.pos, cfg, Isa::kScalar);
    // ggml's table accumulates theta by repeated float multiplication, so large positions carry
    // ~pos * 1e-7 radians of angle error; the bound reflects that, not the rotation itself.
    const double bound = 1e-12 + 1e-14 * double(c.pos) * double(c.pos);
    EXPECT_LT(NmseD(RopeOracle(x, c.n_heads, c.stride, c.pos, cfg), got), bound)
        << "mode=" << int(c.mode) << " d=" << c.head_dim << " pos=" << c.pos;
    for (int64_t h = 0; h < c.n_heads; ++h) {  // dims past head_dim are not touched
      for (int64_t i = c.head_dim; i < c.stride; ++i) {
        ASSERT_EQ(got[h * c.stride + i], x[h * c.stride + i]);
      }
    }
  }
}

TEST(OpsReference, RopeModesPairDifferentElements) {
  // One nonzero element at index 1: interleaved rotates it with index 0, neox with index 1 + d/2.
  RopeConfig cfg{.head_dim = 8, .freq_factors = {}};
  std::vector<float> a(8, 0.0f), b(8, 0.0f);
  a[1] = b[1] = 1.0f;
  cfg.mode = RopeMode::kInterleaved;
  Rope(a.data(), 1, 8, 3, cfg, Isa::kScalar);
  cfg.mode = RopeMode::kNeox;
  Rope(b.data(), 1, 8, 3, cfg, Isa::kScalar);
  EXPECT_NEAR(a[0], -std::sin(3.0), 1e-6);
  EXPECT_NEAR(a[1], std::cos(3.0), 1e-6);
  const double th1 = 3.0 * std::pow(10000.0, -2.0 / 8);
  EXPECT_NEAR(b[1], std::cos(th1), 1e-6);
  EXPECT_NEAR(b[5], std::sin(th1), 1e-6);
  EXPECT_EQ(b[0], 0.0f);
}

// The Llama-3.1 formula in double: the oracle for Llama3RopeFreqFactors.
std::vector<double> Llama3FactorsOracle(int64_t d, double base, double factor, double lff,
                                        double hff, double ctx) {
  std::vector<double> out;
  for (int64_t i = 0; i < d; i += 2) {
    const double wavelen = 2 * M_PI * std::pow(base, double(i) / d);
    if (wavelen < ctx / hff) {
      out.push_back(1);
    } else if (wavelen > ctx / lff) {
      out.push_back(factor);
    } else {
      const double smooth = (ctx / wavelen - lff) / (hff - lff);
      out.push_back(1 / ((1 - smooth) / factor + smooth));
    }
  }
  return out;
}

// The same formula evaluated by numpy in a separate process, when python3 + numpy are present.
bool NumpyLlama3Factors(int64_t d, double base, double factor, double lff, double hff, double ctx,
                        std::vector<double>* out) {
  const std::string script =
      "import numpy as np, math\n"
      "d,base,factor,lff,hff,ctx=" +
      std::to_string(d) + "," + std::to_string(base) + "," + std::to_string(factor) + "," +
      std::to_string(lff) + "," + std::to_string(hff) + "," + std::to_string(ctx) +
      "\n"
      "freqs=1.0/(base**(np.arange(0,d,2,dtype=np.float64)/d))\n"
      "w=2*math.pi/freqs\n"
      "s=(ctx/w-lff)/(hff-lff)\n"
      "r=np.where(w<ctx/hff,1.0,np.where(w>ctx/lff,factor,1/((1-s)/factor+s)))\n"
      "print(' '.join(repr(float(x)) for x in r))\n";
  const std::string cmd = "/usr/bin/python3 -c \"" + script + "\" 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return false;
  out->clear();
  double v;
  while (std::fscanf(p, "%lf", &v) == 1) out->push_back(v);
  return pclose(p) == 0 && static_cast<int64_t>(out->size()) == d / 2;
}

TEST(OpsReference, Llama3RopeFreqFactors) {
  struct Case {
    int64_t d;
    double base, factor, lff, hff, ctx;
  };
  const Case cases[] = {{128, 500000, 8, 1, 4, 8192},  // Llama 3.1 8B
                        {64, 500000, 32, 1, 4, 8192},  // Llama 3.2 1B
                        {64, 10000, 32, 1, 4, 8192},   // Mint's synthetic llama preset
                        {48, 10000, 4, 2, 8, 1024}};
  for (const Case& c : cases) {
    const auto got = Llama3RopeFreqFactors(c.d, float(c.base), float(c.factor), float(c.lff),
                                           float(c.hff), c.ctx);
    const auto ref = Llama3FactorsOracle(c.d, c.base, c.factor, c.lff, c.hff, c.ctx);
    ASSERT_EQ(got.size(), ref.size());
    EXPECT_EQ(got.front(), 1.0f);            // highest frequency: unscaled
    EXPECT_EQ(got.back(), float(c.factor));  // lowest frequency: fully scaled
    bool interpolated = false;
    for (size_t i = 0; i < ref.size(); ++i) {
      EXPECT_NEAR(got[i], ref[i], 1e-5 * ref[i]) << "d=" << c.d << " i=" << i;
      interpolated |= ref[i] != 1.0 && ref[i] != c.factor;
      if (i > 0) {
        EXPECT_GE(got[i], got[i - 1]);  // monotone in wavelength
      }
    }
    EXPECT_TRUE(interpolated) << "case should cover the smooth band";

    std::vector<double> np_ref;
    if (!NumpyLlama3Factors(c.d, c.base, c.factor, c.lff, c.hff, c.ctx, &np_ref)) {
      GTEST_SKIP() << "python3 with numpy not available";
    }
    for (size_t i = 0; i < np_ref.size(); ++i) {
      EXPECT_NEAR(got[i], np_ref[i], 1e-5 * np_ref[i]) << "numpy d=" << c.d << " i=" << i;
    }
  }
}

// ---- Attention ---------------------------------------------------------------------------------

struct AttnData {
  AttentionShape shape;
  std::vector<float> q, k, v;
};

AttnData MakeAttn(int64_t n_tokens, int64_t pos0, int64_t n_head, int64_t n_kv_head, int64_t hd,
                  int64_t extra_stride = 0, uint64_t seed = 7) {
  AttnData a;
  a.shape = {.n_tokens = n_tokens,
             .pos0 = pos0,
             .n_head = n_head,
             .n_kv_head = n_kv_head,
             .head_dim = hd,
             .kv_stride = n_kv_head * hd + extra_stride,
             .scale = 1.0f / std::sqrt(float(hd))};
  const int64_t n_pos = pos0 + n_tokens;
  a.q = RandomVector(n_tokens * n_head * hd, seed, 1.5f);
  a.k = RandomVector(n_pos * a.shape.kv_stride, seed + 1, 1.5f);
  a.v = RandomVector(n_pos * a.shape.kv_stride, seed + 2);
  return a;
}

std::vector<float> RunAttention(const AttnData& a, Isa isa, ThreadPool* pool) {
  std::vector<float> out(a.shape.n_tokens * a.shape.n_head * a.shape.head_dim, NAN);
  Attention(a.q.data(), a.k.data(), a.v.data(), a.shape, out.data(), pool, isa);
  return out;
}

// softmax(q K^T * scale) V in double, materialising every score row.
std::vector<double> NaiveAttention(const AttnData& a) {
  const AttentionShape& s = a.shape;
  const int64_t hd = s.head_dim, group = s.n_head / s.n_kv_head;
  std::vector<double> out(s.n_tokens * s.n_head * hd);
  for (int64_t i = 0; i < s.n_tokens; ++i) {
    for (int64_t h = 0; h < s.n_head; ++h) {
      const int64_t g = h / group, n_keys = s.pos0 + i + 1;
      const float* q = a.q.data() + (i * s.n_head + h) * hd;
      std::vector<double> p(n_keys);
      double mx = -INFINITY, sum = 0;
      for (int64_t t = 0; t < n_keys; ++t) {
        const float* k = a.k.data() + t * s.kv_stride + g * hd;
        double dot = 0;
        for (int64_t d = 0; d < hd; ++d) dot += double{q[d]} * k[d];
        p[t] = dot * s.scale;
        mx = std::max(mx, p[t]);
      }
      for (double& x : p) sum += (x = std::exp(x - mx));
      double* o = out.data() + (i * s.n_head + h) * hd;
      for (int64_t t = 0; t < n_keys; ++t) {
        const float* v = a.v.data() + t * s.kv_stride + g * hd;
        for (int64_t d = 0; d < hd; ++d) o[d] += p[t] / sum * v[d];
      }
    }
  }
  return out;
}

struct AttnCase {
  int64_t n_tokens, pos0, n_head, n_kv_head, hd, extra_stride;
};

const AttnCase kAttnCases[] = {
    {1, 0, 1, 1, 64, 0},     // single key
    {1, 200, 9, 3, 64, 0},   // decode, GQA 3:1
    {17, 0, 14, 2, 64, 0},   // prefill, GQA 7:1
    {5, 130, 14, 2, 64, 0},  // chunked prefill after a prefix (pos0 > 0, spans key blocks)
    {33, 31, 8, 8, 40, 0},   // MHA, head_dim with a tail for every SIMD width
    {9, 64, 4, 1, 36, 12},   // MQA, padded kv stride
    {3, 70, 16, 2, 128, 0},  // group of 8
    {2, 5, 32, 2, 16, 0},    // group of 16 = kMaxAttnRows
    {2, 5, 40, 2, 16, 0},    // group of 20 > kMaxAttnRows: split into runs
    {4, 3, 6, 3, 7, 1},      // odd head_dim
};

TEST(AttentionReference, MatchesNaiveSoftmaxQKV) {
  for (const AttnCase& c : kAttnCases) {
    const AttnData a = MakeAttn(c.n_tokens, c.pos0, c.n_head, c.n_kv_head, c.hd, c.extra_stride);
    EXPECT_LT(NmseD(NaiveAttention(a), RunAttention(a, Isa::kScalar, nullptr)), 1e-11)
        << "tokens=" << c.n_tokens << " pos0=" << c.pos0 << " heads=" << c.n_head << "/"
        << c.n_kv_head << " hd=" << c.hd;
  }
}

TEST(AttentionReference, GqaHeadUsesItsGroupsKvHead) {
  // kv head g's values are the constant g, so every output element equals h / group exactly.
  AttnData a = MakeAttn(3, 4, 6, 3, 8);
  for (int64_t p = 0; p < 7; ++p) {
    for (int64_t g = 0; g < 3; ++g) {
      for (int64_t d = 0; d < 8; ++d) a.v[p * a.shape.kv_stride + g * 8 + d] = float(g);
    }
  }
  for (Isa isa : AvailableIsas()) {
    const auto out = RunAttention(a, isa, nullptr);
    for (int64_t i = 0; i < 3; ++i) {
      for (int64_t h = 0; h < 6; ++h) {
        EXPECT_NEAR(out[(i * 6 + h) * 8], float(h / 2), 1e-6) << IsaName(isa);
      }
    }
  }
}

TEST(AttentionReference, CausalMaskIgnoresFutureKeys) {
  // Corrupting positions after token i's own must not change token i's output.
  AttnData a = MakeAttn(6, 10, 4, 2, 32);
  for (Isa isa : AvailableIsas()) {
    const auto base = RunAttention(a, isa, nullptr);
    AttnData b = a;
    const int64_t first_future = a.shape.pos0 + 3;  // token 2 attends to [0, pos0 + 2]
    for (size_t i = first_future * a.shape.kv_stride; i < b.k.size(); ++i) b.k[i] = b.v[i] = 1e4f;
    const auto out = RunAttention(b, isa, nullptr);
    const int64_t row = 4 * 32;
    for (int64_t i = 0; i < 3 * row; ++i) ASSERT_EQ(out[i], base[i]) << IsaName(isa);
  }
}

TEST(AttentionReference, LongPrefill2048) {
  const AttnData a = MakeAttn(2048, 0, 2, 1, 64);
  ThreadPool pool(2);
  EXPECT_LT(NmseD(NaiveAttention(a), RunAttention(a, Isa::kScalar, &pool)), 1e-11);
}

// ---- Parity: every SIMD variant against the scalar reference -----------------------------------

TEST(OpsParity, Add) {
  for (Isa isa : SimdIsas()) {
    for (int64_t n : kSizes) {
      auto x = RandomVector(n, 20 + n);
      auto y0 = RandomVector(n, 21 + n);
      auto y1 = y0;
      Add(x.data(), y0.data(), n, Isa::kScalar);
      Add(x.data(), y1.data(), n, isa);
      EXPECT_LE(Nmse(y0.data(), y1.data(), n), kAddBound) << IsaName(isa) << " n=" << n;
    }
  }
}

TEST(OpsParity, RmsNorm) {
  for (Isa isa : SimdIsas()) {
    for (int64_t n : kSizes) {
      auto x = RandomVector(n, 30 + n, 3.0f);
      auto w = RandomVector(n, 31 + n);
      std::vector<float> y0(n), y1 = x;
      RmsNorm(x.data(), w.data(), y0.data(), n, 1e-5f, Isa::kScalar);
      RmsNorm(y1.data(), w.data(), y1.data(), n, 1e-5f, isa);  // in place
      EXPECT_LE(Nmse(y0.data(), y1.data(), n), kRmsNormBound) << IsaName(isa) << " n=" << n;
    }
  }
}

TEST(OpsParity, SwiGlu) {
  for (Isa isa : SimdIsas()) {
    for (float stddev : {1.0f, 40.0f}) {  // 40: exercises exp overflow/underflow
      for (int64_t n : kSizes) {
        auto g = RandomVector(n, 40 + n, stddev);
        auto u = RandomVector(n, 41 + n);
        std::vector<float> o0(n), o1 = g;
        SwiGlu(g.data(), u.data(), o0.data(), n, Isa::kScalar);
        SwiGlu(o1.data(), u.data(), o1.data(), n, isa);  // out aliases gate
        EXPECT_LE(Nmse(o0.data(), o1.data(), n), kExpBound)
            << IsaName(isa) << " n=" << n << " stddev=" << stddev;
      }
    }
  }
}

// Greedy sampling's argmax: every ISA gives the scalar scan's answer, the first maximum,
// through ties, NaN and infinities, at vocabulary sizes and at every tail length.
TEST(OpsParity, ArgMax) {
  std::vector<std::vector<float>> cases;
  for (int64_t n : {1, 2, 15, 16, 17, 63, 64, 65, 100, 1000, 49152, 151936}) {
    cases.push_back(RandomVector(n, 900 + n));
  }
  auto with = [](std::vector<float> v, std::initializer_list<std::pair<size_t, float>> set) {
    for (auto [i, x] : set) v[i] = x;
    return v;
  };
  const auto base = RandomVector(1000, 77);
  cases.push_back(with(base, {{10, 9.0f}, {500, 9.0f}, {999, 9.0f}}));  // ties: the first
  cases.push_back(with(base, {{3, NAN}, {700, NAN}, {400, 5.0f}}));     // NaN passed over
  cases.push_back(with(base, {{0, NAN}, {400, 5.0f}}));                 // NaN first: index 0
  cases.push_back(with(base, {{998, INFINITY}, {999, INFINITY}}));
  cases.push_back(std::vector<float>(300, -INFINITY));
  cases.push_back(with(std::vector<float>(300, 0.0f), {{5, -0.0f}}));
  cases.push_back(with(std::vector<float>(300, -1.0f), {{299, -0.5f}}));  // the last lane
  for (const auto& v : cases) {
    const int64_t n = static_cast<int64_t>(v.size());
    const int64_t want = std::max_element(v.begin(), v.end()) - v.begin();
    EXPECT_EQ(ArgMax(v.data(), n, Isa::kScalar), want) << "n=" << n;
    for (Isa isa : SimdIsas()) EXPECT_EQ(ArgMax(v.data(), n, isa), want) << IsaName(isa) << " n=" << n;
  }
}

// The read-bandwidth stream: every ISA gives the scalar maximum, NaN passed over, at every
// tail length, and -inf for nothing to read.
TEST(OpsParity, MaxValue) {
  for (int64_t n : {0, 1, 7, 8, 31, 32, 33, 63, 64, 65, 1000, 49152}) {
    auto v = RandomVector(n, 300 + n);
    if (n > 5) v[5] = NAN;
    if (n > 2) v[n - 1] = 7.5f;  // the last element (a tail lane) holds the maximum
    float want = -INFINITY;
    for (float x : v) want = std::isnan(x) ? want : std::max(want, x);
    EXPECT_EQ(MaxValue(v.data(), n, Isa::kScalar), want) << "n=" << n;
    for (Isa isa : SimdIsas())
      EXPECT_EQ(MaxValue(v.data(), n, isa), want) << IsaName(isa) << " n=" << n;
  }
  const std::vector<float> nans(100, NAN);
  for (Isa isa : AvailableIsas()) EXPECT_EQ(MaxValue(nans.data(), 100, isa), -INFINITY);
}

TEST(OpsParity, Softmax) {
  for (Isa isa : SimdIsas()) {
    for (float stddev : {1.0f, 30.0f}) {
      for (int64_t n : kSizes) {
        auto x0 = RandomVector(n, 50 + n, stddev);
        for (auto& v : x0) v += 500.0f;  // needs the max subtraction
        auto x1 = x0;
        Softmax(x0.data(), n, Isa::kScalar);
        Softmax(x1.data(), n, isa);
        EXPECT_LE(Nmse(x0.data(), x1.data(), n), kExpBound) << IsaName(isa) << " n=" << n;
      }
    }
  }
}

TEST(OpsParity, Rope) {
  for (Isa isa : SimdIsas()) {
    for (const RopeCase& c : RopeCases()) {
      const RopeConfig cfg = MakeRopeConfig(c);
      auto x0 = RandomVector(c.n_heads * c.stride, 60 + c.pos);
      auto x1 = x0;
      Rope(x0.data(), c.n_heads, c.stride, c.pos, cfg, Isa::kScalar);
      Rope(x1.data(), c.n_heads, c.stride, c.pos, cfg, isa);
      EXPECT_LE(Nmse(x0.data(), x1.data(), x0.size()), kRopeBound)
          << IsaName(isa) << " mode=" << int(c.mode) << " d=" << c.head_dim;
    }
  }
}

TEST(OpsParity, Attention) {
  ThreadPool pool(3);
  for (const AttnCase& c : kAttnCases) {
    const AttnData a = MakeAttn(c.n_tokens, c.pos0, c.n_head, c.n_kv_head, c.hd, c.extra_stride);
    const auto ref = RunAttention(a, Isa::kScalar, nullptr);
    for (Isa isa : SimdIsas()) {
      const auto got = RunAttention(a, isa, nullptr);
      EXPECT_LE(Nmse(ref.data(), got.data(), ref.size()), kAttentionBound)
          << IsaName(isa) << " tokens=" << c.n_tokens << " hd=" << c.hd;
    }
    // Threading changes only who computes each row, never the arithmetic.
    for (Isa isa : AvailableIsas()) {
      const auto single = RunAttention(a, isa, nullptr);
      const auto pooled = RunAttention(a, isa, &pool);
      ASSERT_EQ(single, pooled) << IsaName(isa);
    }
  }
}

TEST(OpsParity, AttentionLongPrefill) {
  ThreadPool pool(2);
  const AttnData a = MakeAttn(2048, 0, 4, 2, 64);
  const auto ref = RunAttention(a, Isa::kScalar, &pool);
  for (Isa isa : SimdIsas()) {
    const auto got = RunAttention(a, isa, &pool);
    EXPECT_LE(Nmse(ref.data(), got.data(), ref.size()), kAttentionBound) << IsaName(isa);
  }
}

TEST(OpsParity, BestIsTheBestAvailable) {
  const int64_t n = 65;
  auto x = RandomVector(n, 70, 4.0f);
  auto u = RandomVector(n, 71);
  std::vector<float> a(n), b(n);
  SwiGlu(x.data(), u.data(), a.data(), n, Isa::kBest);
  SwiGlu(x.data(), u.data(), b.data(), n, AvailableIsas().back());
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace mint::kernels
