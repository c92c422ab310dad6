#define PCRE2_CODE_UNIT_WIDTH 8
#include "chat/function_call/pattern.h"

#include <pcre2.h>

#include <cstdio>
#include <cstdlib>

namespace sglang::chat {

struct Pattern::Code {
  pcre2_code* code = nullptr;
  uint32_t captures = 0;
  ~Code() { pcre2_code_free(code); }
};

Pattern::Pattern(std::string_view pattern, bool dotall) : code_(std::make_unique<Code>()) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  uint32_t options = PCRE2_UTF | PCRE2_UCP | (dotall ? PCRE2_DOTALL : 0u);
  code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                              &error, &offset, nullptr);
  if (code_->code == nullptr) {
    std::fprintf(stderr, "chat/function_call: bad pattern at %zu: %.*s\n", offset,
                 static_cast<int>(pattern.size()), pattern.data());
    std::abort();
  }
  pcre2_pattern_info(code_->code, PCRE2_INFO_CAPTURECOUNT, &code_->captures);
}

Pattern::~Pattern() = default;

std::optional<Pattern::Groups> Pattern::search(std::string_view subject, size_t start) const {
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(code_->code, nullptr);
  int rc = pcre2_match(code_->code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(),
                       start, 0, data, nullptr);
  std::optional<Groups> out;
  if (rc > 0) {
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data);
    Groups groups;
    for (uint32_t g = 0; g <= code_->captures; ++g) {
      if (static_cast<int>(g) < rc && ov[2 * g] != PCRE2_UNSET) {
        groups.emplace_back(ov[2 * g], ov[2 * g + 1]);
      } else {
        groups.emplace_back(std::string_view::npos, std::string_view::npos);
      }
    }
    out = std::move(groups);
  }
  pcre2_match_data_free(data);
  return out;
}

std::vector<std::string_view> Pattern::find_all(std::string_view subject) const {
  std::vector<std::string_view> out;
  size_t start = 0;
  const size_t group = code_->captures >= 1 ? 1 : 0;
  while (start <= subject.size()) {
    auto m = search(subject, start);
    if (!m) break;
    auto [b, e] = (*m)[group];
    out.push_back(b == std::string_view::npos ? std::string_view() : subject.substr(b, e - b));
    auto [mb, me] = (*m)[0];
    if (me == mb) {
      // An empty match: step one character on, as re does.
      size_t next = me + 1;
      while (next < subject.size() && (static_cast<unsigned char>(subject[next]) & 0xC0) == 0x80) {
        ++next;
      }
      start = next;
    } else {
      start = me;
    }
  }
  return out;
}

}  // namespace sglang::chat
