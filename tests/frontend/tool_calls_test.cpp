// Tool-call parsing: every format on model-style outputs (single, parallel, text around, unicode
// and escaped JSON, nested arguments, truncated), byte-boundary streaming equal to one piece, and
// the template round trip (a chat template renders an assistant message with tool_calls; the
// parser detected from that template reads the same calls back).
#include "frontend/tool_calls.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "frontend/tool_format_probe.h"
#include "tokenizer/chat_template.h"

namespace mint::frontend {
namespace {

using OJson = nlohmann::ordered_json;

struct Parsed {
  std::string content;
  std::vector<ToolCall> calls;
  std::string streamed_arguments;  // every call's arguments, in delta order
};

ToolCallOptions Options(std::vector<std::string> names = {}, bool parallel = true) {
  ToolCallOptions o;
  o.tool_names = std::move(names);
  o.parallel = parallel;
  o.make_id = [](int i) { return "call_" + std::to_string(i); };
  return o;
}

// Feeds `text` in pieces of `step` bytes (0: one piece).
Parsed Parse(ToolCallFormat f, std::string_view text, size_t step = 0,
           ToolCallOptions o = Options()) {
  ToolCallParser p(f, o);
  Parsed out;
  auto take = [&](const ToolCallParser::Delta& d) {
    out.content += d.content;
    for (int i : d.calls) out.streamed_arguments += p.calls()[static_cast<size_t>(i)].arguments;
  };
  if (step == 0) {
    take(p.Push(text));
  } else {
    for (size_t i = 0; i < text.size(); i += step) take(p.Push(text.substr(i, step)));
  }
  take(p.Flush());
  out.calls = p.calls();
  return out;
}

OJson Args(const ToolCall& c) { return OJson::parse(c.arguments); }

struct Case {
  const char* name;
  ToolCallFormat format;
  std::string text;
  std::string content;                                 // expected content
  std::vector<std::pair<std::string, OJson>> calls;     // expected (name, arguments)
  std::vector<std::string> tools = {};                 // allowed names (empty: any)
};

std::vector<Case> Cases() {
  const OJson paris = {{"location", "Paris"}, {"unit", "celsius"}};
  const OJson nested = OJson::parse(R"({"filter": {"tags": ["a", "b"], "range": {"lo": 1, "hi": 2.5}},
                                      "flag": true, "none": null})");
  const OJson unicode = OJson::parse(R"({"city": "Zürich 東京 😊", "q": "say \"hi\"\n"})");
  using F = ToolCallFormat;
  return {
      {"hermes single", F::kHermes,
       "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\", "
       "\"unit\": \"celsius\"}}\n</tool_call>",
       "", {{"get_weather", paris}}},
      {"hermes parallel with text", F::kHermes,
       "Let me check.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n"
       "<tool_call>\n{\"name\": \"b\", \"arguments\": " + nested.dump() + "}\n</tool_call>\nDone.",
       "Let me check.\n\n\nDone.", {{"a", OJson::object()}, {"b", nested}}},
      {"hermes unicode and escapes", F::kHermes,
       "<tool_call>{\"name\": \"w\", \"arguments\": " + unicode.dump() + "}</tool_call>", "",
       {{"w", unicode}}},
      {"hermes string arguments", F::kHermes,
       "<tool_call>{\"name\": \"w\", \"arguments\": \"{\\\"x\\\": 1}\"}</tool_call>", "",
       {{"w", OJson{{"x", 1}}}}},
      {"hermes truncated, unparseable", F::kHermes, "ok <tool_call>{\"name\": \"w\", \"argu",
       "ok <tool_call>{\"name\": \"w\", \"argu", {}},
      {"hermes truncated, parses", F::kHermes, "<tool_call>{\"name\": \"w\", \"arguments\": {}}",
       "", {{"w", OJson::object()}}},
      {"hermes unknown name stays text", F::kHermes,
       "<tool_call>{\"name\": \"rm\", \"arguments\": {}}</tool_call>",
       "<tool_call>{\"name\": \"rm\", \"arguments\": {}}</tool_call>", {}, {"get_weather"}},
      {"hermes no call", F::kHermes, "Just text with <tool and <tool_cal bits.",
       "Just text with <tool and <tool_cal bits.", {}},
      {"qwen3-coder", F::kQwen3Coder,
       "Sure.\n<tool_call>\n<function=get_weather>\n<parameter=location>\nParis\n</parameter>\n"
       "<parameter=days>\n3\n</parameter>\n<parameter=opts>\n{\"a\": [1, 2]}\n</parameter>\n"
       "</function>\n</tool_call>",
       "Sure.\n", {{"get_weather", OJson{{"location", "Paris"}, {"days", 3}, {"opts", {{"a", {1, 2}}}}}}}},
      {"llama3 json", F::kLlama3,
       "{\"name\": \"get_weather\", \"parameters\": {\"location\": \"Paris\", \"unit\": \"celsius\"}}",
       "", {{"get_weather", paris}}},
      {"llama3 python_tag, two calls", F::kLlama3,
       "<|python_tag|>{\"name\": \"a\", \"parameters\": {\"x\": 1}}; {\"name\": \"b\", "
       "\"parameters\": " + nested.dump() + "}",
       "", {{"a", OJson{{"x", 1}}}, {"b", nested}}},
      {"llama3 plain answer", F::kLlama3, "  The answer is {not json}.",
       "  The answer is {not json}.", {}},
      {"llama3 json that is not a call", F::kLlama3, "{\"answer\": 42}", "{\"answer\": 42}", {}},
      {"pythonic", F::kPythonic,
       "[get_weather(location=\"Paris\", unit='celsius'), noop(), f(n=-2.5, ok=True, x=None, "
       "l=[1, \"a\"], d={'k': 'v'})]",
       "", {{"get_weather", paris}, {"noop", OJson::object()},
            {"f", OJson{{"n", -2.5}, {"ok", true}, {"x", nullptr}, {"l", {1, "a"}}, {"d", {{"k", "v"}}}}}}},
      {"pythonic plain text", F::kPythonic, "[1] is a footnote.", "[1] is a footnote.", {}},
      {"mistral v0.3 array", F::kMistral,
       "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\", \"unit\": "
       "\"celsius\"}, \"id\": \"abcDEF123\"}, {\"name\": \"b\", \"arguments\": {}}]",
       "", {{"get_weather", paris}, {"b", OJson::object()}}},
      {"mistral v11 name[ARGS]", F::kMistral,
       "Checking. [TOOL_CALLS]get_weather[ARGS]{\"location\": \"Paris\", \"unit\": \"celsius\"}"
       "[TOOL_CALLS]b[ARGS]" + nested.dump(),
       "Checking. ", {{"get_weather", paris}, {"b", nested}}},
      {"deepseek v3", F::kDeepSeek,
       "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n"
       "{\"location\": \"Paris\", \"unit\": \"celsius\"}\n```<｜tool▁call▁end｜>\n"
       "<｜tool▁call▁begin｜>function<｜tool▁sep｜>b\n```json\n{}\n```<｜tool▁call▁end｜>"
       "<｜tool▁calls▁end｜>",
       "", {{"get_weather", paris}, {"b", OJson::object()}}},
      {"deepseek v3.1", F::kDeepSeek,
       "On it.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"location\": "
       "\"Paris\", \"unit\": \"celsius\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
       "On it.", {{"get_weather", paris}}},
      {"kimi-k2", F::kKimiK2,
       "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
       "<|tool_call_argument_begin|>{\"location\": \"Paris\", \"unit\": \"celsius\"}"
       "<|tool_call_end|><|tool_call_begin|>functions.b:1<|tool_call_argument_begin|>{}"
       "<|tool_call_end|><|tool_calls_section_end|>",
       "", {{"get_weather", paris}, {"b", OJson::object()}}},
      {"glm45", F::kGlm45,
       "<tool_call>get_weather\n<arg_key>location</arg_key>\n<arg_value>Paris</arg_value>\n"
       "<arg_key>unit</arg_key>\n<arg_value>celsius</arg_value>\n</tool_call>"
       "<tool_call>count\n<arg_key>n</arg_key>\n<arg_value>3</arg_value>\n</tool_call>",
       "", {{"get_weather", paris}, {"count", OJson{{"n", 3}}}}},
      {"seed-oss", F::kSeedOss,
       "<seed:tool_call>\n<function=get_weather>\n<parameter=location>Paris</parameter>\n"
       "<parameter=unit>celsius</parameter>\n</function>\n</seed:tool_call>",
       "", {{"get_weather", paris}}},
      {"functionary", F::kFunctionary,
       "<function=get_weather>{\"location\": \"Paris\", \"unit\": \"celsius\"}</function>"
       "<function=b>{}</function>",
       "", {{"get_weather", paris}, {"b", OJson::object()}}},
      {"command-r", F::kCommandR,
       "Plan: look it up.\n<|START_ACTION|>[{\"tool_call_id\": \"0\", \"tool_name\": "
       "\"get_weather\", \"parameters\": {\"location\": \"Paris\", \"unit\": \"celsius\"}}]"
       "<|END_ACTION|>",
       "Plan: look it up.\n", {{"get_weather", paris}}},
      {"apriel", F::kApriel,
       "<tool_calls>[{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\", "
       "\"unit\": \"celsius\"}}, {\"name\": \"b\", \"arguments\": {}}]</tool_calls>",
       "", {{"get_weather", paris}, {"b", OJson::object()}}},
      {"minimax", F::kMiniMax,
       "<minimax:tool_call>\n<invoke name=\"get_weather\">\n<parameter name=\"location\">Paris"
       "</parameter>\n<parameter name=\"unit\">celsius</parameter>\n</invoke>\n"
       "</minimax:tool_call>",
       "", {{"get_weather", paris}}},
      {"mistral trailing end of sequence", F::kMistral,
       "[TOOL_CALLS]get_weather[ARGS]{\"location\": \"Paris\", \"unit\": \"celsius\"}</s>",
       "</s>", {{"get_weather", paris}}},
      {"harmony", F::kHarmony,
       "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>"
       "{\"location\": \"Paris\", \"unit\": \"celsius\"}<|call|>",
       "", {{"get_weather", paris}}},
  };
}

