#include "chat/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "util/python_repr.h"

namespace sglang::chat::jinja {

void raise(const std::string& type, const std::string& message) {
  throw TemplateException(type, message);
}

const Value* DictData::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.as_string()));
  for (const auto& [k, v] : items) {
    if (k.equals(key)) return &v;
  }
  return nullptr;
}

const Value* DictData::find(std::string_view key) const {
  for (const auto& [k, v] : items) {
    if (k.is_string() && k.as_string() == key) return &v;
  }
  return nullptr;
}

void DictData::set(Value key, Value value) {
  for (auto& [k, v] : items) {
    if (k.equals(key)) {
      v = std::move(value);
      return;
    }
  }
  items.emplace_back(std::move(key), std::move(value));
}

Value Value::undefined(std::string hint, std::string error_type) {
  Value v;
  v.data_ =
      std::make_shared<const UndefinedData>(UndefinedData{std::move(hint), std::move(error_type)});
  return v;
}

Value Value::list(std::vector<Value> items, SequenceKind kind) {
  auto data = std::make_shared<ListData>();
  data->items = std::move(items);
  data->kind = kind;
  return Value(std::move(data));
}

Value Value::dict() {
  return Value(std::make_shared<DictData>());
}

Value Value::function(std::string name, NativeFunction fn) {
  return Value(std::make_shared<Callable>(Callable{std::move(name), false, std::move(fn)}));
}

Value Value::from_json(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return Value(nullptr);
    case nlohmann::ordered_json::value_t::boolean:
      return Value(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return Value(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return Value(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& item : j) items.push_back(from_json(item));
      return list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      auto data = std::make_shared<DictData>();
      data->items.reserve(j.size());
      for (const auto& [k, v] : j.items()) data->items.emplace_back(Value(k), from_json(v));
      return Value(std::move(data));
    }
    default:
      return Value(nullptr);
  }
}

void Value::fail_undefined() const {
  const UndefinedData* u = undefined_data();
  if (u == nullptr) raise("UndefinedError", "value is undefined");
  raise(u->error_type, u->hint.empty() ? "value is undefined" : u->hint);
}

std::string Value::type_name() const {
  switch (kind()) {
    case Kind::kUndefined:
      return "Undefined";
    case Kind::kNone:
      return "NoneType";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "str";
    case Kind::kList:
      switch (as_list().kind) {
        case SequenceKind::kTuple:
          return "tuple";
        case SequenceKind::kGenerator:
          return "generator";
        case SequenceKind::kReverseIterator:
          return "list_reverseiterator";
        case SequenceKind::kDictItems:
          return "dict_items";
        case SequenceKind::kDictKeys:
          return "dict_keys";
        case SequenceKind::kDictValues:
          return "dict_values";
        case SequenceKind::kRange:
          return "range";
        default:
          return "list";
      }
    case Kind::kDict:
      return as_dict().is_namespace ? "Namespace" : as_dict().is_loop ? "LoopContext" : "dict";
    case Kind::kCallable:
      return as_callable().is_macro ? "Macro" : "function";
  }
  return "object";
}

bool Value::truthy() const {
  switch (kind()) {
    case Kind::kUndefined:
    case Kind::kNone:
      return false;
    case Kind::kBool:
      return as_bool();
    case Kind::kInt:
      return as_int() != 0;
    case Kind::kFloat:
      return as_float() != 0.0;
    case Kind::kString:
      return !as_string().empty();
    case Kind::kList: {
      SequenceKind k = as_list().kind;
      if (k == SequenceKind::kGenerator || k == SequenceKind::kReverseIterator) return true;
      return !as_list().items.empty();
    }
    case Kind::kDict:
      return as_dict().is_namespace || as_dict().is_loop || !as_dict().items.empty();
    case Kind::kCallable:
      return true;
  }
  return false;
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0.0) return std::signbit(d) ? "-0.0" : "0.0";
  // Shortest round-trip digits, then Python's repr layout: scientific when the exponent is
  // below -4 or at least 16, else positional with at least one digit after the point.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  size_t e = sci.find('e');
  std::string mantissa = sci.substr(0, e);
  int exponent = std::stoi(sci.substr(e + 1));
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char ebuf[16];
    std::snprintf(ebuf, sizeof(ebuf), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out + ebuf;
  }
  if (exponent < 0) {
    out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
  } else if (static_cast<size_t>(exponent) + 1 >= digits.size()) {
    out += digits + std::string(static_cast<size_t>(exponent) + 1 - digits.size(), '0') + ".0";
  } else {
    out += digits.substr(0, static_cast<size_t>(exponent) + 1) + "." +
           digits.substr(static_cast<size_t>(exponent) + 1);
  }
  return out;
}

