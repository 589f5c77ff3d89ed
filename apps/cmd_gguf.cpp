// `mint gguf info FILE` and `mint gguf synth ...` (synthetic models are added with the model lib).
#include <cstdio>

#include "apps/commands.h"
#include "gguf/gguf.h"

namespace mint::apps {

CommandFn RegisterGguf(CLI::App& app) {
  auto* gguf = app.add_subcommand("gguf", "Inspect GGUF files and write synthetic models");
  gguf->require_subcommand(1);
  auto* info = gguf->add_subcommand("info", "Print a GGUF file's metadata and tensor table");
  auto path = std::make_shared<std::string>();
  auto no_tensors = std::make_shared<bool>(false);
  info->add_option("file", *path, "GGUF file")->required();
  info->add_flag("--no-tensors", *no_tensors, "Only print metadata");
  return [=]() -> int {
    if (info->parsed()) {
      auto file = gguf::GgufFile::Open(*path);
      if (!file.ok()) {
        std::fprintf(stderr, "error: %s\n", file.status().ToString().c_str());
        return 1;
      }
      std::fputs((*file)->Describe(!*no_tensors).c_str(), stdout);
      return 0;
    }
    return 2;
  };
}

}  // namespace mint::apps
