// jinja2's builtin filters and tests, transformers' tojson, and the Python str/list/dict methods
// templates call.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>

#include "chat/jinja/evaluator.h"

namespace sglang::chat::jinja {
namespace {

[[noreturn]] void type_error(const std::string& message) {
  raise("TypeError", message);
}

const Value* kwarg(CallArgs& a, const char* name) {
  for (auto& [k, v] : a.kwargs) {
    if (k == name) return &v;
  }
  return nullptr;
}

// Positional argument i, else keyword `name`, else nullptr.
const Value* arg(CallArgs& a, size_t i, const char* name) {
  if (i < a.args.size()) return &a.args[i];
  return kwarg(a, name);
}

bool is_py_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string strip_chars(const std::string& s, const Value* chars, bool left, bool right) {
  size_t b = 0, e = s.size();
  if (chars == nullptr || chars->is_none()) {
    while (left && b < e && is_py_space(s[b])) ++b;
    while (right && e > b && is_py_space(s[e - 1])) --e;
    return s.substr(b, e - b);
  }
  if (!chars->is_string()) type_error("strip arg must be None or str");
  std::u32string u = utf8_decode(s), set = utf8_decode(chars->as_string());
  size_t ub = 0, ue = u.size();
  while (left && ub < ue && set.find(u[ub]) != std::u32string::npos) ++ub;
  while (right && ue > ub && set.find(u[ue - 1]) != std::u32string::npos) --ue;
  return utf8_encode(u.substr(ub, ue - ub));
}

std::string lower(const std::string& s) {
  std::string r = s;
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}
std::string upper(const std::string& s) {
  std::string r = s;
  for (char& c : r) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return r;
}
std::string title(const std::string& s) {
  std::string r = s;
  bool prev_cased = false;
  for (char& c : r) {
    auto u = static_cast<unsigned char>(c);
    bool alpha = std::isalpha(u) != 0;
    if (alpha) c = static_cast<char>(prev_cased ? std::tolower(u) : std::toupper(u));
    prev_cased = alpha;
  }
  return r;
}
std::string capitalize(const std::string& s) {
  std::string r = lower(s);
  if (!r.empty()) r[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(r[0])));
  return r;
}

std::string replace_all(const std::string& s, const std::string& from, const std::string& to,
                        int64_t count) {
  std::string out;
  if (from.empty()) {
    // Python inserts `to` between characters.
    std::vector<Value> chars = Value(s).iterate();
    int64_t n = 0;
    for (const Value& c : chars) {
      if (count < 0 || n < count) {
        out += to;
        ++n;
      }
      out += c.as_string();
    }
    if (count < 0 || n < count) out += to;
    return out;
  }
  size_t pos = 0;
  int64_t n = 0;
  while (count < 0 || n < count) {
    size_t f = s.find(from, pos);
    if (f == std::string::npos) break;
    out.append(s, pos, f - pos);
    out += to;
    pos = f + from.size();
    ++n;
  }
  out.append(s, pos);
  return out;
}

std::vector<Value> split(const std::string& s, const Value* sep, int64_t maxsplit, bool right) {
  std::vector<std::string> parts;
  if (sep == nullptr || sep->is_none()) {
    // Runs of whitespace separate; leading/trailing whitespace is dropped.
    std::vector<std::pair<size_t, size_t>> words;
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && is_py_space(s[i])) ++i;
      if (i >= s.size()) break;
      size_t b = i;
      while (i < s.size() && !is_py_space(s[i])) ++i;
      words.emplace_back(b, i);
    }
    if (maxsplit >= 0 && static_cast<int64_t>(words.size()) > maxsplit + 1) {
      if (!right) {
        for (int64_t k = 0; k < maxsplit; ++k) {
          parts.push_back(s.substr(words[k].first, words[k].second - words[k].first));
        }
        size_t b = words[static_cast<size_t>(maxsplit)].first;
        size_t e = s.size();
        while (e > b && is_py_space(s[e - 1])) --e;
        parts.push_back(s.substr(b, e - b));
      } else {
        size_t first = words.size() - static_cast<size_t>(maxsplit);
        size_t e = words[first - 1].second;
        size_t b = 0;
        while (b < e && is_py_space(s[b])) ++b;
        parts.push_back(s.substr(b, e - b));
        for (size_t k = first; k < words.size(); ++k) {
          parts.push_back(s.substr(words[k].first, words[k].second - words[k].first));
        }
      }
    } else {
      for (auto [b, e] : words) parts.push_back(s.substr(b, e - b));
    }
  } else {
    if (!sep->is_string()) type_error("must be str or None, not " + sep->type_name());
    const std::string& d = sep->as_string();
    if (d.empty()) raise("ValueError", "empty separator");
    std::vector<size_t> hits;
    for (size_t f = s.find(d); f != std::string::npos; f = s.find(d, f + d.size())) {
      hits.push_back(f);
    }
    if (maxsplit >= 0 && static_cast<int64_t>(hits.size()) > maxsplit) {
      if (right) {
        hits.erase(hits.begin(), hits.end() - maxsplit);
      } else {
        hits.resize(static_cast<size_t>(maxsplit));
      }
    }
    size_t pos = 0;
    for (size_t h : hits) {
      parts.push_back(s.substr(pos, h - pos));
      pos = h + d.size();
    }
    parts.push_back(s.substr(pos));
  }
  std::vector<Value> out;
  out.reserve(parts.size());
  for (auto& p : parts) out.emplace_back(std::move(p));
  return out;
}

