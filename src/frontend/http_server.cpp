#include "frontend/http_server.h"

#include <sys/resource.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <atomic>
#include <deque>
#include <thread>
#include <vector>

#include "core/log.h"
#include "frontend/http_gate.h"

namespace mint::frontend {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

const std::string kJson = "application/json";

// What the sessions share. Lives in HttpServer::Impl.
struct SessionContext {
  const HttpServerOptions* options = nullptr;
  FrontendMetrics* metrics = nullptr;
  std::atomic<OpenAiService*> service{nullptr};      // null while loading
  std::atomic<GenerationBackend*> backend{nullptr};  // set together with service
  net::thread_pool* handlers = nullptr;              // parse/template/tokenize off the I/O threads
  std::atomic<int> pending{0};                       // requests posted to `handlers`, not yet run
  std::atomic<int> connections{0};
  std::atomic<bool> stopping{false};
  http_gate::Limits limits;
  http_gate::HostPolicy hosts;  // checks only with no key, bound to loopback or an allow-list
};

// One connection. Everything below runs on the session's strand.
//
// Reading a request: wait for its first byte (idle timeout), then its header (header timeout;
// 400/414/431 and the Host check), then its body (body timeout; 413). While the backend
// generates, the socket is watched for EOF (client gone) without reading; bytes of a pipelined
// request stay in the socket or in `buffer_` and are read once the response is complete.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, SessionContext* ctx) : stream_(std::move(socket)), ctx_(ctx) {
    ++ctx_->connections;
    // SSE chunks are small and latency is the point: no Nagle delay (measured: a streamed
    // completion waited ~40 ms for delayed ACKs without this).
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
  }
  ~Session() { --ctx_->connections; }

  void Run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }
  // Answers 503 and closes (over --max-connections).
  void Refuse() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->keep_alive_ = false;
      self->busy_ = true;
      const ApiError e = ApiError::Overloaded("too many open connections; retry later");
      self->RespondError(e);
    });
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
      } else if (self->busy_) {  // else the response is already complete: nothing to watch
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
  const HttpServerOptions& opt() const { return *ctx_->options; }

  // Waits for the next request's first byte (the idle timeout), unless one is already buffered.
  void Read() {
    if (closed_) return;
    request_ = {};
    head_ = false;
    if (buffer_.size() > 0) return ReadHeader();
    stream_.expires_after(std::chrono::seconds(opt().idle_timeout_seconds));
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->Gone();
                              self->buffer_.commit(n);
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    parser_.emplace();
    http_gate::Configure(*parser_, ctx_->limits);
    stream_.expires_after(std::chrono::seconds(opt().header_timeout_seconds));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              self->OnHeader(ec);
                            });
  }

  // A request we will not read further: answer `status` and close.
  void Reject(int status, std::string message) {
    keep_alive_ = false;
    busy_ = true;
    const ApiError e = status == 413 ? ApiError::PayloadTooLarge(BodySize(), opt().max_body_bytes)
                                     : ApiError::Http(status, std::move(message));
    if (status != 413) ctx_->metrics->RequestRefused(FrontendMetrics::Endpoint::kOther, status);
    RespondError(e);
  }
  size_t BodySize() const {
    // Beast may stop before the header is complete: the size is then unknown.
    return parser_ && parser_->is_header_done() && parser_->content_length()
               ? static_cast<size_t>(*parser_->content_length())
               : opt().max_body_bytes + 1;
  }

  // A gate verdict that ends the request: answer it or drop the connection. False: go on.
  bool Ends(const http_gate::Verdict& v) {
    if (v.kind == http_gate::Verdict::kGone) Gone();
    if (v.kind == http_gate::Verdict::kReject) Reject(v.status, v.message);
    return v.kind != http_gate::Verdict::kContinue;
  }

  void OnHeader(beast::error_code ec) {
    if (Ends(http_gate::OnParseError(ec, *parser_, ctx_->limits))) return;
    const auto& h = parser_->get();
    head_ = h.method() == http::verb::head;
    if (Ends(http_gate::OnHeader(h, ctx_->limits, ctx_->hosts))) return;
    stream_.expires_after(std::chrono::seconds(opt().body_timeout_seconds));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit) return Reject(413, "");
    if (ec) return Gone();  // a timeout or a hang-up mid-body: nobody to answer
    stream_.expires_never();
    request_ = parser_->release();
    keep_alive_ = request_.keep_alive();
    busy_ = true;
    Dispatch();
  }

  static FrontendMetrics::Endpoint EndpointOf(http_gate::Route::Kind kind) {
    if (kind == http_gate::Route::kChat) return FrontendMetrics::Endpoint::kChat;
    if (kind == http_gate::Route::kCompletions) return FrontendMetrics::Endpoint::kCompletions;
    if (kind == http_gate::Route::kResponses) return FrontendMetrics::Endpoint::kResponses;
    return FrontendMetrics::Endpoint::kOther;
  }

  // Runs the service on a handler thread (template and tokenizer never on an I/O thread).
  void Handle(OpenAiService* service, http_gate::Route::Kind kind) {
    if (ctx_->stopping.load() || ctx_->pending.load() >= opt().max_pending_requests) {
      const ApiError e =
          ApiError::Overloaded("too many requests waiting for a handler thread; retry later");
      ctx_->metrics->RequestRefused(EndpointOf(kind), e.status);
      return RespondError(e);
    }
    ++ctx_->pending;
    net::post(*ctx_->handlers, [ctx = ctx_, service, kind, body = std::move(request_.body()),
                                writer = std::make_shared<Writer>(shared_from_this())]() mutable {
      --ctx->pending;
      if (kind == http_gate::Route::kChat) {
        service->HandleChat(body, std::move(writer));
      } else if (kind == http_gate::Route::kResponses) {
        service->HandleResponses(body, std::move(writer));
      } else {
        service->HandleCompletion(body, std::move(writer));
      }
    });
  }

  void Dispatch() {
    using Route = http_gate::Route;
    const auto target = request_.target();
    const Route route =
        http_gate::RouteOf(request_.method(), std::string_view(target.data(), target.size()));
    if (route.api && !http_gate::Authorized(request_, opt().api_key)) {
      const ApiError e = ApiError::Unauthorized("a valid bearer key is required (Authorization: Bearer ...)");
      ctx_->metrics->RequestRefused(EndpointOf(route.kind), e.status);
      return RespondError(e);
    }
    OpenAiService* service = ctx_->service.load();
    const bool needs_service = route.kind == Route::kChat || route.kind == Route::kCompletions ||
                               route.kind == Route::kResponses ||
                               route.kind == Route::kModels || route.kind == Route::kModel;
    if (needs_service && service == nullptr) {
      return RespondError(ApiError::FromStatus(Status::Unavailable("the model is still loading")));
    }
    GenerationBackend* backend = ctx_->backend.load();
    switch (route.kind) {
      case Route::kChat:
      case Route::kCompletions:
      case Route::kResponses:
        return Handle(service, route.kind);
      case Route::kModels:
        return DoRespond(200, kJson, service->ModelsBody());
      case Route::kModel: {
        auto body = service->ModelBody(route.model);
        if (!body.ok()) return RespondError(body.error());
        return DoRespond(200, kJson, body.value());
      }
      case Route::kHealth: {
        const bool ok = service != nullptr || backend != nullptr;
        return DoRespond(ok ? 200 : 503, kJson, ok ? R"({"status":"ok"})" : R"({"status":"loading"})");
      }
      case Route::kMetrics:
        return DoRespond(200, "text/plain; version=0.0.4; charset=utf-8",
                         ctx_->metrics->Render(backend ? backend->Metrics() : engine::EngineMetrics{}) +
                             (backend ? backend->MetricsText() : std::string()));
      case Route::kPage:
        return DoRespond(200, "text/html; charset=utf-8", ChatPageHtml());
      case Route::kMethodNotAllowed:
        return RespondError(ApiError::MethodNotAllowed(std::string(request_.method_string()) +
                                                       " is not allowed on " + route.path));
      case Route::kNotFound:
        break;
    }
    RespondError(ApiError::NotFound("no route for " + std::string(request_.method_string()) + " " +
                                    route.path));
  }

  void RespondError(const ApiError& e) { DoRespond(e.status, kJson, ErrorBody(e)); }

  void DoRespond(int status, const std::string& content_type, std::string body) {
    if (closed_) return;
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(status), request_.version() ? request_.version() : 11);
    res->set(http::field::server, "mint");
    res->set(http::field::content_type, content_type);
    if (status == 503 || status == 429) res->set(http::field::retry_after, "1");
    res->keep_alive(keep_alive_);
    res->body() = std::move(body);
    res->prepare_payload();
    if (head_) res->body().clear();  // Content-Length still tells the GET body's size
    stream_.expires_after(std::chrono::seconds(opt().write_timeout_seconds));
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
    stream_.expires_after(std::chrono::seconds(opt().write_timeout_seconds));
    http::async_write_header(stream_, *serializer_,
                             [self = shared_from_this()](beast::error_code ec, size_t) {
                               self->writing_ = false;
                               if (ec) return self->Gone();
                               self->stream_.expires_never();
                               self->WriteNext();
                             });
  }

  void Enqueue(Item item) {
    if (closed_) return;
    unsent_ += item.data.size();
    if (unsent_ > opt().max_unsent_bytes) {
      log::Warn("a client stopped reading its stream ({} bytes unsent): aborting it", unsent_);
      return Gone();
    }
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
      self->unsent_ -= item->data.size();
      if (ec) return self->Gone();
      self->stream_.expires_never();
      if (item->kind == Item::kLastChunk) {
        self->serializer_.reset();
        self->stream_res_.reset();
        return self->AfterResponse(ec);
      }
      self->WriteNext();
    };
    // A client that does not read lets the socket buffer fill: the write then times out.
    stream_.expires_after(std::chrono::seconds(opt().write_timeout_seconds));
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
    stream_.expires_never();
    if (!keep_alive_) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      closed_ = true;
      return;
    }
    if (watching_) {
      // Stop the EOF watch; its handler then reads the next request (with the idle timeout).
      beast::error_code ignored;
      stream_.socket().cancel(ignored);
      return;
    }
    Read();
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
    if (closed_) return;
    if (ec == net::error::operation_aborted && !busy_) return Read();  // see AfterResponse
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
    unsent_ = 0;
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
  SessionContext* ctx_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> request_;
  std::optional<http::response<http::empty_body>> stream_res_;
  std::optional<http::response_serializer<http::empty_body>> serializer_;
  std::deque<Item> queue_;
  size_t unsent_ = 0;  // bytes of queue_ plus the chunk being written
  std::function<void()> on_gone_;
  bool keep_alive_ = true;
  bool head_ = false;  // the current request is HEAD: headers only
  bool writing_ = false;
  bool busy_ = false;  // a request is being answered
  bool watching_ = false;
  bool closed_ = false;
};

}  // namespace

