// `mint mocker`: `mint worker` with a simulated engine (src/mocker): the real scheduler, block
// pool, prefix cache and KV events, a timing model instead of a model. Registers in etcd, serves
// the request plane and publishes KV events exactly as a worker does, so frontends, routers and
// planners are tested at scale without models or GPUs. `--count N` runs N of them in one process.
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "apps/app_util.h"
#include "apps/commands.h"
#include "apps/disagg_options.h"
#include "apps/discovery_options.h"
#include "apps/engine_options.h"
#include "apps/http_front.h"
#include "apps/worker_metrics.h"
#include "core/log.h"
#include "engine/engine.h"
#include "frontend/http_server.h"
#include "frontend/metrics.h"
#include "kvstore/simulated_tiers.h"
#include "mocker/mocker.h"
#include "tokenizer/tokenizer.h"
#include "worker/worker.h"

namespace mint::apps {
namespace {

struct MockerArgs {
  std::string served_model_name;
  std::string id;
  std::string bind = "127.0.0.1";
  double drain_timeout = 0.5;  // seconds calls in flight get to finish on SIGTERM
  std::string advertise_host;
  int port = 0;
  int events_port = 0;
  int metrics_port = 0;
  int count = 1;
  bool no_prefix_cache = false;
  std::string tokenizer;  // for constrained decoding
  mocker::MockerOptions engine;
  DiscoveryArgs discovery;
  // Simulated KV tiers (kvstore::SimulatedTiers); 0 host blocks: none.
  kvstore::SimulatedTiersConfig tiers{.block_bytes = 0};
  int64_t kv_bytes_per_token = 131072;  // Llama-3-8B in F16: 32 layers x 8 KV heads x 128 x 2 x 2
  DisaggArgs disagg;  // role; a prefill/decode mocker's transfers run over a simulated link
};

// One simulated worker: its engine, metrics endpoint and registration. Destroyed in reverse.
struct Mocker {
  std::unique_ptr<kvstore::SimulatedTiers> tiers;  // outlives the engine
  std::unique_ptr<worker::KvTransferConnector> kv;  // outlives the engine; prefill/decode only
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<frontend::FrontendMetrics> metrics;
  std::unique_ptr<WorkerMetricsSource> source;
  std::unique_ptr<frontend::HttpServer> http;
  std::unique_ptr<worker::Worker> worker;

