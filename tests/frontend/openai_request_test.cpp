#include "frontend/openai_request.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mint::frontend {
namespace {

using OrderedJson = nlohmann::ordered_json;

// A valid chat body with `extra` members appended (", ..." JSON text without the comma).
std::string Chat(const std::string& extra = "") {
  std::string b = R"({"model":"m","messages":[{"role":"user","content":"hi"}])";
  if (!extra.empty()) b += "," + extra;
  return b + "}";
}
std::string Completion(const std::string& extra = "") {
  std::string b = R"({"model":"m","prompt":"hi")";
  if (!extra.empty()) b += "," + extra;
  return b + "}";
}

void ExpectBad(const ApiResult<ChatRequest>& r, const std::string& param, const char* what) {
  ASSERT_FALSE(r.ok()) << what;
  EXPECT_EQ(r.error().status, 400) << what;
  EXPECT_EQ(r.error().type, "invalid_request_error") << what;
  EXPECT_EQ(r.error().param, param) << what << ": " << r.error().message;
}
void ExpectBad(const ApiResult<CompletionRequest>& r, const std::string& param, const char* what) {
  ASSERT_FALSE(r.ok()) << what;
  EXPECT_EQ(r.error().status, 400) << what;
  EXPECT_EQ(r.error().param, param) << what << ": " << r.error().message;
}

TEST(ChatRequestTest, MinimalDefaults) {
  auto r = ParseChatRequest(Chat());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->model, "m");
  ASSERT_EQ(r->messages.size(), 1u);
  EXPECT_EQ(r->messages[0]["role"], "user");
  EXPECT_EQ(r->messages[0]["content"], "hi");
  EXPECT_TRUE(r->add_generation_prompt);
  EXPECT_TRUE(r->template_kwargs.is_object());
  EXPECT_TRUE(r->template_kwargs.empty());
  EXPECT_TRUE(r->tools.is_null());
  const GenParams& p = r->params;
  EXPECT_FALSE(p.max_tokens.has_value());
  EXPECT_EQ(p.n, 1);
  EXPECT_FALSE(p.stream);
  EXPECT_FALSE(p.logprobs);
  EXPECT_FALSE(p.sampling.has_seed);
  EXPECT_FLOAT_EQ(p.sampling.temperature, 1.0f);
}

