#include "sim/simulator.h"

#include <algorithm>
#include <memory>
#include <queue>
#include <span>
#include <string>

#include <fmt/format.h>

#include "core/hash.h"
#include "engine/block_pool.h"
#include "engine/executor.h"
#include "engine/kv_events.h"
#include "mocker/mocker.h"
#include "router/engine_events.h"

namespace mint::sim {
namespace {

constexpr int64_t kVocab = 32000;  // the synthetic generated tokens' range

// One simulated worker: the real scheduler and block pool, its KV events straight to the router.
struct Worker : engine::KvEventSink {
  Worker(const SimConfig& c, router::Router* r, router::WorkerId worker_id, bool is_prefill)
      : pool({.num_blocks = c.num_blocks,
              .block_size = c.block_size,
              .enable_prefix_cache = c.enable_prefix_cache}),
        sched(c.scheduler, &pool),
        router(r),
        id(worker_id),
        prefill(is_prefill) {
    pool.AddSubscriber(this);
  }
  ~Worker() override { pool.RemoveSubscriber(this); }
  void OnKvEvent(const engine::KvEvent& e) override {
    router->ApplyEvent(id, router::FromEngineEvent(e));
  }

  engine::BlockPool pool;
  engine::Scheduler sched;
  router::Router* router;
  router::WorkerId id;
  bool prefill;  // a prefill worker: computes prompts and first tokens only
  bool busy = false;
  double link_free_s = 0;  // decode side: when the link has carried every pull started so far
  engine::StepPlan plan;                       // the step in flight while busy
  std::vector<router::StepSample> unreported;  // steps since the last load report
};

struct Live {
  uint64_t route_id = 0;
  double last_token_s = 0;
  bool remote = false;  // prefilled on a prefill worker: the decode worker starts from token 1
  int32_t first_token = 0;       // a remote prefill's, while the frontend hands the request off
  Worker* loading_on = nullptr;  // the decode worker pulling its KV
  engine::SeqState* loading = nullptr;
};

enum class EventKind { kArrival, kRoute, kHandOff, kStepDone, kReport, kLoadDone };
struct Event {
  double t;
  uint64_t order;  // insertion order: ties run first-in first-out
  EventKind kind;
  size_t index;  // request (arrival, route, hand-off, load done) or worker (step done)
  bool operator>(const Event& o) const { return t != o.t ? t > o.t : order > o.order; }
};

class Run {
 public:
  Run(const SimConfig& c, const std::vector<SimRequest>& requests)
      : c_(c),
        requests_(requests),
        router_(c.router),
        live_(requests.size()),
        queue_(c.queue.value_or(router::QueuePolicy::kFcfs), c.queue_max_age_s) {
    for (int32_t w = 0; w < c.num_workers + c.num_prefill_workers; ++w) {
      const auto id = static_cast<router::WorkerId>(w);
      const bool prefill = w >= c.num_workers;
      workers_.push_back(std::make_unique<Worker>(c, &router_, id, prefill));
      router_.AddWorker(id);
      (prefill ? prefill_ids_ : decode_ids_).push_back(id);
    }
    result_.records.resize(requests.size());
  }

  SimResult Go() {
    for (size_t i = 0; i < requests_.size(); ++i) Push(requests_[i].arrival_s, EventKind::kArrival, i);
    if (!requests_.empty()) Push(0, EventKind::kReport, 0);
    while (!events_.empty()) {
      const Event e = events_.top();
      events_.pop();
      switch (e.kind) {
        case EventKind::kArrival:
          Arrive(e.t, e.index);
          break;
        case EventKind::kRoute:
          Route(e.t, e.index);
          break;
        case EventKind::kHandOff:
          HandOff(e.t, e.index, live_[e.index].first_token);
          break;
        case EventKind::kStepDone:
          StepDone(e.t, *workers_[e.index]);
          Release(e.t);
          break;
        case EventKind::kLoadDone:
          LoadDone(e.t, e.index);
          break;
        case EventKind::kReport:
          Report();
          Release(e.t);
          if (finished_ < requests_.size()) {
            Push(e.t + c_.load_report_interval_s, EventKind::kReport, 0);
          }
          break;
      }
    }
    result_.router = router_.Stats();
    double first = result_.end_s;
    for (const SimRequest& q : requests_) first = std::min(first, q.arrival_s);
    if (result_.end_s > first) {
      result_.utilization =
          result_.busy_s / (static_cast<double>(workers_.size()) * (result_.end_s - first));
    }
    for (const auto& w : workers_) {
      const engine::BlockPoolStats st = w->pool.Stats();
      result_.workers.push_back({st.used, st.cached, router_.WorkerBlockCount(w->id), w->prefill});
    }
    return std::move(result_);
  }

