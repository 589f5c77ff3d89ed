// Router: picks a worker for each request from KV-cache overlap and load. Pure logic, no I/O: the
// frontend feeds it the workers' KV events and load reports and asks it for decisions.
//
// Threading model: Router is internally synchronized by one mutex (every method may be called
// from any thread: request threads route, an event thread applies KV events and load reports).
// The overhead histograms are lock-free. Decisions are deterministic for a given config.seed and
// call order.
//
// Mode kKv prices each candidate worker w in one of two units (RouterConfig::cost), lower is
// better.
//
// Cost in seconds (CostUnit::kSeconds, the default). With w's step-time model f (StepTimeModel:
// learned online from the steps w reports, starting from a prior) and w's load (queued prefill
// tokens Q, requests S, KV tokens in use K = active_blocks * block_size, tokens per step B):
//   ttft(w) = the prefill steps for Q + u tokens, u = the request's tokens not cached on w
//             (num_tokens - overlap_blocks * block_size, at least 1): chunks of C = max(B - S, 1)
//             tokens beside S decodes, floor(P / C) * f(C, S, K) + f(P mod C, S, K)
//   itl(w)  = f(0, S + 1, K + n) + S * (f(0, S + 1, K + n) - f(0, S, K)), n = num_tokens: the
//             decode step time the request will see plus what it adds to each of w's requests
//   saved(w) = the prefill time w's cached prefix saves: f-time of n tokens minus of u tokens
//   cost(w) = ttft(w) + itl_weight * itl(w) - (cache_credit - 1) * saved(w)
// So a queue is worth the time it takes to drain and a cached prefix at least the prefill time
// it saves, both from the worker's measured speed (overlap_credit and prefill_load_scale do not
// enter). cache_credit > 1 values a hit beyond this request: sending a prompt to its prefix keeps
// that prefix hot for the requests that follow and stores nothing twice, where computing it
// elsewhere evicts another prefix there. itl_weight is in output tokens: how many of the
// request's decode steps the ITL term stands for.
//
// Cost in blocks (CostUnit::kBlocks, the old default), per candidate worker w:
//   prefill_blocks(w) = request_blocks + queued_prefill_blocks(w)
//   cost(w) = prefill_load_scale * max(prefill_blocks(w) - overlap_credit * overlap_blocks(w), 0)
//             + active_blocks(w)
// where request_blocks = ceil(num_tokens / block_size), overlap_blocks(w) = leading request
// blocks w holds (Indexer::FindMatches; with track_in_flight, the larger of that and the leading
// blocks of the prompts routed to w that are still in prefill, InFlightPrefixes),
// queued_prefill_blocks(w) = ceil(waiting prefill tokens /
// block_size) and active_blocks(w) = w's KV blocks in use (LoadTracker). This follows Dynamo's
// KvRouter (DefaultWorkerSelector::worker_logit: logit = overlap_score_weight * prefill_blocks +
// decode_blocks, prefill_blocks = (worker's pending prefill tokens + the request's tokens past
// its cached prefix) / block_size) with Dynamo's overlap_score_weight = our prefill_load_scale
// and the credit per cached block made explicit (overlap_credit; Dynamo's is fixed at 1). Where
// we differ: we count whole blocks (ceil) and our decode term is the worker's current active
// blocks, where Dynamo's also includes the new request's blocks not shared with the worker's
// running sequences; Dynamo breaks ties by the smaller cache (tree size), then randomly.
//
// Tiers. Workers with a tiered KV cache report the blocks their host and disk tiers hold (KV
// events with tier 1 / 2, kv_events.h); the router keeps them in an index per tier. Past the
// leading blocks worker w holds in its pool, each further block of the request found in w's host
// tier counts host_tier_credit of a cached block, in its disk tier disk_tier_credit (loading is
// cheaper than computing but not free; Dynamo's defaults 0.75 and 0.25), until the first block w
// holds nowhere. overlap(w) above is that weighted count (the blocks cost rounds it).
//
// Selection: temperature 0 → the lowest cost; ties broken by the lower load (active_blocks +
// queued_prefill_blocks), then by rotation (round-robin counter, or a random draw with
// tie_break = kRandom). Temperature T > 0 → sample w with probability ∝ exp(-n(w) / T), where
// n(w) = (cost(w) - min cost) / (max cost - min cost) in [0, 1] (min-max normalization, as
// Dynamo's softmax_sample; all costs equal → uniform). So T is relative to the spread of costs:
// T = 0.1 strongly prefers the best, T = 10 is nearly uniform.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/hash.h"
#include "core/status.h"
#include "router/approx_indexer.h"
#include "router/in_flight.h"
#include "router/indexer.h"
#include "router/load.h"
#include "router/metrics.h"
#include "router/step_model.h"

