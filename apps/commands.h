// Subcommands of the `mint` binary. Each cmd_<name>.cpp registers its options on a CLI11
// subcommand and returns the callback that runs it (exit code).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace mint::apps {

using CommandFn = std::function<int()>;

// Registration hooks. Each adds a subcommand to `app` and returns its action.
CommandFn RegisterGguf(CLI::App& app);
CommandFn RegisterRun(CLI::App& app);
CommandFn RegisterServe(CLI::App& app);      // cmd_serve.cpp
CommandFn RegisterPerf(CLI::App& app);        // cmd_perf.cpp
CommandFn RegisterTokenize(CLI::App& app);    // cmd_tokenize.cpp
CommandFn RegisterDetokenize(CLI::App& app);  // cmd_tokenize.cpp
CommandFn RegisterTemplate(CLI::App& app);    // cmd_template.cpp
CommandFn RegisterBench(CLI::App& app);       // cmd_bench.cpp
CommandFn RegisterWorker(CLI::App& app);      // cmd_worker.cpp
CommandFn RegisterFrontend(CLI::App& app);    // cmd_frontend.cpp
CommandFn RegisterMocker(CLI::App& app);      // cmd_mocker.cpp
CommandFn RegisterProfile(CLI::App& app);     // cmd_profile.cpp
CommandFn RegisterCerts(CLI::App& app);       // cmd_certs.cpp
CommandFn RegisterSimulate(CLI::App& app);    // cmd_simulate.cpp
CommandFn RegisterConfigure(CLI::App& app);   // cmd_configure.cpp
CommandFn RegisterPlanner(CLI::App& app);     // cmd_planner.cpp

}  // namespace mint::apps