 private:
  void Push(double t, EventKind kind, size_t index) { events_.push({t, order_++, kind, index}); }

  void Arrive(double t, size_t i) {
    const SimRequest& q = requests_[i];
    bench::RequestRecord& rec = result_.records[i];
    rec.index = static_cast<int64_t>(i);
    rec.start_s = t;
    rec.input_tokens = static_cast<int>(q.prompt.size());
    rec.usage_reported = true;
    result_.prompt_tokens += static_cast<int64_t>(q.prompt.size());
    const double frontend_s =
        c_.frontend_latency_s + c_.frontend_s_per_token * static_cast<double>(q.prompt.size());
    if (frontend_s > 0) {
      Push(t + frontend_s, EventKind::kRoute, i);
    } else {
      Route(t, i);
    }
  }

  // The frontend routes request i (or holds it in the router queue).
  void Route(double t, size_t i) {
    const SimRequest& q = requests_[i];
    std::vector<BlockHash> hashes = Hashes(q);
    if (c_.queue) {
      const auto p =
          router_.Estimate({.block_hashes = hashes, .num_tokens = q.prompt.size()}, c_.queue_busy_s);
      if (!queue_.empty() || p.all_busy) {
        queue_.Push(i, t, p.own_prefill_s);
        ++result_.queued;
        return;
      }
    }
    Dispatch(t, i, hashes);
  }

  std::vector<BlockHash> Hashes(const SimRequest& q) const {
    const std::vector<uint32_t> tokens(q.prompt.begin(), q.prompt.end());
    return SequenceBlockHashes(tokens, static_cast<size_t>(c_.block_size));
  }

  // Routes request i (`hashes`: its prompt's block hashes) and queues it on its worker: a
  // prefill worker when the frontend's rule sends it there, else a decode (aggregated) one.
  void Dispatch(double t, size_t i, std::span<const BlockHash> hashes) {
    const SimRequest& q = requests_[i];
    const bool remote = PrefillRemotely(q, hashes);
    auto d = router_.Route({.block_hashes = hashes,
                            .num_tokens = q.prompt.size(),
                            .candidates = remote ? prefill_ids_ : decode_ids_});
    MINT_CHECK(d.ok());  // the candidates are never empty
    live_[i].route_id = d->request_id;
    live_[i].remote = remote;
    result_.remote_prefills += remote;
    Worker& w = *workers_[d->worker];
    w.sched.Add(i, q.prompt, 0, nullptr);
    if (!w.busy) StartStep(t, w);
  }

  // The frontend's rule (frontend/remote_backend.cpp PrefillRemotely): enough of the prompt is
  // uncached on the decode worker the router would pick.
  bool PrefillRemotely(const SimRequest& q, std::span<const BlockHash> hashes) {
    if (prefill_ids_.empty() || q.output_tokens <= 1) return false;
    auto d = router_.Peek(
        {.block_hashes = hashes, .num_tokens = q.prompt.size(), .candidates = decode_ids_});
    MINT_CHECK(d.ok());
    const auto n = static_cast<int64_t>(q.prompt.size());
    const int64_t uncached = std::max<int64_t>(n - int64_t{d->overlap_blocks} * c_.block_size, 0);
    if (uncached >= c_.remote_prefill_min_tokens &&
        static_cast<double>(uncached) >= c_.remote_prefill_min_fraction * static_cast<double>(n)) {
      return true;
    }
    ++(n < c_.remote_prefill_min_tokens ? result_.local_prefills_short
                                        : result_.local_prefills_cached);
    return false;
  }

  // A prefill worker sampled request i's first token: the prefill ends there, and the decode
  // worker the router picks for prompt + token imports the prompt's KV.
  void HandOff(double t, size_t i, int32_t first_token) {
    std::vector<int32_t> tokens = requests_[i].prompt;
    tokens.push_back(first_token);
    const std::vector<uint32_t> u(tokens.begin(), tokens.end());
    const std::vector<BlockHash> hashes =
        SequenceBlockHashes(u, static_cast<size_t>(c_.block_size));
    auto d = router_.Route(
        {.block_hashes = hashes, .num_tokens = tokens.size(), .candidates = decode_ids_});
    MINT_CHECK(d.ok());
    live_[i].route_id = d->request_id;
    Worker& w = *workers_[d->worker];
    engine::SeqState* seq = w.sched.Add(i, std::move(tokens), 0, nullptr);
    seq->import_tokens = static_cast<int64_t>(requests_[i].prompt.size());
    if (!w.busy) StartStep(t, w);
  }

