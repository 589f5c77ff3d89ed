#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

#include "core/clock.h"

namespace mint {

ProgressBar::ProgressBar(std::string label, bool unit_bytes)
    : label_(std::move(label)),
      unit_bytes_(unit_bytes),
      enabled_(isatty(STDERR_FILENO) == 1),
      start_ns_(SystemClock::Get().NowNanos()) {}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Update(uint64_t done, uint64_t total) {
  if (!enabled_ || total == 0) return;
  const int permille = static_cast<int>(done * 1000 / total);
  if (permille == last_permille_) return;
  last_permille_ = permille;
  constexpr int kWidth = 30;
  const int filled = permille * kWidth / 1000;
  char bar[kWidth + 1];
  for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
  bar[kWidth] = 0;
  const double secs = (SystemClock::Get().NowNanos() - start_ns_) * 1e-9;
  if (unit_bytes_) {
    std::fprintf(stderr, "\r%s [%s] %5.1f%% %8.1f / %.1f MiB  %.1fs", label_.c_str(), bar,
                 permille / 10.0, done / 1048576.0, total / 1048576.0, secs);
  } else {
    std::fprintf(stderr, "\r%s [%s] %5.1f%% %llu / %llu  %.1fs", label_.c_str(), bar,
                 permille / 10.0, static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total), secs);
  }
  drawn_ = true;
}

void ProgressBar::Finish() {
  if (drawn_) std::fputc('\n', stderr);
  drawn_ = false;
}

}  // namespace mint
