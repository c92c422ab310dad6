#include "chat/function_call/python_literal.h"

#include <charconv>
#include <cstdint>
#include <limits>

#include "chat/function_call/python_json.h"
#include "util/json_nesting.h"
#include "util/utf8.h"

namespace sglang::chat {
namespace {

bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (static_cast<unsigned char>(c) >= 0x80);
}
bool is_ident(char c) {
  return is_ident_start(c) || (c >= '0' && c <= '9');
}

class Reader {
 public:
  explicit Reader(std::string_view s, bool literal_eval = false)
      : s_(s), literal_eval_(literal_eval) {}

  std::optional<nlohmann::ordered_json> whole_literal() {
    skip();
    auto v = literal();
    skip();
    if (!v || i_ != s_.size()) return std::nullopt;
    return v;
  }

  std::optional<std::vector<PythonCall>> call_list() {
    skip();
    if (!eat('[')) return std::nullopt;
    std::vector<PythonCall> calls;
    skip();
    while (!peek(']')) {
      auto call = one_call();
      if (!call) return std::nullopt;
      calls.push_back(std::move(*call));
      skip();
      if (eat(',')) {
        skip();
        continue;
      }
      if (!peek(']')) return std::nullopt;
    }
    ++i_;
    skip();
    if (i_ != s_.size()) return std::nullopt;
    return calls;
  }

 private:
  std::optional<PythonCall> one_call() {
    PythonCall call;
    auto name = identifier();
    if (!name) return std::nullopt;
    bool dotted = false;
    while (eat('.')) {
      if (!identifier()) return std::nullopt;
      dotted = true;
    }
    if (!dotted) call.name = *name;
    skip();
    if (!eat('(')) return std::nullopt;
    skip();
    bool seen_keyword = false;
    while (!peek(')')) {
      size_t save = i_;
      auto key = identifier();
      skip();
      if (key && peek('=') && !(i_ + 1 < s_.size() && s_[i_ + 1] == '=')) {
        ++i_;
        skip();
        auto value = literal();
        if (!value) return std::nullopt;
        if (call.arguments.contains(*key)) return std::nullopt;  // SyntaxError: repeated
        call.arguments[*key] = std::move(*value);
        seen_keyword = true;
      } else {
        // A positional argument: valid Python that SGLang ignores (it reads call.keywords).
        i_ = save;
        if (seen_keyword) return std::nullopt;
        if (!literal() && !(i_ = save, identifier())) return std::nullopt;
      }
      skip();
      if (eat(',')) {
        skip();
        continue;
      }
      if (!peek(')')) return std::nullopt;
    }
    ++i_;
    return call;
  }

  // Nesting is bounded as for JSON (util/json_nesting.h): the reader recurses per level.
  std::optional<nlohmann::ordered_json> literal() {
    if (depth_ >= kMaxJsonNesting) return std::nullopt;
    ++depth_;
    auto v = literal_at_depth();
    --depth_;
    return v;
  }

