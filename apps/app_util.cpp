#include "apps/app_util.h"

#include <cstdio>

#include "core/progress.h"

namespace mint::apps {

int Fail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
  return 1;
}

Result<std::unique_ptr<model::Model>> LoadModelWithProgress(const std::string& path) {
  ProgressBar bar("loading " + path, /*unit_bytes=*/true);
  return model::Model::Load(path, {.progress = [&](uint64_t done, uint64_t total) {
                                     bar.Update(done, total);
                                   }});
}

}  // namespace mint::apps
