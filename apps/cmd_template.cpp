// `mint template (--model M | --chat-template FILE.jinja) --messages FILE.json [--tools FILE.json]
//  [--add-generation-prompt] [--bos-token S] [--eos-token S] [--kwargs JSON] [--now SECONDS]`:
// renders a chat template and prints the prompt exactly (no trailing newline added).
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "apps/app_util.h"
#include "apps/commands.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace mint::apps {
namespace {

struct TemplateArgs {
  std::string model;
  std::string chat_template;
  std::string messages;
  std::string tools;
  bool add_generation_prompt = false;
  std::optional<std::string> bos_token, eos_token;
  std::string kwargs;
  std::optional<int64_t> now;
};


Result<nlohmann::ordered_json> ParseJson(const std::string& text, const std::string& what) {
  auto j = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument(what + " is not valid JSON");
  return j;
}

Result<nlohmann::ordered_json> ReadJson(const std::string& path) {
  MINT_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseJson(text, path);
}

// The template source and default special tokens, from --chat-template or --model.
Status LoadTemplate(const TemplateArgs& a, std::string* source, tokenizer::ChatTemplateInputs* in) {
  if (!a.chat_template.empty()) {
    MINT_ASSIGN_OR_RETURN(*source, ReadFile(a.chat_template));
    return Status::Ok();
  }
  auto tok = tokenizer::Tokenizer::Load(a.model);
  if (!tok.ok()) return tok.status().WithContext(a.model);
  *source = (*tok)->chat_template();
  if (source->empty()) return Status::NotFound(a.model + " has no chat template");
  if ((*tok)->bos_id() >= 0) in->bos_token = (*tok)->TokenPiece((*tok)->bos_id());
  if ((*tok)->eos_id() >= 0) in->eos_token = (*tok)->TokenPiece((*tok)->eos_id());
  return Status::Ok();
}

int RunTemplate(const TemplateArgs& a) {
  if (a.model.empty() == a.chat_template.empty()) {
    return Fail(Status::InvalidArgument("give exactly one of --model and --chat-template"));
  }
  tokenizer::ChatTemplateInputs in;
  std::string source;
  Status st = LoadTemplate(a, &source, &in);
  if (!st.ok()) return Fail(st);
  auto messages = ReadJson(a.messages);
  if (!messages.ok()) return Fail(messages.status());
  if (messages->is_object() && messages->contains("messages")) {
    in.messages = (*messages)["messages"];  // an OpenAI request body works too
  } else {
    in.messages = *messages;
  }
  if (!a.tools.empty()) {
    auto tools = ReadJson(a.tools);
    if (!tools.ok()) return Fail(tools.status());
    in.tools = *tools;
  }
  if (!a.kwargs.empty()) {
    auto kwargs = ParseJson(a.kwargs, "--kwargs");
    if (!kwargs.ok()) return Fail(kwargs.status());
    if (!kwargs->is_object()) return Fail(Status::InvalidArgument("--kwargs must be a JSON object"));
    in.extra_context = *kwargs;
  }
  in.add_generation_prompt = a.add_generation_prompt;
  if (a.bos_token) in.bos_token = *a.bos_token;
  if (a.eos_token) in.eos_token = *a.eos_token;
  in.now_unix_seconds = a.now;
  auto tmpl = tokenizer::ChatTemplate::Parse(source);
  if (!tmpl.ok()) return Fail(tmpl.status());
  auto out = (*tmpl)->Render(in);
  if (!out.ok()) return Fail(out.status());
  std::fwrite(out->data(), 1, out->size(), stdout);
  return 0;
}

}  // namespace

CommandFn RegisterTemplate(CLI::App& app) {
  auto args = std::make_shared<TemplateArgs>();
  CLI::App* cmd = app.add_subcommand("template", "Render a chat template into a prompt");
  auto* model = cmd->add_option("--model", args->model,
                                "Model (.gguf, tokenizer.json or its directory) whose template and "
                                "bos/eos tokens to use");
  auto* file = cmd->add_option("--chat-template", args->chat_template, "Jinja template file");
  model->excludes(file);
  cmd->add_option("--messages", args->messages, "JSON file: a list of messages (or a request "
                  "body with \"messages\")")->required();
  cmd->add_option("--tools", args->tools, "JSON file: a list of tool definitions");
  cmd->add_flag("--add-generation-prompt", args->add_generation_prompt,
                "End with the assistant turn's header");
  cmd->add_option("--bos-token", args->bos_token, "bos_token text (default: the model's)");
  cmd->add_option("--eos-token", args->eos_token, "eos_token text (default: the model's)");
  cmd->add_option("--kwargs", args->kwargs,
                  "JSON object of extra template variables, e.g. '{\"enable_thinking\": false}'");
  cmd->add_option("--now", args->now,
                  "Fix strftime_now's clock (Unix seconds, formatted as UTC)");
  return [args]() { return RunTemplate(*args); };
}

}  // namespace mint::apps
