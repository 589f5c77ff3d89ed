#include "frontend/tool_calls.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <random>

#include <nlohmann/json.hpp>

namespace mint::frontend {
namespace {

using Json = nlohmann::ordered_json;

struct Markers {
  std::string_view start;  // empty: the region starts at the output's start (llama3, pythonic)
  std::string_view end;    // empty: the region runs to the end of the output
};

constexpr std::string_view kPythonTag = "<|python_tag|>";
constexpr std::string_view kDsCallsBegin = "<｜tool▁calls▁begin｜>";
constexpr std::string_view kDsCallsEnd = "<｜tool▁calls▁end｜>";
constexpr std::string_view kDsCallBegin = "<｜tool▁call▁begin｜>";
constexpr std::string_view kDsCallEnd = "<｜tool▁call▁end｜>";
constexpr std::string_view kDsSep = "<｜tool▁sep｜>";
constexpr std::string_view kKimiBegin = "<|tool_calls_section_begin|>";
constexpr std::string_view kKimiEnd = "<|tool_calls_section_end|>";
constexpr std::string_view kKimiCallBegin = "<|tool_call_begin|>";
constexpr std::string_view kKimiArgBegin = "<|tool_call_argument_begin|>";
constexpr std::string_view kKimiCallEnd = "<|tool_call_end|>";
constexpr std::string_view kMistralCalls = "[TOOL_CALLS]";

Markers MarkersOf(ToolCallFormat f) {
  switch (f) {
    case ToolCallFormat::kHermes:
    case ToolCallFormat::kQwen3Coder:
    case ToolCallFormat::kGlm45:
      return {"<tool_call>", "</tool_call>"};
    case ToolCallFormat::kMistral:
      return {kMistralCalls, ""};
    case ToolCallFormat::kDeepSeek:
      return {kDsCallsBegin, kDsCallsEnd};
    case ToolCallFormat::kKimiK2:
      return {kKimiBegin, kKimiEnd};
    case ToolCallFormat::kHarmony:
      return {"<|channel|>commentary to=functions.", "<|call|>"};
    case ToolCallFormat::kSeedOss:
      return {"<seed:tool_call>", "</seed:tool_call>"};
    case ToolCallFormat::kFunctionary:
      return {"<function=", "</function>"};
    case ToolCallFormat::kCommandR:
      return {"<|START_ACTION|>", "<|END_ACTION|>"};
    case ToolCallFormat::kApriel:
      return {"<tool_calls>", "</tool_calls>"};
    case ToolCallFormat::kMiniMax:
      return {"<minimax:tool_call>", "</minimax:tool_call>"};
    default:
      return {"", ""};
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The longest suffix of `s` that is a proper prefix of `marker`.
size_t PartialSuffix(std::string_view s, std::string_view marker) {
  for (size_t n = std::min(s.size(), marker.size() - 1); n > 0; --n) {
    if (s.substr(s.size() - n) == marker.substr(0, n)) return n;
  }
  return 0;
}

std::optional<Json> ParseJson(std::string_view text) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// A parameter value as XML-ish formats write it: JSON when it parses, else the text.
Json ValueOf(std::string_view raw) {
  std::string_view v = raw;
  if (!v.empty() && v.front() == '\n') v.remove_prefix(1);
  if (!v.empty() && v.back() == '\n') v.remove_suffix(1);
  if (auto j = ParseJson(v); j && !j->is_string()) return *j;
  return std::string(v);
}

// Arguments as the API carries them: an object's JSON text; a string that holds JSON stays as is.
std::string ArgumentsText(const Json& a) {
  if (a.is_string()) return a.get<std::string>();
  if (a.is_null()) return "{}";
  // Values taken as text (XML-ish formats) may hold invalid UTF-8: replaced, never thrown.
  return a.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Where the balanced {...} at the start of `s` (after whitespace) ends (one past its '}'), or
// npos when there is none or it is unterminated.
size_t JsonEnd(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  if (i >= s.size() || s[i] != '{') return std::string_view::npos;
  int depth = 0;
  bool in_string = false, escaped = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

// Splits `s` into its top-level JSON objects, skipping separators (whitespace, ';', ','); empty
// when anything else is there or one is unterminated.
std::vector<std::string_view> JsonObjects(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  for (;;) {
    while (i < s.size() && (std::isspace(static_cast<unsigned char>(s[i])) || s[i] == ';' ||
                            s[i] == ',')) {
      ++i;
    }
    if (i >= s.size()) return out;
    const size_t n = JsonEnd(s.substr(i));
    if (n == std::string_view::npos) return {};
    out.push_back(s.substr(i, n));
    i += n;
  }
}

// ---- pythonic: [f(a=1, b="x"), g()] --------------------------------------------------------
class PyParser {
 public:
  explicit PyParser(std::string_view s) : s_(s) {}
  // The calls, or nullopt when `s` is not a list of calls.
  std::optional<std::vector<std::pair<std::string, Json>>> Calls() {
    std::vector<std::pair<std::string, Json>> calls;
    Ws();
    if (!Eat('[')) return std::nullopt;
    Ws();
    if (Eat(']')) return Ws(), AtEnd() ? std::optional(calls) : std::nullopt;
    for (;;) {
      auto name = Ident();
      if (!name) return std::nullopt;
      while (Peek() == '.') {  // module.function
        ++i_;
        auto more = Ident();
        if (!more) return std::nullopt;
        *name += "." + *more;
      }
      Ws();
      if (!Eat('(')) return std::nullopt;
      Json args = Json::object();
      Ws();
      if (!Eat(')')) {
        for (;;) {
          Ws();
          auto key = Ident();
          if (!key) return std::nullopt;
          Ws();
          if (!Eat('=')) return std::nullopt;
          auto v = Value();
          if (!v) return std::nullopt;
          args[*key] = std::move(*v);
          Ws();
          if (Eat(')')) break;
          if (!Eat(',')) return std::nullopt;
        }
      }
      calls.emplace_back(std::move(*name), std::move(args));
      Ws();
      if (Eat(']')) break;
      if (!Eat(',')) return std::nullopt;
      Ws();
    }
    Ws();
    if (!AtEnd()) return std::nullopt;
    return calls;
  }

 private:
  char Peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  bool AtEnd() const { return i_ >= s_.size(); }
  bool Eat(char c) {
    if (Peek() != c) return false;
    ++i_;
    return true;
  }
  void Ws() {
    while (std::isspace(static_cast<unsigned char>(Peek()))) ++i_;
  }
  std::optional<std::string> Ident() {
    const size_t b = i_;
    while (std::isalnum(static_cast<unsigned char>(Peek())) || Peek() == '_' || Peek() == '-') ++i_;
    if (i_ == b || std::isdigit(static_cast<unsigned char>(s_[b]))) return std::nullopt;
    return std::string(s_.substr(b, i_ - b));
  }
  std::optional<Json> Value() {
    Ws();
    const char c = Peek();
    if (c == '"' || c == '\'') return String(c);
    if (c == '[') {
      ++i_;
      Json a = Json::array();
      Ws();
      if (Eat(']')) return a;
      for (;;) {
        auto v = Value();
        if (!v) return std::nullopt;
        a.push_back(std::move(*v));
        Ws();
        if (Eat(']')) return a;
        if (!Eat(',')) return std::nullopt;
      }
    }
    if (c == '{') {
      ++i_;
      Json o = Json::object();
      Ws();
      if (Eat('}')) return o;
      for (;;) {
        Ws();
        const char q = Peek();
        if (q != '"' && q != '\'') return std::nullopt;
        auto k = String(q);
        if (!k) return std::nullopt;
        Ws();
        if (!Eat(':')) return std::nullopt;
        auto v = Value();
        if (!v) return std::nullopt;
        o[k->get<std::string>()] = std::move(*v);
        Ws();
        if (Eat('}')) return o;
        if (!Eat(',')) return std::nullopt;
      }
    }
    const size_t b = i_;
    while (std::isalnum(static_cast<unsigned char>(Peek())) || Peek() == '.' || Peek() == '-' ||
           Peek() == '+' || Peek() == '_') {
      ++i_;
    }
    const std::string_view word = s_.substr(b, i_ - b);
    if (word == "True" || word == "true") return Json(true);
    if (word == "False" || word == "false") return Json(false);
    if (word == "None" || word == "null") return Json(nullptr);
    if (auto j = ParseJson(word); j && j->is_number()) return j;
    return std::nullopt;
  }
  std::optional<Json> String(char quote) {
    ++i_;
    std::string out;
    while (!AtEnd() && Peek() != quote) {
      char c = s_[i_++];
      if (c == '\\' && !AtEnd()) {
        const char e = s_[i_++];
        switch (e) {
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          case 'r': c = '\r'; break;
          default: c = e; break;
        }
      }
      out += c;
    }
    if (!Eat(quote)) return std::nullopt;
    return Json(std::move(out));
  }

  std::string_view s_;
  size_t i_ = 0;
};

// Text between `open` and the next `close` after position `from`; npos-safe.
std::optional<std::string_view> Between(std::string_view s, std::string_view open,
                                        std::string_view close, size_t* from) {
  const size_t a = s.find(open, *from);
  if (a == std::string_view::npos) return std::nullopt;
  const size_t b = s.find(close, a + open.size());
  if (b == std::string_view::npos) return std::nullopt;
  *from = b + close.size();
  return s.substr(a + open.size(), b - a - open.size());
}

// A function name as the API allows them (letters, digits, '_', '-', '.', ':'; at most 128).
bool ValidName(std::string_view n) {
  if (n.empty() || n.size() > 128) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
           c == ':';
  });
}

std::string RandomId() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id += kChars[rng() % (sizeof(kChars) - 1)];
  return id;
}

// A parsed call, before its name is checked.
struct Staged {
  std::string name;
  std::string arguments;  // JSON text
  std::string id;         // the model's own, when its format has one
};
using Calls = std::vector<Staged>;

void Stage(Calls* calls, std::string name, const Json& args, std::string id = {}) {
  calls->push_back({std::move(name), ArgumentsText(args), std::move(id)});
}

// {"name": N, "arguments"|"parameters": {...}, "id"?: ...}
bool FromObject(Calls* calls, const Json& j) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return false;
  const Json* a = j.contains("arguments")    ? &j["arguments"]
                  : j.contains("parameters") ? &j["parameters"]
                                             : nullptr;
  Stage(calls, j["name"].get<std::string>(), a ? *a : Json::object(),
        j.contains("id") && j["id"].is_string() ? j["id"].get<std::string>() : "");
  return true;
}

// ---- One parser per format: the region's body (markers removed) to calls; false when the body
// holds no valid call of its format. ------------------------------------------------------------

// <tool_call>{"name": N, "arguments": {...}}</tool_call>
bool ParseHermes(std::string_view body, Calls* calls) {
  auto j = ParseJson(Trim(body));
  return j && FromObject(calls, *j);
}

// {"name": N, "parameters": {...}} (several: ';' or whitespace), after <|python_tag|>
bool ParseLlama3(std::string_view body, Calls* calls) {
  std::string_view b = Trim(body);
  if (b.substr(0, kPythonTag.size()) == kPythonTag) b = Trim(b.substr(kPythonTag.size()));
  const auto objects = JsonObjects(b);
  if (objects.empty()) return false;
  for (std::string_view o : objects) {
    auto j = ParseJson(o);
    if (!j || !FromObject(calls, *j)) return false;
    if (!(*j).contains("parameters") && !(*j).contains("arguments")) return false;
  }
  return true;
}

// [f(a=1), g()]
bool ParsePythonic(std::string_view body, Calls* calls) {
  auto parsed = PyParser(Trim(body)).Calls();
  if (!parsed || parsed->empty()) return false;
  for (auto& [name, args] : *parsed) Stage(calls, name, args);
  return true;
}

// <function=N><parameter=k>v</parameter>...</function> (Qwen3-Coder, Seed-OSS)
bool ParseQwen3Coder(std::string_view body, Calls* calls) {
  size_t pos = 0;
  const std::string_view b = Trim(body);
  const size_t f = b.find("<function=");
  const size_t gt = b.find('>', f);
  if (f == std::string_view::npos || gt == std::string_view::npos) return false;
  const std::string name(b.substr(f + 10, gt - f - 10));
  Json args = Json::object();
  pos = gt + 1;
  for (;;) {
    const size_t p = b.find("<parameter=", pos);
    if (p == std::string_view::npos) break;
    const size_t pg = b.find('>', p);
    const size_t pe = b.find("</parameter>", pg);
    if (pg == std::string_view::npos || pe == std::string_view::npos) return false;
    args[std::string(b.substr(p + 11, pg - p - 11))] = ValueOf(b.substr(pg + 1, pe - pg - 1));
    pos = pe + 12;
  }
  if (b.find("</function>", pos) == std::string_view::npos) return false;
  Stage(calls, name, args);
  return true;
}

// N<arg_key>k</arg_key><arg_value>v</arg_value>...
bool ParseGlm45(std::string_view body, Calls* calls) {
  const std::string_view b = Trim(body);
  const size_t k = b.find("<arg_key>");
  const std::string name(Trim(b.substr(0, k)));
  Json args = Json::object();
  size_t pos = k == std::string_view::npos ? b.size() : k;
  while (auto key = Between(b, "<arg_key>", "</arg_key>", &pos)) {
    auto value = Between(b, "<arg_value>", "</arg_value>", &pos);
    if (!value) return false;
    args[std::string(Trim(*key))] = ValueOf(*value);
  }
  if (name.find_first_of("<>\n") != std::string::npos) return false;
  Stage(calls, name, args);
  return true;
}

// <｜tool▁call▁begin｜>...<｜tool▁call▁end｜>, V3/R1 and V3.1 forms
bool ParseDeepSeek(std::string_view body, Calls* calls) {
  size_t pos = 0;
  while (auto call = Between(body, kDsCallBegin, kDsCallEnd, &pos)) {
    const size_t sep = call->find(kDsSep);
    if (sep == std::string_view::npos) return false;
    std::string_view left = Trim(call->substr(0, sep));
    std::string_view right = call->substr(sep + kDsSep.size());
    std::string name;
    if (left == "function") {  // V3 / R1: NAME\n```json\nARGS\n```
      const size_t nl = right.find('\n');
      name = std::string(Trim(right.substr(0, nl)));
      right = nl == std::string_view::npos ? std::string_view() : right.substr(nl + 1);
      right = Trim(right);
      if (right.substr(0, 7) == "```json") right.remove_prefix(7);
      if (right.size() >= 3 && right.substr(right.size() - 3) == "```") right.remove_suffix(3);
    } else {
      name = std::string(left);
    }
    auto j = ParseJson(Trim(right));
    if (!j) return false;
    Stage(calls, std::move(name), *j);
  }
  return true;
}

// <|tool_call_begin|>functions.N:I<|tool_call_argument_begin|>{...}<|tool_call_end|>...
bool ParseKimiK2(std::string_view body, Calls* calls) {
  size_t pos = 0;
  while (auto call = Between(body, kKimiCallBegin, kKimiCallEnd, &pos)) {
    const size_t arg = call->find(kKimiArgBegin);
    if (arg == std::string_view::npos) return false;
    const std::string_view id = Trim(call->substr(0, arg));
    std::string_view name = id;
    if (name.substr(0, 10) == "functions.") name.remove_prefix(10);
    name = name.substr(0, name.rfind(':'));
    auto j = ParseJson(Trim(call->substr(arg + kKimiArgBegin.size())));
    if (!j) return false;
    Stage(calls, std::string(name), *j, std::string(id));
  }
  return true;
}

// N [<|constrain|>json]<|message|>{...}
bool ParseHarmony(std::string_view body, Calls* calls) {
  const size_t msg = body.find("<|message|>");
  if (msg == std::string_view::npos) return false;
  std::string_view head = body.substr(0, msg);
  const size_t sp = head.find_first_of(" <");
  const std::string name(head.substr(0, sp));
  auto j = ParseJson(Trim(body.substr(msg + 11)));
  if (!j) return false;
  Stage(calls, name, *j);
  return true;
}

// N>{...}
bool ParseFunctionary(std::string_view body, Calls* calls) {
  const size_t gt = body.find('>');
  if (gt == std::string_view::npos) return false;
  auto j = ParseJson(Trim(body.substr(gt + 1)));
  if (!j) return false;
  Stage(calls, std::string(Trim(body.substr(0, gt))), *j);
  return true;
}

// <invoke name="N"><parameter name="k">v</parameter></invoke>...
bool ParseMiniMax(std::string_view body, Calls* calls) {
  size_t pos = 0;
  while (auto call = Between(body, "<invoke name=\"", "</invoke>", &pos)) {
    const size_t q = call->find("\">");
    if (q == std::string_view::npos) return false;
    Json args = Json::object();
    size_t ppos = q;
    while (auto param = Between(*call, "<parameter name=\"", "</parameter>", &ppos)) {
      const size_t pq = param->find("\">");
      if (pq == std::string_view::npos) return false;
      args[std::string(param->substr(0, pq))] = ValueOf(Trim(param->substr(pq + 2)));
    }
    Stage(calls, std::string(call->substr(0, q)), args);
  }
  return true;
}

// [{"tool_name": N, "parameters": {...}}, ...] (Command-R) or [{"name": N, "arguments": {...}}, ...]
// (Apriel)
bool ParseJsonArray(std::string_view body, bool command_r, Calls* calls) {
  auto j = ParseJson(Trim(body));
  if (!j || !j->is_array() || j->empty()) return false;
  for (const Json& c : *j) {
    if (!command_r) {
      if (!FromObject(calls, c)) return false;
      continue;
    }
    if (!c.is_object() || !c.contains("tool_name") || !c["tool_name"].is_string()) return false;
    Stage(calls, c["tool_name"].get<std::string>(),
          c.contains("parameters") ? c["parameters"] : Json::object());
  }
  return true;
}

// [TOOL_CALLS][{...}, ...] or [TOOL_CALLS]N[ARGS]{...} repeated; the whole region (markers
// included). `trailing_content`: text after the last call's arguments.
bool ParseMistral(std::string_view region, Calls* calls, std::string* trailing_content) {
  std::string_view rest = region;
  std::string_view trailing;
  while (!rest.empty()) {
    if (rest.substr(0, kMistralCalls.size()) != kMistralCalls) return false;
    rest.remove_prefix(kMistralCalls.size());
    const size_t next = rest.find(kMistralCalls);
    std::string_view part = Trim(rest.substr(0, next));
    rest = next == std::string_view::npos ? std::string_view() : rest.substr(next);
    if (!part.empty() && part.front() == '[') {  // v0.3: a JSON array of calls
      auto j = ParseJson(part);
      if (!j || !j->is_array() || j->empty()) return false;
      for (const Json& c : *j) {
        if (!FromObject(calls, c)) return false;
      }
      continue;
    }
    const size_t a = part.find("[ARGS]");
    if (a == std::string_view::npos) return false;
    std::string_view name = part.substr(0, a), id;
    if (const size_t c = name.find("[CALL_ID]"); c != std::string_view::npos) {
      id = name.substr(c + 9);
      name = name.substr(0, c);
    }
    // The arguments object; what follows the last one (e.g. "</s>") is text.
    const std::string_view after = Trim(part.substr(a + 6));
    const size_t n = JsonEnd(after);
    if (n == std::string_view::npos) return false;
    auto j = ParseJson(after.substr(0, n));
    if (!j) return false;
    Stage(calls, std::string(Trim(name)), *j, std::string(id));
    trailing = after.substr(n);
  }
  *trailing_content = std::string(trailing);
  return true;
}

}  // namespace

Result<ToolCallFormat> ParseToolCallFormat(std::string_view name) {
  for (ToolCallFormat f :
       {ToolCallFormat::kNone, ToolCallFormat::kHermes, ToolCallFormat::kQwen3Coder,
        ToolCallFormat::kLlama3, ToolCallFormat::kPythonic, ToolCallFormat::kMistral,
        ToolCallFormat::kDeepSeek, ToolCallFormat::kKimiK2, ToolCallFormat::kGlm45,
        ToolCallFormat::kHarmony, ToolCallFormat::kSeedOss, ToolCallFormat::kFunctionary,
        ToolCallFormat::kCommandR, ToolCallFormat::kApriel, ToolCallFormat::kMiniMax}) {
    if (name == ToolCallFormatName(f)) return f;
  }
  return Status::InvalidArgument(
      "unknown tool-call parser '" + std::string(name) +
      "' (none, hermes, qwen3-coder, llama3, pythonic, mistral, deepseek, kimi-k2, glm45, "
      "harmony, seed-oss, functionary, command-r, apriel, minimax)");
}

const char* ToolCallFormatName(ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::kNone: return "none";
    case ToolCallFormat::kHermes: return "hermes";
    case ToolCallFormat::kQwen3Coder: return "qwen3-coder";
    case ToolCallFormat::kLlama3: return "llama3";
    case ToolCallFormat::kPythonic: return "pythonic";
    case ToolCallFormat::kMistral: return "mistral";
    case ToolCallFormat::kDeepSeek: return "deepseek";
    case ToolCallFormat::kKimiK2: return "kimi-k2";
    case ToolCallFormat::kGlm45: return "glm45";
    case ToolCallFormat::kHarmony: return "harmony";
    case ToolCallFormat::kSeedOss: return "seed-oss";
    case ToolCallFormat::kFunctionary: return "functionary";
    case ToolCallFormat::kCommandR: return "command-r";
    case ToolCallFormat::kApriel: return "apriel";
    case ToolCallFormat::kMiniMax: return "minimax";
  }
  return "?";
}

