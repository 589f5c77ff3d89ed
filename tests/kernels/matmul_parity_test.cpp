// MatMul parity harness: every available Isa of every weight type against the scalar reference,
// and the scalar reference against a double-precision product of the dequantized weights.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "kernels/quant_formats.h"
#include "parity.h"
#include "random_blocks.h"

namespace mint::kernels {
namespace {

const DType kAllTypes[] = {DType::kF32,  DType::kF16,    DType::kBF16,   DType::kQ8_0,
                           DType::kQ4_0, DType::kQ4_K,   DType::kQ6_K,   DType::kQ4_1,
                           DType::kQ5_0, DType::kQ5_1,   DType::kQ2_K,   DType::kQ3_K,
                           DType::kQ5_K, DType::kIQ4_NL, DType::kIQ4_XS, DType::kMXFP4};

bool IsQuantized(DType t) { return DTypeBlockElements(t) > 1; }

struct Weights {
  DType type;
  int64_t rows, cols;
  std::vector<uint8_t> bytes;
  std::vector<float> dequantized;  // rows x cols

  WeightView View() const { return {type, bytes.data(), rows, cols}; }
};

Weights MakeWeights(DType t, int64_t rows, int64_t cols, uint64_t seed) {
  Weights w{t, rows, cols, {}, {}};
  const int64_t row_bytes = DTypeRowBytes(t, cols);
  w.bytes.resize(static_cast<size_t>(rows * row_bytes));
  w.dequantized.resize(static_cast<size_t>(rows * cols));
  const std::vector<float> src =
      parity::RandomVector(static_cast<size_t>(rows * cols), seed, 0.05f);
  if (!HasQuantizer(t)) w.bytes = testing::RandomBlocks(t, rows * cols, seed, false);
  for (int64_t r = 0; r < rows; ++r) {
    if (HasQuantizer(t)) QuantizeRow(t, src.data() + r * cols, w.bytes.data() + r * row_bytes, cols);
    DequantizeRow(t, w.bytes.data() + r * row_bytes, w.dequantized.data() + r * cols, cols);
  }
  return w;
}

std::vector<float> RunMatMul(const Weights& w, const std::vector<float>& x, int64_t n_tokens,
                             Isa isa, ThreadPool* pool) {
  std::vector<float> y(static_cast<size_t>(n_tokens * w.rows), NAN);
  MatMul(w.View(), x.data(), n_tokens, y.data(), pool, isa);
  return y;
}

std::vector<float> DoubleReference(const Weights& w, const std::vector<float>& x,
                                   int64_t n_tokens) {
  std::vector<float> y(static_cast<size_t>(n_tokens * w.rows));
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t r = 0; r < w.rows; ++r) {
      double sum = 0;
      for (int64_t c = 0; c < w.cols; ++c) {
        sum += static_cast<double>(w.dequantized[r * w.cols + c]) * x[t * w.cols + c];
      }
      y[t * w.rows + r] = static_cast<float>(sum);
    }
  }
  return y;
}

// Bounds. SIMD vs scalar: quantized types read the same quantized activations, so only float
// summation order differs; AVX-512 BF16 rounds the activations to bf16 (relative 2^-9 per
// product), which the scalar reference does not. Scalar vs double: the activation quantization
// error (8-bit, per 32 or 256 values) dominates for quantized types.
double SimdBound(DType t, Isa isa) {
  if (t == DType::kBF16 && isa == Isa::kAvx512) return 2e-5;
  return IsQuantized(t) ? 1e-9 : 1e-9;
}

// Per call, a few outputs can have a small norm by chance, so the per-call bound is loose (it
// still catches a wrong scale or sign, NMSE ~1); the bound over all calls of a type is tight.
double ReferenceBoundPerCall(DType t) { return IsQuantized(t) ? 5e-3 : 1e-12; }
double ReferenceBoundOverall(DType t) {
  switch (t) {
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_1:
    case DType::kQ5_0:
    case DType::kQ5_1:
    case DType::kIQ4_NL:
    case DType::kMXFP4:
      return 1e-4;  // Q8_0 activations, 32 per scale
    case DType::kQ4_K:
    case DType::kQ6_K:
    case DType::kQ2_K:
    case DType::kQ3_K:
    case DType::kQ5_K:
    case DType::kIQ4_XS:
      return 2e-4;  // Q8_K activations, 256 per scale
    default:
      return 1e-12;
  }
}