int64_t int_arg(const Value* v, int64_t def) {
  if (v == nullptr || v->is_none()) return def;
  if (!v->is_int() && !v->is_bool()) type_error("an integer is required");
  return v->to_int();
}

// Python's str.format with {} / {0} / {name} fields (no format specs beyond what str() gives).
std::string str_format(const std::string& fmt, CallArgs& a) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      size_t close = fmt.find('}', i);
      if (close == std::string::npos)
        raise("ValueError", "Single '{' encountered in format string");
      std::string field = fmt.substr(i + 1, close - i - 1);
      size_t colon = field.find(':');
      if (colon != std::string::npos) field.resize(colon);
      size_t bang = field.find('!');
      bool use_repr = bang != std::string::npos && field.substr(bang) == "!r";
      if (bang != std::string::npos) field.resize(bang);
      const Value* v = nullptr;
      if (field.empty()) {
        if (auto_index >= a.args.size()) raise("IndexError", "Replacement index out of range");
        v = &a.args[auto_index++];
      } else if (std::isdigit(static_cast<unsigned char>(field[0]))) {
        size_t k = 0;
        auto res = std::from_chars(field.data(), field.data() + field.size(), k);
        if (res.ec != std::errc() || k >= a.args.size()) {
          raise("IndexError", "Replacement index out of range");
        }
        v = &a.args[k];
      } else {
        v = kwarg(a, field.c_str());
        if (v == nullptr) raise("KeyError", "'" + field + "'");
      }
      out += use_repr ? v->repr() : v->str();
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

Value sequence_result(std::vector<Value> items) {
  return Value::list(std::move(items), SequenceKind::kGenerator);
}

// jinja2's attribute lookup for map/selectattr/sort(attribute=...): dotted, with integer parts
// as indices.
Value get_attribute_path(Evaluator& ev, const Value& item, const std::string& path) {
  Value cur = item;
  size_t pos = 0;
  while (true) {
    size_t dot = path.find('.', pos);
    std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) {
      return std::isdigit(static_cast<unsigned char>(c));
    });
    int64_t index = 0;
    if (numeric &&
        std::from_chars(part.data(), part.data() + part.size(), index).ec == std::errc()) {
      cur = ev.getitem(cur, Value(index));
    } else {
      cur = ev.getitem(cur, Value(part));
    }
    if (dot == std::string::npos) return cur;
    pos = dot + 1;
  }
}

std::vector<Value> select_or_reject(Evaluator& ev, const Value& subject, CallArgs& a, bool by_attr,
                                    bool select) {
  std::vector<Value> out;
  std::string attr;
  size_t first = 0;
  if (by_attr) {
    if (a.args.empty()) type_error("Missing parameter for attribute name");
    attr = a.args[0].str();
    first = 1;
  }
  std::string test_name;
  CallArgs test_args;
  if (a.args.size() > first) {
    test_name = a.args[first].str();
    test_args.args.assign(a.args.begin() + static_cast<std::ptrdiff_t>(first) + 1, a.args.end());
    test_args.kwargs = a.kwargs;
  }
  if (!subject.truthy()) return out;  // jinja2: `if value:` before iterating
  for (const Value& item : subject.iterate()) {
    Value v = by_attr ? get_attribute_path(ev, item, attr) : item;
    bool r = test_name.empty() ? v.truthy() : ev.test(test_name, v, test_args);
    if (r == select) out.push_back(item);
  }
  return out;
}

bool sort_less(const Value& a, const Value& b, bool case_sensitive) {
  if (!case_sensitive && a.is_string() && b.is_string()) {
    return lower(a.as_string()) < lower(b.as_string());
  }
  return less_than(a, b);
}

std::string indent_text(const std::string& s, const std::string& pad, bool first, bool blank) {
  std::string out;
  std::vector<Value> lines = split(s, nullptr, -1, false);
  (void)lines;
  // Split on "\n" keeping empty lines (str.splitlines on the text jinja2 sees).
  std::vector<std::string> parts;
  size_t pos = 0;
  while (true) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) {
      parts.push_back(s.substr(pos));
      break;
    }
    parts.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  bool trailing_newline = !s.empty() && s.back() == '\n';
  if (trailing_newline) parts.pop_back();
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '\n';
    bool is_blank = std::all_of(parts[i].begin(), parts[i].end(), is_py_space);
    if ((i > 0 || first) && (blank || !is_blank)) out += pad;
    out += parts[i];
  }
  if (trailing_newline) out += '\n';
  return out;
}

}  // namespace

