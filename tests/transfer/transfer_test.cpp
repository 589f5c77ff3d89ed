// KV block transfer: descriptors, TCP, shared-memory and UCX pulls, and every way a transfer can
// end.

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "transfer/shm_slots.h"
#include "transfer/socket.h"
#include "transfer/transfer.h"
#include "transfer/ucx.h"
#include "transfer/wire.h"

namespace mint::transfer {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kBlockBytes = 4096 + 64;  // not a power of two on purpose
constexpr int64_t kBlocks = 64;

// Block b's bytes are a pattern of (b, offset), so a block landing in the wrong place shows.
void FillPattern(uint8_t* base) {
  for (int64_t b = 0; b < kBlocks; ++b) {
    for (uint64_t i = 0; i < kBlockBytes; ++i) {
      base[b * kBlockBytes + i] = static_cast<uint8_t>(b * 131 + i * 7 + (i >> 8));
    }
  }
}

bool HoldsBlock(const uint8_t* p, int32_t b) {
  for (uint64_t i = 0; i < kBlockBytes; ++i) {
    if (p[i] != static_cast<uint8_t>(b * 131 + i * 7 + (i >> 8))) return false;
  }
  return true;
}

// Records how each export ended.
struct Ends {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<ExportEnd> ends;

  std::function<void(ExportEnd)> Callback() {
    return [this](ExportEnd e) {
      std::lock_guard lk(mu);
      ends.push_back(e);
      cv.notify_all();
    };
  }
  bool WaitFor(size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, timeout, [&] { return ends.size() >= n; });
  }
};

ServerOptions Timeouts(std::chrono::milliseconds export_timeout, std::chrono::milliseconds io) {
  ServerOptions o;
  o.export_timeout = export_timeout;
  o.io_timeout = io;
  return o;
}

// A pull request for export `d` (its id and secret), as a hand-written puller sends it.
wire::PullRequest RequestFor(const Descriptor& d, Transport t, uint32_t n_blocks,
                             uint32_t n_wanted) {
  wire::PullRequest req;
  req.transport = static_cast<uint8_t>(t);
  req.export_id = d.export_id;
  std::memcpy(req.secret, d.secret.data(), 16);
  req.block_bytes = kBlockBytes;
  req.n_blocks = n_blocks;
  req.n_wanted = n_wanted;
  return req;
}

class TransferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = SharedRegion::Create(kBlockBytes * kBlocks);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    region_ = std::move(*r);
    FillPattern(region_->data());
  }

  // shared: the region is pullable over shm; slots: with its control area (same-host pulls
  // without a round trip), else every shm pull is authorized over TCP.
  std::unique_ptr<TransferServer> Server(bool shared = true, ServerOptions o = {},
                                         bool slots = true) {
    o.ucx = true;
    Region r{region_->data(), kBlockBytes, kBlocks, shared ? region_->name() : ""};
    if (shared && slots) r = region_->AsRegion(kBlockBytes, kBlocks);
    auto s = TransferServer::Create(r, o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  std::unique_ptr<SharedRegion> region_;
};

TEST(DescriptorTest, RoundTripsAndRejectsEveryTruncation) {
  Descriptor d;
  d.host = "10.0.0.7";
  d.port = 4242;
  d.shm_name = "/mint-kv-1-abc";
  d.export_id = 0x1122334455667788ull;
  for (size_t i = 0; i < d.secret.size(); ++i) d.secret[i] = static_cast<uint8_t>(i * 17);
  d.block_bytes = 368640;
  d.blocks = {5, 0, 77, 3};
  const std::string bytes = Serialize(d);
  auto back = ParseDescriptor(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->host, d.host);
  EXPECT_EQ(back->port, d.port);
  EXPECT_EQ(back->shm_name, d.shm_name);
  EXPECT_EQ(back->export_id, d.export_id);
  EXPECT_EQ(back->secret, d.secret);
  EXPECT_EQ(back->block_bytes, d.block_bytes);
  EXPECT_EQ(back->blocks, d.blocks);
  EXPECT_EQ(back->bytes(), 4u * 368640u);
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(ParseDescriptor(bytes.substr(0, n)).ok()) << "truncated at " << n;
  }
  EXPECT_FALSE(ParseDescriptor(bytes + "x").ok()) << "trailing bytes";
  std::string bad = bytes;
  bad[0] = 'X';
  EXPECT_FALSE(ParseDescriptor(bad).ok());
  bad = bytes;
  bad[4] = 9;  // version
  EXPECT_NE(ParseDescriptor(bad).status().message().find("version"), std::string::npos);
  Descriptor empty = d;
  empty.blocks.clear();
  EXPECT_FALSE(ParseDescriptor(Serialize(empty)).ok());
  Descriptor zero = d;
  zero.block_bytes = 0;
  EXPECT_FALSE(ParseDescriptor(Serialize(zero)).ok());
  Descriptor negative = d;
  negative.blocks = {1, -2};
  EXPECT_FALSE(ParseDescriptor(Serialize(negative)).ok());
}