struct Shape {
  int64_t rows, cols;
};

std::vector<Shape> ShapesFor(DType t) {
  std::vector<Shape> shapes = {{1, 256}, {37, 512}, {70, 256}, {19, 768}};
  if (DTypeBlockElements(t) <= 32) shapes.push_back({23, 96});
  if (DTypeBlockElements(t) <= 32) shapes.push_back({16, 32});
  if (!IsQuantized(t)) shapes.push_back({9, 45});  // float types take any cols
  return shapes;
}

class MatMulParity : public ::testing::TestWithParam<DType> {};

TEST_P(MatMulParity, EveryIsaMatchesScalar) {
  const DType t = GetParam();
  ThreadPool pool1(1), pool3(3);
  double worst_simd = 0, ref_num = 0, ref_den = 0;
  uint64_t seed = 100;
  for (const Shape& s : ShapesFor(t)) {
    const Weights w = MakeWeights(t, s.rows, s.cols, ++seed);
    for (int64_t n_tokens : {1, 2, 3, 7, 16, 33}) {
      const std::vector<float> x =
          parity::RandomVector(static_cast<size_t>(n_tokens * s.cols), ++seed);
      const std::vector<float> ref = RunMatMul(w, x, n_tokens, Isa::kScalar, nullptr);
      const std::vector<float> exact = DoubleReference(w, x, n_tokens);
      EXPECT_LE(parity::Nmse(exact.data(), ref.data(), ref.size()), ReferenceBoundPerCall(t))
          << s.rows << "x" << s.cols << " tokens " << n_tokens;
      for (size_t i = 0; i < ref.size(); ++i) {
        ref_num +=
            (static_cast<double>(ref[i]) - exact[i]) * (static_cast<double>(ref[i]) - exact[i]);
        ref_den += static_cast<double>(exact[i]) * exact[i];
      }
      for (Isa isa : AvailableIsas()) {
        const std::vector<float> y1 = RunMatMul(w, x, n_tokens, isa, &pool1);
        const std::vector<float> y3 = RunMatMul(w, x, n_tokens, isa, &pool3);
        const double err = parity::Nmse(ref.data(), y1.data(), ref.size());
        worst_simd = std::max(worst_simd, err);
        EXPECT_LE(err, SimdBound(t, isa))
            << IsaName(isa) << " " << s.rows << "x" << s.cols << " tokens " << n_tokens;
        // Each output is computed by one thread in a fixed order: thread count never changes it.
        EXPECT_EQ(y1, y3) << IsaName(isa) << " " << s.rows << "x" << s.cols << " tokens "
                          << n_tokens;
      }
    }
  }
  const double ref_nmse = ref_num / ref_den;
  EXPECT_LE(ref_nmse, ReferenceBoundOverall(t));
  std::printf(
      "[          ] %-5s NMSE: simd vs scalar (worst call) %.3g, scalar vs double (all) %.3g\n",
      DTypeName(t), worst_simd, ref_nmse);
}