std::string percent_format(const std::string& format, const Value& args) {
  std::vector<Value> values;
  const DictData* mapping = nullptr;
  if (args.is_list() && args.as_list().kind == SequenceKind::kTuple) {
    values = args.as_list().items;
  } else if (args.is_dict()) {
    mapping = &args.as_dict();
  } else {
    values.push_back(args);
  }
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    size_t j = i + 1;
    const Value* v = nullptr;
    if (j < format.size() && format[j] == '(' && mapping != nullptr) {
      size_t close = format.find(')', j);
      if (close == std::string::npos) raise("ValueError", "incomplete format key");
      v = mapping->find(std::string_view(format).substr(j + 1, close - j - 1));
      if (v == nullptr) raise("KeyError", format.substr(j + 1, close - j - 1));
      j = close + 1;
    }
    std::string spec = "%";
    while (j < format.size() &&
           std::string("-+ #0123456789.").find(format[j]) != std::string::npos) {
      spec += format[j++];
    }
    if (j >= format.size()) raise("ValueError", "incomplete format");
    char conv = format[j];
    i = j;
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (v == nullptr) {
      if (next >= values.size()) type_error("not enough arguments for format string");
      v = &values[next++];
    }
    char buf[512];
    switch (conv) {
      case 's':
      case 'r':
      case 'a': {
        std::string s = conv == 's' ? v->str() : v->repr();
        spec += 's';
        std::snprintf(buf, sizeof(buf), spec.c_str(), s.c_str());
        out += s.size() >= sizeof(buf) - 1 ? s : std::string(buf);
        break;
      }
      case 'd':
      case 'i':
      case 'x':
      case 'X':
      case 'o': {
        if (!v->is_number())
          type_error("%" + std::string(1, conv) + " format: a real number is required, not " +
                     v->type_name());
        int64_t n = v->is_float() ? static_cast<int64_t>(v->as_float()) : v->to_int();
        spec += "ll";
        spec += conv == 'i' ? 'd' : conv;
        std::snprintf(buf, sizeof(buf), spec.c_str(), static_cast<long long>(n));
        out += buf;
        break;
      }
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G': {
        if (!v->is_number()) type_error("must be real number, not " + v->type_name());
        spec += conv;
        std::snprintf(buf, sizeof(buf), spec.c_str(), v->to_double());
        out += buf;
        break;
      }
      case 'c':
        out += v->is_string() ? v->as_string() : std::string(1, static_cast<char>(v->to_int()));
        break;
      default:
        raise("ValueError", std::string("unsupported format character '") + conv + "'");
    }
  }
  if (mapping == nullptr && next < values.size()) {
    type_error("not all arguments converted during string formatting");
  }
  return out;
}

bool has_method(const Value& obj, const std::string& name) {
  static const std::set<std::string> kStr = {
      "strip",   "lstrip",  "rstrip",  "startswith", "endswith",     "split",        "rsplit",
      "replace", "upper",   "lower",   "title",      "capitalize",   "find",         "rfind",
      "count",   "format",  "join",    "splitlines", "isdigit",      "isalpha",      "isalnum",
      "isspace", "isupper", "islower", "index",      "removeprefix", "removesuffix", "zfill",
      "center",  "ljust",   "rjust",   "swapcase"};
  static const std::set<std::string> kList = {"index",   "count", "append", "extend",
                                              "insert",  "pop",   "remove", "clear",
                                              "reverse", "sort",  "copy"};
  static const std::set<std::string> kDict = {"get", "keys",    "values",     "items",  "copy",
                                              "pop", "popitem", "setdefault", "update", "clear"};
  if (obj.is_string()) return kStr.count(name) > 0;
  if (obj.is_list()) return kList.count(name) > 0;
  if (obj.is_dict()) return kDict.count(name) > 0;
  return false;
}

