// libFuzzer target: the KV transfer pull protocol on a real TransferServer and a real puller,
// over loopback sockets. The first byte picks the side:
//   even: the bytes are what a (hostile) puller sends the server: a pull request and its block
//         indices. With bit 1 set the request's export id and secret are replaced by those of a
//         live export first, so the fuzzer reaches the block-index and transfer paths past the
//         secret check. The server must answer or close, never crash, and serve a legitimate pull
//         afterwards (checked every 64 inputs).
//   odd:  the bytes are what a (hostile) server answers a puller: the reply and the block
//         payloads. Pull must fail cleanly or land exactly the blocks it asked for.
// Every socket read and write has a 200 ms timeout; the sender closes its side after the input,
// so no input waits for a timeout.

#include <poll.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "core/log.h"
#include "transfer/socket.h"
#include "transfer/transfer.h"
#include "transfer/wire.h"

namespace {

using mint::transfer::Descriptor;
using mint::transfer::Socket;

constexpr uint64_t kBlockBytes = 64;
constexpr int kBlocks = 8;

struct Fixture {
  std::vector<uint8_t> region = std::vector<uint8_t>(kBlockBytes * kBlocks);
  std::unique_ptr<mint::transfer::TransferServer> server;
  Socket fake;  // the hostile server's listener
  uint16_t fake_port = 0;

  Fixture() {
    mint::log::SetLevel(mint::log::Level::kError);
    for (size_t i = 0; i < region.size(); ++i) region[i] = static_cast<uint8_t>(i * 7);
    mint::transfer::ServerOptions o;
    o.io_timeout = std::chrono::milliseconds(200);
    server = std::move(mint::transfer::TransferServer::Create(
                           {region.data(), kBlockBytes, kBlocks, ""}, o))
                 .value();
    fake = std::move(Socket::Listen("127.0.0.1", 0, 16)).value();
    fake_port = fake.LocalPort().value();
  }

  Descriptor Export() {
    return std::move(server->Export({1, 3, 5}, [](mint::transfer::ExportEnd) {})).value();
  }
};

Fixture& F() {
  static Fixture* f = new Fixture();
  return *f;
}

// A legitimate pull of a fresh export; aborts unless it lands the right bytes.
void CheckServerStillServes() {
  Fixture& f = F();
  const Descriptor d = f.Export();
  std::vector<uint8_t> out(3 * kBlockBytes);
  uint8_t* dst[3] = {out.data(), out.data() + kBlockBytes, out.data() + 2 * kBlockBytes};
  mint::transfer::PullOptions po;
  po.io_timeout = std::chrono::milliseconds(2000);
  auto r = mint::transfer::Pull(d, dst, po);
  if (!r.ok()) std::abort();
  for (int i = 0; i < 3; ++i) {
    if (std::memcmp(dst[i], f.region.data() + (1 + 2 * i) * kBlockBytes, kBlockBytes) != 0) {
      std::abort();
    }
  }
}

void FuzzServer(const uint8_t* data, size_t size, bool with_secret) {
  Fixture& f = F();
  std::vector<uint8_t> bytes(data, data + size);
  if (with_secret && bytes.size() >= sizeof(mint::transfer::wire::PullRequest)) {
    const Descriptor d = f.Export();
    mint::transfer::wire::PullRequest req;
    std::memcpy(&req, bytes.data(), sizeof(req));
    req.magic = mint::transfer::wire::kRequestMagic;
    req.version = mint::transfer::wire::kVersion;
    req.export_id = d.export_id;
    std::memcpy(req.secret, d.secret.data(), sizeof(req.secret));
    std::memcpy(bytes.data(), &req, sizeof(req));
  }
  auto s = Socket::Connect("127.0.0.1", f.server->port(), std::chrono::milliseconds(200));
  if (!s.ok()) std::abort();  // the server must keep accepting
  (void)s->SendAll(bytes.data(), bytes.size());
  ::shutdown(s->fd(), SHUT_WR);
  uint8_t sink[4096];
  while (::recv(s->fd(), sink, sizeof(sink), 0) > 0) {
  }
}

void FuzzPuller(const uint8_t* data, size_t size) {
  Fixture& f = F();
  Descriptor d;
  d.host = "127.0.0.1";
  d.port = f.fake_port;
  d.export_id = 1;
  d.block_bytes = kBlockBytes;
  d.blocks = {0, 1, 2};
  std::thread server([&] {
    // The puller may reuse a connection kept from an earlier pull (then closed by that pull's
    // fake server) instead of dialing: wait for a dial briefly, not forever.
    pollfd pfd{f.fake.fd(), POLLIN, 0};
    if (::poll(&pfd, 1, 300) != 1) return;
    int fd = ::accept(f.fake.fd(), nullptr, nullptr);
    if (fd < 0) return;
    Socket c(fd);
    (void)c.SetTimeout(std::chrono::milliseconds(200));
    mint::transfer::wire::PullRequest req;
    if (!c.RecvValue(&req).ok()) return;
    std::vector<uint32_t> wanted(std::min<uint32_t>(req.n_wanted, 16));
    (void)c.RecvAll(wanted.data(), wanted.size() * sizeof(uint32_t));
    (void)c.SendAll(data, size);
    ::shutdown(fd, SHUT_WR);
    uint8_t sink[64];
    while (::recv(fd, sink, sizeof(sink), 0) > 0) {
    }
  });
  std::vector<uint8_t> out(3 * kBlockBytes);
  uint8_t* dst[3] = {out.data(), nullptr, out.data() + 2 * kBlockBytes};  // block 1 held
  mint::transfer::PullOptions po;
  po.io_timeout = std::chrono::milliseconds(200);
  po.verify = (size & 1) != 0;
  auto r = mint::transfer::Pull(d, dst, po);
  server.join();
  if (r.ok() && r->bytes != 2 * kBlockBytes) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static uint64_t runs = 0;
  if (data[0] & 1) {
    FuzzPuller(data + 1, size - 1);
  } else {
    FuzzServer(data + 1, size - 1, (data[0] & 2) != 0);
    if (++runs % 64 == 0) CheckServerStillServes();
  }
  return 0;
}