// Zero activation blocks, zero weight rows and large magnitudes must not produce NaN or bias.
TEST_P(MatMulParity, ZerosAndLargeValues) {
  const DType t = GetParam();
  const int64_t rows = 9, cols = 512, n_tokens = 5;
  Weights w = MakeWeights(t, rows, cols, 5);
  std::vector<float> x = parity::RandomVector(static_cast<size_t>(n_tokens * cols), 6, 1000.0f);
  for (int64_t c = 0; c < cols; ++c) x[c] = 0;            // token 0 all zero
  for (int64_t c = 0; c < 256; ++c) x[2 * cols + c] = 0;  // half of token 2 zero
  const std::vector<float> ref = RunMatMul(w, x, n_tokens, Isa::kScalar, nullptr);
  for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(ref[r], 0.0f);
  for (Isa isa : AvailableIsas()) {
    const std::vector<float> y = RunMatMul(w, x, n_tokens, isa, nullptr);
    for (float v : y) ASSERT_TRUE(std::isfinite(v)) << IsaName(isa);
    for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(y[r], 0.0f) << IsaName(isa);
    EXPECT_LE(parity::Nmse(ref.data(), y.data(), ref.size()), SimdBound(t, isa)) << IsaName(isa);
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatMulParity, ::testing::ValuesIn(kAllTypes),
                         [](const ::testing::TestParamInfo<DType>& info) {
                           return std::string(DTypeName(info.param));
                         });

TEST(MatMulGroupTest, EqualsSeparateCallsBitwise) {
  // Q4_K and Q6_K share Q8_K activations (one group); Q4_0 and F32 start new groups.
  const int64_t cols = 512;
  const DType types[] = {DType::kQ4_K, DType::kQ6_K, DType::kQ4_0, DType::kF32};
  const int64_t rows[] = {48, 33, 64, 17};
  std::vector<std::vector<uint8_t>> weights;
  std::vector<WeightView> views;
  for (int i = 0; i < 4; ++i) {
    auto f = parity::RandomVector(rows[i] * cols, 100 + i);
    std::vector<uint8_t> bytes(DTypeRowBytes(types[i], cols) * rows[i]);
    for (int64_t r = 0; r < rows[i]; ++r) {
      QuantizeRow(types[i], f.data() + r * cols, bytes.data() + r * DTypeRowBytes(types[i], cols),
                  cols);
    }
    weights.push_back(std::move(bytes));
  }
  for (int i = 0; i < 4; ++i) {
    views.push_back({.type = types[i], .data = weights[i].data(), .rows = rows[i], .cols = cols});
  }
  ThreadPool pool(3);
  for (Isa isa : AvailableIsas()) {
    for (int64_t n_tokens : {1, 9}) {
      const auto x = parity::RandomVector(n_tokens * cols, 7);
      std::vector<std::vector<float>> separate(4), grouped(4);
      std::vector<float*> outs;
      for (int i = 0; i < 4; ++i) {
        separate[i].resize(n_tokens * rows[i]);
        grouped[i].resize(n_tokens * rows[i]);
        MatMul(views[i], x.data(), n_tokens, separate[i].data(), &pool, isa);
        outs.push_back(grouped[i].data());
      }
      MatMulGroup(views, x.data(), n_tokens, outs, &pool, isa);
      for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(separate[i], grouped[i])
            << IsaName(isa) << " weight " << i << " tokens " << n_tokens;
      }
    }
  }
}

// The packed layouts (AVX-512 VNNI): against the scalar reference on the row-major bytes,
// thread-count independent, and bit-identical per token whatever the call's token count.
struct Packed {
  Weights w;
  std::vector<uint8_t> storage;
  uint8_t* packed = nullptr;

  Packed(DType t, int64_t rows, int64_t cols, uint64_t seed)
      : w(MakeWeights(t, rows, cols, seed)), storage(PackedBytes(t, rows, cols) + 64) {
    const auto addr = reinterpret_cast<uintptr_t>(storage.data());
    packed = storage.data() + (64 - addr % 64) % 64;
    PackWeights(t, w.bytes.data(), rows, cols, packed);
  }
  WeightView View() const {
    WeightView v = w.View();
    v.packed = packed;
    return v;
  }
};

TEST(PackedWeightsTest, Shapes) {
  for (DType t : {DType::kQ8_0, DType::kQ5_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K,
                  DType::kIQ4_XS, DType::kQ3_K, DType::kQ2_K, DType::kQ5_1, DType::kQ4_1,
                  DType::kMXFP4, DType::kF16, DType::kF32}) {
    const int64_t block = DTypeBlockElements(t);
    EXPECT_TRUE(CanPack(t, 16, block));
    EXPECT_TRUE(CanPack(t, 49152, 2048));
    EXPECT_FALSE(CanPack(t, 24, block));              // rows not whole groups of 16
    if (block > 1) EXPECT_FALSE(CanPack(t, 16, block + block / 2));  // cols not whole blocks
    EXPECT_FALSE(CanPack(t, 0, block));
    EXPECT_FALSE(PackedSupported(t, Isa::kScalar));
  }
  // AVX2 reads the K-quant layouts as 8-row halves; packed Q8_0 is AVX-512 only.
  EXPECT_FALSE(PackedSupported(DType::kQ8_0, Isa::kAvx2));
  EXPECT_FALSE(CanPack(DType::kIQ4_NL, 16, 256));
  EXPECT_FALSE(PackedSupported(DType::kBF16, Isa::kAvx512));
  EXPECT_EQ(PackedBytes(DType::kQ8_0, 32, 64), size_t{2 * 2 * 576});
  EXPECT_EQ(PackedBytes(DType::kQ4_K, 32, 512), size_t{2 * 2 * 2368});
  EXPECT_EQ(PackedBytes(DType::kQ6_K, 32, 512), size_t{2 * 2 * 3392});
  EXPECT_EQ(PackedBytes(DType::kQ3_K, 32, 512), size_t{2 * 2 * 1856});
  EXPECT_EQ(PackedBytes(DType::kQ2_K, 32, 512), size_t{2 * 2 * 16 * sizeof(BlockQ2_K)});
  EXPECT_EQ(PackedBytes(DType::kQ5_1, 32, 64), size_t{2 * 2 * 16 * sizeof(BlockQ5_1)});
  EXPECT_EQ(PackedBytes(DType::kQ4_1, 32, 64), size_t{2 * 2 * 16 * sizeof(BlockQ4_1)});
}

