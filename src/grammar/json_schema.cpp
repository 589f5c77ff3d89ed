#include "grammar/json_schema.h"

#include <cmath>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>

#include "fmt/format.h"
#include "grammar/grammar.h"
#include "grammar/regex_internal.h"

namespace mint::grammar {
namespace {

using Json = nlohmann::ordered_json;

// Rules every JSON grammar may use. `value` is any JSON value.
constexpr const char* kBaseRules = R"(ws ::= ( " " | "\n" [ \t]{0,8} )?
char ::= [^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )
string ::= "\"" char* "\""
integer ::= "-"? ( "0" | [1-9] [0-9]{0,15} )
number ::= integer ( "." [0-9]{1,15} )? ( [eE] [-+]? [0-9]{1,2} )?
boolean ::= "true" | "false"
null ::= "null"
value ::= object | array | string | number | boolean | null
object ::= "{" ws ( string ws ":" ws value ws ( "," ws string ws ":" ws value ws )* )? "}"
array ::= "[" ws ( value ws ( "," ws value ws )* )? "]"
)";

const std::set<std::string>& Annotations() {
  static const std::set<std::string> k = {
      "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated",
      "readOnly", "writeOnly", "$defs", "definitions", "strict", "name", "contentMediaType",
      "contentEncoding"};
  return k;
}

constexpr int64_t kMaxMagnitude = 9999999999999999;  // 16 digits, as the integer rule

int Digits(int64_t v) { return v < 10 ? 1 : 1 + Digits(v / 10); }
int64_t Pow10(int k) {
  int64_t p = 1;
  while (k-- > 0) p *= 10;
  return p;
}

// GBNF alternatives for the decimal spellings of [a, b], 0 <= a <= b, no leading zeros.
std::vector<std::string> NonNegativeRange(int64_t a, int64_t b) {
  std::vector<std::string> out;
  if (a == 0) {
    out.push_back("\"0\"");
    a = 1;
  }
  for (int n = Digits(a); a <= b; ++n) {
    const int64_t hi = std::min(b, Pow10(n) - 1);
    int64_t start = a;
    while (start <= hi) {
      int k = 0;
      while (k + 1 < n && start % Pow10(k + 1) == 0 && start + Pow10(k + 1) - 1 <= hi) ++k;
      const int64_t step = Pow10(k);
      const int64_t d = (start / step) % 10;
      const int64_t extra = std::min<int64_t>(9 - d, (hi - start + 1) / step - 1);
      std::string piece;
      const std::string digits = std::to_string(start);
      const std::string prefix = digits.substr(0, digits.size() - k - 1);
      if (!prefix.empty()) piece += "\"" + prefix + "\" ";
      piece += extra == 0 ? fmt::format("\"{}\"", d) : fmt::format("[{}-{}]", d, d + extra);
      if (k > 0) piece += fmt::format(" [0-9]{{{}}}", k);
      out.push_back(piece);
      start += (extra + 1) * step;
    }
    a = hi + 1;
  }
  return out;
}

// A GBNF repetition suffix: {lo,} when hi < 0 (unbounded), else {lo,hi}.
std::string Repetition(int64_t lo, int64_t hi) {
  return hi < 0 ? fmt::format("{{{},}}", lo) : fmt::format("{{{},{}}}", lo, hi);
}

// min..max (max < 0: unbounded) copies of `elem` separated by commas (an array's items, a
// map's entries).
std::string SeparatedList(const std::string& elem, int64_t min, int64_t max) {
  const std::string list = elem + " ( \",\" ws " + elem + " )" +
                           Repetition(std::max<int64_t>(0, min - 1), max < 0 ? -1 : max - 1);
  return min == 0 ? "( " + list + " )?" : list;
}

class SchemaConverter {
 public:
  SchemaConverter(const Json& root, std::string prefix) : root_(root), prefix_(std::move(prefix)) {}

  // The schema's rule (prefix + "root") and every rule it uses but the base rules.
  Result<std::string> Convert() {
    MINT_ASSIGN_OR_RETURN(std::string top, Visit(root_, "#"));
    std::string g = prefix_ + "root ::= " + top + "\n";
    for (const auto& [name, body] : rules_) g += name + " ::= " + body + "\n";
    return g;
  }

