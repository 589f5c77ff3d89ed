// Shared by the regex and JSON Schema converters (json_schema.h).
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace mint::grammar::internal {

// A GBNF expression for `pattern` matched whole. json_string: the expression spells the JSON
// text of a string whose decoded value matches (inside the quotes).
Result<std::string> RegexToGbnfExpr(std::string_view pattern, bool json_string);

}  // namespace mint::grammar::internal
