// The HTTP edge under abuse: each test is a reproduction of a defect found by probing `mint serve`
// as an attacker or an unlucky client would (issue "Hardening"), asserting the fixed behaviour.
// The server runs in-process on a loopback port over a synthetic model and the real engine; the
// client side is raw sockets, so the bytes on the wire are exactly the ones written here.
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "../support/served_tiny_model.h"

namespace mint::frontend {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A running server over a synthetic model, with the HTTP options a test wants.
using Server = test_support::ServedTinyModel;

// A raw client connection.
class Conn {
 public:
  explicit Conn(uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  }
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  void Send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  // Reads until `done(received)` holds, the peer closes, or `timeout` passes.
  std::string ReadUntil(const std::function<bool(const std::string&)>& done,
                        std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto deadline = Clock::now() + timeout;
    while (!done(in_) && !closed_) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      in_.append(buf, static_cast<size_t>(n));
    }
    return in_;
  }
  // Waits for the peer to close; true if it did within `timeout`.
  bool WaitClosed(std::chrono::milliseconds timeout) {
    ReadUntil([](const std::string&) { return false; }, timeout);
    return closed_;
  }
  std::string& received() { return in_; }

 private:
  int fd_ = -1;
  std::string in_;
  bool closed_ = false;
};

// Complete HTTP/1.1 responses (Content-Length or chunked) at the start of `s`.
struct Response {
  int status = 0;
  std::string head;
  std::string body;
};
std::vector<Response> ParseResponses(const std::string& s, bool head_only_first = false) {
  std::vector<Response> out;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t end = s.find("\r\n\r\n", pos);
    if (end == std::string::npos) break;
    Response r;
    r.head = s.substr(pos, end + 4 - pos);
    r.status = std::atoi(r.head.c_str() + 9);
    size_t body_at = end + 4;
    std::string lower = r.head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool no_body = head_only_first && out.empty();
    if (lower.find("transfer-encoding: chunked") != std::string::npos && !no_body) {
      for (;;) {
        const size_t eol = s.find("\r\n", body_at);
        if (eol == std::string::npos) return out;
        const size_t len = std::stoul(s.substr(body_at, eol - body_at), nullptr, 16);
        if (eol + 2 + len + 2 > s.size()) return out;
        r.body += s.substr(eol + 2, len);
        body_at = eol + 2 + len + 2;
        if (len == 0) break;
      }
    } else if (const size_t cl = lower.find("content-length: "); cl != std::string::npos && !no_body) {
      const size_t len = std::stoul(lower.substr(cl + 16));
      if (body_at + len > s.size()) return out;
      r.body = s.substr(body_at, len);
      body_at += len;
    }
    pos = body_at;
    out.push_back(std::move(r));
  }
  return out;
}
auto HasResponses(size_t n, bool head_only_first = false) {
  return [n, head_only_first](const std::string& s) {
    return ParseResponses(s, head_only_first).size() >= n;
  };
}

std::string Post(const std::string& target, const std::string& body,
                 const std::string& extra_headers = "") {
  return "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
         extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}
const std::string kGetHealth = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
const std::string kCompletion = R"({"model":"tiny","prompt":"hello","max_tokens":8,"temperature":0})";

// Defect: a keep-alive connection that had carried a completion was never closed (the idle
// timer was not re-armed after the EOF watch that runs during generation).
TEST(HttpAbuseTest, KeepAliveConnectionIsClosedAfterIdleTimeoutFollowingACompletion) {
  Server s({.idle_timeout_seconds = 1});
  Conn c(s.port());
  c.Send(Post("/v1/completions", kCompletion));
  auto r = ParseResponses(c.ReadUntil(HasResponses(1)));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200);
  EXPECT_TRUE(c.WaitClosed(std::chrono::seconds(10))) << "the idle connection stayed open";
}

