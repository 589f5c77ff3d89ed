// The streaming OpenAI client of `mint bench`: one POST per request to /v1/completions or
// /v1/chat/completions with "stream": true and stream_options.include_usage, read
// incrementally with Boost.Beast so every server-sent event is timestamped (steady clock) when
// its bytes arrive. Many requests share one io_context thread; nothing blocks.
//
// A "content chunk" is an event whose first choice carries non-empty text (completions:
// choices[0].text; chat: choices[0].delta.content or delta.reasoning_content). TTFT is the
// first content chunk's arrival minus the request's start (before connect); ITL is each gap
// between consecutive content chunks (a server that batches several tokens per chunk reports
// fewer, longer gaps). Output tokens come from the final usage chunk, else the chunk count.
//
// Thread-safety: StartStreamingRequest must be called on the io_context's thread (or before
// it runs); `done` runs on that thread. The pure helpers are free functions.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "bench_lib/stats.h"
#include "bench_lib/workload.h"
#include "core/status.h"

namespace mint::bench {

struct Target {
  std::string host;
  uint16_t port = 80;
  std::string base_path;  // prefix before /v1/..., without a trailing slash ("" usually)
};
// Parses "http://HOST[:PORT][/base]". https is not supported.
Result<Target> ParseUrl(std::string_view url);

enum class Endpoint { kCompletions, kChat };

struct ClientOptions {
  Target target;
  std::string model;
  Endpoint endpoint = Endpoint::kCompletions;
  std::string api_key;     // sent as "Authorization: Bearer ..." when non-empty
  double timeout_s = 600;  // per request, connect to last byte
  bool ignore_eos = true;  // so that max_tokens is honoured
  // Fields merged into every request body (a JSON object's text, e.g. a response_format), over
  // the ones the benchmark sets. Empty: none.
  std::string extra_body;
};

// The JSON body sent for `req`: model, prompt (or one user message), max_tokens =
// req.output_tokens, ignore_eos, temperature 0, stream with include_usage, then extra_body's
// fields (checked by the caller to be a JSON object).
std::string BuildRequestBody(const ClientOptions& opt, const BenchRequest& req);

// Accumulates a server-sent-event stream into a RequestRecord. Feed() bytes as they arrive
// with their arrival time (run clock, seconds); Finish() at end of stream.
class SseAccumulator {
 public:
  SseAccumulator(Endpoint endpoint, RequestRecord* record) : endpoint_(endpoint), rec_(record) {}
  void Feed(std::string_view bytes, double now_s);
  // Sets the error if the stream ended without [DONE] or without any content.
  void Finish();
  bool done() const { return done_; }
  int content_chunks() const { return chunks_; }

 private:
  void Event(std::string_view data, double now_s);

  Endpoint endpoint_;
  RequestRecord* rec_;
  std::string pending_;
  bool done_ = false;
  int chunks_ = 0;
  double last_s_ = 0;
};

using RunClock = std::chrono::steady_clock;

// Starts one streaming request on `io`: connects to `endpoint`, sends the request, measures.
// `done` is called exactly once, with the record (error set on failure). Times in the record
// are seconds since `origin`.
void StartStreamingRequest(boost::asio::io_context& io,
                           const boost::asio::ip::tcp::endpoint& endpoint,
                           const ClientOptions& opt, const BenchRequest& req, bool warmup,
                           RunClock::time_point origin, std::function<void(RequestRecord)> done);

// Resolves target.host synchronously (once per run).
Result<boost::asio::ip::tcp::endpoint> Resolve(const Target& target);

// A blocking GET of `path` (e.g. "/metrics"); the body on 200, an error otherwise.
Result<std::string> HttpGet(const Target& target, const std::string& path, double timeout_s);

}  // namespace mint::bench