// Exports blocks {9, 3, 40, 41, 63} and pulls them over `t`, the second one already held (its
// destination is null: it does not move); the export ends pulled.
void PullFiveSkippingOne(TransferServer* server, Transport t, bool verify) {
  Ends ends;
  auto d = server->Export({9, 3, 40, 41, 63}, ends.Callback());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  std::vector<uint8_t> dst(5 * kBlockBytes, 0);
  std::vector<uint8_t*> ptrs = {&dst[0], nullptr, &dst[2 * kBlockBytes], &dst[3 * kBlockBytes],
                                &dst[4 * kBlockBytes]};
  auto stats = Pull(*ParseDescriptor(Serialize(*d)), ptrs, {.transport = t, .verify = verify});
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->bytes, 4 * kBlockBytes);
  EXPECT_TRUE(HoldsBlock(&dst[0], 9));
  EXPECT_EQ(dst[kBlockBytes], 0) << "a skipped block is not written";
  EXPECT_TRUE(HoldsBlock(&dst[2 * kBlockBytes], 40));
  EXPECT_TRUE(HoldsBlock(&dst[3 * kBlockBytes], 41));
  EXPECT_TRUE(HoldsBlock(&dst[4 * kBlockBytes], 63));
  ASSERT_TRUE(ends.WaitFor(1));
  EXPECT_EQ(ends.ends[0], ExportEnd::kPulled);
}

TEST_F(TransferTest, TcpPullMovesExactlyTheBlocksAskedFor) {
  auto server = Server();
  ASSERT_NE(server, nullptr);
  PullFiveSkippingOne(server.get(), Transport::kTcp, /*verify=*/true);
  const ServerStats s = server->Stats();
  EXPECT_EQ(s.blocks_sent, 4u);
  EXPECT_EQ(s.bytes_sent, 4 * kBlockBytes);
  EXPECT_EQ(s.pending, 0);
  EXPECT_EQ(s.pulled, 1u);
}

TEST_F(TransferTest, ShmPullCopiesOutOfTheSharedRegion) {
  auto server = Server();
  ASSERT_NE(server, nullptr);
  Ends ends;
  auto d = server->Export({7, 0, 33}, ends.Callback());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->shm_name, region_->name());
  std::vector<uint8_t> dst(3 * kBlockBytes);
  std::vector<uint8_t*> ptrs = {&dst[0], &dst[kBlockBytes], &dst[2 * kBlockBytes]};
  auto stats = Pull(*d, ptrs, {.transport = Transport::kShm});
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_TRUE(HoldsBlock(&dst[0], 7));
  EXPECT_TRUE(HoldsBlock(&dst[kBlockBytes], 0));
  EXPECT_TRUE(HoldsBlock(&dst[2 * kBlockBytes], 33));
  ASSERT_TRUE(ends.WaitFor(1));
  EXPECT_EQ(ends.ends[0], ExportEnd::kPulled);
  EXPECT_EQ(server->Stats().blocks_shared, 3u);
  EXPECT_EQ(server->Stats().bytes_sent, 0u) << "no block went through the socket";
}

#define SKIP_WITHOUT_UCX() \
  if (!ucx::Available().ok()) GTEST_SKIP() << ucx::Available().ToString()

TEST_F(TransferTest, UcxPullMovesExactlyTheBlocksAskedFor) {
  SKIP_WITHOUT_UCX();
  auto server = Server(/*shared=*/false);
  ASSERT_NE(server, nullptr);
  for (int round = 0; round < 3; ++round) {  // later rounds reuse the worker and the endpoint
    PullFiveSkippingOne(server.get(), Transport::kUcx, /*verify=*/round == 1);
  }
  const ServerStats s = server->Stats();
  EXPECT_EQ(s.blocks_sent, 12u);
  EXPECT_EQ(s.bytes_sent, 12 * kBlockBytes);
  EXPECT_EQ(s.pending, 0);
  EXPECT_EQ(s.pulled, 3u);
}

