#include "sim/configure.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <thread>
#include <tuple>

#include <fmt/format.h>

#include "bench_lib/stats.h"

namespace mint::sim {
namespace {

SimConfig ConfigFor(const ConfigureOptions& o, const Layout& l) {
  SimConfig c = o.base;
  c.num_workers = l.decode_workers;
  c.num_prefill_workers = l.prefill_workers;
  c.block_size = l.block_size;
  c.num_blocks = static_cast<int32_t>(std::max<int64_t>(1, o.kv_capacity_tokens / l.block_size));
  c.scheduler.max_num_seqs = l.max_num_seqs;
  c.scheduler.max_num_batched_tokens = l.max_num_batched_tokens;
  c.router.block_size = l.block_size;
  c.router.mode = l.router_mode;
  c.router.cache_credit = l.cache_credit;
  c.remote_prefill_min_tokens = l.remote_prefill_min_tokens;
  if (l.disaggregated()) c.queue.reset();  // the router queue is for aggregated layouts
  return c;
}

Evaluation Score(const ConfigureOptions& o, const Layout& l, const SimResult& r) {
  bench::ReportOptions ro;
  ro.slo.ttft = o.sla.ttft_p99_s;
  ro.slo.tpot = o.sla.itl_p99_s;
  const bench::Report rep = bench::BuildReport(r.records, ro);
  Evaluation e;
  e.layout = l;
  e.ttft_p50_s = rep.ttft.p50;
  e.ttft_p99_s = rep.ttft.p99;
  e.itl_p50_s = rep.itl.p50;
  e.itl_p99_s = rep.itl.p99;
  e.output_tokens_per_s = rep.output_token_throughput;
  e.goodput = rep.goodput;
  e.attainment =
      rep.requests ? static_cast<double>(rep.good) / static_cast<double>(rep.requests) : 0.0;
  e.utilization = r.utilization;
  e.failed = rep.failed;
  const double hours = rep.duration_s / 3600;
  e.cost_per_million_output =
      rep.output_tokens > 0
          ? l.devices() * o.cost_per_hour * hours / (static_cast<double>(rep.output_tokens) / 1e6)
          : 0.0;
  e.sla_ratio = std::max(e.ttft_p99_s / o.sla.ttft_p99_s, e.itl_p99_s / o.sla.itl_p99_s);
  e.meets_sla = e.failed == 0 && e.ttft_p99_s <= o.sla.ttft_p99_s && e.itl_p99_s <= o.sla.itl_p99_s;
  return e;
}

Status ValidateOptions(const ConfigureOptions& o, const std::vector<SimRequest>& requests) {
  if (requests.empty()) return Status::InvalidArgument("the workload has no requests");
  if (!(o.sla.ttft_p99_s > 0) || !(o.sla.itl_p99_s > 0)) {
    return Status::InvalidArgument("the SLA needs ttft_p99 > 0 and itl_p99 > 0");
  }
  const SearchSpace& s = o.space;
  if (s.max_devices < 1) return Status::InvalidArgument("max_devices must be >= 1");
  if (!s.aggregated && !(s.disaggregated && s.max_devices >= 2)) {
    return Status::InvalidArgument(
        "nothing to search: aggregated layouts are off and disaggregated ones need >= 2 devices");
  }
  if (s.max_num_batched_tokens.empty() || s.max_num_seqs.empty() || s.block_sizes.empty() ||
      s.cache_credits.empty() || s.remote_prefill_min_tokens.empty()) {
    return Status::InvalidArgument("every knob of the search space needs at least one value");
  }
  for (int32_t b : s.block_sizes) {
    if (b < 1 || o.kv_capacity_tokens < b) {
      return Status::InvalidArgument(
          fmt::format("block size {} must be >= 1 and fit in the KV capacity ({} tokens)", b,
                      o.kv_capacity_tokens));
    }
  }
  if (!(o.cost_per_hour >= 0)) return Status::InvalidArgument("cost_per_hour must be >= 0");
  if (o.threads < 1) return Status::InvalidArgument("threads must be >= 1");
  return ConfigFor(o, o.start).Validate();
}

// Cost to three significant digits: layouts of equal devices differ in cost only by their last
// token's time, which should not outrank their latency headroom.
double CostKey(double cost) {
  if (!(cost > 0)) return 0;
  const double unit = std::pow(10.0, std::floor(std::log10(cost)) - 2);
  return std::round(cost / unit) * unit;
}

class Search {
 public:
  Search(const ConfigureOptions& o, const std::vector<SimRequest>& requests)
      : o_(o), requests_(requests) {}