TEST(ToolCallParserTest, EveryFormatOnModelStyleOutputs) {
  for (const Case& c : Cases()) {
    const Parsed p = Parse(c.format, c.text, 0, Options(c.tools));
    EXPECT_EQ(p.content, c.content) << c.name;
    ASSERT_EQ(p.calls.size(), c.calls.size()) << c.name;
    for (size_t i = 0; i < c.calls.size(); ++i) {
      EXPECT_EQ(p.calls[i].name, c.calls[i].first) << c.name << " call " << i;
      EXPECT_EQ(Args(p.calls[i]), c.calls[i].second) << c.name << " call " << i;
      EXPECT_FALSE(p.calls[i].id.empty());
    }
  }
}

TEST(ToolCallParserTest, StreamingAtEveryByteBoundaryEqualsOnePiece) {
  for (const Case& c : Cases()) {
    const Parsed whole = Parse(c.format, c.text, 0, Options(c.tools));
    for (size_t step = 1; step <= 7; ++step) {
      const Parsed s = Parse(c.format, c.text, step, Options(c.tools));
      EXPECT_EQ(s.content, whole.content) << c.name << " step " << step;
      ASSERT_EQ(s.calls.size(), whole.calls.size()) << c.name << " step " << step;
      for (size_t i = 0; i < s.calls.size(); ++i) {
        EXPECT_EQ(s.calls[i].name, whole.calls[i].name);
        EXPECT_EQ(s.calls[i].arguments, whole.calls[i].arguments);
      }
      // The deltas' arguments concatenate to exactly the final ones.
      std::string all;
      for (const ToolCall& t : s.calls) all += t.arguments;
      EXPECT_EQ(s.streamed_arguments, all) << c.name;
    }
    // Every split point of two pieces.
    for (size_t cut = 1; cut < c.text.size(); ++cut) {
      ToolCallParser p(c.format, Options(c.tools));
      std::string content = p.Push(std::string_view(c.text).substr(0, cut)).content;
      content += p.Push(std::string_view(c.text).substr(cut)).content;
      content += p.Flush().content;
      ASSERT_EQ(content, whole.content) << c.name << " cut " << cut;
      ASSERT_EQ(p.calls().size(), whole.calls.size()) << c.name << " cut " << cut;
    }
  }
}

