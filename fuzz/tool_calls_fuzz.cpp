// libFuzzer target for the tool-call parser (src/frontend/tool_calls.cpp): the first byte picks
// the format and the split step, the rest is model output. Checks what must hold for any text:
// content + calls never crash, streaming in pieces gives the same content and calls as one piece,
// and every call's arguments are what the deltas carried.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "frontend/tool_calls.h"

namespace {

using mint::frontend::ToolCall;
using mint::frontend::ToolCallFormat;
using mint::frontend::ToolCallOptions;
using mint::frontend::ToolCallParser;

void Require(bool cond) {
  if (!cond) __builtin_trap();
}

struct Result {
  std::string content;
  std::vector<ToolCall> calls;
};

Result Parse(ToolCallFormat f, std::string_view text, size_t step, bool parallel, bool named) {
  ToolCallOptions o;
  o.parallel = parallel;
  o.make_id = [](int i) { return "call_" + std::to_string(i); };
  if (named) o.tool_names = {"get_weather", "a", "b"};
  ToolCallParser p(f, o);
  Result r;
  size_t seen = 0;
  auto take = [&](const ToolCallParser::Delta& d) {
    r.content += d.content;
    for (int i : d.calls) {
      Require(static_cast<size_t>(i) == seen++);  // calls complete in order, each once
    }
  };
  if (step == 0) {
    take(p.Push(text));
  } else {
    for (size_t i = 0; i < text.size(); i += step) take(p.Push(text.substr(i, step)));
  }
  take(p.Flush());
  Require(seen == p.calls().size());
  r.calls = p.calls();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const ToolCallFormat f = static_cast<ToolCallFormat>(data[0] % 15);
  const size_t step = 1 + (data[0] >> 4) % 7;
  const bool parallel = (data[0] & 8) == 0;
  const bool named = size > 1 && (data[1] & 1) == 0;  // only the offered names are calls
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const Result whole = Parse(f, text, 0, parallel, named);
  const Result split = Parse(f, text, step, parallel, named);
  Require(whole.content == split.content);
  Require(whole.calls.size() == split.calls.size());
  for (size_t i = 0; i < whole.calls.size(); ++i) {
    Require(whole.calls[i].name == split.calls[i].name);
    Require(whole.calls[i].arguments == split.calls[i].arguments);
    for (char c : whole.calls[i].name) Require(c != '<' && c != '>' && c != '"' && c != '\n');
  }
  if (!parallel) Require(whole.calls.size() <= 1);
  return 0;
}
