// Differential test: every chat template in shared/chat-templates rendered by Mint and by jinja2
// (tests/tokenizer/render_template_oracle.py, set up as transformers does) over a set of
// conversations; outputs must be byte-identical, and when jinja2 rejects a conversation Mint
// must fail too. Skips when python3-jinja2 is not installed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "tokenizer/chat_template.h"

namespace mint::tokenizer {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

constexpr int64_t kNow = 1721995200;  // 2024-07-26 12:00:00 UTC

// Templates whose failures are documented as unsupported features (docs/chat_templates.md).
const std::vector<std::string> kKnownUnsupported = {};

struct Scenario {
  std::string name;
  json messages;
  json tools;
  bool add_generation_prompt;
  json extra_context = json::object();
};

json Tools() {
  return json::parse(R"([{"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city.",
    "parameters": {"type": "object", "properties": {
      "location": {"type": "string", "description": "City name, e.g. Paris"},
      "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
      "required": ["location"]}}}])");
}

std::vector<Scenario> Scenarios() {
  json system_user = json::parse(R"([
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Hello! What's 2+2? Réponds en français, s'il te plaît 😊"}])");
  json multi = json::parse(R"([
    {"role": "user", "content": "Hi there."},
    {"role": "assistant", "content": "Hello! How can I help you today?"},
    {"role": "user", "content": "Tell me a joke about \"quotes\" and\nnewlines."}])");
  json multi_sys = json::parse(R"([
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Name a color."},
    {"role": "assistant", "content": "Blue."},
    {"role": "user", "content": "Another one."},
    {"role": "assistant", "content": "Green."}])");
  json tool_turns = json::parse(R"([
    {"role": "system", "content": "You can call tools."},
    {"role": "user", "content": "What's the weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
      "function": {"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}}}]},
    {"role": "tool", "tool_call_id": "call_1", "name": "get_weather",
     "content": "{\"temperature\": 22, \"condition\": \"sunny\"}"}])");
  json tool_done = tool_turns;
  tool_done.push_back(json::parse(R"({"role": "assistant", "content": "It is 22°C and sunny in Paris."})"));
  json parts = json::parse(R"([
    {"role": "user", "content": [{"type": "text", "text": "Describe this"},
                                 {"type": "text", "text": " in one word."}]}])");
  json string_args = tool_done;
  string_args[2]["content"] = nullptr;
  string_args[2]["tool_calls"][0]["function"]["arguments"] =
      R"({"location": "Paris", "unit": "celsius"})";
  json thinking = json::parse(R"([
    {"role": "user", "content": "What is 7 * 6?"},
    {"role": "assistant", "content": "42", "reasoning_content": "7 times 6 is 42."},
    {"role": "user", "content": "And 6 * 9?"}])");
  return {
      {"system_user", system_user, nullptr, true},
      {"tools_chat", system_user, Tools(), true},
      {"tool_calls_string_args", string_args, Tools(), false},
      {"thinking_off", thinking, nullptr, true, json{{"enable_thinking", false}}},
      {"thinking_on", thinking, nullptr, true, json{{"enable_thinking", true}}},
      {"multi_turn", multi, nullptr, true},
      {"multi_turn_no_gen", multi_sys, nullptr, false},
      {"tool_calls", tool_done, Tools(), false},
      {"tool_result_gen", tool_turns, Tools(), true},
      {"content_parts", parts, nullptr, true},
  };
}

bool HaveJinja2() {
  return std::system("/usr/bin/python3 -c 'import jinja2' >/dev/null 2>&1") == 0;
}

