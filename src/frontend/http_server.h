// HttpServer: HTTP/1.1 on Boost.Beast/Asio for `mint serve`. One io_context run by a small pool
// of I/O threads; each connection is an asynchronous session on its own strand, so thousands of
// idle keep-alive or streaming connections cost no thread each.
//
// Routes: POST /v1/chat/completions, POST /v1/completions, GET /v1/models (these three behind the
// bearer key when one is set), GET /health (200 once ready, else 503), GET /metrics (Prometheus
// text), GET / (the chat page). HEAD works wherever GET does, without a body. Other paths: 404;
// a known path with the wrong method: 405.
//
// Under abuse it answers as nginx does: malformed HTTP 400 (and HTTP/1.1 without Host), a request
// line over the limit 414, a header over the limit 431, a body over the limit 413, a refused
// Host or Origin 403; every 503 carries Retry-After. Pipelined requests are answered in order. A
// client that disconnects before its response is complete, or stops reading a stream past the
// write timeout or the unsent-bytes bound, has its generation aborted and its memory freed.
// `accept` backs off when descriptors run out.
//
// Thread-safety: Start/Stop from one thread; sessions run on the I/O threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "frontend/backend.h"
#include "frontend/metrics.h"
#include "frontend/service.h"

namespace mint::frontend {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8000;  // 0: any free port (see HttpServer::port())
  int io_threads = 2;
  std::string api_key{};  // empty: no authentication (then Host and Origin are checked)
  size_t max_body_bytes = 8u << 20;  // 413 above
  // Timeouts, each re-armed for every request and every write: a connection that stays silent
  // past one of them is closed (a stream that cannot be written is aborted and freed).
  int idle_timeout_seconds = 120;   // a keep-alive connection waiting for its next request
  int header_timeout_seconds = 30;  // from a request's first byte to the end of its header
  int body_timeout_seconds = 60;    // from the end of the header to the end of the body
  int write_timeout_seconds = 30;   // one response, or one chunk of a stream, to drain
  size_t max_header_bytes = 16 * 1024;  // 431 above (414 when the request line alone is too long)
  size_t max_target_bytes = 8 * 1024;   // 414 above
  // Bytes of a stream queued but not yet taken by the client; above this the client is treated
  // as gone: its generation is aborted and its memory freed.
  size_t max_unsent_bytes = 4u << 20;
  // Open connections; more are answered 503 (Retry-After) and closed. 0: the descriptor limit
  // (RLIMIT_NOFILE) less 128 for the rest of the process.
  int max_connections = 0;
  // Threads that parse, template and tokenize requests, so the I/O threads never do; requests
  // waiting for one beyond `max_pending_requests` are answered 503.
  int handler_threads = 2;
  int max_pending_requests = 1024;
  // With no api_key: Host (and Origin, when a browser sends one) must name this server: a
  // loopback name, the bound address, or one of these ("*": any). Against DNS rebinding and
  // cross-site requests from web pages. Checked only when bound to loopback or when this list is
  // not empty.
  std::vector<std::string> allowed_hosts{};
};

class HttpServer {
 public:
  // Binds and starts serving. Until Attach(), /health answers 503 "loading" and the API 503.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   FrontendMetrics* metrics);
  // Makes the server ready: requests go to `service`, /metrics reads `backend`. A null service
  // with a backend makes a metrics-only server (a worker's /health and /metrics; the API keeps
  // answering 503). Both must outlive
  // the server's use of them (Shutdown() first, then destroy them).
  void Attach(OpenAiService* service, GenerationBackend* backend);
  ~HttpServer();  // Shutdown(), then stops the I/O threads
  uint16_t port() const;
  // Stops accepting and closes every connection; the I/O threads keep running, so responses
  // still being completed by the backend (aborted ones) find a live executor. Destroy the
  // server after the backend.
  void Shutdown();

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The static chat page served at "/" (chat_page.cpp).
const std::string& ChatPageHtml();

}  // namespace mint::frontend