TEST(PackedWeightsTest, Q8_0Layout) {
  // Row 17 (group 1, row 1), block 1, column 32 + 4k + e sits in chunk k at byte 4 * 1 + e.
  const Packed p(DType::kQ8_0, 32, 64, 3);
  const auto* blocks = reinterpret_cast<const uint8_t*>(p.w.bytes.data());
  const int64_t row_bytes = DTypeRowBytes(DType::kQ8_0, 64);
  const uint8_t* block = p.packed + (1 * 2 + 1) * 576;
  float d;
  uint16_t d16;
  std::memcpy(&d, block + 4 * 1, 4);
  std::memcpy(&d16, blocks + 17 * row_bytes + 34, 2);
  EXPECT_EQ(d, F16ToF32(d16));
  for (int k = 0; k < 8; ++k) {
    for (int e = 0; e < 4; ++e) {
      const auto code = static_cast<int8_t>(blocks[17 * row_bytes + 34 + 2 + 4 * k + e]);
      EXPECT_EQ(block[64 + 64 * k + 4 * 1 + e], static_cast<uint8_t>(code + 128));
    }
  }
}

TEST(PackedWeightsTest, Q4_KLayout) {
  // Row 18 (group 1, row 2), super-block 1.
  const Packed p(DType::kQ4_K, 32, 512, 4);
  const auto* row = reinterpret_cast<const BlockQ4_K*>(p.w.bytes.data() +
                                                       18 * DTypeRowBytes(DType::kQ4_K, 512));
  const BlockQ4_K& blk = row[1];
  const uint8_t* group = p.packed + (1 * 2 + 1) * kPackedQ4_KBlockBytes;
  for (int c = 0; c < 4; ++c) {
    for (int k = 0; k < 8; ++k) {
      for (int e = 0; e < 4; ++e) {
        EXPECT_EQ(group[512 * c + 64 * k + 4 * 2 + e], blk.qs[32 * c + 4 * k + e]);
      }
    }
  }
  uint16_t d, dmin;
  std::memcpy(&d, group + 2048 + 2 * 2, 2);
  std::memcpy(&dmin, group + 2080 + 2 * 2, 2);
  EXPECT_EQ(d, blk.d);
  EXPECT_EQ(dmin, blk.dmin);
  for (int s = 0; s < 8; ++s) {
    uint8_t sc, m;
    UnpackQ4KScale(blk.scales, s, &sc, &m);
    EXPECT_EQ(group[2112 + 16 * s + 2], sc) << s;
    EXPECT_EQ(group[2240 + 32 * (s / 2) + 2 * 2 + s % 2], m) << s;
  }
}

TEST(PackedWeightsTest, Q6_KLayout) {
  // Row 5 (group 0), super-block 1: every code rebuilt from its two planes equals the value's
  // dequantization divided by d * scale, plus 32.
  const Packed p(DType::kQ6_K, 16, 512, 6);
  const int64_t row_bytes = DTypeRowBytes(DType::kQ6_K, 512);
  const auto& blk = reinterpret_cast<const BlockQ6_K*>(p.w.bytes.data() + 5 * row_bytes)[1];
  std::vector<float> values(512);
  DequantizeRow(DType::kQ6_K, p.w.bytes.data() + 5 * row_bytes, values.data(), 512);
  const uint8_t* group = p.packed + kPackedQ6_KBlockBytes;
  uint16_t d;
  std::memcpy(&d, group + 3328 + 2 * 5, 2);
  EXPECT_EQ(d, blk.d);
  for (int sb = 0; sb < 16; ++sb) {
    const auto scale = static_cast<int8_t>(group[3072 + 32 * (sb / 2) + 2 * 5 + sb % 2]);
    EXPECT_EQ(scale, blk.scales[sb]);
    for (int k = 0; k < 4; ++k) {
      for (int e = 0; e < 4; ++e) {
        const uint8_t lo = group[128 * sb + 64 * (k / 2) + 4 * 5 + e] >> (4 * (k % 2)) & 15;
        const uint8_t hi = group[2048 + 64 * sb + 4 * 5 + e] >> (2 * k) & 3;
        const int q = (lo | hi << 4) - 32;
        EXPECT_EQ(values[256 + 16 * sb + 4 * k + e], F16ToF32(blk.d) * scale * q) << sb << k << e;
      }
    }
  }
}

