#include "frontend/remote_backend.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include <fmt/format.h>

#include <optional>
#include <span>
#include "core/log.h"
#include "runtime/convert_events.h"
#include "runtime/event_plane.h"
#include "runtime/worker_client.h"

#include "core/hash.h"
#include "core/tsan.h"
#include "metrics/metrics.h"
#include "router/engine_events.h"

namespace mint::frontend {

namespace pb = runtime::pb;
using Clock = std::chrono::steady_clock;

namespace {

// A worker as this frontend sees it.
struct Conn {
  runtime::WorkerInfo info;
  std::unique_ptr<runtime::WorkerClient> client;
  std::atomic<int64_t> in_flight{0};
  std::atomic<uint64_t> calls{0};      // attempts sent to it
  router::WorkerId rid = 0;            // its id in the router
  std::atomic<int64_t> lost_at_ns{0};  // steady-clock time of the last broken call; 0 = never
};

// One request in flight. It has no thread of its own: it advances from Submit, from the gRPC
// reactions of its attempts (outputs, end of stream), and from the waiter thread while it waits
// for a worker. One step runs at a time, so the progress fields need no lock.
struct Call {
  uint64_t id = 0;
  protocol::GenerateRequest request;  // as submitted
  protocol::OutputCallback on_output;
  router::RouteOverrides route;  // this request's routing weights
  std::mutex mu;
  runtime::GenerateStream* stream = nullptr;  // the attempt in progress; guarded by mu
  std::atomic<bool> aborted{false};

  // Progress over attempts.
  std::chrono::system_clock::time_point deadline;  // of the whole request (request_timeout)
  std::vector<int32_t> generated;                  // tokens the client has seen
  int64_t cached = 0;                              // prompt tokens the first worker had cached
  std::set<std::string> failed_workers;
  int migrations = 0;
  Status last_error;
  std::string import_handle;  // KV of the prompt on a prefill worker, for the next attempt
  // The prefill worker's first token, held until the decode worker's first output (unless
  // RemoteBackendOptions::stream_prefill_token): the client's stream then has no handoff gap.
  std::optional<protocol::GenerateOutput> held_first;
  std::optional<Clock::time_point> wait_until;  // waiting for a worker until then
  bool queue_checked = false;  // went past the router queue (held or not)

  int64_t prompt_tokens() const { return static_cast<int64_t>(request.prompt.size()); }
};

}  // namespace

struct RemoteBackend::Impl : std::enable_shared_from_this<RemoteBackend::Impl> {
  RemoteBackendOptions options;
  std::unique_ptr<runtime::Handle> watch;

  mutable std::mutex mu;
  mutable std::condition_variable cv;                    // membership changed, or a call ended
  std::map<std::string, std::shared_ptr<Conn>> workers;  // guarded by mu
  std::map<uint64_t, std::shared_ptr<Call>> calls;       // guarded by mu
  uint64_t next_id = 1;                                  // guarded by mu
  size_t rr = 0;                                         // guarded by mu; tie-break rotation
  bool closed = false;                                   // guarded by mu

  std::atomic<uint64_t> n_requests{0}, n_migrated{0}, n_failed{0}, n_aborted{0};
  // Disaggregation: prefills done on a prefill worker, and ones that fell back to the decode
  // worker because the prefill worker failed.
  std::atomic<uint64_t> n_remote_prefills{0}, n_prefill_fallbacks{0};
  std::atomic<uint64_t> n_kv_import_recomputed{0}, n_kv_import_failed{0};
  // Kept on the decode worker by the conditional-disaggregation rule (PrefillRemotely).
  std::atomic<uint64_t> n_local_short{0}, n_local_cached{0}, n_local_queue{0};
  // Prompt tokens of each attempt and those the chosen worker found cached (its report): the
  // hit rate actually achieved, next to the router's prediction.
  std::atomic<uint64_t> n_prompt_tokens{0}, n_cached_tokens{0};
  // The router queue (options.router_queue). Lock order: mu, then hold_mu, then the router's.
  std::mutex hold_mu;
  std::optional<router::RouterQueue> hold;           // guarded by hold_mu
  std::map<uint64_t, std::shared_ptr<Call>> held;    // guarded by hold_mu
  std::atomic<uint64_t> n_held{0};
  std::atomic<int64_t> n_holding{0};
  bool release_pending = false;  // guarded by mu: the waiter thread runs ReleaseHeld
  const Clock::time_point started = Clock::now();

  std::unique_ptr<router::Router> router;
  router::WorkerId next_rid = 1;                 // guarded by mu
  std::map<std::string, router::WorkerId> rids;  // worker id -> router id; guarded by mu
  bool warned_block_size = false;                // guarded by mu

  std::optional<router::WorkerId> RouterId(const std::string& id) {
    std::lock_guard<std::mutex> lk(mu);
    auto it = rids.find(id);
    if (it == rids.end()) return std::nullopt;
    return it->second;
  }

  // Each worker's last reported load (its cache contents live in the router's index).
  struct WorkerKv {
    pb::LoadMetrics load;
    bool has_load = false;
    uint64_t last_step = 0;  // the newest step number taken from its load reports
  };
  std::unique_ptr<runtime::KvEventSubscriber> events;
  mutable std::mutex kv_mu;
  std::map<std::string, WorkerKv> kv;             // guarded by kv_mu
  std::map<std::string, std::string> subscribed;  // worker id -> endpoint; discovery thread only

