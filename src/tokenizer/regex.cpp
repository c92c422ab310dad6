#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>

#include <cstdio>

#include "tokenizer/unicode.h"

namespace sglang::tok {
namespace {

std::string class_body(CharClass c) {
  std::string out;
  char buf[40];
  for (const auto& r : class_ranges(c)) {
    if (r.lo == r.hi) {
      std::snprintf(buf, sizeof(buf), "\\x{%x}", static_cast<unsigned>(r.lo));
    } else {
      std::snprintf(buf, sizeof(buf), "\\x{%x}-\\x{%x}", static_cast<unsigned>(r.lo),
                    static_cast<unsigned>(r.hi));
    }
    out += buf;
  }
  return out;
}

// Replaces \p{L}, \p{N}, \s and (outside classes) \S with explicit code point classes taken from
// Hugging Face tokenizers' own regex engine (unicode_classes.inc): PCRE2's built-in Unicode tables
// are an older Unicode version, and ids must not depend on it.
std::string with_tokenizers_classes(const std::string& pattern) {
  static const std::string letters = class_body(CharClass::kLetter),
                           numbers = class_body(CharClass::kNumber),
                           spaces = class_body(CharClass::kSpace);
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const std::string_view rest = std::string_view(pattern).substr(i);
      const std::string* body = nullptr;
      size_t len = 2;
      if (rest.substr(0, 5) == "\\p{L}") {
        body = &letters;
        len = 5;
      } else if (rest.substr(0, 5) == "\\p{N}") {
        body = &numbers;
        len = 5;
      } else if (rest[1] == 's') {
        body = &spaces;
      }
      if (body) {
        out += in_class ? *body : "[" + *body + "]";
      } else if (rest[1] == 'S' && !in_class) {
        out += "[^" + spaces + "]";
      } else {
        out.append(rest.substr(0, 2));
      }
      i += len - 1;
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out.push_back(c);
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out.push_back(pattern[++i]);
      if (i + 1 < pattern.size() && pattern[i + 1] == ']')
        out.push_back(pattern[++i]);  // literal ]
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

namespace {

Result<void*> compile_pcre2(const std::string& original, const std::string& pattern,
                            uint32_t options) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   options, &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(error, msg, sizeof(msg));
    return make_error(ErrorCode::kInvalidArgument, "bad regex '" + original + "' at offset " +
                                                       std::to_string(offset) + ": " +
                                                       reinterpret_cast<const char*>(msg));
  }
  pcre2_jit_compile(code,
                    PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT is unavailable
  return static_cast<void*>(code);
}

}  // namespace

Result<std::shared_ptr<const Regex>> Regex::compile(const std::string& original) {
  SGLANG_ASSIGN_OR_RETURN(void* code, compile_pcre2(original, with_tokenizers_classes(original),
                                                    PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK));
  auto r = std::shared_ptr<Regex>(new Regex());
  r->pattern_ = original;
  r->code_ = code;
  return std::shared_ptr<const Regex>(std::move(r));
}

Result<std::shared_ptr<const Regex>> Regex::compile_ecmascript(const std::string& pattern,
                                                               bool utf8) {
  SGLANG_ASSIGN_OR_RETURN(
      void* code,
      compile_pcre2(pattern, pattern,
                    PCRE2_DOLLAR_ENDONLY | (utf8 ? PCRE2_UTF | PCRE2_NO_UTF_CHECK : 0u)));
  auto r = std::shared_ptr<Regex>(new Regex());
  r->pattern_ = pattern;
  r->code_ = code;
  return std::shared_ptr<const Regex>(std::move(r));
}

Regex::~Regex() {
  pcre2_code_free(static_cast<pcre2_code*>(code_));
}

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> out;
  auto* code = static_cast<pcre2_code*>(code_);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  while (start <= text.size()) {
    const int rc = pcre2_match(code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc < 0) break;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t b = ov[0], e = ov[1];
    if (e == b) {
      // Empty match: skip one whole character so matching continues at a character boundary.
      if (b >= text.size()) break;
      size_t next = b + 1;
      while (next < text.size() && (static_cast<uint8_t>(text[next]) & 0xc0) == 0x80) ++next;
      start = next;
      continue;
    }
    out.emplace_back(b, e);
    start = e;
  }
  pcre2_match_data_free(md);
  return out;
}

std::string regex_escape(std::string_view literal) {
  std::string out = "\\Q";
  // \Q...\E quotes everything except a literal "\E", which is split out.
  for (size_t i = 0; i < literal.size(); ++i) {
    if (literal.substr(i, 2) == "\\E") {
      out += "\\E\\\\E\\Q";
      ++i;
    } else {
      out.push_back(literal[i]);
    }
  }
  return out + "\\E";
}

}  // namespace sglang::tok