  // The scheduler admitted `seq` to import its prompt's KV: the pull of the blocks it lacks
  // queues on the worker's link.
  void StartLoad(double t, Worker& w, engine::SeqState* seq) {
    const int64_t bs = c_.block_size;
    const int64_t blocks = (seq->import_tokens + bs - 1) / bs - seq->num_computed / bs;
    const double wire_s = static_cast<double>(blocks * bs) *
                          static_cast<double>(c_.kv_bytes_per_token) / (c_.kv_gbps * 1e9);
    w.link_free_s = std::max(t, w.link_free_s) + wire_s;
    const double done = w.link_free_s + c_.kv_latency_s;
    result_.kv_pulled_blocks += blocks;
    result_.kv_pull_s += done - t;
    Live& l = live_[seq->id];
    l.loading_on = &w;
    l.loading = seq;
    Push(done, EventKind::kLoadDone, seq->id);
  }

  void LoadDone(double t, size_t i) {
    Live& l = live_[i];
    Worker& w = *l.loading_on;
    w.sched.LoadDone(l.loading, /*ok=*/true);
    l.loading_on = nullptr;
    l.loading = nullptr;
    if (!w.busy) StartStep(t, w);
  }

  // Routes held requests while some worker is below the busy threshold.
  void Release(double t) {
    while (!queue_.empty() && !router_.Estimate({}, c_.queue_busy_s).all_busy) {
      const size_t i = *queue_.Pop(t);
      Dispatch(t, i, Hashes(requests_[i]));
    }
  }

  void StartStep(double t, Worker& w) {
    for (;;) {
      w.plan = w.sched.Schedule();
      result_.preemptions += static_cast<int64_t>(w.plan.preempted.size());
      for (engine::SeqState* s : w.plan.loads) StartLoad(t, w, s);
      if (!w.plan.empty()) break;
      engine::SeqState* s = w.sched.FrontWaiting();
      // Waiting for a pull: its end starts the next step (its blocks may be what a waiting
      // request lacks).
      if (s == nullptr || w.sched.num_waiting_for_kv() > 0) {
        w.busy = false;
        return;
      }
      // Nothing fits: the request needs more blocks than the whole cache (the engine ends it).
      bench::RequestRecord& rec = result_.records[s->id];
      rec.error = "does not fit in the KV cache";
      rec.end_s = t;
      End(w, s);
    }
    engine::StepShapeCounts counts;
    for (const engine::ScheduledSeq& s : w.plan.seqs) counts.Add(s.pos0, s.num_new);
    const double seconds =
        c_.timing.StepMs({.prefill_tokens = counts.prefill_tokens,
                          .prefill_kv_tokens = counts.prefill_kv_tokens,
                          .decode_seqs = counts.decode_seqs,
                          .decode_kv_tokens = counts.decode_kv_tokens,
                          .kv_capacity_tokens = int64_t{c_.num_blocks} * c_.block_size}) /
        1e3;
    w.unreported.push_back({counts.prefill_tokens, counts.decode_seqs, counts.decode_kv_tokens,
                            seconds});
    w.busy = true;
    ++result_.steps;
    result_.busy_s += seconds;
    Push(t + seconds, EventKind::kStepDone, static_cast<size_t>(w.id));
  }

  void StepDone(double t, Worker& w) {
    w.sched.Complete(w.plan);
    for (const engine::ScheduledSeq& s : w.plan.seqs) {
      if (!s.samples) continue;
      engine::SeqState* seq = s.seq;
      const size_t i = seq->id;
      const int64_t pos = s.pos0 + s.num_new - 1;
      const int32_t token = mocker::SimulatedExecutor::SyntheticToken(
          c_.token_seed, pos, seq->tokens[static_cast<size_t>(pos)], kVocab);
      bench::RequestRecord& rec = result_.records[i];
      Live& l = live_[i];
      if (w.prefill) {  // the first token of a remote prefill: held, the decode worker goes on
        result_.cached_prompt_tokens += seq->num_cached_prompt;
        router_.OnPrefillDone(l.route_id);
        router_.OnFinished(l.route_id);
        w.sched.Finish(seq);
        if (c_.frontend_latency_s > 0) {  // the first token goes back through the frontend
          l.first_token = token;
          Push(t + c_.frontend_latency_s, EventKind::kHandOff, i);
        } else {
          HandOff(t, i, token);
        }
        continue;
      }
      w.sched.AppendToken(seq, token);
      // Tokens the client has: a remote prefill's first one arrives with the decode worker's.
      const int64_t generated = seq->num_generated() + (l.remote ? 1 : 0);
      if (seq->num_generated() == 1) {
        rec.ttft_s = t - rec.start_s;
        if (!l.remote) result_.cached_prompt_tokens += seq->num_cached_prompt;
        router_.OnPrefillDone(l.route_id);
        if (l.remote) {  // the held first token goes out just before this one
          rec.token_times_s.push_back(t);
          rec.itl_s.push_back(0);
        }
      } else {
        rec.itl_s.push_back(t - l.last_token_s);
      }
      rec.token_times_s.push_back(t);
      l.last_token_s = t;
      if (generated >= requests_[i].output_tokens ||
          seq->num_tokens() >= c_.scheduler.max_model_len) {
        rec.output_tokens = static_cast<int>(generated);
        rec.end_s = t;
        End(w, seq);
      }
    }
    StartStep(t, w);
  }