 private:
  Status Unsupported(const std::string& what, const std::string& path) const {
    return Status::InvalidArgument(
        fmt::format("JSON Schema {} at {} is not supported", what, path));
  }

  // A named rule for `body`; identical bodies share one rule.
  std::string Rule(const std::string& body) {
    auto it = by_body_.find(body);
    if (it != by_body_.end()) return it->second;
    const std::string name = fmt::format("{}s{}", prefix_, rules_.size());
    rules_.emplace(name, body);
    by_body_.emplace(body, name);
    return name;
  }

  Result<std::string> Ref(const std::string& ref, const std::string& path) {
    auto it = refs_.find(ref);
    if (it != refs_.end()) return it->second;
    if (ref.rfind("#/", 0) != 0) return Unsupported("$ref " + ref + " (only local #/...)", path);
    const Json* target = &root_;
    size_t start = 2;
    while (start <= ref.size()) {
      size_t slash = ref.find('/', start);
      if (slash == std::string::npos) slash = ref.size();
      std::string part = ref.substr(start, slash - start);
      for (size_t k; (k = part.find("~1")) != std::string::npos;) part.replace(k, 2, "/");
      for (size_t k; (k = part.find("~0")) != std::string::npos;) part.replace(k, 2, "~");
      if (!target->is_object() || !target->contains(part)) {
        return Status::InvalidArgument(fmt::format("JSON Schema $ref {} at {} points nowhere", ref, path));
      }
      target = &(*target)[part];
      start = slash + 1;
    }
    const std::string name = fmt::format("{}ref{}", prefix_, refs_.size());
    refs_.emplace(ref, name);  // before visiting: the target may refer to itself
    MINT_ASSIGN_OR_RETURN(std::string body, Visit(*target, ref));
    rules_.emplace(name, body);
    return name;
  }

  Result<std::string> Visit(const Json& s, const std::string& path) {
    if (depth_ >= kMaxDepth) return Unsupported("nesting deeper than 64 schemas", path);
    ++depth_;
    auto r = VisitSchema(s, path);
    --depth_;
    return r;
  }