namespace mint::router {

enum class Mode { kRoundRobin, kRandom, kLeastLoaded, kKv };

// "round-robin" | "random" | "least-loaded" | "kv".
Result<Mode> ParseMode(std::string_view name);
const char* ModeName(Mode mode);

enum class TieBreak { kRoundRobin, kRandom };

enum class CostUnit { kSeconds, kBlocks };
// "seconds" | "blocks".
Result<CostUnit> ParseCostUnit(std::string_view name);
const char* CostUnitName(CostUnit unit);

struct RouterConfig {
  Mode mode = Mode::kKv;
  int32_t block_size = 16;          // tokens per KV block, > 0 (must match the workers')
  double overlap_credit = 1.0;      // >= 0: prefill blocks saved per cached block
  double prefill_load_scale = 1.0;  // >= 0: weight of prefill work against decode load
  double temperature = 0.0;         // >= 0: 0 = deterministic argmin
  CostUnit cost = CostUnit::kSeconds;
  double itl_weight = 3.0;  // >= 0, seconds cost only: output tokens the ITL term stands for
  // >= 1, seconds cost only: a cached prefix's worth in the prefill time it saves. 5 (and
  // itl_weight 3) came out of scripts/router_matrix.py (docs/perf.md, "Router cost in seconds"):
  // within 6 % of the best blocks-cost weights of each trace at every load and >= 90 % of the
  // hit-rate ceiling up to 90 % load on all four traces (3 missed that on the many-tenant one),
  // where 1 (and 0) fell 50 % behind past capacity.
  double cache_credit = 5.0;
  // Worth of a block held in a worker's host / disk tier, in cached blocks (see "Tiers"), [0, 1].
  double host_tier_credit = 0.75;
  double disk_tier_credit = 0.25;
  // Seconds cost only: a worker's tokens per step until it reports its own, > 0.
  int64_t max_batched_tokens = 8192;
  // Seconds cost only: every worker's step-time model starts here (all zeros: DefaultStepPrior).
  StepCoefficients step_prior = {};
  TieBreak tie_break = TieBreak::kRoundRobin;
  // false: no KV events; overlaps come from the router's own predictions (ApproxIndexer).
  bool use_kv_events = true;
  // With KV events: a routed request's blocks count as held by its worker until its first token
  // (InFlightPrefixes), so requests that share a prefix still being computed follow it.
  bool track_in_flight = true;
  ApproxConfig approx = {};
  uint64_t seed = 0;             // RNG for kRandom, random ties and temperature sampling
  const Clock* clock = nullptr;  // not owned; null = SystemClock (approximate-mode TTL)