  void OnKvSnapshot(const std::string& id, const engine::KvSnapshot& snap) {
    if (auto rid = RouterId(id)) {
      std::vector<router::KvCacheEvent> blocks;
      blocks.reserve(snap.blocks.size());
      for (const auto& b : snap.blocks) {
        blocks.push_back(router::FromEngineEvent(b));
        blocks.back().id = 0;
      }
      router->LoadSnapshot(*rid, blocks, snap.last_event_id);
    }
  }
  void OnKvEvent(const std::string& id, const engine::KvEvent& e) {
    if (auto rid = RouterId(id)) router->ApplyEvent(*rid, router::FromEngineEvent(e));
  }
  // Cached blocks per known worker, from the router's index.
  std::map<std::string, size_t> CachedBlocks() const {
    std::vector<std::pair<std::string, router::WorkerId>> ids;
    {
      std::lock_guard<std::mutex> lk(mu);
      ids.assign(rids.begin(), rids.end());
    }
    std::map<std::string, size_t> out;
    for (const auto& [id, rid] : ids) out[id] = router->WorkerBlockCount(rid);
    return out;
  }
  void OnLoad(const std::string& id, const pb::LoadMetrics& load) {
    // The steps this frontend has not seen yet (a restarted worker counts from 0 again).
    std::vector<router::StepSample> steps;
    {
      std::lock_guard<std::mutex> lk(kv_mu);
      auto& w = kv[id];
      const int n = load.steps_size();
      if (n > 0 && load.steps(n - 1).step() < w.last_step) w.last_step = 0;
      for (const pb::StepSample& s : load.steps()) {
        if (s.step() <= w.last_step) continue;
        steps.push_back({.prefill_tokens = s.prefill_tokens(), .decode_seqs = s.decode_seqs(),
                         .decode_kv_tokens = s.decode_kv_tokens(), .seconds = s.seconds()});
        w.last_step = s.step();
      }
      w.load = load;
      w.has_load = true;
    }
    if (auto rid = RouterId(id)) {
      auto count = [](int64_t v) { return static_cast<uint64_t>(std::max<int64_t>(v, 0)); };
      router->UpdateLoad(*rid, {.active_blocks = count(load.kv_blocks_used()),
                                .waiting_prefill_tokens = count(load.prefill_tokens_queued()),
                                .seqs = count(load.running()) + count(load.waiting()),
                                .max_batched_tokens = load.max_num_batched_tokens()});
      router->AddStepSamples(*rid, steps);
    }
    OnLoadForQueue();
  }
  // The router's part of /metrics: where its time goes, the prefix hit rate it predicted
  // against the one the workers reported, and per worker its choices and what its step-time
  // model has learned (the seconds cost).
  void RouterMetrics(metrics::Registry* out) const {
    const router::RouterStats rs = router->Stats();
    metrics::Registry& reg = *out;
    const std::tuple<const char*, const char*, const metrics::HistogramSnapshot*> hists[] = {
        {"mint_router_hashing_seconds", "Hashing a request's prompt into KV block hashes",
         &rs.hashing},
        {"mint_router_find_matches_seconds", "KV index lookups per routing decision",
         &rs.find_matches},
        {"mint_router_decision_seconds", "Whole routing decisions", &rs.decision}};
    for (const auto& [name, help, h] : hists) {
      reg.AddHistogramCallback(name, help, {}, [snap = *h] { return snap; });
    }
    reg.AddGauge("mint_router_predicted_hit_rate",
                 "Prompt blocks the router expected cached on the chosen workers")
        .Set(rs.predicted_hit_rate);
    const uint64_t pt = n_prompt_tokens.load(), ct = n_cached_tokens.load();
    reg.AddGauge("mint_router_actual_hit_rate", "Prompt tokens the chosen workers found cached")
        .Set(pt ? static_cast<double>(ct) / static_cast<double>(pt) : 0.0);
    reg.AddGauge("mint_router_indexed_blocks", "Distinct blocks in the router's KV index")
        .Set(static_cast<double>(rs.indexed_blocks));
    std::map<router::WorkerId, std::string> names;
    {
      std::lock_guard<std::mutex> lk(mu);
      for (const auto& [id, rid] : rids) names[rid] = id;
    }
    for (const auto& w : rs.workers) {
      auto it = names.find(w.worker);
      if (it == names.end()) continue;
      reg.AddCounter("mint_router_chosen_total", "Requests the router sent to each worker",
                     {{"worker", it->second}})
          .Inc(static_cast<double>(w.chosen));
      reg.AddCounter("mint_router_overlap_blocks_total",
                     "Cached prompt blocks the router predicted on each worker it chose",
                     {{"worker", it->second}})
          .Inc(static_cast<double>(w.overlap_blocks));
    }
    for (const auto& [rid, id] : names) {
      uint64_t n = 0;
      const router::StepTimeModel m(router->StepModel(rid, &n), 0);
      reg.AddGauge("mint_router_step_samples", "Engine steps behind each worker's step-time model",
                   {{"worker", id}})
          .Set(static_cast<double>(n));
      reg.AddGauge("mint_router_predicted_prefill_seconds",
                   "The router's step-time model: a 1,024-token prefill on the idle worker",
                   {{"worker", id}})
          .Set(m.PredictSeconds(1024, 0, 0));
    }
  }
  // The subscriber's resync path: the worker's snapshot over the request plane.
  Result<engine::KvSnapshot> FetchSnapshot(const std::string& id) {
    std::shared_ptr<Conn> c;
    {
      std::lock_guard<std::mutex> lk(mu);
      auto it = workers.find(id);
      if (it == workers.end()) return Status::NotFound("worker " + id + " left");
      c = it->second;
    }
    return c->client->KvSnapshot(std::chrono::seconds(5));
  }
  // Follows membership on the event plane (called on the discovery thread, outside mu).
  void SyncSubscriptions(const runtime::Membership& members) {
    if (!events) return;
    std::map<std::string, std::string> want;
    for (const auto& w : members) {
      if ((options.model_name.empty() || w.model == options.model_name) &&
          !w.events_address.empty()) {
        want[w.id] = w.events_address;
      }
    }
    for (auto it = subscribed.begin(); it != subscribed.end();) {
      auto wit = want.find(it->first);
      if (wit == want.end() || wit->second != it->second) {
        events->Disconnect(it->first);
        std::lock_guard<std::mutex> lk(kv_mu);
        kv.erase(it->first);
        it = subscribed.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [id, ep] : want) {
      if (subscribed.count(id)) continue;
      if (Status s = events->Connect(id, ep); !s.ok()) {
        log::Warn("worker {}: cannot subscribe to KV events at {}: {}", id, ep, s.ToString());
        continue;
      }
      subscribed[id] = ep;
    }
  }

  void OnMembership(const runtime::Membership& members) {
    UpdateWorkers(members);
    SyncSubscriptions(members);
  }
  void UpdateWorkers(const runtime::Membership& members) {
    std::lock_guard<std::mutex> lk(mu);
    std::map<std::string, std::shared_ptr<Conn>> next;
    for (const auto& w : members) {
      if (!options.model_name.empty() && w.model != options.model_name) continue;
      auto it = workers.find(w.id);
      if (it != workers.end() && it->second->info.request_address == w.request_address) {
        next[w.id] = it->second;
        continue;
      }
      auto c = std::make_shared<Conn>();
      c->info = w;
      if (it != workers.end()) {
        router->RemoveWorker(it->second->rid);  // same id, new address: a restarted worker
      }
      c->rid = next_rid++;
      rids[w.id] = c->rid;
      router->AddWorker(c->rid);
      if (w.block_size > 0 && w.block_size != router->config().block_size && !warned_block_size) {
        warned_block_size = true;
        log::Warn(
            "worker {} uses {}-token KV blocks but the router hashes {}-token blocks: "
            "KV-aware routing cannot match its cache (set the frontend's --kv-block-size)",
            w.id, w.block_size, router->config().block_size);
      }
      c->client = std::make_unique<runtime::WorkerClient>(w.request_address, 5000, options.tls);
      log::Info("worker {} joined: {} ({})", w.id, w.request_address, w.model);
      next[w.id] = std::move(c);
    }
    for (const auto& [id, c] : workers) {
      if (next.count(id)) continue;
      log::Info("worker {} left ({})", id, c->info.request_address);
      router->RemoveWorker(c->rid);
      rids.erase(id);
    }
    workers = std::move(next);
    Kick();
  }

  struct Picked {
    std::shared_ptr<Conn> conn;
    uint64_t route_id = 0;  // for router->OnPrefillDone / OnFinished
  };
  // The worker for the next attempt, chosen by the router among the workers not in `exclude`,
  // leaving out ones that broke a call in the last 2 s while others remain. Empty if none.
  // `prefill`: among prefill workers; otherwise among the others (decode and aggregated).
  // The workers Pick chooses among (see there); mu held.
  std::vector<std::shared_ptr<Conn>> Candidates(const std::set<std::string>& exclude,
                                                bool prefill) const {
    const int64_t now = Clock::now().time_since_epoch().count();
    const int64_t cooldown = std::chrono::nanoseconds(std::chrono::seconds(2)).count();
    std::vector<std::shared_ptr<Conn>> all, fresh;
    for (const auto& [id, c] : workers) {
      if (exclude.count(id) || (c->info.role == "prefill") != prefill) continue;
      all.push_back(c);
      const int64_t lost = c->lost_at_ns.load();
      if (lost == 0 || now - lost >= cooldown) fresh.push_back(c);
    }
    return fresh.empty() ? all : fresh;
  }
  static std::vector<router::WorkerId> RouterIds(const std::vector<std::shared_ptr<Conn>>& cands) {
    std::vector<router::WorkerId> ids;
    ids.reserve(cands.size());
    for (const auto& c : cands) ids.push_back(c->rid);
    return ids;
  }
  Picked Pick(const std::set<std::string>& exclude, std::span<const BlockHash> hashes,
              uint64_t num_tokens, const router::RouteOverrides& route, bool prefill = false) {
    const std::vector<std::shared_ptr<Conn>> cands = Candidates(exclude, prefill);
    if (cands.empty()) return {};
    const std::vector<router::WorkerId> ids = RouterIds(cands);  // parallel to cands
    auto d = router->Route(
        {.block_hashes = hashes, .num_tokens = num_tokens, .overrides = route, .candidates = ids});
    const auto chosen = d.ok() ? std::find(ids.begin(), ids.end(), d->worker) : ids.end();
    if (chosen == ids.end()) {
      log::Warn("router: {}; taking the first candidate",
                d.ok() ? "unknown worker" : d.status().ToString());
      return {cands.front(), 0};
    }
    return {cands[chosen - ids.begin()], d->request_id};
  }

  void Emit(Call& call, protocol::FinishReason finish, Status error) {
    protocol::GenerateOutput out;
    out.request_id = call.id;
    out.finish = finish;
    out.error = std::move(error);
    out.prompt_tokens = call.prompt_tokens();
    out.generated_tokens = static_cast<int64_t>(call.generated.size());
    Deliver(call, out);
  }
  // Hands `out` to the client, after the held first token if there is one.
  static void Deliver(Call& call, const protocol::GenerateOutput& out) {
    if (call.held_first) {
      protocol::GenerateOutput first = std::move(*call.held_first);
      call.held_first.reset();
      call.on_output(first);
    }
    call.on_output(out);
  }
  void Fail(Call& call, Status error) {
    n_failed.fetch_add(1);
    Emit(call, protocol::FinishReason::kError, std::move(error));
  }

  // Conditional disaggregation (RemoteBackendOptions): whether the prompt goes to a prefill
  // worker. Counts the requests kept local although a prefill worker was up, by reason. Sets
  // `hashes` to the prompt's block hashes when a prefill worker is up (only then are they needed).
  bool PrefillRemotely(const Call& call, std::vector<BlockHash>* hashes) {
    const int64_t n = call.prompt_tokens();
    std::vector<router::WorkerId> prefill_ids, decode_ids;
    {
      std::lock_guard<std::mutex> lk(mu);
      prefill_ids = RouterIds(Candidates({}, /*prefill=*/true));
      if (prefill_ids.empty()) return false;
      decode_ids = RouterIds(Candidates({}, /*prefill=*/false));
    }
    *hashes = SequenceBlockHashes(
        std::vector<uint32_t>(call.request.prompt.begin(), call.request.prompt.end()),
        static_cast<size_t>(router->config().block_size));
    // The tokens the decode worker the router would pick lacks.
    int64_t cached = 0;
    if (!decode_ids.empty()) {
      auto d = router->Peek({.block_hashes = *hashes,
                             .num_tokens = static_cast<uint64_t>(n),
                             .overrides = call.route,
                             .candidates = decode_ids});
      if (d.ok()) cached = static_cast<int64_t>(d->overlap_blocks) * router->config().block_size;
    }
    const int64_t uncached = std::max<int64_t>(n - cached, 0);
    if (uncached < options.remote_prefill_min_tokens ||
        static_cast<double>(uncached) <
            options.remote_prefill_min_fraction * static_cast<double>(n)) {
      (n < options.remote_prefill_min_tokens ? n_local_short : n_local_cached).fetch_add(1);
      return false;
    }
    if (options.remote_prefill_max_queue_s > 0 &&
        router
            ->Estimate({.block_hashes = *hashes,
                        .num_tokens = static_cast<uint64_t>(n),
                        .candidates = prefill_ids},
                       options.remote_prefill_max_queue_s)
            .all_busy) {
      n_local_queue.fetch_add(1);
      return false;
    }
    return true;
  }

  class Attempt;
  // --- The request's flow. Each step either starts an attempt (a gRPC call whose reactor
  // continues the flow), parks the request for the waiter thread, or ends it with Complete. ---

  // The plan: prefill on a prefill worker, then decode elsewhere with its KV; or (no prefill
  // worker, a short prompt, a prefill that failed) everything on one worker.
  void Start(const std::shared_ptr<Call>& call) {
    call->deadline = std::chrono::system_clock::now() + options.request_timeout;
    if (call->request.max_tokens > 1) {
      std::vector<BlockHash> hashes;
      if (PrefillRemotely(*call, &hashes) && StartPrefill(call, hashes)) return;
    }
    NextAttempt(call, /*in_submit=*/true);
  }
  // Starts the prompt on a prefill worker (chosen by the router among prefill workers) for its
  // first token and KV handle. False when no prefill worker is up or the request was aborted.
  bool StartPrefill(const std::shared_ptr<Call>& call, std::span<const BlockHash> hashes);
  // After the prefill attempt: the first token goes out, and decode pulls the KV; or, when the
  // prefill failed, the decode worker computes the prompt itself.
  void OnPrefillDone(const std::shared_ptr<Call>& call, Attempt& a, const Status& status);
  // The next decode attempt, on the worker the router picks for the prompt plus what earlier
  // attempts generated; parks the request when no worker is up (until one joins or
  // wait_for_worker passes). `in_submit`: called inside Submit, where no output may be delivered
  // (the caller has no id yet), so a request that would end now is parked for the waiter thread.
  void NextAttempt(const std::shared_ptr<Call>& call, bool in_submit = false);
  void OnDecodeOutput(Call& call, Attempt& a, const protocol::GenerateOutput& o);
  // After a decode attempt: the request finished, failed for good, or migrates.
  void OnDecodeDone(const std::shared_ptr<Call>& call, Attempt& a, runtime::StreamEnd end,
                    const Status& status);
  void Complete(const Call& call) {
    std::lock_guard<std::mutex> lk(mu);
    calls.erase(call.id);
    cv.notify_all();
  }

  // The waiter thread: retries parked requests at once when kicked (membership changed, a
  // request was aborted or must end), else every 100 ms; exits once closed with nothing parked.
  std::map<uint64_t, std::shared_ptr<Call>> parked;  // guarded by mu
  bool kick = false;                                 // guarded by mu
  bool stop_waiter = false;                          // guarded by mu
  std::thread waiter;
  // Attempts whose call is done, deleted on the waiter thread: an attempt's ClientContext may
  // hold the last reference to a channel, and gRPC must not destroy its last channel on one of
  // its own callback threads (it joins them; ASan caught a double free). Close waits for
  // attempts_alive to reach 0, so no attempt outlives the backend.
  std::vector<Attempt*> graveyard;  // guarded by mu
  int64_t attempts_alive = 0;       // begun and not yet deleted; guarded by mu
  void Bury(Attempt* a) {
    std::lock_guard<std::mutex> lk(mu);
    graveyard.push_back(a);
    Kick();
  }
  static void DeleteAttempt(Attempt* a);
  void Kick() {  // mu held
    kick = true;
    cv.notify_all();
  }
  double NowSeconds() const {
    return std::chrono::duration<double>(Clock::now() - started).count();
  }
  // Holds a new request in the router queue when every worker is busy (or others are held);
  // true if held. Each request is checked once, before its first attempt.
  bool Hold(const std::shared_ptr<Call>& call, std::span<const BlockHash> hashes, uint64_t tokens) {
    if (!options.router_queue || call->queue_checked) return false;
    call->queue_checked = true;
    const router::Router::Pressure p = router->Estimate(
        {.block_hashes = hashes, .num_tokens = tokens}, options.router_queue_busy_s);
    std::lock_guard<std::mutex> lk(hold_mu);
    if (hold->empty() && !p.all_busy) return false;
    hold->Push(call->id, NowSeconds(), p.own_prefill_s);
    held[call->id] = call;
    n_held.fetch_add(1);
    n_holding.fetch_add(1);
    return true;
  }
  // Routes held requests, in the queue's order, while some worker is below the busy threshold
  // (each is routed before the next is considered, so the loads it adds count). Waiter thread.
  void ReleaseHeld() {
    for (;;) {
      std::shared_ptr<Call> call;
      {
        std::lock_guard<std::mutex> lk(hold_mu);
        if (!hold || hold->empty()) return;
        if (router->Estimate({}, options.router_queue_busy_s).all_busy) return;
        const uint64_t id = *hold->Pop(NowSeconds());
        call = std::move(held[id]);
        held.erase(id);
      }
      n_holding.fetch_sub(1);
      NextAttempt(call);
    }
  }
  // Takes a held request out of the queue (aborted, or the backend closing); the waiter thread
  // then ends it. mu held.
  void Unhold(uint64_t id) {
    std::shared_ptr<Call> call;
    {
      std::lock_guard<std::mutex> lk(hold_mu);
      auto it = held.find(id);
      if (it == held.end()) return;
      call = std::move(it->second);
      held.erase(it);
      hold->Remove(id);
    }
    n_holding.fetch_sub(1);
    parked[id] = call;
    Kick();
  }
  // A load report arrived: held requests may go now.
  void OnLoadForQueue() {
    if (n_holding.load() == 0) return;
    std::lock_guard<std::mutex> lk(mu);
    release_pending = true;
    cv.notify_all();
  }
  void WaitLoop() {
    std::unique_lock<std::mutex> lk(mu);
    for (;;) {
      if (release_pending) {
        release_pending = false;
        lk.unlock();
        ReleaseHeld();
        lk.lock();
        continue;
      }
      if (!graveyard.empty()) {
        std::vector<Attempt*> dead;
        dead.swap(graveyard);
        lk.unlock();
        for (Attempt* a : dead) DeleteAttempt(a);
        lk.lock();
        attempts_alive -= static_cast<int64_t>(dead.size());
        cv.notify_all();
        continue;
      }
      if (parked.empty()) {
        if (stop_waiter) return;
        cv.wait(lk, [&] {
          return stop_waiter || release_pending || !parked.empty() || !graveyard.empty();
        });
        continue;
      }
      cv.wait_for(lk, std::chrono::milliseconds(100), [&] { return kick; });
      kick = false;
      if (!graveyard.empty()) continue;
      std::map<uint64_t, std::shared_ptr<Call>> retry;
      retry.swap(parked);
      lk.unlock();
      for (auto& [id, call] : retry) NextAttempt(call);
      lk.lock();
    }
  }
};

// One Generate stream of a request (its prefill, or a decode attempt) on a worker's client: no
// thread waits on it; its callbacks run on gRPC's threads. Deleted on the waiter thread (Bury)
// once the stream is done.
class RemoteBackend::Impl::Attempt final {
 public:
  Attempt(std::shared_ptr<RemoteBackend::Impl> impl, std::shared_ptr<Call> call,
          RemoteBackend::Impl::Picked picked, const protocol::GenerateRequest& req, bool prefill)
      : impl_(std::move(impl)),
        call_(std::move(call)),
        picked_(std::move(picked)),
        prefill_(prefill) {
    std::optional<std::chrono::system_clock::time_point> deadline;
    if (impl_->options.request_timeout.count() > 0) deadline = call_->deadline;
    // (Not started: Begin starts it once the call can be cancelled through it.)
    stream_ = conn().client->NewGenerate(
        req, call_->id, deadline,
        {[this](const protocol::GenerateOutput& o) { OnOutput(o); },
         [this](runtime::StreamEnd end, const Status& st) { OnDone(end, st); }});
  }
  Conn& conn() { return *picked_.conn; }
  uint64_t route_id() const { return picked_.route_id; }