// Runs the oracle on all requests at once; returns its JSON results.
json RunOracle(const json& requests) {
  fs::path dir = fs::temp_directory_path();
  fs::path in = dir / ("mint_oracle_in_" + std::to_string(::getpid()) + ".json");
  fs::path out = dir / ("mint_oracle_out_" + std::to_string(::getpid()) + ".json");
  std::ofstream(in) << requests.dump();
  std::string cmd = std::string("/usr/bin/python3 ") + MINT_SOURCE_DIR +
                    "/tests/tokenizer/render_template_oracle.py < " + in.string() + " > " +
                    out.string();
  int rc = std::system(cmd.c_str());
  std::ifstream f(out);
  std::stringstream ss;
  ss << f.rdbuf();
  fs::remove(in);
  fs::remove(out);
  if (rc != 0) return nullptr;
  return json::parse(ss.str(), nullptr, false);
}

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// First differing position, with context, for failure messages.
std::string Diff(const std::string& want, const std::string& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  size_t from = i > 40 ? i - 40 : 0;
  return "at byte " + std::to_string(i) + "\n  jinja2: " + json(want.substr(from, 120)).dump() +
         "\n  mint:   " + json(got.substr(from, 120)).dump();
}

TEST(ChatTemplateDiffTest, AllTemplatesMatchJinja2) {
  if (!HaveJinja2()) GTEST_SKIP() << "python3-jinja2 is not installed";
  fs::path dir = fs::path(MINT_SHARED_DIR) / "chat-templates";
  if (!fs::exists(dir)) GTEST_SKIP() << "no templates at " << dir;
  std::vector<fs::path> templates;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".jinja") templates.push_back(e.path());
  }
  std::sort(templates.begin(), templates.end());
  ASSERT_FALSE(templates.empty());
  std::vector<Scenario> scenarios = Scenarios();
  json requests = json::array();
  for (const auto& t : templates) {
    for (const auto& s : scenarios) {
      requests.push_back({{"template", t.string()}, {"messages", s.messages}, {"tools", s.tools},
                          {"add_generation_prompt", s.add_generation_prompt},
                          {"bos_token", "<s>"}, {"eos_token", "</s>"},
                          {"extra_context", s.extra_context}, {"now", kNow}});
    }
  }
  json results = RunOracle(requests);
  ASSERT_TRUE(results.is_array() && results.size() == requests.size()) << "oracle failed";

  size_t idx = 0, passed = 0, rendered = 0;
  std::string table = "\n| template | result | oracle errors |\n|---|---|---|\n";
  for (const auto& t : templates) {
    std::string name = t.stem().string();
    auto parsed = ChatTemplate::Parse(ReadFile(t));
    std::vector<std::string> failures;
    int oracle_errors = 0;
    for (const auto& s : scenarios) {
      const json& want = results[idx++];
      ChatTemplateInputs in;
      in.messages = s.messages;
      in.tools = s.tools;
      in.add_generation_prompt = s.add_generation_prompt;
      in.bos_token = "<s>";
      in.eos_token = "</s>";
      in.now_unix_seconds = kNow;
      in.extra_context = s.extra_context;
      Result<std::string> got = parsed.ok() ? (*parsed)->Render(in) : Result<std::string>(parsed.status());
      if (!want["ok"].get<bool>()) {
        ++oracle_errors;
        if (got.ok()) {
          failures.push_back(s.name + ": jinja2 failed (" + want["error"].get<std::string>() +
                             ") but Mint rendered");
        }
        continue;
      }
      ++rendered;
      std::string expected = want["output"].get<std::string>();
      if (!got.ok()) {
        failures.push_back(s.name + ": Mint failed: " + got.status().ToString());
      } else if (*got != expected) {
        failures.push_back(s.name + ": output differs " + Diff(expected, *got));
      }
    }
    bool known = std::find(kKnownUnsupported.begin(), kKnownUnsupported.end(), name) !=
                 kKnownUnsupported.end();
    table += "| " + name + " | " + (failures.empty() ? "pass" : (known ? "known-unsupported" : "FAIL")) +
             " | " + std::to_string(oracle_errors) + "/" + std::to_string(scenarios.size()) + " |\n";
    if (failures.empty()) {
      ++passed;
    } else if (!known) {
      std::string all;
      for (const auto& f : failures) all += "\n  " + f;
      ADD_FAILURE() << name << ":" << all;
    }
  }
  std::printf("%s\n%zu/%zu templates pass; %zu renders compared byte-for-byte\n", table.c_str(),
              passed, templates.size(), rendered);
}

}  // namespace
}  // namespace mint::tokenizer
