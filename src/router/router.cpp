#include "router/router.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <random>
#include <set>

namespace mint::router {

Result<Mode> ParseMode(std::string_view name) {
  if (name == "round-robin") return Mode::kRoundRobin;
  if (name == "random") return Mode::kRandom;
  if (name == "least-loaded") return Mode::kLeastLoaded;
  if (name == "kv") return Mode::kKv;
  return Status::InvalidArgument("unknown router mode '" + std::string(name) +
                                 "' (round-robin|random|least-loaded|kv)");
}

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kRoundRobin:
      return "round-robin";
    case Mode::kRandom:
      return "random";
    case Mode::kLeastLoaded:
      return "least-loaded";
    case Mode::kKv:
      return "kv";
  }
  return "?";
}

Result<CostUnit> ParseCostUnit(std::string_view name) {
  if (name == "seconds") return CostUnit::kSeconds;
  if (name == "blocks") return CostUnit::kBlocks;
  return Status::InvalidArgument("unknown router cost '" + std::string(name) +
                                 "' (seconds|blocks)");
}

const char* CostUnitName(CostUnit unit) {
  return unit == CostUnit::kSeconds ? "seconds" : "blocks";
}

namespace {

bool ValidWeight(double v) { return std::isfinite(v) && v >= 0; }

Status ValidateWeights(double overlap_credit, double prefill_load_scale, double temperature) {
  if (!ValidWeight(overlap_credit)) return Status::InvalidArgument("overlap_credit must be >= 0");
  if (!ValidWeight(prefill_load_scale)) {
    return Status::InvalidArgument("prefill_load_scale must be >= 0");
  }
  if (!ValidWeight(temperature)) return Status::InvalidArgument("temperature must be >= 0");
  return Status::Ok();
}

uint64_t CeilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

}  // namespace

static Status ValidateTierCredits(double host, double disk) {
  if (!std::isfinite(host) || host < 0 || host > 1) {
    return Status::InvalidArgument("host_tier_credit must be in [0, 1]");
  }
  if (!std::isfinite(disk) || disk < 0 || disk > 1) {
    return Status::InvalidArgument("disk_tier_credit must be in [0, 1]");
  }
  return Status::Ok();
}

Status RouterConfig::Validate() const {
  if (block_size <= 0) return Status::InvalidArgument("block_size must be > 0");
  MINT_RETURN_IF_ERROR(ValidateWeights(overlap_credit, prefill_load_scale, temperature));
  if (!ValidWeight(itl_weight)) return Status::InvalidArgument("itl_weight must be >= 0");
  if (!std::isfinite(cache_credit) || cache_credit < 1) {
    return Status::InvalidArgument("cache_credit must be >= 1");
  }
  if (max_batched_tokens <= 0) return Status::InvalidArgument("max_batched_tokens must be > 0");
  MINT_RETURN_IF_ERROR(ValidateTierCredits(host_tier_credit, disk_tier_credit));
  for (double c : step_prior) {
    if (!std::isfinite(c)) return Status::InvalidArgument("step_prior must be finite");
  }
  if (!(approx.ttl_seconds > 0) || !std::isfinite(approx.ttl_seconds)) {
    return Status::InvalidArgument("approx.ttl_seconds must be > 0");
  }
  if (approx.max_blocks_per_worker == 0) {
    return Status::InvalidArgument("approx.max_blocks_per_worker must be > 0");
  }
  return Status::Ok();
}

double KvCost(const CostInputs& in, double overlap_credit, double prefill_load_scale) {
  const double prefill_blocks = static_cast<double>(in.request_blocks + in.queued_prefill_blocks);
  const double uncached =
      std::max(prefill_blocks - overlap_credit * static_cast<double>(in.overlap_blocks), 0.0);
  return prefill_load_scale * uncached + static_cast<double>(in.active_blocks);
}