  // Starts the stream; false (and nothing started) when the request was aborted meanwhile.
  bool Begin() {
    {
      std::lock_guard<std::mutex> lk(call_->mu);
      if (call_->aborted) return false;
      call_->stream = stream_.get();
    }
    {
      std::lock_guard<std::mutex> lk(impl_->mu);
      ++impl_->attempts_alive;
    }
    conn().in_flight.fetch_add(1);
    conn().calls.fetch_add(1);
    stream_->Start();
    return true;
  }

  // What the stream delivered.
  bool finished = false;                // a final output arrived
  bool first = true;                    // no output yet
  bool import_failure_counted = false;  // its kv_import_failed was counted
  protocol::GenerateOutput prefilled;   // prefill: the first token (and logprobs), finish
  std::string handle;                   // prefill: the KV handle for the decode worker

 private:
  void OnOutput(const protocol::GenerateOutput& o) {
    if (!prefill_) {
      impl_->OnDecodeOutput(*call_, *this, o);
      return;
    }
    prefilled.tokens.insert(prefilled.tokens.end(), o.tokens.begin(), o.tokens.end());
    prefilled.logprobs.insert(prefilled.logprobs.end(), o.logprobs.begin(), o.logprobs.end());
    prefilled.cached_prompt_tokens = o.cached_prompt_tokens;
    if (o.finish != protocol::FinishReason::kNone) {
      finished = true;
      prefilled.finish = o.finish;
      handle = o.kv_export_handle;
    }
  }

