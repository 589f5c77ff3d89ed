// `mint serve` in-process: a synthetic model, the real engine, the OpenAI service and the Beast
// HTTP server on a loopback port, driven by a plain HTTP client. Routes, errors, auth, streaming,
// client disconnects, a full queue, and 1,000 concurrent streams.
#include <sys/resource.h>

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "engine/engine.h"
#include "frontend/backend.h"
#include "frontend/http_server.h"
#include "frontend/metrics.h"
#include "frontend/service.h"
#include "model/model.h"
#include "model/synth.h"
#include "tokenizer/tokenizer.h"
#include "../support/served_tiny_model.h"

namespace mint::frontend {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using nlohmann::json;

struct Reply {
  int status = 0;
  std::string body;
  std::string content_type;
};

// A running server over a synthetic model, and a plain HTTP client for it.
class Fixture : public test_support::ServedTinyModel {
 public:
  explicit Fixture(engine::EngineConfig ec = {}, std::string api_key = "")
      : ServedTinyModel({.api_key = std::move(api_key), .max_body_bytes = 64 * 1024}, ec) {}

  Reply Send(http::verb verb, const std::string& target, const std::string& body = "",
             const std::string& auth = "") {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port()));
    http::request<http::string_body> req(verb, target, 11);
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    if (!auth.empty()) req.set(http::field::authorization, auth);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    http::read(stream, buf, parser);
    Reply r;
    r.status = parser.get().result_int();
    r.body = parser.get().body();
    r.content_type = std::string(parser.get()[http::field::content_type]);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return r;
  }
};

// The JSON payloads of an SSE body ("data: ..." lines), without [DONE]; *done tells if it came.
std::vector<json> SseEvents(const std::string& body, bool* done) {
  std::vector<json> out;
  *done = false;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) end = body.size();
    const std::string ev = body.substr(pos, end - pos);
    pos = end + 2;
    if (ev.rfind("data: ", 0) != 0) continue;
    const std::string data = ev.substr(6);
    if (data == "[DONE]") {
      *done = true;
      continue;
    }
    out.push_back(json::parse(data));
  }
  return out;
}

const char kChat[] =
    R"({"model":"tiny","messages":[{"role":"user","content":"hello there"}],"max_tokens":12,"temperature":0)";

TEST(ServerTest, RoutesAndErrorsHaveOpenAiShape) {
  Fixture f;
  EXPECT_EQ(f.Send(http::verb::get, "/health").status, 200);
  Reply models = f.Send(http::verb::get, "/v1/models");
  ASSERT_EQ(models.status, 200);
  EXPECT_EQ(json::parse(models.body)["data"][0]["id"], "tiny");
  Reply one = f.Send(http::verb::get, "/v1/models/tiny");
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(json::parse(one.body)["id"], "tiny");
  EXPECT_EQ(json::parse(one.body)["object"], "model");
  EXPECT_EQ(f.Send(http::verb::get, "/v1/models/other").status, 404);
  EXPECT_EQ(f.Send(http::verb::get, "/nope").status, 404);
  EXPECT_EQ(f.Send(http::verb::delete_, "/v1/models").status, 405);
  EXPECT_EQ(f.Send(http::verb::get, "/v1/chat/completions").status, 405);
  Reply page = f.Send(http::verb::get, "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("/v1/chat/completions"), std::string::npos);

  Reply bad_json = f.Send(http::verb::post, "/v1/chat/completions", "{\"model\":");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(json::parse(bad_json.body)["error"]["type"], "invalid_request_error");
  Reply bad_temp = f.Send(http::verb::post, "/v1/chat/completions",
                          R"({"model":"tiny","messages":[{"role":"user","content":"x"}],"temperature":5})");
  EXPECT_EQ(bad_temp.status, 400);
  EXPECT_EQ(json::parse(bad_temp.body)["error"]["param"], "temperature");
  Reply unknown = f.Send(http::verb::post, "/v1/completions", R"({"model":"gpt-4","prompt":"x"})");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(json::parse(unknown.body)["error"]["code"], "model_not_found");
  Reply big = f.Send(http::verb::post, "/v1/completions",
                     R"({"model":"tiny","prompt":")" + std::string(100000, 'a') + "\"}");
  EXPECT_EQ(big.status, 413);
  Reply too_long = f.Send(http::verb::post, "/v1/completions",
                          R"({"model":"tiny","prompt":"hi","max_tokens":5000})");
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(json::parse(too_long.body)["error"]["param"], "max_tokens");

  Reply metrics = f.Send(http::verb::get, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("mint_frontend_requests_total{model=\"tiny\""), std::string::npos);
  EXPECT_NE(metrics.body.find("mint_cost_per_million_tokens"), std::string::npos);
}