double PrefillSeconds(uint64_t tokens, uint64_t seqs, uint64_t kv_tokens,
                      int64_t max_batched_tokens, const StepTimeModel& model) {
  if (tokens == 0) return 0;
  const auto s = static_cast<int64_t>(seqs), k = static_cast<int64_t>(kv_tokens);
  const int64_t chunk = std::max<int64_t>(max_batched_tokens - s, 1);
  const auto p = static_cast<int64_t>(tokens);
  const int64_t full = p / chunk, rest = p % chunk;
  double t = 0;
  if (full > 0) t += static_cast<double>(full) * model.PredictSeconds(chunk, s, k);
  if (rest > 0) t += model.PredictSeconds(rest, s, k);
  return t;
}

TimeCost PredictTimeCost(const TimeCostInputs& in, const StepTimeModel& model, double itl_weight,
                         double cache_credit) {
  const uint64_t n = std::max<uint64_t>(in.request_tokens, 1);
  const uint64_t u = std::clamp<uint64_t>(in.uncached_tokens, 1, n);
  TimeCost c;
  c.ttft_s = PrefillSeconds(in.queued_prefill_tokens + u, in.seqs, in.kv_tokens,
                            in.max_batched_tokens, model);
  const auto s = static_cast<int64_t>(in.seqs), k = static_cast<int64_t>(in.kv_tokens);
  const double with = model.PredictSeconds(0, s + 1, k + static_cast<int64_t>(n));
  const double without = model.PredictSeconds(0, s, k);
  c.itl_s = with + static_cast<double>(s) * std::max(with - without, 0.0);
  c.saved_s = u < n ? PrefillSeconds(n, in.seqs, in.kv_tokens, in.max_batched_tokens, model) -
                          PrefillSeconds(u, in.seqs, in.kv_tokens, in.max_batched_tokens, model)
                    : 0.0;
  c.cost = c.ttft_s + itl_weight * c.itl_s - (cache_credit - 1) * c.saved_s;
  return c;
}

size_t SelectByCost(std::span<const double> costs, std::span<const uint64_t> loads,
                    double temperature, uint64_t tie_draw, double uniform01) {
  MINT_CHECK(!costs.empty() && costs.size() == loads.size());
  const auto [min_it, max_it] = std::minmax_element(costs.begin(), costs.end());
  const double min_cost = *min_it, max_cost = *max_it;
  if (temperature > 0) {
    const double spread = max_cost - min_cost;
    std::vector<double> weights(costs.size());
    double total = 0;
    for (size_t i = 0; i < costs.size(); ++i) {
      const double normalized = spread > 0 ? (costs[i] - min_cost) / spread : 0.0;
      weights[i] = std::exp(-normalized / temperature);
      total += weights[i];
    }
    double x = uniform01 * total;
    for (size_t i = 0; i < costs.size(); ++i) {
      if (x < weights[i]) return i;
      x -= weights[i];
    }
    return costs.size() - 1;  // rounding
  }
  uint64_t min_load = UINT64_MAX;
  for (size_t i = 0; i < costs.size(); ++i) {
    if (costs[i] == min_cost) min_load = std::min(min_load, loads[i]);
  }
  std::vector<size_t> tied;
  for (size_t i = 0; i < costs.size(); ++i) {
    if (costs[i] == min_cost && loads[i] == min_load) tied.push_back(i);
  }
  return tied[tie_draw % tied.size()];
}

struct Router::Impl {
  explicit Impl(RouterConfig c)
      : config(c),
        step_prior(std::all_of(c.step_prior.begin(), c.step_prior.end(),
                               [](double v) { return v == 0; })
                       ? DefaultStepPrior()
                       : c.step_prior),
        approx(c.approx, c.clock),
        rng(c.seed) {}

