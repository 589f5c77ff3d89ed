// `mint planner`: the SLA planner as a process of its own. Every --adjustment-interval it scrapes
// the frontends' /metrics (request rate, lengths, TTFT, ITL) and the workers' (busy time, running
// sequences, KV size) that etcd lists for the model, decides the prefill and decode worker counts
// (src/planner: predict, correct against the timing profile, plan, hysteresis), logs the decision
// with its reason on one line, and acts through the local connector (starts and stops worker
// processes from template commands). Its own /metrics: desired and actual replicas per role,
// observed and predicted load, corrections, utilization. Stops on SIGINT/SIGTERM, leaving the
// workers serving; a restarted planner adopts them.
#include <signal.h>

#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "apps/app_util.h"
#include "apps/commands.h"
#include "apps/discovery_options.h"
#include "bench_lib/client.h"
#include "bench_lib/stats.h"
#include "core/log.h"
#include "frontend/http_server.h"
#include "frontend/metrics.h"
#include "metrics/metrics.h"
#include "planner/connector.h"
#include "planner/planner.h"

namespace mint::apps {
namespace {

struct PlannerArgs {
  DiscoveryArgs discovery;
  std::string model;
  std::vector<std::string> frontends;
  std::string profile;
  std::string sla = "ttft=2,itl=0.05";
  double interval = 10;
  std::string predictor = "holt";
  int window = 5;
  double alpha = 0.5, beta = 0.3;
  int min_prefill = 1, max_prefill = 8, min_decode = 1, max_decode = 8, max_workers = 0;
  int scale_down_intervals = 3;
  int64_t kv_capacity_tokens = 0;
  int64_t max_num_seqs = 256;
  double speedup = 1;
  double target_utilization = 0.8;
  bool no_correction = false;
  std::string prefill_overflow = "none";
  std::string connector = "local";
  std::string prefill_command, decode_command, log_dir = ".";
  std::string desired_prefix = "/mint/planner/desired/";
  std::string bind = "127.0.0.1";
  int metrics_port = -1;
  double duration = 0;
};

// The planner's own series (desired/actual per role, load, corrections, utilization).
class PlannerMetrics : public frontend::GenerationBackend {
 public:
  metrics::Registry registry;
  Result<uint64_t> Submit(protocol::GenerateRequest, protocol::OutputCallback,
                          const router::RouteOverrides&) override {
    return Status::Unsupported("the planner serves no requests");
  }
  void Abort(uint64_t) override {}
  engine::EngineMetrics Metrics() const override { return {}; }
  int64_t max_model_len() const override { return 0; }
  std::string MetricsText() const override { return registry.Prometheus(); }
};

struct Fleet {
  std::mutex mu;
  runtime::Membership members;  // guarded by mu; the model's workers
};

// What one interval's scrapes say.
struct Scrape {
  planner::FrontendTotals frontends;
  std::map<std::string, planner::BusyTracker::Reading> busy;  // worker id -> its busy time
  double decode_running = 0, decode_workers = 0;
  double decode_kv_blocks = 0;
  int32_t block_size = 0;
};

Result<std::vector<metrics::Sample>> ScrapeUrl(const std::string& url) {
  MINT_ASSIGN_OR_RETURN(bench::Target t, bench::ParseUrl(url));
  // ".../metrics" or a bare host: either way the path is /metrics under the base.
  if (t.base_path.size() >= 8 && t.base_path.substr(t.base_path.size() - 8) == "/metrics") {
    t.base_path.resize(t.base_path.size() - 8);
  }
  MINT_ASSIGN_OR_RETURN(std::string text, bench::HttpGet(t, "/metrics", 5));
  return metrics::ParsePrometheus(text);
}

Scrape ScrapeAll(const PlannerArgs& a, const runtime::Membership& members) {
  Scrape s;
  for (const std::string& url : a.frontends) {
    auto samples = ScrapeUrl(url);
    if (!samples.ok()) {
      log::Warn("planner: frontend {}: {}", url, samples.status().ToString());
      continue;
    }
    s.frontends.Add(planner::ReadFrontendTotals(*samples));
  }
  for (const runtime::WorkerInfo& w : members) {
    if (w.metrics_url.empty()) continue;
    auto samples = ScrapeUrl(w.metrics_url);
    if (!samples.ok()) continue;  // starting or stopping; counted next time
    const planner::WorkerTotals t = planner::ReadWorkerTotals(*samples);
    s.busy[w.id] = {.role = w.role, .busy_seconds = t.busy_seconds};
    if (w.role == "decode" || w.role == "agg") {
      s.decode_running += t.running;
      s.decode_workers += 1;
      s.decode_kv_blocks = std::max(s.decode_kv_blocks, t.kv_blocks);
      s.block_size = w.block_size;
    }
  }
  return s;
}

Result<planner::PlannerConfig> ConfigFromArgs(const PlannerArgs& a) {
  planner::PlannerConfig c;
  MINT_ASSIGN_OR_RETURN(bench::Slo slo, bench::ParseSlo(a.sla));
  if (!slo.ttft || !slo.itl) return Status::InvalidArgument("--sla needs ttft= and itl=");
  if (a.min_prefill > a.max_prefill || a.min_decode > a.max_decode) {
    return Status::InvalidArgument("--min-prefill/--min-decode must not exceed their --max-*");
  }
  c.sla = {.ttft_s = *slo.ttft, .itl_s = *slo.itl};
  c.interval_s = a.interval;
  c.predictor = {.kind = a.predictor,
                 .window = static_cast<size_t>(std::max(1, a.window)),
                 .alpha = a.alpha,
                 .beta = a.beta};
  c.bounds = {.min_prefill = a.min_prefill,
              .max_prefill = a.max_prefill,
              .min_decode = a.min_decode,
              .max_decode = a.max_decode,
              .max_workers = a.max_workers};
  c.worker = {.kv_capacity_tokens = a.kv_capacity_tokens,
              .max_num_seqs = a.max_num_seqs,
              .speedup = a.speedup,
              .max_utilization = a.target_utilization,
              .decode_takes_prefill_overflow = a.prefill_overflow == "decode"};
  c.scale_down_intervals = a.scale_down_intervals;
  c.correct = !a.no_correction;
  return c;
}

// The planner's own series for one interval: desired and actual replicas per role, the load
// observed and predicted, the corrections, utilization, worker time and busy time.
void Publish(PlannerMetrics& pm, const planner::Observation& o, const planner::Decision& d,
             const planner::FleetState& fleet, double seconds,
             const planner::BusyByRole& busy) {
  metrics::Registry& r = pm.registry;
  for (const auto& [role, want, now, busy_s] :
       {std::tuple{"prefill", d.prefill, fleet.prefill, busy.prefill},
        std::tuple{"decode", d.decode, fleet.decode, busy.decode}}) {
    r.AddGauge("mint_planner_desired_replicas", "Workers the planner wants, per role",
               {{"role", role}})
        .Set(want);
    r.AddGauge("mint_planner_actual_replicas", "Workers there (registered + starting), per role",
               {{"role", role}})
        .Set(now);
    const double provisioned = now * seconds;
    r.AddGauge("mint_planner_utilization",
               "Workers' busy step time / provisioned worker time, last interval, per role",
               {{"role", role}})
        .Set(provisioned > 0 ? std::min(1.0, busy_s / provisioned) : 0);
    r.AddCounter("mint_planner_worker_seconds_total",
                 "Provisioned worker time: workers there x seconds, summed over intervals",
                 {{"role", role}})
        .Inc(provisioned);
    r.AddCounter("mint_planner_busy_seconds_total",
                 "The workers' busy step time over the intervals (as their counters rose)",
                 {{"role", role}})
        .Inc(busy_s);
  }
  const auto load = [&](const char* what, double observed, double predicted) {
    r.AddGauge("mint_planner_observed", "Last interval's load as observed", {{"what", what}})
        .Set(observed);
    r.AddGauge("mint_planner_predicted", "Next interval's load as predicted", {{"what", what}})
        .Set(predicted);
  };
  load("request_rate", o.interval_s > 0 ? o.Offered() / o.interval_s : 0,
       d.predicted.interval_s > 0 ? d.predicted.requests / d.predicted.interval_s : 0);
  load("isl", o.isl, d.predicted.isl);
  load("osl", o.osl, d.predicted.osl);
  r.AddGauge("mint_planner_correction", "Observed / profiled latency", {{"phase", "prefill"}})
      .Set(d.corrections.prefill);
  r.AddGauge("mint_planner_correction", "Observed / profiled latency", {{"phase", "decode"}})
      .Set(d.corrections.decode);
  r.AddCounter("mint_planner_decisions_total", "Intervals decided").Inc();
}

Result<std::unique_ptr<planner::Planner>> MakePlanner(const PlannerArgs& a) {
  if (a.model.empty()) return Status::InvalidArgument("--model is required");
  if (a.frontends.empty()) return Status::InvalidArgument("--frontend URL is required");
  if (a.connector != "local" && a.connector != "etcd" && a.connector != "none") {
    return Status::InvalidArgument("--connector must be local, etcd or none, got '" + a.connector +
                                   "'");
  }
  MINT_ASSIGN_OR_RETURN(planner::PlannerConfig config, ConfigFromArgs(a));
  auto model = a.profile.empty() ? Result<mocker::TimingModel>(mocker::TimingModel::Polynomial())
                                 : mocker::TimingModel::LoadProfile(a.profile);
  if (!model.ok()) return model.status().WithContext("--profile");
  log::Info("planner: model '{}', timing {}, SLA TTFT {} s ITL {} s, every {} s, predictor {}",
            a.model, model->Describe(), config.sla.ttft_s, config.sla.itl_s, a.interval,
            a.predictor);
  return planner::Planner::Create(std::move(model).value(), config);
}

// One planner process: the loop's state between intervals, and the steps of an interval.
class PlannerLoop {
 public:
  PlannerLoop(const PlannerArgs& a, std::unique_ptr<planner::Planner> plan,
              runtime::Discovery* discovery)
      : a_(a), plan_(std::move(plan)) {
    if (a.connector == "etcd") {
      connector_ = std::make_unique<planner::EtcdConnector>(discovery, a.desired_prefix);
    }
    if (a.connector == "local") {
      connector_ = std::make_unique<planner::LocalConnector>(planner::LocalConnectorOptions{
          .commands = {{"prefill", a.prefill_command}, {"decode", a.decode_command}},
          .log_dir = a.log_dir});
    }
  }
  PlannerMetrics& metrics() { return pm_; }

