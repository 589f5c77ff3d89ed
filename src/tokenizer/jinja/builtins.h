// Built-in filters, tests and methods of Mint's Jinja interpreter.
//
// Thread-safety: stateless functions; the registries are immutable after static init.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "tokenizer/jinja/callable.h"
#include "tokenizer/jinja/value.h"

namespace mint::tokenizer::jinja {

bool IsKnownFilter(std::string_view name);
bool IsKnownTest(std::string_view name);

// Applies filter `name` to `input`. Errors name the filter; the caller adds the line.
Result<Value> ApplyFilter(Interpreter& interp, std::string_view name, const Value& input,
                          CallArgs& args);
// Evaluates test `name` (`input is name(args)`).
Result<bool> ApplyTest(Interpreter& interp, std::string_view name, const Value& input,
                       CallArgs& args);

// Looks up attribute `name` of a str/list/dict receiver as a method; returns an undefined Value
// when there is none. The returned callable holds the receiver (sharing containers).
Value GetMethod(const Value& receiver, const std::string& name);
bool IsDictMethod(std::string_view name);

// json.dumps(value, ensure_ascii=False, indent, separators, sort_keys) as Python writes it.
struct JsonOptions {
  int indent = -1;  // < 0: no indent
  std::string indent_str;  // used instead of `indent` spaces when indent_is_string
  bool indent_is_string = false;
  std::string item_sep = ", ";
  std::string key_sep = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};
Result<std::string> ToJson(const Value& value, const JsonOptions& options);

// Python `fmt % args` (%s %d %i %r %f %%) and str.format ({} {0} {name}).
Result<std::string> PercentFormat(const std::string& fmt, const Value& args);
Result<std::string> StrFormat(const std::string& fmt, const CallArgs& args);

}  // namespace mint::tokenizer::jinja