  Result<ConfigureResult> Go() {
    std::vector<Evaluation> winners;
    if (o_.space.aggregated) {
      MINT_ASSIGN_OR_RETURN(auto agg, FewestAggregated());
      winners.insert(winners.end(), agg.begin(), agg.end());
    }
    if (o_.space.disaggregated && o_.space.max_devices >= 2) {
      Layout start = o_.start;
      start.router_mode = router::Mode::kKv;
      MINT_ASSIGN_OR_RETURN(auto dis, FewestDisaggregated(start, o_.space.max_devices));
      if (dis) winners.push_back(*dis);
    }
    for (const Evaluation& w : winners) {
      MINT_ASSIGN_OR_RETURN(Evaluation tuned, Tune(w));
      MINT_RETURN_IF_ERROR(Shrink(tuned).status());
    }
    ConfigureResult out;
    for (const auto& [key, e] : memo_) out.ranked.push_back(e);
    std::sort(out.ranked.begin(), out.ranked.end(), RanksBefore);
    for (const Evaluation& e : out.ranked) {
      if (!e.layout.disaggregated() && e.layout.router_mode == router::Mode::kRoundRobin &&
          (e.meets_sla || e.layout.devices() == o_.space.max_devices)) {
        out.baseline = e;
        break;
      }
    }
    out.simulations = static_cast<int64_t>(memo_.size());
    return out;
  }

 private:
  // Simulates the layouts not simulated yet (in parallel), then returns every one's evaluation
  // in the order given.
  Result<std::vector<Evaluation>> Batch(const std::vector<Layout>& layouts) {
    std::vector<Layout> todo;
    for (const Layout& l : layouts) {
      const std::string key = l.Key();
      if (memo_.count(key) == 0 &&
          std::none_of(todo.begin(), todo.end(), [&](const Layout& t) { return t.Key() == key; })) {
        todo.push_back(l);
      }
    }
    std::vector<Result<Evaluation>> done(todo.size(), Status::Internal("not run"));
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i; (i = next.fetch_add(1)) < todo.size();)
        done[i] = EvaluateLayout(o_, todo[i], requests_);
    };
    std::vector<std::thread> pool;
    const size_t n = std::min<size_t>(static_cast<size_t>(o_.threads), todo.size());
    for (size_t t = 1; t < n; ++t) pool.emplace_back(work);
    work();
    for (std::thread& t : pool) t.join();
    for (Result<Evaluation>& r : done) {
      if (!r.ok()) return r.status();
      memo_.emplace(r->layout.Key(), *r);
    }
    if (o_.progress && !todo.empty()) {
      const Evaluation* best = nullptr;
      for (const auto& [key, e] : memo_) {
        if (e.meets_sla && (best == nullptr || RanksBefore(e, *best))) best = &e;
      }
      o_.progress(static_cast<int64_t>(memo_.size()), best);
    }
    std::vector<Evaluation> out;
    for (const Layout& l : layouts) out.push_back(memo_.at(l.Key()));
    return out;
  }

