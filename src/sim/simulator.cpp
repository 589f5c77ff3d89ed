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
  Worker(const SimConfig& c, router::Router* r, router::WorkerId worker_id)
      : pool({.num_blocks = c.num_blocks,
              .block_size = c.block_size,
              .enable_prefix_cache = c.enable_prefix_cache}),
        sched(c.scheduler, &pool),
        router(r),
        id(worker_id) {
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
  bool busy = false;
  engine::StepPlan plan;                       // the step in flight while busy
  std::vector<router::StepSample> unreported;  // steps since the last load report
};

struct Live {
  uint64_t route_id = 0;
  double last_token_s = 0;
};

enum class EventKind { kArrival, kStepDone, kReport };
struct Event {
  double t;
  uint64_t order;  // insertion order: ties run first-in first-out
  EventKind kind;
  size_t index;  // request (arrival) or worker (step done)
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
    for (int32_t w = 0; w < c.num_workers; ++w) {
      workers_.push_back(std::make_unique<Worker>(c, &router_, static_cast<router::WorkerId>(w)));
      router_.AddWorker(static_cast<router::WorkerId>(w));
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
        case EventKind::kStepDone:
          StepDone(e.t, *workers_[e.index]);
          Release(e.t);
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
      result_.utilization = result_.busy_s / (c_.num_workers * (result_.end_s - first));
    }
    for (const auto& w : workers_) {
      const engine::BlockPoolStats st = w->pool.Stats();
      result_.workers.push_back({st.used, st.cached, router_.WorkerBlockCount(w->id)});
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

  // Routes request i (`hashes`: its prompt's block hashes) and queues it on its worker.
  void Dispatch(double t, size_t i, std::span<const BlockHash> hashes) {
    const SimRequest& q = requests_[i];
    auto d = router_.Route({.block_hashes = hashes, .num_tokens = q.prompt.size()});
    MINT_CHECK(d.ok());  // every worker is a candidate
    live_[i].route_id = d->request_id;
    Worker& w = *workers_[d->worker];
    w.sched.Add(i, q.prompt, 0, nullptr);
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
      if (!w.plan.empty()) break;
      engine::SeqState* s = w.sched.FrontWaiting();
      if (s == nullptr) {
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
      w.sched.AppendToken(seq, token);
      bench::RequestRecord& rec = result_.records[i];
      Live& l = live_[i];
      if (seq->num_generated() == 1) {
        rec.ttft_s = t - rec.start_s;
        result_.cached_prompt_tokens += seq->num_cached_prompt;
        router_.OnPrefillDone(l.route_id);
      } else {
        rec.itl_s.push_back(t - l.last_token_s);
      }
      rec.token_times_s.push_back(t);
      l.last_token_s = t;
      if (seq->num_generated() >= requests_[i].output_tokens ||
          seq->num_tokens() >= c_.scheduler.max_model_len) {
        rec.output_tokens = static_cast<int>(seq->num_generated());
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