// Blocks of a real model's size (hundreds of KiB) go by UCX's rendezvous protocol, not eagerly.
TEST(TransferUcxTest, LargeBlocksAndNothingWanted) {
  SKIP_WITHOUT_UCX();
  constexpr uint64_t kBig = 368640 + 8;
  constexpr int64_t kN = 6;
  std::vector<uint8_t> region(kBig * kN);
  for (size_t i = 0; i < region.size(); ++i)
    region[i] = static_cast<uint8_t>(i * 2654435761u >> 13);
  ServerOptions o;
  o.ucx = true;
  auto server = TransferServer::Create({region.data(), kBig, kN, ""}, o);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto d = (*server)->Export({5, 1, 2}, nullptr);
  ASSERT_TRUE(d.ok());
  std::vector<uint8_t> dst(3 * kBig);
  std::vector<uint8_t*> ptrs = {&dst[0], &dst[kBig], &dst[2 * kBig]};
  auto stats = Pull(*d, ptrs, {.transport = Transport::kUcx, .verify = true});
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(std::memcmp(&dst[0], &region[5 * kBig], kBig), 0);
  EXPECT_EQ(std::memcmp(&dst[kBig], &region[1 * kBig], kBig), 0);
  EXPECT_EQ(std::memcmp(&dst[2 * kBig], &region[2 * kBig], kBig), 0);
  // The puller already holds every block: nothing moves, the export still ends pulled.
  auto d2 = (*server)->Export({0, 4}, nullptr);
  ASSERT_TRUE(d2.ok());
  std::vector<uint8_t*> none = {nullptr, nullptr};
  auto stats2 = Pull(*d2, none, {.transport = Transport::kUcx});
  ASSERT_TRUE(stats2.ok()) << stats2.status().ToString();
  EXPECT_EQ(stats2->bytes, 0u);
  for (int i = 0; i < 200 && (*server)->Stats().pending > 0; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ((*server)->Stats().pulled, 2u);
}

// A refused UCX pull (wrong secret) cancels its posted receives: the destination stays as it was
// and the next pull, which may reuse the same UCX worker, is not disturbed.
TEST_F(TransferTest, UcxRefusalCancelsTheReceives) {
  SKIP_WITHOUT_UCX();
  auto server = Server(false);
  ASSERT_NE(server, nullptr);
  auto d = server->Export({4, 5}, nullptr);
  ASSERT_TRUE(d.ok());
  Descriptor forged = *d;
  forged.secret[3] ^= 1;
  std::vector<uint8_t> dst(2 * kBlockBytes, 0xAB);
  std::vector<uint8_t*> ptrs = {&dst[0], &dst[kBlockBytes]};
  auto r = Pull(forged, ptrs, {.transport = Transport::kUcx});
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().ToString();
  EXPECT_EQ(dst[0], 0xAB);
  auto ok = Pull(*d, ptrs, {.transport = Transport::kUcx});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(HoldsBlock(&dst[0], 4));
  EXPECT_TRUE(HoldsBlock(&dst[kBlockBytes], 5));
}

TEST(TransferUcxTest, AHolderServesUcxOnlyWhenAsked) {
  SKIP_WITHOUT_UCX();
  std::vector<uint8_t> region(kBlockBytes * 2);
  auto server = TransferServer::Create({region.data(), kBlockBytes, 2, ""}, {});
  ASSERT_TRUE(server.ok());
  Ends ends;
  auto d = (*server)->Export({1}, ends.Callback());
  ASSERT_TRUE(d.ok());
  std::vector<uint8_t> dst(kBlockBytes);
  uint8_t* p = dst.data();
  auto r = Pull(*d, std::span(&p, 1), {.transport = Transport::kUcx});
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported) << r.status().ToString();
  EXPECT_NE(r.status().message().find("--kv-transport ucx"), std::string::npos);
  // Refused before the export was claimed: it can still be pulled over TCP.
  ASSERT_TRUE(Pull(*d, std::span(&p, 1)).ok());
  ASSERT_TRUE(ends.WaitFor(1));
  EXPECT_EQ(ends.ends[0], ExportEnd::kPulled);
}

