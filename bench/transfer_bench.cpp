// KV block transfer bandwidth (src/transfer), each transport against its ceiling in the same
// run: shm pulls against memcpy of the same blocks, TCP pulls against a plain loopback socket
// moving the same bytes. Blocks are SmolLM2-135M's F16 KV blocks of 16 tokens: 30 layers x K,V x
// 3 KV heads x 16 slots x 64 dims x 2 bytes = 368,640 bytes, each one contiguous range.
//
//   build/bench/transfer_bench --benchmark_counters_tabular=true
// Report bytes_per_second of Pull*/N against Memcpy/N and PlainSocket/N (docs/perf.md); PullUcx
// has no ceiling of its own (UCX_TLS=tcp: compare with PlainSocket).

#include <benchmark/benchmark.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>
#include <vector>

#include "transfer/socket.h"
#include "transfer/transfer.h"

namespace mint::transfer {
namespace {

constexpr uint64_t kBlockBytes = 30 * 2 * 3 * 16 * 64 * 2;
constexpr int64_t kRegionBlocks = 4096;

// The holder's arena (shared, so both transports can pull from it) and the puller's.
struct Arenas {
  std::unique_ptr<SharedRegion> src;
  std::vector<uint8_t> dst;
  std::unique_ptr<TransferServer> server;

  static Arenas& Get() {
    static Arenas a = [] {
      Arenas x;
      x.src = SharedRegion::Create(kBlockBytes * kRegionBlocks).value();
      for (uint64_t i = 0; i < x.src->size(); i += 4096) x.src->data()[i] = static_cast<uint8_t>(i);
      x.dst.assign(kBlockBytes * kRegionBlocks, 1);
      const Region r = x.src->AsRegion(kBlockBytes, kRegionBlocks);
      ServerOptions o;
      o.ucx = true;
      x.server = TransferServer::Create(r, o).value();
      return x;
    }();
    return a;
  }
};

// Source blocks spread over the region (every other block, as a real prefill's blocks are not
// adjacent), destinations in order.
std::vector<int32_t> SourceBlocks(int64_t n) {
  std::vector<int32_t> b(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) b[i] = static_cast<int32_t>((2 * i) % kRegionBlocks);
  return b;
}

std::vector<uint8_t*> Destinations(Arenas& a, int64_t n) {
  std::vector<uint8_t*> d(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) d[i] = a.dst.data() + i * kBlockBytes;
  return d;
}

void SetBytes(benchmark::State& state, int64_t n) {
  state.SetBytesProcessed(state.iterations() * n * static_cast<int64_t>(kBlockBytes));
  state.counters["blocks"] = static_cast<double>(n);
}

void BM_Memcpy(benchmark::State& state) {
  Arenas& a = Arenas::Get();
  const int64_t n = state.range(0);
  const auto src = SourceBlocks(n);
  const auto dst = Destinations(a, n);
  for (auto _ : state) {
    for (int64_t i = 0; i < n; ++i) {
      std::memcpy(dst[i], a.src->data() + src[i] * kBlockBytes, kBlockBytes);
    }
    benchmark::ClobberMemory();
  }
  SetBytes(state, n);
}

void Pulls(benchmark::State& state, Transport t) {
  Arenas& a = Arenas::Get();
  const int64_t n = state.range(0);
  const auto src = SourceBlocks(n);
  const auto dst = Destinations(a, n);
  for (auto _ : state) {
    auto d = a.server->Export(src, nullptr);
    auto r = Pull(*d, dst, {.transport = t});
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      return;
    }
  }
  SetBytes(state, n);
}

void BM_PullShm(benchmark::State& state) { Pulls(state, Transport::kShm); }
void BM_PullTcp(benchmark::State& state) { Pulls(state, Transport::kTcp); }
// UCX picks its own transport: TCP here (its shared-memory transports cannot report a dead peer).
void BM_PullUcx(benchmark::State& state) {
  if (!ParseTransport("ucx").ok()) {
    state.SkipWithError("built without UCX");
    return;
  }
  Pulls(state, Transport::kUcx);
}

// The same bytes through a plain loopback TCP connection: one send of each block from the
// holder's arena, one receive into the puller's, no protocol.
void BM_PlainSocket(benchmark::State& state) {
  Arenas& a = Arenas::Get();
  const int64_t n = state.range(0);
  const auto src = SourceBlocks(n);
  const auto dst = Destinations(a, n);
  auto listener = Socket::Listen("127.0.0.1", 0, 1);
  const uint16_t port = *listener->LocalPort();
  std::thread sender([&] {
    Socket s(::accept(listener->fd(), nullptr, nullptr));
    (void)s.SetNoDelay();
    uint8_t go = 0;
    while (s.RecvValue(&go).ok() && go == 1) {
      for (int64_t i = 0; i < n; ++i) {
        if (!s.SendAll(a.src->data() + src[i] * kBlockBytes, kBlockBytes).ok()) return;
      }
    }
  });
  auto c = Socket::Connect("127.0.0.1", port, std::chrono::seconds(10));
  for (auto _ : state) {
    (void)c->SendValue(uint8_t{1});
    for (int64_t i = 0; i < n; ++i) (void)c->RecvAll(dst[i], kBlockBytes);
  }
  (void)c->SendValue(uint8_t{0});
  sender.join();
  SetBytes(state, n);
}

#define MINT_TRANSFER_SIZES ->Arg(1)->Arg(16)->Arg(256)->Arg(4096)->UseRealTime()
BENCHMARK(BM_Memcpy) MINT_TRANSFER_SIZES;
BENCHMARK(BM_PullShm) MINT_TRANSFER_SIZES;
BENCHMARK(BM_PlainSocket) MINT_TRANSFER_SIZES;
BENCHMARK(BM_PullTcp) MINT_TRANSFER_SIZES;
BENCHMARK(BM_PullUcx) MINT_TRANSFER_SIZES;

}  // namespace
}  // namespace mint::transfer

BENCHMARK_MAIN();