  Result<std::string> VisitSchema(const Json& s, const std::string& path) {
    if (s.is_boolean()) {
      if (s.get<bool>()) return std::string("value");
      return Unsupported("false (matches nothing)", path);
    }
    if (!s.is_object()) {
      return Status::InvalidArgument(fmt::format("JSON Schema at {} must be an object", path));
    }
    static const std::set<std::string> kKnown = {
        "type", "properties", "required", "additionalProperties", "items", "prefixItems",
        "minItems", "maxItems", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "minLength",
        "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "uniqueItems", "propertyNames", "minProperties", "maxProperties"};
    for (const auto& [key, v] : s.items()) {
      if (kKnown.count(key) == 0 && Annotations().count(key) == 0) {
        return Unsupported("keyword \"" + key + "\"", path);
      }
    }
    if (s.contains("uniqueItems") && s["uniqueItems"] != false) {
      return Unsupported("keyword \"uniqueItems\"", path);
    }
    if (s.contains("$ref")) {
      if (!s["$ref"].is_string()) return Unsupported("non-string $ref", path);
      return Ref(s["$ref"].get<std::string>(), path);
    }
    if (s.contains("const")) return Rule(GbnfLiteral(s["const"].dump()));
    if (s.contains("enum")) {
      if (!s["enum"].is_array() || s["enum"].empty()) return Unsupported("empty enum", path);
      std::vector<std::string> alts;
      for (const Json& v : s["enum"]) alts.push_back(GbnfLiteral(v.dump()));
      return Rule(GbnfAlternatives(alts));
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (!s.contains(key)) continue;
      if (!s[key].is_array() || s[key].empty()) return Unsupported(std::string("empty ") + key, path);
      std::vector<std::string> alts;
      for (size_t k = 0; k < s[key].size(); ++k) {
        MINT_ASSIGN_OR_RETURN(std::string a, Visit(s[key][k], fmt::format("{}/{}/{}", path, key, k)));
        alts.push_back(a);
      }
      return Rule(GbnfAlternatives(alts));
    }
    if (s.contains("allOf")) {
      if (!s["allOf"].is_array() || s["allOf"].size() != 1) {
        return Unsupported("allOf with more than one schema", path);
      }
      return Visit(s["allOf"][0], path + "/allOf/0");
    }
    if (!s.contains("type")) {
      if (s.contains("properties") || s.contains("additionalProperties")) return Object(s, path);
      if (s.contains("items") || s.contains("prefixItems")) return Array(s, path);
      if (s.contains("pattern") || s.contains("format") || s.contains("minLength")) {
        return String(s, path);
      }
      return std::string("value");
    }
    const Json& type = s["type"];
    if (type.is_array()) {
      std::vector<std::string> alts;
      for (const Json& t : type) {
        Json one = s;
        one["type"] = t;
        MINT_ASSIGN_OR_RETURN(std::string a, Visit(one, path));
        alts.push_back(a);
      }
      if (alts.empty()) return Unsupported("empty type list", path);
      return Rule(GbnfAlternatives(alts));
    }
    if (!type.is_string()) return Unsupported("non-string type", path);
    const std::string t = type.get<std::string>();
    if (t == "object") return Object(s, path);
    if (t == "array") return Array(s, path);
    if (t == "string") return String(s, path);
    if (t == "integer") return Integer(s, path);
    if (t == "number") return Number(s, path);
    if (t == "boolean") return std::string("boolean");
    if (t == "null") return std::string("null");
    return Unsupported("type \"" + t + "\"", path);
  }

  // A count range (minItems/maxItems, ...): non-negative integers up to `limit`, max < 0 when
  // absent.
  Status CountBounds(const Json& s, const char* min_key, const char* max_key, int64_t limit,
                     const std::string& path, int64_t* min, int64_t* max) {
    *min = 0, *max = -1;
    for (const char* k : {min_key, max_key}) {
      if (!s.contains(k)) continue;
      if (!s[k].is_number_integer() || s[k] < 0) return Unsupported(k, path);
      (k == min_key ? *min : *max) = s[k].get<int64_t>();
    }
    if (*min > limit || *max > limit) {
      return Unsupported(fmt::format("{}/{} above {}", min_key, max_key, limit), path);
    }
    if (*max >= 0 && *max < *min) return Unsupported(fmt::format("{} below {}", max_key, min_key), path);
    return Status::Ok();
  }

  Result<std::string> Object(const Json& s, const std::string& path) {
    std::vector<std::pair<std::string, std::string>> props;  // (literal key, value rule)
    std::set<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) return Unsupported("non-array required", path);
      for (const Json& r : s["required"]) {
        if (!r.is_string()) return Unsupported("non-string required entry", path);
        required.insert(r.get<std::string>());
      }
    }
    std::vector<bool> is_required;
    std::set<std::string> named;
    if (s.contains("properties")) {
      if (!s["properties"].is_object()) return Unsupported("non-object properties", path);
      for (const auto& [name, sub] : s["properties"].items()) {
        MINT_ASSIGN_OR_RETURN(std::string v, Visit(sub, path + "/properties/" + name));
        props.emplace_back(name, v);
        is_required.push_back(required.count(name) != 0);
        named.insert(name);
      }
    }
    for (const std::string& r : required) {
      if (named.count(r) == 0) {  // required but undeclared: any value
        props.emplace_back(r, "value");
        is_required.push_back(true);
      }
    }
    if (props.empty()) return Map(s, path);
    if (s.contains("propertyNames") || s.contains("minProperties") || s.contains("maxProperties")) {
      return Unsupported("propertyNames/minProperties/maxProperties with properties", path);
    }
    // first_i: properties i.. with none written yet; rest_i: the same after one was written.
    const size_t n = props.size();
    std::vector<std::string> first(n + 1), rest(n + 1);
    first[n] = rest[n] = "\"\"";
    for (size_t i = n; i-- > 0;) {
      const std::string kv =
          Rule(GbnfLiteral(Json(props[i].first).dump()) + " ws \":\" ws " + props[i].second + " ws");
      std::string f = kv + " " + rest[i + 1];
      std::string r = "\",\" ws " + kv + " " + rest[i + 1];
      if (!is_required[i]) {
        f += " | " + first[i + 1];
        r += " | " + rest[i + 1];
      }
      first[i] = Rule(f);
      rest[i] = Rule(r);
    }
    return Rule("\"{\" ws " + first[0] + " \"}\"");
  }

