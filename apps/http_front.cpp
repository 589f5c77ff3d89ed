#include "apps/http_front.h"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <filesystem>

#include "apps/app_util.h"
#include "apps/engine_options.h"
#include "core/host.h"
#include "core/log.h"
#include "frontend/http_server.h"
#include "frontend/metrics.h"
#include "frontend/service.h"

namespace mint::apps {

void AddHttpOptions(CLI::App* cmd, HttpArgs* a) {
  cmd->add_option("--host", a->host, "Address to listen on (0.0.0.0 for every interface)")
      ->capture_default_str();
  cmd->add_option("--port", a->port, "TCP port (0: any free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--io-threads", a->io_threads, "HTTP I/O threads")->capture_default_str();
  cmd->add_option("--api-key", a->api_key,
                  "Require 'Authorization: Bearer KEY' on /v1/* (prefer MINT_API_KEY or "
                  "--api-key-file: a flag shows in ps)")
      ->envname("MINT_API_KEY");
  cmd->add_option("--api-key-file", a->api_key_file,
                  "Read the bearer key from this file (its first line)");
  cmd->add_option("--allowed-hosts", a->allowed_hosts,
                  "With no key: Host/Origin names accepted besides loopback ones and --host "
                  "('*': any). Guards against DNS rebinding and cross-site pages")
      ->delimiter(',');
  cmd->add_option("--max-connections", a->max_connections,
                  "Open HTTP connections; more get 503 (0: the descriptor limit less 128)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--idle-timeout", a->idle_timeout,
                  "Seconds a keep-alive connection may wait for its next request")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--served-model-name", a->served_model_name,
                  "Model name clients send (default: the file name without .gguf; the GGUF's "
                  "general.name is accepted too)");
  cmd->add_option("--chat-template", a->chat_template_file,
                  "Jinja chat template file overriding the model's (default: the model's, else "
                  "ChatML)");
  cmd->add_option("--tool-call-parser", a->tool_call_parser,
                  "How tool calls are read from the output of requests with tools: auto (from\n"
                  "the chat template), hermes, qwen3-coder, llama3, pythonic, mistral, deepseek,\n"
                  "kimi-k2, glm45, harmony, or none (calls stay text)")
      ->capture_default_str();
  cmd->add_option("--device-cost-per-hour", a->device_cost_per_hour,
                  "Cost of this machine per hour, for the mint_cost_per_million_tokens metric")
      ->capture_default_str();
  cmd->add_option("--max-body", a->max_body, "Largest request body (413 above)")
      ->capture_default_str();
}

std::string ServedModelName(const HttpArgs& a, const std::string& model_path) {
  if (!a.served_model_name.empty()) return a.served_model_name;
  return std::filesystem::path(model_path).stem().string();
}

namespace {
sigset_t StopSignals() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  return s;
}
}  // namespace

void RaiseDescriptorLimit() {
  // Each connection holds a descriptor; the usual soft limit (1024) is far below what a server
  // holding thousands of streams needs. The hard limit is the administrator's word.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    const rlim_t before = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
      log::Debug("descriptor limit raised from {} to {}", before, rl.rlim_max);
    }
  }
}

void BlockStopSignals() {
  sigset_t s = StopSignals();
  pthread_sigmask(SIG_BLOCK, &s, nullptr);
}

int WaitStopSignal() {
  sigset_t s = StopSignals();
  int sig = 0;
  sigwait(&s, &sig);
  return sig;
}

int ServeHttp(const HttpArgs& a, const std::string& model_path,
              const std::function<Result<Serving>()>& load) {
  BlockStopSignals();
  auto max_body = ParseByteSize(a.max_body);
  if (!max_body.ok()) return Fail(max_body.status());
  std::string chat_template;
  if (!a.chat_template_file.empty()) {
    auto text = ReadFile(a.chat_template_file);
    if (!text.ok()) return Fail(text.status().WithContext("--chat-template"));
    chat_template = std::move(text).value();
  }

  std::string api_key = a.api_key;
  if (!a.api_key_file.empty()) {
    auto text = ReadFile(a.api_key_file);
    if (!text.ok()) return Fail(text.status().WithContext("--api-key-file"));
    api_key = text->substr(0, text->find_first_of("\r\n"));
    if (api_key.empty()) return Fail(Status::InvalidArgument("--api-key-file: the file is empty"));
  }
  RaiseDescriptorLimit();
  frontend::FrontendMetrics metrics({.model = "", .device_cost_per_hour = a.device_cost_per_hour});
  frontend::HttpServerOptions http{.host = a.host,
                                   .port = static_cast<uint16_t>(a.port),
                                   .io_threads = a.io_threads,
                                   .api_key = api_key,
                                   .max_body_bytes = static_cast<size_t>(*max_body),
                                   .idle_timeout_seconds = a.idle_timeout,
                                   .max_connections = a.max_connections,
                                   .allowed_hosts = a.allowed_hosts};
  if (api_key.empty() && !IsLoopbackHost(a.host)) {
    log::Warn("listening on {} with no API key: anyone who can reach this port can use the model "
              "(set MINT_API_KEY or --api-key-file)", a.host);
  }
  auto server = frontend::HttpServer::Start(http, &metrics);
  if (!server.ok()) return Fail(server.status());
  log::Info("listening on http://{}:{} (health 503 until the model is loaded)", a.host,
            (*server)->port());

  auto serving = load();
  if (!serving.ok()) return Fail(serving.status());
  const std::string name = ServedModelName(a, model_path);
  frontend::ServiceOptions so{.model_name = name, .chat_template = chat_template};
  so.tool_call_parser = a.tool_call_parser;
  if (a.served_model_name.empty() && !serving->general_name.empty()) {
    so.aliases.push_back(serving->general_name);
  }
  so.limits.max_body_bytes = static_cast<size_t>(*max_body);
  metrics.SetModel(name);
  auto service = frontend::OpenAiService::Create(so, serving->tokenizer, serving->backend, &metrics);
  if (!service.ok()) return Fail(service.status());
  (*server)->Attach(service->get(), serving->backend);
  log::Info("serving '{}' on http://{}:{}/v1 (chat page at /)", name, a.host, (*server)->port());

  const int sig = WaitStopSignal();
  log::Info("signal {}: shutting down", sig);
  (*server)->Shutdown();  // no new requests; open connections closed
  if (serving->stop) serving->stop();  // the service's later calls no longer reach the engines
  server->reset();
  return 0;
}

}  // namespace mint::apps
