// Python semantics of operators, attribute/item access and iteration for Jinja values.
//
// Thread-safety: pure functions (they may mutate no shared state).
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "tokenizer/jinja/value.h"

namespace mint::tokenizer::jinja {

// + - * / // % ** ~ on two values. Errors read like Python's TypeError/ZeroDivisionError.
Result<Value> BinaryOp(std::string_view op, const Value& l, const Value& r);
// == != < > <= >= in notin.
Result<bool> CompareOp(std::string_view op, const Value& l, const Value& r);
// Python `item in container`.
Result<bool> Contains(const Value& container, const Value& item);
// jinja2's environment.getattr (obj.name): methods first, then keys. Undefined obj -> error.
Result<Value> GetAttr(const Value& obj, const std::string& name);
// jinja2's environment.getitem (obj[key]): keys/indices first, then attributes.
Result<Value> GetItem(const Value& obj, const Value& key);
// obj[start:stop:step] on lists, tuples and strings (by code point); null bounds are omitted.
Result<Value> SliceValue(const Value& obj, const Value* start, const Value* stop,
                         const Value* step);
// Elements of an iterable: list/tuple items, dict keys, string code points; undefined -> empty.
Result<List> Iterate(const Value& v);
// Python len(); undefined -> 0.
Result<int64_t> Length(const Value& v);
// Python ordering for sort/min/max (numbers, strings, sequences).
Result<int> Compare3(const Value& a, const Value& b);

}  // namespace mint::tokenizer::jinja
