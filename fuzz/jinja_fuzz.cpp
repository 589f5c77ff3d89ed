// libFuzzer target for Mint's Jinja interpreter: parses the input as a template, then renders it
// against a small chat (messages, tools, special tokens) under tight limits. Any crash, sanitizer
// report, leak or hang is a bug; errors are fine (they are the expected result for most inputs).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tokenizer/chat_template.h"
#include "tokenizer/jinja/globals.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/parser.h"

namespace {

using mint::tokenizer::jinja::List;
using mint::tokenizer::jinja::Value;

Value Message(const char* role, const char* content) {
  Value m = Value::MakeDict();
  m.dict().Set(Value::String("role"), Value::String(role));
  m.dict().Set(Value::String("content"), Value::String(content));
  return m;
}

Value Messages() {
  Value call = Value::MakeDict();
  Value fn = Value::MakeDict();
  fn.dict().Set(Value::String("name"), Value::String("get_weather"));
  Value args = Value::MakeDict();
  args.dict().Set(Value::String("city"), Value::String("Paris"));
  args.dict().Set(Value::String("days"), Value::Int(3));
  fn.dict().Set(Value::String("arguments"), args);
  call.dict().Set(Value::String("id"), Value::String("call_1"));
  call.dict().Set(Value::String("function"), fn);
  Value assistant = Message("assistant", "");
  assistant.dict().Set(Value::String("tool_calls"), Value::MakeList({call}));
  Value parts = Value::MakeDict();
  parts.dict().Set(Value::String("type"), Value::String("text"));
  parts.dict().Set(Value::String("text"), Value::String("caf\xc3\xa9 \xf0\x9f\x98\x8a"));
  Value user2 = Message("user", "");
  user2.dict().Set(Value::String("content"), Value::MakeList({parts}));
  return Value::MakeList({Message("system", "Be brief."), Message("user", "Hi\n  there"),
                          assistant, Message("tool", "{\"t\": 22.5}"), user2});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view source(reinterpret_cast<const char*>(data), size);
  auto body = mint::tokenizer::jinja::Parse(source);
  if (!body.ok()) return 0;
  mint::tokenizer::jinja::RenderOptions options;
  options.max_steps = 20000;
  options.max_output_bytes = 1 << 20;
  options.max_call_depth = 64;
  options.allow_mutation = (size % 2) == 1;  // cover both sandbox modes
  auto globals = mint::tokenizer::jinja::MakeGlobals({.fixed_unix_seconds = 1721995200});
  globals->Set("messages", Messages());
  globals->Set("tools", Value::None());
  globals->Set("add_generation_prompt", Value::Bool(true));
  globals->Set("bos_token", Value::String("<s>"));
  globals->Set("eos_token", Value::String("</s>"));
  {
    mint::tokenizer::jinja::Interpreter interp(options);
    auto out = interp.Render(*body, globals);
    (void)out;
  }
  globals->Clear();
  return 0;
}
