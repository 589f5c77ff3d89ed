// RemoteBackend::Impl: the frontend side of the request plane (workers, router, the waiter
// thread), shared by remote_backend.cpp (membership, routing, the public methods) and
// remote_backend_flow.cpp (a request's attempts: prefill, decode, migration). Internal to
// mint_frontend; include only from those files.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "core/hash.h"
#include "core/log.h"
#include "core/tsan.h"
#include "frontend/remote_backend.h"
#include "metrics/metrics.h"
#include "router/engine_events.h"
#include "runtime/convert_events.h"
#include "runtime/event_plane.h"
#include "runtime/worker_client.h"

namespace mint::frontend {

namespace pb = runtime::pb;
using Clock = std::chrono::steady_clock;

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
  bool queue_checked = false;                   // went past the router queue (held or not)

  int64_t prompt_tokens() const { return static_cast<int64_t>(request.prompt.size()); }
};

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
  std::optional<router::RouterQueue> hold;         // guarded by hold_mu
  std::map<uint64_t, std::shared_ptr<Call>> held;  // guarded by hold_mu
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
        steps.push_back({.prefill_tokens = s.prefill_tokens(),
                         .decode_seqs = s.decode_seqs(),
                         .decode_kv_tokens = s.decode_kv_tokens(),
                         .seconds = s.seconds()});
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

}  // namespace mint::frontend
