#include "frontend/openai_response.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

namespace mint::frontend {
namespace {

using protocol::FinishReason;
using Json = nlohmann::json;

ResponseMeta Meta() {
  return {
      .id = "chatcmpl-abc", .created = 1700000000, .model = "qwen3", .system_fingerprint = "fp"};
}

void ExpectHeader(const Json& j, const char* object) {
  EXPECT_EQ(j["id"], "chatcmpl-abc");
  EXPECT_EQ(j["object"], object);
  EXPECT_EQ(j["created"], 1700000000);
  EXPECT_EQ(j["model"], "qwen3");
  EXPECT_EQ(j["system_fingerprint"], "fp");
}

TEST(ApiErrorTest, BodyShape) {
  Json j = Json::parse(ErrorBody(ApiError::InvalidRequest("top_p", "top_p must be ...")));
  ASSERT_TRUE(j["error"].is_object());
  EXPECT_EQ(j["error"]["message"], "top_p must be ...");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "top_p");
  EXPECT_TRUE(j["error"]["code"].is_null());
  EXPECT_EQ(j.size(), 1u);
  EXPECT_EQ(j["error"].size(), 4u);

  j = Json::parse(ErrorBody(ApiError::Internal("boom")));
  EXPECT_TRUE(j["error"]["param"].is_null());
  EXPECT_EQ(j["error"]["type"], "server_error");
}

TEST(ApiErrorTest, FactoriesAndStatusMapping) {
  EXPECT_EQ(ApiError::Unauthorized("no key").status, 401);
  EXPECT_EQ(ApiError::Unauthorized("no key").type, "authentication_error");
  ApiError nf = ApiError::ModelNotFound("gpt-9");
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(nf.code, "model_not_found");
  EXPECT_EQ(nf.param, "model");
  EXPECT_NE(nf.message.find("gpt-9"), std::string::npos);
  EXPECT_EQ(ApiError::PayloadTooLarge(10, 5).status, 413);
  EXPECT_EQ(ApiError::MethodNotAllowed("GET").status, 405);
  EXPECT_EQ(ApiError::FromStatus(Status::InvalidArgument("x")).status, 400);
  EXPECT_EQ(ApiError::FromStatus(Status::OutOfRange("x")).status, 400);
  EXPECT_EQ(ApiError::FromStatus(Status::NotFound("x")).status, 404);
  ApiError busy = ApiError::FromStatus(Status::ResourceExhausted("queue full"));
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.type, "overloaded_error");
  EXPECT_EQ(busy.message, "queue full");
  EXPECT_EQ(ApiError::FromStatus(Status::Unavailable("x")).status, 503);
  EXPECT_EQ(ApiError::FromStatus(Status::Internal("x")).status, 500);
  EXPECT_EQ(ApiError::FromStatus(Status::Internal("x")).type, "server_error");
}

TEST(ApiErrorTest, InvalidUtf8InMessageIsReplacedNotThrown) {
  Json j = Json::parse(ErrorBody(ApiError::InvalidRequest("", "bad \xff byte")));
  EXPECT_EQ(j["error"]["message"], "bad \xef\xbf\xbd byte");
}

TEST(ResponseTest, FinishReasons) {
  EXPECT_STREQ(FinishReasonString(FinishReason::kStop), "stop");
  EXPECT_STREQ(FinishReasonString(FinishReason::kLength), "length");
  EXPECT_STREQ(FinishReasonString(FinishReason::kAbort), "stop");
  EXPECT_STREQ(FinishReasonString(FinishReason::kError), "stop");
  EXPECT_EQ(FinishReasonString(FinishReason::kNone), nullptr);
}

TEST(ResponseTest, ResponseId) {
  EXPECT_EQ(MakeResponseId("chatcmpl-", 0x1, 0xabc),
            "chatcmpl-0000000000000001"
            "0000000000000abc");
  EXPECT_EQ(MakeResponseId("cmpl-", ~0ull, ~0ull).size(), 5u + 32u);
}