class HttpServer::Impl {
 public:
  HttpServerOptions options;
  SessionContext ctx;
  net::io_context ioc;
  std::optional<net::thread_pool> handlers;
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::steady_timer> accept_backoff;
  int max_connections = 0;
  std::vector<std::thread> threads;
  std::mutex sessions_mu;
  std::vector<std::weak_ptr<Session>> sessions;  // guarded by sessions_mu
  bool stopped = false;
  std::chrono::steady_clock::time_point last_accept_warning{};

  void Accept() {
    acceptor->async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      if (ec == net::error::operation_aborted) return;
      if (ec == net::error::no_descriptors || ec.value() == ENFILE || ec == net::error::no_memory ||
          ec == net::error::no_buffer_space) {
        // Out of descriptors: retrying at once would spin. Wait, and say so at most every 10 s.
        const auto now = std::chrono::steady_clock::now();
        if (now - last_accept_warning > std::chrono::seconds(10)) {
          last_accept_warning = now;
          log::Warn("accept: {} ({} connections open); pausing accepts for 100 ms",
                    ec.message(), ctx.connections.load());
        }
        accept_backoff->expires_after(std::chrono::milliseconds(100));
        accept_backoff->async_wait([this](beast::error_code e) {
          if (!e) Accept();
        });
        return;
      }
      if (ec) {
        log::Warn("accept: {}", ec.message());
      } else {
        auto session = std::make_shared<Session>(std::move(s), &ctx);
        if (ctx.connections.load() > max_connections) {
          session->Refuse();
        } else {
          {
            std::lock_guard<std::mutex> lk(sessions_mu);
            if (sessions.size() > 1024) {
              std::erase_if(sessions, [](const auto& w) { return w.expired(); });
            }
            sessions.push_back(session);
          }
          session->Run();
        }
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
  impl->ctx.limits = {options.max_header_bytes, options.max_target_bytes, options.max_body_bytes};
  impl->ctx.hosts = http_gate::HostPolicy(
      options.api_key.empty() && (address.is_loopback() || !options.allowed_hosts.empty()),
      options.host, options.allowed_hosts);
  impl->max_connections = options.max_connections;
  if (impl->max_connections <= 0) {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    const rlim_t soft = rl.rlim_cur == RLIM_INFINITY ? 1 << 20 : rl.rlim_cur;
    impl->max_connections = static_cast<int>(std::max<rlim_t>(16, soft > 256 ? soft - 128 : soft / 2));
  }
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
  impl->accept_backoff.emplace(impl->ioc);
  impl->handlers.emplace(static_cast<size_t>(std::max(1, options.handler_threads)));
  impl->ctx.handlers = &*impl->handlers;
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
  impl_->ctx.stopping = true;
  net::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor->close(ec);
    impl_->accept_backoff->cancel();
  });
  {
    std::lock_guard<std::mutex> lk(impl_->sessions_mu);
    for (auto& w : impl_->sessions) {
      if (auto s = w.lock()) s->Close();
    }
  }
  // Requests already handed to a handler thread finish reaching the service before it can go.
  impl_->handlers->join();
}

}  // namespace mint::frontend
