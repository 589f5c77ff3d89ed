// Scalar conversions and GGUF block (de)quantization: known values, edge cases, error bounds,
// and golden hashes of ggml's reference quantizers.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <limits>
#include <random>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/quant_formats.h"
#include "parity.h"
#include "random_blocks.h"

namespace mint::kernels {
namespace {

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

// ---- F16 -------------------------------------------------------------------------------------

TEST(F16Test, KnownValues) {
  EXPECT_EQ(F16ToF32(0x3C00), 1.0f);
  EXPECT_EQ(F16ToF32(0xC000), -2.0f);
  EXPECT_EQ(F16ToF32(0x7BFF), 65504.0f);
  EXPECT_EQ(F16ToF32(0x0400), std::ldexp(1.0f, -14));     // smallest normal
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));     // smallest subnormal
  EXPECT_EQ(F16ToF32(0x03FF), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(F16ToF32(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_EQ(Bits(F16ToF32(0x8000)), 0x80000000u);  // -0
  EXPECT_EQ(F16ToF32(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(F16ToF32(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(F16ToF32(0x7E00)));
  EXPECT_TRUE(std::isnan(F16ToF32(0x7C01)));  // signalling payload stays NaN
}

TEST(F16Test, RoundTripsEveryHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = F16ToF32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(F16ToF32(F32ToF16(f)))) << std::hex << h;
      continue;
    }
    EXPECT_EQ(F32ToF16(f), h) << std::hex << h;
  }
}

TEST(F16Test, RoundsToNearestEven) {
  EXPECT_EQ(F32ToF16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);      // tie -> even (1.0)
  EXPECT_EQ(F32ToF16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // tie -> even (1 + 2^-9)
  EXPECT_EQ(F32ToF16(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3C01);
  EXPECT_EQ(F32ToF16(65519.0f), 0x7BFF);
  EXPECT_EQ(F32ToF16(65520.0f), 0x7C00);  // tie between 65504 and 65536 -> even -> inf
  EXPECT_EQ(F32ToF16(1e10f), 0x7C00);
  EXPECT_EQ(F32ToF16(-1e10f), 0xFC00);
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -25)), 0x0000);  // tie between 0 and 2^-24 -> 0
  EXPECT_EQ(F32ToF16(std::ldexp(1.0001f, -25)), 0x0001);
  EXPECT_EQ(F32ToF16(std::ldexp(3.0f, -25)), 0x0002);     // 1.5 subnormal steps -> 2
  EXPECT_EQ(F32ToF16(std::ldexp(5.0f, -25)), 0x0002);     // 2.5 -> 2
  EXPECT_EQ(F32ToF16(std::ldexp(1023.5f, -24)), 0x0400);  // rounds up into the normals
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -30)), 0x0000);
  EXPECT_EQ(F32ToF16(-std::ldexp(1.0f, -30)), 0x8000);
  EXPECT_EQ(F32ToF16(FromBits(1)), 0x0000);  // f32 subnormal
  EXPECT_EQ(F32ToF16(-0.0f), 0x8000);
  EXPECT_EQ(F32ToF16(std::numeric_limits<float>::infinity()), 0x7C00);
  const uint16_t nan = F32ToF16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x3FF, 0);
  EXPECT_NE(F32ToF16(FromBits(0x7F800001u)) & 0x3FF, 0);  // low-payload NaN stays NaN
}

// Every finite float converts to a nearest half, ties to the even one.
TEST(F16Test, RandomFloatsRoundToNearest) {
  std::mt19937 rng(7);
  for (int n = 0; n < 2000000; ++n) {
    const float f = FromBits(rng() & 0x47FFFFFFu);  // positive, below 2^16 * 2
    if (!std::isfinite(f) || f >= 65520.0f) continue;
    const uint16_t h = F32ToF16(f);
    const double err = std::fabs(static_cast<double>(F16ToF32(h)) - f);
    for (int delta : {-1, 1}) {
      if (h == 0 && delta < 0) continue;
      const uint16_t other = static_cast<uint16_t>(h + delta);
      if (other >= 0x7C00) continue;
      const double other_err = std::fabs(static_cast<double>(F16ToF32(other)) - f);
      ASSERT_LE(err, other_err) << f;
      if (err == other_err) {
        ASSERT_EQ(h & 1, 0) << f;
      }
    }
  }
}