std::optional<Value> call_method(const Value& obj, const std::string& name, CallArgs& a) {
  if (!has_method(obj, name)) return std::nullopt;
  auto a0 = [&](const char* n) { return arg(a, 0, n); };
  if (obj.is_string()) {
    const std::string& s = obj.as_string();
    if (name == "strip") return Value(strip_chars(s, a0("chars"), true, true));
    if (name == "lstrip") return Value(strip_chars(s, a0("chars"), true, false));
    if (name == "rstrip") return Value(strip_chars(s, a0("chars"), false, true));
    if (name == "upper") return Value(upper(s));
    if (name == "lower") return Value(lower(s));
    if (name == "title") return Value(title(s));
    if (name == "capitalize") return Value(capitalize(s));
    if (name == "startswith" || name == "endswith") {
      const Value* p = a0("prefix");
      if (p == nullptr) type_error(name + "() takes at least 1 argument (0 given)");
      std::vector<Value> options = p->is_list() ? p->as_list().items : std::vector<Value>{*p};
      for (const Value& o : options) {
        if (!o.is_string()) type_error(name + " first arg must be str or a tuple of str");
        const std::string& x = o.as_string();
        if (x.size() > s.size()) continue;
        if (name == "startswith" ? s.compare(0, x.size(), x) == 0
                                 : s.compare(s.size() - x.size(), x.size(), x) == 0) {
          return Value(true);
        }
      }
      return Value(false);
    }
    if (name == "split" || name == "rsplit") {
      return Value::list(
          split(s, arg(a, 0, "sep"), int_arg(arg(a, 1, "maxsplit"), -1), name == "rsplit"));
    }
    if (name == "splitlines") {
      std::vector<Value> out;
      size_t pos = 0;
      while (pos < s.size()) {
        size_t nl = s.find_first_of("\r\n", pos);
        if (nl == std::string::npos) {
          out.emplace_back(s.substr(pos));
          break;
        }
        out.emplace_back(s.substr(pos, nl - pos));
        pos = nl + ((s[nl] == '\r' && nl + 1 < s.size() && s[nl + 1] == '\n') ? 2 : 1);
      }
      return Value::list(std::move(out));
    }
    if (name == "replace") {
      if (a.args.size() < 2) type_error("replace expected at least 2 arguments");
      return Value(
          replace_all(s, a.args[0].str(), a.args[1].str(), int_arg(arg(a, 2, "count"), -1)));
    }
    if (name == "find" || name == "rfind" || name == "index" || name == "count") {
      const Value* sub = a0("sub");
      if (sub == nullptr || !sub->is_string()) type_error("must be str");
      const std::string& x = sub->as_string();
      if (name == "count") {
        if (x.empty()) return Value(static_cast<int64_t>(string_length(s) + 1));
        int64_t n = 0;
        for (size_t f = s.find(x); f != std::string::npos; f = s.find(x, f + x.size())) ++n;
        return Value(n);
      }
      size_t f = name == "rfind" ? s.rfind(x) : s.find(x);
      if (f == std::string::npos) {
        if (name == "index") raise("ValueError", "substring not found");
        return Value(static_cast<int64_t>(-1));
      }
      return Value(static_cast<int64_t>(string_length(std::string_view(s).substr(0, f))));
    }
    if (name == "format") return Value(str_format(s, a));
    if (name == "join") {
      std::string out;
      bool first = true;
      for (const Value& v : (a.args.empty() ? Value() : a.args[0]).iterate()) {
        if (!v.is_string())
          type_error("sequence item: expected str instance, " + v.type_name() + " found");
        if (!first) out += s;
        first = false;
        out += v.as_string();
      }
      return Value(std::move(out));
    }
    if (name == "removeprefix" || name == "removesuffix") {
      std::string x = a.args.empty() ? "" : a.args[0].str();
      if (name == "removeprefix" && s.compare(0, x.size(), x) == 0)
        return Value(s.substr(x.size()));
      if (name == "removesuffix" && x.size() <= s.size() && !x.empty() &&
          s.compare(s.size() - x.size(), x.size(), x) == 0) {
        return Value(s.substr(0, s.size() - x.size()));
      }
      return Value(s);
    }
    auto all = [&](int (*pred)(int)) {
      return Value(!s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
        return pred(static_cast<unsigned char>(c)) != 0;
      }));
    };
    if (name == "isdigit") return all(std::isdigit);
    if (name == "isalpha") return all(std::isalpha);
    if (name == "isalnum") return all(std::isalnum);
    if (name == "isspace") return all(std::isspace);
    if (name == "isupper") {
      return Value(
          std::any_of(s.begin(), s.end(),
                      [](char c) { return std::isupper(static_cast<unsigned char>(c)); }) &&
          upper(s) == s);
    }
    if (name == "islower") {
      return Value(
          std::any_of(s.begin(), s.end(),
                      [](char c) { return std::islower(static_cast<unsigned char>(c)); }) &&
          lower(s) == s);
    }
    if (name == "swapcase") {
      std::string r = s;
      for (char& c : r) {
        auto u = static_cast<unsigned char>(c);
        c = static_cast<char>(std::isupper(u) ? std::tolower(u) : std::toupper(u));
      }
      return Value(r);
    }
    int64_t width = int_arg(a0("width"), 0);
    int64_t len = static_cast<int64_t>(string_length(s));
    std::string fill = a.args.size() > 1 ? a.args[1].str() : " ";
    auto pad = [&](int64_t n) {
      std::string r;
      for (int64_t i = 0; i < n; ++i) r += fill;
      return r;
    };
    if (width <= len) return Value(s);
    if (name == "zfill") return Value(std::string(static_cast<size_t>(width - len), '0') + s);
    if (name == "ljust") return Value(s + pad(width - len));
    if (name == "rjust") return Value(pad(width - len) + s);
    int64_t total = width - len;
    int64_t left = total / 2 + (total & width & 1);
    return Value(pad(left) + s + pad(total - left));
  }
  if (obj.is_list()) {
    const ListData& l = obj.as_list();
    if (name == "index" || name == "count") {
      if (a.args.empty()) type_error(name + "() takes exactly one argument (0 given)");
      int64_t n = 0;
      for (size_t i = 0; i < l.items.size(); ++i) {
        if (l.items[i].equals(a.args[0])) {
          if (name == "index") return Value(static_cast<int64_t>(i));
          ++n;
        }
      }
      if (name == "index") raise("ValueError", a.args[0].repr() + " is not in list");
      return Value(n);
    }
    if (name == "copy") return Value::list(l.items, l.kind);
    raise("SecurityError",
          "access to attribute '" + name + "' of '" + obj.type_name() + "' object is unsafe.");
  }
  const DictData& d = obj.as_dict();
  if (name == "get") {
    if (a.args.empty()) type_error("get expected at least 1 argument, got 0");
    if (const Value* v = d.find(a.args[0])) return *v;
    return a.args.size() > 1 ? a.args[1] : Value(nullptr);
  }
  if (name == "keys" || name == "values" || name == "items") {
    std::vector<Value> out;
    out.reserve(d.items.size());
    for (const auto& [k, v] : d.items) {
      if (name == "keys") {
        out.push_back(k);
      } else if (name == "values") {
        out.push_back(v);
      } else {
        out.push_back(Value::list({k, v}, SequenceKind::kTuple));
      }
    }
    return Value::list(std::move(out), name == "keys"     ? SequenceKind::kDictKeys
                                       : name == "values" ? SequenceKind::kDictValues
                                                          : SequenceKind::kDictItems);
  }
  if (name == "copy") {
    auto c = std::make_shared<DictData>();
    c->items = d.items;
    return Value(std::move(c));
  }
  raise("SecurityError", "access to attribute '" + name + "' of 'dict' object is unsafe.");
}