TEST(ToolCallParserTest, ParallelFalseKeepsTheFirstCall) {
  const Parsed p = Parse(ToolCallFormat::kHermes,
                       "<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call>"
                       "<tool_call>{\"name\": \"b\", \"arguments\": {}}</tool_call>",
                       0, Options({}, /*parallel=*/false));
  ASSERT_EQ(p.calls.size(), 1u);
  EXPECT_EQ(p.calls[0].name, "a");
  EXPECT_EQ(p.content, "");
}

TEST(ToolCallParserTest, WhatTheFuzzerFound) {
  // Invalid UTF-8 in a value taken as text: the call survives, its arguments are valid JSON.
  const Parsed bad = Parse(ToolCallFormat::kQwen3Coder,
                           "<tool_call><function=f><parameter=k>a\xe5"
                           "b</parameter></function>"
                           "</tool_call>");
  ASSERT_EQ(bad.calls.size(), 1u);
  const OJson args = Args(bad.calls[0]);  // parses: the bad byte was replaced
  ASSERT_TRUE(args["k"].is_string());
  EXPECT_EQ(args["k"].get<std::string>().substr(0, 1), "a");
  // Markup where the name should be: not a call.
  const std::string markup =
      "<minimax:tool_call><invoke name=\"a\"x><parameter name=\"k\">v</parameter></invoke>"
      "</minimax:tool_call>";
  const Parsed p = Parse(ToolCallFormat::kMiniMax, markup);
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.content, markup);
}