  // An object with no declared properties: a map from (propertyNames) keys to
  // (additionalProperties) values, minProperties..maxProperties entries. Keys may repeat.
  Result<std::string> Map(const Json& s, const std::string& path) {
    const Json* extra = s.contains("additionalProperties") ? &s["additionalProperties"] : nullptr;
    int64_t min = 0, max = -1;
    MINT_RETURN_IF_ERROR(CountBounds(s, "minProperties", "maxProperties", 1000, path, &min, &max));
    if ((extra != nullptr && *extra == false) || max == 0) {
      if (min > 0) return Unsupported("minProperties with no properties allowed", path);
      return Rule("\"{\" ws \"}\"");
    }
    std::string v = "value";
    if (extra != nullptr && extra->is_object()) {
      MINT_ASSIGN_OR_RETURN(v, Visit(*extra, path + "/additionalProperties"));
    }
    std::string key = "string";
    if (s.contains("propertyNames")) {
      Json names = s["propertyNames"];
      if (!names.is_object()) return Unsupported("non-object propertyNames", path);
      if (!names.contains("type")) names["type"] = "string";
      if (names["type"] != "string") return Unsupported("non-string propertyNames", path);
      MINT_ASSIGN_OR_RETURN(key, Visit(names, path + "/propertyNames"));
    }
    const std::string kv = Rule(key + " ws \":\" ws " + v + " ws");
    return Rule("\"{\" ws " + SeparatedList(kv, min, max) + " \"}\"");
  }

  Result<std::string> Array(const Json& s, const std::string& path) {
    int64_t min = 0, max = -1;
    MINT_RETURN_IF_ERROR(CountBounds(s, "minItems", "maxItems", 10000, path, &min, &max));
    std::vector<std::string> prefix;
    if (s.contains("prefixItems")) {
      if (!s["prefixItems"].is_array()) return Unsupported("non-array prefixItems", path);
      for (size_t k = 0; k < s["prefixItems"].size(); ++k) {
        MINT_ASSIGN_OR_RETURN(std::string p,
                              Visit(s["prefixItems"][k], fmt::format("{}/prefixItems/{}", path, k)));
        prefix.push_back(p);
      }
    }
    std::string item = "value";
    bool more = true;  // items beyond the prefix allowed
    if (s.contains("items")) {
      if (s["items"] == false) {
        more = false;
      } else if (s["items"].is_array()) {
        return Unsupported("items as an array (use prefixItems)", path);
      } else {
        MINT_ASSIGN_OR_RETURN(item, Visit(s["items"], path + "/items"));
      }
    }
    if (!prefix.empty()) {
      // A tuple: the prefix items in order (every one written), then optional extras.
      if (static_cast<int64_t>(prefix.size()) < min && !more) {
        return Unsupported("minItems beyond prefixItems with items false", path);
      }
      std::string body = "\"[\" ws";
      for (size_t k = 0; k < prefix.size(); ++k) {
        body += (k ? " \",\" ws " : " ") + prefix[k] + " ws";
      }
      if (more && (max < 0 || max > static_cast<int64_t>(prefix.size()))) {
        const auto n = static_cast<int64_t>(prefix.size());
        body += " ( \",\" ws " + item + " ws )" +
                Repetition(std::max<int64_t>(0, min - n), max < 0 ? -1 : max - n);
      }
      return Rule(body + " \"]\"");
    }
    const std::string elem = Rule(item + " ws");
    if (max == 0) return Rule("\"[\" ws \"]\"");
    return Rule("\"[\" ws " + SeparatedList(elem, min, max) + " \"]\"");
  }