// A malformed UCX request (a worker address of zero or oversized length) fails that export and
// leaves the server serving others. (Bytes of the right size that are not a UCP address make
// UCX's own parser abort: why a holder serves UCX only on a trusted fabric, when asked to.)
TEST_F(TransferTest, UcxBadAddressFailsOnlyThatExport) {
  SKIP_WITHOUT_UCX();
  auto server = Server(false, Timeouts(30s, 500ms));
  ASSERT_NE(server, nullptr);
  for (uint32_t size : {0u, wire::kMaxUcxAddress + 1}) {
    Ends ends;
    auto d = server->Export({1}, ends.Callback());
    ASSERT_TRUE(d.ok());
    auto s = Socket::Connect("127.0.0.1", server->port(), 2s);
    ASSERT_TRUE(s.ok());
    const wire::PullRequest req = RequestFor(*d, Transport::kUcx, 1, 1);
    const uint32_t index = 0;
    wire::UcxTrailer trailer;
    trailer.address_size = size;
    ASSERT_TRUE(s->SendValue(req).ok());
    ASSERT_TRUE(s->SendValue(index).ok());
    ASSERT_TRUE(s->SendValue(trailer).ok());
    uint32_t head[2] = {0, 0};
    ASSERT_TRUE(s->RecvAll(head, sizeof(head)).ok());
    EXPECT_EQ(head[0], wire::kBadRequest);
    ASSERT_TRUE(ends.WaitFor(1));
    EXPECT_EQ(ends.ends[0], ExportEnd::kFailed);
  }
  std::vector<uint8_t> dst(kBlockBytes);
  uint8_t* p = dst.data();
  auto d = server->Export({2}, nullptr);
  ASSERT_TRUE(d.ok());
  auto r = Pull(*d, std::span(&p, 1), {.transport = Transport::kUcx});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(HoldsBlock(p, 2));
}

// Through the export's slot: no connection to the server at all (its port may as well be
// closed), and the server learns of the pull from the slot.
TEST_F(TransferTest, ShmPullThroughTheSlotNeedsNoRoundTrip) {
  auto server = Server();
  ASSERT_NE(server, nullptr);
  Ends ends;
  auto d = server->Export({12, 5}, ends.Callback());
  ASSERT_TRUE(d.ok());
  ASSERT_GE(d->shm_slot, 0);
  Descriptor unreachable = *ParseDescriptor(Serialize(*d));
  EXPECT_EQ(unreachable.shm_slot, d->shm_slot);
  unreachable.port = 1;  // nothing listens there
  std::vector<uint8_t> dst(2 * kBlockBytes, 0);
  std::vector<uint8_t*> ptrs = {nullptr, &dst[kBlockBytes]};
  auto stats = Pull(unreachable, ptrs, {.transport = Transport::kShm});
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->bytes, kBlockBytes);
  EXPECT_EQ(dst[0], 0) << "a skipped block is not written";
  EXPECT_TRUE(HoldsBlock(&dst[kBlockBytes], 5));
  ASSERT_TRUE(ends.WaitFor(1));
  EXPECT_EQ(ends.ends[0], ExportEnd::kPulled);
  EXPECT_EQ(server->Stats().blocks_shared, 1u);
  EXPECT_EQ(server->Stats().pending, 0);
  // Pulled once: the slot is gone, and the TCP-authorized path says why.
  auto again = Pull(*d, ptrs, {.transport = Transport::kShm});
  EXPECT_EQ(again.status().code(), StatusCode::kNotFound) << again.status().ToString();
  // A TCP pull of another export takes it from its slot: a shm puller then cannot.
  auto d2 = server->Export({7}, nullptr);
  ASSERT_TRUE(d2.ok());
  ASSERT_TRUE(Pull(*d2, std::span(ptrs.data() + 1, 1)).ok());
  EXPECT_TRUE(HoldsBlock(&dst[kBlockBytes], 7));
  EXPECT_FALSE(Pull(*d2, std::span(ptrs.data() + 1, 1), {.transport = Transport::kShm}).ok());
}