// ---- BF16 ------------------------------------------------------------------------------------

TEST(Bf16Test, KnownValuesAndRounding) {
  EXPECT_EQ(F32ToBF16(1.0f), 0x3F80);
  EXPECT_EQ(BF16ToF32(0x3F80), 1.0f);
  EXPECT_EQ(BF16ToF32(0xC000), -2.0f);
  EXPECT_EQ(F32ToBF16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);      // tie -> even
  EXPECT_EQ(F32ToBF16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);  // tie -> even
  EXPECT_EQ(F32ToBF16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3F81);
  EXPECT_EQ(F32ToBF16(std::numeric_limits<float>::max()), 0x7F80);  // rounds up to inf
  EXPECT_EQ(F32ToBF16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(F32ToBF16(-std::numeric_limits<float>::infinity()), 0xFF80);
  EXPECT_EQ(F32ToBF16(FromBits(0x00010000u)), 0x0001);  // subnormal kept
  EXPECT_EQ(F32ToBF16(FromBits(0x00008000u)), 0x0000);  // tie -> even
  EXPECT_EQ(F32ToBF16(FromBits(0x00018000u)), 0x0002);
  EXPECT_EQ(F32ToBF16(-0.0f), 0x8000);
  // NaN stays NaN even when only low payload bits are set (plain rounding would make it inf).
  EXPECT_TRUE(std::isnan(BF16ToF32(F32ToBF16(FromBits(0x7F800001u)))));
  EXPECT_TRUE(std::isnan(BF16ToF32(F32ToBF16(FromBits(0xFFC00000u)))));
  EXPECT_EQ(F32ToBF16(FromBits(0xFFC00000u)) & 0x8000, 0x8000);
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = BF16ToF32(static_cast<uint16_t>(h));
    if (!std::isnan(f)) {
      EXPECT_EQ(F32ToBF16(f), h);
    }
  }
}

// ---- Known-value decode of hand-built blocks --------------------------------------------------

TEST(DequantizeTest, Q4_0) {
  BlockQ4_0 b{};
  b.d = 0x3800;  // 0.5
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (15 - j) << 4);
  float y[32];
  DequantizeRow(DType::kQ4_0, &b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * (j - 8)) << j;
    EXPECT_EQ(y[j + 16], 0.5f * (7 - j)) << j;
  }
}

TEST(DequantizeTest, Q8_0) {
  BlockQ8_0 b[2]{};
  b[0].d = 0x3400;  // 0.25
  b[1].d = 0xBC00;  // -1
  for (int j = 0; j < 32; ++j) {
    b[0].qs[j] = static_cast<int8_t>(j - 16);
    b[1].qs[j] = static_cast<int8_t>(j == 0 ? -128 : 127 - j);
  }
  float y[64];
  DequantizeRow(DType::kQ8_0, b, y, 64);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 0.25f * (j - 16)) << j;
  EXPECT_EQ(y[32], 128.0f);
  for (int j = 1; j < 32; ++j) EXPECT_EQ(y[32 + j], -(127.0f - j)) << j;
}