  Result<std::string> String(const Json& s, const std::string& path) {
    if (s.contains("pattern")) {
      if (!s["pattern"].is_string()) return Unsupported("non-string pattern", path);
      if (s.contains("minLength") || s.contains("maxLength") || s.contains("format")) {
        return Unsupported("pattern with minLength/maxLength/format", path);
      }
      auto e = internal::RegexToGbnfExpr(s["pattern"].get<std::string>(), true);
      if (!e.ok()) {
        return Status::InvalidArgument(
            fmt::format("JSON Schema pattern at {}: {}", path, e.status().message()));
      }
      return Rule("\"\\\"\" " + (e->empty() ? std::string("\"\"") : *e) + " \"\\\"\"");
    }
    if (s.contains("format")) {
      if (s.contains("minLength") || s.contains("maxLength")) {
        return Unsupported("format with minLength/maxLength", path);
      }
      const std::string f = s["format"].is_string() ? s["format"].get<std::string>() : "";
      static const std::map<std::string, std::string> kFormats = {
          // Real calendar days: 31 only in long months, 30 not in February, 29 February only
          // in leap years (divisible by 4, centuries only by 400).
          {"date", R"([0-9]{4} "-" ( ( "0" [13578] | "1" [02] ) "-" ( "0" [1-9] | [12] [0-9] | "3" [01] ) | ( "0" [469] | "11" ) "-" ( "0" [1-9] | [12] [0-9] | "30" ) | "02-" ( "0" [1-9] | "1" [0-9] | "2" [0-8] ) ) | ( [0-9] [0-9] ( "0" [48] | [2468] [048] | [13579] [26] ) | ( [02468] [048] | [13579] [26] ) "00" ) "-02-29")"},
          {"time", R"(( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{1,6} )? ( "Z" | [+-] ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ))"},
          {"uuid", R"([0-9a-f]{8} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{12})"},
          {"email", R"([a-zA-Z0-9_.+-]{1,32} "@" [a-zA-Z0-9-]{1,32} ( "." [a-zA-Z0-9-]{1,32} ){0,3} "." [a-zA-Z]{2,8})"},
          {"ipv4", R"(( [0-9] | [1-9] [0-9] | "1" [0-9] [0-9] | "2" [0-4] [0-9] | "25" [0-5] ) ( "." ( [0-9] | [1-9] [0-9] | "1" [0-9] [0-9] | "2" [0-4] [0-9] | "25" [0-5] ) ){3})"},
      };
      if (f == "date-time") {
        return Rule("\"\\\"\" " + Rule(kFormats.at("date")) + " \"T\" " + Rule(kFormats.at("time")) +
                    " \"\\\"\"");
      }
      auto it = kFormats.find(f);
      if (it == kFormats.end()) return Unsupported("string format \"" + f + "\"", path);
      return Rule("\"\\\"\" " + Rule(it->second) + " \"\\\"\"");
    }
    int64_t min = 0, max = -1;
    MINT_RETURN_IF_ERROR(CountBounds(s, "minLength", "maxLength", 10000, path, &min, &max));
    if (min == 0 && max < 0) return std::string("string");
    return Rule("\"\\\"\" char" + Repetition(min, max) + " \"\\\"\"");
  }

  // An integer bound from minimum / exclusiveMinimum (lower) or maximum / exclusiveMaximum.
  Result<std::optional<int64_t>> Bound(const Json& s, const char* key, const char* exclusive_key,
                                       bool lower, const std::string& path) {
    std::optional<int64_t> out;
    for (const char* k : {key, exclusive_key}) {
      if (!s.contains(k)) continue;
      if (!s[k].is_number()) return Unsupported(std::string("non-numeric ") + k, path);
      const double v = s[k].get<double>();
      if (std::fabs(v) > static_cast<double>(kMaxMagnitude)) {
        return Unsupported(std::string(k) + " beyond 16 digits", path);
      }
      const bool excl = k == exclusive_key;
      int64_t b = lower ? static_cast<int64_t>(std::ceil(v)) : static_cast<int64_t>(std::floor(v));
      if (excl && static_cast<double>(b) == v) b += lower ? 1 : -1;
      out = out ? (lower ? std::max(*out, b) : std::min(*out, b)) : b;
    }
    return out;
  }