  // The bounds' minimum from the start (adopting what already runs), and the first scrape.
  Status Start(const runtime::Membership& members) {
    if (connector_) {
      for (const auto& [role, min] :
           {std::pair{"prefill", a_.min_prefill}, {"decode", a_.min_decode}}) {
        if (connector_->Actual(a_.model, role, members) >= min) continue;
        MINT_ASSIGN_OR_RETURN(std::string did, connector_->Scale(a_.model, role, min, members));
        if (!did.empty()) log::Info("planner: {}", did);
      }
    }
    last_ = ScrapeAll(a_, members);
    busy_.Advance(last_.busy);
    last_at_ = Clock::now();
    return Status::Ok();
  }

  // One interval: observe, decide, log, publish, act.
  void Tick(const runtime::Membership& members) {
    const Scrape now = ScrapeAll(a_, members);
    const double seconds = std::chrono::duration<double>(Clock::now() - last_at_).count();
    last_at_ = Clock::now();
    const planner::Observation o = planner::Diff(last_.frontends, now.frontends, seconds);
    const planner::FleetState fleet = FleetNow(members, now);
    const planner::BusyByRole busy = busy_.Advance(now.busy);
    const planner::Decision d = plan_->Step(o, fleet);
    const auto percent = [&](double b, int workers) {
      return workers > 0 ? std::min(1.0, b / (workers * seconds)) * 100 : 0.0;
    };
    log::Info("{}; utilization {:.0f}% (prefill {:.0f}%, decode {:.0f}%)", d.Describe(o, fleet),
              percent(busy.total(), fleet.prefill + fleet.decode),
              percent(busy.prefill, fleet.prefill), percent(busy.decode, fleet.decode));
    Publish(pm_, o, d, fleet, seconds, busy);
    if (connector_) {
      for (const auto& [role, want] : {std::pair{"prefill", d.prefill}, {"decode", d.decode}}) {
        auto did = connector_->Scale(a_.model, role, want, members);
        if (!did.ok()) {
          log::Error("planner: {}", did.status().ToString());
        } else if (!did->empty()) {
          log::Info("planner: {}", *did);
        }
      }
    }
    last_ = now;
  }