TEST(DequantizeTest, Q4_K) {
  const int sc[8] = {1, 2, 3, 4, 33, 40, 63, 10};
  const int m[8] = {0, 1, 2, 3, 17, 20, 63, 5};
  BlockQ4_K b{};
  b.d = 0x3C00;     // 1
  b.dmin = 0x3800;  // 0.5
  // Sub-blocks 0-3: 6 bits in bytes 0-3 (scale) and 4-7 (min). Sub-blocks 4-7: low 4 bits in
  // bytes 8-11 (scale low nibble, min high nibble), top 2 bits in the top of bytes 0-3 / 4-7.
  for (int j = 0; j < 4; ++j) {
    b.scales[j] = static_cast<uint8_t>(sc[j] | (sc[j + 4] >> 4) << 6);
    b.scales[j + 4] = static_cast<uint8_t>(m[j] | (m[j + 4] >> 4) << 6);
    b.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | (m[j + 4] & 0xF) << 4);
  }
  auto code = [](int v) { return (v * 7 + 3) % 16; };
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      b.qs[32 * c + l] = static_cast<uint8_t>(code(64 * c + l) | code(64 * c + 32 + l) << 4);
    }
  }
  float y[256];
  DequantizeRow(DType::kQ4_K, &b, y, 256);
  for (int v = 0; v < 256; ++v) {
    const int j = v / 32;
    EXPECT_EQ(y[v], 1.0f * sc[j] * code(v) - 0.5f * m[j]) << v;
  }
}

TEST(DequantizeTest, Q6_K) {
  BlockQ6_K b{};
  b.d = 0x3000;  // 0.125
  for (int g = 0; g < 16; ++g) b.scales[g] = static_cast<int8_t>(g * 9 - 70);
  auto code = [](int v) { return (v * 5 + 11) % 64; };  // stored 6-bit value, q = code - 32
  for (int h = 0; h < 2; ++h) {
    for (int l = 0; l < 32; ++l) {
      const int base = 128 * h;
      const int c1 = code(base + l), c2 = code(base + l + 32), c3 = code(base + l + 64),
                c4 = code(base + l + 96);
      b.ql[64 * h + l] = static_cast<uint8_t>((c1 & 0xF) | (c3 & 0xF) << 4);
      b.ql[64 * h + l + 32] = static_cast<uint8_t>((c2 & 0xF) | (c4 & 0xF) << 4);
      b.qh[32 * h + l] =
          static_cast<uint8_t>(c1 >> 4 | (c2 >> 4) << 2 | (c3 >> 4) << 4 | (c4 >> 4) << 6);
    }
  }
  float y[256];
  DequantizeRow(DType::kQ6_K, &b, y, 256);
  for (int v = 0; v < 256; ++v) {
    EXPECT_EQ(y[v], 0.125f * b.scales[v / 16] * (code(v) - 32)) << v;
  }
}

TEST(DequantizeTest, FloatTypes) {
  const uint16_t h[4] = {0x3C00, 0xC000, 0x0001, 0x7C00};
  float y[4];
  DequantizeRow(DType::kF16, h, y, 4);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -2.0f);
  EXPECT_EQ(y[2], std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(y[3]));
  const uint16_t bf[2] = {0x3F80, 0x4049};
  DequantizeRow(DType::kBF16, bf, y, 2);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], BF16ToF32(0x4049));
}

// ---- Quantization ------------------------------------------------------------------------------

double RoundTripNmse(DType t, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(static_cast<size_t>(DTypeRowBytes(t, n)));
  std::vector<float> y(x.size());
  QuantizeRow(t, x.data(), q.data(), n);
  DequantizeRow(t, q.data(), y.data(), n);
  return parity::Nmse(x.data(), y.data(), x.size());
}

// Measured on this data (normal(0,1), 64k values), identical to ggml's reference quantizers:
// F16 4.4e-8, BF16 2.8e-6, Q8_0 2.8e-5, Q4_0 7.4e-3, Q4_K 5.1e-3, Q6_K 3.1e-4.
TEST(QuantizeTest, RoundTripErrorBounds) {
  const std::vector<float> x = parity::RandomVector(256 * 256, 1);
  struct Bound {
    DType t;
    double max_nmse;
  };
  for (const Bound& b :
       {Bound{DType::kF32, 0.0}, Bound{DType::kF16, 1e-7}, Bound{DType::kBF16, 1e-5},
        Bound{DType::kQ8_0, 1e-4}, Bound{DType::kQ4_0, 1e-2}, Bound{DType::kQ4_K, 6e-3},
        Bound{DType::kQ6_K, 1e-3}, Bound{DType::kQ4_1, 8e-3}, Bound{DType::kQ5_0, 2.5e-3},
        Bound{DType::kQ5_1, 2e-3}}) {
    const double nmse = RoundTripNmse(b.t, x);
    EXPECT_LE(nmse, b.max_nmse) << DTypeName(b.t);
    std::printf("[          ] round-trip NMSE %-5s %.3g\n", DTypeName(b.t), nmse);
  }
}

