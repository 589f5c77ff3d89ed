#include "apps/app_util.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/progress.h"

namespace mint::apps {

int Fail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
  return 1;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::IoError("cannot open " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Result<std::unique_ptr<model::Model>> LoadModelWithProgress(const std::string& path) {
  ProgressBar bar("loading " + path, /*unit_bytes=*/true);
  return model::Model::Load(path, {.progress = [&](uint64_t done, uint64_t total) {
                                     bar.Update(done, total);
                                   }});
}

}  // namespace mint::apps
