// `mint frontend`: the OpenAI-compatible HTTP API in front of every `mint worker` that etcd
// knows for the model. Loads only the tokenizer and chat template from the GGUF file (no
// weights). Keeps serving with the membership it last saw while etcd is away.
#include <memory>
#include <string>

#include "apps/app_util.h"
#include "apps/commands.h"
#include "apps/disagg_options.h"
#include "apps/discovery_options.h"
#include "apps/http_front.h"
#include "apps/router_options.h"
#include "core/log.h"
#include "frontend/remote_backend.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace mint::apps {
namespace {

struct FrontendArgs {
  std::string model;
  int migration_limit = 3;
  DisaggPlanArgs disagg_plan;
  int64_t max_model_len = 0;
  double wait_for_worker_s = 10;
  double request_timeout_s = 0;
  HttpArgs http;
  DiscoveryArgs discovery;
  RouterArgs router;
};

int RunFrontend(const FrontendArgs& a) {
  std::unique_ptr<gguf::GgufFile> file;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  std::unique_ptr<runtime::Discovery> discovery;
  std::unique_ptr<frontend::RemoteBackend> backend;
  auto load = [&]() -> Result<Serving> {
    auto f = gguf::GgufFile::Open(a.model);
    if (!f.ok()) return f.status();
    file = std::move(f).value();
    auto t = tokenizer::Tokenizer::FromGguf(*file);
    if (!t.ok()) return t.status().WithContext("tokenizer");
    tok = std::move(t).value();
    auto rc = MakeRouterConfig(a.router);
    if (!rc.ok()) return rc.status();
    auto queue = RouterQueuePolicy(a.router);
    if (!queue.ok()) return queue.status();
    auto tls = PlaneTlsFromArgs(a.discovery, /*bind_host=*/"");
    if (!tls.ok()) return tls.status();
    auto d = MakeDiscovery(a.discovery);
    if (!d.ok()) return d.status();
    discovery = std::move(d).value();
    int64_t max_len = a.max_model_len;
    if (max_len <= 0) {
      auto arch = file->GetString("general.architecture");
      if (arch.ok()) {
        auto ctx = file->GetIntOr(*arch + ".context_length", 2048);
        if (ctx.ok()) max_len = *ctx;
      }
    }
    frontend::RemoteBackendOptions ro{
        .model_name = ServedModelName(a.http, a.model),
        .migration_limit = a.migration_limit,
        .max_model_len = max_len,
        .wait_for_worker =
            std::chrono::milliseconds(static_cast<int64_t>(a.wait_for_worker_s * 1000)),
        .subscribe_kv_events = !a.router.no_kv_events,
        .request_timeout =
            std::chrono::milliseconds(static_cast<int64_t>(a.request_timeout_s * 1000)),
        .router = *rc,
        .router_queue = *queue,
        .router_queue_busy_s = a.router.queue_busy_s,
        .router_queue_max_age_s = a.router.queue_max_age_s,
        .tls = *tls};
    MINT_RETURN_IF_ERROR(ApplyDisaggPlan(a.disagg_plan, &ro));
    auto b = frontend::RemoteBackend::Create(discovery.get(), ro);
    if (!b.ok()) return b.status();
    backend = std::move(b).value();
    auto general = file->GetStringOr("general.name", "");
    Serving s{.tokenizer = tok.get(), .backend = backend.get(),
              .general_name = general.ok() ? *general : std::string(), .stop = {}};
    s.stop = [&] { backend->Close(); };
    return s;
  };
  return ServeHttp(a.http, a.model, load);
}

}  // namespace

CommandFn RegisterFrontend(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "frontend",
      "Serve the OpenAI-compatible HTTP API for the workers (`mint worker`) that etcd knows for\n"
      "the model: each request goes to a worker over gRPC and, if that worker is lost, is\n"
      "migrated to another with its tokens so far. Needs the GGUF file for the tokenizer and\n"
      "chat template only. Stops cleanly on SIGINT/SIGTERM.");
  auto a = std::make_shared<FrontendArgs>();
  cmd->add_option("-m,--model", a->model, "GGUF model file (tokenizer and chat template)")
      ->required()
      ->check(CLI::ExistingFile);
  AddHttpOptions(cmd, &a->http);
  cmd->add_option("--migration-limit", a->migration_limit,
                  "Times a request is re-sent to another worker when its own is lost")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  AddDisaggPlanOptions(cmd, &a->disagg_plan);
  cmd->add_option("--max-model-len", a->max_model_len,
                  "Longest prompt + output before workers announce theirs (default: the model's "
                  "context length)");
  cmd->add_option("--wait-for-worker", a->wait_for_worker_s,
                  "Seconds a request waits for a worker when none is serving before it fails")
      ->capture_default_str();
  cmd->add_option("--request-timeout", a->request_timeout_s,
                  "Seconds after which a request still running ends with an error; the deadline\n"
                  "travels to the worker, which aborts it too (0: none)")
      ->capture_default_str();
  AddDiscoveryOptions(cmd, &a->discovery);
  AddRouterOptions(cmd, &a->router);
  return [a]() { return RunFrontend(*a); };
}

}  // namespace mint::apps