TEST(ResponseTest, ChatCompletionShape) {
  std::vector<ChatChoice> choices(2);
  choices[0].content = "Hello";
  choices[0].reasoning_content = "thinking";
  choices[0].finish = FinishReason::kStop;
  choices[0].logprobs = std::vector<TokenLogprob>{
      {.token = "Hel", .logprob = -0.1f, .top = {{"Hel", -0.1f}, {"Hi", -2.5f}}},
      {.token = "\xc3", .logprob = -0.25f, .top = {}}};
  choices[1].index = 1;
  choices[1].content = "Hi";
  choices[1].finish = FinishReason::kLength;
  Json j = Json::parse(ChatCompletionBody(
      Meta(), choices, {.prompt_tokens = 10, .completion_tokens = 7, .cached_tokens = 4}));
  ExpectHeader(j, "chat.completion");
  ASSERT_EQ(j["choices"].size(), 2u);
  const Json& c0 = j["choices"][0];
  EXPECT_EQ(c0["index"], 0);
  EXPECT_EQ(c0["message"]["role"], "assistant");
  EXPECT_EQ(c0["message"]["content"], "Hello");
  EXPECT_EQ(c0["message"]["reasoning_content"], "thinking");
  EXPECT_EQ(c0["finish_reason"], "stop");
  const Json& lp = c0["logprobs"]["content"];
  ASSERT_EQ(lp.size(), 2u);
  EXPECT_EQ(lp[0]["token"], "Hel");
  EXPECT_EQ(lp[0]["logprob"].get<double>(), -0.1);  // written as -0.1, not -0.10000000149
  EXPECT_EQ(lp[0]["bytes"], Json::array({72, 101, 108}));
  ASSERT_EQ(lp[0]["top_logprobs"].size(), 2u);
  EXPECT_EQ(lp[0]["top_logprobs"][1]["token"], "Hi");
  EXPECT_EQ(lp[0]["top_logprobs"][1]["logprob"].get<double>(), -2.5);
  EXPECT_EQ(lp[0]["top_logprobs"][1]["bytes"], Json::array({72, 105}));
  // A partial UTF-8 token: text replaced, bytes exact.
  EXPECT_EQ(lp[1]["token"], "\xef\xbf\xbd");
  EXPECT_EQ(lp[1]["bytes"], Json::array({0xc3}));
  const Json& c1 = j["choices"][1];
  EXPECT_FALSE(c1["message"].contains("reasoning_content"));
  EXPECT_TRUE(c1["logprobs"].is_null());
  EXPECT_EQ(c1["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["prompt_tokens"], 10);
  EXPECT_EQ(j["usage"]["completion_tokens"], 7);
  EXPECT_EQ(j["usage"]["total_tokens"], 17);
  EXPECT_EQ(j["usage"]["prompt_tokens_details"]["cached_tokens"], 4);
}

TEST(ResponseTest, NoFingerprintWhenEmpty) {
  ResponseMeta m = Meta();
  m.system_fingerprint.clear();
  Json j = Json::parse(ChatUsageChunk(m, {}));
  EXPECT_FALSE(j.contains("system_fingerprint"));
}

TEST(ResponseTest, ChatStreamChunks) {
  Json first = Json::parse(ChatChunk(Meta(), {.index = 0, .role = true}));
  ExpectHeader(first, "chat.completion.chunk");
  ASSERT_EQ(first["choices"].size(), 1u);
  EXPECT_EQ(first["choices"][0]["delta"], Json::parse(R"({"role":"assistant","content":""})"));
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  EXPECT_TRUE(first["choices"][0]["logprobs"].is_null());
  EXPECT_FALSE(first.contains("usage"));

  std::vector<TokenLogprob> lps = {{.token = "lo", .logprob = -1.0f}};
  Json mid = Json::parse(
      ChatChunk(Meta(), {.index = 2, .content = "lo", .reasoning_content = "r", .logprobs = &lps}));
  EXPECT_EQ(mid["choices"][0]["index"], 2);
  EXPECT_EQ(mid["choices"][0]["delta"], Json::parse(R"({"content":"lo","reasoning_content":"r"})"));
  EXPECT_EQ(mid["choices"][0]["logprobs"]["content"][0]["token"], "lo");

  Json reasoning_only = Json::parse(ChatChunk(Meta(), {.reasoning_content = "x"}));
  EXPECT_EQ(reasoning_only["choices"][0]["delta"], Json::parse(R"({"reasoning_content":"x"})"));

  Json last = Json::parse(ChatChunk(Meta(), {.finish = FinishReason::kLength}));
  EXPECT_EQ(last["choices"][0]["delta"], Json::object());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");

  Json usage = Json::parse(ChatUsageChunk(Meta(), {.prompt_tokens = 3, .completion_tokens = 2}));
  ExpectHeader(usage, "chat.completion.chunk");
  EXPECT_EQ(usage["choices"], Json::array());
  EXPECT_EQ(usage["usage"]["total_tokens"], 5);
}

TEST(ResponseTest, CompletionShape) {
  std::vector<CompletionChoice> choices(1);
  choices[0].text = "abc";
  choices[0].text_offset_base = 5;
  choices[0].logprobs =
      std::vector<TokenLogprob>{{.token = "Hi", .logprob = NAN},
                                {.token = "a", .logprob = -0.5f, .top = {{"a", -0.5f}}},
                                {.token = "bc", .logprob = -1.5f}};
  Json j =
      Json::parse(CompletionBody(Meta(), choices, {.prompt_tokens = 1, .completion_tokens = 2}));
  ExpectHeader(j, "text_completion");
  const Json& c = j["choices"][0];
  EXPECT_EQ(c["index"], 0);
  EXPECT_EQ(c["text"], "abc");
  EXPECT_EQ(c["finish_reason"], "stop");
  EXPECT_EQ(c["logprobs"]["tokens"], Json::parse(R"(["Hi","a","bc"])"));
  EXPECT_TRUE(c["logprobs"]["token_logprobs"][0].is_null());
  EXPECT_EQ(c["logprobs"]["token_logprobs"][1].get<double>(), -0.5);
  EXPECT_EQ(c["logprobs"]["top_logprobs"][1], Json::parse(R"({"a":-0.5})"));
  EXPECT_EQ(c["logprobs"]["top_logprobs"][0], Json::object());
  EXPECT_EQ(c["logprobs"]["text_offset"], Json::parse("[5,7,8]"));
  EXPECT_EQ(j["usage"]["total_tokens"], 3);
}

TEST(ResponseTest, CompletionChunks) {
  Json j = Json::parse(
      CompletionChunk(Meta(), {.index = 1, .text = "x", .finish = FinishReason::kNone}));
  ExpectHeader(j, "text_completion");
  EXPECT_EQ(j["choices"][0]["text"], "x");
  EXPECT_EQ(j["choices"][0]["index"], 1);
  EXPECT_TRUE(j["choices"][0]["finish_reason"].is_null());
  EXPECT_TRUE(j["choices"][0]["logprobs"].is_null());
  EXPECT_FALSE(j.contains("usage"));
  j = Json::parse(CompletionUsageChunk(
      Meta(), {.prompt_tokens = 1, .completion_tokens = 1, .cached_tokens = 1}));
  EXPECT_EQ(j["choices"], Json::array());
  EXPECT_EQ(j["usage"]["prompt_tokens_details"]["cached_tokens"], 1);
}

TEST(ResponseTest, ModelsList) {
  std::vector<std::string> names = {"a", "b"};
  Json j = Json::parse(ModelsListBody(names, 123, "mint"));
  EXPECT_EQ(j["object"], "list");
  ASSERT_EQ(j["data"].size(), 2u);
  EXPECT_EQ(j["data"][1],
            Json::parse(R"({"id":"b","object":"model","created":123,"owned_by":"mint"})"));
  EXPECT_EQ(Json::parse(ModelsListBody({}, 0, "x"))["data"], Json::array());
}

TEST(SseTest, Framing) {
  EXPECT_EQ(SseEvent(R"({"a":1})"), "data: {\"a\":1}\n\n");
  EXPECT_EQ(SseDone(), "data: [DONE]\n\n");
  EXPECT_EQ(SseEvent("a\nb"), "data: a\ndata: b\n\n");
  // Builders emit one line even when the text has newlines.
  std::string chunk = ChatChunk(Meta(), {.content = "line1\nline2\n"});
  EXPECT_EQ(chunk.find('\n'), std::string::npos);
  std::string ev = SseEvent(chunk);
  EXPECT_EQ(ev.substr(0, 6), "data: ");
  EXPECT_EQ(ev.substr(ev.size() - 2), "\n\n");
  EXPECT_EQ(Json::parse(ev.substr(6, ev.size() - 8))["choices"][0]["delta"]["content"],
            "line1\nline2\n");
}

}  // namespace
}  // namespace mint::frontend
