#include "chat/jinja/lexer.h"

#include <cstring>

#include "chat/jinja/value.h"

namespace sglang::chat::jinja {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {}

  Result<std::vector<Token>> run() {
    size_t n = src_.size();
    while (pos_ < n) {
      size_t start = find_tag_start(pos_);
      if (start == std::string::npos) {
        emit_data(src_.substr(pos_));
        break;
      }
      std::string text = src_.substr(pos_, start - pos_);
      char kind = src_[start + 1];
      size_t p = start + 2;
      char modifier = (p < n && (src_[p] == '-' || src_[p] == '+')) ? src_[p] : '\0';
      if (modifier == '-') {
        size_t end = text.size();
        while (end > 0 && is_space(text[end - 1])) --end;
        text.resize(end);
      } else if (modifier != '+' && kind != '{') {
        // lstrip_blocks: only spaces and tabs between the line start and a block or comment
        // tag are removed (jinja2's lexer, "lstrip_unless_re").
        size_t nl = text.rfind('\n');
        size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
        if (l_pos > 0 || line_starting_) {
          bool blank = true;
          for (size_t i = l_pos; i < text.size(); ++i) {
            if (text[i] != ' ' && text[i] != '\t') blank = false;
          }
          if (blank) text.resize(l_pos);
        }
      }
      advance_lines(pos_, start);
      emit_data(std::move(text));
      if (modifier != '\0') ++p;
      if (kind == '#') {
        size_t end = src_.find("#}", p);
        if (end == std::string::npos) return fail("Missing end of comment tag");
        advance_lines(start, end);
        bool strip = end > p && src_[end - 1] == '-';
        bool keep = end > p && src_[end - 1] == '+';
        pos_ = end + 2;
        after_tag(strip, !keep);
        continue;
      }
      if (kind == '%' && try_raw(p)) {
        if (!error_.empty()) return fail(error_);
        continue;
      }
      tokens_.push_back({kind == '%' ? TokenType::kBlockBegin : TokenType::kVariableBegin,
                         kind == '%' ? "{%" : "{{", line_});
      pos_ = p;
      if (!lex_expression(kind == '%')) return fail(error_);
    }
    tokens_.push_back({TokenType::kEof, "", line_});
    return std::move(tokens_);
  }