bool apply_test(Evaluator& ev, const std::string& name, const Value& v, CallArgs& a) {
  (void)ev;
  const Value* other = arg(a, 0, "value");
  auto need = [&]() -> const Value& {
    if (other == nullptr) type_error("test '" + name + "' expects an argument");
    return *other;
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict() && !v.as_dict().is_namespace && !v.as_dict().is_loop;
  if (name == "iterable") return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
  if (name == "sequence") {
    if (v.is_string() || v.is_dict() || v.is_undefined()) return true;
    if (!v.is_list()) return false;
    SequenceKind k = v.as_list().kind;
    return k == SequenceKind::kList || k == SequenceKind::kTuple || k == SequenceKind::kRange ||
           k == SequenceKind::kDictItems || k == SequenceKind::kDictKeys ||
           k == SequenceKind::kDictValues;
  }
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "callable") return v.is_callable();
  if (name == "lower") return v.is_string() && lower(v.as_string()) == v.as_string();
  if (name == "upper") return v.is_string() && upper(v.as_string()) == v.as_string();
  if (name == "escaped") return false;
  if (name == "even" || name == "odd") {
    if (!v.is_int() && !v.is_bool())
      type_error("not all arguments converted during string formatting");
    return (v.to_int() % 2 == 0) == (name == "even");
  }
  if (name == "divisibleby") {
    const Value& d = need();
    if (!v.is_number() || !d.is_number()) type_error("unsupported operand type(s) for %");
    if (d.to_double() == 0) raise("ZeroDivisionError", "integer division or modulo by zero");
    if (v.is_float() || d.is_float()) return std::fmod(v.to_double(), d.to_double()) == 0;
    return v.to_int() % d.to_int() == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==") return v.equals(need());
  if (name == "ne" || name == "!=") return !v.equals(need());
  if (name == "sameas") {
    const Value& o = need();
    if (v.kind() != o.kind()) return false;
    if (v.is_none() || v.is_undefined()) return true;
    if (v.is_bool()) return v.as_bool() == o.as_bool();
    return v.equals(o) && (v.is_int() || v.is_string());
  }
  auto cmp = [&](const char* op) {
    const Value& o = need();
    if (!((v.is_number() && o.is_number()) || (v.is_string() && o.is_string()))) {
      type_error(std::string("'") + op + "' not supported between instances of '" + v.type_name() +
                 "' and '" + o.type_name() + "'");
    }
    return o;
  };
  if (name == "lt" || name == "lessthan" || name == "<") return less_than(v, cmp("<"));
  if (name == "gt" || name == "greaterthan" || name == ">") return less_than(cmp(">"), v);
  if (name == "le" || name == "<=") return !less_than(cmp("<="), v);
  if (name == "ge" || name == ">=") return !less_than(v, cmp(">="));
  if (name == "in") {
    const Value& c = need();
    if (c.is_string())
      return v.is_string() && c.as_string().find(v.as_string()) != std::string::npos;
    for (const Value& x : c.iterate()) {
      if (x.equals(v)) return true;
    }
    return false;
  }
  if (name == "filter" || name == "test") return false;
  raise("TemplateRuntimeError", "No test named '" + name + "' found.");
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

Value apply_filter(Evaluator& ev, const std::string& name, const Value& v, CallArgs& a) {
  auto a0 = [&](const char* n) { return arg(a, 0, n); };
  if (name == "safe" || name == "e" || name == "escape" || name == "forceescape") {
    if (name == "safe") return v.is_string() ? v : Value(v.str());
    return Value(html_escape(v.str()));
  }
  if (name == "tojson") {
    // transformers: json.dumps(x, ensure_ascii=False, indent=indent, separators=separators,
    // sort_keys=sort_keys).
    const Value* indent = a0("indent");
    const Value* seps = kwarg(a, "separators");
    const Value* sort = kwarg(a, "sort_keys");
    const Value* ascii = kwarg(a, "ensure_ascii");
    int ind = indent == nullptr || indent->is_none() ? -1 : static_cast<int>(indent->to_int());
    std::string item_sep = ind >= 0 ? "," : ", ", key_sep = ": ";
    if (seps != nullptr && seps->is_list() && seps->as_list().items.size() == 2) {
      item_sep = seps->as_list().items[0].str();
      key_sep = seps->as_list().items[1].str();
    }
    std::string out;
    v.to_json_text(out, ind, item_sep, key_sep, sort != nullptr && sort->truthy(),
                   ascii != nullptr && ascii->truthy(), 0);
    return Value(std::move(out));
  }
  if (name == "default" || name == "d") {
    const Value* def = a0("default_value");
    const Value* boolean = arg(a, 1, "boolean");
    bool use = v.is_undefined() || (boolean != nullptr && boolean->truthy() && !v.truthy());
    if (use) return def != nullptr ? *def : Value("");
    return v;
  }
  if (v.is_undefined() && name != "length" && name != "count" && name != "list" &&
      name != "string" && name != "join" && name != "first" && name != "items" &&
      name != "select" && name != "reject" && name != "selectattr" && name != "rejectattr" &&
      name != "map" && name != "unique" && name != "trim" && name != "lower" && name != "upper") {
    v.fail_undefined();
  }
  if (name == "length" || name == "count") {
    if (v.is_string()) return Value(static_cast<int64_t>(string_length(v.as_string())));
    if (v.is_undefined()) return Value(0);
    if (v.is_list()) {
      SequenceKind k = v.as_list().kind;
      if (k == SequenceKind::kGenerator || k == SequenceKind::kReverseIterator) {
        type_error("object of type '" + v.type_name() + "' has no len()");
      }
      return Value(static_cast<int64_t>(v.as_list().items.size()));
    }
    if (v.is_dict() && !v.as_dict().is_namespace && !v.as_dict().is_loop) {
      return Value(static_cast<int64_t>(v.as_dict().items.size()));
    }
    type_error("object of type '" + v.type_name() + "' has no len()");
  }
  if (name == "string") return Value(v.str());
  if (name == "trim") {
    return Value(strip_chars(v.str(), a0("chars"), true, true));
  }
  if (name == "upper") return Value(upper(v.str()));
  if (name == "lower") return Value(lower(v.str()));
  if (name == "capitalize") return Value(capitalize(v.str()));
  if (name == "title") return Value(title(v.str()));
  if (name == "list") {
    if (v.is_none() || v.is_number()) type_error("'" + v.type_name() + "' object is not iterable");
    return Value::list(v.iterate());
  }
  if (name == "first") {
    std::vector<Value> items = v.iterate();
    if (items.empty()) return Value::undefined("No first item, sequence was empty.");
    return items.front();
  }
  if (name == "last") {
    if (v.is_list() && (v.as_list().kind == SequenceKind::kGenerator)) {
      type_error("'generator' object is not reversible");
    }
    std::vector<Value> items = v.iterate();
    if (items.empty()) return Value::undefined("No last item, sequence was empty.");
    return items.back();
  }
  if (name == "join") {
    std::string sep = a0("d") ? a0("d")->str() : "";
    const Value* attribute = arg(a, 1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& item : v.iterate()) {
      if (!first) out += sep;
      first = false;
      out += (attribute ? get_attribute_path(ev, item, attribute->str()) : item).str();
    }
    return Value(std::move(out));
  }
  if (name == "items") {
    if (v.is_undefined()) return sequence_result({});
    if (!v.is_dict()) type_error("Can only get item pairs from a mapping.");
    std::vector<Value> out;
    for (const auto& [k, x] : v.as_dict().items)
      out.push_back(Value::list({k, x}, SequenceKind::kTuple));
    return sequence_result(std::move(out));
  }
  if (name == "dictsort") {
    if (!v.is_dict()) type_error("can only dictsort a mapping");
    bool case_sensitive = a0("case_sensitive") && a0("case_sensitive")->truthy();
    const Value* by = arg(a, 1, "by");
    bool by_value = by != nullptr && by->str() == "value";
    const Value* rev = arg(a, 2, "reverse");
    std::vector<std::pair<Value, Value>> items = v.as_dict().items;
    std::stable_sort(items.begin(), items.end(), [&](const auto& x, const auto& y) {
      return by_value ? sort_less(x.second, y.second, case_sensitive)
                      : sort_less(x.first, y.first, case_sensitive);
    });
    if (rev != nullptr && rev->truthy()) std::reverse(items.begin(), items.end());
    std::vector<Value> out;
    for (auto& [k, x] : items) out.push_back(Value::list({k, x}, SequenceKind::kTuple));
    return Value::list(std::move(out));
  }
  if (name == "map") {
    std::vector<Value> out;
    if (!v.truthy()) return sequence_result({});  // jinja2: `if value:` before iterating
    const Value* attribute = kwarg(a, "attribute");
    if (attribute != nullptr) {
      const Value* def = kwarg(a, "default");
      for (const Value& item : v.iterate()) {
        Value x = get_attribute_path(ev, item, attribute->str());
        out.push_back(x.is_undefined() && def != nullptr ? *def : x);
      }
      return sequence_result(std::move(out));
    }
    if (a.args.empty()) return sequence_result(v.iterate());
    std::string filter = a.args[0].str();
    CallArgs rest;
    rest.args.assign(a.args.begin() + 1, a.args.end());
    rest.kwargs = a.kwargs;
    for (const Value& item : v.iterate()) {
      CallArgs copy = rest;
      out.push_back(ev.filter(filter, item, copy));
    }
    return sequence_result(std::move(out));
  }
  if (name == "select" || name == "reject") {
    return sequence_result(select_or_reject(ev, v, a, false, name == "select"));
  }
  if (name == "selectattr" || name == "rejectattr") {
    return sequence_result(select_or_reject(ev, v, a, true, name == "selectattr"));
  }
  if (name == "unique") {
    std::vector<Value> out;
    const Value* attribute = arg(a, 1, "attribute");
    bool case_sensitive = a0("case_sensitive") && a0("case_sensitive")->truthy();
    std::vector<Value> seen;
    for (const Value& item : v.iterate()) {
      Value key = attribute ? get_attribute_path(ev, item, attribute->str()) : item;
      if (!case_sensitive && key.is_string()) key = Value(lower(key.as_string()));
      bool dup =
          std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return s.equals(key); });
      if (!dup) {
        seen.push_back(key);
        out.push_back(item);
      }
    }
    return sequence_result(std::move(out));
  }
  if (name == "sort") {
    bool rev = a0("reverse") && a0("reverse")->truthy();
    bool case_sensitive = arg(a, 1, "case_sensitive") && arg(a, 1, "case_sensitive")->truthy();
    const Value* attribute = arg(a, 2, "attribute");
    std::vector<Value> items = v.iterate();
    std::vector<std::pair<Value, Value>> keyed;
    for (const Value& item : items) {
      keyed.emplace_back(attribute ? get_attribute_path(ev, item, attribute->str()) : item, item);
    }
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
      return rev ? sort_less(y.first, x.first, case_sensitive)
                 : sort_less(x.first, y.first, case_sensitive);
    });
    std::vector<Value> out;
    for (auto& kv : keyed) out.push_back(kv.second);
    return Value::list(std::move(out));
  }
  if (name == "reverse") {
    if (v.is_string()) {
      std::u32string u = utf8_decode(v.as_string());
      std::reverse(u.begin(), u.end());
      return Value(utf8_encode(u));
    }
    std::vector<Value> items = v.iterate();
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items), SequenceKind::kReverseIterator);
  }
  if (name == "replace") {
    if (a.args.size() < 2) type_error("replace() missing arguments");
    return Value(
        replace_all(v.str(), a.args[0].str(), a.args[1].str(), int_arg(arg(a, 2, "count"), -1)));
  }
  if (name == "int") {
    const Value* def = a0("default");
    if (v.is_int()) return v;
    if (v.is_bool()) return Value(v.to_int());
    if (v.is_float()) return Value(static_cast<int64_t>(v.as_float()));
    if (v.is_string()) {
      std::string s = strip_chars(v.as_string(), nullptr, true, true);
      try {
        size_t used = 0;
        int64_t n = std::stoll(s, &used, 10);
        if (used == s.size()) return Value(n);
        double d = std::stod(s, &used);
        if (used == s.size()) return Value(static_cast<int64_t>(d));
      } catch (const std::exception&) {
      }
    }
    return def ? *def : Value(0);
  }
  if (name == "float") {
    const Value* def = a0("default");
    if (v.is_number()) return Value(v.to_double());
    if (v.is_string()) {
      try {
        size_t used = 0;
        std::string s = strip_chars(v.as_string(), nullptr, true, true);
        double d = std::stod(s, &used);
        if (used == s.size()) return Value(d);
      } catch (const std::exception&) {
      }
    }
    return def ? *def : Value(0.0);
  }
  if (name == "abs") {
    if (v.is_float()) return Value(std::fabs(v.as_float()));
    if (v.is_number()) return Value(v.to_int() < 0 ? -v.to_int() : v.to_int());
    type_error("bad operand type for abs(): '" + v.type_name() + "'");
  }
  if (name == "round") {
    int64_t precision = int_arg(a0("precision"), 0);
    const Value* method = arg(a, 1, "method");
    std::string m = method ? method->str() : "common";
    double scale = std::pow(10.0, static_cast<double>(precision));
    double x = v.to_double() * scale;
    double r = m == "ceil" ? std::ceil(x) : m == "floor" ? std::floor(x) : std::round(x);
    return Value(r / scale);
  }
  if (name == "wordcount") {
    return Value(static_cast<int64_t>(split(v.str(), nullptr, -1, false).size()));
  }
  if (name == "center") {
    CallArgs c;
    c.args.push_back(a0("width") ? *a0("width") : Value(80));
    return *call_method(Value(v.str()), "center", c);
  }
  if (name == "indent") {
    const Value* width = a0("width");
    std::string pad = width == nullptr     ? "    "
                      : width->is_string() ? width->as_string()
                                           : std::string(static_cast<size_t>(width->to_int()), ' ');
    const Value* first = arg(a, 1, "first");
    const Value* blank = arg(a, 2, "blank");
    return Value(indent_text(v.str(), pad, first && first->truthy(), blank && blank->truthy()));
  }
  if (name == "min" || name == "max") {
    std::vector<Value> items = v.iterate();
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    const Value* attribute = arg(a, 1, "attribute");
    Value best = items[0];
    for (const Value& x : items) {
      Value kx = attribute ? get_attribute_path(ev, x, attribute->str()) : x;
      Value kb = attribute ? get_attribute_path(ev, best, attribute->str()) : best;
      if (name == "min" ? sort_less(kx, kb, false) : sort_less(kb, kx, false)) best = x;
    }
    return best;
  }
  if (name == "sum") {
    const Value* attribute = a0("attribute");
    Value total = arg(a, 1, "start") ? *arg(a, 1, "start") : Value(0);
    for (const Value& x : v.iterate()) {
      Value y = attribute ? get_attribute_path(ev, x, attribute->str()) : x;
      if (!y.is_number() || !total.is_number()) type_error("unsupported operand type(s) for +");
      total = (total.is_float() || y.is_float()) ? Value(total.to_double() + y.to_double())
                                                 : Value(total.to_int() + y.to_int());
    }
    return total;
  }
  if (name == "attr") {
    return ev.getattr(v, a0("name") ? a0("name")->str() : "");
  }
  if (name == "batch" || name == "slice") {
    int64_t n = int_arg(a0("linecount"), 1);
    if (n <= 0) raise("ValueError", "invalid count");
    std::vector<Value> items = v.iterate(), out, cur;
    for (const Value& x : items) {
      cur.push_back(x);
      if (static_cast<int64_t>(cur.size()) == n) {
        out.push_back(Value::list(std::move(cur)));
        cur.clear();
      }
    }
    if (!cur.empty()) out.push_back(Value::list(std::move(cur)));
    return sequence_result(std::move(out));
  }
  if (name == "format") {
    if (a.args.size() == 1 && !a.kwargs.size()) return Value(percent_format(v.str(), a.args[0]));
    return Value(percent_format(v.str(), Value::list(a.args, SequenceKind::kTuple)));
  }
  if (name == "truncate") {
    int64_t length = int_arg(a0("length"), 255);
    std::u32string u = utf8_decode(v.str());
    if (static_cast<int64_t>(u.size()) <= length) return Value(v.str());
    return Value(utf8_encode(u.substr(0, static_cast<size_t>(std::max<int64_t>(0, length - 3)))) +
                 "...");
  }
  if (name == "pprint") return Value(v.repr());
  raise("TemplateRuntimeError", "No filter named '" + name + "' found.");
}

}  // namespace sglang::chat::jinja