TEST(ToolCallParserTest, FormatNamesAndDetection) {
  for (const char* n : {"none", "hermes", "qwen3-coder", "llama3", "pythonic", "mistral",
                        "deepseek", "kimi-k2", "glm45", "harmony", "seed-oss", "functionary",
                        "command-r", "apriel", "minimax"}) {
    auto f = ParseToolCallFormat(n);
    ASSERT_TRUE(f.ok()) << n;
    EXPECT_STREQ(ToolCallFormatName(*f), n);
  }
  EXPECT_FALSE(ParseToolCallFormat("json").ok());
  EXPECT_EQ(DetectToolCallFormat("{{- '<tool_call>\\n' }}"), ToolCallFormat::kHermes);
  EXPECT_EQ(DetectToolCallFormat("plain {{ messages }}"), ToolCallFormat::kNone);
}

// ---- The template round trip -------------------------------------------------------------

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A template whose markers are assembled from pieces: the source search finds nothing, the
// rendered probe call shows hermes.
TEST(ToolCallProbeTest, RenderingFindsFormatsTheSourceHides) {
  const std::string src =
      "{%- set open = '<tool' ~ '_call>' -%}{%- set close = '</tool' ~ '_call>' -%}"
      "{%- for m in messages -%}{{ '<|' ~ m.role ~ '|>' }}{%- if m.tool_calls is defined -%}"
      "{%- for c in m.tool_calls -%}{{ open }}{\"name\": \"{{ c.function.name }}\", "
      "\"arguments\": {{ c.function.arguments | tojson }}}{{ close }}{%- endfor -%}"
      "{%- else -%}{{ m.content }}{%- endif -%}{%- endfor -%}"
      "{%- if add_generation_prompt -%}<|assistant|>{%- endif -%}";
  EXPECT_EQ(DetectToolCallFormat(src), ToolCallFormat::kNone);
  auto tpl = tokenizer::ChatTemplate::Parse(src);
  ASSERT_TRUE(tpl.ok()) << tpl.status().ToString();
  EXPECT_EQ(ProbeToolCallFormat(**tpl, src), ToolCallFormat::kHermes);
  auto plain = tokenizer::ChatTemplate::Parse("{% for m in messages %}{{ m.content }}{% endfor %}");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(ProbeToolCallFormat(**plain, "{% for m in messages %}{{ m.content }}{% endfor %}"),
            ToolCallFormat::kNone);
}

