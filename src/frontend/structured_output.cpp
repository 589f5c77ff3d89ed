#include "frontend/structured_output.h"

#include "fmt/format.h"
#include "grammar/grammar.h"
#include "grammar/json_schema.h"

namespace mint::frontend {

using internal::Bad;
using internal::Check;
using internal::Field;
using internal::Json;
using internal::Shown;

namespace {

// A grammar from a schema given as an object or as its JSON text.
Check SchemaGrammar(const Json& schema, const std::string& param, std::string* out) {
  Json s = schema;
  if (schema.is_string()) {
    try {
      s = Json::parse(schema.get<std::string>());
    } catch (const std::exception&) {
      return Bad(param, param + " must be a JSON Schema (an object or its JSON text)");
    }
  }
  if (!s.is_object() && !s.is_boolean()) {
    return Bad(param, param + " must be a JSON Schema object, got " + Shown(schema));
  }
  auto g = grammar::JsonSchemaToGbnf(s);
  if (!g.ok()) return Bad(param, param + ": " + g.status().message());
  *out = std::move(*g);
  return std::nullopt;
}

Check ResponseFormat(const Json& rf, std::string* out) {
  const Json* type = rf.is_object() ? Field(rf, "type") : nullptr;
  if (type == nullptr || !type->is_string()) {
    return Bad("response_format", "response_format must be an object with a string \"type\"");
  }
  if (*type == "text") return std::nullopt;
  if (*type == "json_object") {
    *out = grammar::JsonObjectGbnf();
    return std::nullopt;
  }
  if (*type == "json_schema") {
    const Json* js = Field(rf, "json_schema");
    if (js == nullptr || !js->is_object()) {
      return Bad("response_format.json_schema",
                 "response_format.json_schema is required for type json_schema: it needs \"json_schema\": {\"name\": ..., \"schema\": {...}}");
    }
    const Json* schema = Field(*js, "schema");
    if (schema == nullptr) {
      return Bad("response_format.json_schema.schema", "response_format.json_schema.schema is required");
    }
    return SchemaGrammar(*schema, "response_format.json_schema.schema", out);
  }
  return Bad("response_format", "response_format type " + Shown(*type) +
                                    " is not supported (text, json_object, json_schema)");
}

}  // namespace

Check ParseStructuredOutput(const Json& obj, GenParams* params) {
  std::string grammar;
  std::string given;  // the field that set it
  auto set = [&](const std::string& field, std::string g) -> Check {
    if (g.empty()) return std::nullopt;
    if (!given.empty()) {
      return Bad(field, field + " cannot be combined with " + given + " (one constraint per request)");
    }
    grammar = std::move(g), given = field;
    return std::nullopt;
  };
  if (const Json* rf = Field(obj, "response_format")) {
    std::string g;
    if (auto e = ResponseFormat(*rf, &g)) return e;
    if (auto e = set("response_format", std::move(g))) return e;
  }
  if (const Json* gj = Field(obj, "guided_json")) {
    std::string g;
    if (auto e = SchemaGrammar(*gj, "guided_json", &g)) return e;
    if (auto e = set("guided_json", std::move(g))) return e;
  }
  if (const Json* gr = Field(obj, "guided_regex")) {
    if (!gr->is_string()) return Bad("guided_regex", "guided_regex must be a string, got " + Shown(*gr));
    auto g = grammar::RegexToGbnf(gr->get<std::string>());
    if (!g.ok()) return Bad("guided_regex", "guided_regex: " + g.status().message());
    if (auto e = set("guided_regex", std::move(*g))) return e;
  }
  if (const Json* gc = Field(obj, "guided_choice")) {
    std::vector<std::string> choices;
    if (gc->is_array()) {
      for (const Json& c : *gc) {
        if (!c.is_string()) break;
        choices.push_back(c.get<std::string>());
      }
    }
    if (!gc->is_array() || choices.size() != gc->size()) {
      return Bad("guided_choice", "guided_choice must be an array of strings, got " + Shown(*gc));
    }
    auto g = grammar::ChoiceToGbnf(choices);
    if (!g.ok()) return Bad("guided_choice", g.status().message());  // names guided_choice
    if (auto e = set("guided_choice", std::move(*g))) return e;
  }
  if (const Json* gg = Field(obj, "guided_grammar")) {
    if (!gg->is_string()) {
      return Bad("guided_grammar", "guided_grammar must be a GBNF string, got " + Shown(*gg));
    }
    const std::string text = gg->get<std::string>();
    if (auto g = grammar::Grammar::Parse(text); !g.ok()) {
      return Bad("guided_grammar", "guided_grammar: " + g.status().message());
    }
    if (auto e = set("guided_grammar", text)) return e;
  }
  params->grammar = std::move(grammar);
  return std::nullopt;
}

namespace {

// How one format writes calls with JSON arguments, in GBNF: QNAME / NAME / ARGS in `call` are
// the quoted name, the bare name and the arguments rule. `trigger` is the marker that starts the
// region (its GBNF spelling `trig`): before every call when `per_call`, else once before `open`.
// A required choice is trig open call (sep call)* close (trig before each call when per_call);
// a lazy one (tool_choice auto with strict tools) is what follows one trigger.
struct CallShape {
  std::string trigger, trig, open, call, sep, close;
  bool per_call = false;
};

// Fills a call template: QNAME (the name as a JSON string), NAME and ARGS, in one pass (a name
// that contains a placeholder's spelling is not rescanned).
std::string FillCall(const std::string& tmpl, const std::string& name, const std::string& args) {
  const std::pair<std::string, std::string> subs[] = {
      {"QNAME", grammar::GbnfLiteral(Json(name).dump())},
      {"NAME", grammar::GbnfLiteral(name)},
      {"ARGS", args}};
  std::string out;
  for (size_t i = 0; i < tmpl.size();) {
    bool replaced = false;
    for (const auto& [from, to] : subs) {
      if (tmpl.compare(i, from.size(), from) == 0) {
        out += to, i += from.size(), replaced = true;
        break;
      }
    }
    if (!replaced) out += tmpl[i++];
  }
  return out;
}

Result<CallShape> ShapeOf(ToolCallFormat format, const grammar::ControlSpelling& sp) {
  // A JSON call object {"<name_key>": NAME, "<args_key>": ARGS}.
  auto object = [](const char* name_key, const char* args_key) {
    return fmt::format(R"("{{" ws "\"{}\"" ws ":" ws QNAME ws "," ws "\"{}\"" ws ":" ws ARGS ws "}}")",
                       name_key, args_key);
  };
  auto shape = [&](const std::string& trigger, std::string open, std::string call, std::string sep,
                   std::string close, bool per_call) {
    return CallShape{trigger, trigger.empty() ? "" : sp.Literal(trigger), std::move(open),
                     std::move(call), std::move(sep), std::move(close), per_call};
  };
  switch (format) {
    case ToolCallFormat::kHermes:
      return shape("<tool_call>", "",
                   "\"\\n\"? " + object("name", "arguments") + " \"\\n\"? " + sp.Literal("</tool_call>"),
                   "\"\\n\"", "", true);
    case ToolCallFormat::kLlama3:
      return shape("", "", object("name", "parameters"), "\"; \"", "", false);
    case ToolCallFormat::kMistral:
      return shape("[TOOL_CALLS]", "\"[\"", object("name", "arguments"), "\", \"", "\"]\"", false);
    case ToolCallFormat::kApriel:
      return shape("<tool_calls>", "\"[\"", object("name", "arguments"), "\", \"",
                   "\"]\" " + sp.Literal("</tool_calls>"), false);
    case ToolCallFormat::kCommandR:
      return shape("<|START_ACTION|>", "\"[\"", object("tool_name", "parameters"), "\", \"",
                   "\"]\" " + sp.Literal("<|END_ACTION|>"), false);
    case ToolCallFormat::kFunctionary:
      return shape("<function=", "", "NAME \">\" ARGS \"</function>\"", "", "", true);
    case ToolCallFormat::kKimiK2:
      return shape("<|tool_calls_section_begin|>", "",
                   sp.Literal("<|tool_call_begin|>") + " \"functions.\" NAME \":\" [0-9]{1,3} " +
                       sp.Literal("<|tool_call_argument_begin|>") + " ARGS " +
                       sp.Literal("<|tool_call_end|>"),
                   "", sp.Literal("<|tool_calls_section_end|>"), false);
    case ToolCallFormat::kDeepSeek:
      return shape("<｜tool▁calls▁begin｜>", "",
                   sp.Literal("<｜tool▁call▁begin｜>") + " NAME " + sp.Literal("<｜tool▁sep｜>") +
                       " ARGS " + sp.Literal("<｜tool▁call▁end｜>"),
                   "", sp.Literal("<｜tool▁calls▁end｜>"), false);
    case ToolCallFormat::kHarmony:
      return shape("<|channel|>", "",
                   "\"commentary to=functions.\" NAME \" \" " + sp.Literal("<|constrain|>") +
                       " \"json\" " + sp.Literal("<|message|>") + " ARGS " + sp.Literal("<|call|>"),
                   "", "", true);
    default:
      return Status::InvalidArgument(fmt::format(
          "tool_choice: forcing a call is not supported for the {} tool-call format (\"auto\" is)",
          ToolCallFormatName(format)));
  }
}

// The alternatives of every offered tool (all, or the one named) and their argument rules.
Status CallAlternatives(const CallShape& shape, const Json& tools, const std::string& named,
                        std::string* calls, std::string* rules) {
  int k = 0;
  for (const Json& t : tools) {
    const std::string name = t["function"]["name"].get<std::string>();
    if (!named.empty() && name != named) continue;
    const Json* params = Field(t["function"], "parameters");
    const Json schema = params != nullptr ? *params : Json{{"type", "object"}};
    const std::string prefix = fmt::format("t{}_", k);
    auto r = grammar::JsonSchemaRules(schema, prefix);
    if (!r.ok()) {
      return Status::InvalidArgument(fmt::format("tools[{}].function.parameters: {}", k, r.status().message()));
    }
    *rules += *r;
    *calls += (calls->empty() ? "" : " | ") + FillCall(shape.call, name, prefix + "root");
    ++k;
  }
  if (calls->empty()) {
    return Status::InvalidArgument("tool_choice: no tool named \"" + named + "\" in tools");
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> ToolChoiceGrammar(ToolCallFormat format, const Json& tools,
                                      const Json& tool_choice, bool parallel,
                                      const grammar::ControlSpelling& spelling) {
  MINT_ASSIGN_OR_RETURN(CallShape shape, ShapeOf(format, spelling));
  std::string named;
  if (tool_choice.is_object()) {
    const Json* fn = Field(tool_choice, "function");
    const Json* name = fn != nullptr && fn->is_object() ? Field(*fn, "name") : nullptr;
    if (name == nullptr || !name->is_string()) {
      return Status::InvalidArgument(
          "tool_choice must be {\"type\":\"function\",\"function\":{\"name\":...}}");
    }
    named = name->get<std::string>();
    parallel = false;
  }
  std::string rules, calls;
  MINT_RETURN_IF_ERROR(CallAlternatives(shape, tools, named, &calls, &rules));
  // The trigger marker belongs to each call (per_call) or opens the region once.
  const std::string call_ref = shape.per_call ? "tcall" : "call";
  std::string g = "root ::= ";
  if (!shape.per_call && !shape.trig.empty()) g += shape.trig + " ";
  if (!shape.open.empty()) g += shape.open + " ";
  g += call_ref;
  if (parallel) g += " ( " + (shape.sep.empty() ? std::string() : shape.sep + " ") + call_ref + " )*";
  if (!shape.close.empty()) g += " " + shape.close;
  if (shape.per_call) g += "\ntcall ::= " + shape.trig + " call";
  g += "\ncall ::= " + calls + "\n" + rules + grammar::JsonBaseGbnf();
  MINT_RETURN_IF_ERROR(grammar::Grammar::Parse(g).status());
  return g;
}

Result<LazyToolGrammar> AutoToolGrammar(ToolCallFormat format, const Json& tools, bool parallel,
                                        const grammar::ControlSpelling& spelling) {
  bool strict = false;
  for (const Json& t : tools) strict = strict || t["function"].value("strict", false) == true;
  if (!strict) return LazyToolGrammar{};
  auto shape = ShapeOf(format, spelling);
  if (!shape.ok() || shape->trigger.empty()) return LazyToolGrammar{};  // unconstrained, as before
  std::string rules, calls;
  MINT_RETURN_IF_ERROR(CallAlternatives(*shape, tools, "", &calls, &rules));
  // What follows one trigger: one call (per_call: the next call has its own trigger), or the
  // whole region.
  std::string g = "root ::= ";
  if (shape->per_call) {
    g += "call";
  } else {
    if (!shape->open.empty()) g += shape->open + " ";
    g += "call";
    if (parallel) g += " ( " + (shape->sep.empty() ? std::string() : shape->sep + " ") + "call )*";
    if (!shape->close.empty()) g += " " + shape->close;
  }
  g += "\ncall ::= " + calls + "\n" + rules + grammar::JsonBaseGbnf();
  MINT_RETURN_IF_ERROR(grammar::Grammar::Parse(g).status());
  return LazyToolGrammar{.trigger = spelling.Bytes(shape->trigger), .grammar = std::move(g)};
}

}  // namespace mint::frontend