  void Stop() {
    if (http) http->Shutdown();  // before the worker its /metrics reads
    worker.reset();
    if (source) source->Close();
    if (kv) kv->Shutdown();  // no pull reads the engine's blocks after this
    engine.reset();
    kv.reset();
    tiers.reset();
    http.reset();
  }
};

// Port `base` for mocker i: 0 (any free) and -1 (none) stay; a fixed port counts up.
int NthPort(int base, int i) { return base > 0 ? base + i : base; }

Result<Mocker> StartMocker(const MockerArgs& a, int i, runtime::Discovery* discovery,
                           const runtime::PlaneTls& tls) {
  Mocker m;
  mocker::MockerOptions eo = a.engine;
  if (a.tiers.host_blocks > 0) {
    kvstore::SimulatedTiersConfig tc = a.tiers;
    tc.block_bytes =
        static_cast<uint64_t>(a.kv_bytes_per_token) * static_cast<uint64_t>(eo.block_size);
    tc.speedup = eo.speedup;
    MINT_ASSIGN_OR_RETURN(m.tiers, kvstore::SimulatedTiers::Create(tc));
    eo.kv_connector = m.tiers.get();
  }
  const uint64_t block_bytes =
      static_cast<uint64_t>(a.kv_bytes_per_token) * static_cast<uint64_t>(eo.block_size);
  MINT_ASSIGN_OR_RETURN(
      m.kv, MakeTransferConnector(a.disagg, a.bind, a.advertise_host, NthPort(a.disagg.kv_port, i),
                                  {.block_bytes = block_bytes,
                                   .gbps = a.disagg.sim_gbps,
                                   .latency_s = a.disagg.sim_latency_ms * 1e-3,
                                   .speedup = eo.speedup}));
  if (m.kv) {
    eo.kv_connector = m.kv.get();
    eo.kv_load_failure_recompute = LoadFailureRecompute(a.disagg);
  }
  MINT_ASSIGN_OR_RETURN(m.engine, mocker::CreateMockerEngine(eo));
  if (m.kv) MINT_RETURN_IF_ERROR(m.kv->Attach(m.engine.get()));
  m.metrics = std::make_unique<frontend::FrontendMetrics>(
      frontend::MetricsOptions{.model = a.served_model_name, .device_cost_per_hour = 0});
  m.source = std::make_unique<WorkerMetricsSource>(m.engine.get());
  std::string metrics_url;
  const int metrics_port = NthPort(a.metrics_port, i);
  if (metrics_port >= 0) {
    auto h = frontend::HttpServer::Start(
        {.host = a.bind, .port = static_cast<uint16_t>(metrics_port), .io_threads = 1},
        m.metrics.get());
    if (!h.ok()) return h.status().WithContext("--metrics-port");
    m.http = std::move(h).value();
    const std::string host = a.advertise_host.empty() ? a.bind : a.advertise_host;
    metrics_url = fmt::format("http://{}:{}/metrics", host, m.http->port());
  }
  std::string id = a.id;
  if (!id.empty() && a.count > 1) id += fmt::format("-{}", i);
  MINT_ASSIGN_OR_RETURN(
      m.worker, worker::Worker::Create(m.engine.get(), discovery,
                                       {.id = id,
                                        .model_name = a.served_model_name,
                                        .role = a.disagg.role,
                                        .bind_host = a.bind,
                                        .advertise_host = a.advertise_host,
                                        .port = NthPort(a.port, i),
                                        .events_port = NthPort(a.events_port, i),
                                        .drain_ms = static_cast<int>(a.drain_timeout * 1000),
                                        .metrics_url = metrics_url,
                                        .tls = tls}));
  m.source->SetWorker(m.worker.get());
  m.source->SetSimulatedTiers(m.tiers.get());
  m.source->SetKvTransfer(m.kv.get());
  if (m.http) m.http->Attach(nullptr, m.source.get());
  return m;
}

int RunMocker(MockerArgs a) {
  BlockStopSignals();
  a.engine.enable_prefix_cache = !a.no_prefix_cache;
  if (auto st = a.engine.Validate(); !st.ok()) return Fail(st);
  if (auto st = ValidateDisaggArgs(a.disagg); !st.ok()) return Fail(st);
  if (a.disagg.role != "agg" && a.tiers.host_blocks > 0) {
    return Fail(Status::InvalidArgument(
        "--kv-host-blocks with --role " + a.disagg.role +
        ": simulated KV tiers on a prefill or decode mocker are not supported yet"));
  }
  if (!a.engine.timing_profile.empty()) {
    auto timing = mocker::TimingModel::LoadProfile(a.engine.timing_profile);
    if (!timing.ok()) return Fail(timing.status().WithContext("--timing-profile"));
    log::Info("timing: {}", timing->Describe());
  } else {
    log::Info("timing: {}", mocker::TimingModel::Polynomial().Describe());
  }
  if (!a.tokenizer.empty()) {
    auto tok = tokenizer::Tokenizer::Load(a.tokenizer);
    if (!tok.ok()) return Fail(tok.status().WithContext("--tokenizer"));
    if ((*tok)->vocab_size() > a.engine.vocab) {
      return Fail(Status::InvalidArgument(fmt::format(
          "--tokenizer has {} tokens, more than --vocab {}", (*tok)->vocab_size(), a.engine.vocab)));
    }
    a.engine.logits_processor_factory = GrammarFactory(**tok, a.engine.vocab);
    log::Info("constrained decoding: grammars over {}'s {} tokens", a.tokenizer, (*tok)->vocab_size());
  }
  auto tls = PlaneTlsFromArgs(a.discovery, a.bind);
  if (!tls.ok()) return Fail(tls.status());
  auto discovery = MakeDiscovery(a.discovery);
  if (!discovery.ok()) return Fail(discovery.status());
  log::Info("{} mocker worker(s) of '{}': {} blocks x {} tokens, max {} seqs, {} batched tokens, "
            "vocab {}, speedup {}",
            a.count, a.served_model_name, a.engine.num_blocks, a.engine.block_size,
            a.engine.max_num_seqs, a.engine.max_num_batched_tokens, a.engine.vocab,
            a.engine.speedup);
  if (a.disagg.role != "agg") {
    log::Info(
        "role {}: KV transfers over a simulated {} GB/s link, {} ms latency, {} bytes per "
        "token",
        a.disagg.role, a.disagg.sim_gbps, a.disagg.sim_latency_ms, a.kv_bytes_per_token);
  }
  if (a.tiers.host_blocks > 0) {
    log::Info(
        "simulated KV tiers: host {} blocks at {} GB/s, disk {} blocks at {} GB/s, {} bytes per "
        "token",
        a.tiers.host_blocks, a.tiers.host_gbps, a.tiers.disk_blocks, a.tiers.disk_gbps,
        a.kv_bytes_per_token);
  }
  std::vector<Mocker> mockers;
  mockers.reserve(static_cast<size_t>(a.count));
  for (int i = 0; i < a.count; ++i) {
    auto m = StartMocker(a, i, discovery->get(), *tls);
    if (!m.ok()) {
      for (auto it = mockers.rbegin(); it != mockers.rend(); ++it) it->Stop();
      return Fail(m.status().WithContext(fmt::format("mocker {}", i)));
    }
    log::Info("mocker {}: {} on {}{}", i, m->worker->info().id, m->worker->info().request_address,
              m->worker->info().metrics_url.empty()
                  ? ""
                  : ", metrics on " + m->worker->info().metrics_url);
    mockers.push_back(std::move(m).value());
  }
  const int sig = WaitStopSignal();
  log::Info("signal {}: deregistering and shutting down", sig);
  for (auto it = mockers.rbegin(); it != mockers.rend(); ++it) it->Stop();
  return 0;
}

// Where a mocker listens and what it publishes: --bind, ports, drain.
void AddMockerNetworkOptions(CLI::App* cmd, MockerArgs* a) {
  cmd->add_option("--bind", a->bind,
                  "Address the internal ports listen on (0.0.0.0: every interface)")
      ->capture_default_str();
  cmd->add_option("--advertise-host", a->advertise_host,
                  "Host frontends dial (default: --bind, or the hostname when --bind is 0.0.0.0)");
  cmd->add_option("--port", a->port,
                  "Request-plane (gRPC) port; 0: any free port; with --count, port + i")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--drain-timeout", a->drain_timeout,
                  "On SIGINT/SIGTERM: seconds the calls in flight get to finish after the worker "
                  "leaves discovery (the frontend migrates what is cut); a planner's scale-down")
      ->capture_default_str();
  cmd->add_option("--events-port", a->events_port,
                  "Event-plane (ZeroMQ PUB) port; 0: any free port; -1: publish no events; with "
                  "--count, port + i")
      ->capture_default_str()
      ->check(CLI::Range(-1, 65535));
  cmd->add_option("--metrics-port", a->metrics_port,
                  "Port of /metrics and /health (on --bind); 0: any free port; -1: none; with "
                  "--count, port + i")
      ->capture_default_str()
      ->check(CLI::Range(-1, 65535));
}

// The simulated tiered KV cache.
void AddMockerTierOptions(CLI::App* cmd, MockerArgs* a) {
  cmd->add_option(
         "--kv-host-blocks", a->tiers.host_blocks,
         "Simulated tiered KV cache: host-tier blocks (0: none); blocks the pool evicts go\n"
         "there and come back at --kv-host-gbps instead of being recomputed")
      ->capture_default_str();
  cmd->add_option(
         "--kv-disk-blocks", a->tiers.disk_blocks,
         "Simulated tiered KV cache: disk-tier blocks (blocks seen twice; needs a host tier)")
      ->capture_default_str();
  cmd->add_option("--kv-host-gbps", a->tiers.host_gbps, "Simulated host tier bandwidth, GB/s")
      ->capture_default_str();
  cmd->add_option("--kv-disk-gbps", a->tiers.disk_gbps, "Simulated disk tier bandwidth, GB/s")
      ->capture_default_str();
  cmd->add_option("--kv-bytes-per-token", a->kv_bytes_per_token,
                  "KV bytes per token of the simulated model (tier load and transfer times)")
      ->capture_default_str();
}

// The simulated engine: KV cache, batching limits, timing, synthetic tokens.
void AddMockerEngineOptions(CLI::App* cmd, MockerArgs* a) {
  auto& e = a->engine;
  cmd->add_option("--block-size", e.block_size,
                  "Tokens per KV block (must match the frontend's router)")
      ->capture_default_str();
  cmd->add_option("--num-blocks", e.num_blocks, "Simulated KV cache size in blocks")
      ->capture_default_str();
  cmd->add_option("--max-num-seqs", e.max_num_seqs, "Sequences running at once")
      ->capture_default_str();
  cmd->add_option("--max-num-batched-tokens", e.max_num_batched_tokens,
                  "Tokens per step (decodes + prefill chunks)")
      ->capture_default_str();
  cmd->add_option("--max-model-len", e.max_model_len, "Prompt + generated tokens per sequence")
      ->capture_default_str();
  cmd->add_option("--vocab", e.vocab,
                  "Vocabulary size: prompt ids must be below it, so set it to the frontend "
                  "tokenizer's")
      ->capture_default_str();
  cmd->add_option("--speedup", e.speedup,
                  "Simulated time / wall time (10: steps take a tenth of the predicted time)")
      ->capture_default_str();
  cmd->add_option("--timing-profile", e.timing_profile,
                  "Step-time profile JSON from `mint profile` (default: Dynamo's polynomials)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--no-prefix-cache", a->no_prefix_cache, "Disable prefix caching");
  cmd->add_option("--max-queued", e.max_queued,
                  "Requests in the engine (running + waiting) beyond which new ones are refused")
      ->capture_default_str();
  cmd->add_option("--seed", e.token_seed, "Enters the synthetic token choice")
      ->capture_default_str();
}

}  // namespace

