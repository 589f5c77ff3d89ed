// Parser of Mint's Jinja interpreter: tokens -> AST (ast.h), following jinja2/parser.py's
// grammar and operator precedence.
//
// Thread-safety: pure function.
#pragma once

#include <string_view>

#include "core/status.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"

namespace mint::tokenizer::jinja {

// Parses a template. Errors are kInvalidArgument (syntax) or kUnsupported (a Jinja feature Mint
// does not implement, e.g. {% include %}); both name the line.
Result<Body> Parse(std::string_view source, const LexOptions& options = {});

}  // namespace mint::tokenizer::jinja
