#include "bench_lib/plot.h"

#include <fmt/format.h>

#include <algorithm>

namespace mint::bench {
namespace {

std::string Cdf(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::string out = "# ms cumulative_fraction\n";
  // At most ~2,000 points: enough for a smooth curve, small files for long runs.
  size_t step = std::max<size_t>(1, v.size() / 2000);
  for (size_t i = 0; i < v.size(); i += step) {
    out += fmt::format("{:.4f} {:.6f}\n", v[i] * 1e3, static_cast<double>(i + 1) / v.size());
  }
  if (!v.empty()) out += fmt::format("{:.4f} 1\n", v.back() * 1e3);
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> MakePlotFiles(
    const std::vector<RequestRecord>& records, const Report& report) {
  std::vector<double> ttft, itl, e2e;
  for (const auto& r : records) {
    if (r.warmup || !r.error.empty()) continue;
    ttft.push_back(r.ttft_s);
    itl.insert(itl.end(), r.itl_s.begin(), r.itl_s.end());
    e2e.push_back(r.e2e_s());
  }
  std::string tput = "# seconds output_tokens_per_s\n";
  for (size_t i = 0; i < report.output_tokens_per_bucket.size(); ++i) {
    tput += fmt::format("{:.3f} {:.3f}\n", (static_cast<double>(i) + 0.5) * report.bucket_s,
                        report.output_tokens_per_bucket[i]);
  }
  std::string script =
      "set terminal pngcairo size 900,600 noenhanced\n"
      "set grid\n"
      "set key off\n"
      "set ylabel 'fraction of samples'\n"
      "set yrange [0:1]\n";
  for (const char* name : {"ttft", "itl", "e2e"}) {
    std::string upper = name;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    script += fmt::format(
        "set output '{0}_cdf.png'\nset title '{1} CDF'\nset xlabel '{1} (ms)'\n"
        "plot '{0}.dat' using 1:2 with steps lw 2\n",
        name, upper);
  }
  script +=
      "set output 'throughput.png'\nset title 'Output throughput over time'\n"
      "set xlabel 'time since first request (s)'\nset ylabel 'output tokens/s'\n"
      "set autoscale y\nset yrange [0:*]\n"
      "plot 'throughput.dat' using 1:2 with linespoints lw 2\n";
  return {{"ttft.dat", Cdf(std::move(ttft))},
          {"itl.dat", Cdf(std::move(itl))},
          {"e2e.dat", Cdf(std::move(e2e))},
          {"throughput.dat", std::move(tput)},
          {kPlotScript, std::move(script)}};
}

}  // namespace mint::bench