  void End(Worker& w, engine::SeqState* seq) {
    const size_t i = seq->id;
    router_.OnFinished(live_[i].route_id);
    w.sched.Finish(seq);  // seq is gone
    ++finished_;
    result_.end_s = std::max(result_.end_s, result_.records[i].end_s);
  }

  // Each worker's load report, as `mint worker` publishes it and the frontend applies it.
  void Report() {
    for (auto& wp : workers_) {
      Worker& w = *wp;
      const engine::SchedulerStats st = w.sched.Stats();
      router_.UpdateLoad(
          w.id, {.active_blocks = static_cast<uint64_t>(w.pool.Stats().used),
                 .waiting_prefill_tokens = static_cast<uint64_t>(st.waiting_prefill_tokens),
                 .seqs = static_cast<uint64_t>(st.running + st.waiting),
                 .max_batched_tokens = c_.scheduler.max_num_batched_tokens});
      router_.AddStepSamples(w.id, w.unreported);
      w.unreported.clear();
    }
  }

  const SimConfig& c_;
  const std::vector<SimRequest>& requests_;
  router::Router router_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<Live> live_;
  std::vector<router::WorkerId> decode_ids_;   // decode (or aggregated) workers
  std::vector<router::WorkerId> prefill_ids_;  // empty when aggregated
  router::RouterQueue queue_;  // used when c_.queue is set
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  uint64_t order_ = 0;
  size_t finished_ = 0;
  SimResult result_;
};

}  // namespace

Status SimConfig::Validate() const {
  if (num_workers <= 0) return Status::InvalidArgument("num_workers must be > 0");
  if (block_size <= 0) return Status::InvalidArgument("block_size must be > 0");
  if (num_blocks <= 0) return Status::InvalidArgument("num_blocks must be > 0");
  MINT_RETURN_IF_ERROR(scheduler.Validate());
  MINT_RETURN_IF_ERROR(router.Validate());
  if (router.block_size != block_size) {
    return Status::InvalidArgument(fmt::format(
        "the router's block size ({}) differs from the workers' ({})", router.block_size,
        block_size));
  }
  if (!(queue_busy_s >= 0) || !(queue_max_age_s >= 0)) {
    return Status::InvalidArgument("queue_busy_s and queue_max_age_s must be >= 0");
  }
  if (num_prefill_workers < 0) return Status::InvalidArgument("num_prefill_workers must be >= 0");
  if (num_prefill_workers > 0 && queue) {
    return Status::InvalidArgument("the router queue is for aggregated layouts only");
  }
  if (remote_prefill_min_tokens < 0 || !(remote_prefill_min_fraction >= 0) || !(kv_gbps > 0) ||
      !(kv_latency_s >= 0)) {
    return Status::InvalidArgument(
        "remote_prefill_min_tokens and remote_prefill_min_fraction must be >= 0, kv_gbps > 0 and "
        "kv_latency_s >= 0");
  }
  if (!(frontend_latency_s >= 0) || !(frontend_s_per_token >= 0)) {
    return Status::InvalidArgument("frontend_latency_s and frontend_s_per_token must be >= 0");
  }
  if (!(load_report_interval_s > 0)) {
    return Status::InvalidArgument("load_report_interval_s must be > 0");
  }
  return Status::Ok();
}

Result<SimResult> Simulate(const SimConfig& config, const std::vector<SimRequest>& requests) {
  MINT_RETURN_IF_ERROR(config.Validate());
  for (size_t i = 0; i < requests.size(); ++i) {
    const SimRequest& q = requests[i];
    if (q.prompt.empty() || static_cast<int64_t>(q.prompt.size()) >= config.scheduler.max_model_len) {
      return Status::InvalidArgument(fmt::format(
          "request {}: prompt of {} tokens (must be 1 .. max_model_len - 1 = {})", i,
          q.prompt.size(), config.scheduler.max_model_len - 1));
    }
    if (q.output_tokens < 1 || !(q.arrival_s >= 0)) {
      return Status::InvalidArgument(
          fmt::format("request {}: output_tokens must be >= 1 and arrival_s >= 0", i));
    }
  }
  return Run(config, requests).Go();
}

}  // namespace mint::sim
