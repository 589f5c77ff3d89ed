// Paged attention: every ISA and every cache type against a double-precision reference over the
// unpaged data, plus batch invariance (a sequence's rows do not depend on its batch neighbours).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/kernels.h"
#include "parity.h"

namespace mint::kernels {
namespace {

using parity::Nmse;
using parity::RandomVector;

constexpr int64_t kHead = 8, kKvHead = 2, kHd = 64, kBlock = 16, kNumBlocks = 24;
constexpr int64_t kKvDim = kKvHead * kHd;

struct SeqData {
  int64_t pos0, n_tokens;
  std::vector<int32_t> table;
  std::vector<float> k, v;  // every position [0, pos0 + n_tokens), kKvDim floats each
  std::vector<float> q;     // n_tokens rows of kHead * kHd
};

struct Cache {
  PagedKv kv;
  std::vector<uint8_t> k, v;
};

Cache MakeCache(DType type) {
  Cache c;
  c.kv.type = type;
  c.kv.block_size = kBlock;
  c.kv.row_bytes = static_cast<int64_t>(DTypeRowBytes(type, kHd));
  c.kv.head_stride = kBlock * c.kv.row_bytes;
  c.kv.block_stride = kKvHead * c.kv.head_stride;
  c.k.assign(kNumBlocks * c.kv.block_stride, 0xFF);
  c.v.assign(kNumBlocks * c.kv.block_stride, 0xFF);
  c.kv.k = c.k.data();
  c.kv.v = c.v.data();
  return c;
}

std::vector<SeqData> MakeSeqs(uint64_t seed) {
  std::vector<int32_t> ids(kNumBlocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::mt19937 rng(seed);
  std::shuffle(ids.begin(), ids.end(), rng);
  std::vector<SeqData> seqs = {{0, 5, {}, {}, {}, {}}, {37, 1, {}, {}, {}, {}},
                               {20, 13, {}, {}, {}, {}}, {64, 3, {}, {}, {}, {}}};
  size_t next = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    SeqData& s = seqs[i];
    const int64_t n_pos = s.pos0 + s.n_tokens;
    for (int64_t b = 0; b * kBlock < n_pos; ++b) s.table.push_back(ids[next++]);
    s.k = RandomVector(n_pos * kKvDim, seed * 10 + i, 1.5f);
    s.v = RandomVector(n_pos * kKvDim, seed * 10 + i + 100);
    s.q = RandomVector(s.n_tokens * kHead * kHd, seed * 10 + i + 200, 1.5f);
  }
  return seqs;
}

// Writes every position of every sequence into the cache (as one big "prefill" batch).
void Fill(const Cache& c, const std::vector<SeqData>& seqs) {
  for (const SeqData& s : seqs) {
    const PagedSeq all{s.table.data(), s.pos0 + s.n_tokens, 0, 0};
    PagedKvStore(c.kv, {&all, 1}, s.k.data(), s.v.data(), kKvHead, kHd);
  }
}

// Runs attention for `which` sequences batched together; returns their output rows in order.
std::vector<float> RunPaged(const Cache& c, const std::vector<SeqData>& seqs,
                       const std::vector<size_t>& which, Isa isa, ThreadPool* pool) {
  std::vector<PagedSeq> ps;
  std::vector<float> q;
  int64_t row = 0;
  for (size_t i : which) {
    const SeqData& s = seqs[i];
    ps.push_back({s.table.data(), s.n_tokens, s.pos0, row});
    q.insert(q.end(), s.q.begin(), s.q.end());
    row += s.n_tokens;
  }
  AttentionShape shape{.n_head = kHead, .n_kv_head = kKvHead, .head_dim = kHd,
                       .scale = 1.0f / std::sqrt(static_cast<float>(kHd))};
  std::vector<float> out(row * kHead * kHd, NAN);
  PagedAttention(q.data(), c.kv, ps, shape, out.data(), pool, isa);
  return out;
}

std::vector<double> Reference(const std::vector<SeqData>& seqs) {
  std::vector<double> out;
  const double scale = 1.0 / std::sqrt(static_cast<double>(kHd));
  for (const SeqData& s : seqs) {
    for (int64_t t = 0; t < s.n_tokens; ++t) {
      for (int64_t h = 0; h < kHead; ++h) {
        const int64_t g = h / (kHead / kKvHead), n_keys = s.pos0 + t + 1;
        const float* q = s.q.data() + (t * kHead + h) * kHd;
        std::vector<double> p(n_keys);
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < n_keys; ++j) {
          double d = 0;
          for (int64_t e = 0; e < kHd; ++e) d += double(q[e]) * s.k[j * kKvDim + g * kHd + e];
          p[j] = d * scale;
          mx = std::max(mx, p[j]);
        }
        for (double& x : p) sum += (x = std::exp(x - mx));
        for (int64_t e = 0; e < kHd; ++e) {
          double acc = 0;
          for (int64_t j = 0; j < n_keys; ++j) acc += p[j] * s.v[j * kKvDim + g * kHd + e];
          out.push_back(acc / sum);
        }
      }
    }
  }
  return out;
}

double NmseVsRef(const std::vector<double>& ref, const std::vector<float>& got) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return num / den;
}

