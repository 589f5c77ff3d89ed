// JSON Schema, regular expressions and choice lists, written as GBNF (grammar.h).
//
// JSON Schema subset (what OpenAI's strict structured outputs and common tool schemas use):
//   type (one or a list), properties + required (properties appear in declaration order;
//   additionalProperties alone gives a map), enum, const, anyOf / oneOf (oneOf branches are
//   not made exclusive: give disjoint branches), allOf of one schema, $ref into #/$defs or
//   #/definitions (recursion allowed), arrays with items / prefixItems / minItems / maxItems,
//   strings with minLength / maxLength / pattern / format (date, time, date-time, uuid, email,
//   ipv4), integers with minimum / maximum / exclusiveMinimum / exclusiveMaximum, numbers with a
//   non-negative minimum. Annotations (title, description, default, examples, ...) are ignored.
//   Anything else is refused with kInvalidArgument naming the keyword and where it is.
//
// The output is compact JSON apart from optional whitespace (at most one space, or a newline and
// up to 8 spaces or tabs of indentation) between tokens; numbers have at most 16 integer digits,
// 15 fraction digits and a two-digit exponent, so a model cannot run away inside one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "nlohmann/json.hpp"

namespace mint::grammar {

// Properties are written in the schema's order, so pass an ordered_json as parsed. Thread-safe;
// the 256 most recent schemas are kept converted (repeated schemas cost a lookup).
Result<std::string> JsonSchemaToGbnf(const nlohmann::ordered_json& schema);
// For grammars that embed several schemas (tool calls): the rules of `schema`, its top rule
// named prefix + "root" and the others prefixed too, without the base rules every JSON grammar
// shares (JsonBaseGbnf(): ws, string, number, integer, boolean, null, value, object, array, char),
// which the caller appends once. The result is not checked until the whole grammar is parsed.
Result<std::string> JsonSchemaRules(const nlohmann::ordered_json& schema, const std::string& prefix);
std::string JsonBaseGbnf();
// Any JSON object (response_format json_object).
std::string JsonObjectGbnf();
// A regular expression that must match the whole output (anchors ^ and $ are implied).
// Supported: literals and escapes, ., classes with ranges and negation, \d \w \s \D \W \S,
// groups (capturing and (?:...)), |, * + ? {m} {m,} {m,n} (lazy forms treated as greedy).
// Refused with a message naming the feature: backreferences, lookaround, inner anchors, \b.
Result<std::string> RegexToGbnf(std::string_view pattern);
// Exactly one of `choices`.
Result<std::string> ChoiceToGbnf(const std::vector<std::string>& choices);

}  // namespace mint::grammar
