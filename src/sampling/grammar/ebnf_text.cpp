#include "sampling/grammar/ebnf_text.h"

#include <algorithm>
#include <cstdio>

#include "util/utf8.h"

namespace sglang::grammar {
namespace {

constexpr char32_t kSurrogateLo = 0xD800;
constexpr char32_t kSurrogateHi = 0xDFFF;

void append_hex_escape(std::string& out, char32_t c) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "\\u%04X", static_cast<unsigned>(c));
  out += buf;
}

// One code point inside a literal or a class; `specials` are the ASCII characters that need a
// backslash in that context.
void append_code_point(std::string& out, char32_t c, std::string_view specials) {
  if (c == '\n') {
    out += "\\n";
  } else if (c == '\t') {
    out += "\\t";
  } else if (c == '\r') {
    out += "\\r";
  } else if (c < 0x20 || c == 0x7f) {
    append_hex_escape(out, c);
  } else if (c < 0x80) {
    if (specials.find(static_cast<char>(c)) != std::string_view::npos) out.push_back('\\');
    out.push_back(static_cast<char>(c));
  } else {
    append_utf8(out, c);
  }
}

}  // namespace

CodePointSet CodePointSet::of(std::initializer_list<std::pair<char32_t, char32_t>> ranges) {
  CodePointSet set;
  for (const auto& [lo, hi] : ranges) set.ranges_.emplace_back(lo, hi);
  set.normalize();
  return set;
}

void CodePointSet::add(char32_t lo, char32_t hi) {
  if (lo > hi) std::swap(lo, hi);
  ranges_.emplace_back(lo, std::min(hi, kMaxCodePoint));
  normalize();
}

void CodePointSet::add(const CodePointSet& other) {
  ranges_.insert(ranges_.end(), other.ranges_.begin(), other.ranges_.end());
  normalize();
}

void CodePointSet::normalize() {
  std::sort(ranges_.begin(), ranges_.end());
  std::vector<std::pair<char32_t, char32_t>> merged;
  for (const auto& r : ranges_) {
    if (!merged.empty() && r.first <= merged.back().second + 1) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  ranges_ = std::move(merged);
}

CodePointSet CodePointSet::complement() const {
  CodePointSet out;
  char32_t next = 0;
  for (const auto& [lo, hi] : ranges_) {
    if (lo > next) out.ranges_.emplace_back(next, lo - 1);
    next = hi + 1;
  }
  if (next <= kMaxCodePoint) out.ranges_.emplace_back(next, kMaxCodePoint);
  return out;
}

CodePointSet CodePointSet::minus(const CodePointSet& other) const {
  return intersect(other.complement());
}

CodePointSet CodePointSet::intersect(const CodePointSet& other) const {
  CodePointSet out;
  size_t i = 0, j = 0;
  while (i < ranges_.size() && j < other.ranges_.size()) {
    char32_t lo = std::max(ranges_[i].first, other.ranges_[j].first);
    char32_t hi = std::min(ranges_[i].second, other.ranges_[j].second);
    if (lo <= hi) out.ranges_.emplace_back(lo, hi);
    if (ranges_[i].second < other.ranges_[j].second) {
      ++i;
    } else {
      ++j;
    }
  }
  return out;
}

bool CodePointSet::contains(char32_t c) const {
  return std::any_of(ranges_.begin(), ranges_.end(),
                     [c](const auto& r) { return r.first <= c && c <= r.second; });
}

std::string ebnf_literal(std::string_view bytes) {
  std::string out = "\"";
  size_t pos = 0;
  while (pos < bytes.size()) append_code_point(out, decode_utf8(bytes, &pos), "\"\\");
  out += "\"";
  return out;
}

std::string ebnf_char_class(const CodePointSet& set) {
  const CodePointSet printable = set.minus(CodePointSet::of({{kSurrogateLo, kSurrogateHi}}));
  std::string out = "[";
  for (const auto& [lo, hi] : printable.ranges()) {
    append_code_point(out, lo, "]\\^-[");
    if (hi == lo) continue;
    if (hi > lo + 1) out += "-";
    append_code_point(out, hi, "]\\^-[");
  }
  out += "]";
  return out;
}

char32_t decode_utf8(std::string_view text, size_t* pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char b0 = byte(*pos);
  int extra = b0 >= 0xF0 && b0 < 0xF8 ? 3 : b0 >= 0xE0 ? 2 : b0 >= 0xC0 ? 1 : 0;
  if (b0 >= 0xF8 || *pos + extra >= text.size()) extra = 0;
  char32_t cp = extra == 0 ? b0 : extra == 1 ? (b0 & 0x1F) : extra == 2 ? (b0 & 0x0F) : (b0 & 0x07);
  for (int k = 1; k <= extra; ++k) {
    if (*pos + k >= text.size() || (byte(*pos + k) & 0xC0) != 0x80) {
      ++*pos;
      return b0;
    }
    cp = (cp << 6) | (byte(*pos + k) & 0x3F);
  }
  *pos += 1 + extra;
  return cp;
}

}  // namespace sglang::grammar