TEST(PagedAttention, EveryIsaAndCacheTypeMatchesReference) {
  const auto seqs = MakeSeqs(3);
  const auto ref = Reference(seqs);
  const std::vector<size_t> all = {0, 1, 2, 3};
  const std::pair<DType, double> types[] = {
      {DType::kF32, 1e-10}, {DType::kF16, 1e-6}, {DType::kBF16, 1e-4}, {DType::kQ8_0, 1e-4}};
  ThreadPool pool(2);
  for (const auto& [type, bound] : types) {
    const Cache c = MakeCache(type);
    Fill(c, seqs);
    for (Isa isa : AvailableIsas()) {
      for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
        const auto got = RunPaged(c, seqs, all, isa, p);
        ASSERT_EQ(got.size(), ref.size());
        EXPECT_LT(NmseVsRef(ref, got), bound)
            << DTypeName(type) << " " << IsaName(isa) << (p ? " pooled" : "");
      }
    }
  }
}

TEST(PagedAttention, RowsDoNotDependOnBatchNeighbours) {
  const auto seqs = MakeSeqs(5);
  ThreadPool pool(2);
  for (DType type : {DType::kF32, DType::kF16}) {
    const Cache c = MakeCache(type);
    Fill(c, seqs);
    for (Isa isa : AvailableIsas()) {
      const auto batched = RunPaged(c, seqs, {0, 1, 2, 3}, isa, &pool);
      int64_t row = 0;
      for (size_t i = 0; i < seqs.size(); ++i) {
        const auto alone = RunPaged(c, seqs, {i}, isa, nullptr);
        const size_t n = alone.size();
        EXPECT_TRUE(std::equal(alone.begin(), alone.end(), batched.begin() + row))
            << "sequence " << i << " " << IsaName(isa) << " " << DTypeName(type);
        row += static_cast<int64_t>(n);
      }
    }
  }
}

TEST(PagedAttention, PrefillRowsEqualTokenByTokenRows) {
  // A prefill's consecutive tokens share work items (each K/V block read once for all of them);
  // each token's row must still be bit-identical to the token attended alone (a decode step), so
  // a sequence's output does not depend on how its prompt was chunked. Prompts that start at,
  // inside and across cache-block boundaries.
  auto seqs = MakeSeqs(11);
  ThreadPool pool(2);
  for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    const Cache c = MakeCache(type);
    Fill(c, seqs);
    for (Isa isa : AvailableIsas()) {
      // One thread groups 4 tokens per item wherever a sequence has 2 groups (2 kv heads x 2 >=
      // 4 items per thread); two threads where it has 4.
      for (auto [i, p] :
           {std::pair<size_t, ThreadPool*>{0, nullptr}, {2, nullptr}, {2, &pool}, {3, nullptr}}) {
        const SeqData& s = seqs[i];
        const auto prefill = RunPaged(c, seqs, {i}, isa, p);
        const int64_t row_floats = kHead * kHd;
        for (int64_t t = 0; t < s.n_tokens; ++t) {
          std::vector<SeqData> one = {s};
          one[0].pos0 = s.pos0 + t;
          one[0].n_tokens = 1;
          one[0].q.assign(s.q.begin() + t * row_floats, s.q.begin() + (t + 1) * row_floats);
          const auto alone = RunPaged(c, one, {0}, isa, nullptr);
          EXPECT_TRUE(std::equal(alone.begin(), alone.end(), prefill.begin() + t * row_floats))
              << "sequence " << i << " token " << t << " " << IsaName(isa) << " "
              << DTypeName(type);
        }
      }
    }
  }
}