// Defect: a request pipelined behind a generation in the same TCP segment was never answered.
TEST(HttpAbuseTest, PipelinedRequestBehindAGenerationIsAnswered) {
  Server s;
  Conn c(s.port());
  c.Send(Post("/v1/completions", kCompletion) + kGetHealth);
  auto r = ParseResponses(c.ReadUntil(HasResponses(2)));
  ASSERT_EQ(r.size(), 2u) << c.received();
  EXPECT_EQ(r[0].status, 200);
  EXPECT_NE(r[0].body.find("\"choices\""), std::string::npos);
  EXPECT_EQ(r[1].status, 200);
  EXPECT_EQ(r[1].body, R"({"status":"ok"})");
}

// Defect: HEAD responses carried a body. The GET answered after it on the same connection would
// otherwise start with the HEAD's stray body.
TEST(HttpAbuseTest, HeadIsAnsweredWithoutABody) {
  Server s;
  for (const char* target : {"/health", "/"}) {
    Conn c(s.port());
    c.Send(std::string("HEAD ") + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + kGetHealth);
    auto r = ParseResponses(c.ReadUntil(HasResponses(2, true)), /*head_only_first=*/true);
    ASSERT_EQ(r.size(), 2u) << target << ": " << c.received();
    EXPECT_EQ(r[0].status, 200) << target;
    EXPECT_NE(r[0].head.find("Content-Length: "), std::string::npos) << target;
    EXPECT_EQ(r[1].status, 200) << target << ": " << c.received();
    EXPECT_EQ(r[1].body, R"({"status":"ok"})") << target;
  }
}

