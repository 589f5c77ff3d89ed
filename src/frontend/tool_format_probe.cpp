#include "frontend/tool_format_probe.h"

#include <nlohmann/json.hpp>

#include "core/log.h"

namespace mint::frontend {
namespace {

using PJson = nlohmann::ordered_json;

constexpr const char* kProbeName = "mint_probe_fn";
constexpr const char* kProbeValue = "mint-probe-value";

// True if `format`'s parser reads exactly the probe call out of `text`.
bool ReadsProbe(ToolCallFormat format, std::string_view text) {
  ToolCallOptions o;
  o.tool_names = {kProbeName};
  o.make_id = [](int i) { return "p" + std::to_string(i); };
  ToolCallParser p(format, o);
  p.Push(text);
  p.Flush();
  if (p.calls().size() != 1 || p.calls()[0].name != kProbeName) return false;
  const PJson args = PJson::parse(p.calls()[0].arguments, nullptr, /*allow_exceptions=*/false);
  return args.is_object() && args.value("probe_arg", std::string()) == kProbeValue;
}

// What the template renders for the assistant's probe call, after the generation prompt; empty
// when it renders none.
std::string RenderProbe(const tokenizer::ChatTemplate& tpl) {
  const PJson tools = PJson::array({{{"type", "function"},
                                     {"function",
                                      {{"name", kProbeName},
                                       {"description", "probe"},
                                       {"parameters",
                                        {{"type", "object"},
                                         {"properties", {{"probe_arg", {{"type", "string"}}}}}}}}}}});
  const PJson user = PJson::array({{{"role", "user"}, {"content", "mint probe question"}}});
  PJson full = user;
  full.push_back({{"role", "assistant"},
                  {"content", ""},
                  {"tool_calls", PJson::array({{{"id", "call_probe"},
                                                {"type", "function"},
                                                {"function",
                                                 {{"name", kProbeName},
                                                  {"arguments", {{"probe_arg", kProbeValue}}}}}}})}});
  tokenizer::ChatTemplateInputs in;
  in.tools = tools;
  in.bos_token = "<s>";
  in.eos_token = "</s>";
  in.now_unix_seconds = 0;
  in.messages = user;
  in.add_generation_prompt = true;
  auto prefix = tpl.Render(in);
  in.messages = full;
  in.add_generation_prompt = false;
  auto rendered = tpl.Render(in);
  if (!prefix.ok() || !rendered.ok() || rendered->find(kProbeValue) == std::string::npos) return {};
  if (rendered->compare(0, prefix->size(), *prefix) == 0) return rendered->substr(prefix->size());
  const size_t at = rendered->find("mint probe question");
  return at == std::string::npos ? *rendered : rendered->substr(at + 19);
}

}  // namespace

ToolCallFormat ProbeToolCallFormat(const tokenizer::ChatTemplate& tpl, std::string_view source) {
  const ToolCallFormat guess = DetectToolCallFormat(source);
  const std::string model_side = RenderProbe(tpl);
  if (model_side.empty()) return guess;  // renders no calls: the markers are all there is
  if (guess != ToolCallFormat::kNone && ReadsProbe(guess, model_side)) return guess;
  for (ToolCallFormat f :
       {ToolCallFormat::kHermes, ToolCallFormat::kQwen3Coder, ToolCallFormat::kMistral,
        ToolCallFormat::kDeepSeek, ToolCallFormat::kKimiK2, ToolCallFormat::kGlm45,
        ToolCallFormat::kHarmony, ToolCallFormat::kSeedOss, ToolCallFormat::kFunctionary,
        ToolCallFormat::kCommandR, ToolCallFormat::kApriel, ToolCallFormat::kMiniMax,
        ToolCallFormat::kLlama3, ToolCallFormat::kPythonic}) {
    if (ReadsProbe(f, model_side)) {
      log::Info("tool calls: the chat template renders them in the {} format (found by rendering)",
                ToolCallFormatName(f));
      return f;
    }
  }
  if (guess != ToolCallFormat::kNone) {
    log::Warn("tool calls: the chat template's markers say {}, but no parser reads back the call "
              "it renders; keeping {}", ToolCallFormatName(guess), ToolCallFormatName(guess));
  }
  return guess;
}

}  // namespace mint::frontend
