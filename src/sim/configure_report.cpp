#include "sim/configure_report.h"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

namespace mint::sim {
namespace {

std::string Row(const std::string& rank, const Evaluation& e) {
  return fmt::format(
      "{:>4}  {:<20} {:<44} {:>7.0f} {:>8.0f} {:>6.1f} {:>7.1f} {:>9.0f} {:>8.2f} {:>5.1f} "
      "{:>9.4f}  {}\n",
      rank, e.layout.Shape(), e.layout.Knobs(), 1e3 * e.ttft_p50_s, 1e3 * e.ttft_p99_s,
      1e3 * e.itl_p50_s, 1e3 * e.itl_p99_s, e.output_tokens_per_s, e.goodput, 100 * e.utilization,
      e.cost_per_million_output,
      e.meets_sla ? "yes" : fmt::format("no ({:.1f} %)", 100 * e.attainment));
}

}  // namespace

std::string FormatRanking(const ConfigureResult& result, size_t top) {
  std::string out =
      fmt::format("{:>4}  {:<20} {:<44} {:>7} {:>8} {:>6} {:>7} {:>9} {:>8} {:>5} {:>9}  {}\n",
                  "rank", "layout", "knobs", "TTFT50", "TTFT99", "ITL50", "ITL99", "tok/s",
                  "goodput", "util", "$/M out", "meets SLA");
  for (size_t i = 0; i < result.ranked.size() && i < top; ++i) {
    out += Row(std::to_string(i + 1), result.ranked[i]);
  }
  if (result.baseline) {
    out += Row("base", *result.baseline);
    const Evaluation& best = result.ranked.front();
    if (best.meets_sla && result.baseline->meets_sla &&
        result.baseline->cost_per_million_output > 0) {
      out += fmt::format(
          "the winner costs {:.3f}x the cheapest aggregated round-robin layout that meets the "
          "SLA\n",
          best.cost_per_million_output / result.baseline->cost_per_million_output);
    } else if (!result.baseline->meets_sla) {
      out += "no aggregated round-robin layout within the budget meets the SLA\n";
    }
  }
  return out;
}

std::vector<std::string> DeployCommands(const Layout& l, const DeployContext& c) {
  std::vector<std::string> out;
  std::string frontend =
      fmt::format("mint frontend -m {} --etcd {} --router-mode {} --kv-block-size {}", c.model,
                  c.etcd, router::ModeName(l.router_mode), l.block_size);
  if (l.router_mode == router::Mode::kKv) {
    frontend += fmt::format(" --router-cache-credit {:g}", l.cache_credit);
  }
  if (l.disaggregated()) {
    frontend += fmt::format(" --remote-prefill-min-tokens {}", l.remote_prefill_min_tokens);
  }
  out.push_back(frontend);
  const std::string engine =
      fmt::format("--block-size {} --max-num-seqs {} --max-num-batched-tokens {}", l.block_size,
                  l.max_num_seqs, l.max_num_batched_tokens);
  struct Role {
    const char* name;
    int32_t count;
  };
  const std::vector<Role> roles =
      l.disaggregated()
          ? std::vector<Role>{{"prefill", l.prefill_workers}, {"decode", l.decode_workers}}
          : std::vector<Role>{{"agg", l.decode_workers}};
  for (const Role& r : roles) {
    out.push_back(fmt::format("mint worker -m {} --etcd {} --role {} {}  # on each of {} devices",
                              c.model, c.etcd, r.name, engine, r.count));
  }
  out.push_back("# the same layout on mockers (wall clock; add --speedup to run it faster):");
  std::string mock = fmt::format("--num-blocks {} --max-model-len {}",
                                 c.kv_capacity_tokens / l.block_size, c.max_model_len);
  if (!c.timing_profile.empty()) mock += " --timing-profile " + c.timing_profile;
  if (l.disaggregated()) {
    mock += fmt::format(
        " --kv-transfer-gbps {:g} --kv-transfer-latency-ms {:g} --kv-bytes-per-token {}", c.kv_gbps,
        c.kv_latency_ms, c.kv_bytes_per_token);
  }
  for (const Role& r : roles) {
    out.push_back(fmt::format("mint mocker --etcd {} --count {} --role {} {} {}", c.etcd, r.count,
                              r.name, engine, mock));
  }
  return out;
}

nlohmann::json EvaluationToJson(const Evaluation& e) {
  const Layout& l = e.layout;
  return {{"layout",
           {{"shape", l.Shape()},
            {"prefill_workers", l.prefill_workers},
            {"decode_workers", l.decode_workers},
            {"devices", l.devices()},
            {"router_mode", router::ModeName(l.router_mode)},
            {"cache_credit", l.cache_credit},
            {"max_num_seqs", l.max_num_seqs},
            {"max_num_batched_tokens", l.max_num_batched_tokens},
            {"block_size", l.block_size},
            {"remote_prefill_min_tokens", l.remote_prefill_min_tokens}}},
          {"ttft_p50_s", e.ttft_p50_s},
          {"ttft_p99_s", e.ttft_p99_s},
          {"itl_p50_s", e.itl_p50_s},
          {"itl_p99_s", e.itl_p99_s},
          {"output_tokens_per_s", e.output_tokens_per_s},
          {"goodput_rps", e.goodput},
          {"attainment", e.attainment},
          {"utilization", e.utilization},
          {"cost_per_million_output_tokens", e.cost_per_million_output},
          {"failed", e.failed},
          {"meets_sla", e.meets_sla}};
}

std::vector<Evaluation> ParetoFront(const std::vector<Evaluation>& evaluated) {
  std::vector<Evaluation> sorted;
  std::copy_if(evaluated.begin(), evaluated.end(), std::back_inserter(sorted),
               [](const Evaluation& e) { return e.meets_sla; });
  std::sort(sorted.begin(), sorted.end(), [](const Evaluation& a, const Evaluation& b) {
    if (a.ttft_p99_s != b.ttft_p99_s) return a.ttft_p99_s < b.ttft_p99_s;
    return a.cost_per_million_output < b.cost_per_million_output;
  });
  std::vector<Evaluation> front;
  for (const Evaluation& e : sorted) {
    // Faster ones came first: e is on the front when it is cheaper than all of them (by more
    // than 0.1 %: layouts of the same devices differ in cost by their last token's time).
    if (front.empty() ||
        e.cost_per_million_output < front.back().cost_per_million_output * (1 - 1e-3)) {
      front.push_back(e);
    }
  }
  return front;
}

std::vector<std::pair<std::string, std::string>> ParetoPlotFiles(const ConfigureResult& result,
                                                                 const Sla& sla) {
  auto line = [](const Evaluation& e) {
    return fmt::format("{:.6f} {:.6f} {} \"{}\"\n", e.ttft_p99_s, e.cost_per_million_output,
                       e.meets_sla ? 1 : 0, e.layout.Shape());
  };
  std::string all = "# ttft_p99_s cost_per_million_output meets_sla shape\n";
  for (const Evaluation& e : result.ranked) all += line(e);
  std::string front = all.substr(0, all.find('\n') + 1);
  for (const Evaluation& e : ParetoFront(result.ranked)) front += line(e);
  // The x range holds every layout and the SLA's limit with some room.
  double xmin = sla.ttft_p99_s, xmax = sla.ttft_p99_s * 2;
  for (const Evaluation& e : result.ranked) {
    if (e.ttft_p99_s > 0) xmin = std::min(xmin, e.ttft_p99_s);
    xmax = std::max(xmax, e.ttft_p99_s * 1.3);
  }
  const std::string script = fmt::format(
      "set terminal pngcairo size 1000,650\n"
      "set output 'pareto.png'\n"
      "set title 'mint configure: every simulated layout, cost against p99 TTFT'\n"
      "set xlabel 'p99 TTFT (s)'\n"
      "set ylabel 'cost per million output tokens'\n"
      "set logscale x\n"
      "set xrange [{1}:{2}]\n"
      "set grid\n"
      "set key top right\n"
      "set arrow from {0},graph 0 to {0},graph 1 nohead dashtype 2 lc rgb '#aa0000'\n"
      "set label 'SLA TTFT p99' at {0},graph 0.95 offset 0.5,0 tc rgb '#aa0000'\n"
      "plot 'pareto.dat' using 1:($3==1?$2:1/0) with points pt 7 lc rgb '#2a7f2a' title "
      "'meets the SLA', \\\n"
      "     'pareto.dat' using 1:($3==0?$2:1/0) with points pt 2 lc rgb '#999999' title "
      "'misses it', \\\n"
      "     'front.dat' using 1:2 with linespoints lw 2 pt 6 lc rgb '#1f4fbf' title 'Pareto "
      "front (of those meeting the SLA)', \\\n"
      "     'front.dat' using 1:2:4 with labels offset 0,1 font ',8' notitle\n",
      sla.ttft_p99_s, xmin / 1.5, xmax);
  return {{"pareto.dat", all}, {"front.dat", front}, {kParetoScript, script}};
}

}  // namespace mint::sim
