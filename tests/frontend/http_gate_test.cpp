#include "frontend/http_gate.h"

#include <gtest/gtest.h>

#include <string>

namespace mint::frontend::http_gate {
namespace {

// Feeds `bytes` to a configured parser as the server does: header first, then the body.
struct Parsed {
  Verdict verdict;
  RequestParser parser;
};
std::unique_ptr<Parsed> Parse(const std::string& bytes, const Limits& limits = {},
                              const HostPolicy& hosts = {}) {
  auto p = std::make_unique<Parsed>();
  Configure(p->parser, limits);
  boost::beast::error_code ec;
  boost::asio::const_buffer in(bytes.data(), bytes.size());
  while (in.size() > 0 && !p->parser.is_header_done()) {
    const size_t n = p->parser.put(in, ec);
    in += n;
    if (ec == http::error::need_more) ec = {};
    if (ec || n == 0) break;
  }
  if (!ec && !p->parser.is_header_done()) ec = http::error::partial_message;
  p->verdict = ec ? OnParseError(ec, p->parser, limits) : OnHeader(p->parser.get(), limits, hosts);
  return p;
}

TEST(HttpGateTest, LimitsGiveNginxStatuses) {
  Limits small{64, 32, 16};
  EXPECT_EQ(Parse("GET /" + std::string(100, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", small)
                ->verdict.status, 414);  // the request line alone overflows the header limit
  EXPECT_EQ(Parse("GET /" + std::string(40, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", small)
                ->verdict.status, 414);  // the target is over its own limit
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(80, 'b') + "\r\n\r\n", small)
                ->verdict.status, 431);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n", small)->verdict.status,
            413);
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\n\r\n")->verdict.status, 400);  // no Host on HTTP/1.1
  EXPECT_EQ(Parse("GET / HTTP/1.0\r\n\r\n")->verdict.kind, Verdict::kContinue);
  EXPECT_EQ(Parse("NOT HTTP AT ALL\r\n\r\n")->verdict.status, 400);
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nHost: x\r\n")->verdict.kind, Verdict::kGone);  // cut short
}

TEST(HttpGateTest, HostPolicyAdmitsLoopbackBoundAndListedNames) {
  const HostPolicy hosts(true, "10.0.0.5", {"Mint.Example:443"});
  auto verdict = [&](const std::string& fields) {
    return Parse("GET / HTTP/1.1\r\n" + fields + "\r\n", {}, hosts)->verdict;
  };
  EXPECT_EQ(verdict("Host: localhost:8000\r\n").kind, Verdict::kContinue);
  EXPECT_EQ(verdict("Host: [::1]:8000\r\n").kind, Verdict::kContinue);
  EXPECT_EQ(verdict("Host: 10.0.0.5\r\n").kind, Verdict::kContinue);
  EXPECT_EQ(verdict("Host: MINT.example\r\n").kind, Verdict::kContinue);
  const Verdict rebound = verdict("Host: attacker.example\r\n");
  EXPECT_EQ(rebound.status, 403);
  EXPECT_NE(rebound.message.find("attacker.example"), std::string::npos);
  EXPECT_EQ(verdict("Host: localhost\r\nOrigin: http://evil.example\r\n").status, 403);
  EXPECT_EQ(verdict("Host: localhost\r\nOrigin: null\r\n").status, 403);
  EXPECT_EQ(verdict("Host: localhost\r\nOrigin: http://127.0.0.1:8000\r\n").kind, Verdict::kContinue);
  // Not checking (a key is set, or bound beyond loopback with no list): every name passes.
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nHost: attacker.example\r\n\r\n")->verdict.kind,
            Verdict::kContinue);
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", {}, HostPolicy(true, "0.0.0.0", {"*"}))
                ->verdict.kind, Verdict::kContinue);
  EXPECT_EQ(HostName("[FE80::1]:80"), "fe80::1");
  EXPECT_EQ(HostName("fe80::1"), "fe80::1");  // bare IPv6: the colons are not a port
}

TEST(HttpGateTest, BearerKeyIsComparedWhole) {
  auto header = [](const std::string& auth) {
    RequestHeader h;
    if (!auth.empty()) h.set(http::field::authorization, auth);
    return h;
  };
  EXPECT_TRUE(Authorized(header(""), ""));
  EXPECT_TRUE(Authorized(header("Bearer s3cret"), "s3cret"));
  EXPECT_FALSE(Authorized(header(""), "s3cret"));
  EXPECT_FALSE(Authorized(header("Bearer s3cre"), "s3cret"));
  EXPECT_FALSE(Authorized(header("Bearer s3cretX"), "s3cret"));
  EXPECT_FALSE(Authorized(header("Basic s3cret"), "s3cret"));
  EXPECT_TRUE(SecureEquals("", ""));
  EXPECT_FALSE(SecureEquals("a", ""));
}

TEST(HttpGateTest, RoutesByPathAndMethod) {
  EXPECT_EQ(RouteOf(http::verb::post, "/v1/chat/completions").kind, Route::kChat);
  EXPECT_EQ(RouteOf(http::verb::get, "/v1/chat/completions").kind, Route::kMethodNotAllowed);
  EXPECT_EQ(RouteOf(http::verb::post, "/v1/completions?x=1").kind, Route::kCompletions);
  EXPECT_EQ(RouteOf(http::verb::head, "/v1/models").kind, Route::kModels);
  const Route model = RouteOf(http::verb::get, "/v1/models/tiny?q");
  EXPECT_EQ(model.kind, Route::kModel);
  EXPECT_EQ(model.model, "tiny");
  EXPECT_TRUE(model.api);
  EXPECT_EQ(RouteOf(http::verb::get, "/health").kind, Route::kHealth);
  EXPECT_FALSE(RouteOf(http::verb::get, "/health").api);
  EXPECT_EQ(RouteOf(http::verb::delete_, "/metrics").kind, Route::kMethodNotAllowed);
  EXPECT_EQ(RouteOf(http::verb::get, "/index.html").kind, Route::kPage);
  EXPECT_EQ(RouteOf(http::verb::get, "/v1/other").kind, Route::kNotFound);
  EXPECT_TRUE(RouteOf(http::verb::get, "/v1/other").api);  // unknown API paths still need the key
  EXPECT_EQ(RouteOf(http::verb::get, "").kind, Route::kNotFound);
}

}  // namespace
}  // namespace mint::frontend::http_gate