  // The Route phases, all under mu.
  std::vector<WorkerId> ResolveCandidates(std::span<const WorkerId> requested) const;
  void MatchOverlaps(std::span<const BlockHash> hashes, OverlapScores* out);
  struct Weights {
    CostUnit cost;
    double overlap_credit, prefill_load_scale, temperature;
    double host_tier_credit, disk_tier_credit;
  };
  // Per candidate: the credited blocks its host and disk tiers hold past its pool's overlap.
  void MatchTiers(std::span<const BlockHash> hashes, const std::vector<WorkerId>& candidates,
                  const OverlapScores& overlaps, const Weights& weights);
  size_t Choose(Mode mode, const std::vector<WorkerId>& candidates, uint64_t request_blocks,
                uint64_t request_tokens, const OverlapScores& overlaps, const Weights& weights,
                RouteDecision* decision);
  double WorkerCost(WorkerId w, const WorkerLoad& l, uint64_t request_blocks,
                    uint64_t request_tokens, double overlap, const Weights& weights,
                    double* ttft_s);
  StepTimeModel& Model(WorkerId w) {
    auto it = step_models.find(w);
    if (it == step_models.end()) it = step_models.emplace(w, StepTimeModel(step_prior)).first;
    return it->second;
  }
  // The model that prices worker w: its own coefficients pooled with the fleet's (every
  // worker's, weighted by the steps behind them), as (n * own + kPoolSteps * fleet) /
  // (n + kPoolSteps) for a worker with n steps. A joining worker is priced like the fleet it
  // joins, not like the prior (priced 20x too slow by a prior far off the hardware, it stayed
  // idle and never reported a step), and identical workers whose fits differ by noise are not
  // told apart until thousands of steps say they really differ. No steps anywhere: the prior.
  const StepTimeModel& PricingModel(WorkerId w) {
    if (!fleet_valid) {
      fleet = {};
      fleet_steps = 0;
      for (const auto& [id, m] : step_models) {
        if (m.samples() == 0) continue;
        const double weight = static_cast<double>(m.samples());
        const StepCoefficients& c = m.coefficients();
        for (int i = 0; i < kStepFeatures; ++i) fleet[i] += weight * c[i];
        fleet_steps += weight;
      }
      for (double& v : fleet) v = fleet_steps > 0 ? v / fleet_steps : 0;
      fleet_valid = true;
    }
    const StepTimeModel& own = Model(w);
    if (fleet_steps == 0) return own;
    const double n = static_cast<double>(own.samples());
    const StepCoefficients& c = own.coefficients();
    StepCoefficients pooled;
    for (int i = 0; i < kStepFeatures; ++i) {
      pooled[i] = (n * c[i] + kPoolSteps * fleet[i]) / (n + kPoolSteps);
    }
    pricing_model = StepTimeModel(pooled, 0);
    return *pricing_model;
  }
  static constexpr double kPoolSteps = 256;
  // PricingModel's state: the fleet mean (valid until the next step samples arrive or a worker
  // leaves) and the model it returned last.
  StepCoefficients fleet{};
  double fleet_steps = 0;
  bool fleet_valid = false;
  std::optional<StepTimeModel> pricing_model;
  void Commit(const RouteRequest& request, RouteDecision& decision);

  uint64_t LoadBlocks(const WorkerLoad& load) const {
    return load.active_blocks + CeilDiv(load.prefill_tokens, config.block_size);
  }
  // The worker's tokens per step: its report's, else the configured default.
  int64_t StepBudget(const WorkerLoad& load) const {
    return load.max_batched_tokens > 0 ? load.max_batched_tokens : config.max_batched_tokens;
  }
  uint64_t TieDraw() { return config.tie_break == TieBreak::kRandom ? rng() : rotation++; }
  double Uniform01() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }

  const RouterConfig config;
  const StepCoefficients step_prior;
  LatencyHistogram hashing_hist, find_matches_hist, decision_hist;

  mutable std::mutex mu;
  // guarded by mu:
  std::set<WorkerId> added;
  Indexer index;
  Indexer tier_index[2];           // host, disk (tier events, applied unchecked)
  std::vector<double> tier_extra;  // MatchTiers' answer, parallel to the candidates
  uint64_t tier_events = 0;
  ApproxIndexer approx;
  InFlightPrefixes in_flight;
  LoadTracker load;
  std::map<WorkerId, StepTimeModel> step_models;
  std::mt19937_64 rng;
  uint64_t rotation = 0;
  uint64_t next_request_id = 1;
  std::map<WorkerId, WorkerRouteStats> worker_stats;
  uint64_t requests = 0, request_blocks = 0, overlap_blocks = 0;
  uint64_t events_applied = 0, event_gaps = 0, events_stale = 0;
  OverlapScores scratch, indexed_scratch, in_flight_scratch;
};