ToolCallFormat DetectToolCallFormat(std::string_view t) {
  auto has = [&](std::string_view s) { return t.find(s) != std::string_view::npos; };
  // MiniMax-M3 writes its calls between separator tokens no parser here knows: calls stay text.
  if (has("]<]minimax[>[")) return ToolCallFormat::kNone;
  if (has("tool▁calls▁begin") || has("tool_calls_begin")) return ToolCallFormat::kDeepSeek;
  if (has("<|tool_calls_section_begin|>")) return ToolCallFormat::kKimiK2;
  if (has("<seed:tool_call>")) return ToolCallFormat::kSeedOss;
  if (has("<minimax:tool_call>")) return ToolCallFormat::kMiniMax;
  if (has("<|START_ACTION|>")) return ToolCallFormat::kCommandR;
  if (has("<tool_calls>[")) return ToolCallFormat::kApriel;
  if (has("<function=") && has("</function>") && !has("<parameter=")) {
    return ToolCallFormat::kFunctionary;
  }
  if (has("<arg_key>")) return ToolCallFormat::kGlm45;
  if (has("<function=") && has("<parameter=")) return ToolCallFormat::kQwen3Coder;
  if (has("<tool_call>")) return ToolCallFormat::kHermes;
  if (has("[TOOL_CALLS]")) return ToolCallFormat::kMistral;
  if (has("to=functions.") || has("<|constrain|>")) return ToolCallFormat::kHarmony;
  if (has("<|python_tag|>") || (has("\"parameters\"") && has("<|eom_id|>")) ||
      (has("\"name\": \"") && has("\"parameters\": "))) {
    return ToolCallFormat::kLlama3;
  }
  return ToolCallFormat::kNone;
}

