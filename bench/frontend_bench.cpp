// What the frontend adds on top of the engine: the same completion (prompt, greedy, fixed number
// of tokens) through the engine API alone, and through HTTP (keep-alive connection) as one JSON
// response and as an SSE stream. Per-request overhead = HTTP - engine at 1 token; per-token
// overhead = the difference of the slopes between 1 and 64 tokens. Results in docs/perf.md.
#include <benchmark/benchmark.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>

#include "engine/engine.h"
#include "frontend/http_server.h"
#include "frontend/metrics.h"
#include "frontend/service.h"
#include "model/model.h"
#include "model/synth.h"
#include "tokenizer/tokenizer.h"
#include "worker/local_backend.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace mint;

const char kPrompt[] = "Once upon a time there was a little robot who wanted to learn to sing";

struct Stack {
  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<worker::LocalBackend> backend;
  std::unique_ptr<frontend::FrontendMetrics> metrics;
  std::unique_ptr<frontend::OpenAiService> service;
  std::unique_ptr<frontend::HttpServer> server;
  std::vector<int32_t> prompt_ids;

  Stack() {
    const std::string path = (std::filesystem::temp_directory_path() / "mint_frontend_bench.gguf").string();
    model::SynthOptions o{.preset = "tiny", .type = model::SynthFileType::kQ8_0, .seed = 1,
                          .vocab = "builtin"};
    if (!model::WriteSynthModel(o, path).ok()) std::abort();
    model = std::move(model::Model::Load(path)).value();
    tok = std::move(tokenizer::Tokenizer::FromGguf(model->file())).value();
    engine::EngineConfig ec;
    ec.kv_cache_blocks = 512;
    ec.threads = 1;
    ec.scheduler.max_model_len = 1024;
    ec.enable_prefix_cache = false;  // identical work every iteration
    engine = std::move(engine::Engine::Create(model.get(), ec)).value();
    backend = std::make_unique<worker::LocalBackend>(engine.get());
    metrics = std::make_unique<frontend::FrontendMetrics>(frontend::MetricsOptions{.model = "tiny"});
    service = std::move(frontend::OpenAiService::Create({.model_name = "tiny"}, tok.get(),
                                                        backend.get(), metrics.get()))
                  .value();
    server = std::move(frontend::HttpServer::Start({.port = 0, .io_threads = 1}, metrics.get())).value();
    server->Attach(service.get(), backend.get());
    prompt_ids = std::move(tok->Encode(kPrompt, true, false)).value();
  }
  ~Stack() {
    server->Shutdown();
    backend->Close();
    engine.reset();
    server.reset();
  }
};

Stack& GetStack() {
  static Stack* s = new Stack();  // lives for the process (benchmarks share it)
  return *s;
}

void BM_EngineAlone(benchmark::State& state) {
  Stack& s = GetStack();
  for (auto _ : state) {
    engine::Request r;
    r.prompt = s.prompt_ids;
    r.sampling.temperature = 0;
    r.max_tokens = state.range(0);
    auto out = engine::RunToCompletion(s.engine.get(), r);
    if (!out.ok() || static_cast<int64_t>(out->tokens.size()) != state.range(0)) {
      state.SkipWithError("engine run failed");
    }
  }
  state.counters["tokens"] = static_cast<double>(state.range(0));
}

void HttpRun(benchmark::State& state, bool stream) {
  Stack& s = GetStack();
  net::io_context ioc;
  beast::tcp_stream conn(ioc);
  conn.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), s.server->port()));
  const std::string body = std::string(R"({"model":"tiny","prompt":")") + kPrompt +
                           R"(","temperature":0,"ignore_eos":true,"max_tokens":)" +
                           std::to_string(state.range(0)) + (stream ? R"(,"stream":true})" : "}");
  beast::flat_buffer buf;
  for (auto _ : state) {
    http::request<http::string_body> req(http::verb::post, "/v1/completions", 11);
    req.set(http::field::host, "127.0.0.1");
    req.body() = body;
    req.prepare_payload();
    http::write(conn, req);
    http::response<http::string_body> res;
    http::read(conn, buf, res);
    if (res.result_int() != 200) state.SkipWithError("HTTP request failed");
  }
  state.counters["tokens"] = static_cast<double>(state.range(0));
}

void BM_HttpCompletion(benchmark::State& state) { HttpRun(state, false); }
void BM_HttpCompletionStream(benchmark::State& state) { HttpRun(state, true); }

BENCHMARK(BM_EngineAlone)->Arg(1)->Arg(64)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_HttpCompletion)->Arg(1)->Arg(64)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_HttpCompletionStream)->Arg(1)->Arg(64)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
