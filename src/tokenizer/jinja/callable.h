// Callables of the Jinja interpreter: macros, global functions, bound methods, loop.cycle.
//
// Thread-safety: a Callable belongs to one render; it is not shared between threads.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "tokenizer/jinja/value.h"

namespace mint::tokenizer::jinja {

class Interpreter;

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> kwargs;

  // The keyword argument `name`, or nullptr.
  const Value* Kwarg(std::string_view name) const {
    for (auto& [k, v] : kwargs) {
      if (k == name) return &v;
    }
    return nullptr;
  }
  // Positional argument `index`, else keyword `name`, else nullptr.
  const Value* Get(size_t index, std::string_view name) const {
    if (index < positional.size()) return &positional[index];
    return Kwarg(name);
  }
};

class Callable {
 public:
  virtual ~Callable() = default;
  // `line` is the template line of the call, for error messages.
  virtual Result<Value> Call(Interpreter& interp, CallArgs& args, int line) = 0;
  // What str() prints, e.g. "<Macro 'name'>".
  virtual std::string Repr() const = 0;
};

}  // namespace mint::tokenizer::jinja
