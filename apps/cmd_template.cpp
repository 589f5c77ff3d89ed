// `mint template` (owned by the chat-template work; placeholder until it lands).
#include <cstdio>

#include "apps/commands.h"

namespace mint::apps {

CommandFn RegisterTemplate(CLI::App& app) {
  app.add_subcommand("template", "Render a chat template (not implemented yet)");
  return []() -> int {
    std::fprintf(stderr, "error: `mint template` is not implemented yet\n");
    return 1;
  };
}

}  // namespace mint::apps
