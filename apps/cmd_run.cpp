// `mint run`: one prompt from the command line (filled in with the model component).
#include <cstdio>

#include "apps/commands.h"

namespace mint::apps {

CommandFn RegisterRun(CLI::App& app) {
  app.add_subcommand("run", "Generate a continuation of one prompt");
  return []() -> int {
    std::fprintf(stderr, "error: `mint run` is not implemented yet\n");
    return 1;
  };
}

}  // namespace mint::apps