  Result<std::string> Integer(const Json& s, const std::string& path) {
    MINT_ASSIGN_OR_RETURN(std::optional<int64_t> lo, Bound(s, "minimum", "exclusiveMinimum", true, path));
    MINT_ASSIGN_OR_RETURN(std::optional<int64_t> hi, Bound(s, "maximum", "exclusiveMaximum", false, path));
    if (!lo && !hi) return std::string("integer");
    const int64_t a = lo.value_or(-kMaxMagnitude), b = hi.value_or(kMaxMagnitude);
    if (a > b) return Unsupported("an empty integer range", path);
    std::vector<std::string> alts;
    if (b >= 0) {
      for (std::string& p : NonNegativeRange(std::max<int64_t>(a, 0), b)) alts.push_back(std::move(p));
    }
    if (a < 0) {
      for (const std::string& p : NonNegativeRange(std::max<int64_t>(1, -b), -a)) {
        alts.push_back("\"-\" " + p);
      }
    }
    return Rule(GbnfAlternatives(alts));
  }

  Result<std::string> Number(const Json& s, const std::string& path) {
    for (const char* k : {"maximum", "exclusiveMaximum", "exclusiveMinimum"}) {
      if (s.contains(k)) return Unsupported(std::string("keyword \"") + k + "\" on a number", path);
    }
    if (!s.contains("minimum")) return std::string("number");
    if (!s["minimum"].is_number() || s["minimum"].get<double>() != 0) {
      return Unsupported("keyword \"minimum\" on a number other than 0", path);
    }
    return Rule("( \"0\" | [1-9] [0-9]{0,15} ) ( \".\" [0-9]{1,15} )? ( [eE] [-+]? [0-9]{1,2} )?");
  }

  static constexpr int kMaxDepth = 64;
  const Json& root_;
  std::string prefix_;
  int depth_ = 0;
  std::map<std::string, std::string> rules_;
  std::map<std::string, std::string> by_body_;
  std::map<std::string, std::string> refs_;
};

}  // namespace

Result<std::string> JsonSchemaRules(const Json& schema, const std::string& prefix) {
  SchemaConverter c(schema, prefix);
  return c.Convert();
}

std::string JsonBaseGbnf() { return kBaseRules; }

namespace {

Result<std::string> ConvertSchema(const Json& schema) {
  MINT_ASSIGN_OR_RETURN(std::string rules, JsonSchemaRules(schema, ""));
  std::string g = rules + kBaseRules;
  MINT_RETURN_IF_ERROR(Grammar::Parse(g).status());
  return g;
}

// Converted schemas by their compact JSON text, the most recent 256: clients repeat schemas, and
// a conversion (with its check that the grammar parses) costs about 0.2 ms.
class SchemaCache {
 public:
  Result<std::string> Get(const Json& schema) {
    std::string key = schema.dump();
    {
      std::lock_guard<std::mutex> lk(mu_);
      auto it = index_.find(key);
      if (it != index_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second);
        return it->second->second;
      }
    }
    MINT_ASSIGN_OR_RETURN(std::string g, ConvertSchema(schema));
    std::lock_guard<std::mutex> lk(mu_);
    if (index_.find(key) == index_.end()) {
      lru_.emplace_front(std::move(key), g);
      index_.emplace(lru_.front().first, lru_.begin());
      if (lru_.size() > kCapacity) {
        index_.erase(lru_.back().first);
        lru_.pop_back();
      }
    }
    return g;
  }

 private:
  static constexpr size_t kCapacity = 256;
  std::mutex mu_;
  std::list<std::pair<std::string, std::string>> lru_;
  std::unordered_map<std::string_view, decltype(lru_)::iterator> index_;
};

}  // namespace

Result<std::string> JsonSchemaToGbnf(const Json& schema) {
  static SchemaCache cache;
  return cache.Get(schema);
}

std::string JsonObjectGbnf() { return std::string("root ::= object\n") + kBaseRules; }

}  // namespace mint::grammar
