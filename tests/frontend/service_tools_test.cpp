// Tool calls through the OpenAI service: a backend that "generates" a scripted text (its tokens,
// a few per output) stands in for the model, so the response shape is checked exactly: message
// tool_calls, content null, finish_reason "tool_calls", and the streamed deltas (the first of a
// call with index, id, type and name; then its arguments, which concatenate to the final ones).
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "frontend/metrics.h"
#include "frontend/service.h"
#include "tokenizer/tokenizer.h"
#include "../support/tiny_model.h"

namespace mint::frontend {
namespace {

using nlohmann::json;

// Emits `script`'s tokens three at a time on its own thread, then finishes with kStop.
class ScriptedBackend : public GenerationBackend {
 public:
  ScriptedBackend(const tokenizer::Tokenizer* tok, std::string script) : tok_(tok) {
    tokens_ = tok->Encode(script, /*add_special=*/false, /*parse_special=*/false).value();
  }
  ~ScriptedBackend() override {
    for (auto& t : threads_) t.join();
  }
  using GenerationBackend::Submit;
  Result<uint64_t> Submit(protocol::GenerateRequest, protocol::OutputCallback on_output,
                          const router::RouteOverrides&) override {
    const uint64_t id = ++next_id_;
    threads_.emplace_back([this, id, on_output] {
      for (size_t i = 0; i < tokens_.size(); i += 3) {
        protocol::GenerateOutput out;
        out.request_id = id;
        for (size_t k = i; k < std::min(i + 3, tokens_.size()); ++k) out.tokens.push_back(tokens_[k]);
        out.generated_tokens = static_cast<int64_t>(std::min(i + 3, tokens_.size()));
        if (i + 3 >= tokens_.size()) out.finish = protocol::FinishReason::kStop;
        on_output(out);
      }
    });
    return id;
  }
  void Abort(uint64_t) override {}
  engine::EngineMetrics Metrics() const override { return {}; }
  int64_t max_model_len() const override { return 4096; }