  std::optional<nlohmann::ordered_json> literal_at_depth() {
    skip();
    if (i_ >= s_.size()) return std::nullopt;
    char c = s_[i_];
    if (c == '[') {
      ++i_;
      auto list = nlohmann::ordered_json::array();
      skip();
      while (!peek(']')) {
        auto v = literal();
        if (!v) return std::nullopt;
        list.push_back(std::move(*v));
        skip();
        if (eat(',')) {
          skip();
          continue;
        }
        if (!peek(']')) return std::nullopt;
      }
      ++i_;
      return list;
    }
    if (c == '{') {
      ++i_;
      auto dict = nlohmann::ordered_json::object();
      skip();
      while (!peek('}')) {
        auto k = literal();
        if (!k || k->is_array() || k->is_object()) return std::nullopt;
        skip();
        if (!eat(':')) return std::nullopt;
        auto v = literal();
        if (!v) return std::nullopt;
        // json.dumps writes a non-string key as its JSON text ("1", "true", "null").
        dict[k->is_string() ? k->get<std::string>() : python_json_dumps(*k, false)] = std::move(*v);
        skip();
        if (eat(',')) {
          skip();
          continue;
        }
        if (!peek('}')) return std::nullopt;
      }
      ++i_;
      return dict;
    }
    if (c == '"' || c == '\'') return string_literal();
    if (literal_eval_ && (c == '-' || c == '+')) {
      // literal_eval folds a sign into a number (ast.UnaryOp over a Constant).
      ++i_;
      skip();
      if (i_ >= s_.size() || !((s_[i_] >= '0' && s_[i_] <= '9') || s_[i_] == '.')) {
        return std::nullopt;
      }
      auto v = number();
      if (!v || c == '+') return v;
      if (v->is_number_float()) return nlohmann::ordered_json(-v->get<double>());
      if (v->is_number_integer()) return nlohmann::ordered_json(-v->get<int64_t>());
      if (v->get<uint64_t>() == uint64_t{1} << 63) {
        return nlohmann::ordered_json(std::numeric_limits<int64_t>::min());
      }
      return std::nullopt;
    }
    if (literal_eval_ && c == '(') {
      // A tuple, which json.dumps writes as a list; (x) alone is x.
      ++i_;
      auto list = nlohmann::ordered_json::array();
      bool comma = false;
      skip();
      while (!peek(')')) {
        auto v = literal();
        if (!v) return std::nullopt;
        list.push_back(std::move(*v));
        skip();
        if (eat(',')) {
          comma = true;
          skip();
          continue;
        }
        if (!peek(')')) return std::nullopt;
      }
      ++i_;
      if (list.size() == 1 && !comma) return list[0];
      return list;
    }
    if ((c >= '0' && c <= '9') ||
        (c == '.' && i_ + 1 < s_.size() && s_[i_ + 1] >= '0' && s_[i_ + 1] <= '9')) {
      return number();
    }
    if (is_ident_start(c)) {
      size_t save = i_;
      auto word = identifier();
      if (word == "True") return nlohmann::ordered_json(true);
      if (word == "False") return nlohmann::ordered_json(false);
      if (word == "None") return nlohmann::ordered_json(nullptr);
      // String prefixes r/u; b and f strings are not plain str constants.
      if (word && (*word == "r" || *word == "R" || *word == "u" || *word == "U") &&
          i_ < s_.size() && (s_[i_] == '"' || s_[i_] == '\'')) {
        i_ = save;
        return string_literal();
      }
      return std::nullopt;
    }
    return std::nullopt;
  }

  // One or more adjacent string literals, concatenated as Python does.
  std::optional<nlohmann::ordered_json> string_literal() {
    std::string out;
    bool any = false;
    while (true) {
      size_t save = i_;
      bool raw = false;
      if (i_ < s_.size() && (s_[i_] == 'r' || s_[i_] == 'R')) {
        raw = true;
        ++i_;
      } else if (i_ < s_.size() && (s_[i_] == 'u' || s_[i_] == 'U')) {
        ++i_;
      }
      if (i_ >= s_.size() || (s_[i_] != '"' && s_[i_] != '\'')) {
        i_ = save;
        break;
      }
      if (!one_string(raw, out)) return std::nullopt;
      any = true;
      size_t after = i_;
      skip();
      if (!(i_ < s_.size() && (s_[i_] == '"' || s_[i_] == '\'' || s_[i_] == 'r' || s_[i_] == 'R' ||
                               s_[i_] == 'u' || s_[i_] == 'U'))) {
        i_ = after;
        break;
      }
    }
    if (!any) return std::nullopt;
    return nlohmann::ordered_json(out);
  }

  bool one_string(bool raw, std::string& out) {
    char quote = s_[i_];
    bool triple = s_.substr(i_, 3) == std::string(3, quote);
    i_ += triple ? 3 : 1;
    while (true) {
      if (i_ >= s_.size()) return false;
      char c = s_[i_];
      if (triple ? s_.substr(i_, 3) == std::string(3, quote) : c == quote) {
        i_ += triple ? 3 : 1;
        return true;
      }
      if (c == '\n' && !triple) return false;
      if (c != '\\') {
        out += c;
        ++i_;
        continue;
      }
      if (i_ + 1 >= s_.size()) return false;
      char e = s_[i_ + 1];
      if (raw) {
        out += c;
        out += e;
        i_ += 2;
        continue;
      }
      i_ += 2;
      switch (e) {
        case '\n':
          break;
        case '\\':
          out += '\\';
          break;
        case '\'':
          out += '\'';
          break;
        case '"':
          out += '"';
          break;
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        case 'x':
        case 'u':
        case 'U': {
          size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (i_ + digits > s_.size()) return false;
          uint32_t cp = 0;
          auto r = std::from_chars(s_.data() + i_, s_.data() + i_ + digits, cp, 16);
          if (r.ptr != s_.data() + i_ + digits || cp > 0x10FFFF) return false;
          append_utf8(out, cp);
          i_ += digits;
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '7'; ++k) {
              cp = cp * 8 + static_cast<uint32_t>(s_[i_++] - '0');
            }
            append_utf8(out, cp);
          } else if (e == 'N') {
            return false;  // \N{NAME}: not supported here
          } else {
            out += '\\';  // an unknown escape keeps its backslash
            out += e;
          }
      }
    }
  }