TEST(ServerTest, ApiKeyGuardsTheApiOnly) {
  Fixture f({}, "sekret");
  EXPECT_EQ(f.Send(http::verb::get, "/v1/models").status, 401);
  EXPECT_EQ(f.Send(http::verb::get, "/v1/models", "", "Bearer wrong").status, 401);
  EXPECT_EQ(f.Send(http::verb::get, "/v1/models", "", "Bearer sekret").status, 200);
  EXPECT_EQ(f.Send(http::verb::get, "/health").status, 200);
  EXPECT_EQ(f.Send(http::verb::post, "/v1/chat/completions", std::string(kChat) + "}",
                   "Bearer sekret")
                .status,
            200);
}

TEST(ServerTest, StreamingMatchesNonStreamingAndEndsWithDone) {
  Fixture f;
  Reply whole = f.Send(http::verb::post, "/v1/chat/completions", std::string(kChat) + "}");
  ASSERT_EQ(whole.status, 200) << whole.body;
  const json w = json::parse(whole.body);
  const std::string content = w["choices"][0]["message"]["content"];
  EXPECT_EQ(w["usage"]["completion_tokens"].get<int>() + w["usage"]["prompt_tokens"].get<int>(),
            w["usage"]["total_tokens"].get<int>());

  Reply stream = f.Send(http::verb::post, "/v1/chat/completions",
                        std::string(kChat) +
                            R"(,"stream":true,"stream_options":{"include_usage":true}})");
  ASSERT_EQ(stream.status, 200);
  EXPECT_EQ(stream.content_type, "text/event-stream");
  bool done = false;
  const auto events = SseEvents(stream.body, &done);
  EXPECT_TRUE(done);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events[0]["choices"][0]["delta"]["role"], "assistant");
  std::string streamed;
  int finishes = 0;
  for (const json& e : events) {
    EXPECT_EQ(e["id"], events[0]["id"]);
    if (e["choices"].empty()) continue;
    const json& d = e["choices"][0]["delta"];
    if (d.contains("content")) streamed += d["content"].get<std::string>();
    if (!e["choices"][0]["finish_reason"].is_null()) ++finishes;
  }
  EXPECT_EQ(streamed, content);
  EXPECT_EQ(finishes, 1);
  EXPECT_TRUE(events.back()["choices"].empty());
  EXPECT_EQ(events.back()["usage"]["completion_tokens"], w["usage"]["completion_tokens"]);
}

TEST(ServerTest, ClientDisconnectAbortsTheRequestAndFreesItsBlocks) {
  Fixture f;
  net::io_context ioc;
  tcp::socket sock(ioc);
  sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), f.port()));
  const std::string body =
      R"({"model":"tiny","prompt":"a long story","max_tokens":2000,"temperature":0.7,"stream":true,"ignore_eos":true})";
  const std::string req = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                          "application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
  net::write(sock, net::buffer(req));
  char buf[512];
  sock.read_some(net::buffer(buf));  // the stream has started
  sock.close();
  f.engine()->WaitIdle();
  const engine::EngineMetrics m = f.engine()->Metrics();
  EXPECT_EQ(m.requests_aborted, 1u);
  EXPECT_LT(m.generated_tokens, 2000u);
  EXPECT_EQ(m.blocks.used, 0);
}

