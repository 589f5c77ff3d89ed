// Prometheus's own linter over a metrics exposition: `promtool check metrics` (Debian package
// prometheus). Tests use it as the oracle for text they render.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace mint::test_support {

inline bool HavePromtool() { return std::system("command -v promtool >/dev/null 2>&1") == 0; }

// promtool's complaints about `text` ("" when it accepts it); nullopt when promtool is missing.
inline std::optional<std::string> PromtoolProblems(const std::string& text) {
  if (!HavePromtool()) return std::nullopt;
  const std::string path = ::testing::TempDir() + "/promtool_input.txt";
  {
    std::ofstream f(path);
    f << text;
  }
  FILE* p = popen(("promtool check metrics < " + path + " 2>&1").c_str(), "r");
  if (p == nullptr) return std::string("popen failed");
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  const int rc = pclose(p);
  if (rc != 0 && out.empty()) out = "promtool exited with " + std::to_string(rc);
  return out;
}

}  // namespace mint::test_support