// Defect: malformed HTTP was dropped without a status; HTTP/1.1 without Host was accepted.
TEST(HttpAbuseTest, MalformedRequestsGet400414Or431) {
  Server s;
  auto status_of = [&](const std::string& bytes) {
    Conn c(s.port());
    c.Send(bytes);
    auto r = ParseResponses(c.ReadUntil(HasResponses(1)));
    EXPECT_TRUE(c.WaitClosed(std::chrono::seconds(5))) << "connection kept after an error";
    return r.empty() ? 0 : r[0].status;
  };
  EXPECT_EQ(status_of("GARBAGE\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /health HTTP/1.1\r\n\r\n"), 400) << "HTTP/1.1 without Host";
  EXPECT_EQ(status_of("GET /" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n"), 414);
  EXPECT_EQ(status_of("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n"), 414);
  EXPECT_EQ(status_of("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'b') +
                      "\r\n\r\n"),
            431);
  EXPECT_EQ(status_of("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n"),
            413);
  // HTTP/1.0 needs no Host.
  EXPECT_EQ(status_of("GET /health HTTP/1.0\r\n\r\n"), 200);
}

// Defect: 8 MB prompts were tokenized on the I/O threads before any length check. Now a prompt
// that cannot fit the context is refused from its size alone, and /health answers meanwhile.
TEST(HttpAbuseTest, OversizedPromptIsRefusedBeforeTokenizing) {
  Server s({.max_body_bytes = 16u << 20});
  const std::string body =
      R"({"model":"tiny","prompt":")" + std::string(8u << 20, 'a') + R"(","max_tokens":1})";
  Conn big1(s.port()), big2(s.port());
  big1.Send(Post("/v1/completions", body));
  big2.Send(Post("/v1/completions", body));
  Conn h(s.port());
  h.Send(kGetHealth);
  auto hr = ParseResponses(h.ReadUntil(HasResponses(1)));
  ASSERT_EQ(hr.size(), 1u);
  EXPECT_EQ(hr[0].status, 200);
  for (Conn* c : {&big1, &big2}) {
    auto r = ParseResponses(c->ReadUntil(HasResponses(1)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].status, 400);
    EXPECT_NE(r[0].body.find("8388608 bytes, at least"), std::string::npos) << r[0].body;
  }
}

// Defect: n > 1 was admitted one choice at a time: with 4 slots free, n=16 ran 4 choices to the
// end and then answered 503. Now the group is refused at once and nothing of it keeps running.
TEST(HttpAbuseTest, NChoicesAreAdmittedWholeOrNotAtAll) {
  engine::EngineConfig ec;
  ec.max_queued = 4;
  Server s({}, ec);
  Conn c(s.port());
  const auto t0 = Clock::now();
  c.Send(Post("/v1/completions",
              R"({"model":"tiny","prompt":"x","n":16,"max_tokens":1500,"ignore_eos":true})"));
  auto r = ParseResponses(c.ReadUntil(HasResponses(1)));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 503);
  EXPECT_NE(r[0].head.find("Retry-After: "), std::string::npos);
  s.engine()->WaitIdle();
  const engine::EngineMetrics m = s.engine()->Metrics();
  EXPECT_LT(m.generated_tokens, 4u * 1500u) << "admitted choices ran to the end";
  EXPECT_EQ(m.blocks.used, 0);
  (void)t0;
}

// Defect: streams had no backpressure: clients that stopped reading an n=16 stream grew the
// server without bound. Now a stream whose unsent bytes pass the bound is aborted and freed.
TEST(HttpAbuseTest, StreamThatIsNotReadIsAbortedAndFreed) {
  Server s({.write_timeout_seconds = 2, .max_unsent_bytes = 64 * 1024});
  Conn c(s.port(), /*rcvbuf=*/4096);
  c.Send(Post("/v1/completions",
              R"({"model":"tiny","prompt":"x","n":16,"max_tokens":1500,"ignore_eos":true,"stream":true})"));
  // Never read. The generation must be aborted well before 16 x 1500 tokens.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline && s.engine()->Metrics().requests_aborted < 16) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  s.engine()->WaitIdle();
  const engine::EngineMetrics m = s.engine()->Metrics();
  EXPECT_EQ(m.requests_aborted, 16u);
  EXPECT_LT(m.generated_tokens, 16u * 1500u);
  EXPECT_EQ(m.blocks.used, 0);
}

// 401s are counted, the key is checked, and a client that leaves is counted as 499, not 400.
TEST(HttpAbuseTest, UnauthorizedAndAbandonedRequestsAreCounted) {
  Server s({.api_key = "sekret"});
  for (const std::string auth : {"", "Authorization: Bearer sekreT\r\n",
                                 "Authorization: Bearer sekret2\r\n", "Authorization: sekret\r\n"}) {
    Conn c(s.port());
    c.Send(Post("/v1/completions", kCompletion, auth));
    auto r = ParseResponses(c.ReadUntil(HasResponses(1)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].status, 401) << auth;
  }
  {
    Conn c(s.port());
    c.Send(Post("/v1/completions",
                R"({"model":"tiny","prompt":"x","max_tokens":1500,"ignore_eos":true,"stream":true})",
                "Authorization: Bearer sekret\r\n"));
    c.ReadUntil([](const std::string& in) { return in.find("data: ") != std::string::npos; });
  }
  s.engine()->WaitIdle();
  std::string text;
  for (int i = 0; i < 100; ++i) {  // the 499 is counted once the abort has come back
    text = s.MetricsText();
    if (text.find(R"(endpoint="completions",status="499"} 1)") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(text.find(R"(endpoint="completions",status="401"} 4)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(endpoint="completions",status="499"} 1)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(endpoint="completions",status="400"} 0)"), std::string::npos) << text;
  // Refused requests were never in flight (the gauge does not go below zero).
  EXPECT_NE(text.find(R"(mint_frontend_inflight_requests{model="tiny"} 0)"), std::string::npos)
      << text;
}

// With no key, a web page (Origin) or a DNS-rebound name (Host) cannot drive the model.
TEST(HttpAbuseTest, HostAndOriginAreCheckedWhenNoKeyIsSet) {
  auto status_of = [](Server& s, const std::string& headers) {
    Conn c(s.port());
    c.Send("POST /v1/completions HTTP/1.1\r\n" + headers + "Content-Type: text/plain\r\n" +
           "Content-Length: " + std::to_string(kCompletion.size()) + "\r\n\r\n" + kCompletion);
    auto r = ParseResponses(c.ReadUntil(HasResponses(1)));
    return r.empty() ? 0 : r[0].status;
  };
  Server s;
  const std::string self = "127.0.0.1:" + std::to_string(s.port());
  EXPECT_EQ(status_of(s, "Host: " + self + "\r\n"), 200);
  EXPECT_EQ(status_of(s, "Host: localhost\r\n"), 200);
  EXPECT_EQ(status_of(s, "Host: [::1]:8000\r\n"), 200);
  EXPECT_EQ(status_of(s, "Host: evil.example:8000\r\n"), 403);
  EXPECT_EQ(status_of(s, "Host: " + self + "\r\nOrigin: http://" + self + "\r\n"), 200);
  EXPECT_EQ(status_of(s, "Host: " + self + "\r\nOrigin: https://evil.example\r\n"), 403);
  EXPECT_EQ(status_of(s, "Host: " + self + "\r\nOrigin: null\r\n"), 403);

  Server allow({.allowed_hosts = {"gpu-box.lan"}});
  EXPECT_EQ(status_of(allow, "Host: gpu-box.lan:8000\r\nOrigin: http://gpu-box.lan:8000\r\n"), 200);
  EXPECT_EQ(status_of(allow, "Host: other.lan\r\n"), 403);

  Server keyed({.api_key = "k"});  // with a key the key decides, whatever the Host
  EXPECT_EQ(status_of(keyed, "Host: evil.example\r\nAuthorization: Bearer k\r\n"), 200);
}

// Over --max-connections: 503 with Retry-After, and the connection is closed.
TEST(HttpAbuseTest, ConnectionsOverTheLimitGet503) {
  Server s({.max_connections = 2});
  Conn a(s.port()), b(s.port());
  a.Send(kGetHealth);
  b.Send(kGetHealth);
  ASSERT_EQ(ParseResponses(a.ReadUntil(HasResponses(1))).size(), 1u);
  ASSERT_EQ(ParseResponses(b.ReadUntil(HasResponses(1))).size(), 1u);
  Conn c(s.port());
  auto r = ParseResponses(c.ReadUntil(HasResponses(1)));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 503);
  EXPECT_NE(r[0].head.find("Retry-After: "), std::string::npos);
  EXPECT_TRUE(c.WaitClosed(std::chrono::seconds(5)));
}

// CPU seconds (user + system) a process has used, from /proc/PID/stat.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Defect: when descriptors ran out, accept retried in a tight loop (99 % CPU, ~1.5 M log lines in
// 6 s). The server runs in a child process with a small descriptor limit; connections beyond it
// wait in the backlog, and the server must idle, not spin, while they do.
TEST(HttpAbuseTest, OutOfDescriptorsDoesNotSpin) {
  int port_pipe[2];
  ASSERT_EQ(::pipe(port_pipe), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(port_pipe[0]);
    {
      Server s;
      // Room for a few connections only: count what is open now, plus 8.
      int open_fds = 0;
      for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
        (void)e;
        ++open_fds;
      }
      rlimit rl{static_cast<rlim_t>(open_fds + 8), static_cast<rlim_t>(open_fds + 8)};
      setrlimit(RLIMIT_NOFILE, &rl);
      const uint16_t port = s.port();
      if (::write(port_pipe[1], &port, sizeof(port)) != sizeof(port)) ::_exit(3);
      std::this_thread::sleep_for(std::chrono::seconds(8));
    }
    ::_exit(0);
  }
  ::close(port_pipe[1]);
  uint16_t port = 0;
  ASSERT_EQ(::read(port_pipe[0], &port, sizeof(port)), static_cast<ssize_t>(sizeof(port)));
  ::close(port_pipe[0]);
  std::vector<std::unique_ptr<Conn>> conns;
  for (int i = 0; i < 40; ++i) conns.push_back(std::make_unique<Conn>(port));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the limit is reached by now
  const double before = CpuSeconds(child);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const double used = CpuSeconds(child) - before;
  conns.clear();
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_LT(used, 0.5) << "the server used " << used << " CPU seconds in 2 s while out of descriptors";
}

// A client that sends a header slowly, or nothing after connecting, is cut off by the header
// and idle timeouts.
TEST(HttpAbuseTest, SilentAndSlowClientsAreCutOff) {
  Server s({.idle_timeout_seconds = 1, .header_timeout_seconds = 1});
  Conn silent(s.port());
  Conn slow(s.port());
  slow.Send("GET /health HTTP/1.1\r\n");
  EXPECT_TRUE(silent.WaitClosed(std::chrono::seconds(10)));
  EXPECT_TRUE(slow.WaitClosed(std::chrono::seconds(10)));
}

}  // namespace
}  // namespace mint::frontend