CommandFn RegisterMocker(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "mocker",
      "A worker whose engine is simulated: Mint's real scheduler, KV block pool, prefix cache\n"
      "and KV events, but no model: each step sleeps for the time a timing model predicts\n"
      "(Dynamo's mocker polynomials, or a profile from `mint profile`) divided by --speedup,\n"
      "and emits deterministic synthetic tokens (never a stop token: requests run to\n"
      "max_tokens). Registers in etcd and serves frontends exactly like `mint worker`.\n"
      "--count N runs N mockers in this process. Stops cleanly on SIGINT/SIGTERM.");
  auto a = std::make_shared<MockerArgs>();
  cmd->add_option("--served-model-name", a->served_model_name,
                  "Model name announced to frontends (the frontend's model must match)")
      ->required();
  cmd->add_option("--id", a->id,
                  "Worker id in discovery (default: <hostname>-<pid>-<random>; with --count, "
                  "<id>-<i>)");
  cmd->add_option("--count", a->count, "Mocker workers to run in this process")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  AddMockerNetworkOptions(cmd, a.get());
  AddMockerTierOptions(cmd, a.get());
  AddDisaggOptions(cmd, &a->disagg, /*simulated=*/true);
  AddMockerEngineOptions(cmd, a.get());
  cmd->add_option("--tokenizer", a->tokenizer,
                  "A GGUF or tokenizer.json: enables constrained decoding (response_format, "
                  "guided_*, forced tool calls) over its vocabulary; without it such requests "
                  "are refused")
      ->check(CLI::ExistingFile);
  AddDiscoveryOptions(cmd, &a->discovery);
  return [a]() { return RunMocker(*a); };
}

}  // namespace mint::apps
