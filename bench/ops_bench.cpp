// Perf mode of the ops parity harness: every elementwise op, rope and attention, per available
// Isa. Benchmarks are registered at run time because the Isa list depends on the CPU.
//
//   ops_bench --benchmark_filter=Attention
//   ops_bench --benchmark_filter=PagedDecode
//
// Attention reports GFLOP/s counting 4 * head_dim flops per (query head, key) pair (q.k and the
// value accumulation, multiply + add each).

#include <benchmark/benchmark.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/memory.h"
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

// One decode step's attention over a paged cache laid out as the engine's KV arena (block-major:
// a block holds every layer's keys and values), n_seqs sequences of n_keys cached positions each,
// blocks of 16, visiting all n_layer layers per iteration. With 30 layers the cache is far larger
// than the last-level cache, as in serving; with 1 it stays cached.
struct PagedBench {
  int64_t n_seqs, n_keys, n_head, n_kv_head, hd, n_layer;
};

void BmPagedDecode(benchmark::State& state, Isa isa, DType type, PagedBench b, int threads) {
  constexpr int64_t kBlock = 16;
  const int64_t row_bytes = DTypeRowBytes(type, b.hd);
  const int64_t half = b.n_kv_head * kBlock * row_bytes;  // one layer's keys of one block
  const int64_t block_bytes = 2 * half * b.n_layer;
  const int64_t blocks_per_seq = (b.n_keys + kBlock - 1) / kBlock;
  const int64_t n_blocks = blocks_per_seq * b.n_seqs;
  const int64_t arena_bytes = block_bytes * n_blocks;
  LargeBuffer arena = AllocateLarge(arena_bytes);  // as the engine's KvArena
  {
    // Random K/V rows in the cache's type.
    const auto src = Random(b.hd, 12);
    for (int64_t off = 0; off + row_bytes <= arena_bytes; off += row_bytes) {
      ConvertFromF32(type, src.data(), arena.get() + off, b.hd, isa);
    }
  }
  std::vector<int32_t> tables(n_blocks);
  for (int64_t i = 0; i < n_blocks; ++i) tables[i] = static_cast<int32_t>(i);
  std::vector<PagedSeq> seqs(b.n_seqs);
  for (int64_t i = 0; i < b.n_seqs; ++i) {
    seqs[i] = {.block_table = tables.data() + i * blocks_per_seq,
               .n_tokens = 1,
               .pos0 = b.n_keys - 1,
               .row0 = i};
  }
  const AttentionShape shape{.n_head = b.n_head,
                             .n_kv_head = b.n_kv_head,
                             .head_dim = b.hd,
                             .scale = 1.0f / std::sqrt(float(b.hd))};
  auto q = Random(b.n_seqs * b.n_head * b.hd, 13);
  std::vector<float> out(q.size());
  std::unique_ptr<ThreadPool> pool = threads > 1 ? std::make_unique<ThreadPool>(threads) : nullptr;
  for (auto _ : state) {
    for (int64_t l = 0; l < b.n_layer; ++l) {
      PagedKv kv{.type = type,
                 .k = arena.get() + l * 2 * half,
                 .v = arena.get() + l * 2 * half + half,
                 .block_size = kBlock,
                 .block_stride = block_bytes,
                 .head_stride = kBlock * row_bytes,
                 .row_bytes = row_bytes};
      PagedAttention(q.data(), kv, seqs, shape, out.data(), pool.get(), isa);
    }
    benchmark::DoNotOptimize(out.data());
  }
  const double kv_bytes = 2.0 * b.n_seqs * b.n_keys * b.n_kv_head * row_bytes * b.n_layer;
  state.SetBytesProcessed(static_cast<int64_t>(kv_bytes * state.iterations()));
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
    for (DType type : {DType::kF16, DType::kQ8_0}) {
      for (int64_t layers : {1, 30}) {
        for (int threads : {1, hw}) {
          if (threads == hw && hw == 1) continue;
          const std::string name = "PagedDecode/" + s + "/" + DTypeName(type) +
                                   "/16x192/h9kv3d64/layers:" + std::to_string(layers) +
                                   "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), BmPagedDecode, isa, type,
                                       PagedBench{16, 192, 9, 3, 64, layers}, threads)
              ->Unit(benchmark::kMicrosecond)
              ->UseRealTime();
        }
      }
    }
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