  void OnDone(runtime::StreamEnd end, const Status& status) {
    conn().in_flight.fetch_sub(1);
    {
      std::lock_guard<std::mutex> lk(call_->mu);
      call_->stream = nullptr;
    }
    if (prefill_) {
      impl_->OnPrefillDone(call_, *this, status);
    } else {
      impl_->OnDecodeDone(call_, *this, end, status);
    }
    impl_->Bury(this);  // deleted on the waiter thread, not on gRPC's
  }

  std::shared_ptr<RemoteBackend::Impl> impl_;  // outlives the call (Close waits for it)
  std::shared_ptr<Call> call_;
  RemoteBackend::Impl::Picked picked_;
  const bool prefill_;
  std::unique_ptr<runtime::GenerateStream> stream_;
};

void RemoteBackend::Impl::DeleteAttempt(Attempt* a) { delete a; }

bool RemoteBackend::Impl::StartPrefill(const std::shared_ptr<Call>& call,
                                       std::span<const BlockHash> hashes) {
  Picked p;
  {
    std::lock_guard<std::mutex> lk(mu);
    p = Pick({}, hashes, call->request.prompt.size(), call->route, /*prefill=*/true);
  }
  if (!p.conn) return false;
  protocol::GenerateRequest pre = call->request;
  pre.max_tokens = 1;
  pre.kv_export = true;
  const uint64_t route_id = p.route_id;
  auto* a = new Attempt(shared_from_this(), call, std::move(p), pre, /*prefill=*/true);
  if (a->Begin()) return true;
  delete a;
  if (route_id != 0) router->OnFinished(route_id);
  return false;
}

void RemoteBackend::Impl::OnPrefillDone(const std::shared_ptr<Call>& call, Attempt& a,
                                        const Status& status) {
  if (a.route_id() != 0) {
    router->OnPrefillDone(a.route_id());
    router->OnFinished(a.route_id());
  }
  protocol::GenerateOutput& out = a.prefilled;
  const bool usable = a.finished && out.tokens.size() == 1 &&
                      (out.finish == protocol::FinishReason::kStop ||
                       (out.finish == protocol::FinishReason::kLength && !a.handle.empty()));
  if (!usable) {
    if (!call->aborted) {
      n_prefill_fallbacks.fetch_add(1);
      log::Warn("request {}: prefill on worker {} failed ({}); prefilling on the decode worker",
                call->id, a.conn().info.id, status.ok() ? "no KV handle" : status.ToString());
      if (!status.ok()) a.conn().lost_at_ns.store(Clock::now().time_since_epoch().count());
    }
    NextAttempt(call);
    return;
  }
  n_remote_prefills.fetch_add(1);
  out.request_id = call->id;
  out.prompt_tokens = call->prompt_tokens();
  out.generated_tokens = 1;
  call->cached = std::min(out.cached_prompt_tokens, call->prompt_tokens());
  call->generated = out.tokens;
  if (out.finish == protocol::FinishReason::kStop) {
    call->on_output(out);
    Complete(*call);
    return;
  }
  out.finish = protocol::FinishReason::kNone;
  if (options.stream_prefill_token) {
    call->on_output(out);
  } else {
    call->held_first = out;
  }
  call->import_handle = std::move(a.handle);
  NextAttempt(call);
}

void RemoteBackend::Impl::NextAttempt(const std::shared_ptr<Call>& call, bool in_submit) {
  // The attempt's prompt (the original plus what earlier attempts generated), hashed the way the
  // workers' prefix caches hash it.
  const auto t0 = Clock::now();
  std::vector<uint32_t> tokens(call->request.prompt.begin(), call->request.prompt.end());
  tokens.insert(tokens.end(), call->generated.begin(), call->generated.end());
  const std::vector<BlockHash> hashes =
      SequenceBlockHashes(tokens, static_cast<size_t>(router->config().block_size));
  router->RecordHashingNanos(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
  if (!call->aborted && !closed && Hold(call, hashes, tokens.size())) return;
  Picked p;
  {
    std::unique_lock<std::mutex> lk(mu);
    if (!call->aborted && !closed) {
      p = Pick(call->failed_workers, hashes, tokens.size(), call->route);
      if (!p.conn) {
        const auto now = Clock::now();
        if (!call->wait_until) call->wait_until = now + options.wait_for_worker;
        if (now < *call->wait_until) {
          parked[call->id] = call;  // the waiter thread retries it
          cv.notify_all();
          return;
        }
      }
    }
    if (in_submit && !p.conn) {  // it ends now: the waiter thread says so
      parked[call->id] = call;
      Kick();
      return;
    }
  }
  call->wait_until.reset();
  if (call->aborted || closed) {
    n_aborted.fetch_add(1);
    Emit(*call, protocol::FinishReason::kAbort, Status::Ok());
    Complete(*call);
    return;
  }
  if (!p.conn) {
    Fail(*call, Status::Unavailable(
                    call->last_error.ok()
                        ? fmt::format("no worker is serving model '{}'", options.model_name)
                        : "no worker left to continue the request after: " +
                              call->last_error.message()));
    Complete(*call);
    return;
  }
  protocol::GenerateRequest attempt = call->request;
  attempt.prompt.insert(attempt.prompt.end(), call->generated.begin(), call->generated.end());
  attempt.max_tokens -= static_cast<int64_t>(call->generated.size());
  if (!attempt.grammar.empty()) attempt.grammar_generated = static_cast<int64_t>(call->generated.size());
  if (!call->import_handle.empty()) {
    // The first attempt after a remote prefill pulls its KV (a later one, after a lost decode
    // worker, computes it: the handle is single-use).
    attempt.kv_import = std::move(call->import_handle);
    attempt.kv_import_tokens = call->prompt_tokens();
    call->import_handle.clear();
  }
  const uint64_t route_id = p.route_id;
  auto* a = new Attempt(shared_from_this(), call, std::move(p), attempt, false);
  if (a->Begin()) return;
  delete a;  // aborted meanwhile: the next step reports it
  if (route_id != 0) router->OnFinished(route_id);
  NextAttempt(call);
}

void RemoteBackend::Impl::OnDecodeOutput(Call& call, Attempt& a,
                                         const protocol::GenerateOutput& o) {
  if (a.first) {
    a.first = false;
    if (a.route_id() != 0) router->OnPrefillDone(a.route_id());
    OnLoadForQueue();  // its prefill left the worker's queue: a held request may go
    n_prompt_tokens.fetch_add(static_cast<uint64_t>(o.prompt_tokens));
    n_cached_tokens.fetch_add(static_cast<uint64_t>(o.cached_prompt_tokens));
  }
  if (a.finished) return;  // nothing follows a final output
  if (o.kv_import_failed && !a.import_failure_counted) {
    a.import_failure_counted = true;
    (o.finish == protocol::FinishReason::kError ? n_kv_import_failed : n_kv_import_recomputed)
        .fetch_add(1);
  }
  protocol::GenerateOutput out = o;
  out.request_id = call.id;
  call.generated.insert(call.generated.end(), out.tokens.begin(), out.tokens.end());
  if (call.generated.size() == out.tokens.size()) call.cached = out.cached_prompt_tokens;
  out.prompt_tokens = call.prompt_tokens();
  out.cached_prompt_tokens = std::min(call.cached, call.prompt_tokens());
  out.generated_tokens = static_cast<int64_t>(call.generated.size());
  if (out.finish != protocol::FinishReason::kNone) {
    a.finished = true;
    if (out.finish == protocol::FinishReason::kError) n_failed.fetch_add(1);
    if (out.finish == protocol::FinishReason::kAbort) n_aborted.fetch_add(1);
  }
  Deliver(call, out);
}

void RemoteBackend::Impl::OnDecodeDone(const std::shared_ptr<Call>& call, Attempt& a,
                                       runtime::StreamEnd end, const Status& s) {
  if (a.route_id() != 0) router->OnFinished(a.route_id());
  if (a.finished) {
    Complete(*call);
    return;
  }
  if (call->aborted) {  // the next step reports the abort
    NextAttempt(call);
    return;
  }
  if (end == runtime::StreamEnd::kDeadline) {
    Fail(*call, Status::Unavailable(fmt::format("the request ran past its {} ms deadline",
                                                options.request_timeout.count())));
    Complete(*call);
    return;
  }
  if (end == runtime::StreamEnd::kRejected) {
    Fail(*call, s);
    Complete(*call);
    return;
  }
  // The worker was lost (or refused for want of room): continue elsewhere.
  call->last_error = s.ok() ? Status::Unavailable("the stream ended before the request finished") : s;
  if (end != runtime::StreamEnd::kBusy) {
    a.conn().lost_at_ns.store(Clock::now().time_since_epoch().count());
  }
  call->failed_workers.insert(a.conn().info.id);
  if (static_cast<int64_t>(call->generated.size()) >= call->request.max_tokens) {
    Emit(*call, protocol::FinishReason::kLength, Status::Ok());
    Complete(*call);
    return;
  }
  if (call->migrations >= options.migration_limit) {
    Fail(*call, Status::Unavailable(fmt::format("request failed after {} migrations: {}",
                                                call->migrations, call->last_error.message())));
    Complete(*call);
    return;
  }
  ++call->migrations;
  n_migrated.fetch_add(1);
  log::Info("request {}: worker {} lost ({}); migrating with {} tokens generated ({}/{})", call->id,
            a.conn().info.id, call->last_error.ToString(), call->generated.size(),
            call->migrations, options.migration_limit);
  NextAttempt(call);
}

RemoteBackend::RemoteBackend(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
RemoteBackend::~RemoteBackend() { Close(); }

Result<std::unique_ptr<RemoteBackend>> RemoteBackend::Create(runtime::Discovery* discovery,
                                                             const RemoteBackendOptions& options) {
  if (options.migration_limit < 0) return Status::InvalidArgument("--migration-limit must be >= 0");
  if (Status s = options.router.Validate(); !s.ok()) return s.WithContext("router");
  auto impl = std::make_shared<Impl>();
  impl->options = options;
  impl->router = std::make_unique<router::Router>(options.router);
  if (options.router_queue) {
    impl->hold.emplace(*options.router_queue, options.router_queue_max_age_s);
  }
  Impl* raw = impl.get();
  if (options.subscribe_kv_events) {
    runtime::KvEventSubscriber::Callbacks cb;
    cb.on_event = [raw](const std::string& id, const engine::KvEvent& e) { raw->OnKvEvent(id, e); };
    cb.on_snapshot = [raw](const std::string& id, const engine::KvSnapshot& s) {
      raw->OnKvSnapshot(id, s);
    };
    cb.on_load = [raw](const std::string& id, const pb::LoadMetrics& l) { raw->OnLoad(id, l); };
    runtime::KvEventSubscriberOptions so;
    so.curve_secret = runtime::PlaneCurveSecret(options.tls);  // the workers' CURVE key, if any
    auto sub = runtime::KvEventSubscriber::Create(
        std::move(cb), [raw](const std::string& id) { return raw->FetchSnapshot(id); }, so);
    if (!sub.ok()) return sub.status().WithContext("event plane");
    impl->events = std::move(sub).value();
  }
  auto watch = discovery->Watch([raw](const runtime::Membership& m) { raw->OnMembership(m); });
  if (!watch.ok()) return watch.status();
  impl->watch = std::move(watch).value();
  impl->waiter = std::thread([raw] { raw->WaitLoop(); });
  return std::unique_ptr<RemoteBackend>(new RemoteBackend(std::move(impl)));
}

Result<uint64_t> RemoteBackend::Submit(protocol::GenerateRequest request,
                                       protocol::OutputCallback on_output,
                                       const router::RouteOverrides& route) {
  if (request.prompt.empty()) return Status::InvalidArgument("the prompt is empty");
  if (Status s = request.sampling.Validate(); !s.ok()) return s;
  auto call = std::make_shared<Call>();
  call->request = std::move(request);
  call->on_output = std::move(on_output);
  call->route = route;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    if (impl_->closed) return Status::Unavailable("the server is shutting down");
    call->id = impl_->next_id++;
    impl_->calls[call->id] = call;
  }
  impl_->n_requests.fetch_add(1);
  impl_->Start(call);
  return call->id;
}

void RemoteBackend::Abort(uint64_t id) {
  std::shared_ptr<Call> call;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    auto it = impl_->calls.find(id);
    if (it == impl_->calls.end()) return;
    call = it->second;
  }
  {
    std::lock_guard<std::mutex> lk(call->mu);
    call->aborted = true;
    if (call->stream) call->stream->Cancel();
  }
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->Unhold(id);
  impl_->Kick();  // a request waiting for a worker ends now
}

engine::EngineMetrics RemoteBackend::Metrics() const {
  // The workers' load reports summed; without any (no event plane), this frontend's own count.
  engine::EngineMetrics m;
  bool any = false;
  {
    std::lock_guard<std::mutex> kl(impl_->kv_mu);
    for (const auto& [id, w] : impl_->kv) {
      if (!w.has_load) continue;
      any = true;
      m.running += static_cast<int32_t>(w.load.running());
      m.waiting += static_cast<int32_t>(w.load.waiting());
      m.waiting_prefill_tokens += w.load.prefill_tokens_queued();
      m.blocks.num_blocks += static_cast<int32_t>(w.load.kv_blocks_total());
      m.blocks.used += static_cast<int32_t>(w.load.kv_blocks_used());
      m.blocks.cached += static_cast<int32_t>(w.load.kv_blocks_cached());
      m.blocks.free += static_cast<int32_t>(w.load.kv_blocks_free());
      m.preemptions += static_cast<uint64_t>(w.load.preemptions());
    }
  }
  if (!any) {
    std::lock_guard<std::mutex> lk(impl_->mu);
    m.running = static_cast<int32_t>(impl_->calls.size());
  }
  return m;
}

int64_t RemoteBackend::max_model_len() const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  int64_t len = 0;
  for (const auto& [id, c] : impl_->workers) {
    if (c->info.max_model_len > 0 && (len == 0 || c->info.max_model_len < len)) {
      len = c->info.max_model_len;
    }
  }
  return len > 0 ? len : impl_->options.max_model_len;
}

RemoteBackendStats RemoteBackend::stats() const {
  RemoteBackendStats s;
  s.requests = impl_->n_requests.load();
  s.migrated = impl_->n_migrated.load();
  s.remote_prefills = impl_->n_remote_prefills.load();
  s.prefill_fallbacks = impl_->n_prefill_fallbacks.load();
  s.kv_import_recomputed = impl_->n_kv_import_recomputed.load();
  s.kv_import_failed = impl_->n_kv_import_failed.load();
  s.local_prefills_short = impl_->n_local_short.load();
  s.local_prefills_cached = impl_->n_local_cached.load();
  s.local_prefills_queue = impl_->n_local_queue.load();
  s.failed = impl_->n_failed.load();
  s.aborted = impl_->n_aborted.load();
  s.held = impl_->n_held.load();
  s.holding = impl_->n_holding.load();
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    s.workers = static_cast<int64_t>(impl_->workers.size());
    s.in_flight = static_cast<int64_t>(impl_->calls.size());
    if (impl_->events) {
      const auto es = impl_->events->Stats();
      s.kv_events = es.events_received;
      s.kv_gaps = es.gaps_detected;
      s.kv_resyncs = es.resyncs;
    }
  }
  for (const auto& [id, n] : impl_->CachedBlocks())
    s.kv_blocks += static_cast<int64_t>(n);  // takes mu
  std::set<std::string> prefill_workers;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    for (const auto& [id, c] : impl_->workers) {
      if (c->info.role == "prefill") prefill_workers.insert(id);
    }
  }
  {
    std::lock_guard<std::mutex> kl(impl_->kv_mu);
    for (const auto& [id, w] : impl_->kv) {
      if (w.has_load && prefill_workers.count(id)) {
        s.prefill_queue_tokens += static_cast<int64_t>(w.load.prefill_tokens_queued());
      }
    }
  }
  return s;
}

