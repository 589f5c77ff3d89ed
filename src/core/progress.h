// A one-line progress bar on stderr, drawn only when stderr is a terminal.
//
// Thread-safety: Update() may be called from one thread at a time.
#pragma once

#include <cstdint>
#include <string>

namespace mint {

class ProgressBar {
 public:
  // `label` prints before the bar; `unit_bytes` formats counts as MiB instead of plain numbers.
  ProgressBar(std::string label, bool unit_bytes);
  ~ProgressBar();  // finishes the line if anything was drawn

  void Update(uint64_t done, uint64_t total);
  void Finish();

 private:
  std::string label_;
  bool unit_bytes_;
  bool enabled_;
  bool drawn_ = false;
  int last_permille_ = -1;
  int64_t start_ns_;
};

}  // namespace mint