  std::optional<nlohmann::ordered_json> number() {
    size_t start = i_;
    std::string digits;
    auto take_digits = [&](auto ok) {
      while (i_ < s_.size() &&
             (ok(s_[i_]) || (s_[i_] == '_' && i_ + 1 < s_.size() && ok(s_[i_ + 1])))) {
        if (s_[i_] != '_') digits += s_[i_];
        ++i_;
      }
    };
    auto dec = [](char c) { return c >= '0' && c <= '9'; };
    if (s_[i_] == '0' && i_ + 1 < s_.size() &&
        std::string_view("xXoObB").find(s_[i_ + 1]) != std::string_view::npos) {
      char kind = static_cast<char>(s_[i_ + 1] | 0x20);
      i_ += 2;
      int base = kind == 'x' ? 16 : kind == 'o' ? 8 : 2;
      take_digits([base](char c) {
        int v = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : 99;
        return v < base;
      });
      if (digits.empty() || (i_ < s_.size() && is_ident(s_[i_]))) return std::nullopt;
      uint64_t v = 0;
      auto r = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
      if (r.ec != std::errc()) return std::nullopt;
      return nlohmann::ordered_json(v);
    }
    bool is_float = false;
    take_digits(dec);
    if (i_ < s_.size() && s_[i_] == '.') {
      is_float = true;
      digits += '.';
      ++i_;
      take_digits(dec);
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      size_t save = i_;
      std::string exp = "e";
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) exp += s_[i_++];
      std::string before = digits;
      digits.clear();
      take_digits(dec);
      if (digits.empty()) {
        i_ = save;
        digits = before;
      } else {
        digits = before + exp + digits;
        is_float = true;
      }
    }
    if (i_ < s_.size() && (is_ident(s_[i_]) || s_[i_] == '.')) return std::nullopt;  // 1j, 1x
    if (i_ == start) return std::nullopt;
    if (is_float) {
      double d = 0;
      auto r = std::from_chars(digits.data(), digits.data() + digits.size(), d);
      if (r.ec != std::errc() && r.ec != std::errc::result_out_of_range) return std::nullopt;
      return nlohmann::ordered_json(d);
    }
    // Python forbids leading zeros in a non-zero decimal integer.
    if (digits.size() > 1 && digits[0] == '0' &&
        digits.find_first_not_of('0') != std::string::npos) {
      return std::nullopt;
    }
    int64_t v = 0;
    auto r = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (r.ec == std::errc()) return nlohmann::ordered_json(v);
    uint64_t u = 0;
    r = std::from_chars(digits.data(), digits.data() + digits.size(), u);
    if (r.ec == std::errc()) return nlohmann::ordered_json(u);
    return std::nullopt;  // beyond 64 bits: not represented here
  }

  std::optional<std::string> identifier() {
    if (i_ >= s_.size() || !is_ident_start(s_[i_])) return std::nullopt;
    size_t start = i_;
    while (i_ < s_.size() && is_ident(s_[i_])) ++i_;
    return std::string(s_.substr(start, i_ - start));
  }

  void skip() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
        ++i_;
      } else if (c == '\\' && i_ + 1 < s_.size() && s_[i_ + 1] == '\n') {
        i_ += 2;
      } else if (c == '#') {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      } else {
        break;
      }
    }
  }
  bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
  bool eat(char c) {
    if (!peek(c)) return false;
    ++i_;
    return true;
  }

  std::string_view s_;
  bool literal_eval_ = false;
  size_t i_ = 0;
  int depth_ = 0;
};

}  // namespace

std::optional<std::vector<PythonCall>> parse_python_call_list(std::string_view text) {
  return Reader(text).call_list();
}

std::optional<nlohmann::ordered_json> parse_python_literal(std::string_view text) {
  return Reader(text, /*literal_eval=*/true).whole_literal();
}

}  // namespace sglang::chat
