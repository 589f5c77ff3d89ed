#include "apps/app_util.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
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

int WriteGnuplot(const std::string& dir,
                 const std::vector<std::pair<std::string, std::string>>& files,
                 const std::string& script, const std::string& drawn) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Fail(Status::IoError("cannot create " + dir + ": " + ec.message()));
  for (const auto& [name, content] : files) {
    std::ofstream f(std::filesystem::path(dir) / name, std::ios::binary);
    f << content;
    if (!f) return Fail(Status::IoError("cannot write " + dir + "/" + name));
  }
  const std::string cmd = "cd '" + dir + "' && gnuplot " + script;
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr,
                 "warning: gnuplot failed or is missing (apt install gnuplot-nox); data and "
                 "script are in %s\n",
                 dir.c_str());
    return 0;
  }
  std::fprintf(stderr, "plots: %s/%s\n", dir.c_str(), drawn.c_str());
  return 0;
}

Result<std::unique_ptr<model::Model>> LoadModelWithProgress(const std::string& path) {
  ProgressBar bar("loading " + path, /*unit_bytes=*/true);
  return model::Model::Load(path, {.progress = [&](uint64_t done, uint64_t total) {
                                     bar.Update(done, total);
                                   }});
}

}  // namespace mint::apps