std::u32string utf8_decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + static_cast<size_t>(len) > s.size()) {
      out += static_cast<char32_t>(c);
      ++i;
      continue;
    }
    char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out += cp;
    i += static_cast<size_t>(len);
  }
  return out;
}

std::string utf8_encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(out, c);
  return out;
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c & 0x80) == 0; });
}

size_t string_length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string string_repr(const std::string& s) {
  return python_str_repr(s);
}

std::string Value::str() const {
  switch (kind()) {
    case Kind::kUndefined:
      return "";
    case Kind::kString:
      return as_string();
    default:
      return repr();
  }
}

std::string Value::repr() const {
  switch (kind()) {
    case Kind::kUndefined:
      return "";
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return as_bool() ? "True" : "False";
    case Kind::kInt:
      return std::to_string(as_int());
    case Kind::kFloat:
      return float_repr(as_float());
    case Kind::kString:
      return string_repr(as_string());
    case Kind::kList: {
      const ListData& l = as_list();
      auto join = [&](const char* open, const char* close) {
        std::string out = open;
        for (size_t i = 0; i < l.items.size(); ++i) {
          if (i > 0) out += ", ";
          out += l.items[i].repr();
        }
        return out + close;
      };
      switch (l.kind) {
        case SequenceKind::kTuple:
          if (l.items.size() == 1) return "(" + l.items[0].repr() + ",)";
          return join("(", ")");
        case SequenceKind::kGenerator:
          return "<generator object>";
        case SequenceKind::kReverseIterator:
          return "<list_reverseiterator object>";
        case SequenceKind::kDictItems:
          return join("dict_items([", "])");
        case SequenceKind::kDictKeys:
          return join("dict_keys([", "])");
        case SequenceKind::kDictValues:
          return join("dict_values([", "])");
        case SequenceKind::kRange:
          if (l.range_step == 1) {
            return "range(" + std::to_string(l.range_start) + ", " + std::to_string(l.range_stop) +
                   ")";
          }
          return "range(" + std::to_string(l.range_start) + ", " + std::to_string(l.range_stop) +
                 ", " + std::to_string(l.range_step) + ")";
        default:
          return join("[", "]");
      }
    }
    case Kind::kDict: {
      const DictData& d = as_dict();
      std::string out = d.is_namespace ? "<Namespace {" : d.is_loop ? "<LoopContext {" : "{";
      for (size_t i = 0; i < d.items.size(); ++i) {
        if (i > 0) out += ", ";
        out += d.items[i].first.repr() + ": " + d.items[i].second.repr();
      }
      return out + (d.is_namespace || d.is_loop ? "}>" : "}");
    }
    case Kind::kCallable:
      if (as_callable().is_macro) return "<Macro '" + as_callable().name + "'>";
      return "<function " + as_callable().name + ">";
  }
  return "";
}

bool Value::equals(const Value& other) const {
  if (is_number() && other.is_number()) {
    if (is_float() || other.is_float()) return to_double() == other.to_double();
    return to_int() == other.to_int();
  }
  if (kind() != other.kind()) return false;
  switch (kind()) {
    case Kind::kUndefined:
    case Kind::kNone:
      return true;
    case Kind::kString:
      return as_string() == other.as_string();
    case Kind::kList: {
      const auto& a = as_list();
      const auto& b = other.as_list();
      bool a_tuple = a.kind == SequenceKind::kTuple, b_tuple = b.kind == SequenceKind::kTuple;
      if (a_tuple != b_tuple || a.items.size() != b.items.size()) return false;
      if (a.kind == SequenceKind::kGenerator || b.kind == SequenceKind::kGenerator) {
        return &a == &b;
      }
      for (size_t i = 0; i < a.items.size(); ++i) {
        if (!a.items[i].equals(b.items[i])) return false;
      }
      return true;
    }
    case Kind::kDict: {
      const auto& a = as_dict();
      const auto& b = other.as_dict();
      if (a.is_namespace || b.is_namespace) return &a == &b;
      if (a.items.size() != b.items.size()) return false;
      for (const auto& [k, v] : a.items) {
        const Value* o = b.find(k);
        if (o == nullptr || !v.equals(*o)) return false;
      }
      return true;
    }
    case Kind::kCallable:
      return &as_callable() == &other.as_callable();
    default:
      return false;
  }
}