  // Stage 1, aggregated: per router mode, a binary search on the worker count (both modes'
  // probes in one batch).
  Result<std::vector<Evaluation>> FewestAggregated() {
    struct Family {
      Layout layout;
      int32_t lo = 1, hi = 0;  // the answer is in [lo, hi]; hi = 0: the top is not checked yet
    };
    std::vector<Family> families;
    for (router::Mode m : {router::Mode::kRoundRobin, router::Mode::kKv}) {
      Family f{.layout = o_.start};
      f.layout.prefill_workers = 0;
      f.layout.router_mode = m;
      families.push_back(f);
    }
    auto with = [](Layout l, int32_t n) {
      l.decode_workers = n;
      return l;
    };
    for (bool open = true; open;) {
      std::vector<Layout> probes;
      std::vector<Family*> probed;
      for (Family& f : families) {
        if (f.hi == 0) {
          probes.push_back(with(f.layout, o_.space.max_devices));
        } else if (f.lo < f.hi) {
          probes.push_back(with(f.layout, (f.lo + f.hi) / 2));
        } else {
          continue;
        }
        probed.push_back(&f);
      }
      MINT_ASSIGN_OR_RETURN(auto evals, Batch(probes));
      for (size_t i = 0; i < probed.size(); ++i) {
        Family& f = *probed[i];
        const int32_t n = evals[i].layout.decode_workers;
        if (f.hi == 0) {
          f.hi = o_.space.max_devices;
          if (!evals[i].meets_sla) f.lo = f.hi;  // even the whole budget misses: stop there
        } else if (evals[i].meets_sla) {
          f.hi = n;
        } else {
          f.lo = n + 1;
        }
      }
      open = !probed.empty();
    }
    std::vector<Evaluation> out;
    for (const Family& f : families) {
      MINT_ASSIGN_OR_RETURN(auto e, Batch({with(f.layout, f.hi)}));
      out.push_back(e[0]);
    }
    return out;
  }

  // Stage 1, disaggregated, with `knobs`: device totals from max_total down, each total's
  // splits not dominated by a failed split; the best split of the smallest total where one
  // meets the SLA (or of max_total when none does). Nullopt when max_total < 2.
  Result<std::optional<Evaluation>> FewestDisaggregated(const Layout& knobs, int32_t max_total) {
    std::vector<std::pair<int32_t, int32_t>> failed;  // (prefill, decode)
    std::optional<Evaluation> best, best_at_top;
    for (int32_t total = max_total; total >= 2; --total) {
      std::vector<Layout> splits;
      for (int32_t p = 1; p < total; ++p) {
        const int32_t d = total - p;
        const bool dominated = std::any_of(failed.begin(), failed.end(), [&](const auto& f) {
          return p <= f.first && d <= f.second;
        });
        if (dominated) continue;
        Layout l = knobs;
        l.prefill_workers = p;
        l.decode_workers = d;
        splits.push_back(l);
      }
      if (splits.empty()) break;
      MINT_ASSIGN_OR_RETURN(auto evals, Batch(splits));
      std::optional<Evaluation> best_here;
      for (const Evaluation& e : evals) {
        if (!e.meets_sla) failed.emplace_back(e.layout.prefill_workers, e.layout.decode_workers);
        if (!best_here || RanksBefore(e, *best_here)) best_here = e;
      }
      if (total == max_total) best_at_top = best_here;
      if (!best_here->meets_sla) break;
      best = best_here;
    }
    return best ? best : best_at_top;
  }

  // Stage 2: one pass of coordinate descent over the knobs.
  Result<Evaluation> Tune(Evaluation best) {
    const SearchSpace& s = o_.space;
    using Setter = std::function<void(Layout*, size_t)>;
    std::vector<std::pair<size_t, Setter>> knobs = {
        {s.max_num_batched_tokens.size(),
         [&](Layout* l, size_t i) { l->max_num_batched_tokens = s.max_num_batched_tokens[i]; }},
        {s.max_num_seqs.size(), [&](Layout* l, size_t i) { l->max_num_seqs = s.max_num_seqs[i]; }},
        {s.block_sizes.size(), [&](Layout* l, size_t i) { l->block_size = s.block_sizes[i]; }},
    };
    if (best.layout.router_mode == router::Mode::kKv) {
      knobs.emplace_back(s.cache_credits.size(),
                         [&](Layout* l, size_t i) { l->cache_credit = s.cache_credits[i]; });
    }
    if (best.layout.disaggregated()) {
      knobs.emplace_back(s.remote_prefill_min_tokens.size(), [&](Layout* l, size_t i) {
        l->remote_prefill_min_tokens = s.remote_prefill_min_tokens[i];
      });
    }
    for (const auto& [count, set] : knobs) {
      std::vector<Layout> tries;
      for (size_t i = 0; i < count; ++i) {
        Layout l = best.layout;
        set(&l, i);
        tries.push_back(l);
      }
      MINT_ASSIGN_OR_RETURN(auto evals, Batch(tries));
      for (const Evaluation& e : evals) {
        if (RanksBefore(e, best)) best = e;
      }
    }
    return best;
  }

