#include "frontend/http_server.h"

#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <atomic>
#include <deque>
#include <thread>
#include <vector>

#include "core/log.h"

namespace mint::frontend {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

const std::string kJson = "application/json";

// One connection. Everything below runs on the session's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  struct Context {
    const HttpServerOptions* options = nullptr;
    FrontendMetrics* metrics = nullptr;
    std::atomic<OpenAiService*> service{nullptr};      // null while loading
    std::atomic<GenerationBackend*> backend{nullptr};  // set together with service
  };

  Session(tcp::socket socket, const Context* ctx) : stream_(std::move(socket)), ctx_(ctx) {
    // SSE chunks are small and latency is the point: no Nagle delay (measured: a streamed
    // completion waited ~40 ms for delayed ACKs without this).
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
  }

  void Run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }
  void Close() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.close();
    });
  }

  // ---- ResponseWriter operations (called from any thread; hop onto the strand) ----
  void Respond(int status, std::string content_type, std::string body) {
    net::post(stream_.get_executor(), [self = shared_from_this(), status,
                                       ct = std::move(content_type), b = std::move(body)]() mutable {
      self->DoRespond(status, ct, std::move(b));
    });
  }
  void StartStream() {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->DoStartStream(); });
  }
  void SendEvent(std::string data) {
    net::post(stream_.get_executor(), [self = shared_from_this(), d = std::move(data)]() mutable {
      self->Enqueue({Item::kChunk, std::move(d)});
    });
  }
  void EndStream() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->Enqueue({Item::kLastChunk, {}});
    });
  }
  void OnClientGone(std::function<void()> fn) {
    net::post(stream_.get_executor(), [self = shared_from_this(), f = std::move(fn)]() mutable {
      if (self->closed_) {
        f();
      } else {
        self->on_gone_ = std::move(f);
        self->WatchForEof();
      }
    });
  }

 private:
  struct Item {
    enum Kind { kChunk, kLastChunk } kind;
    std::string data;
  };

  void Read() {
    parser_.emplace();
    parser_->body_limit(ctx_->options->max_body_bytes);
    stream_.expires_after(std::chrono::seconds(ctx_->options->idle_timeout_seconds));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      // Beast may stop before the header is complete: the size is then unknown.
      const size_t size = parser_->is_header_done() && parser_->content_length()
                              ? static_cast<size_t>(*parser_->content_length())
                              : ctx_->options->max_body_bytes + 1;
      const ApiError e = ApiError::PayloadTooLarge(size, ctx_->options->max_body_bytes);
      return DoRespond(e.status, kJson, ErrorBody(e));
    }
    if (ec) return Gone();
    stream_.expires_never();
    request_ = parser_->release();
    keep_alive_ = request_.keep_alive();
    busy_ = true;
    Dispatch();
  }

  bool Authorized() const {
    const std::string& key = ctx_->options->api_key;
    if (key.empty()) return true;
    auto it = request_.find(http::field::authorization);
    return it != request_.end() && it->value() == "Bearer " + key;
  }

  void Dispatch() {
    std::string target(request_.target());
    if (auto q = target.find('?'); q != std::string::npos) target.resize(q);
    const http::verb verb = request_.method();
    auto method_not_allowed = [&] {
      const ApiError e = ApiError::MethodNotAllowed(std::string(request_.method_string()) +
                                                    " is not allowed on " + target);
      DoRespond(e.status, kJson, ErrorBody(e));
    };
    const bool api = target.rfind("/v1/", 0) == 0;
    if (api && !Authorized()) {
      const ApiError e = ApiError::Unauthorized("a valid bearer key is required (Authorization: Bearer ...)");
      return DoRespond(e.status, kJson, ErrorBody(e));
    }
    OpenAiService* service = ctx_->service.load();
    auto loading = [&] {
      const ApiError e = ApiError::FromStatus(Status::Unavailable("the model is still loading"));
      DoRespond(e.status, kJson, ErrorBody(e));
    };
    if (target == "/v1/chat/completions" || target == "/v1/completions") {
      if (verb != http::verb::post) return method_not_allowed();
      if (service == nullptr) return loading();
      auto writer = std::make_shared<Writer>(shared_from_this());
      if (target == "/v1/chat/completions") {
        service->HandleChat(request_.body(), writer);
      } else {
        service->HandleCompletion(request_.body(), writer);
      }
      return;
    }
    if (verb != http::verb::get && verb != http::verb::head) {
      if (target == "/v1/models" || target == "/health" || target == "/metrics" || target == "/") {
        return method_not_allowed();
      }
    } else if (target == "/v1/models") {
      if (service == nullptr) return loading();
      return DoRespond(200, kJson, service->ModelsBody());
    } else if (target.rfind("/v1/models/", 0) == 0) {
      if (service == nullptr) return loading();
      auto body = service->ModelBody(target.substr(11));
      if (!body.ok()) return DoRespond(body.error().status, kJson, ErrorBody(body.error()));
      return DoRespond(200, kJson, body.value());
    } else if (target == "/health") {
      const bool ok = service != nullptr || ctx_->backend.load() != nullptr;
      return DoRespond(ok ? 200 : 503, kJson, ok ? R"({"status":"ok"})" : R"({"status":"loading"})");
    } else if (target == "/metrics") {
      GenerationBackend* backend = ctx_->backend.load();
      return DoRespond(200, "text/plain; version=0.0.4; charset=utf-8",
                       ctx_->metrics->Render(backend ? backend->Metrics() : engine::EngineMetrics{}) +
                           (backend ? backend->MetricsText() : std::string()));
    } else if (target == "/" || target == "/index.html") {
      return DoRespond(200, "text/html; charset=utf-8", ChatPageHtml());
    }
    const ApiError e = ApiError::NotFound("no route for " + std::string(request_.method_string()) +
                                          " " + target);
    DoRespond(e.status, kJson, ErrorBody(e));
  }

  void DoRespond(int status, const std::string& content_type, std::string body) {
    if (closed_) return;
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(status), request_.version() ? request_.version() : 11);
    res->set(http::field::server, "mint");
    res->set(http::field::content_type, content_type);
    res->keep_alive(keep_alive_);
    res->body() = std::move(body);
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        self->AfterResponse(ec);
                      });
  }

  void DoStartStream() {
    if (closed_) return;
    stream_res_.emplace(http::status::ok, request_.version() ? request_.version() : 11);
    stream_res_->set(http::field::server, "mint");
    stream_res_->set(http::field::content_type, "text/event-stream");
    stream_res_->set(http::field::cache_control, "no-cache");
    stream_res_->keep_alive(keep_alive_);
    stream_res_->chunked(true);
    serializer_.emplace(*stream_res_);
    writing_ = true;
    http::async_write_header(stream_, *serializer_,
                             [self = shared_from_this()](beast::error_code ec, size_t) {
                               self->writing_ = false;
                               if (ec) return self->Gone();
                               self->WriteNext();
                             });
  }

  void Enqueue(Item item) {
    if (closed_) return;
    queue_.push_back(std::move(item));
    if (!writing_ && serializer_) WriteNext();
  }

  void WriteNext() {
    if (writing_ || queue_.empty() || closed_) return;
    writing_ = true;
    auto item = std::make_shared<Item>(std::move(queue_.front()));
    queue_.pop_front();
    auto done = [self = shared_from_this(), item](beast::error_code ec, size_t) {
      self->writing_ = false;
      if (ec) return self->Gone();
      if (item->kind == Item::kLastChunk) {
        self->serializer_.reset();
        self->stream_res_.reset();
        return self->AfterResponse(ec);
      }
      self->WriteNext();
    };
    if (item->kind == Item::kChunk) {
      net::async_write(stream_, http::make_chunk(net::buffer(item->data)), done);
    } else {
      net::async_write(stream_, http::make_chunk_last(), done);
    }
  }

  void AfterResponse(beast::error_code ec) {
    busy_ = false;
    on_gone_ = nullptr;
    if (ec) return Gone();
    if (!keep_alive_) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      closed_ = true;
      return;
    }
    if (!watching_) Read();
    // else: the EOF watch completes first and then reads (see WatchForEof)
  }

  // While a request generates, notice a client that hangs up: wait for the socket to become
  // readable; zero bytes on a peek means EOF.
  void WatchForEof() {
    if (watching_ || closed_) return;
    watching_ = true;
    stream_.socket().async_wait(
        tcp::socket::wait_read, net::bind_executor(stream_.get_executor(),
                                                   [self = shared_from_this()](beast::error_code ec) {
                                                     self->OnReadable(ec);
                                                   }));
  }

  void OnReadable(beast::error_code ec) {
    watching_ = false;
    if (ec) return Gone();
    char c;
    const ssize_t n = ::recv(stream_.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return Gone();
    // Data (a pipelined request): it is read once the current response is done.
    if (!busy_) Read();
  }

  void Gone() {
    if (closed_) return;
    closed_ = true;
    queue_.clear();
    if (on_gone_) {
      auto fn = std::move(on_gone_);
      on_gone_ = nullptr;
      fn();
    }
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  class Writer : public ResponseWriter {
   public:
    explicit Writer(std::shared_ptr<Session> s) : s_(std::move(s)) {}
    void Respond(int status, const std::string& content_type, std::string body) override {
      s_->Respond(status, content_type, std::move(body));
    }
    void StartStream() override { s_->StartStream(); }
    void SendEvent(std::string data) override { s_->SendEvent(std::move(data)); }
    void EndStream() override { s_->EndStream(); }
    void OnClientGone(std::function<void()> fn) override { s_->OnClientGone(std::move(fn)); }

   private:
    std::shared_ptr<Session> s_;
  };

  beast::tcp_stream stream_;
  const Context* ctx_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> request_;
  std::optional<http::response<http::empty_body>> stream_res_;
  std::optional<http::response_serializer<http::empty_body>> serializer_;
  std::deque<Item> queue_;
  std::function<void()> on_gone_;
  bool keep_alive_ = true;
  bool writing_ = false;
  bool busy_ = false;
  bool watching_ = false;
  bool closed_ = false;
};

}  // namespace