std::vector<WorkerId> Router::Impl::ResolveCandidates(std::span<const WorkerId> requested) const {
  std::vector<WorkerId> c(requested.begin(), requested.end());
  if (c.empty()) c.assign(added.begin(), added.end());
  return c;
}

void Router::Impl::MatchOverlaps(std::span<const BlockHash> hashes, OverlapScores* out) {
  const int64_t start = SystemClock::Get().NowNanos();
  if (config.use_kv_events && config.track_in_flight && in_flight.num_requests() > 0) {
    index.FindMatches(hashes, &indexed_scratch);
    in_flight.FindMatches(hashes, &in_flight_scratch);
    MaxOverlaps(indexed_scratch, in_flight_scratch, out);
  } else if (config.use_kv_events) {
    index.FindMatches(hashes, out);
  } else {
    approx.FindMatches(hashes, out);
  }
  find_matches_hist.RecordNanos(SystemClock::Get().NowNanos() - start);
}

void Router::Impl::MatchTiers(std::span<const BlockHash> hashes,
                              const std::vector<WorkerId>& candidates,
                              const OverlapScores& overlaps, const Weights& weights) {
  tier_extra.assign(candidates.size(), 0.0);
  if (tier_index[0].num_blocks() == 0 && tier_index[1].num_blocks() == 0) return;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const WorkerId w = candidates[i];
    for (size_t p = overlaps.Get(w); p < hashes.size(); ++p) {
      if (tier_index[0].HasBlock(w, hashes[p])) {
        tier_extra[i] += weights.host_tier_credit;
      } else if (tier_index[1].HasBlock(w, hashes[p])) {
        tier_extra[i] += weights.disk_tier_credit;
      } else {
        break;
      }
    }
  }
}

double Router::Impl::WorkerCost(WorkerId w, const WorkerLoad& l, uint64_t request_blocks,
                                uint64_t request_tokens, double overlap, const Weights& weights,
                                double* ttft_s) {
  const uint64_t bs = static_cast<uint64_t>(config.block_size);
  if (weights.cost == CostUnit::kBlocks) {
    return KvCost({.request_blocks = request_blocks,
                   .overlap_blocks = static_cast<uint64_t>(std::llround(overlap)),
                   .queued_prefill_blocks = CeilDiv(l.prefill_tokens, bs),
                   .active_blocks = l.active_blocks},
                  weights.overlap_credit, weights.prefill_load_scale);
  }
  const uint64_t cached =
      std::min(static_cast<uint64_t>(overlap * static_cast<double>(bs)), request_tokens);
  const TimeCost c = PredictTimeCost(
      {.request_tokens = request_tokens,
       .uncached_tokens = request_tokens - cached,
       .queued_prefill_tokens = l.prefill_tokens,
       .seqs = l.seqs,
       .kv_tokens = l.active_blocks * bs,
       .max_batched_tokens = StepBudget(l)},
      PricingModel(w), config.itl_weight, config.cache_credit);
  *ttft_s = c.ttft_s;
  return c.cost;
}