std::string RemoteBackend::MetricsText() const {
  const RemoteBackendStats s = stats();
  metrics::Registry reg;
  auto counter = [&](const char* name, const char* help, uint64_t v,
                     const metrics::Labels& labels = {}) {
    reg.AddCounter(name, help, labels).Inc(static_cast<double>(v));
  };
  auto gauge = [&](const char* name, const char* help, double v,
                   const metrics::Labels& labels = {}) { reg.AddGauge(name, help, labels).Set(v); };
  counter("mint_requests_migrated_total",
          "Requests re-sent to another worker after theirs was lost", s.migrated);
  counter("mint_remote_prefills_total",
          "Requests prefilled on a prefill worker and decoded elsewhere with its KV",
          s.remote_prefills);
  counter("mint_prefill_fallbacks_total",
          "Requests whose prefill worker failed, prefilled on the decode worker instead",
          s.prefill_fallbacks);
  const char* import_help =
      "Requests whose decode worker could not pull the prompt's KV from the prefill worker, by "
      "outcome (recomputed: it computed the prompt itself; failed: the request ended with an "
      "error, --kv-load-failure-policy fail)";
  counter("mint_kv_import_failures_total", import_help, s.kv_import_recomputed,
          {{"outcome", "recomputed"}});
  counter("mint_kv_import_failures_total", import_help, s.kv_import_failed,
          {{"outcome", "failed"}});
  const char* local_help =
      "Requests prefilled on their decode worker although a prefill worker was up, by the rule "
      "that kept them there (short: too few uncached tokens; cached: mostly cached on the decode "
      "worker; queue: every prefill worker's queue too long)";
  counter("mint_local_prefills_total", local_help, s.local_prefills_short, {{"reason", "short"}});
  counter("mint_local_prefills_total", local_help, s.local_prefills_cached, {{"reason", "cached"}});
  counter("mint_local_prefills_total", local_help, s.local_prefills_queue, {{"reason", "queue"}});
  gauge("mint_prefill_queue_tokens", "Prompt tokens queued on prefill workers (their load reports)",
        static_cast<double>(s.prefill_queue_tokens));
  counter("mint_requests_failed_total", "Requests that ended with an error from the workers",
          s.failed);
  counter("mint_requests_aborted_total", "Requests aborted by their client", s.aborted);
  counter("mint_router_queue_held_total",
          "Requests the router queue held while every worker was busy", s.held);
  gauge("mint_router_queue_holding", "Requests held by the router queue now",
        static_cast<double>(s.holding));
  gauge("mint_workers", "Workers serving the model", static_cast<double>(s.workers));
  counter("mint_kv_events_received_total", "KV events received from workers (event plane)",
          s.kv_events);
  counter("mint_kv_event_gaps_total",
          "Gaps in workers' KV event ids (each repaired from a snapshot)", s.kv_gaps);
  counter("mint_kv_resyncs_total", "Worker KV snapshots fetched to (re)start an event stream",
          s.kv_resyncs);
  impl_->RouterMetrics(&reg);
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    for (const auto& [id, c] : impl_->workers) {
      counter("mint_worker_requests_total", "Requests (attempts) sent to each worker",
              c->calls.load(), {{"worker", id}});
    }
  }
  for (const auto& [id, n] : impl_->CachedBlocks()) {
    gauge("mint_worker_kv_cached_blocks", "Prefix-cache blocks per worker, from its KV events",
          static_cast<double>(n), {{"worker", id}});
  }
  std::lock_guard<std::mutex> kl(impl_->kv_mu);
  for (const auto& [id, w] : impl_->kv) {
    if (!w.has_load) continue;
    gauge("mint_worker_running", "Requests running on each worker (its load report)",
          w.load.running(), {{"worker", id}});
    gauge("mint_worker_kv_usage", "Fraction of each worker's KV blocks in use (its load report)",
          w.load.kv_usage(), {{"worker", id}});
  }
  return reg.Prometheus();
}

bool RemoteBackend::WaitForWorkers(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lk(impl_->mu);
  return impl_->cv.wait_for(lk, timeout, [&] { return impl_->workers.size() >= n; });
}

void RemoteBackend::Close() {
  std::vector<std::shared_ptr<Call>> calls;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->closed = true;
    for (const auto& [id, c] : impl_->calls) calls.push_back(c);
  }
  for (const auto& c : calls) {
    std::lock_guard<std::mutex> lk(c->mu);
    c->aborted = true;
    if (c->stream) c->stream->Cancel();
  }
  std::unique_lock<std::mutex> lk(impl_->mu);
  for (const auto& c : calls) impl_->Unhold(c->id);
  impl_->Kick();
  impl_->cv.wait(lk, [&] { return impl_->calls.empty() && impl_->attempts_alive == 0; });
  impl_->stop_waiter = true;
  impl_->cv.notify_all();
  lk.unlock();
  if (impl_->waiter.joinable()) impl_->waiter.join();
  impl_->watch.reset();  // no membership callback runs after this
  impl_->events.reset();
}

}  // namespace mint::frontend