TEST(ServerTest, FullQueueAnswers503) {
  engine::EngineConfig ec;
  ec.max_queued = 1;
  Fixture f(ec);
  net::io_context ioc;
  tcp::socket sock(ioc);
  sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), f.port()));
  const std::string body =
      R"({"model":"tiny","prompt":"x","max_tokens":1500,"stream":true,"ignore_eos":true})";
  const std::string req = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
  net::write(sock, net::buffer(req));
  char buf[256];
  sock.read_some(net::buffer(buf));  // the first request holds the only slot
  Reply second = f.Send(http::verb::post, "/v1/completions", R"({"model":"tiny","prompt":"y"})");
  EXPECT_EQ(second.status, 503);
  EXPECT_EQ(json::parse(second.body)["error"]["type"], "overloaded_error");
  sock.close();
  f.engine()->WaitIdle();
  EXPECT_EQ(f.engine()->Metrics().blocks.used, 0);
}

long RssKiB() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      long kb = 0;
      in >> kb;
      return kb;
    }
    in.ignore(1 << 12, '\n');
  }
  return 0;
}

// 1,000 concurrent streaming requests from an asynchronous client.
TEST(ServerTest, AThousandConcurrentStreamsAllComplete) {
  engine::EngineConfig ec;
  ec.max_queued = 2000;
  ec.scheduler.max_num_seqs = 128;
  ec.kv_cache_blocks = 2048;
  Fixture f(ec);
  constexpr int kClients = 1000;
  struct Client {
    tcp::socket sock;
    std::string request;
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    bool ok = false;
    explicit Client(net::io_context& ioc) : sock(ioc) {}
  };
  const long rss_before = RssKiB();
  for (int round = 0; round < 2; ++round) {
    net::io_context ioc;
    std::vector<std::unique_ptr<Client>> clients;
    const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), f.port());
    for (int i = 0; i < kClients; ++i) {
      auto c = std::make_unique<Client>(ioc);
      const std::string body = R"({"model":"tiny","prompt":"story )" + std::to_string(i) +
                               R"(","max_tokens":6,"stream":true,"ignore_eos":true})";
      c->request = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body;
      Client* raw = c.get();
      raw->sock.async_connect(ep, [raw](beast::error_code ec) {
        if (ec) return;
        net::async_write(raw->sock, net::buffer(raw->request), [raw](beast::error_code ec2, size_t) {
          if (ec2) return;
          http::async_read(raw->sock, raw->buf, raw->res, [raw](beast::error_code ec3, size_t) {
            raw->ok = !ec3 && raw->res.result_int() == 200;
          });
        });
      });
      clients.push_back(std::move(c));
    }
    ioc.run();
    int ok = 0, complete = 0;
    for (const auto& c : clients) {
      ok += c->ok;
      bool done = false;
      const auto events = SseEvents(c->res.body(), &done);
      int text_chunks = 0;
      for (const json& e : events) text_chunks += !e["choices"].empty();
      complete += done && text_chunks >= 1;
    }
    EXPECT_EQ(ok, kClients) << "round " << round;
    EXPECT_EQ(complete, kClients) << "round " << round;
  }
  f.engine()->WaitIdle();
  const engine::EngineMetrics m = f.engine()->Metrics();
  EXPECT_EQ(m.blocks.used, 0);
  EXPECT_EQ(m.running + m.waiting, 0);
  Reply metrics = f.Send(http::verb::get, "/metrics");
  EXPECT_NE(metrics.body.find("mint_kv_blocks{model=\"tiny\",state=\"used\"} 0"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("mint_frontend_inflight_requests{model=\"tiny\"} 0"),
            std::string::npos);
  // Memory returns to about where it was: two rounds of 1,000 streams leave no growth that
  // scales with the number of requests (allocator caches keep a few MiB). Not under
  // AddressSanitizer (its quarantine holds freed memory on purpose) or ThreadSanitizer (shadow).
  const long rss_after = RssKiB();
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  EXPECT_LT(rss_after - rss_before, 64 * 1024) << "RSS grew from " << rss_before << " to "
                                               << rss_after << " KiB";
#endif
  std::printf("RSS before %ld KiB, after two rounds of %d streams %ld KiB\n", rss_before, kClients,
              rss_after);
}

}  // namespace
}  // namespace mint::frontend