class HttpServer::Impl {
 public:
  HttpServerOptions options;
  Session::Context ctx;
  net::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::mutex sessions_mu;
  std::vector<std::weak_ptr<Session>> sessions;  // guarded by sessions_mu
  bool stopped = false;

  void Accept() {
    acceptor->async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      if (ec) {
        if (ec == net::error::operation_aborted) return;
        log::Warn("accept: {}", ec.message());
      } else {
        auto session = std::make_shared<Session>(std::move(s), &ctx);
        {
          std::lock_guard<std::mutex> lk(sessions_mu);
          if (sessions.size() > 1024) {
            std::erase_if(sessions, [](const auto& w) { return w.expired(); });
          }
          sessions.push_back(session);
        }
        session->Run();
      }
      Accept();
    });
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() {
  if (!impl_) return;
  Shutdown();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      FrontendMetrics* metrics) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->ctx.options = &impl->options;
  impl->ctx.metrics = metrics;
  beast::error_code ec;
  const auto address = net::ip::make_address(options.host, ec);
  if (ec) return Status::InvalidArgument("--host '" + options.host + "': " + ec.message());
  const tcp::endpoint endpoint(address, options.port);
  impl->acceptor.emplace(impl->ioc);
  impl->acceptor->open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor->bind(endpoint, ec);
  if (!ec) impl->acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + options.host + ":" +
                               std::to_string(options.port) + ": " + ec.message());
  }
  impl->Accept();
  const int n = std::max(1, options.io_threads);
  for (int i = 0; i < n; ++i) impl->threads.emplace_back([ioc = &impl->ioc] { ioc->run(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::Attach(OpenAiService* service, GenerationBackend* backend) {
  impl_->ctx.backend.store(backend);
  impl_->ctx.service.store(service);
}

uint16_t HttpServer::port() const { return impl_->acceptor->local_endpoint().port(); }

void HttpServer::Shutdown() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  net::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor->close(ec);
  });
  {
    std::lock_guard<std::mutex> lk(impl_->sessions_mu);
    for (auto& w : impl_->sessions) {
      if (auto s = w.lock()) s->Close();
    }
  }
}

}  // namespace mint::frontend
