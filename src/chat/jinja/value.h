#pragma once
// The values a template computes with: Python's None/bool/int/float/str/list/tuple/dict as jinja2
// sees them, plus jinja2's Undefined and callables (globals, macros, bound methods). Lists and
// dicts are shared by reference, as Python objects are (a namespace's attributes are assigned in
// place).
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/utf8.h"

namespace sglang::chat::jinja {

// An evaluation error. Thrown inside the evaluator only (ChatTemplate::render turns it into an
// Error value): an interpreter's errors unwind through every level of the expression tree, and
// exceptions keep that path out of every helper's signature. `type` is jinja2's / Python's
// exception class name (TypeError, UndefinedError, SecurityError, TemplateError, ...).
class TemplateException : public std::runtime_error {
 public:
  TemplateException(std::string type, const std::string& message)
      : std::runtime_error(message), type_(std::move(type)) {}
  const std::string& type() const { return type_; }

 private:
  std::string type_;
};

[[noreturn]] void raise(const std::string& type, const std::string& message);

class Value;
struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
};
using NativeFunction = std::function<Value(CallArgs&)>;

enum class SequenceKind : uint8_t {
  kList,
  kTuple,
  kGenerator,  // what map/select/... return: iterable, no len(), not JSON serializable
  kReverseIterator,
  kDictItems,  // dict.items(): a view
  kDictKeys,
  kDictValues,
  kRange,
};

struct ListData {
  std::vector<Value> items;
  SequenceKind kind = SequenceKind::kList;
  int64_t range_start = 0, range_stop = 0, range_step = 1;  // for printing range()
};

struct DictData {
  std::vector<std::pair<Value, Value>> items;  // insertion order, as Python dicts
  bool is_namespace = false;
  bool is_loop = false;  // printing `loop` shows a LoopContext
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  void set(Value key, Value value);
};

struct Callable {
  std::string name;
  bool is_macro = false;
  NativeFunction fn;
};

struct UndefinedData {
  std::string hint;  // jinja2's message when the value is used: "'x' is undefined"
  std::string error_type = "UndefinedError";
};

class Value {
 public:
  enum class Kind : uint8_t {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,
    kDict,
    kCallable
  };

  Value() : data_(std::shared_ptr<const UndefinedData>()) {}
  Value(std::nullptr_t) : data_(std::monostate{}) {}           // NOLINT
  Value(bool b) : data_(b) {}                                  // NOLINT
  Value(int64_t i) : data_(i) {}                               // NOLINT
  Value(int i) : data_(static_cast<int64_t>(i)) {}             // NOLINT
  Value(double d) : data_(d) {}                                // NOLINT
  Value(std::string s) : data_(std::move(s)) {}                // NOLINT
  Value(const char* s) : data_(std::string(s)) {}              // NOLINT
  Value(std::shared_ptr<ListData> l) : data_(std::move(l)) {}  // NOLINT
  Value(std::shared_ptr<DictData> d) : data_(std::move(d)) {}  // NOLINT
  Value(std::shared_ptr<Callable> c) : data_(std::move(c)) {}  // NOLINT

  static Value undefined(std::string hint, std::string error_type = "UndefinedError");
  static Value list(std::vector<Value> items, SequenceKind kind = SequenceKind::kList);
  static Value dict();
  static Value function(std::string name, NativeFunction fn);
  static Value from_json(const nlohmann::ordered_json& j);

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  bool is_undefined() const { return kind() == Kind::kUndefined; }
  bool is_none() const { return kind() == Kind::kNone; }
  bool is_bool() const { return kind() == Kind::kBool; }
  bool is_int() const { return kind() == Kind::kInt; }
  bool is_float() const { return kind() == Kind::kFloat; }
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_list() const { return kind() == Kind::kList; }
  bool is_dict() const { return kind() == Kind::kDict; }
  bool is_callable() const { return kind() == Kind::kCallable; }

  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const { return std::get<int64_t>(data_); }
  double as_float() const { return std::get<double>(data_); }
  // A bool or int as Python's int (True == 1).
  int64_t to_int() const { return is_bool() ? (as_bool() ? 1 : 0) : as_int(); }
  double to_double() const { return is_float() ? as_float() : static_cast<double>(to_int()); }
  const std::string& as_string() const { return std::get<std::string>(data_); }
  ListData& as_list() const { return *std::get<std::shared_ptr<ListData>>(data_); }
  DictData& as_dict() const { return *std::get<std::shared_ptr<DictData>>(data_); }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<Callable>>(data_); }
  const UndefinedData* undefined_data() const {
    return std::get<std::shared_ptr<const UndefinedData>>(data_).get();
  }
  // Raises the UndefinedError (or SecurityError) this undefined value stands for.
  [[noreturn]] void fail_undefined() const;

  // Python's type name as error messages show it: str, int, list, dict, NoneType, ...
  std::string type_name() const;
  // bool(x)
  bool truthy() const;
  // str(x) (what {{ x }} prints) and repr(x) (how x prints inside a list or dict).
  std::string str() const;
  std::string repr() const;
  // x == y, as Python compares (1 == 1.0 == True; lists and dicts element-wise).
  bool equals(const Value& other) const;
  // The items of an iterable (str: its characters; dict: its keys); raises TypeError otherwise.
  std::vector<Value> iterate() const;
  // Python's json.dumps of this value (raises TypeError for what is not serializable).
  void to_json_text(std::string& out, int indent, const std::string& item_sep,
                    const std::string& key_sep, bool sort_keys, bool ensure_ascii, int depth) const;

 private:
  std::variant<std::shared_ptr<const UndefinedData>, std::monostate, bool, int64_t, double,
               std::string, std::shared_ptr<ListData>, std::shared_ptr<DictData>,
               std::shared_ptr<Callable>>
      data_;
};

// Python's repr() of a float ("1.0", "1e+20", "0.0001", "inf").
std::string float_repr(double d);
// Python's repr() of a str ('a', "it's").
std::string string_repr(const std::string& s);
// Code points of UTF-8 text (invalid bytes decode as themselves); and back.
std::u32string utf8_decode(std::string_view s);
std::string utf8_encode(std::u32string_view s);
bool is_ascii(std::string_view s);
// Python's len(str).
size_t string_length(std::string_view s);
// Python's < between two values (numbers, strings, sequences); raises TypeError otherwise.
bool less_than(const Value& a, const Value& b);

}  // namespace sglang::chat::jinja
