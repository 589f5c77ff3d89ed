// The HTTP front shared by `mint serve` and `mint frontend`: the OpenAI API server's flags, and
// the run loop (listen first with /health 503, load, attach the service, serve until
// SIGINT/SIGTERM, shut down in order).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "frontend/backend.h"
#include "tokenizer/tokenizer.h"

namespace mint::apps {

struct HttpArgs {
  std::string host = "127.0.0.1";
  int port = 8000;
  int io_threads = 2;
  std::string api_key = {};
  std::string api_key_file = {};
  std::vector<std::string> allowed_hosts = {};
  int max_connections = 0;
  int idle_timeout = 120;
  std::string served_model_name = {};
  std::string chat_template_file = {};
  std::string tool_call_parser = "auto";
  double device_cost_per_hour = 0;
  std::string max_body = "8M";
};

void AddHttpOptions(CLI::App* cmd, HttpArgs* a);

// What a subcommand hands the HTTP server once its model (or its workers) are ready.
struct Serving {
  const tokenizer::Tokenizer* tokenizer = nullptr;
  frontend::GenerationBackend* backend = nullptr;
  std::string general_name;   // the GGUF's general.name, accepted as an alias
  std::function<void()> stop;  // after the server stopped taking requests: stop the backend
};

// The name clients use: --served-model-name, else the model file's stem.
std::string ServedModelName(const HttpArgs& a, const std::string& model_path);

// Raises the soft RLIMIT_NOFILE to the hard limit (a server holds a descriptor per connection).
void RaiseDescriptorLimit();

// Blocks SIGINT/SIGTERM in this thread (call before starting any thread) and waits for one.
void BlockStopSignals();
int WaitStopSignal();

// Runs the server: `load` is called after the port is open; it returns what to attach.
int ServeHttp(const HttpArgs& a, const std::string& model_path,
              const std::function<Result<Serving>()>& load);

}  // namespace mint::apps