TEST(PackedWeightsTest, Q3_KAndQ2_KLayouts) {
  // Row 9 (group 0), super-block 1: every value rebuilt from the packed planes, scales and d
  // (and Q2_K's mins and dmin) equals its dequantization.
  for (DType t : {DType::kQ3_K, DType::kQ2_K}) {
    const bool q3 = t == DType::kQ3_K;
    const Packed p(t, 16, 512, 7);
    const int64_t row_bytes = DTypeRowBytes(t, 512);
    std::vector<float> values(512);
    DequantizeRow(t, p.w.bytes.data() + 9 * row_bytes, values.data(), 512);
    const uint8_t* group = p.packed + (q3 ? kPackedQ3_KBlockBytes : kPackedQ2_KBlockBytes);
    const int64_t scales_at = q3 ? 1536 : 1024;
    uint16_t d, dmin;
    std::memcpy(&d, group + scales_at + 256 + 2 * 9, 2);
    std::memcpy(&dmin, group + scales_at + 288 + 2 * 9, 2);
    for (int sb = 0; sb < 16; ++sb) {
      const uint8_t sc = group[scales_at + 32 * (sb / 2) + 2 * 9 + sb % 2];
      for (int k = 0; k < 4; ++k) {
        for (int e = 0; e < 4; ++e) {
          int code = group[64 * sb + 4 * 9 + e] >> (2 * k) & 3;
          float expect;
          if (q3) {
            code |= (group[1024 + 64 * (sb / 2) + 4 * 9 + e] >> (4 * (sb % 2) + k) & 1) << 2;
            expect = F16ToF32(d) * static_cast<float>(static_cast<int8_t>(sc)) *
                     static_cast<float>(code - 4);
          } else {
            expect = F16ToF32(d) * static_cast<float>(sc & 15) * static_cast<float>(code) -
                     F16ToF32(dmin) * static_cast<float>(sc >> 4);
          }
          EXPECT_EQ(values[256 + 16 * sb + 4 * k + e], expect)
              << DTypeName(t) << " " << sb << " " << k << " " << e;
        }
      }
    }
  }
}

TEST(PackedWeightsTest, MXFP4ScalesAreExactBf16) {
  // Row r's exponent e = kExps[r]: 2^(e - 128), subnormal floats for e < 2, must survive as bf16.
  constexpr uint8_t kExps[16] = {0,   1,   2,   3,   64,  100, 126, 127,
                                 128, 129, 130, 140, 160, 200, 250, 254};
  std::vector<BlockMXFP4> blocks(16);
  for (int r = 0; r < 16; ++r) {
    blocks[r].e = kExps[r];
    std::fill(std::begin(blocks[r].qs), std::end(blocks[r].qs), uint8_t{0x11});  // value 1 x scale
  }
  std::vector<uint8_t> packed(PackedBytes(DType::kMXFP4, 16, 32));
  PackWeights(DType::kMXFP4, blocks.data(), 16, 32, packed.data());
  for (int r = 0; r < 16; ++r) {
    float y[32];
    DequantizeRow(DType::kMXFP4, &blocks[r], y, 32);
    uint16_t bf16;
    std::memcpy(&bf16, packed.data() + 256 + 2 * r, 2);
    const uint32_t bits = static_cast<uint32_t>(bf16) << 16;
    float scale;
    std::memcpy(&scale, &bits, sizeof(scale));
    EXPECT_EQ(scale, y[0]) << "e " << int{kExps[r]};
    EXPECT_GT(scale, 0.0f) << "e " << int{kExps[r]};
  }
}

class PackedParity : public ::testing::TestWithParam<DType> {};

