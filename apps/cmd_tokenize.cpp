// `mint tokenize` / `mint detokenize` (owned by the tokenizer work; placeholder until it lands).
#include <cstdio>

#include "apps/commands.h"

namespace mint::apps {

CommandFn RegisterTokenize(CLI::App& app) {
  app.add_subcommand("tokenize", "Print the token ids of a text (not implemented yet)");
  return []() -> int {
    std::fprintf(stderr, "error: `mint tokenize` is not implemented yet\n");
    return 1;
  };
}

CommandFn RegisterDetokenize(CLI::App& app) {
  app.add_subcommand("detokenize", "Print the text of token ids (not implemented yet)");
  return []() -> int {
    std::fprintf(stderr, "error: `mint detokenize` is not implemented yet\n");
    return 1;
  };
}

}  // namespace mint::apps