size_t Router::Impl::Choose(Mode mode, const std::vector<WorkerId>& candidates,
                            uint64_t request_blocks, uint64_t request_tokens,
                            const OverlapScores& overlaps, const Weights& weights,
                            RouteDecision* d) {
  const size_t n = candidates.size();
  switch (mode) {
    case Mode::kRoundRobin:
      return rotation++ % n;
    case Mode::kRandom:
      return rng() % n;
    case Mode::kLeastLoaded:
    case Mode::kKv: {
      std::vector<double> costs(n), ttfts(n);
      std::vector<uint64_t> loads(n);
      for (size_t i = 0; i < n; ++i) {
        const WorkerLoad l = load.Get(candidates[i]);
        loads[i] = LoadBlocks(l);
        costs[i] = mode == Mode::kKv
                       ? WorkerCost(candidates[i], l, request_blocks, request_tokens,
                                    overlaps.Get(candidates[i]) + tier_extra[i], weights, &ttfts[i])
                       : static_cast<double>(loads[i]);
      }
      const double t = mode == Mode::kKv ? weights.temperature : 0.0;
      const uint64_t draw = t > 0 ? 0 : TieDraw();
      const size_t pick = SelectByCost(costs, loads, t, draw, t > 0 ? Uniform01() : 0.0);
      if (mode == Mode::kKv) {
        d->cost = costs[pick];
        d->predicted_ttft_s = ttfts[pick];
      }
      return pick;
    }
  }
  return 0;
}

void Router::Impl::Commit(const RouteRequest& request, RouteDecision& d) {
  const uint64_t bs = static_cast<uint64_t>(config.block_size);
  const uint64_t tokens = request.num_tokens != 0 ? request.num_tokens : d.request_blocks * bs;
  const uint64_t cached_tokens = std::min<uint64_t>(uint64_t{d.overlap_blocks} * bs, tokens);
  load.OnRouted(d.request_id, d.worker, d.request_blocks, tokens - cached_tokens);
  if (!config.use_kv_events) approx.RecordRouted(d.worker, request.block_hashes);
  if (config.use_kv_events && config.track_in_flight) {
    in_flight.Add(d.request_id, d.worker, request.block_hashes);
  }
  WorkerRouteStats& ws = worker_stats[d.worker];
  ws.worker = d.worker;
  ++ws.chosen;
  ws.overlap_blocks += d.overlap_blocks;
  ws.request_blocks += d.request_blocks;
  ++requests;
  request_blocks += d.request_blocks;
  overlap_blocks += d.overlap_blocks;
}

Router::Router(RouterConfig config) {
  const Status s = config.Validate();
  if (!s.ok()) std::fprintf(stderr, "invalid RouterConfig: %s\n", s.ToString().c_str());
  MINT_CHECK(s.ok());
  impl_ = std::make_unique<Impl>(config);
}

Router::~Router() = default;

const RouterConfig& Router::config() const { return impl_->config; }

void Router::AddWorker(WorkerId worker) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->added.insert(worker);
  impl_->worker_stats[worker].worker = worker;
}

void Router::RemoveWorker(WorkerId worker) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->added.erase(worker);
  impl_->index.RemoveWorker(worker);
  impl_->tier_index[0].RemoveWorker(worker);
  impl_->tier_index[1].RemoveWorker(worker);
  impl_->approx.RemoveWorker(worker);
  impl_->in_flight.RemoveWorker(worker);
  impl_->load.RemoveWorker(worker);
  impl_->step_models.erase(worker);
  impl_->fleet_valid = false;
}

std::vector<WorkerId> Router::Workers() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return {impl_->added.begin(), impl_->added.end()};
}

Result<RouteDecision> Router::Route(const RouteRequest& request) {
  return Decide(request, /*record=*/true);
}

Result<RouteDecision> Router::Peek(const RouteRequest& request) {
  return Decide(request, /*record=*/false);
}