TEST(ToolCallTemplateRoundTrip, EachTemplateReadsBackTheCallsItRenders) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(MINT_SHARED_DIR) / "chat-templates";
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " not found";
  const OJson tools = OJson::parse(R"([
    {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city.",
      "parameters": {"type": "object", "properties": {"location": {"type": "string"},
        "unit": {"type": "string"}}, "required": ["location"]}}},
    {"type": "function", "function": {"name": "get_time", "description": "Local time.",
      "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}])");
  const OJson user = OJson::parse(R"([{"role": "user", "content": "Weather and time in Paris?"}])");
  OJson full = user;
  full.push_back(OJson::parse(R"({"role": "assistant", "content": "", "tool_calls": [
    {"id": "call_1", "type": "function", "function": {"name": "get_weather",
      "arguments": {"location": "Paris", "unit": "celsius"}}},
    {"id": "call_2", "type": "function", "function": {"name": "get_time",
      "arguments": {"tz": "Europe/Paris"}}}]})"));
  int checked = 0;
  std::vector<std::string> failed;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".jinja") continue;
    const std::string src = ReadAll(entry.path());
    auto tpl = tokenizer::ChatTemplate::Parse(src);
    if (!tpl.ok()) continue;
    const ToolCallFormat f = ProbeToolCallFormat(**tpl, src);  // what mint serve uses
    if (f == ToolCallFormat::kNone) continue;
    tokenizer::ChatTemplateInputs in;
    in.tools = tools;
    in.bos_token = "<s>";
    in.eos_token = "</s>";
    in.messages = user;
    in.add_generation_prompt = true;
    auto prefix = (*tpl)->Render(in);
    in.messages = full;
    in.add_generation_prompt = false;
    auto rendered = (*tpl)->Render(in);
    if (!prefix.ok() || !rendered.ok()) continue;  // the template refuses this conversation
    // Templates that drop the assistant's calls (DeepSeek-R1-Distill-Llama) have none to read.
    if (rendered->find("Europe/Paris") == std::string::npos) continue;
    // The model's side: what follows the generation prompt (up to where the turn ends).
    std::string_view model_side = *rendered;
    if (model_side.substr(0, prefix->size()) == *prefix) {
      model_side.remove_prefix(prefix->size());
    } else {
      const size_t at = model_side.find("Weather and time in Paris?");
      model_side.remove_prefix(at + 26);
    }
    const Parsed p = Parse(f, model_side, 0, Options({"get_weather", "get_time"}));
    const std::string name = entry.path().filename().string() + " (" + ToolCallFormatName(f) + ")";
    bool ok = p.calls.size() == 2 && p.calls[0].name == "get_weather" &&
              p.calls[1].name == "get_time";
    ok = ok && Args(p.calls[0]) == OJson({{"location", "Paris"}, {"unit", "celsius"}}) &&
         Args(p.calls[1]) == OJson({{"tz", "Europe/Paris"}});
    if (!ok) {
      failed.push_back(name + ": " + std::string(model_side.substr(0, 300)));
    }
    ++checked;
  }
  for (const std::string& f : failed) ADD_FAILURE() << f;
  EXPECT_GE(checked, 10) << "templates with a known tool-call format";
  std::printf("template round trip: %d templates, %zu failed\n", checked, failed.size());
}

}  // namespace
}  // namespace mint::frontend