// The ISAs with a packed kernel for t on this CPU.
std::vector<Isa> PackedIsas(DType t) {
  std::vector<Isa> isas;
  for (Isa isa : AvailableIsas()) {
    if (PackedSupported(t, isa)) isas.push_back(isa);
  }
  return isas;
}

TEST_P(PackedParity, MatchesScalarAndIsBatchInvariant) {
  const DType t = GetParam();
  if (PackedIsas(t).empty()) {
    GTEST_SKIP() << "no packed kernel for " << DTypeName(t) << " on this CPU";
  }
  const int64_t block = DTypeBlockElements(t);
  ThreadPool pool1(1), pool3(3);
  uint64_t seed = 500;
  for (const Shape s : {Shape{16, block}, Shape{48, 8 * block}, Shape{64, 3 * block},
                        Shape{32, 2048}}) {
    const Packed p(t, s.rows, s.cols, ++seed);
    const auto x = parity::RandomVector(static_cast<size_t>(40 * s.cols), ++seed);
    for (Isa isa : PackedIsas(t)) {
      std::vector<float> alone(static_cast<size_t>(40 * s.rows));
      for (int64_t i = 0; i < 40; ++i) {
        MatMul(p.View(), x.data() + i * s.cols, 1, alone.data() + i * s.rows, &pool1, isa);
      }
      for (int64_t n : {1, 2, 3, 4, 5, 7, 8, 9, 16, 33, 40}) {
        std::vector<float> ref(static_cast<size_t>(n * s.rows)), y1(ref.size()), y3(ref.size());
        MatMul(p.w.View(), x.data(), n, ref.data(), nullptr, Isa::kScalar);
        MatMul(p.View(), x.data(), n, y1.data(), &pool1, isa);
        MatMul(p.View(), x.data(), n, y3.data(), &pool3, isa);
        EXPECT_LE(parity::Nmse(ref.data(), y1.data(), ref.size()), 1e-9)
            << IsaName(isa) << " " << s.rows << "x" << s.cols << " tokens " << n;
        EXPECT_EQ(y1, y3) << IsaName(isa) << " " << s.rows << "x" << s.cols << " tokens " << n;
        EXPECT_TRUE(std::equal(y1.begin(), y1.end(), alone.begin()))
            << "a token's result depends on the batch: " << IsaName(isa) << " " << s.rows << "x"
            << s.cols << " tokens " << n;
      }
    }
  }
}

TEST_P(PackedParity, ZerosAndLargeValues) {
  const DType t = GetParam();
  if (PackedIsas(t).empty()) {
    GTEST_SKIP() << "no packed kernel for " << DTypeName(t) << " on this CPU";
  }
  const int64_t rows = 32, cols = 512, n_tokens = 5;
  const Packed p(t, rows, cols, 5);
  std::vector<float> x = parity::RandomVector(static_cast<size_t>(n_tokens * cols), 6, 1000.0f);
  for (int64_t c = 0; c < cols; ++c) x[c] = 0;
  for (int64_t c = 0; c < 256; ++c) x[2 * cols + c] = 0;
  std::vector<float> ref(n_tokens * rows), y(n_tokens * rows);
  MatMul(p.w.View(), x.data(), n_tokens, ref.data(), nullptr, Isa::kScalar);
  for (Isa isa : PackedIsas(t)) {
    MatMul(p.View(), x.data(), n_tokens, y.data(), nullptr, isa);
    for (float v : y) ASSERT_TRUE(std::isfinite(v)) << IsaName(isa);
    for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(y[r], 0.0f) << IsaName(isa);
    EXPECT_LE(parity::Nmse(ref.data(), y.data(), ref.size()), 1e-9) << IsaName(isa);
  }
}

INSTANTIATE_TEST_SUITE_P(PackedTypes, PackedParity,
                         ::testing::Values(DType::kQ8_0, DType::kQ5_0, DType::kQ4_K, DType::kQ5_K,
                                           DType::kQ6_K, DType::kIQ4_XS, DType::kQ3_K, DType::kQ2_K,
                                           DType::kQ5_1, DType::kQ4_1, DType::kMXFP4, DType::kF16,
                                           DType::kF32),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

TEST(MatMulTest, ZeroColsGivesZeros) {
  std::vector<float> y(6, 1.0f);
  const float x = 0;
  MatMul({DType::kF32, &x, 3, 0}, &x, 2, y.data(), nullptr);
  for (float v : y) EXPECT_EQ(v, 0.0f);
}

}  // namespace
}  // namespace mint::kernels
