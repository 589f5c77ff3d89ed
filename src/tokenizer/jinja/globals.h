// Global functions of the chat-template environment, as transformers sets it up:
// range, namespace, dict, raise_exception, strftime_now.
//
// Thread-safety: MakeGlobals returns a new scope per call; use it for one render.
#pragma once

#include <cstdint>
#include <optional>

#include "tokenizer/jinja/interpreter.h"

namespace mint::tokenizer::jinja {

struct GlobalsOptions {
  // strftime_now formats this instant (UTC) instead of the local wall clock when set.
  std::optional<int64_t> fixed_unix_seconds;
};

// A scope holding the global functions; callers add their variables to it.
ScopePtr MakeGlobals(const GlobalsOptions& options);

}  // namespace mint::tokenizer::jinja