 private:
  const tokenizer::Tokenizer* tok_;
  std::vector<int32_t> tokens_;
  std::vector<std::thread> threads_;
  uint64_t next_id_ = 0;
};

class Capture : public ResponseWriter {
 public:
  void Respond(int status, const std::string&, std::string body) override {
    std::lock_guard<std::mutex> lk(mu_);
    status_ = status;
    body_ = std::move(body);
    done_ = true;
    cv_.notify_all();
  }
  void StartStream() override {}
  void SendEvent(std::string data) override {
    std::lock_guard<std::mutex> lk(mu_);
    events_.push_back(std::move(data));
  }
  void EndStream() override {
    std::lock_guard<std::mutex> lk(mu_);
    done_ = true;
    cv_.notify_all();
  }
  void OnClientGone(std::function<void()>) override {}
  void Wait() {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_for(lk, std::chrono::seconds(10), [&] { return done_; });
  }
  int status_ = 0;
  std::string body_;
  std::vector<std::string> events_;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

class ServiceToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = test_support::LoadTinyModel(5);
    ASSERT_NE(model_, nullptr);
    tok_ = std::move(tokenizer::Tokenizer::FromGguf(model_->file())).value();
  }
  // A service over `script` with the hermes parser. The previous backend goes first: its
  // threads may still be inside the previous service (finishing a response) until joined.
  OpenAiService* Service(const std::string& script) {
    EXPECT_EQ(tok_->Decode(tok_->Encode(script, false, false).value()), script)
        << "the tokenizer cannot carry the script";
    backend_.reset();
    service_.reset();
    backend_ = std::make_unique<ScriptedBackend>(tok_.get(), script);
    metrics_ = std::make_unique<FrontendMetrics>(MetricsOptions{.model = "tiny"});
    ServiceOptions so{.model_name = "tiny"};
    so.tool_call_parser = "hermes";
    service_ = std::move(OpenAiService::Create(so, tok_.get(), backend_.get(), metrics_.get()))
                   .value();
    return service_.get();
  }
  static std::string Body(bool stream, const char* extra = "") {
    return std::string(R"({"model": "tiny", "messages": [{"role": "user", "content": "weather?"}],
      "tools": [{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object"}}}])") +
           extra + (stream ? R"(, "stream": true})" : "}");
  }

  // Destroyed bottom up: the backend (joining its threads) before the service they call.
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<tokenizer::Tokenizer> tok_;
  std::unique_ptr<FrontendMetrics> metrics_;
  std::unique_ptr<OpenAiService> service_;
  std::unique_ptr<ScriptedBackend> backend_;
};

// This SentencePiece vocabulary writes a space before the first word (its dummy prefix).
std::string Unspaced(const std::string& s) { return s.rfind(' ', 0) == 0 ? s.substr(1) : s; }

const char kCall[] =
    "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n"
    "</tool_call>";

TEST_F(ServiceToolsTest, ACallComesBackAsToolCalls) {
  auto svc = Service(kCall);
  auto w = std::make_shared<Capture>();
  svc->HandleChat(Body(false), w);
  w->Wait();
  ASSERT_EQ(w->status_, 200) << w->body_;
  const json j = json::parse(w->body_);
  const json& choice = j["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "tool_calls");
  EXPECT_TRUE(choice["message"]["content"].is_null());
  ASSERT_EQ(choice["message"]["tool_calls"].size(), 1u);
  const json& call = choice["message"]["tool_calls"][0];
  EXPECT_EQ(call["type"], "function");
  EXPECT_EQ(call["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(call["function"]["arguments"].get<std::string>()),
            json({{"city", "Paris"}, {"days", 2}}));
  EXPECT_EQ(call["id"].get<std::string>().rfind("call_", 0), 0u);
}

TEST_F(ServiceToolsTest, StreamedCallsHaveOpenAisDeltaShape) {
  auto svc = Service(std::string("Checking.") + kCall);
  auto w = std::make_shared<Capture>();
  svc->HandleChat(Body(true), w);
  w->Wait();
  std::string content, id, name, arguments, finish;
  int headers = 0;
  for (const std::string& e : w->events_) {
    if (e.find("[DONE]") != std::string::npos) continue;
    const json j = json::parse(e.substr(e.find('{')));
    const json& c = j["choices"][0];
    const json& d = c["delta"];
    if (d.contains("content")) content += d["content"].get<std::string>();
    if (d.contains("tool_calls")) {
      const json& t = d["tool_calls"][0];
      EXPECT_EQ(t["index"], 0);
      if (t.contains("id")) {
        ++headers;
        id = t["id"];
        EXPECT_EQ(t["type"], "function");
        name = t["function"]["name"];
      }
      arguments += t["function"]["arguments"].get<std::string>();
    }
    if (!c["finish_reason"].is_null()) finish = c["finish_reason"];
  }
  EXPECT_EQ(Unspaced(content), "Checking.");
  EXPECT_EQ(headers, 1);
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(name, "get_weather");
  EXPECT_EQ(json::parse(arguments), json({{"city", "Paris"}, {"days", 2}}));
  EXPECT_EQ(finish, "tool_calls");
}

TEST_F(ServiceToolsTest, WithoutToolsOrWithToolChoiceNoneTheTextIsContent) {
  for (const char* extra : {"", R"(, "tool_choice": "none")"}) {
    auto svc = Service(kCall);
    auto w = std::make_shared<Capture>();
    std::string body = extra[0] == '\0'
                           ? R"({"model": "tiny", "messages": [{"role": "user", "content": "x"}]})"
                           : Body(false, extra);
    svc->HandleChat(body, w);
    w->Wait();
    const json j = json::parse(w->body_);
    EXPECT_EQ(Unspaced(j["choices"][0]["message"]["content"]), kCall);
    EXPECT_FALSE(j["choices"][0]["message"].contains("tool_calls"));
    EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  }
}

}  // namespace
}  // namespace mint::frontend