std::vector<Value> Value::iterate() const {
  switch (kind()) {
    case Kind::kUndefined:
      return {};
    case Kind::kString: {
      std::vector<Value> out;
      const std::string& s = as_string();
      for (size_t i = 0; i < s.size();) {
        size_t n = 1;
        while (i + n < s.size() && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80) ++n;
        out.emplace_back(s.substr(i, n));
        i += n;
      }
      return out;
    }
    case Kind::kList:
      return as_list().items;
    case Kind::kDict: {
      if (as_dict().is_namespace || as_dict().is_loop) break;
      std::vector<Value> out;
      out.reserve(as_dict().items.size());
      for (const auto& kv : as_dict().items) out.push_back(kv.first);
      return out;
    }
    default:
      break;
  }
  raise("TypeError", "'" + type_name() + "' object is not iterable");
}

static void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else if (c >= 0x80 && ensure_ascii) {
          size_t n = 1;
          while (i + n < s.size() && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80) ++n;
          for (char32_t cp : utf8_decode(std::string_view(s).substr(i, n))) {
            char buf[16];
            if (cp >= 0x10000) {
              cp -= 0x10000;
              std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", 0xD800 + (cp >> 10),
                            0xDC00 + (cp & 0x3FF));
            } else {
              std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(cp));
            }
            out += buf;
          }
          i += n - 1;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void Value::to_json_text(std::string& out, int indent, const std::string& item_sep,
                         const std::string& key_sep, bool sort_keys, bool ensure_ascii,
                         int depth) const {
  auto newline = [&](int level) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent * level), ' ');
  };
  switch (kind()) {
    case Kind::kNone:
      out += "null";
      return;
    case Kind::kBool:
      out += as_bool() ? "true" : "false";
      return;
    case Kind::kInt:
      out += std::to_string(as_int());
      return;
    case Kind::kFloat: {
      double d = as_float();
      if (std::isnan(d)) {
        out += "NaN";
      } else if (std::isinf(d)) {
        out += d > 0 ? "Infinity" : "-Infinity";
      } else {
        out += float_repr(d);
      }
      return;
    }
    case Kind::kString:
      json_string(out, as_string(), ensure_ascii);
      return;
    case Kind::kList: {
      const ListData& l = as_list();
      if (l.kind != SequenceKind::kList && l.kind != SequenceKind::kTuple) break;
      if (l.items.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < l.items.size(); ++i) {
        if (i > 0) out += item_sep;
        newline(depth + 1);
        l.items[i].to_json_text(out, indent, item_sep, key_sep, sort_keys, ensure_ascii, depth + 1);
      }
      newline(depth);
      out += ']';
      return;
    }
    case Kind::kDict: {
      const DictData& d = as_dict();
      if (d.is_namespace || d.is_loop) break;
      if (d.items.empty()) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<Value, Value>*> items;
      for (const auto& kv : d.items) items.push_back(&kv);
      if (sort_keys) {
        std::stable_sort(items.begin(), items.end(),
                         [](auto* a, auto* b) { return less_than(a->first, b->first); });
      }
      out += '{';
      bool first = true;
      for (const auto* kv : items) {
        if (!first) out += item_sep;
        first = false;
        newline(depth + 1);
        const Value& k = kv->first;
        if (k.is_string()) {
          json_string(out, k.as_string(), ensure_ascii);
        } else if (k.is_none()) {
          out += "\"null\"";
        } else if (k.is_bool()) {
          out += k.as_bool() ? "\"true\"" : "\"false\"";
        } else if (k.is_int() || k.is_float()) {
          out += '"' + k.repr() + '"';
        } else {
          raise("TypeError", "keys must be str, int, float, bool or None, not " + k.type_name());
        }
        out += key_sep;
        kv->second.to_json_text(out, indent, item_sep, key_sep, sort_keys, ensure_ascii, depth + 1);
      }
      newline(depth);
      out += '}';
      return;
    }
    default:
      break;
  }
  raise("TypeError", "Object of type " + type_name() + " is not JSON serializable");
}

bool less_than(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.to_double() < b.to_double();
    return a.to_int() < b.to_int();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if (a.is_list() && b.is_list() && a.as_list().kind == b.as_list().kind) {
    const auto& x = a.as_list().items;
    const auto& y = b.as_list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!x[i].equals(y[i])) return less_than(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  raise("TypeError", "'<' not supported between instances of '" + a.type_name() + "' and '" +
                         b.type_name() + "'");
}

}  // namespace sglang::chat::jinja