 private:
  using Clock = std::chrono::steady_clock;

  planner::FleetState FleetNow(const runtime::Membership& members, const Scrape& now) {
    planner::FleetState f;
    if (connector_) {
      f.prefill = connector_->Actual(a_.model, "prefill", members);
      f.decode = connector_->Actual(a_.model, "decode", members);
    } else {
      for (const auto& w : members) (w.role == "prefill" ? f.prefill : f.decode)++;
    }
    f.decode_running = now.decode_workers > 0 ? now.decode_running / now.decode_workers : 0;
    f.kv_capacity_tokens = static_cast<int64_t>(now.decode_kv_blocks) * now.block_size;
    f.prefill_queue_tokens = now.frontends.prefill_queue_tokens;
    return f;
  }

  const PlannerArgs& a_;
  std::unique_ptr<planner::Planner> plan_;
  std::unique_ptr<planner::Connector> connector_;
  PlannerMetrics pm_;
  Scrape last_;
  planner::BusyTracker busy_;
  Clock::time_point last_at_;
};

int RunPlanner(const PlannerArgs& a) {
  auto plan = MakePlanner(a);
  if (!plan.ok()) return Fail(plan.status());
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto discovery = MakeDiscovery(a.discovery);
  if (!discovery.ok()) return Fail(discovery.status());
  Fleet fleet;
  auto watch = (*discovery)->Watch([&](const runtime::Membership& m) {
    std::lock_guard<std::mutex> lk(fleet.mu);
    fleet.members.clear();
    for (const auto& w : m) {
      if (w.model == a.model) fleet.members.push_back(w);
    }
  });
  if (!watch.ok()) return Fail(watch.status());
  auto members = [&] {
    std::lock_guard<std::mutex> lk(fleet.mu);
    return fleet.members;
  };

  PlannerLoop loop(a, std::move(plan).value(), discovery->get());
  frontend::FrontendMetrics http_metrics({.model = a.model});
  std::unique_ptr<frontend::HttpServer> http;
  if (a.metrics_port >= 0) {
    auto h = frontend::HttpServer::Start(
        {.host = a.bind, .port = static_cast<uint16_t>(a.metrics_port), .io_threads = 1},
        &http_metrics);
    if (!h.ok()) return Fail(h.status().WithContext("--metrics-port"));
    http = std::move(h).value();
    http->Attach(nullptr, &loop.metrics());
    log::Info("planner metrics on http://{}:{}/metrics", a.bind, http->port());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // a first membership
  if (Status st = loop.Start(members()); !st.ok()) return Fail(st);
  const auto started = std::chrono::steady_clock::now();
  const timespec wait{.tv_sec = static_cast<time_t>(a.interval),
                      .tv_nsec = static_cast<long>(std::fmod(a.interval, 1.0) * 1e9)};
  while (sigtimedwait(&stop, nullptr, &wait) <= 0) {
    if (a.duration > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() >=
            a.duration) {
      break;
    }
    loop.Tick(members());
  }
  log::Info("planner stopping (workers keep serving)");
  if (http) http->Shutdown();
  return 0;
}

// How the next interval's load is predicted.
void AddPredictorOptions(CLI::App* cmd, PlannerArgs* a) {
  cmd->add_option("--adjustment-interval", a->interval, "Seconds between decisions")
      ->capture_default_str();
  cmd->add_option("--predictor", a->predictor, "constant | moving-average | holt")
      ->capture_default_str();
  cmd->add_option("--predictor-window", a->window, "moving-average: intervals averaged")
      ->capture_default_str();
  cmd->add_option("--holt-alpha", a->alpha, "holt: level smoothing in (0, 1]")
      ->capture_default_str();
  cmd->add_option("--holt-beta", a->beta, "holt: trend smoothing in [0, 1]")->capture_default_str();
  cmd->add_flag("--no-correction", a->no_correction,
                "Take the profile as it is: no correction by observed / profiled latency");
}

// How many workers of each role, and what one worker can take.
void AddSizingOptions(CLI::App* cmd, PlannerArgs* a) {
  cmd->add_option("--min-prefill", a->min_prefill,
                  "Fewest prefill workers (0: none at low load, the decode workers prefill; with "
                  "--prefill-overflow decode)")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  cmd->add_option("--max-prefill", a->max_prefill)
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  cmd->add_option("--min-decode", a->min_decode)->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_option("--max-decode", a->max_decode)->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_option("--max-workers", a->max_workers, "Prefill + decode at most (0: no budget)")
      ->capture_default_str();
  cmd->add_option("--scale-down-intervals", a->scale_down_intervals,
                  "Consecutive intervals wanting fewer workers before any is stopped")
      ->capture_default_str();
  cmd->add_option("--kv-capacity-tokens", a->kv_capacity_tokens,
                  "A decode worker's KV cache in tokens (0: what the decode workers' /metrics say)")
      ->capture_default_str();
  cmd->add_option("--max-num-seqs", a->max_num_seqs, "A decode worker's batch limit")
      ->capture_default_str();
  cmd->add_option("--speedup", a->speedup,
                  "The workers run the profile this many times faster (mockers' --speedup)")
      ->capture_default_str();
  cmd->add_option("--target-utilization", a->target_utilization,
                  "Plan each worker at most this busy (headroom for bursts and ramps)")
      ->capture_default_str();
  cmd->add_option(
         "--prefill-overflow", a->prefill_overflow,
         "none: enough prefill workers for all the prefill (the count rounds up); decode: the\n"
         "frontends run with --remote-prefill-max-queue, so a prompt finding every prefill\n"
         "worker queued is prefilled on its decode worker, and the count rounds down when the\n"
         "decode workers' ITL headroom takes the remainder (busier prefill workers, none at\n"
         "low load with --min-prefill 0)")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "decode"}));
}

