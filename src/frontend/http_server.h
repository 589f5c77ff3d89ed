// HttpServer: HTTP/1.1 on Boost.Beast/Asio for `mint serve`. One io_context run by a small pool
// of I/O threads; each connection is an asynchronous session on its own strand, so thousands of
// idle keep-alive or streaming connections cost no thread each.
//
// Routes: POST /v1/chat/completions, POST /v1/completions, GET /v1/models (these three behind the
// bearer key when one is set), GET /health (200 once ready, else 503), GET /metrics (Prometheus
// text), GET / (the chat page). Other paths: 404; a known path with the wrong method: 405.
// Bodies over the limit: 413. A client that disconnects before its response is complete has its
// generation aborted (a failed write, or EOF seen while the request is generating).
//
// Thread-safety: Start/Stop from one thread; sessions run on the I/O threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "frontend/backend.h"
#include "frontend/metrics.h"
#include "frontend/service.h"

namespace mint::frontend {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8000;  // 0: any free port (see HttpServer::port())
  int io_threads = 2;
  std::string api_key{};  // empty: no authentication
  size_t max_body_bytes = 8u << 20;
  int idle_timeout_seconds = 120;  // keep-alive connections idle longer are closed
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