ToolCallParser::ToolCallParser(ToolCallFormat format, ToolCallOptions options)
    : format_(format), options_(std::move(options)) {
  if (!options_.make_id) options_.make_id = [](int) { return RandomId(); };
}

bool ToolCallParser::AddCall(std::string name, std::string arguments, std::string id,
                             Delta* out) {
  if (name.empty()) return false;
  const auto& allowed = options_.tool_names;
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
    return false;
  }
  if (!options_.parallel && !calls_.empty()) return true;  // dropped, not content
  const int index = static_cast<int>(calls_.size());
  if (id.empty()) id = options_.make_id(index);
  calls_.push_back({std::move(id), std::move(name), std::move(arguments)});
  out->calls.push_back(index);
  return true;
}

bool ToolCallParser::ParseRegion(std::string_view region, Delta* out) {
  const Markers m = MarkersOf(format_);
  std::string_view body = region;
  if (!m.start.empty() && body.substr(0, m.start.size()) == m.start) body.remove_prefix(m.start.size());
  if (!m.end.empty() && body.size() >= m.end.size() &&
      body.substr(body.size() - m.end.size()) == m.end) {
    body.remove_suffix(m.end.size());
  }
  // Calls are staged so that a region that turns out invalid adds none.
  Calls staged;
  std::string trailing_content;  // text after the calls that belongs to the content
  bool ok = false;
  switch (format_) {
    case ToolCallFormat::kNone: break;
    case ToolCallFormat::kHermes: ok = ParseHermes(body, &staged); break;
    case ToolCallFormat::kLlama3: ok = ParseLlama3(body, &staged); break;
    case ToolCallFormat::kPythonic: ok = ParsePythonic(body, &staged); break;
    case ToolCallFormat::kQwen3Coder:
    case ToolCallFormat::kSeedOss: ok = ParseQwen3Coder(body, &staged); break;
    case ToolCallFormat::kGlm45: ok = ParseGlm45(body, &staged); break;
    case ToolCallFormat::kMistral: ok = ParseMistral(region, &staged, &trailing_content); break;
    case ToolCallFormat::kDeepSeek: ok = ParseDeepSeek(body, &staged); break;
    case ToolCallFormat::kKimiK2: ok = ParseKimiK2(body, &staged); break;
    case ToolCallFormat::kHarmony: ok = ParseHarmony(body, &staged); break;
    case ToolCallFormat::kFunctionary: ok = ParseFunctionary(body, &staged); break;
    case ToolCallFormat::kCommandR: ok = ParseJsonArray(body, true, &staged); break;
    case ToolCallFormat::kApriel: ok = ParseJsonArray(body, false, &staged); break;
    case ToolCallFormat::kMiniMax: ok = ParseMiniMax(body, &staged); break;
  }
  if (!ok || staged.empty()) return false;
  const auto& allowed = options_.tool_names;
  for (const Staged& c : staged) {
    if (!ValidName(c.name)) return false;  // markup or prose where a name should be
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), c.name) == allowed.end()) {
      return false;  // a name the request did not offer: the region is text
    }
  }
  for (Staged& c : staged) AddCall(std::move(c.name), std::move(c.arguments), std::move(c.id), out);
  out->content += trailing_content;
  return true;
}

