#include "bench_lib/client.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <limits>
#include <memory>

namespace mint::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Result<Target> ParseUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return Status::InvalidArgument("--url must start with http:// (got '" + std::string(url) + "')");
  }
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  Target t;
  if (slash != std::string_view::npos) {
    t.base_path = std::string(rest.substr(slash));
    while (!t.base_path.empty() && t.base_path.back() == '/') t.base_path.pop_back();
  }
  size_t colon = hostport.rfind(':');
  if (colon != std::string_view::npos && hostport.find(']') == std::string_view::npos) {
    std::string port(hostport.substr(colon + 1));
    try {
      size_t used = 0;
      int p = std::stoi(port, &used);
      if (used != port.size() || p <= 0 || p > 65535) throw 0;
      t.port = static_cast<uint16_t>(p);
    } catch (...) {
      return Status::InvalidArgument("bad port in --url '" + std::string(url) + "'");
    }
    hostport = hostport.substr(0, colon);
  }
  if (hostport.empty()) return Status::InvalidArgument("no host in --url");
  t.host = std::string(hostport);
  return t;
}

std::string BuildRequestBody(const ClientOptions& opt, const BenchRequest& req) {
  nlohmann::json j = {
      {"model", opt.model},
      {"max_tokens", req.output_tokens},
      {"temperature", 0},
      {"stream", true},
      {"stream_options", {{"include_usage", true}}},
  };
  if (opt.ignore_eos) j["ignore_eos"] = true;
  if (opt.endpoint == Endpoint::kChat) {
    j["messages"] = nlohmann::json::array({{{"role", "user"}, {"content", req.prompt}}});
  } else if (!req.prompt_ids.empty()) {
    j["prompt"] = req.prompt_ids;
  } else {
    j["prompt"] = req.prompt;
  }
  if (!opt.extra_body.empty()) j.update(nlohmann::json::parse(opt.extra_body));
  return j.dump();
}

void SseAccumulator::Feed(std::string_view bytes, double now_s) {
  for (char c : bytes) {
    if (c != '\r') pending_.push_back(c);
  }
  size_t start = 0;
  while (true) {
    size_t end = pending_.find("\n\n", start);
    if (end == std::string::npos) break;
    std::string_view block(pending_.data() + start, end - start);
    start = end + 2;
    // Concatenate the block's data: lines (the SSE rule), ignoring comments and other fields.
    std::string data;
    size_t pos = 0;
    while (pos <= block.size()) {
      size_t nl = block.find('\n', pos);
      if (nl == std::string_view::npos) nl = block.size();
      std::string_view line = block.substr(pos, nl - pos);
      pos = nl + 1;
      if (line.substr(0, 5) == "data:") {
        line.remove_prefix(5);
        if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        if (!data.empty()) data.push_back('\n');
        data.append(line);
      }
    }
    if (!data.empty()) Event(data, now_s);
  }
  pending_.erase(0, start);
}

void SseAccumulator::Event(std::string_view data, double now_s) {
  if (data == "[DONE]") {
    done_ = true;
    return;
  }
  auto j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    if (rec_->error.empty()) rec_->error = "malformed SSE event";
    return;
  }
  if (auto e = j.find("error"); e != j.end() && !e->is_null()) {
    if (rec_->error.empty()) {
      rec_->error = e->is_object() && e->contains("message") && (*e)["message"].is_string()
                        ? "server error: " + (*e)["message"].get<std::string>()
                        : "server error";
    }
    return;
  }
  if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
    auto ct = u->find("completion_tokens");
    auto pt = u->find("prompt_tokens");
    if (ct != u->end() && ct->is_number_integer()) {
      rec_->output_tokens = ct->get<int>();
      rec_->usage_reported = true;
    }
    if (pt != u->end() && pt->is_number_integer()) rec_->input_tokens = pt->get<int>();
  }
  auto ch = j.find("choices");
  if (ch == j.end() || !ch->is_array() || ch->empty()) return;
  const auto& c0 = (*ch)[0];
  bool content = false;
  auto nonempty = [](const nlohmann::json& o, const char* key) {
    auto it = o.find(key);
    return it != o.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
  };
  if (endpoint_ == Endpoint::kChat) {
    auto d = c0.find("delta");
    content = d != c0.end() && d->is_object() &&
              (nonempty(*d, "content") || nonempty(*d, "reasoning_content"));
  } else {
    content = nonempty(c0, "text");
  }
  // A stream whose tokens render as no text (say, one byte of an unfinished UTF-8 character)
  // still produced them: its finishing chunk stands for the first token.
  if (!content && chunks_ == 0) {
    auto f = c0.find("finish_reason");
    content = f != c0.end() && f->is_string();
  }
  if (!content) return;
  if (chunks_ == 0) {
    rec_->ttft_s = now_s - rec_->start_s;
  } else {
    rec_->itl_s.push_back(now_s - last_s_);
  }
  rec_->token_times_s.push_back(now_s);
  last_s_ = now_s;
  ++chunks_;
}

