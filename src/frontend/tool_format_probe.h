// Which tool-call format a chat template makes its model write, found the way llama.cpp's
// auto-parser does: render a conversation whose assistant turn calls a probe function, take what
// the template adds after the generation prompt, and keep the format whose parser
// (tool_calls.h) reads the probe call back. The markers in the template's source
// (DetectToolCallFormat) are tried first; rendering decides when they are absent (markers built
// from pieces, unusual spellings) or wrong.
#pragma once

#include <string_view>

#include "frontend/tool_calls.h"
#include "tokenizer/chat_template.h"

namespace mint::frontend {

// kNone when the template renders no calls that any parser reads (then tool calls stay text).
ToolCallFormat ProbeToolCallFormat(const tokenizer::ChatTemplate& tpl, std::string_view source);

}  // namespace mint::frontend
