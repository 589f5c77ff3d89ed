// OpenAiService: serves the OpenAI endpoints on top of a GenerationBackend, independent of the
// network: prompts (chat template, tokenizer), sampling, streaming (incremental detokenizer,
// reasoning split, stop strings), usage, logprobs, metrics. The HTTP server (http_server.h) hands
// it request bodies and a ResponseWriter.
//
// Thread-safety: Handle* may be called from any number of threads at once. Per request, outputs
// arrive on the backend's thread and are written through the ResponseWriter (which must accept
// calls from any thread).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "frontend/backend.h"
#include "frontend/metrics.h"
#include "frontend/openai.h"
#include "frontend/tool_calls.h"
#include "grammar/logits.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace mint::frontend {

// One HTTP response, written from any thread. A writer is used either once with Respond, or with
// StartStream, any number of SendEvent, then EndStream.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  virtual void Respond(int status, const std::string& content_type, std::string body) = 0;
  virtual void StartStream() = 0;  // 200, text/event-stream
  virtual void SendEvent(std::string data) = 0;
  virtual void EndStream() = 0;
  // `fn` runs once if the client goes away before the response is complete (may run at once).
  virtual void OnClientGone(std::function<void()> fn) = 0;
};

struct ServiceOptions {
  std::string model_name{};          // what clients put in "model" (listed by /v1/models)
  std::vector<std::string> aliases{};  // other accepted names
  std::string chat_template{};         // Jinja source; empty: the tokenizer's, else ChatML
  std::string system_fingerprint = "mint-0.1";
  ParseLimits limits{};
  int64_t default_completion_max_tokens = 16;  // OpenAI's default for /v1/completions
  // How tool calls are found in the output of a request with tools (tool_calls.h): "auto"
  // detects the format from the chat template, or a format name ("none": never).
  std::string tool_call_parser = "auto";
};

class OpenAiService {
 public:
  // The tokenizer and backend must outlive the service.
  static Result<std::unique_ptr<OpenAiService>> Create(const ServiceOptions& options,
                                                       const tokenizer::Tokenizer* tokenizer,
                                                       GenerationBackend* backend,
                                                       FrontendMetrics* metrics);
  ~OpenAiService();

  void HandleChat(std::string_view body, std::shared_ptr<ResponseWriter> writer);
  void HandleCompletion(std::string_view body, std::shared_ptr<ResponseWriter> writer);
  // POST /v1/responses (responses_api.h): the chat path with Responses API shapes.
  void HandleResponses(std::string_view body, std::shared_ptr<ResponseWriter> writer);
  std::string ModelsBody() const;
  // GET /v1/models/{id}: the model object, or a 404 model_not_found error.
  ApiResult<std::string> ModelBody(const std::string& id) const;
  const ServiceOptions& options() const { return options_; }
  // The ChatML template used when a model has none (documented in the README).
  static const char* DefaultChatTemplate();
  bool KnowsModel(const std::string& name) const;

 private:
  struct Generation;
  OpenAiService() = default;
  void Start(std::shared_ptr<Generation> gen, std::shared_ptr<ResponseWriter> writer);
  // The chat path after parsing: template, tool-call parsing, forced calls. `responses_echo`
  // non-null: answer in Responses API shapes.
  void StartChat(ChatRequest req, std::shared_ptr<ResponseWriter> writer,
                 const nlohmann::ordered_json* responses_echo);
  // tool_choice as a grammar on params: forced calls (required / named), or a lazy grammar for
  // auto with strict tools. A 400 when the model's format cannot force a call.
  std::optional<ApiError> ToolConstraint(const ChatRequest& req, GenParams* params) const;
  // A 400 when a prompt of `bytes` bytes must exceed the context, decided without tokenizing.
  std::optional<ApiError> CheckPromptBytes(const char* param, size_t bytes) const;

  ServiceOptions options_;
  const tokenizer::Tokenizer* tokenizer_ = nullptr;
  GenerationBackend* backend_ = nullptr;
  FrontendMetrics* metrics_ = nullptr;
  std::unique_ptr<tokenizer::ChatTemplate> template_;
  bool reasoning_model_ = false;  // the template knows <think>
  ToolCallFormat tool_format_ = ToolCallFormat::kNone;  // tool calls in the output
  std::vector<int32_t> eog_ids_;
  std::unique_ptr<grammar::ControlSpelling> spelling_;  // markers in tool_choice grammars
  size_t max_token_bytes_ = 1;  // the longest token's bytes
  int64_t created_ = 0;
};

}  // namespace mint::frontend
