// Unit tests of the Jinja interpreter behind chat templates.
#include <gtest/gtest.h>

#include "tokenizer/chat_template.h"

namespace mint::tokenizer {
namespace {

std::string R(const std::string& src, nlohmann::ordered_json ctx = nlohmann::ordered_json::object()) {
  auto t = ChatTemplate::Parse(src);
  if (!t.ok()) return "PARSE_ERROR: " + t.status().message();
  ChatTemplateInputs in;
  in.extra_context = std::move(ctx);
  in.bos_token = "<s>";
  in.eos_token = "</s>";
  in.now_unix_seconds = 1721995200;  // 2024-07-26 12:00:00 UTC
  auto r = (*t)->Render(in);
  if (!r.ok()) return "ERROR: " + r.status().message();
  return *r;
}

TEST(JinjaTest, Smoke) { EXPECT_EQ(R("Hello {{ 'world' }}!"), "Hello world!"); }

}  // namespace
}  // namespace mint::tokenizer
