// Chat templates: renders a model's Jinja chat template (Hugging Face `chat_template`) into a
// prompt, byte-identical to transformers' `apply_chat_template` (jinja2 ImmutableSandboxed
// environment, trim_blocks + lstrip_blocks, loopcontrols, transformers' `tojson`,
// `raise_exception`, `strftime_now`, and the `{% generation %}` tag).
//
// Threading model: a ChatTemplate is immutable after Parse; Render is const and may be called
// from any number of threads at once (each render owns its values).
//
// Unsupported Jinja features (parse or render fails with kUnsupported naming the line):
// {% include/import/extends/block/with/do %}, recursive loops, *args/**kwargs in calls,
// filtered block sets. Case mapping (upper/lower/title) is ASCII-only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace mint::tokenizer {

namespace jinja {
struct Stmt;
}

struct ChatTemplateInputs {
  // ordered_json, not json: key order is visible to templates (`|tojson`, `|items` on tool
  // schemas) and must match the request as the client sent it.
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  nlohmann::ordered_json tools;  // null if none (templates then see `tools` = None)
  bool add_generation_prompt = false;
  std::string bos_token, eos_token;
  // Extra template variables, e.g. {"enable_thinking": false}; must be an object or null.
  nlohmann::ordered_json extra_context;
  // Fixes the clock of strftime_now (seconds since the epoch, formatted as UTC); unset = the
  // local wall clock, as transformers does.
  std::optional<int64_t> now_unix_seconds;
};

// Thread-safety: immutable after Parse; Render is const and thread-safe.
class ChatTemplate {
 public:
  ~ChatTemplate();
  ChatTemplate(const ChatTemplate&) = delete;
  ChatTemplate& operator=(const ChatTemplate&) = delete;

  // Parses `source`. Fails with kInvalidArgument (syntax) or kUnsupported, naming the line.
  static Result<std::unique_ptr<ChatTemplate>> Parse(std::string_view source);

  // Renders the prompt. Fails with kInvalidArgument when the template rejects the
  // conversation (raise_exception, type errors, undefined values), naming the line;
  // kResourceExhausted when it exceeds the render limits.
  Result<std::string> Render(const ChatTemplateInputs& in) const;

 private:
  struct Impl;
  explicit ChatTemplate(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mint::tokenizer
