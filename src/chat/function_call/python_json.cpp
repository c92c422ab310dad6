#include "chat/function_call/python_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace sglang::chat {
namespace {

// float.__repr__: the shortest digits that round-trip, in fixed notation when the decimal
// exponent is in [-4, 16) (always with a fractional part), otherwise d.ddde+XX.
void append_python_float(double v, std::string& out) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "Infinity" : "-Infinity";
    return;
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  bool negative = !sci.empty() && sci[0] == '-';
  if (negative) sci.remove_prefix(1);
  size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits += c;
  }
  int exponent = std::stoi(std::string(sci.substr(e_pos + 1)));
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  if (negative) out += '-';
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0.";
      out.append(static_cast<size_t>(-exponent - 1), '0');
      out += digits;
    } else if (static_cast<size_t>(exponent) + 1 >= digits.size()) {
      out += digits;
      out.append(static_cast<size_t>(exponent) + 1 - digits.size(), '0');
      out += ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(exponent) + 1);
      out += '.';
      out += digits.substr(static_cast<size_t>(exponent) + 1);
    }
    return;
  }
  out += digits[0];
  if (digits.size() > 1) {
    out += '.';
    out += digits.substr(1);
  }
  out += exponent < 0 ? "e-" : "e+";
  int magnitude = exponent < 0 ? -exponent : exponent;
  if (magnitude < 10) out += '0';
  out += std::to_string(magnitude);
}

void append_u_escape(uint32_t unit, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(unit >> shift) & 0xF];
}

// Decodes one UTF-8 sequence at text[i]; a malformed byte decodes as itself (U+0080..U+00FF
// never come from valid input, and Python strings never hold invalid UTF-8).
uint32_t decode_utf8(std::string_view text, size_t& i) {
  auto b0 = static_cast<unsigned char>(text[i]);
  int length = b0 < 0x80           ? 1
               : (b0 >> 5) == 0x6  ? 2
               : (b0 >> 4) == 0xE  ? 3
               : (b0 >> 3) == 0x1E ? 4
                                   : 0;
  if (length == 0 || i + static_cast<size_t>(length) > text.size()) {
    ++i;
    return b0;
  }
  uint32_t cp = length == 1 ? b0 : b0 & (0x7F >> length);
  for (int k = 1; k < length; ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
  i += static_cast<size_t>(length);
  return cp;
}

void append_python_string(std::string_view s, bool ensure_ascii, std::string& out) {
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        ++i;
        continue;
      case '\\':
        out += "\\\\";
        ++i;
        continue;
      case '\n':
        out += "\\n";
        ++i;
        continue;
      case '\r':
        out += "\\r";
        ++i;
        continue;
      case '\t':
        out += "\\t";
        ++i;
        continue;
      case '\b':
        out += "\\b";
        ++i;
        continue;
      case '\f':
        out += "\\f";
        ++i;
        continue;
      default:
        break;
    }
    if (c < 0x20 || (ensure_ascii && c == 0x7F)) {
      append_u_escape(c, out);
      ++i;
    } else if (c < 0x80 || !ensure_ascii) {
      out += static_cast<char>(c);
      ++i;
    } else {
      uint32_t cp = decode_utf8(s, i);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        append_u_escape(0xD800 + (cp >> 10), out);
        append_u_escape(0xDC00 + (cp & 0x3FF), out);
      } else {
        append_u_escape(cp, out);
      }
    }
  }
  out += '"';
}

void append_value(const nlohmann::ordered_json& v, bool ensure_ascii, std::string& out) {
  using Type = nlohmann::ordered_json::value_t;
  switch (v.type()) {
    case Type::null:
    case Type::discarded:
      out += "null";
      break;
    case Type::boolean:
      out += v.get<bool>() ? "true" : "false";
      break;
    case Type::number_integer:
      out += std::to_string(v.get<int64_t>());
      break;
    case Type::number_unsigned:
      out += std::to_string(v.get<uint64_t>());
      break;
    case Type::number_float:
      append_python_float(v.get<double>(), out);
      break;
    case Type::string:
      append_python_string(v.get_ref<const std::string&>(), ensure_ascii, out);
      break;
    case Type::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v) {
        if (!first) out += ", ";
        first = false;
        append_value(item, ensure_ascii, out);
      }
      out += ']';
      break;
    }
    case Type::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : v.items()) {
        if (!first) out += ", ";
        first = false;
        append_python_string(key, ensure_ascii, out);
        out += ": ";
        append_value(item, ensure_ascii, out);
      }
      out += '}';
      break;
    }
    case Type::binary:
      out += "null";
      break;
  }
}

}  // namespace

std::string python_json_dumps(const nlohmann::ordered_json& value, bool ensure_ascii) {
  std::string out;
  append_value(value, ensure_ascii, out);
  return out;
}

std::string_view complete_utf8_prefix(std::string_view text) {
  // Look back at most 3 bytes for the lead byte of the last sequence.
  size_t n = text.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    auto b = static_cast<unsigned char>(text[n - back]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte
    size_t length = b < 0x80           ? 1
                    : (b >> 5) == 0x6  ? 2
                    : (b >> 4) == 0xE  ? 3
                    : (b >> 3) == 0x1E ? 4
                                       : 1;
    return length > back ? text.substr(0, n - back) : text;
  }
  return text;
}

}  // namespace sglang::chat
