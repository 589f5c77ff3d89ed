// Router overhead: decision latency (FindMatches alone, and the whole Router::Route) with 64
// workers and ~1M indexed blocks, p50/p99 from per-iteration times; KV event apply throughput
// (Stored/Removed mix); memory per indexed block (Indexer::MemoryBytes and malloc'd bytes).
//
// The index: shared "system prompt" prefixes (20-100 blocks) continued by private suffixes into
// chains of 50-500 blocks; each chain is stored on 1-2 of the 64 workers (so popular prefixes sit
// on many workers). Requests: a known chain's first 100-500 blocks (cut at the chain's end) plus
// a random tail of 0-50 new blocks, or (1 in 5) an unrelated request.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <memory>
#include <random>
#include <vector>

#include "core/hash.h"
#include "router/indexer.h"
#include "router/router.h"

namespace {

using namespace mint;
using namespace mint::router;

constexpr int kWorkers = 64;
constexpr size_t kTargetBlocks = 1'000'000;

struct Workload {
  std::vector<std::vector<BlockHash>> chains;
  std::vector<WorkerId> owner;   // first holder of each chain
  std::vector<WorkerId> second;  // second holder or kNone
  static constexpr WorkerId kNone = ~WorkerId{0};
};

std::vector<BlockHash> Extend(std::vector<BlockHash> prefix, size_t len, std::mt19937_64& rng) {
  while (prefix.size() < len) {
    prefix.push_back(SequenceBlockHash(prefix.empty() ? 0 : prefix.back(), rng()));
  }
  return prefix;
}

const Workload& GetWorkload() {
  static const Workload* w = [] {
    auto* wl = new Workload;
    std::mt19937_64 rng(2024);
    std::vector<std::vector<BlockHash>> prefixes;
    for (int i = 0; i < 200; ++i) prefixes.push_back(Extend({}, 20 + rng() % 81, rng));
    size_t distinct = 0;
    for (const auto& p : prefixes) distinct += p.size();
    while (distinct < kTargetBlocks) {
      const auto& p = prefixes[rng() % prefixes.size()];
      const size_t len = 50 + rng() % 451;
      std::vector<BlockHash> chain = Extend(p, std::max(len, p.size() + 1), rng);
      distinct += chain.size() - p.size();
      wl->chains.push_back(std::move(chain));
      wl->owner.push_back(rng() % kWorkers);
      wl->second.push_back(rng() % 3 == 0 ? rng() % kWorkers : Workload::kNone);
    }
    return wl;
  }();
  return *w;
}

std::vector<std::vector<BlockHash>> MakeRequests(size_t n, uint64_t seed) {
  const Workload& wl = GetWorkload();
  std::mt19937_64 rng(seed);
  std::vector<std::vector<BlockHash>> reqs;
  for (size_t i = 0; i < n; ++i) {
    if (rng() % 5 == 0) {
      reqs.push_back(Extend({}, 100 + rng() % 401, rng));
      continue;
    }
    const auto& chain = wl.chains[rng() % wl.chains.size()];
    const size_t take = std::min<size_t>(chain.size(), 100 + rng() % 401);
    std::vector<BlockHash> r(chain.begin(), chain.begin() + take);
    reqs.push_back(Extend(std::move(r), take + rng() % 51, rng));
  }
  return reqs;
}

KvCacheEvent StoredEvent(const std::vector<BlockHash>& chain) {
  return KvCacheEvent{.kind = KvCacheEvent::Kind::kStored, .block_hashes = chain};
}

void FillIndexer(Indexer& idx) {
  const Workload& wl = GetWorkload();
  for (size_t i = 0; i < wl.chains.size(); ++i) {
    idx.AddBlocks(wl.owner[i], wl.chains[i]);
    if (wl.second[i] != Workload::kNone) idx.AddBlocks(wl.second[i], wl.chains[i]);
  }
}

Indexer& SharedIndexer() {
  static Indexer* idx = [] {
    GetWorkload();
    // In-use heap bytes: small chunks (uordblks) plus mmapped large ones (hblkhd).
    auto heap = [] {
      const struct mallinfo2 m = mallinfo2();
      return m.uordblks + m.hblkhd;
    };
    const size_t before = heap();
    auto* i = new Indexer;
    FillIndexer(*i);
    const size_t after = heap();
    std::printf("index: %zu distinct blocks, %zu (worker, block) pairs, %d workers\n",
                i->num_blocks(), i->num_worker_blocks(), kWorkers);
    std::printf("memory: MemoryBytes %.1f B/block, malloc'd %.1f B/block (%.1f MiB)\n",
                double(i->MemoryBytes()) / double(i->num_blocks()),
                double(after - before) / double(i->num_blocks()),
                double(after - before) / (1 << 20));
    return i;
  }();
  return *idx;
}

void ReportPercentiles(benchmark::State& state, std::vector<double>& us) {
  if (us.empty()) return;
  std::sort(us.begin(), us.end());
  auto pct = [&](double q) { return us[std::min(us.size() - 1, size_t(q * double(us.size())))]; };
  state.counters["p50_us"] = pct(0.50);
  state.counters["p99_us"] = pct(0.99);
  state.counters["max_us"] = us.back();
}

void BM_FindMatches(benchmark::State& state) {
  Indexer& idx = SharedIndexer();
  const auto reqs = MakeRequests(4096, 7);
  std::vector<double> us;
  OverlapScores out;
  size_t i = 0, matched = 0, blocks = 0;
  for (auto _ : state) {
    const auto& r = reqs[i++ % reqs.size()];
    const auto t0 = std::chrono::steady_clock::now();
    idx.FindMatches(r, &out);
    const auto t1 = std::chrono::steady_clock::now();
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    for (const auto& s : out.scores) matched = std::max<size_t>(matched, s.blocks);
    blocks += r.size();
    benchmark::DoNotOptimize(out);
  }
  ReportPercentiles(state, us);
  state.counters["blocks_per_req"] = double(blocks) / double(state.iterations());
  state.counters["bytes_per_block"] = double(idx.MemoryBytes()) / double(idx.num_blocks());
}
BENCHMARK(BM_FindMatches)->Iterations(200000)->Unit(benchmark::kMicrosecond);

// The whole decision: lock, FindMatches, cost for 64 candidates, load and stats bookkeeping.
// Arguments: requests kept in flight (each finishes that many decisions after it was routed), so
// the in-flight prefix index (InFlightPrefixes) holds their blocks as in a busy frontend; and the
// cost (0: seconds, the default, with every worker's step-time model fitted from 64 steps; 1:
// blocks).
Router* MakeBenchRouter(CostUnit cost) {
  auto* r = new Router(RouterConfig{.mode = Mode::kKv, .block_size = 16, .cost = cost});
  const Workload& wl = GetWorkload();
  for (WorkerId w = 0; w < kWorkers; ++w) r->AddWorker(w);
  for (size_t i = 0; i < wl.chains.size(); ++i) {
    r->ApplyEvent(wl.owner[i], StoredEvent(wl.chains[i]));
    if (wl.second[i] != Workload::kNone) r->ApplyEvent(wl.second[i], StoredEvent(wl.chains[i]));
  }
  std::mt19937_64 rng(1);
  for (WorkerId w = 0; w < kWorkers; ++w) {
    r->UpdateLoad(w, {.active_blocks = rng() % 2000,
                      .waiting_prefill_tokens = rng() % 8000,
                      .seqs = rng() % 64,
                      .max_batched_tokens = 8192});
    std::vector<StepSample> steps;
    for (int k = 0; k < 64; ++k) {
      const int64_t p = k % 4 == 0 ? int64_t(rng() % 8192) : 0, s = 1 + int64_t(rng() % 64);
      steps.push_back({p, s, s * 1000, 0.005 + 2e-6 * double(p) + 1e-4 * double(s)});
    }
    r->AddStepSamples(w, steps);
  }
  return r;
}

void BM_RouteDecision(benchmark::State& state) {
  static Router* seconds = MakeBenchRouter(CostUnit::kSeconds);
  static Router* blocks = MakeBenchRouter(CostUnit::kBlocks);
  Router* router = state.range(1) == 0 ? seconds : blocks;
  const size_t depth = static_cast<size_t>(state.range(0));
  const auto reqs = MakeRequests(4096, 11);
  std::vector<double> us;
  std::deque<uint64_t> in_flight;
  size_t i = 0;
  for (auto _ : state) {
    const auto& r = reqs[i++ % reqs.size()];
    const auto t0 = std::chrono::steady_clock::now();
    auto d = router->Route({.block_hashes = r, .num_tokens = r.size() * 16});
    const auto t1 = std::chrono::steady_clock::now();
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    in_flight.push_back(d->request_id);
    while (in_flight.size() > depth) {  // keeps the load steady
      router->OnFinished(in_flight.front());
      in_flight.pop_front();
    }
  }
  for (uint64_t id : in_flight) router->OnFinished(id);
  ReportPercentiles(state, us);
  const RouterStats s = router->Stats();
  state.counters["predicted_hit_rate"] = s.predicted_hit_rate;
  state.counters["indexed_blocks"] = double(s.indexed_blocks);
}
BENCHMARK(BM_RouteDecision)
    ->Args({0, 0})
    ->Args({256, 0})
    ->Args({256, 1})
    ->Iterations(100000)
    ->Unit(benchmark::kMicrosecond);

// Event apply throughput on a 1M-block index. The events are generated first: a new 16-block
// chain stored under a known prefix on a random worker, and (once 1024 chains are live) an
// earlier chain removed (leaves first), so the index size stays flat. Each iteration applies one
// event.
constexpr size_t kApplyEvents = 200000;

void BM_ApplyEvents(benchmark::State& state) {
  Indexer idx;
  FillIndexer(idx);
  const Workload& wl = GetWorkload();
  std::mt19937_64 rng(3);
  std::vector<std::pair<WorkerId, KvCacheEvent>> ops;
  std::vector<std::pair<WorkerId, std::vector<BlockHash>>> live;
  while (ops.size() < kApplyEvents) {
    const auto& base = wl.chains[rng() % wl.chains.size()];
    std::vector<BlockHash> chain;
    BlockHash parent = base[std::min<size_t>(base.size() - 1, rng() % 60)];
    for (int k = 0; k < 16; ++k) chain.push_back(parent = SequenceBlockHash(parent, rng()));
    const WorkerId w = rng() % kWorkers;
    ops.push_back({w, KvCacheEvent{.kind = KvCacheEvent::Kind::kStored, .block_hashes = chain}});
    if (live.size() >= 1024) {
      std::swap(live[rng() % live.size()], live.back());
      const auto& old = live.back();
      ops.push_back(
          {old.first, KvCacheEvent{.kind = KvCacheEvent::Kind::kRemoved,
                                   .block_hashes = {old.second.rbegin(), old.second.rend()}}});
      live.pop_back();
    }
    live.emplace_back(w, std::move(chain));
  }
  size_t i = 0, blocks = 0;
  for (auto _ : state) {
    const auto& [w, e] = ops[i++ % ops.size()];
    idx.Apply(w, e);
    blocks += e.block_hashes.size();
  }
  state.counters["events_per_s"] =
      benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["blocks_per_s"] = benchmark::Counter(double(blocks), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ApplyEvents)->Iterations(kApplyEvents)->Unit(benchmark::kMicrosecond);

// The caller's part: sequence hashes of a 500-block (8000-token) prompt.
void BM_HashRequest(benchmark::State& state) {
  std::vector<uint32_t> tokens(8000);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<uint32_t>(i * 2654435761u);
  for (auto _ : state) benchmark::DoNotOptimize(SequenceBlockHashes(tokens, 16));
}
BENCHMARK(BM_HashRequest)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