Result<RouteDecision> Router::Decide(const RouteRequest& request, bool record) {
  const int64_t start = SystemClock::Get().NowNanos();
  const RouterConfig& c = impl_->config;
  const RouteOverrides& o = request.overrides;
  const Mode mode = o.mode.value_or(c.mode);
  const double overlap_credit = o.overlap_credit.value_or(c.overlap_credit);
  const double prefill_load_scale = o.prefill_load_scale.value_or(c.prefill_load_scale);
  const double temperature = o.temperature.value_or(c.temperature);
  MINT_RETURN_IF_ERROR(ValidateWeights(overlap_credit, prefill_load_scale, temperature));
  const double host_credit = o.host_tier_credit.value_or(c.host_tier_credit);
  const double disk_credit = o.disk_tier_credit.value_or(c.disk_tier_credit);
  MINT_RETURN_IF_ERROR(ValidateTierCredits(host_credit, disk_credit));
  const Impl::Weights weights{o.cost.value_or(c.cost),
                              overlap_credit,
                              prefill_load_scale,
                              temperature,
                              host_credit,
                              disk_credit};

  RouteDecision d;
  const uint64_t bs = static_cast<uint64_t>(c.block_size);
  d.request_blocks =
      std::max<uint64_t>(CeilDiv(request.num_tokens, bs), request.block_hashes.size());
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const std::vector<WorkerId> candidates = impl_->ResolveCandidates(request.candidates);
    if (candidates.empty()) return Status::Unavailable("router: no worker to route to");
    // Overlaps are computed in every mode: they feed the predicted hit rate.
    impl_->MatchOverlaps(request.block_hashes, &impl_->scratch);
    impl_->MatchTiers(request.block_hashes, candidates, impl_->scratch, weights);
    const uint64_t tokens =
        request.num_tokens != 0 ? request.num_tokens : d.request_blocks * bs;
    // A peek leaves the tie-breaking state (round-robin's rotation, the random draws) as it was.
    const uint64_t rotation = impl_->rotation;
    std::optional<std::mt19937_64> rng;
    if (!record) rng = impl_->rng;
    const size_t pick = impl_->Choose(mode, candidates, d.request_blocks, tokens, impl_->scratch,
                                      weights, &d);
    d.worker = candidates[pick];
    d.overlap_blocks = impl_->scratch.Get(d.worker);
    if (!record) {
      impl_->rotation = rotation;
      impl_->rng = *rng;
    }
    d.request_id = record ? impl_->next_request_id++ : 0;
    for (const WorkerOverlap& wo : impl_->scratch.scores) {
      if (std::find(candidates.begin(), candidates.end(), wo.worker) != candidates.end()) {
        d.overlaps.push_back(wo);
      }
    }
    if (!record) return d;
    impl_->Commit(request, d);
  }
  impl_->decision_hist.RecordNanos(SystemClock::Get().NowNanos() - start);
  return d;
}

void Router::OnPrefillDone(uint64_t request_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->load.OnPrefillDone(request_id);
  impl_->in_flight.Remove(request_id);
}

void Router::OnFinished(uint64_t request_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->load.OnFinished(request_id);
  impl_->in_flight.Remove(request_id);
}

Indexer::ApplyOutcome Router::ApplyEvent(WorkerId worker, const KvCacheEvent& event) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (event.tier == 1 || event.tier == 2) {
    KvCacheEvent unchecked = event;
    unchecked.id = 0;
    ++impl_->tier_events;
    return impl_->tier_index[event.tier - 1].Apply(worker, unchecked);
  }
  const Indexer::ApplyOutcome outcome = impl_->index.Apply(worker, event);
  switch (outcome) {
    case Indexer::ApplyOutcome::kApplied:
      ++impl_->events_applied;
      break;
    case Indexer::ApplyOutcome::kAppliedAfterGap:
      ++impl_->events_applied;
      ++impl_->event_gaps;
      break;
    case Indexer::ApplyOutcome::kSkippedStale:
      ++impl_->events_stale;
      break;
  }
  return outcome;
}

