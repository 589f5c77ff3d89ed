// Perf mode of the MatMul parity harness: every weight type x available Isa x thread count, for
// decode (1 token) and prefill (512 tokens) shapes of small llama/qwen models. Benchmarks are
// registered at run time because the Isa list depends on the CPU.
//
//   matmul_bench --benchmark_filter='decode/Q4_K' --benchmark_repetitions=5
//
// Counters: decode reports GB/s of weight bytes streamed (decode is bandwidth bound); prefill
// reports GFLOP/s counting 2 * rows * cols * tokens. Decode runs two ways: "hot" reuses one
// weight matrix (it stays in L2/L3, so this measures the kernel), "cold" cycles through copies
// totalling > 2x the L3 size (this measures what a real model, far larger than the cache, sees).
// best_GB/s and best_GFLOP/s come from the fastest single call, which on a shared, noisy machine
// is the closest to the kernel's real speed; GB/s and GFLOP/s are means over all calls.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernels.h"

namespace mint::kernels {
namespace {

constexpr int64_t kColdBytes = int64_t{96} << 20;  // > 2x a 32 MiB L3

std::vector<float> Random(size_t n, uint64_t seed, float stddev) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// The matrix of the last (type, shape) asked for, kept: consecutive cases of one type and shape
// (ISAs, thread counts, layouts) share it, and quantizing a 4096 x 14336 IQ4_XS matrix takes
// minutes.
const std::vector<uint8_t>& QuantizedMatrix(DType t, int64_t rows, int64_t cols) {
  static DType last_type = DType::kF32;
  static int64_t last_rows = -1, last_cols = -1;
  static std::vector<uint8_t> bytes;
  if (t == last_type && rows == last_rows && cols == last_cols) return bytes;
  last_type = t;
  last_rows = rows;
  last_cols = cols;
  const int64_t row_bytes = DTypeRowBytes(t, cols);
  bytes.assign(static_cast<size_t>(rows * row_bytes), 0);
  if (!HasQuantizer(t)) {  // random bytes: the integer kernels' speed does not depend on values
    std::mt19937_64 rng(7);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    return bytes;
  }
  const auto src = Random(static_cast<size_t>(cols), 7, 0.05f);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c)
      row[c] = src[(c + r * 31) % cols] * (1.0f + 0.001f * (r % 13));
    QuantizeRow(t, row.data(), bytes.data() + r * row_bytes, cols);
  }
  return bytes;
}

struct Case {
  DType type;
  Isa isa;
  int64_t rows, cols, tokens;
  int threads;
  bool cold;
  bool packed;  // the load-time layout of PackWeights, as the model uses it
};

// 64-byte aligned storage.
struct Aligned {
  std::vector<uint8_t> bytes;
  uint8_t* data = nullptr;
  explicit Aligned(size_t n) : bytes(n + 64) {
    const auto addr = reinterpret_cast<uintptr_t>(bytes.data());
    data = bytes.data() + (64 - addr % 64) % 64;
  }
};