 private:
  size_t find_tag_start(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) {
        return i;
      }
    }
    return std::string::npos;
  }

  void advance_lines(size_t from, size_t to) {
    for (size_t i = from; i < to && i < src_.size(); ++i) line_ += src_[i] == '\n';
  }

  void emit_data(std::string text) {
    if (!text.empty()) tokens_.push_back({TokenType::kData, std::move(text), line_});
  }

  // After a tag's closing delimiter: `-` strips all whitespace, else trim_blocks drops one
  // newline (block and comment tags only).
  void after_tag(bool strip, bool trim_newline) {
    size_t begin = pos_;
    if (strip) {
      while (pos_ < src_.size() && is_space(src_[pos_])) ++pos_;
    } else if (trim_newline && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
    }
    advance_lines(begin, pos_);
    line_starting_ = pos_ > 0 && src_[pos_ - 1] == '\n';
  }

  Result<std::vector<Token>> fail(const std::string& message) const {
    return make_error(ErrorCode::kInvalidArgument, "template syntax error: " + message + " (line " +
                                                       std::to_string(line_) + ")");
  }

  // `{% raw %}...{% endraw %}`: the body is data, untouched.
  bool try_raw(size_t p) {
    size_t q = p;
    while (q < src_.size() && is_space(src_[q])) ++q;
    if (src_.compare(q, 3, "raw") != 0) return false;
    q += 3;
    size_t r = q;
    while (r < src_.size() && is_space(src_[r])) ++r;
    bool strip = false;
    if (r < src_.size() && src_[r] == '-') {
      strip = true;
      ++r;
    }
    if (src_.compare(r, 2, "%}") != 0) return false;
    advance_lines(pos_, r + 2);
    pos_ = r + 2;
    if (strip) after_tag(true, false);
    // Find `{%[-+]? endraw [-+]?%}`.
    for (size_t s = src_.find("{%", pos_); s != std::string::npos; s = src_.find("{%", s + 2)) {
      size_t t = s + 2;
      bool strip_before = false;
      if (t < src_.size() && (src_[t] == '-' || src_[t] == '+')) strip_before = src_[t++] == '-';
      while (t < src_.size() && is_space(src_[t])) ++t;
      if (src_.compare(t, 6, "endraw") != 0) continue;
      t += 6;
      while (t < src_.size() && is_space(src_[t])) ++t;
      char mod = '\0';
      if (t < src_.size() && (src_[t] == '-' || src_[t] == '+')) mod = src_[t++];
      if (src_.compare(t, 2, "%}") != 0) continue;
      std::string body = src_.substr(pos_, s - pos_);
      if (strip_before) {
        size_t end = body.size();
        while (end > 0 && is_space(body[end - 1])) --end;
        body.resize(end);
      }
      advance_lines(pos_, t + 2);
      emit_data(std::move(body));
      pos_ = t + 2;
      after_tag(mod == '-', mod != '+');
      return true;
    }
    error_ = "Missing end of raw directive";
    return true;
  }

  bool lex_expression(bool block) {
    int depth = 0;
    size_t n = src_.size();
    while (true) {
      while (pos_ < n && is_space(src_[pos_])) {
        line_ += src_[pos_] == '\n';
        ++pos_;
      }
      if (pos_ >= n) {
        error_ =
            std::string("unexpected end of template, expected '") + (block ? "%}" : "}}") + "'";
        return false;
      }
      if (depth == 0) {
        const char* end = block ? "%}" : "}}";
        char c = src_[pos_];
        if ((c == '-' || (block && c == '+')) && src_.compare(pos_ + 1, 2, end) == 0) {
          tokens_.push_back({block ? TokenType::kBlockEnd : TokenType::kVariableEnd, end, line_});
          pos_ += 3;
          after_tag(c == '-', false);
          return true;
        }
        if (src_.compare(pos_, 2, end) == 0) {
          tokens_.push_back({block ? TokenType::kBlockEnd : TokenType::kVariableEnd, end, line_});
          pos_ += 2;
          after_tag(false, block);
          return true;
        }
      }
      char c = src_[pos_];
      if (is_name_start(c)) {
        size_t s = pos_;
        while (pos_ < n && (is_name_start(src_[pos_]) || is_digit(src_[pos_]))) ++pos_;
        tokens_.push_back({TokenType::kName, src_.substr(s, pos_ - s), line_});
      } else if (is_digit(c)) {
        lex_number();
      } else if (c == '\'' || c == '"') {
        if (!lex_string(c)) return false;
      } else {
        static const char* const kOps[] = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*",
                                           "/",  "%",  "~",  "<",  ">",  "=",  ".", ",", ":",
                                           "|",  "(",  ")",  "[",  "]",  "{",  "}"};
        bool found = false;
        for (const char* op : kOps) {
          size_t len = std::strlen(op);
          if (src_.compare(pos_, len, op) == 0) {
            if (op[0] == '(' || op[0] == '[' || op[0] == '{') ++depth;
            if (op[0] == ')' || op[0] == ']' || op[0] == '}') {
              if (depth == 0) {
                error_ = std::string("unexpected '") + op + "'";
                return false;
              }
              --depth;
            }
            tokens_.push_back({TokenType::kOperator, op, line_});
            pos_ += len;
            found = true;
            break;
          }
        }
        if (!found) {
          error_ = std::string("unexpected char '") + c + "'";
          return false;
        }
      }
    }
  }

  void lex_number() {
    size_t n = src_.size();
    std::string digits;
    auto read_digits = [&] {
      while (pos_ < n && (is_digit(src_[pos_]) ||
                          (src_[pos_] == '_' && pos_ + 1 < n && is_digit(src_[pos_ + 1])))) {
        if (src_[pos_] != '_') digits += src_[pos_];
        ++pos_;
      }
    };
    read_digits();
    bool is_float = false;
    if (pos_ + 1 < n && src_[pos_] == '.' && is_digit(src_[pos_ + 1])) {
      is_float = true;
      digits += '.';
      ++pos_;
      read_digits();
    }
    if (pos_ < n && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t q = pos_ + 1;
      if (q < n && (src_[q] == '+' || src_[q] == '-')) ++q;
      if (q < n && is_digit(src_[q])) {
        is_float = true;
        digits += 'e';
        digits.append(src_, pos_ + 1, q - pos_ - 1);
        pos_ = q;
        read_digits();
      }
    }
    tokens_.push_back({is_float ? TokenType::kFloat : TokenType::kInteger, digits, line_});
  }

  // Decodes the escapes Python's "unicode-escape" codec knows, as jinja2 does for literals.
  bool lex_string(char quote) {
    size_t n = src_.size();
    std::string out;
    size_t i = pos_ + 1;
    int start_line = line_;
    for (; i < n && src_[i] != quote; ++i) {
      char c = src_[i];
      if (c == '\n') ++line_;
      if (c != '\\' || i + 1 >= n) {
        out += c;
        continue;
      }
      char e = src_[++i];
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
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
        case 'v':
          out += '\v';
          break;
        case '\n':
          break;
        case 'x':
        case 'u':
        case 'U': {
          int len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          char32_t cp = 0;
          bool ok = i + static_cast<size_t>(len) < n;
          for (int k = 1; ok && k <= len; ++k) {
            int h = hex_value(src_[i + static_cast<size_t>(k)]);
            if (h < 0) ok = false;
            cp = cp * 16 + static_cast<char32_t>(h);
          }
          if (!ok) {
            error_ = "invalid \\" + std::string(1, e) + " escape in a string";
            return false;
          }
          append_utf8(out, cp);
          i += static_cast<size_t>(len);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            char32_t cp = 0;
            int k = 0;
            while (k < 3 && i < n && src_[i] >= '0' && src_[i] <= '7') {
              cp = cp * 8 + static_cast<char32_t>(src_[i] - '0');
              ++i;
              ++k;
            }
            --i;
            append_utf8(out, cp);
          } else {
            out += '\\';
            out += e;
          }
      }
    }
    if (i >= n) {
      line_ = start_line;
      error_ = "unexpected end of string";
      return false;
    }
    tokens_.push_back({TokenType::kString, std::move(out), start_line});
    pos_ = i + 1;
    return true;
  }

  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
  std::string error_;
};

}  // namespace

Result<std::vector<Token>> tokenize(std::string_view source) {
  // jinja2 normalises every line ending to "\n" and, keep_trailing_newline being off, drops
  // one trailing newline of the source.
  std::string text;
  text.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      text += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      text += source[i];
    }
  }
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return Lexer(std::move(text)).run();
}

}  // namespace sglang::chat::jinja
