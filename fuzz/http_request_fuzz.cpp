// libFuzzer target: the HTTP request path of `mint serve`, without the sockets. Arbitrary bytes
// go through Beast's request parser under the server's limits (frontend/http_gate.h configures
// both), split into the pieces a TCP stream might deliver; each request's header meets the gate
// (414, 400 without Host, the Host/Origin policy), then the body is read, the bearer key checked
// and the route chosen; pipelined requests follow in the same bytes, as on a keep-alive socket.
//
// Invariants: no crash or sanitizer report; a rejection is 400, 403, 413, 414 or 431 and names
// its reason (413 excepted: the server words it); a parsed target over the limit never gets
// past the gate; a route's path is the target up to '?', and a model route's id is what follows
// "/v1/models/".
//
// The first input byte picks the options: bit 0 a key, bit 1 the Host/Origin check, bits 2-4 the
// piece size (1..8 bytes, or all at once), bit 5 small limits (so 413/414/431 are reachable).

#include <boost/beast/core/error.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "frontend/http_gate.h"

namespace {

using namespace mint::frontend::http_gate;

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckReject(const Verdict& v) {
  if (v.kind != Verdict::kReject) return;
  Check(v.status == 400 || v.status == 403 || v.status == 413 || v.status == 414 ||
        v.status == 431);
  Check(v.status == 413 || !v.message.empty());
}

// Feeds `in` to `p` `piece` bytes at a time until `done(p)`, an error, or the input runs out;
// returns the bytes consumed.
template <class Done>
size_t Feed(RequestParser& p, std::string_view in, size_t piece, boost::beast::error_code& ec,
            Done done) {
  size_t used = 0;
  size_t avail = std::min(piece, in.size());
  while (!done(p)) {
    const size_t n = p.put(boost::asio::const_buffer(in.data() + used, avail - used), ec);
    used += n;
    if (ec == http::error::need_more) {
      ec = {};
      if (avail == in.size()) break;  // the client sent no more
      avail = std::min(avail + piece, in.size());
      continue;
    }
    if (ec) break;
    if (n == 0 && avail == in.size()) break;
    if (n == 0) avail = std::min(avail + piece, in.size());
  }
  return used;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t opts = data[0];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string key = (opts & 1) ? "k3y" : "";
  const HostPolicy hosts((opts & 2) != 0, "127.0.0.1", {"mint.example"});
  const size_t piece = ((opts >> 2) & 7) == 7 ? in.size() + 1 : ((opts >> 2) & 7) + 1;
  const Limits limits = (opts & 32) ? Limits{96, 24, 32} : Limits{};

  for (int request = 0; request < 16 && !in.empty(); ++request) {
    RequestParser parser;
    Configure(parser, limits);
    boost::beast::error_code ec;
    size_t used = Feed(parser, in, piece, ec, [](const RequestParser& p) { return p.is_header_done(); });
    if (!ec && !parser.is_header_done()) ec = http::error::partial_message;
    if (ec) {
      const Verdict v = OnParseError(ec, parser, limits);
      Check(v.kind != Verdict::kContinue);
      CheckReject(v);
      return 0;  // the server answers (or drops) and closes
    }
    const Verdict header = OnHeader(parser.get(), limits, hosts);
    CheckReject(header);
    if (header.kind != Verdict::kContinue) return 0;
    Check(parser.get().target().size() <= limits.target_bytes);
    in.remove_prefix(used);
    used = Feed(parser, in, piece, ec, [](const RequestParser& p) { return p.is_done(); });
    if (!ec && !parser.is_done()) {
      // Input ended mid-body: what the server sees as a client that hung up.
      if (parser.need_eof()) parser.put_eof(ec);
      if (!parser.is_done()) return 0;
    }
    if (ec) {
      const Verdict v = OnParseError(ec, parser, limits);
      Check(v.kind != Verdict::kContinue);
      CheckReject(v);
      return 0;
    }
    Check(parser.get().body().size() <= limits.body_bytes);
    in.remove_prefix(used);
    const auto& req = parser.get();
    (void)Authorized(req, key);
    const auto target = req.target();
    const std::string_view t(target.data(), target.size());
    const Route route = RouteOf(req.method(), t);
    Check(route.path == t.substr(0, t.find('?')));
    Check(route.api == route.path.starts_with("/v1/"));
    if (route.kind == Route::kModel) Check("/v1/models/" + route.model == route.path);
    if (!req.keep_alive()) return 0;
  }
  return 0;
}
