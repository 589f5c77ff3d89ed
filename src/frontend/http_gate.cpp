#include "frontend/http_gate.h"

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <cctype>

#include "core/host.h"

namespace mint::frontend::http_gate {

namespace beast = boost::beast;
namespace net = boost::asio;

void Configure(RequestParser& parser, const Limits& limits) {
  parser.header_limit(static_cast<uint32_t>(limits.header_bytes));
  parser.body_limit(limits.body_bytes);
}

Verdict OnParseError(beast::error_code ec, const RequestParser& parser, const Limits& limits) {
  if (!ec) return {};
  if (ec == http::error::body_limit) return {Verdict::kReject, 413, ""};
  if (ec == http::error::header_limit) {
    // Beast consumes the request line once it is whole: no target yet means the request line
    // alone overflowed (414); else the header fields did (431).
    if (parser.get().target().empty()) {
      return {Verdict::kReject, 414,
              "the request line is longer than " + std::to_string(limits.header_bytes) + " bytes"};
    }
    return {Verdict::kReject, 431,
            "the request header is larger than " + std::to_string(limits.header_bytes) + " bytes"};
  }
  if (ec == beast::error::timeout || ec == net::error::eof || ec == http::error::end_of_stream ||
      ec == http::error::partial_message || ec == net::error::connection_reset ||
      ec == net::error::operation_aborted) {
    return {Verdict::kGone, 0, ""};
  }
  return {Verdict::kReject, 400, "malformed HTTP request: " + ec.message()};
}

std::string HostName(std::string_view host) {
  std::string_view name = host;
  if (!name.empty() && name.front() == '[') {
    const size_t end = name.find(']');
    name = end == std::string_view::npos ? name.substr(1) : name.substr(1, end - 1);
  } else if (const size_t colon = name.rfind(':');
             colon != std::string_view::npos && name.find(':') == colon) {
    name = name.substr(0, colon);
  }
  std::string out(name);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

HostPolicy::HostPolicy(bool check, std::string bound_host, std::vector<std::string> allowed)
    : check_(check), bound_host_(HostName(bound_host)), allowed_(std::move(allowed)) {
  for (std::string& h : allowed_) {
    if (h != "*") h = HostName(h);
  }
}

bool HostPolicy::NameAllowed(const std::string& name) const {
  for (const std::string& h : allowed_) {
    if (h == "*" || h == name) return true;
  }
  return IsLoopbackHost(name) || name == bound_host_;
}

std::string HostPolicy::Check(const RequestHeader& h) const {
  if (!check_) return {};
  const auto host_field = h[http::field::host];
  const std::string host = HostName(std::string_view(host_field.data(), host_field.size()));
  if (!host.empty() && !NameAllowed(host)) {
    return "Host '" + host + "' is not served here (see --allowed-hosts)";
  }
  auto it = h.find(http::field::origin);
  if (it == h.end()) return {};
  const std::string_view origin(it->value().data(), it->value().size());
  const size_t scheme = origin.find("://");
  const std::string_view origin_host =
      scheme == std::string_view::npos ? std::string_view() : origin.substr(scheme + 3);
  if (origin_host.empty() || !NameAllowed(HostName(origin_host))) {
    return "Origin '" + std::string(origin) + "' may not use this server (see --allowed-hosts)";
  }
  return {};
}

Verdict OnHeader(const RequestHeader& h, const Limits& limits, const HostPolicy& hosts) {
  if (h.target().size() > limits.target_bytes) {
    return {Verdict::kReject, 414,
            "the request target is longer than " + std::to_string(limits.target_bytes) + " bytes"};
  }
  if (h.version() >= 11 && h.find(http::field::host) == h.end()) {
    return {Verdict::kReject, 400, "HTTP/1.1 requires a Host header"};
  }
  // A refused request's body is neither read nor buffered.
  if (std::string why = hosts.Check(h); !why.empty()) return {Verdict::kReject, 403, why};
  return {};
}

bool SecureEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

bool Authorized(const RequestHeader& h, std::string_view key) {
  if (key.empty()) return true;
  auto it = h.find(http::field::authorization);
  if (it == h.end()) return false;
  const std::string_view v(it->value().data(), it->value().size());
  return v.starts_with("Bearer ") && SecureEquals(v.substr(7), key);
}

Route RouteOf(http::verb method, std::string_view target) {
  Route r;
  r.path = std::string(target.substr(0, target.find('?')));
  r.api = r.path.starts_with("/v1/");
  const bool read = method == http::verb::get || method == http::verb::head;
  auto known = [&](Route::Kind kind, bool allowed) {
    r.kind = allowed ? kind : Route::kMethodNotAllowed;
    return r;
  };
  if (r.path == "/v1/chat/completions") return known(Route::kChat, method == http::verb::post);
  if (r.path == "/v1/completions") return known(Route::kCompletions, method == http::verb::post);
  if (r.path == "/v1/responses") return known(Route::kResponses, method == http::verb::post);
  if (r.path == "/v1/models") return known(Route::kModels, read);
  if (r.path == "/health") return known(Route::kHealth, read);
  if (r.path == "/metrics") return known(Route::kMetrics, read);
  if (r.path == "/" || r.path == "/index.html") return known(Route::kPage, read);
  if (r.path.starts_with("/v1/models/") && read) {
    r.model = r.path.substr(11);
    r.kind = Route::kModel;
    return r;
  }
  r.kind = Route::kNotFound;
  return r;
}

}  // namespace mint::frontend::http_gate
