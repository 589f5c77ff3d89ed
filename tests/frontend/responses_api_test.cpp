#include "frontend/responses_api.h"

#include <gtest/gtest.h>

namespace mint::frontend {
namespace {

using RJson = nlohmann::ordered_json;

TEST(ResponsesRequestTest, InputItemsBecomeChatMessages) {
  auto r = ParseResponsesRequest(R"({
    "model": "m", "instructions": "be brief", "max_output_tokens": 50,
    "input": [
      {"role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]},
      {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
      {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{\"x\":1}"},
      {"type": "function_call_output", "call_id": "c1", "output": "ok"},
      {"type": "function_call_output", "call_id": "c2", "output": {"v": 2}},
      {"type": "reasoning", "id": "rs_1", "summary": []}
    ],
    "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
    "tool_choice": {"type": "function", "name": "f"},
    "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const RJson& m = r->chat.messages;
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[0]["role"], "system");
  EXPECT_EQ(m[1]["content"], "ab");
  EXPECT_EQ(m[2]["role"], "assistant");
  ASSERT_EQ(m[2]["tool_calls"].size(), 2u);  // consecutive calls: one assistant turn
  EXPECT_EQ(m[2]["tool_calls"][1]["function"]["name"], "g");
  EXPECT_EQ(m[3]["role"], "tool");
  EXPECT_EQ(m[4]["content"], R"({"v":2})");
  EXPECT_EQ(r->chat.tools[0]["function"]["name"], "f");
  EXPECT_EQ(r->chat.tool_choice["function"]["name"], "f");
  EXPECT_EQ(*r->chat.params.max_tokens, 50);
  EXPECT_FALSE(r->chat.params.grammar.empty());  // text.format json_schema
  EXPECT_EQ(r->echo["instructions"], "be brief");
}

TEST(ResponsesRequestTest, ErrorsNameTheResponsesField) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {R"({"model":"m"})", "input"},
      {R"({"model":"m","input":[]})", "input"},
      {R"({"model":"m","input":"x","previous_response_id":"resp_1"})", "previous_response_id"},
      {R"({"model":"m","input":[{"type":"image","url":"x"}]})", "input[0]"},
      {R"({"model":"m","input":[{"role":"user","content":[{"type":"input_image"}]}]})",
       "input[0].content[0]"},
      {R"({"model":"m","input":"x","tools":[{"type":"web_search"}]})", "tools[0]"},
      {R"({"model":"m","input":"x","text":{"format":{"type":"yaml"}}})", "text.format"},
      {R"({"model":"m","input":"x","max_output_tokens":0})", "max_output_tokens"},
      {R"({"model":"m","input":"x","n":2})", "n"},
  };
  for (const auto& [body, param] : cases) {
    auto r = ParseResponsesRequest(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().status, 400);
    EXPECT_EQ(r.error().param, param) << body << ": " << r.error().message;
  }
}

TEST(ResponsesStreamTest, EventsNumberedItemsClosedInOrder) {
  ResponsesStream s({.id = "resp_abc", .created = 1, .model = "m"}, RJson{{"tools", RJson::array()}});
  std::string all = s.Start();
  all += s.Text("  \n");  // blank before a call: not a message
  all += s.Call({.id = "call_1", .name = "f", .arguments = "{\"a\":1}"});
  all += s.Text("done");
  all += s.Finish({.text = "done", .calls = {{"call_1", "f", "{\"a\":1}"}}, .output_tokens = 3});
  std::vector<RJson> events;
  for (size_t at = 0; (at = all.find("data: ", at)) != std::string::npos;) {
    const size_t end = all.find('\n', at);
    events.push_back(RJson::parse(all.substr(at + 6, end - at - 6)));
    at = end;
  }
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i]["sequence_number"], i);
  EXPECT_EQ(events.front()["type"], "response.created");
  EXPECT_EQ(events.back()["type"], "response.completed");
  const RJson& output = events.back()["response"]["output"];
  ASSERT_EQ(output.size(), 2u);
  EXPECT_EQ(output[0]["type"], "function_call");
  EXPECT_EQ(output[0]["arguments"], "{\"a\":1}");
  EXPECT_EQ(output[1]["type"], "message");
  EXPECT_EQ(output[1]["content"][0]["text"], "done");
  EXPECT_EQ(events.back()["response"]["usage"]["output_tokens"], 3);
}

}  // namespace
}  // namespace mint::frontend