TEST(QuantizeTest, ZerosStayZero) {
  const std::vector<float> x(512, 0.0f);
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_K, DType::kQ6_K, DType::kQ4_1,
                  DType::kQ5_0, DType::kQ5_1}) {
    std::vector<uint8_t> q(static_cast<size_t>(DTypeRowBytes(t, 512)), 0xAB);
    std::vector<float> y(512, 1.0f);
    QuantizeRow(t, x.data(), q.data(), 512);
    DequantizeRow(t, q.data(), y.data(), 512);
    for (float v : y) ASSERT_EQ(v, 0.0f) << DTypeName(t);
  }
}

TEST(QuantizeTest, Q4_0MapsLargestMagnitudeToMinus8) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = 0.1f * (j - 10);  // max |x| is 2.1 at j = 31
  BlockQ4_0 b;
  QuantizeRow(DType::kQ4_0, x.data(), &b, 32);
  EXPECT_EQ(F16ToF32(b.d), F16ToF32(F32ToF16(2.1f / -8)));
  EXPECT_EQ(b.qs[15] >> 4, 0);  // value 31 -> code 0 = -8 * d = +2.1
}

TEST(QuantizeTest, Q8_0ExactForSmallIntegers) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j * 4 - 127 + (j == 31 ? 4 : 0));
  std::vector<float> y(32);
  BlockQ8_0 b;
  QuantizeRow(DType::kQ8_0, x.data(), &b, 32);
  DequantizeRow(DType::kQ8_0, &b, y.data(), 32);
  EXPECT_EQ(b.d, 0x3C00);  // amax 127 -> d = 1
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], x[j]) << j;
}

uint64_t Fnv1a(const std::vector<uint8_t>& bytes) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t b : bytes) {
    h ^= b;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t Fnv1a(const std::vector<float>& values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(float));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return Fnv1a(bytes);
}

// With MINT_DUMP_BLOCKS=DIR set, writes `bytes` to DIR/NAME: the inputs that the golden hashes
// below were computed from by ggml itself.
void Dump(const std::string& name, const void* data, size_t n) {
  const char* dir = std::getenv("MINT_DUMP_BLOCKS");
  if (dir == nullptr) return;
  if (FILE* f = std::fopen((std::string(dir) + "/" + name).c_str(), "wb")) {
    std::fwrite(data, 1, n, f);
    std::fclose(f);
  }
}

// Every type Mint loads, dequantized from random blocks whose scale fields range over every
// finite half (every E8M0 exponent for MXFP4): the hash of the f32 bits must equal that of
// ggml's dequantize_row_* (llama.cpp d32676d7, built from its own source, C11,
// -ffp-contract=off) on the same bytes.
TEST(DequantizeTest, MatchesGgmlForEveryType) {
  struct Golden {
    DType t;
    uint64_t hash;
  };
  const Golden kGolden[] = {
      {DType::kQ4_0, 0x3ee5f820e9de3e6bull},
      {DType::kQ4_1, 0xbc80d0b128aa60c0ull},
      {DType::kQ5_0, 0x4eb4fec16b3a4b4eull},
      {DType::kQ5_1, 0xd5ef3a8a53c2bdbeull},
      {DType::kQ8_0, 0x3a10c3832c9acbe4ull},
      {DType::kQ2_K, 0xff111c302a58d3dfull},
      {DType::kQ3_K, 0x886765532aca47feull},
      {DType::kQ4_K, 0xc1351cd039bcc7c1ull},
      {DType::kQ5_K, 0xe2e38316cc048ec2ull},
      {DType::kQ6_K, 0xb6aaa46b721e83e3ull},
      {DType::kIQ4_NL, 0xa8fcca52b9503c90ull},
      {DType::kIQ4_XS, 0x0224425b1c9e6cfcull},
      {DType::kMXFP4, 0x29b74be8a6035d83ull},
  };
  constexpr int64_t n = 8192;
  for (const Golden& g : kGolden) {
    const std::vector<uint8_t> blocks =
        testing::RandomBlocks(g.t, n, 1000 + static_cast<uint64_t>(g.t), /*any_scale=*/true);
    Dump(std::string(DTypeName(g.t)) + ".bin", blocks.data(), blocks.size());
    std::vector<float> y(n);
    DequantizeRow(g.t, blocks.data(), y.data(), n);
    EXPECT_EQ(Fnv1a(y), g.hash) << DTypeName(g.t);
  }
}

