// Helpers shared by the `mint` subcommands.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "model/model.h"

namespace mint::apps {

// Prints "error: <status>" to stderr and returns exit code 1.
int Fail(const Status& s);

// The whole file, or kIoError naming it.
Result<std::string> ReadFile(const std::string& path);

// Writes `files` (name, contents) into `dir` (created if missing) and runs gnuplot on `script`
// there; a missing or failing gnuplot is a warning (data and script stay). `drawn` names what
// it draws, for the log line. Returns an exit code (1 when a file cannot be written).
int WriteGnuplot(const std::string& dir,
                 const std::vector<std::pair<std::string, std::string>>& files,
                 const std::string& script, const std::string& drawn);

// Loads a model with a progress bar on stderr (drawn only on a terminal).
Result<std::unique_ptr<model::Model>> LoadModelWithProgress(const std::string& path);

}  // namespace mint::apps