// A puller that claims a slot and dies: the server takes the export back after its I/O timeout
// (the blocks are freed, the export ends failed) and the slot serves later exports.
TEST_F(TransferTest, AClaimedSlotNeverCompletedFailsTheExport) {
  auto server = Server(true, Timeouts(30s, 100ms));
  ASSERT_NE(server, nullptr);
  Ends ends;
  auto d = server->Export({3}, ends.Callback());
  ASSERT_TRUE(d.ok());
  auto* control = static_cast<shm::Control*>(region_->control());
  uint64_t word = shm::Word(d->export_id, shm::kExported);
  ASSERT_TRUE(control->slot[d->shm_slot].word.compare_exchange_strong(
      word, shm::Word(d->export_id, shm::kClaimed)));
  ASSERT_TRUE(ends.WaitFor(1, 3s));
  EXPECT_EQ(ends.ends[0], ExportEnd::kFailed);
  EXPECT_EQ(control->slot[d->shm_slot].word.load(), 0u);
  EXPECT_EQ(server->Stats().failed, 1u);
  // A late completion by the stalled puller fails (it must not count its copy).
  word = shm::Word(d->export_id, shm::kClaimed);
  EXPECT_FALSE(control->slot[d->shm_slot].word.compare_exchange_strong(
      word, shm::Word(d->export_id, shm::kPulled)));
  std::vector<uint8_t> dst(kBlockBytes);
  uint8_t* p = dst.data();
  for (int i = 0; i < 3; ++i) {  // slots are reused
    auto di = server->Export({10 + i}, nullptr);
    ASSERT_TRUE(di.ok());
    ASSERT_TRUE(Pull(*di, std::span(&p, 1), {.transport = Transport::kShm}).ok());
    EXPECT_TRUE(HoldsBlock(p, 10 + i));
  }
}

// Without a control area every shm pull is authorized over TCP, still one copy.
TEST_F(TransferTest, ShmPullWithoutSlotsGoesThroughTheServer) {
  auto server = Server(true, {}, /*slots=*/false);
  ASSERT_NE(server, nullptr);
  auto d = server->Export({8, 9}, nullptr);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->shm_slot, -1);
  std::vector<uint8_t> dst(2 * kBlockBytes);
  std::vector<uint8_t*> ptrs = {&dst[0], &dst[kBlockBytes]};
  ASSERT_TRUE(Pull(*d, ptrs, {.transport = Transport::kShm}).ok());
  EXPECT_TRUE(HoldsBlock(&dst[0], 8));
  EXPECT_TRUE(HoldsBlock(&dst[kBlockBytes], 9));
  for (int i = 0; i < 200 && server->Stats().pending > 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(server->Stats().blocks_shared, 2u);
}

TEST_F(TransferTest, ShmNeedsASharedRegion) {
  auto server = Server(/*shared=*/false);
  ASSERT_NE(server, nullptr);
  auto d = server->Export({1}, nullptr);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->shm_name.empty());
  std::vector<uint8_t> dst(kBlockBytes);
  uint8_t* p = dst.data();
  auto r = Pull(*d, std::span(&p, 1), {.transport = Transport::kShm});
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported) << r.status().ToString();
  // Nothing was consumed: the export still pulls over TCP.
  EXPECT_TRUE(Pull(*d, std::span(&p, 1)).ok());
  EXPECT_TRUE(HoldsBlock(p, 1));
}

