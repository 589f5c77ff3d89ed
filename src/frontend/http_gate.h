// HTTP gate: what the HTTP edge decides about a request before a handler sees it, as pure
// functions of the bytes and the options (no socket, no clock): the parser's limits, the status
// a parse error earns (400, 413, 414, 431), the header checks (Host on HTTP/1.1, the target's
// length, the Host/Origin allow-list), the bearer key, and the route.
//
// http_server.cpp applies these on its sessions; fuzz/http_request_fuzz.cpp drives them with
// arbitrary bytes through the same Beast parser, so the two cannot drift apart.
//
// Thread-safety: free functions on values; HostPolicy is immutable after construction.
#pragma once

#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mint::frontend::http_gate {

namespace http = boost::beast::http;
using RequestParser = http::request_parser<http::string_body>;
using RequestHeader = http::request_header<>;

struct Limits {
  size_t header_bytes = 16 * 1024;  // request line + fields; 431 above (414: the line alone)
  size_t target_bytes = 8 * 1024;   // 414 above
  size_t body_bytes = 8u << 20;     // 413 above
};

// A fresh parser with the limits set (what every request starts with).
void Configure(RequestParser& parser, const Limits& limits);

// What the edge does with a request, or with what it has read of one.
struct Verdict {
  enum Kind {
    kContinue,  // go on (read the body; dispatch)
    kGone,      // the client is gone or silent: close without answering
    kReject,    // answer `status` with `message`, then close
  } kind = kContinue;
  int status = 0;
  std::string message{};
};

// After the parser stopped with `ec` while reading the header or the body.
Verdict OnParseError(boost::beast::error_code ec, const RequestParser& parser,
                     const Limits& limits);

// "name:port", "[v6]:port" or "name" -> the lower-cased name.
std::string HostName(std::string_view host);

// Which Host and Origin names may reach the server when it has no key (against DNS rebinding
// and cross-site pages). `check` false admits every name.
class HostPolicy {
 public:
  HostPolicy() = default;
  HostPolicy(bool check, std::string bound_host, std::vector<std::string> allowed);
  // Empty when admitted, else why not (naming the header and its value).
  std::string Check(const RequestHeader& header) const;

 private:
  bool NameAllowed(const std::string& name) const;
  bool check_ = false;
  std::string bound_host_{};
  std::vector<std::string> allowed_{};
};

// Once the header is complete: 414 for a long target, 400 for HTTP/1.1 without Host, 403 for a
// refused Host or Origin; else kContinue (read the body).
Verdict OnHeader(const RequestHeader& header, const Limits& limits, const HostPolicy& hosts);

// Constant-time comparison (the time taken does not tell how many leading bytes matched).
bool SecureEquals(std::string_view a, std::string_view b);

// True when `key` is empty or the request carries "Authorization: Bearer <key>".
bool Authorized(const RequestHeader& header, std::string_view key);

struct Route {
  enum Kind {
    kChat,              // POST /v1/chat/completions
    kCompletions,       // POST /v1/completions
    kResponses,         // POST /v1/responses
    kModels,            // GET|HEAD /v1/models
    kModel,             // GET|HEAD /v1/models/<id> (id in `model`)
    kHealth,            // GET|HEAD /health
    kMetrics,           // GET|HEAD /metrics
    kPage,              // GET|HEAD / and /index.html
    kMethodNotAllowed,  // a known path with another method (405)
    kNotFound,          // 404
  } kind = kNotFound;
  std::string path{};   // the target without its query
  std::string model{};  // kModel only
  bool api = false;     // under /v1/: behind the bearer key
};
Route RouteOf(http::verb method, std::string_view target);

}  // namespace mint::frontend::http_gate