TEST(ChatRequestTest, AllFieldsMapped) {
  auto r = ParseChatRequest(
      Chat(R"("max_tokens":7,"temperature":0,"top_p":0.5,"top_k":40,"min_p":0.1,)"
           R"("presence_penalty":-1.5,"frequency_penalty":2,"repetition_penalty":1.1,"seed":-1,)"
           R"("stop":["a","","bc"],"stop_token_ids":[1,2],"n":3,"logprobs":true,"top_logprobs":5,)"
           R"("stream":true,"stream_options":{"include_usage":true},"ignore_eos":true,)"
           R"("chat_template_kwargs":{"enable_thinking":false},"add_generation_prompt":false,)"
           R"("user":"x","response_format":{"type":"text"},"tool_choice":"auto",)"
           R"("some_future_field":{"a":[1]},"logit_bias":{})"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const GenParams& p = r->params;
  EXPECT_EQ(p.max_tokens, 7);
  EXPECT_TRUE(p.sampling.greedy());
  EXPECT_FLOAT_EQ(p.sampling.top_p, 0.5f);
  EXPECT_EQ(p.sampling.top_k, 40);
  EXPECT_FLOAT_EQ(p.sampling.min_p, 0.1f);
  EXPECT_FLOAT_EQ(p.sampling.presence_penalty, -1.5f);
  EXPECT_FLOAT_EQ(p.sampling.frequency_penalty, 2.0f);
  EXPECT_FLOAT_EQ(p.sampling.repetition_penalty, 1.1f);
  EXPECT_TRUE(p.sampling.has_seed);
  EXPECT_EQ(p.sampling.seed, ~uint64_t{0});
  EXPECT_EQ(p.stop, (std::vector<std::string>{"a", "bc"}));  // empty dropped
  EXPECT_EQ(p.stop_token_ids, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(p.n, 3);
  EXPECT_TRUE(p.logprobs);
  EXPECT_EQ(p.top_logprobs, 5);
  EXPECT_TRUE(p.stream);
  EXPECT_TRUE(p.include_usage);
  EXPECT_TRUE(p.ignore_eos);
  EXPECT_EQ(r->template_kwargs, OrderedJson::parse(R"({"enable_thinking":false})"));
  EXPECT_FALSE(r->add_generation_prompt);
  EXPECT_EQ(r->tool_choice, "auto");
}

TEST(ChatRequestTest, NullMeansAbsentAndIntegralFloatsAreIntegers) {
  auto r = ParseChatRequest(Chat(R"("stop":null,"max_tokens":null,"temperature":null,"n":2.0)"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->params.stop.empty());
  EXPECT_FALSE(r->params.max_tokens.has_value());
  EXPECT_EQ(r->params.n, 2);
  ExpectBad(ParseChatRequest(Chat(R"("n":2.5)")), "n", "fractional n");
}

TEST(ChatRequestTest, StopAsString) {
  auto r = ParseChatRequest(Chat(R"("stop":"\n\n")"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->params.stop, (std::vector<std::string>{"\n\n"}));
}

TEST(ChatRequestTest, MaxCompletionTokensWins) {
  auto r = ParseChatRequest(Chat(R"("max_tokens":10,"max_completion_tokens":20)"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->params.max_tokens, 20);
}

TEST(ChatRequestTest, TopKMinusOneAndZeroDisable) {
  for (const char* v : {"-1", "0"}) {
    auto r = ParseChatRequest(Chat(std::string("\"top_k\":") + v));
    ASSERT_TRUE(r.ok()) << v;
    EXPECT_EQ(r->params.sampling.top_k, 0);
  }
}

struct BadField {
  const char* extra;  // JSON members
  const char* param;
};

TEST(ChatRequestTest, EveryInvalidFieldNamesItsParam) {
  const std::vector<BadField> cases = {
      {R"("max_tokens":0)", "max_tokens"},
      {R"("max_tokens":"5")", "max_tokens"},
      {R"("max_tokens":1e30)", "max_tokens"},
      {R"("max_completion_tokens":-1)", "max_completion_tokens"},
      {R"("temperature":-0.1)", "temperature"},
      {R"("temperature":2.01)", "temperature"},
      {R"("temperature":"hot")", "temperature"},
      {R"("temperature":true)", "temperature"},
      {R"("top_p":0)", "top_p"},
      {R"("top_p":1.5)", "top_p"},
      {R"("top_k":-2)", "top_k"},
      {R"("top_k":1.5)", "top_k"},
      {R"("top_k":3000000000)", "top_k"},
      {R"("min_p":-0.01)", "min_p"},
      {R"("min_p":1.01)", "min_p"},
      {R"("presence_penalty":2.5)", "presence_penalty"},
      {R"("presence_penalty":-2.5)", "presence_penalty"},
      {R"("frequency_penalty":-3)", "frequency_penalty"},
      {R"("frequency_penalty":3)", "frequency_penalty"},
      {R"("repetition_penalty":0)", "repetition_penalty"},
      {R"("repetition_penalty":-1)", "repetition_penalty"},
      {R"("repetition_penalty":"1")", "repetition_penalty"},
      {R"("seed":"1")", "seed"},
      {R"("seed":18446744073709551615)", "seed"},
      {R"("stop":5)", "stop"},
      {R"("stop":[1])", "stop"},
      {R"("stop":["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17"])",
       "stop"},
      {R"("stop_token_ids":[-1])", "stop_token_ids"},
      {R"("stop_token_ids":"1")", "stop_token_ids"},
      {R"("stop_token_ids":[2147483648])", "stop_token_ids"},
      {R"("n":0)", "n"},
      {R"("n":17)", "n"},
      {R"("logprobs":1)", "logprobs"},
      {R"("top_logprobs":3)", "top_logprobs"},  // needs logprobs
      {R"("logprobs":true,"top_logprobs":21)", "top_logprobs"},
      {R"("logprobs":true,"top_logprobs":-1)", "top_logprobs"},
      {R"("stream":"yes")", "stream"},
      {R"("stream_options":{"include_usage":true})", "stream_options"},  // needs stream
      {R"("stream":true,"stream_options":[])", "stream_options"},
      {R"("stream":true,"stream_options":{"include_usage":1})", "stream_options.include_usage"},
      {R"("ignore_eos":1)", "ignore_eos"},
      {R"("chat_template_kwargs":[])", "chat_template_kwargs"},
      {R"("add_generation_prompt":"no")", "add_generation_prompt"},
      {R"("response_format":{"type":"json_schema","json_schema":{}})",
       "response_format.json_schema.schema"},
      {R"("response_format":{"type":"json_schema"})", "response_format.json_schema"},
      {R"("response_format":{"type":"yaml"})", "response_format"},
      {R"("response_format":{"type":"json_schema","json_schema":{"schema":{"type":"object","not":{}}}})",
       "response_format.json_schema.schema"},
      {R"("guided_json":{"type":"string","format":"hostname"})", "guided_json"},
      {R"("guided_json":"{not json")", "guided_json"},
      {R"("guided_regex":"(a)\\1")", "guided_regex"},
      {R"("guided_regex":5)", "guided_regex"},
      {R"("guided_choice":["a",1])", "guided_choice"},
      {R"("guided_choice":[])", "guided_choice"},
      {R"("guided_grammar":"root ::= (")", "guided_grammar"},
      {R"("guided_choice":["a"],"guided_regex":"b")", "guided_choice"},  // the later field
      {R"("response_format":{"type":"json_object"},"guided_choice":["a"])", "guided_choice"},
      {R"("response_format":"text")", "response_format"},
      {R"("tools":{})", "tools"},
      {R"("tools":[{"type":"function"}])", "tools[0]"},
      {R"("tools":[{"type":"function","function":{"name":"f"}},{"type":"code"}])", "tools[1]"},
      {R"("tool_choice":"sometimes")", "tool_choice"},
      {R"("logit_bias":{"1":5})", "logit_bias"},
      {R"("logit_bias":5)", "logit_bias"},
  };
  for (const BadField& c : cases) {
    auto r = ParseChatRequest(Chat(c.extra));
    ExpectBad(r, c.param, c.extra);
    if (!r.ok()) {
      // The message names the field.
      EXPECT_NE(r.error().message.find(c.param), std::string::npos) << r.error().message;
    }
  }
}

TEST(ChatRequestTest, RangeMessagesSpellTheAllowedValues) {
  auto r = ParseChatRequest(Chat(R"("temperature":3)"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("[0, 2]"), std::string::npos) << r.error().message;
  r = ParseChatRequest(Chat(R"("top_p":0)"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("(0, 1]"), std::string::npos) << r.error().message;
  r = ParseChatRequest(Chat(R"("n":99)"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("[1, 16]"), std::string::npos) << r.error().message;
}

TEST(ChatRequestTest, ModelAndMessagesRequired) {
  ExpectBad(ParseChatRequest(R"({"messages":[{"role":"user","content":"x"}]})"), "model",
            "no model");
  ExpectBad(ParseChatRequest(R"({"model":"","messages":[{"role":"user","content":"x"}]})"), "model",
            "empty model");
  ExpectBad(ParseChatRequest(R"({"model":5,"messages":[{"role":"user","content":"x"}]})"), "model",
            "numeric model");
  ExpectBad(ParseChatRequest(R"({"model":"m"})"), "messages", "no messages");
  ExpectBad(ParseChatRequest(R"({"model":"m","messages":[]})"), "messages", "empty messages");
  ExpectBad(ParseChatRequest(R"({"model":"m","messages":"hi"})"), "messages", "string messages");
}

std::string WithMessages(const std::string& messages) {
  return R"({"model":"m","messages":)" + messages + "}";
}

TEST(ChatRequestTest, MessageValidation) {
  const std::vector<BadField> cases = {
      {R"(["hi"])", "messages[0]"},
      {R"([{"content":"x"}])", "messages[0].role"},
      {R"([{"role":"robot","content":"x"}])", "messages[0].role"},
      {R"([{"role":"user","content":"x"},{"role":"user"}])", "messages[1].content"},
      {R"([{"role":"user","content":null}])", "messages[0].content"},
      {R"([{"role":"user","content":5}])", "messages[0].content"},
      {R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}])",
       "messages[0].content[0].type"},
      {R"([{"role":"user","content":[{"type":"text"}]}])", "messages[0].content[0].text"},
      {R"([{"role":"user","content":["a"]}])", "messages[0].content[0]"},
      {R"([{"role":"user","content":"x","name":5}])", "messages[0].name"},
      {R"([{"role":"tool","content":"x","tool_call_id":1}])", "messages[0].tool_call_id"},
      {R"([{"role":"user","content":"x","tool_calls":[]}])", "messages[0].tool_calls"},
      {R"([{"role":"assistant","content":null,"tool_calls":{}}])", "messages[0].tool_calls"},
      {R"([{"role":"assistant","content":null,"tool_calls":[{"id":"1"}]}])",
       "messages[0].tool_calls"},
  };
  for (const BadField& c : cases)
    ExpectBad(ParseChatRequest(WithMessages(c.extra)), c.param, c.extra);
}

TEST(ChatRequestTest, NonTextPartMessage) {
  auto r = ParseChatRequest(WithMessages(
      R"([{"role":"user","content":[{"type":"text","text":"a"},{"type":"input_audio"}]}])"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("only text content parts are supported"), std::string::npos);
}

TEST(ChatRequestTest, ContentPartsFlattenAndToolFieldsKept) {
  auto r = ParseChatRequest(WithMessages(R"([
    {"role":"developer","content":"be brief"},
    {"role":"user","content":[{"type":"text","text":"caf\u00e9 "},{"type":"text","text":"ok?"}],
     "name":"bob","extra_key":1},
    {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",
      "function":{"name":"f","arguments":"{\"x\":1}"}}]},
    {"role":"tool","content":"42","tool_call_id":"c1"},
    {"role":"assistant","content":[],"reasoning_content":"hmm"},
    {"role":"assistant"}])"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const OrderedJson& m = r->messages;
  ASSERT_EQ(m.size(), 6u);
  EXPECT_EQ(m[0]["role"], "developer");
  EXPECT_EQ(m[1]["content"], "caf\xc3\xa9 ok?");
  EXPECT_EQ(m[1]["name"], "bob");
  EXPECT_FALSE(m[1].contains("extra_key"));
  EXPECT_TRUE(m[2]["content"].is_null());
  EXPECT_EQ(m[2]["tool_calls"][0]["function"]["arguments"], "{\"x\":1}");
  EXPECT_EQ(m[3]["tool_call_id"], "c1");
  EXPECT_EQ(m[4]["content"], "");
  EXPECT_EQ(m[4]["reasoning_content"], "hmm");
  EXPECT_TRUE(m[5]["content"].is_null());
  // Key order is kept (ordered_json): role first, then content.
  EXPECT_EQ(m[1].begin().key(), "role");
}

TEST(ChatRequestTest, ToolsKeptInOrder) {
  auto r = ParseChatRequest(
      Chat(R"("tools":[{"type":"function","function":{"name":"get","parameters":{"z":1,"a":2}}}],)"
           R"("tool_choice":{"type":"function","function":{"name":"get"}})"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->tools.is_array());
  EXPECT_EQ(r->tools[0]["function"]["parameters"].begin().key(), "z");
  EXPECT_TRUE(r->tool_choice.is_object());
}

TEST(RequestBodyTest, InvalidJsonNamesThePosition) {
  for (const char* body : {"{", "{\"model\":}", "not json", "", "{\"a\":1,}"}) {
    auto r = ParseChatRequest(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().status, 400);
    EXPECT_TRUE(r.error().param.empty());
    EXPECT_NE(r.error().message.find("invalid JSON at byte"), std::string::npos)
        << r.error().message;
  }
  auto r = ParseChatRequest("{\"model\":}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("at byte 10"), std::string::npos) << r.error().message;
}

TEST(RequestBodyTest, InvalidUtf8AndLoneSurrogatesAreInvalidJson) {
  auto r = ParseChatRequest(Chat("\"user\":\"\xff\""));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 400);
  r = ParseChatRequest(Chat(R"("user":"\ud800")"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 400);
}

TEST(RequestBodyTest, NotAnObject) {
  for (const char* body : {"[]", "5", "\"x\"", "null"}) {
    auto r = ParseCompletionRequest(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().status, 400);
    EXPECT_NE(r.error().message.find("JSON object"), std::string::npos);
  }
}

TEST(RequestBodyTest, SizeLimitIs413) {
  std::string body = Chat(R"("user":")" + std::string(1000, 'x') + "\"");
  ParseLimits limits{.max_body_bytes = 1000};
  auto r = ParseChatRequest(body, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 413);
  EXPECT_EQ(r.error().code, "request_too_large");
  auto c = ParseCompletionRequest(body, limits);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().status, 413);
  limits.max_body_bytes = body.size();
  EXPECT_TRUE(ParseChatRequest(body, limits).ok());
}

TEST(RequestBodyTest, DeepNestingRefusedBeforeParsing) {
  std::string deep = Chat("\"x\":" + std::string(100000, '[') + std::string(100000, ']'));
  auto r = ParseChatRequest(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 400);
  EXPECT_NE(r.error().message.find("nesting"), std::string::npos);
  // Brackets inside strings do not count.
  EXPECT_TRUE(ParseChatRequest(Chat("\"user\":\"" + std::string(1000, '[') + "\\\"\"")).ok());
  // 64 levels are fine.
  EXPECT_TRUE(ParseChatRequest(Chat("\"x\":" + std::string(62, '[') + std::string(62, ']'))).ok());
}

TEST(CompletionRequestTest, PromptForms) {
  auto r = ParseCompletionRequest(Completion());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->prompt_is_ids);
  EXPECT_EQ(r->prompt_text, "hi");
  r = ParseCompletionRequest(R"({"model":"m","prompt":[1,2,3]})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->prompt_is_ids);
  EXPECT_EQ(r->prompt_ids, (std::vector<int32_t>{1, 2, 3}));
  r = ParseCompletionRequest(R"({"model":"m","prompt":["one"]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prompt_text, "one");
  r = ParseCompletionRequest(R"({"model":"m","prompt":[3.0]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prompt_ids, (std::vector<int32_t>{3}));
  r = ParseCompletionRequest(R"({"model":"m","prompt":[[5,6]]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prompt_ids, (std::vector<int32_t>{5, 6}));
}

TEST(CompletionRequestTest, BadPrompts) {
  for (const char* body :
       {R"({"model":"m"})", R"({"model":"m","prompt":""})", R"({"model":"m","prompt":[]})",
        R"({"model":"m","prompt":[[]]})", R"({"model":"m","prompt":[-1]})",
        R"({"model":"m","prompt":[1.5]})", R"({"model":"m","prompt":[true]})",
        R"({"model":"m","prompt":[2147483648]})", R"({"model":"m","prompt":[1,"a"]})",
        R"({"model":"m","prompt":5})", R"({"model":"m","prompt":[""]})"}) {
    ExpectBad(ParseCompletionRequest(body), "prompt", body);
  }
  auto r = ParseCompletionRequest(R"({"model":"m","prompt":["a","b"]})");
  ExpectBad(r, "prompt", "batched");
  EXPECT_NE(r.error().message.find("batched prompts are not supported"), std::string::npos);
  ExpectBad(ParseCompletionRequest(R"({"model":"m","prompt":[[1],[2]]})"), "prompt", "batched ids");
}

TEST(CompletionRequestTest, LegacyFields) {
  auto r = ParseCompletionRequest(
      Completion(R"("logprobs":3,"echo":true,"suffix":"","best_of":2,"n":2,"max_tokens":5)"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->params.logprobs);
  EXPECT_EQ(r->params.top_logprobs, 3);
  EXPECT_TRUE(r->echo);
  EXPECT_EQ(r->params.n, 2);
  EXPECT_EQ(r->params.max_tokens, 5);
  r = ParseCompletionRequest(Completion(R"("logprobs":0)"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->params.logprobs);
  EXPECT_EQ(r->params.top_logprobs, 0);
  r = ParseCompletionRequest(Completion(R"("logprobs":null)"));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->params.logprobs);

  const std::vector<BadField> cases = {
      {R"("logprobs":6)", "logprobs"}, {R"("logprobs":true)", "logprobs"},
      {R"("echo":"y")", "echo"},       {R"("suffix":"end")", "suffix"},
      {R"("suffix":1)", "suffix"},     {R"("best_of":3)", "best_of"},
      {R"("best_of":0)", "best_of"},   {R"("temperature":5)", "temperature"},
      {R"("stop":[true])", "stop"},    {R"("stream_options":{})", "stream_options"},
  };
  for (const BadField& c : cases)
    ExpectBad(ParseCompletionRequest(Completion(c.extra)), c.param, c.extra);
}

TEST(CompletionRequestTest, SharedFieldsMapped) {
  auto r = ParseCompletionRequest(Completion(
      R"("temperature":0.7,"seed":42,"stop":"x","stream":true,)"
      R"("stream_options":{"include_usage":false},"ignore_eos":true,"stop_token_ids":[7])"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FLOAT_EQ(r->params.sampling.temperature, 0.7f);
  EXPECT_EQ(r->params.sampling.seed, 42u);
  EXPECT_TRUE(r->params.stream);
  EXPECT_FALSE(r->params.include_usage);
  EXPECT_TRUE(r->params.ignore_eos);
  EXPECT_EQ(r->params.stop_token_ids, (std::vector<int32_t>{7}));
}

TEST(CompletionRequestTest, ValidatedParamsPassSamplingValidate) {
  auto r = ParseCompletionRequest(Completion(R"("temperature":2,"top_p":1,"min_p":1)"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->params.sampling.Validate().ok());
}

}  // namespace
}  // namespace mint::frontend

namespace mint::frontend {
namespace {

TEST(RouterExtensionTest, ParsesOverridesAndNamesBadFields) {
  auto r = ParseCompletionRequest(Completion(
      R"("router":{"mode":"round-robin","overlap_credit":0.5,"prefill_load_scale":4,"temperature":0})"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->params.route.mode.has_value());
  EXPECT_EQ(*r->params.route.mode, router::Mode::kRoundRobin);
  EXPECT_EQ(r->params.route.overlap_credit, 0.5);
  EXPECT_EQ(r->params.route.prefill_load_scale, 4.0);
  EXPECT_EQ(r->params.route.temperature, 0.0);
  auto c = ParseChatRequest(Chat(R"("router":{"temperature":0.7})"));
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->params.route.mode.has_value());
  EXPECT_EQ(c->params.route.temperature, 0.7);
  // Absent: no overrides.
  auto plain = ParseCompletionRequest(Completion());
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->params.route.temperature.has_value());

  ExpectBad(ParseCompletionRequest(Completion(R"("router":3)")), "router", "not an object");
  ExpectBad(ParseCompletionRequest(Completion(R"("router":{"mode":"fastest"})")), "router.mode",
            "unknown mode");
  ExpectBad(ParseCompletionRequest(Completion(R"("router":{"temperature":-1})")),
            "router.temperature", "negative");
  ExpectBad(ParseChatRequest(Chat(R"("router":{"prefill_load_scale":"2"})")),
            "router.prefill_load_scale", "a string");
  ExpectBad(ParseChatRequest(Chat(R"("router":{"weight":1})")), "router.weight", "unknown field");
  // Tier credits (a worker's host / disk KV tiers), in [0, 1].
  auto t = ParseChatRequest(Chat(R"("router":{"host_credit":0.5,"disk_credit":0})"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->params.route.host_tier_credit, 0.5);
  EXPECT_EQ(t->params.route.disk_tier_credit, 0.0);
  ExpectBad(ParseChatRequest(Chat(R"("router":{"disk_credit":2})")), "router.disk_credit",
            "above 1");
}

}  // namespace
}  // namespace mint::frontend