TEST_F(TransferTest, WrongSecretIsDeniedAndConsumesNothing) {
  auto server = Server();
  ASSERT_NE(server, nullptr);
  Ends ends;
  auto d = server->Export({2, 4}, ends.Callback());
  ASSERT_TRUE(d.ok());
  std::vector<uint8_t> dst(2 * kBlockBytes);
  std::vector<uint8_t*> ptrs = {&dst[0], &dst[kBlockBytes]};
  Descriptor forged = *d;
  forged.secret[3] ^= 1;
  EXPECT_EQ(Pull(forged, ptrs).status().code(), StatusCode::kNotFound);
  Descriptor other = *d;
  other.export_id += 100;
  EXPECT_EQ(Pull(other, ptrs).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(server->Stats().rejected, 2u);
  ASSERT_TRUE(Pull(*d, ptrs).ok());
  EXPECT_TRUE(HoldsBlock(&dst[kBlockBytes], 4));
  // Single use: a second pull of the same export is denied.
  EXPECT_EQ(Pull(*d, ptrs).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(ends.WaitFor(1));
  EXPECT_EQ(ends.ends.size(), 1u);
}

TEST_F(TransferTest, LayoutMismatchNamesBothValues) {
  auto server = Server();
  ASSERT_NE(server, nullptr);
  auto d = server->Export({2}, nullptr);
  ASSERT_TRUE(d.ok());
  Descriptor wrong = *d;
  wrong.block_bytes = 1024;
  std::vector<uint8_t> dst(kBlockBytes);
  uint8_t* p = dst.data();
  auto r = Pull(wrong, std::span(&p, 1));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(std::to_string(kBlockBytes)), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("1024"), std::string::npos) << r.status().message();
}

TEST_F(TransferTest, AnExportNobodyPullsExpires) {
  auto server = Server(true, Timeouts(100ms, 10s));
  ASSERT_NE(server, nullptr);
  Ends ends;
  auto d = server->Export({5, 6}, ends.Callback());
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(ends.WaitFor(1));
  EXPECT_EQ(ends.ends[0], ExportEnd::kExpired);
  EXPECT_EQ(server->Stats().pending, 0);
  EXPECT_EQ(server->Stats().expired, 1u);
  std::vector<uint8_t> dst(2 * kBlockBytes);
  std::vector<uint8_t*> ptrs = {&dst[0], &dst[kBlockBytes]};
  EXPECT_EQ(Pull(*d, ptrs).status().code(), StatusCode::kNotFound);
}

TEST_F(TransferTest, APullerThatVanishesMidTransferFailsTheExport) {
  auto server = Server(true, Timeouts(30s, 500ms));
  ASSERT_NE(server, nullptr);
  Ends ends;
  auto d = server->Export({1, 2, 3}, ends.Callback());
  ASSERT_TRUE(d.ok());
  {
    auto s = Socket::Connect("127.0.0.1", server->port(), 1000ms);
    ASSERT_TRUE(s.ok());
    const wire::PullRequest req = RequestFor(*d, Transport::kTcp, 3, 3);
    ASSERT_TRUE(s->SendValue(req).ok());
    const uint32_t wanted[3] = {0, 1, 2};
    ASSERT_TRUE(s->SendAll(wanted, sizeof(wanted)).ok());
    uint32_t reply[2];
    ASSERT_TRUE(s->RecvAll(reply, sizeof(reply)).ok());
    EXPECT_EQ(reply[0], wire::kOk);
    uint8_t some[100];
    ASSERT_TRUE(s->RecvAll(some, sizeof(some)).ok());
  }  // closed without reading the rest or acknowledging
  ASSERT_TRUE(ends.WaitFor(1));
  EXPECT_EQ(ends.ends[0], ExportEnd::kFailed);
  EXPECT_EQ(server->Stats().pending, 0);
}

TEST_F(TransferTest, APullerThatNeverAcknowledgesTimesOut) {
  auto server = Server(true, Timeouts(30s, 200ms));
  ASSERT_NE(server, nullptr);
  Ends ends;
  auto d = server->Export({1}, ends.Callback());
  ASSERT_TRUE(d.ok());
  auto s = Socket::Connect("127.0.0.1", server->port(), 1000ms);
  ASSERT_TRUE(s.ok());
  const wire::PullRequest req = RequestFor(*d, Transport::kShm, 1, 0);
  ASSERT_TRUE(s->SendValue(req).ok());
  // Holds the connection open and silent: the server gives up after its I/O timeout.
  ASSERT_TRUE(ends.WaitFor(1, 3s));
  EXPECT_EQ(ends.ends[0], ExportEnd::kFailed);
}

TEST_F(TransferTest, GarbageDoesNotHurtTheServer) {
  auto server = Server(true, Timeouts(30s, 200ms));
  ASSERT_NE(server, nullptr);
  for (size_t n : {1, 7, 48, 100, 5000}) {
    auto s = Socket::Connect("127.0.0.1", server->port(), 1000ms);
    ASSERT_TRUE(s.ok());
    std::vector<uint8_t> junk(n);
    for (size_t i = 0; i < n; ++i) junk[i] = static_cast<uint8_t>(i * 37 + n);
    (void)s->SendAll(junk.data(), junk.size());
  }
  // A request claiming the maximum counts with a valid magic but no export.
  {
    auto s = Socket::Connect("127.0.0.1", server->port(), 1000ms);
    ASSERT_TRUE(s.ok());
    wire::PullRequest req;
    req.n_blocks = 0xFFFFFFFF;
    req.n_wanted = 0xFFFFFFFF;
    ASSERT_TRUE(s->SendValue(req).ok());
    uint32_t reply[2];
    ASSERT_TRUE(s->RecvAll(reply, sizeof(reply)).ok());
    EXPECT_EQ(reply[0], wire::kDenied);
  }
  auto d = server->Export({8}, nullptr);
  ASSERT_TRUE(d.ok());
  std::vector<uint8_t> dst(kBlockBytes);
  uint8_t* p = dst.data();
  ASSERT_TRUE(Pull(*d, std::span(&p, 1)).ok());
  EXPECT_TRUE(HoldsBlock(p, 8));
}

TEST_F(TransferTest, StoppingTheServerEndsEveryExport) {
  auto server = Server();
  ASSERT_NE(server, nullptr);
  Ends ends;
  ASSERT_TRUE(server->Export({1}, ends.Callback()).ok());
  ASSERT_TRUE(server->Export({2, 3}, ends.Callback()).ok());
  const uint16_t port = server->port();
  server.reset();
  ASSERT_EQ(ends.ends.size(), 2u);
  EXPECT_EQ(ends.ends[0], ExportEnd::kServerStopped);
  EXPECT_FALSE(Socket::Connect("127.0.0.1", port, 500ms).ok());
}

TEST_F(TransferTest, ExportsAreValidated) {
  auto server = Server();
  ASSERT_NE(server, nullptr);
  EXPECT_FALSE(server->Export({}, nullptr).ok());
  EXPECT_EQ(server->Export({kBlocks}, nullptr).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(server->Export({-1}, nullptr).status().code(), StatusCode::kOutOfRange);
  EXPECT_FALSE(TransferServer::Create({}, {}).ok());
  EXPECT_EQ(ParseTransport("rdma").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTransport("ucx").ok(), ucx::Available().ok());
  EXPECT_TRUE(CapabilitiesOf(Transport::kTcp).cross_host);
  EXPECT_TRUE(CapabilitiesOf(Transport::kShm).one_copy);
  EXPECT_TRUE(CapabilitiesOf(Transport::kUcx).cross_host);
}

// Pulls reuse an idle connection; one the server has closed since (idle past its I/O timeout)
// is replaced by a fresh one without failing the pull.
TEST_F(TransferTest, IdleConnectionsAreReusedOrReplaced) {
  auto server = Server(true, Timeouts(30s, 150ms));
  ASSERT_NE(server, nullptr);
  std::vector<uint8_t> dst(kBlockBytes);
  uint8_t* p = dst.data();
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 4; ++i) {
      auto d = server->Export({10 + i}, nullptr);
      ASSERT_TRUE(d.ok());
      auto r = Pull(*d, std::span(&p, 1));
      ASSERT_TRUE(r.ok()) << "round " << round << ": " << r.status().ToString();
      EXPECT_TRUE(HoldsBlock(p, 10 + i));
    }
    std::this_thread::sleep_for(300ms);  // the server drops the idle connection
  }
  EXPECT_EQ(server->Stats().pulled, 12u);
}

TEST_F(TransferTest, ManyConcurrentPulls) {
  auto server = Server();
  ASSERT_NE(server, nullptr);
  constexpr int kPullers = 16;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kPullers; ++i) {
    auto d = server->Export({i, i + 16, i + 32}, nullptr);
    ASSERT_TRUE(d.ok());
    threads.emplace_back([d = *d, i, &ok] {
      std::vector<uint8_t> dst(3 * kBlockBytes);
      std::vector<uint8_t*> ptrs = {&dst[0], &dst[kBlockBytes], &dst[2 * kBlockBytes]};
      const Transport t = i % 3 == 2 && ucx::Available().ok() ? Transport::kUcx
                          : i % 3 == 1                        ? Transport::kShm
                                                              : Transport::kTcp;
      if (Pull(d, ptrs, {.transport = t}).ok() && HoldsBlock(&dst[0], i) &&
          HoldsBlock(&dst[kBlockBytes], i + 16) && HoldsBlock(&dst[2 * kBlockBytes], i + 32)) {
        ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kPullers);
  // A pull returns once its acknowledgement is sent; the server ends the export on reading it.
  for (int i = 0; i < 200 && server->Stats().pending > 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(server->Stats().pending, 0);
}

}  // namespace
}  // namespace mint::transfer