void SseAccumulator::Finish() {
  if (!rec_->usage_reported) rec_->output_tokens = chunks_;
  if (!rec_->error.empty()) return;
  if (chunks_ == 0) {
    rec_->error = "no content in the stream";
  } else if (!done_) {
    rec_->error = "stream ended before [DONE]";
  }
}

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(asio::io_context& io, const ClientOptions& opt, const BenchRequest& req, bool warmup,
          RunClock::time_point origin, std::function<void(RequestRecord)> done)
      : stream_(io), opt_(opt), origin_(origin), done_(std::move(done)), sse_(opt.endpoint, &rec_) {
    rec_.index = req.index;
    rec_.warmup = warmup;
    rec_.input_tokens = req.input_tokens;
    request_.method(http::verb::post);
    request_.target(opt.target.base_path +
                    (opt.endpoint == Endpoint::kChat ? "/v1/chat/completions" : "/v1/completions"));
    request_.version(11);
    request_.set(http::field::host, opt.target.host + ":" + std::to_string(opt.target.port));
    request_.set(http::field::content_type, "application/json");
    request_.set(http::field::accept, "text/event-stream");
    request_.set(http::field::connection, "close");
    if (!opt.api_key.empty()) request_.set(http::field::authorization, "Bearer " + opt.api_key);
    request_.body() = BuildRequestBody(opt, req);
    request_.prepare_payload();
    parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
  }

  void Start(const tcp::endpoint& ep) {
    rec_.start_s = Now();
    stream_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(opt_.timeout_s)));
    stream_.async_connect(ep, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->Fail("connect: " + ec.message());
      http::async_write(self->stream_, self->request_,
                        [self](beast::error_code ec, size_t) {
                          if (ec) return self->Fail("write: " + ec.message());
                          self->ReadHeader();
                        });
    });
  }

 private:
  double Now() const {
    return std::chrono::duration<double>(RunClock::now() - origin_).count();
  }

  void ReadHeader() {
    http::async_read_header(stream_, buffer_, parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->Fail("read header: " + ec.message());
                              self->status_ = self->parser_.get().result_int();
                              self->ReadSome();
                            });
  }

  void ReadSome() {
    if (parser_.is_done()) return Complete();
    parser_.get().body().data = chunk_;
    parser_.get().body().size = sizeof(chunk_);
    http::async_read_some(stream_, buffer_, parser_,
                          [self = shared_from_this()](beast::error_code ec, size_t) {
                            self->OnRead(ec);
                          });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    size_t n = sizeof(chunk_) - parser_.get().body().size;
    std::string_view bytes(chunk_, n);
    if (n > 0) {
      if (status_ == 200) {
        sse_.Feed(bytes, Now());
      } else if (error_body_.size() < 2048) {
        error_body_.append(bytes.substr(0, 2048 - error_body_.size()));
      }
    }
    if (ec) return Fail("read body: " + ec.message());
    ReadSome();
  }

  void Complete() {
    rec_.end_s = Now();
    if (status_ != 200) {
      std::string msg = "HTTP " + std::to_string(status_);
      auto j = nlohmann::json::parse(error_body_, nullptr, false);
      if (j.is_object() && j.contains("error") && j["error"].is_object() &&
          j["error"].contains("message") && j["error"]["message"].is_string()) {
        msg += ": " + j["error"]["message"].get<std::string>();
      }
      rec_.error = msg;
      sse_.Finish();
      return Deliver();
    }
    sse_.Finish();
    Deliver();
  }

  void Fail(std::string why) {
    rec_.end_s = Now();
    sse_.Finish();
    if (rec_.error.empty() || rec_.error == "no content in the stream" ||
        rec_.error == "stream ended before [DONE]") {
      rec_.error = std::move(why);
    }
    Deliver();
  }

  void Deliver() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    auto done = std::move(done_);
    done_ = nullptr;
    if (done) done(std::move(rec_));
  }

  beast::tcp_stream stream_;
  const ClientOptions& opt_;
  RunClock::time_point origin_;
  std::function<void(RequestRecord)> done_;
  RequestRecord rec_;
  SseAccumulator sse_;
  http::request<http::string_body> request_;
  beast::flat_buffer buffer_;
  http::response_parser<http::buffer_body> parser_;
  char chunk_[16384];
  unsigned status_ = 0;
  std::string error_body_;
};

}  // namespace

void StartStreamingRequest(asio::io_context& io, const tcp::endpoint& endpoint,
                           const ClientOptions& opt, const BenchRequest& req, bool warmup,
                           RunClock::time_point origin, std::function<void(RequestRecord)> done) {
  auto s = std::make_shared<Session>(io, opt, req, warmup, origin, std::move(done));
  s->Start(endpoint);
}

Result<tcp::endpoint> Resolve(const Target& target) {
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::error_code ec;
  auto results = resolver.resolve(target.host, std::to_string(target.port), ec);
  if (ec || results.empty()) {
    return Status::Unavailable("cannot resolve '" + target.host + "': " + ec.message());
  }
  return results.begin()->endpoint();
}

Result<std::string> HttpGet(const Target& target, const std::string& path, double timeout_s) {
  auto ep = Resolve(target);
  if (!ep.ok()) return ep.status();
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(timeout_s)));
  beast::error_code ec;
  stream.connect(*ep, ec);
  if (ec) return Status::Unavailable("connect: " + ec.message());
  http::request<http::empty_body> req{http::verb::get, target.base_path + path, 11};
  req.set(http::field::host, target.host);
  req.set(http::field::connection, "close");
  http::write(stream, req, ec);
  if (ec) return Status::Unavailable("write: " + ec.message());
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res, ec);
  if (ec) return Status::Unavailable("read: " + ec.message());
  if (res.result_int() != 200) {
    return Status::NotFound("GET " + path + ": HTTP " + std::to_string(res.result_int()));
  }
  return std::move(res.body());
}

}  // namespace mint::bench
