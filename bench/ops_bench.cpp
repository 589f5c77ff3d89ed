// Perf mode of the ops parity harness: every elementwise op, rope and attention, per available
// Isa. Benchmarks are registered at run time because the Isa list depends on the CPU.
//
//   ops_bench --benchmark_filter=Attention
//
// Attention reports GFLOP/s counting 4 * head_dim flops per (query head, key) pair (q.k and the
// value accumulation, multiply + add each).

#include <benchmark/benchmark.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernels.h"

namespace mint::kernels {
namespace {

std::vector<float> Random(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

void SetBytes(benchmark::State& state, int64_t bytes_per_iter) {
  state.SetBytesProcessed(state.iterations() * bytes_per_iter);
}

void BmRmsNorm(benchmark::State& state, Isa isa, int64_t n) {
  auto x = Random(n, 1), w = Random(n, 2);
  std::vector<float> y(n);
  for (auto _ : state) {
    RmsNorm(x.data(), w.data(), y.data(), n, 1e-6f, isa);
    benchmark::DoNotOptimize(y.data());
  }
  SetBytes(state, 3 * n * 4);
}

void BmSwiGlu(benchmark::State& state, Isa isa, int64_t n) {
  auto g = Random(n, 3), u = Random(n, 4);
  std::vector<float> o(n);
  for (auto _ : state) {
    SwiGlu(g.data(), u.data(), o.data(), n, isa);
    benchmark::DoNotOptimize(o.data());
  }
  SetBytes(state, 3 * n * 4);
}

void BmSoftmax(benchmark::State& state, Isa isa, int64_t n) {
  const auto x0 = Random(n, 5);
  auto x = x0;
  for (auto _ : state) {
    Softmax(x.data(), n, isa);  // a softmax of a softmax is still a valid input
    benchmark::DoNotOptimize(x.data());
  }
  SetBytes(state, 2 * n * 4);
}

void BmAdd(benchmark::State& state, Isa isa, int64_t n) {
  auto x = Random(n, 6), y = Random(n, 7);
  for (auto _ : state) {
    Add(x.data(), y.data(), n, isa);
    benchmark::DoNotOptimize(y.data());
  }
  SetBytes(state, 3 * n * 4);
}

void BmRope(benchmark::State& state, Isa isa, RopeMode mode, int64_t n_heads, int64_t hd) {
  auto x = Random(n_heads * hd, 8);
  RopeConfig cfg{
      .mode = mode, .head_dim = hd, .theta = 1000000.0f, .freq_scale = 1.0f, .freq_factors = {}};
  int64_t pos = 0;
  for (auto _ : state) {
    Rope(x.data(), n_heads, hd, pos, cfg, isa);
    pos = (pos + 1) & 4095;
    benchmark::DoNotOptimize(x.data());
  }
  SetBytes(state, 2 * n_heads * hd * 4);
}

struct AttnBench {
  int64_t n_tokens, pos0, n_head, n_kv_head, hd;
};

void BmAttention(benchmark::State& state, Isa isa, AttnBench b, int threads) {
  const AttentionShape shape{.n_tokens = b.n_tokens,
                             .pos0 = b.pos0,
                             .n_head = b.n_head,
                             .n_kv_head = b.n_kv_head,
                             .head_dim = b.hd,
                             .kv_stride = b.n_kv_head * b.hd,
                             .scale = 1.0f / std::sqrt(float(b.hd))};
  const int64_t n_pos = b.pos0 + b.n_tokens;
  auto q = Random(b.n_tokens * b.n_head * b.hd, 9);
  auto k = Random(n_pos * shape.kv_stride, 10), v = Random(n_pos * shape.kv_stride, 11);
  std::vector<float> out(q.size());
  std::unique_ptr<ThreadPool> pool = threads > 1 ? std::make_unique<ThreadPool>(threads) : nullptr;
  for (auto _ : state) {
    Attention(q.data(), k.data(), v.data(), shape, out.data(), pool.get(), isa);
    benchmark::DoNotOptimize(out.data());
  }
  // Sum over tokens of keys attended: n_tokens * pos0 + n_tokens * (n_tokens + 1) / 2.
  const double pairs = double(b.n_tokens) * b.pos0 + 0.5 * b.n_tokens * (b.n_tokens + 1);
  const double flops = 4.0 * b.hd * b.n_head * pairs;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * state.iterations() * 1e-9, benchmark::Counter::kIsRate);
}

void RegisterAll() {
  const int hw = ThreadPool::HardwareThreads();
  for (Isa isa : AvailableIsas()) {
    const std::string s = IsaName(isa);
    for (int64_t n : {576, 896, 4096}) {
      benchmark::RegisterBenchmark(("RmsNorm/" + s + "/" + std::to_string(n)).c_str(), BmRmsNorm,
                                   isa, n);
      benchmark::RegisterBenchmark(("Add/" + s + "/" + std::to_string(n)).c_str(), BmAdd, isa, n);
    }
    for (int64_t n : {4864, 11008}) {
      benchmark::RegisterBenchmark(("SwiGlu/" + s + "/" + std::to_string(n)).c_str(), BmSwiGlu, isa,
                                   n);
    }
    for (int64_t n : {512, 2048, 151936}) {
      benchmark::RegisterBenchmark(("Softmax/" + s + "/" + std::to_string(n)).c_str(), BmSoftmax,
                                   isa, n);
    }
    benchmark::RegisterBenchmark(("Rope/" + s + "/interleaved/32x128").c_str(), BmRope, isa,
                                 RopeMode::kInterleaved, 32, 128);
    benchmark::RegisterBenchmark(("Rope/" + s + "/neox/14x64").c_str(), BmRope, isa,
                                 RopeMode::kNeox, 14, 64);

    const struct {
      const char* name;
      AttnBench b;
    } attn[] = {
        {"prefill512/h9kv3d64", {512, 0, 9, 3, 64}},
        {"prefill512/h14kv2d64", {512, 0, 14, 2, 64}},
        {"decode@512/h14kv2d64", {1, 511, 14, 2, 64}},
        {"decode@2048/h14kv2d64", {1, 2047, 14, 2, 64}},
        {"decode@2048/h32kv8d128", {1, 2047, 32, 8, 128}},
    };
    for (const auto& a : attn) {
      for (int threads : {1, hw}) {
        if (threads == hw && hw == 1) continue;
        const std::string name =
            "Attention/" + s + "/" + a.name + "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), BmAttention, isa, a.b, threads)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
  }
}

}  // namespace
}  // namespace mint::kernels

int main(int argc, char** argv) {
  mint::kernels::RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
