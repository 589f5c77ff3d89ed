// ToolCallParser: splits streamed generated text into content and OpenAI tool calls, for the
// tool-call formats models are trained on. One text stage after the reasoning split
// (reasoning.h) and before stop strings (which apply to content only).
//
// Formats (ToolCallFormat), as the models write them:
//   hermes       <tool_call>{"name": N, "arguments": {...}}</tool_call>   (Hermes, Qwen2.5, Qwen3,
//                QwQ, SmolLM3, ...); several blocks: parallel calls
//   qwen3-coder  <tool_call><function=N><parameter=P>value</parameter>...</function></tool_call>
//   llama3       {"name": N, "parameters": {...}} as the whole output, optionally after
//                <|python_tag|>; several separated by ';' or newlines
//   pythonic     [f(a=1, b="x"), g()] as the whole output (Llama 3.2/4 pythonic, Phi)
//   mistral      [TOOL_CALLS][{"name": N, "arguments": {...}}, ...] (v0.3) or
//                [TOOL_CALLS]N[ARGS]{...} repeated (v11+ templates)
//   deepseek     <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>N\n```json\n{...}\n```
//                <｜tool▁call▁end｜>...<｜tool▁calls▁end｜> (V3, R1) or
//                <｜tool▁call▁begin｜>N<｜tool▁sep｜>{...}<｜tool▁call▁end｜> (V3.1+)
//   kimi-k2      <|tool_calls_section_begin|><|tool_call_begin|>functions.N:I
//                <|tool_call_argument_begin|>{...}<|tool_call_end|>...<|tool_calls_section_end|>
//   glm45        <tool_call>N<arg_key>k</arg_key><arg_value>v</arg_value>...</tool_call>
//   harmony      <|channel|>commentary to=functions.N <|constrain|>json<|message|>{...}<|call|>
//                (gpt-oss; the final answer is <|channel|>final<|message|>...)
//   seed-oss     qwen3-coder's calls inside <seed:tool_call>...</seed:tool_call>
//   functionary  <function=N>{...}</function> (Functionary v3.1)
//   command-r    <|START_ACTION|>[{"tool_name": N, "parameters": {...}}, ...]<|END_ACTION|>
//   apriel       <tool_calls>[{"name": N, "arguments": {...}}, ...]</tool_calls>
//   minimax      <minimax:tool_call><invoke name="N"><parameter name="k">v</parameter>
//                </invoke>...</minimax:tool_call> (MiniMax-M2)
//
// Behaviour:
//   - Text outside calls is content, verbatim. A call region starts at the format's start marker
//     (for llama3 and pythonic: only when the output's first non-space text opens one) and ends at
//     its end marker (or the end of the output); partial markers are held back until decided.
//   - A call is emitted once its region is complete: one delta with its index, id, name and the
//     whole arguments (a JSON object's text). Arguments that are not valid JSON are sent as the
//     model wrote them.
//   - A call naming a function not in `tool_names` (when that list is non-empty), or with a name
//     that is not one (letters, digits, '_', '-', '.', ':'), is not a call: its region stays
//     content. Without parallel calls only the first call is kept.
//   - Flush() ends the output: an unterminated region (cut by max_tokens) is salvaged when its
//     calls parse, otherwise it is returned as content.
//   - Concatenating every Push() and Flush() is independent of how the text was split.
//
// Thread-safety: one parser per stream; not safe for concurrent use.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace mint::frontend {

enum class ToolCallFormat {
  kNone,
  kHermes,
  kQwen3Coder,
  kLlama3,
  kPythonic,
  kMistral,
  kDeepSeek,
  kKimiK2,
  kGlm45,
  kHarmony,
  kSeedOss,
  kFunctionary,
  kCommandR,
  kApriel,
  kMiniMax
};

// "none", "hermes", "qwen3-coder", "llama3", "pythonic", "mistral", "deepseek", "kimi-k2",
// "glm45", "harmony", "seed-oss", "functionary", "command-r", "apriel", "minimax".
Result<ToolCallFormat> ParseToolCallFormat(std::string_view name);
const char* ToolCallFormatName(ToolCallFormat format);
// The format a chat template renders assistant tool calls in (kNone if it renders none that
// this parser knows).
ToolCallFormat DetectToolCallFormat(std::string_view chat_template);

struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text
};

struct ToolCallOptions {
  std::vector<std::string> tool_names;  // allowed names; empty: any
  bool parallel = true;                 // false: only the first call
  // Makes the id of call `index` (default: "call_" + 24 random alphanumerics).
  std::function<std::string(int)> make_id;
};

class ToolCallParser {
 public:
  ToolCallParser(ToolCallFormat format, ToolCallOptions options);

  struct Delta {
    std::string content;
    std::vector<int> calls;  // indexes into calls() of the calls completed by this piece
  };
  Delta Push(std::string_view piece);
  Delta Flush();

  const std::vector<ToolCall>& calls() const { return calls_; }

 private:
  enum class State { kStart, kContent, kCall, kDone };
  void Step(Delta* out, bool final);
  // Parses a complete region (markers included); false when it holds no valid call.
  bool ParseRegion(std::string_view region, Delta* out);
  bool AddCall(std::string name, std::string arguments, std::string id, Delta* out);

  ToolCallFormat format_;
  ToolCallOptions options_;
  State state_ = State::kStart;
  std::string held_;  // undecided text
  std::vector<ToolCall> calls_;
};

}  // namespace mint::frontend