// How decisions reach the workers.
void AddConnectorOptions(CLI::App* cmd, PlannerArgs* a) {
  cmd->add_option("--connector", a->connector,
                  "local (start/stop processes) | etcd (write the desired counts for an external "
                  "launcher: <--desired-prefix><model>/<role> = {\"replicas\": N, ...}) | none "
                  "(decide and log only)")
      ->capture_default_str();
  cmd->add_option("--prefill-command", a->prefill_command,
                  "Shell command that starts one prefill worker (local connector)");
  cmd->add_option("--decode-command", a->decode_command,
                  "Shell command that starts one decode worker (local connector)");
  cmd->add_option("--desired-prefix", a->desired_prefix, "etcd connector: key prefix")
      ->capture_default_str();
  cmd->add_option("--log-dir", a->log_dir, "Where started workers' logs go")->capture_default_str();
}

}  // namespace

CommandFn RegisterPlanner(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "planner",
      "SLA planner: scales prefill and decode workers with the load. Every interval it scrapes "
      "the frontends' and workers' /metrics, predicts the next interval, sizes each role from the "
      "timing profile within the SLA, and starts or stops worker processes (local connector). "
      "Stops on SIGINT/SIGTERM; the workers keep serving and a restarted planner adopts them.");
  auto a = std::make_shared<PlannerArgs>();
  AddDiscoveryOptions(cmd, &a->discovery);
  cmd->add_option("--model", a->model, "The served model name whose workers it scales")->required();
  cmd->add_option("--frontend", a->frontends,
                  "A frontend's /metrics URL (repeat for several), e.g. "
                  "http://127.0.0.1:8000/metrics");
  cmd->add_option("--profile", a->profile,
                  "Timing profile from `mint profile` (default: Dynamo's polynomial)");
  cmd->add_option("--sla", a->sla, "ttft=SECONDS,itl=SECONDS (ms suffix allowed)")
      ->capture_default_str();
  AddPredictorOptions(cmd, a.get());
  AddSizingOptions(cmd, a.get());
  AddConnectorOptions(cmd, a.get());
  cmd->add_option("--bind", a->bind, "Address of the planner's /metrics")->capture_default_str();
  cmd->add_option("--metrics-port", a->metrics_port, "Port of its /metrics (-1: none, 0: any)")
      ->capture_default_str();
  cmd->add_option("--duration", a->duration, "Stop after this many seconds (0: until a signal)");
  return [a] { return RunPlanner(*a); };
}

}  // namespace mint::apps