void Router::LoadSnapshot(WorkerId worker, std::span<const KvCacheEvent> blocks,
                          uint64_t last_event_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->index.LoadSnapshot(worker, blocks, last_event_id);
}

std::optional<uint64_t> Router::LastEventId(WorkerId worker) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->index.LastEventId(worker);
}

size_t Router::WorkerBlockCount(WorkerId worker) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->index.WorkerBlockCount(worker);
}

void Router::UpdateLoad(WorkerId worker, const WorkerLoadReport& report) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->load.UpdateFromWorker(worker, report);
}

Router::Pressure Router::Estimate(const RouteRequest& request, double threshold_s) {
  const uint64_t bs = static_cast<uint64_t>(impl_->config.block_size);
  const uint64_t tokens = std::max<uint64_t>(
      request.num_tokens != 0 ? request.num_tokens : request.block_hashes.size() * bs, 1);
  std::lock_guard<std::mutex> lock(impl_->mu);
  const std::vector<WorkerId> candidates = impl_->ResolveCandidates(request.candidates);
  Pressure p;
  if (candidates.empty()) return p;
  impl_->MatchOverlaps(request.block_hashes, &impl_->scratch);
  p.all_busy = true;
  uint64_t best_overlap = 0;
  WorkerId best = candidates[0];
  for (WorkerId w : candidates) {
    const WorkerLoad l = impl_->load.Get(w);
    if (PrefillSeconds(l.prefill_tokens, l.seqs, l.active_blocks * bs, impl_->StepBudget(l),
                       impl_->PricingModel(w)) < threshold_s) {
      p.all_busy = false;
    }
    const uint64_t o = impl_->scratch.Get(w);
    if (o > best_overlap) best_overlap = o, best = w;
  }
  const uint64_t cached = std::min(best_overlap * bs, tokens - 1);
  p.own_prefill_s = PrefillSeconds(tokens - cached, 0, 0, impl_->config.max_batched_tokens,
                                   impl_->PricingModel(best));
  return p;
}

void Router::AddStepSamples(WorkerId worker, std::span<const StepSample> samples) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  StepTimeModel& m = impl_->Model(worker);
  for (const StepSample& s : samples) m.Add(s);
  if (!samples.empty()) impl_->fleet_valid = false;
}

StepCoefficients Router::StepModel(WorkerId worker, uint64_t* samples) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->step_models.find(worker);
  if (it == impl_->step_models.end()) {
    if (samples) *samples = 0;
    return impl_->step_prior;
  }
  if (samples) *samples = it->second.samples();
  return it->second.coefficients();
}

WorkerLoad Router::Load(WorkerId worker) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->load.Get(worker);
}

void Router::RecordHashingNanos(int64_t nanos) { impl_->hashing_hist.RecordNanos(nanos); }

RouterStats Router::Stats() const {
  RouterStats s;
  s.hashing = impl_->hashing_hist.Snapshot();
  s.find_matches = impl_->find_matches_hist.Snapshot();
  s.decision = impl_->decision_hist.Snapshot();
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (const auto& [id, ws] : impl_->worker_stats) s.workers.push_back(ws);
  s.requests = impl_->requests;
  s.request_blocks = impl_->request_blocks;
  s.overlap_blocks = impl_->overlap_blocks;
  s.predicted_hit_rate = s.request_blocks == 0 ? 0.0
                                               : static_cast<double>(s.overlap_blocks) /
                                                     static_cast<double>(s.request_blocks);
  s.events_applied = impl_->events_applied;
  s.event_gaps = impl_->event_gaps;
  s.events_stale = impl_->events_stale;
  if (impl_->config.use_kv_events) {
    s.indexed_blocks = impl_->index.num_blocks();
    s.index_memory_bytes = impl_->index.MemoryBytes();
  } else {
    s.indexed_blocks = impl_->approx.num_blocks();
    s.index_memory_bytes = impl_->approx.MemoryBytes();
  }
  return s;
}

}  // namespace mint::router
