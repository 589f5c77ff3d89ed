// Plot inputs for `mint bench --plot DIR`: gnuplot data files and one script that draws
// latency CDFs (TTFT, ITL, E2E) and output throughput over time as PNGs. Pure: returns file
// names and contents; the caller writes them and runs gnuplot in DIR.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "bench_lib/stats.h"

namespace mint::bench {

inline constexpr const char* kPlotScript = "plots.gp";

// (file name, contents) pairs: ttft.dat, itl.dat, e2e.dat (sorted ms and cumulative fraction),
// throughput.dat (seconds, output tokens/s) and plots.gp, which writes ttft_cdf.png,
// itl_cdf.png, e2e_cdf.png and throughput.png.
std::vector<std::pair<std::string, std::string>> MakePlotFiles(
    const std::vector<RequestRecord>& records, const Report& report);

}  // namespace mint::bench