  Status Validate() const;
};

// Per-request overrides of RouterConfig; unset = the router's value.
struct RouteOverrides {
  std::optional<Mode> mode = {};
  std::optional<double> overlap_credit = {};
  std::optional<double> prefill_load_scale = {};
  std::optional<double> temperature = {};
  std::optional<CostUnit> cost = {};
  std::optional<double> host_tier_credit = {};
  std::optional<double> disk_tier_credit = {};
};

struct RouteRequest {
  std::span<const BlockHash> block_hashes = {};  // SequenceBlockHashes of the prompt (full blocks)
  uint64_t num_tokens = 0;                       // prompt tokens; 0 = block_hashes.size() blocks
  RouteOverrides overrides = {};
  std::span<const WorkerId> candidates = {};  // the live set; empty = every added worker
};

struct RouteDecision {
  WorkerId worker = 0;
  uint64_t request_id = 0;                   // pass to OnPrefillDone / OnFinished
  uint32_t overlap_blocks = 0;               // the chosen worker's predicted cached blocks
  uint64_t request_blocks = 0;               // ceil(num_tokens / block_size)
  double cost = 0;                           // the chosen worker's KV cost (kKv only)
  double predicted_ttft_s = 0;               // the chosen worker's ttft (seconds cost only)
  std::vector<WorkerOverlap> overlaps = {};  // candidates with overlap > 0, by worker id
};

// The pure pieces of the KV policy, exposed for tests and tools.
struct CostInputs {
  uint64_t request_blocks = 0;
  uint64_t overlap_blocks = 0;
  uint64_t queued_prefill_blocks = 0;
  uint64_t active_blocks = 0;
};
double KvCost(const CostInputs& in, double overlap_credit, double prefill_load_scale);

// The seconds cost's inputs for one worker (see above).
struct TimeCostInputs {
  uint64_t request_tokens = 0;   // n
  uint64_t uncached_tokens = 0;  // u (clamped to [1, n])
  uint64_t queued_prefill_tokens = 0;  // Q
  uint64_t seqs = 0;                   // S
  uint64_t kv_tokens = 0;              // K
  int64_t max_batched_tokens = 0;      // B, > 0
};
struct TimeCost {
  double ttft_s = 0;
  double itl_s = 0;
  double saved_s = 0;  // prefill time the cached prefix saves on this worker
  double cost = 0;     // ttft_s + itl_weight * itl_s - (cache_credit - 1) * saved_s
};
TimeCost PredictTimeCost(const TimeCostInputs& in, const StepTimeModel& model, double itl_weight,
                         double cache_credit = 1.0);
// The time to prefill `tokens` in chunks beside `seqs` decodes (ttft above, P = tokens).
double PrefillSeconds(uint64_t tokens, uint64_t seqs, uint64_t kv_tokens,
                      int64_t max_batched_tokens, const StepTimeModel& model);

// The index chosen among `costs` (non-empty; loads the same size). temperature 0: argmin, ties
// by lower load, remaining ties → tied[tie_draw % number tied] (in index order). temperature > 0:
// the softmax sample described above, driven by `uniform01` in [0, 1).
size_t SelectByCost(std::span<const double> costs, std::span<const uint64_t> loads,
                    double temperature, uint64_t tie_draw, double uniform01);

class Router {
 public:
  // Aborts on an invalid config (call config.Validate() first to get a Status).
  explicit Router(RouterConfig config);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Registers a worker (idempotent). Workers seen in events or candidates need not be added;
  // the added set is the default candidate set.
  void AddWorker(WorkerId worker);
  // Forgets the worker: its index entries, predictions and load.
  void RemoveWorker(WorkerId worker);
  std::vector<WorkerId> Workers() const;  // added workers, sorted

  // Chooses a worker and records the decision (load, predictions, stats). Errors:
  // Unavailable when there is no candidate; InvalidArgument for a bad override.
  Result<RouteDecision> Route(const RouteRequest& request);
  // The decision Route would make now, recording nothing (no load added, no request id, no
  // stats; the tie-breaking state unchanged). For a caller weighing where a request would go.
  Result<RouteDecision> Peek(const RouteRequest& request);

  // The request's first token arrived / the request ended (any way). Unknown ids are ignored.
  void OnPrefillDone(uint64_t request_id);
  void OnFinished(uint64_t request_id);

  // KV events and snapshots from a worker (see Indexer). Also applied in approximate mode, but
  // only the predictions are consulted there.
  Indexer::ApplyOutcome ApplyEvent(WorkerId worker, const KvCacheEvent& event);
  void LoadSnapshot(WorkerId worker, std::span<const KvCacheEvent> blocks, uint64_t last_event_id);
  std::optional<uint64_t> LastEventId(WorkerId worker) const;
  // Blocks the index holds for the worker (from its events and snapshots); 0 if unknown.
  size_t WorkerBlockCount(WorkerId worker) const;

  void UpdateLoad(WorkerId worker, const WorkerLoadReport& report);
  WorkerLoad Load(WorkerId worker) const;
  // For a router queue (queue.h): whether every candidate has at least `threshold_s` of prefill
  // queued (its step-time model's time for its waiting prefill tokens), and the request's own
  // prefill time on the candidate that holds most of it (WSPT's key). No decision is recorded.
  struct Pressure {
    bool all_busy = false;
    double own_prefill_s = 0;
  };
  Pressure Estimate(const RouteRequest& request, double threshold_s);
  // Steps the worker ran (for its step-time model; the seconds cost).
  void AddStepSamples(WorkerId worker, std::span<const StepSample> samples);
  // The worker's step-time coefficients now and the samples behind them (the prior if none).
  StepCoefficients StepModel(WorkerId worker, uint64_t* samples = nullptr) const;

  // The caller's time spent hashing a request's blocks (lock-free).
  void RecordHashingNanos(int64_t nanos);

  RouterStats Stats() const;
  const RouterConfig& config() const;

 private:
  Result<RouteDecision> Decide(const RouteRequest& request, bool record);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mint::router