void ToolCallParser::Step(Delta* out, bool final) {
  const Markers m = MarkersOf(format_);
  for (;;) {
    switch (state_) {
      case State::kStart: {
        // llama3 / pythonic: a call only as the whole output; others start in content.
        if (format_ != ToolCallFormat::kLlama3 && format_ != ToolCallFormat::kPythonic) {
          state_ = State::kContent;
          continue;
        }
        const std::string_view t = Trim(held_);
        if (t.empty()) {
          if (final) state_ = State::kContent;
          else return;
          continue;
        }
        if (format_ == ToolCallFormat::kLlama3 && t.size() < kPythonTag.size() &&
            kPythonTag.substr(0, t.size()) == t && !final) {
          return;  // maybe <|python_tag|>
        }
        const bool opens = format_ == ToolCallFormat::kPythonic
                               ? t.front() == '['
                               : t.front() == '{' || t.substr(0, kPythonTag.size()) == kPythonTag;
        state_ = opens ? State::kCall : State::kContent;
        continue;
      }
      case State::kContent: {
        if (m.start.empty()) {  // llama3 / pythonic after deciding on content
          out->content += held_;
          held_.clear();
          return;
        }
        const size_t at = held_.find(m.start);
        if (at == std::string::npos) {
          const size_t keep = final ? 0 : PartialSuffix(held_, m.start);
          out->content += held_.substr(0, held_.size() - keep);
          held_.erase(0, held_.size() - keep);
          return;
        }
        out->content += held_.substr(0, at);
        held_.erase(0, at);
        state_ = State::kCall;
        continue;
      }
      case State::kCall: {
        size_t end = std::string::npos;
        if (!m.end.empty()) {
          const size_t e = held_.find(m.end, m.start.size());
          if (e != std::string::npos) end = e + m.end.size();
        }
        if (end == std::string::npos && !final) return;  // wait for the end (or the output's)
        const std::string region = held_.substr(0, std::min(end, held_.size()));
        held_.erase(0, region.size());
        if (!ParseRegion(region, out)) out->content += region;
        state_ = m.start.empty() ? State::kDone : State::kContent;
        if (final && held_.empty()) return;
        continue;
      }
      case State::kDone:
        out->content += held_;
        held_.clear();
        return;
    }
  }
}

ToolCallParser::Delta ToolCallParser::Push(std::string_view piece) {
  Delta out;
  held_.append(piece);
  Step(&out, false);
  return out;
}

ToolCallParser::Delta ToolCallParser::Flush() {
  Delta out;
  Step(&out, true);
  return out;
}

}  // namespace mint::frontend