  // Stage 2, then: one device fewer with the tuned knobs (re-tuned when it meets the SLA), while
  // the SLA holds.
  Result<Evaluation> Shrink(Evaluation best) {
    while (best.meets_sla && best.layout.devices() > 1) {
      const int32_t fewer = best.layout.devices() - 1;
      std::optional<Evaluation> cand;
      if (best.layout.disaggregated()) {
        if (fewer < 2) break;
        MINT_ASSIGN_OR_RETURN(cand, FewestDisaggregated(best.layout, fewer));
      } else {
        Layout l = best.layout;
        l.decode_workers = fewer;
        MINT_ASSIGN_OR_RETURN(auto e, Batch({l}));
        cand = e[0];
      }
      if (!cand || !cand->meets_sla) break;
      MINT_ASSIGN_OR_RETURN(best, Tune(*cand));
    }
    return best;
  }

  const ConfigureOptions& o_;
  const std::vector<SimRequest>& requests_;
  std::map<std::string, Evaluation> memo_;
};

}  // namespace

std::string Layout::Shape() const {
  if (disaggregated())
    return fmt::format("{}P+{}D {}", prefill_workers, decode_workers,
                       router::ModeName(router_mode));
  return fmt::format("{} agg {}", decode_workers, router::ModeName(router_mode));
}

std::string Layout::Knobs() const {
  std::string s =
      fmt::format("batch {}, seqs {}, block {}", max_num_batched_tokens, max_num_seqs, block_size);
  if (router_mode == router::Mode::kKv) s += fmt::format(", credit {:g}", cache_credit);
  if (disaggregated()) s += fmt::format(", remote >= {}", remote_prefill_min_tokens);
  return s;
}

std::string Layout::Key() const { return Shape() + "; " + Knobs(); }

Result<Sla> ParseSla(std::string_view text) {
  Sla sla;
  MINT_RETURN_IF_ERROR(
      bench::ForEachSecondsItem(text, "--sla", [&](const std::string& key, double v) {
        if (key == "ttft_p99") {
          sla.ttft_p99_s = v;
        } else if (key == "itl_p99") {
          sla.itl_p99_s = v;
        } else {
          return Status::InvalidArgument("--sla: unknown key '" + key + "' (ttft_p99, itl_p99)");
        }
        return Status::Ok();
      }));
  if (sla.ttft_p99_s == 0 || sla.itl_p99_s == 0) {
    return Status::InvalidArgument("the SLA needs both ttft_p99 and itl_p99");
  }
  return sla;
}

bool RanksBefore(const Evaluation& a, const Evaluation& b) {
  if (a.meets_sla != b.meets_sla) return a.meets_sla;
  if (a.meets_sla) {
    const double ca = CostKey(a.cost_per_million_output), cb = CostKey(b.cost_per_million_output);
    if (ca != cb) return ca < cb;
  }
  if (!a.meets_sla && a.attainment != b.attainment) return a.attainment > b.attainment;
  if (a.sla_ratio != b.sla_ratio) return a.sla_ratio < b.sla_ratio;
  return a.layout.Key() < b.layout.Key();
}

Result<Evaluation> EvaluateLayout(const ConfigureOptions& options, const Layout& layout,
                                  const std::vector<SimRequest>& requests) {
  MINT_ASSIGN_OR_RETURN(SimResult r, Simulate(ConfigFor(options, layout), requests));
  return Score(options, layout, r);
}

Result<ConfigureResult> Configure(const ConfigureOptions& options,
                                  const std::vector<SimRequest>& requests) {
  MINT_RETURN_IF_ERROR(ValidateOptions(options, requests));
  return Search(options, requests).Go();
}

}  // namespace mint::sim