// Hashes of the blocks ggml's quantize_row_*_ref (ggml 0.18) writes for this input: Mint's
// quantizers must reproduce them byte for byte.
TEST(QuantizeTest, MatchesGgmlReferenceBytes) {
  const int n = 1024;
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) {
    x[i] = std::sin(static_cast<float>(i) * 0.618f) * static_cast<float>(1 + i % 17) * 0.1f +
           (i % 5 == 0 ? 0.25f : 0.0f);
  }
  for (int i = 512; i < 544; ++i) x[i] = 0;  // one all-zero Q4_0/Q8_0 block
  struct Golden {
    DType t;
    uint64_t hash;
  };
  for (const Golden& g :
       {Golden{DType::kQ4_0, 0xe444981ae4ffeb35ull}, Golden{DType::kQ8_0, 0xaf1e2429cd8f5bb1ull},
        Golden{DType::kQ4_K, 0x4ed9dbeb5e3eda85ull}, Golden{DType::kQ6_K, 0x7fb00bdd9ca1831full},
        // llama.cpp d32676d7's quantize_row_*_ref
        Golden{DType::kQ4_1, 0x8e216358f2837e74ull}, Golden{DType::kQ5_0, 0xaa14d9d2c144663eull},
        Golden{DType::kQ5_1, 0xa78264f170170492ull},
        // llama.cpp d32676d7's libggml-base, the functions llama-quantize calls without an
        // importance matrix: quantize_q5_K, quantize_iq4_xs, quantize_iq4_nl (7 scale tries;
        // ggml's quantize_row_iq4_nl_ref tries none and differs)
        Golden{DType::kQ5_K, 0x9e796ab59fc65857ull}, Golden{DType::kIQ4_XS, 0xf97aca43637b78f1ull},
        Golden{DType::kIQ4_NL, 0x579c98b46dc162b6ull}}) {
    std::vector<uint8_t> q(static_cast<size_t>(DTypeRowBytes(g.t, n)));
    QuantizeRow(g.t, x.data(), q.data(), n);
    Dump("quantize_input.f32", x.data(), x.size() * sizeof(float));
    EXPECT_EQ(Fnv1a(q), g.hash) << DTypeName(g.t);
  }
}

TEST(QuantizeTest, FloatTypesRoundTrip) {
  const std::vector<float> x = {1.0f, -2.5f, 65504.0f, 1e-8f, 3.14159f};
  std::vector<uint16_t> h(x.size());
  std::vector<float> y(x.size());
  QuantizeRow(DType::kF16, x.data(), h.data(), 5);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(h[i], F32ToF16(x[i]));
  QuantizeRow(DType::kBF16, x.data(), h.data(), 5);
  DequantizeRow(DType::kBF16, h.data(), y.data(), 5);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], BF16ToF32(F32ToBF16(x[i])));
  QuantizeRow(DType::kF32, x.data(), y.data(), 5);
  EXPECT_EQ(y, x);
}

}  // namespace
}  // namespace mint::kernels
