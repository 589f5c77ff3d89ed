// Structured output: the request fields that constrain what a model may write, turned into one
// GBNF grammar (src/grammar) that rides on the engine request (engine/logits_processor.h).
//
//   response_format  {"type":"text"} | {"type":"json_object"} |
//                    {"type":"json_schema","json_schema":{"name":..,"schema":{..},"strict":..}}
//   guided_json      a JSON Schema (object, or its JSON text)       (vLLM's extension fields)
//   guided_regex     a regular expression the whole output matches
//   guided_choice    an array of strings: the output is one of them
//   guided_grammar   a GBNF grammar (root rule "root")
//   tool_choice      "required" or {"type":"function","function":{"name":N}}: the output is
//                    tool calls (one named call) in the model's tool-call format, arguments
//                    following each tool's parameter schema
//
// At most one may be given. Errors are 400s naming the field, and for an unsupported schema
// feature, the keyword and where it is.
#pragma once

#include <string>

#include "frontend/request_json.h"
#include "frontend/tool_calls.h"
#include "grammar/logits.h"

namespace mint::frontend {

// Reads response_format and guided_* into params->grammar (left empty when unconstrained).
internal::Check ParseStructuredOutput(const internal::Json& obj, GenParams* params);

// The grammar that forces tool calls for tool_choice "required" (any of `tools`, several when
// `parallel`) or a named function (exactly one call to it). Markers that are control tokens are
// spelled through `spelling`. kInvalidArgument for formats without JSON arguments, unknown
// names, or unsupported parameter schemas.
Result<std::string> ToolChoiceGrammar(ToolCallFormat format, const internal::Json& tools,
                                      const internal::Json& tool_choice, bool parallel,
                                      const grammar::ControlSpelling& spelling);

// tool_choice "auto" with strict tools: a lazy grammar. The output is free until it contains
// `trigger` (the format's call marker, as the vocabulary spells it), then the calls' grammar
// applies to what follows, until it completes. Empty (no constraint) when no tool is strict or
// the format has no marker (Llama 3 JSON).
struct LazyToolGrammar {
  std::string trigger, grammar;
};
Result<LazyToolGrammar> AutoToolGrammar(ToolCallFormat format, const internal::Json& tools,
                                        bool parallel, const grammar::ControlSpelling& spelling);

}  // namespace mint::frontend
