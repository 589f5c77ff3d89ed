// `mint`: the one binary. See README.md and `mint --help`.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <vector>

#include "apps/commands.h"
#include "core/log.h"

int main(int argc, char** argv) {
  CLI::App app{
      "Mint: LLM inference serving. One binary: run a model locally, serve an OpenAI-compatible "
      "API, or scale out across hosts."};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug | info | warn | error | off")
      ->capture_default_str();

  std::vector<std::pair<CLI::App*, mint::apps::CommandFn>> commands;
  auto add = [&](mint::apps::CommandFn fn) {
    commands.emplace_back(app.get_subcommands({}).back(), std::move(fn));
  };
  add(mint::apps::RegisterServe(app));
  add(mint::apps::RegisterFrontend(app));
  add(mint::apps::RegisterWorker(app));
  add(mint::apps::RegisterMocker(app));
  add(mint::apps::RegisterProfile(app));
  add(mint::apps::RegisterSimulate(app));
  add(mint::apps::RegisterConfigure(app));
  add(mint::apps::RegisterPlanner(app));
  add(mint::apps::RegisterCerts(app));
  add(mint::apps::RegisterRun(app));
  add(mint::apps::RegisterPerf(app));
  add(mint::apps::RegisterGguf(app));
  add(mint::apps::RegisterTokenize(app));
  add(mint::apps::RegisterDetokenize(app));
  add(mint::apps::RegisterTemplate(app));
  add(mint::apps::RegisterBench(app));

  CLI11_PARSE(app, argc, argv);
  mint::log::Level level;
  if (!mint::log::ParseLevel(log_level, &level)) {
    std::fprintf(stderr, "error: unknown --log-level '%s'\n", log_level.c_str());
    return 2;
  }
  mint::log::SetLevel(level);
  for (auto& [sub, fn] : commands) {
    if (sub->parsed()) return fn();
  }
  return 2;
}
