#pragma once
// Python's repr() of a str, as SGLang's messages (f"{key=}") and Jinja's printing of strings show
// it: single quotes unless the text holds a ' and no ", backslash escapes for the quote, \, \n, \r,
// \t and other control characters (\xNN); other bytes, UTF-8 included, as they are.
#include <cstdio>
#include <string>
#include <string_view>

namespace sglang {

inline std::string python_str_repr(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += quote;
  return out;
}

}  // namespace sglang