TEST(PagedAttention, MatchesContiguousAttentionOnOneSequence) {
  // The paged kernel over an F32 cache and the contiguous kernel agree to rounding.
  const auto seqs = MakeSeqs(9);
  const SeqData& s = seqs[2];
  const Cache c = MakeCache(DType::kF32);
  Fill(c, seqs);
  const auto paged = RunPaged(c, seqs, {2}, Isa::kBest, nullptr);
  AttentionShape shape{.n_tokens = s.n_tokens, .pos0 = s.pos0, .n_head = kHead,
                       .n_kv_head = kKvHead, .head_dim = kHd, .kv_stride = kKvDim,
                       .scale = 1.0f / std::sqrt(static_cast<float>(kHd))};
  std::vector<float> contiguous(paged.size());
  Attention(s.q.data(), s.k.data(), s.v.data(), shape, contiguous.data(), nullptr);
  EXPECT_LT(Nmse(contiguous.data(), paged.data(), paged.size()), 1e-10);
}

}  // namespace
}  // namespace mint::kernels

namespace mint::kernels {
namespace {

// Batch invariance starts here: a token's matmul output should not depend on how many other
// tokens share the call (decode alone vs decode batched vs prefill chunks). The scalar kernels
// guarantee it bit for bit. The SIMD kernels pick register tiles and accumulation schemes by the
// call's token count (Q8_0 groups 8 blocks per FMA for 1-2 tokens, K-quants switch to prepared
// tiles at 4, float tiles split the sum differently), so there only closeness is required; the
// engine's tests rely on the scalar guarantee for exact token equality.
TEST(MatMulBatchInvariance, RowResultsDoNotDependOnTokenCount) {
  const int64_t rows = 96, cols = 256;
  for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_K,
                     DType::kQ6_K}) {
    const auto w_f32 = parity::RandomVector(rows * cols, 11);
    std::vector<uint8_t> w(DTypeRowBytes(type, cols) * rows);
    for (int64_t r = 0; r < rows; ++r) {
      QuantizeRow(type, w_f32.data() + r * cols, w.data() + r * DTypeRowBytes(type, cols), cols);
    }
    const WeightView view{type, w.data(), rows, cols};
    const auto x = parity::RandomVector(64 * cols, 12);
    ThreadPool pool(2);
    for (Isa isa : AvailableIsas()) {
      std::vector<float> ref(64 * rows);
      for (int64_t t = 0; t < 64; ++t) {
        MatMul(view, x.data() + t * cols, 1, ref.data() + t * rows, &pool, isa);
      }
      for (int64_t n : {2, 3, 5, 16, 33, 64}) {
        std::vector<float> y(n * rows);
        MatMul(view, x.data(), n, y.data(), &pool, isa);
        int64_t diff = 0;
        for (int64_t i = 0; i < n * rows; ++i) diff += y[i] != ref[i];
        if (isa == Isa::kScalar) {
          EXPECT_EQ(diff, 0) << DTypeName(type) << " n=" << n;
        } else {
          EXPECT_LT(parity::Nmse(ref.data(), y.data(), static_cast<size_t>(n * rows)), 1e-10)
              << DTypeName(type) << " " << IsaName(isa) << " n=" << n;
        }
      }
    }
  }
}

}  // namespace
}  // namespace mint::kernels

namespace mint::kernels {
namespace {

// The SIMD F32 -> F16 conversion used for KV stores rounds exactly as the scalar reference,
// including halfway cases, subnormals, infinities and values beyond the F16 range.
TEST(ConvertFromF32, SimdF16MatchesScalarBitForBit) {
  std::vector<float> x = parity::RandomVector(1000, 21, 100.0f);
  const float specials[] = {0.0f, -0.0f, 1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 65504.0f, 65520.0f,
                            1e6f, -1e6f, 6e-8f, 3e-5f, INFINITY, -INFINITY, 1e-10f};
  x.insert(x.end(), std::begin(specials), std::end(specials));
  std::vector<uint16_t> ref(x.size());
  for (size_t i = 0; i < x.size(); ++i) ref[i] = F32ToF16(x[i]);
  for (Isa isa : AvailableIsas()) {
    std::vector<uint16_t> got(x.size());
    ConvertFromF32(DType::kF16, x.data(), got.data(), static_cast<int64_t>(x.size()), isa);
    EXPECT_EQ(got, ref) << IsaName(isa);
  }
}

}  // namespace
}  // namespace mint::kernels
