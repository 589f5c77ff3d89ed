// Helpers shared by the `mint` subcommands.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "model/model.h"

namespace mint::apps {

// Prints "error: <status>" to stderr and returns exit code 1.
int Fail(const Status& s);

// The whole file, or kIoError naming it.
Result<std::string> ReadFile(const std::string& path);

// Loads a model with a progress bar on stderr (drawn only on a terminal).
Result<std::unique_ptr<model::Model>> LoadModelWithProgress(const std::string& path);

}  // namespace mint::apps
