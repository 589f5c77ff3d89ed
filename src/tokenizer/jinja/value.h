// The value model of Mint's Jinja interpreter: a dynamically typed value with Python semantics
// (truthiness, equality, str()/repr(), JSON).
//
// Thread-safety: a Value is a plain value type, but lists, dicts and namespaces are shared by
// reference (as in Python), so two Values may alias one container. Values are created and used
// by one render at a time; none is shared between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mint::tokenizer::jinja {

class Value;
class Callable;

using List = std::vector<Value>;
struct Dict;
using ListPtr = std::shared_ptr<List>;
using DictPtr = std::shared_ptr<Dict>;
using CallablePtr = std::shared_ptr<Callable>;

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kTuple, kDict,
                    kNamespace, kCallable,
                    kGenerator };  // a one-shot iterator (what jinja2's select/map/items return)

  Value() = default;  // undefined
  static Value Undefined(std::string hint = {});
  static Value None();
  static Value Bool(bool b);
  static Value Int(int64_t i);
  static Value Float(double f);
  static Value String(std::string s);
  // A markupsafe.Markup string (from |safe or |escape): `+` with a plain string escapes it.
  static Value Markup(std::string s);
  static Value MakeList(List items = {});
  static Value MakeTuple(List items = {});
  static Value MakeGenerator(List items);
  static Value MakeDict();
  static Value MakeNamespace();
  static Value MakeCallable(CallablePtr fn);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  // int, float or bool (Python's bool is an int).
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_markup() const { return kind_ == Kind::kString && b_; }
  bool is_generator() const { return kind_ == Kind::kGenerator; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_tuple() const { return kind_ == Kind::kTuple; }
  bool is_sequence_like() const { return is_list() || is_tuple(); }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }
  bool is_callable() const { return kind_ == Kind::kCallable; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return is_bool() ? (b_ ? 1 : 0) : i_; }
  double as_float() const { return is_float() ? f_ : static_cast<double>(as_int()); }
  const std::string& str() const { return s_; }  // string contents, or undefined hint
  List& list() const { return *list_; }          // list, tuple or generator (remaining items)
  const ListPtr& list_ptr() const { return list_; }
  Dict& dict() const { return *dict_; }          // dict or namespace
  const DictPtr& dict_ptr() const { return dict_; }
  const CallablePtr& callable() const { return fn_; }

  // Python truthiness (undefined is false).
  bool Truthy() const;
  // Python `==` (1 == 1.0 == True; containers compare elementwise).
  bool Equals(const Value& other) const;
  // Python str(): undefined -> "", None -> "None", True -> "True", lists as repr.
  std::string ToString() const;
  // Python repr(): strings quoted, containers recursively ("..." past a nesting depth of 200).
  std::string Repr(int depth = 0) const;
  // Python type name for error messages ("str", "int", "NoneType", "list", ...).
  const char* TypeName() const;

 private:
  Kind kind_ = Kind::kUndefined;
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  std::string s_;
  ListPtr list_;
  DictPtr dict_;
  CallablePtr fn_;
};

// An insertion-ordered mapping (Python dict semantics). Small in practice; lookup is linear.
struct Dict {
  std::vector<std::pair<Value, Value>> items;

  // Returns the value for `key`, or nullptr.
  Value* Find(const Value& key);
  Value* Find(std::string_view key);
  // Inserts or replaces, keeping the original position of an existing key.
  void Set(Value key, Value value);
  bool Erase(const Value& key);
};

// Python float repr: shortest round-trip digits, "1.0", "1e+16", "1.5e-05", "inf", "nan".
std::string FormatFloat(double f);
// Python repr of a string ('single' quotes unless the text holds ' and no ").
std::string ReprString(std::string_view s);

}  // namespace mint::tokenizer::jinja