void BmMatMul(benchmark::State& state, Case c) {
  const int64_t weight_bytes = c.rows * DTypeRowBytes(c.type, c.cols);
  const std::vector<uint8_t>& one = QuantizedMatrix(c.type, c.rows, c.cols);
  const int64_t copies = c.cold ? std::max<int64_t>(2, kColdBytes / weight_bytes) : 1;
  std::vector<uint8_t> weights(static_cast<size_t>(copies * weight_bytes));
  for (int64_t k = 0; k < copies; ++k)
    std::copy(one.begin(), one.end(), weights.begin() + k * weight_bytes);
  const auto packed_bytes =
      c.packed ? static_cast<int64_t>((PackedBytes(c.type, c.rows, c.cols) + 63) / 64 * 64) : 0;
  Aligned packed(static_cast<size_t>(copies * packed_bytes));
  for (int64_t k = 0; c.packed && k < copies; ++k) {
    PackWeights(c.type, weights.data() + k * weight_bytes, c.rows, c.cols,
                packed.data + k * packed_bytes);
  }
  const auto x = Random(static_cast<size_t>(c.tokens * c.cols), 3, 1.0f);
  std::vector<float> y(static_cast<size_t>(c.tokens * c.rows));
  ThreadPool pool(c.threads);
  int64_t k = 0;
  double best_seconds = 1e30;
  for (auto _ : state) {
    WeightView w{c.type, weights.data() + k * weight_bytes, c.rows, c.cols};
    if (c.packed) w.packed = packed.data + k * packed_bytes;
    const auto start = std::chrono::steady_clock::now();
    MatMul(w, x.data(), c.tokens, y.data(), &pool, c.isa);
    benchmark::DoNotOptimize(y.data());
    best_seconds =
        std::min(best_seconds,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    k = (k + 1) % copies;
  }
  const double iters = static_cast<double>(state.iterations());
  const double flops = 2.0 * static_cast<double>(c.rows * c.cols * c.tokens);
  state.counters["GB/s"] = benchmark::Counter(iters * static_cast<double>(weight_bytes) * 1e-9,
                                              benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(iters * flops * 1e-9, benchmark::Counter::kIsRate);
  // The fastest single call: on a shared machine, the one least disturbed by other processes.
  state.counters["best_GB/s"] = static_cast<double>(weight_bytes) * 1e-9 / best_seconds;
  state.counters["best_GFLOP/s"] = flops * 1e-9 / best_seconds;
}

void RegisterAll() {
  const DType types[] = {DType::kQ4_0,  DType::kQ4_1, DType::kQ5_0,   DType::kQ5_1,
                         DType::kQ8_0,  DType::kQ2_K, DType::kQ3_K,   DType::kQ4_K,
                         DType::kQ5_K,  DType::kQ6_K, DType::kIQ4_NL, DType::kIQ4_XS,
                         DType::kMXFP4, DType::kF16,  DType::kBF16,   DType::kF32};
  struct Shape {
    int64_t rows, cols;
  };
  // qwen2-0.5B ffn (4864x896, 896x4864), smollm-135M-like (576x1536, 1536x576), llama-3.2-1B ffn
  // (8192x2048, 2048x8192) and llama-3.1-8B ffn_down (4096x14336: the shape of ggml's
  // `test-backend-ops perf -o MUL_MAT` cases, m 4096, k 14336, so the two can be compared).
  const Shape decode_shapes[] = {{576, 1536},  {1536, 576},  {4864, 896},  {896, 4864},
                                 {8192, 2048}, {2048, 8192}, {4096, 14336}};
  const Shape prefill_shapes[] = {
      {4864, 896}, {896, 4864}, {8192, 2048}, {2048, 8192}, {4096, 14336}};
  for (DType t : types) {
    for (Isa isa : AvailableIsas()) {
      for (int threads : {1, 2}) {
        for (bool packed : {false, true}) {
          if (packed && !PackedSupported(t, isa)) continue;
          auto add = [&](const char* mode, Shape s, int64_t tokens, bool cold) {
            if (s.cols % DTypeBlockElements(t) != 0 || (packed && !CanPack(t, s.rows, s.cols))) {
              return;
            }
            const std::string name = std::string(mode) + "/" + DTypeName(t) + "/" + IsaName(isa) +
                                     (packed ? "-packed" : "") + "/" + std::to_string(s.rows) +
                                     "x" + std::to_string(s.cols) +
                                     "/threads:" + std::to_string(threads);
            const Case c{t, isa, s.rows, s.cols, tokens, threads, cold, packed};
            benchmark::RegisterBenchmark(name.c_str(), BmMatMul, c)
                ->UseRealTime()
                ->Unit(benchmark::kMicrosecond)
                // With --benchmark_repetitions, "_best" holds the highest rate of any repetition:
                // on a shared machine the best run is the one least disturbed.
                ->ComputeStatistics("best", [](const std::vector<double>& v) {
                  return *std::max_element(v.begin(), v.end());
                });
          };
          for (const Shape& s : decode_shapes) add("decode", s, 1, false);
          for (const Shape& s : decode_shapes) add("decode_cold", s, 1, true);
          if (isa != Isa::kScalar) {
            for (const Shape& s : prefill_shapes) add("prefill512", s, 512, false);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace mint::kernels

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  mint::kernels::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
