// An in-process fake OpenAI streaming server for the bench tests: raw Asio on its own thread,
// 127.0.0.1 on an ephemeral port. Each POST gets a chunked text/event-stream response whose
// first content event is written `ttft` after the request was read and the next ones every
// `itl` (absolute schedule, no drift), then a usage event and [DONE]. The number of content
// events is the request's max_tokens; /v1/chat/completions gets chat deltas after a role-only
// first event. The server records when it wrote each event.
#pragma once

#include <boost/asio.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mint::bench::testing {

class FakeServer {
 public:
  using Clock = std::chrono::steady_clock;
  struct Script {
    std::chrono::microseconds ttft{50000};
    std::chrono::microseconds itl{10000};
    int status = 200;  // non-200: a JSON error body instead of a stream
  };
  struct Trace {
    Clock::time_point request_read;          // when the request body was complete
    std::vector<Clock::time_point> writes;   // when each content event was written
    std::string body;                        // the request body
  };

  explicit FakeServer(Script script) : script_(script), acceptor_(io_) {
    using boost::asio::ip::tcp;
    tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(4096);
    port_ = acceptor_.local_endpoint().port();
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeServer() {
    boost::asio::post(io_, [this] { acceptor_.close(); });
    work_guard_.reset();
    io_.stop();
    thread_.join();
  }

  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<Trace> traces() {
    std::lock_guard<std::mutex> lock(mu_);
    return traces_;
  }
  int max_open() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_open_;
  }

 private:
  class Conn : public std::enable_shared_from_this<Conn> {
   public:
    Conn(FakeServer* s, boost::asio::ip::tcp::socket sock)
        : s_(s), sock_(std::move(sock)), timer_(s->io_) {}
    void Start() {
      auto self = shared_from_this();
      boost::asio::async_read_until(sock_, in_, "\r\n\r\n",
                                    [self](boost::system::error_code ec, size_t n) {
                                      if (ec) return self->Close();
                                      self->OnHeader(n);
                                    });
    }

   private:
    void OnHeader(size_t header_len) {
      std::string all(boost::asio::buffers_begin(in_.data()), boost::asio::buffers_end(in_.data()));
      std::string header = all.substr(0, header_len);
      std::transform(header.begin(), header.end(), header.begin(), ::tolower);
      size_t cl = 0;
      if (auto p = header.find("content-length:"); p != std::string::npos) {
        cl = std::stoul(header.substr(p + 15));
      }
      chat_ = header.find("post /v1/chat/completions") != std::string::npos;
      size_t have = all.size() - header_len;
      auto self = shared_from_this();
      if (have >= cl) return OnBody(all.substr(header_len));
      boost::asio::async_read(sock_, in_, boost::asio::transfer_exactly(cl - have),
                              [self, header_len](boost::system::error_code ec, size_t) {
                                if (ec) return self->Close();
                                std::string all(boost::asio::buffers_begin(self->in_.data()),
                                                boost::asio::buffers_end(self->in_.data()));
                                self->OnBody(all.substr(header_len));
                              });
    }

    void OnBody(const std::string& body) {
      trace_.request_read = Clock::now();
      trace_.body = body;
      tokens_ = 16;
      if (auto p = body.find("\"max_tokens\":"); p != std::string::npos) {
        tokens_ = std::stoi(body.substr(p + 13));
      }
      if (s_->script_.status != 200) {
        std::string err = R"({"error":{"message":"scripted failure","type":"server_error"}})";
        out_ = "HTTP/1.1 " + std::to_string(s_->script_.status) +
               " Error\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(err.size()) + "\r\nConnection: close\r\n\r\n" + err;
        return Write(true);
      }
      out_ =
          "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
          "Connection: close\r\n\r\n";
      // Chat streams open with a role-only delta (no content: not a token).
      if (chat_) out_ += Chunk(R"(data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]})" "\n\n");
      Write(false);
      Schedule();
    }

    static std::string Chunk(const std::string& data) {
      char size[32];
      std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
      return size + data + "\r\n";
    }

    void Schedule() {
      timer_.expires_at(trace_.request_read + s_->script_.ttft + s_->script_.itl * sent_);
      auto self = shared_from_this();
      timer_.async_wait([self](boost::system::error_code ec) {
        if (ec) return self->Close();
        self->Emit();
      });
    }

    // The usage event and [DONE] go out with the last content event (in the same write).
    void Emit() {
      out_.clear();
      if (sent_ < tokens_) {
        out_ = chat_ ? Chunk(R"(data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" tok"}}]})"
                             "\n\n")
                     : Chunk(R"(data: {"id":"x","object":"text_completion","choices":[{"index":0,"text":" tok","finish_reason":null}]})"
                             "\n\n");
        trace_.writes.push_back(Clock::now());
        ++sent_;
        if (sent_ < tokens_) {
          Write(false);
          return Schedule();
        }
      }
      out_ += Chunk(R"(data: {"id":"x","object":"text_completion","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":)" +
                   std::to_string(tokens_) + "}}\n\n") +
             Chunk("data: [DONE]\n\n") + "0\r\n\r\n";
      Write(true);
    }

    // Writes out_ synchronously (tiny, non-blocking in practice on loopback).
    void Write(bool last) {
      // The trace is recorded before the last bytes leave: a client that has its whole response
      // (and so a test that has all of them) always finds the trace.
      if (last) Record();
      boost::system::error_code ec;
      boost::asio::write(sock_, boost::asio::buffer(out_), ec);
      if (last || ec) Close();
    }

    void Record() {
      if (recorded_) return;
      recorded_ = true;
      std::lock_guard<std::mutex> lock(s_->mu_);
      s_->traces_.push_back(trace_);
    }

    void Close() {
      if (closed_) return;
      closed_ = true;
      timer_.cancel();
      Record();
      {
        std::lock_guard<std::mutex> lock(s_->mu_);
        --s_->open_;
      }
      boost::system::error_code ec;
      sock_.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
      sock_.close(ec);
    }

    bool recorded_ = false;
    FakeServer* s_;
    boost::asio::ip::tcp::socket sock_;
    boost::asio::steady_timer timer_;
    boost::asio::streambuf in_;
    std::string out_;
    Trace trace_;
    int tokens_ = 0;
    int sent_ = 0;
    bool closed_ = false;
    bool chat_ = false;
  };

  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, boost::asio::ip::tcp::socket s) {
      if (ec) return;
      {
        std::lock_guard<std::mutex> lock(mu_);
        max_open_ = std::max(max_open_, ++open_);
      }
      std::make_shared<Conn>(this, std::move(s))->Start();
      Accept();
    });
  }

  Script script_;
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_guard_ =
      boost::asio::make_work_guard(io_);
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Trace> traces_;
  int open_ = 0;
  int max_open_ = 0;
};

}  // namespace mint::bench::testing
