#include <algorithm>

#include "tokenizer/unicode.h"

namespace sglang::tok {
namespace {

struct LowercaseEntry {
  char32_t cp;
  char32_t to[3];
};

#include "tokenizer/unicode_classes.inc"

template <size_t N>
std::span<const CodePointRange> span_of(const CodePointRange (&r)[N]) {
  return {r, N};
}

}  // namespace

std::span<const CodePointRange> class_ranges(CharClass c) {
  switch (c) {
    case CharClass::kLetter:
      return span_of(kLetterRanges);
    case CharClass::kNumber:
      return span_of(kNumberRanges);
    case CharClass::kSpace:
      return span_of(kSpaceRanges);
    case CharClass::kBertRemoved:
      return span_of(kBertRemovedRanges);
    case CharClass::kBertSpace:
      return span_of(kBertSpaceRanges);
    case CharClass::kAccentMark:
      return span_of(kAccentMarkRanges);
    case CharClass::kBertMark:
      return span_of(kBertMarkRanges);
    case CharClass::kBertPunctuation:
      return span_of(kBertPunctuationRanges);
    case CharClass::kGraphemeExtend:
      return span_of(kGraphemeExtendRanges);
  }
  return {};
}

bool has_class(CharClass c, char32_t cp) {
  const auto ranges = class_ranges(c);
  auto it = std::upper_bound(ranges.begin(), ranges.end(), cp,
                             [](char32_t v, const CodePointRange& r) { return v < r.lo; });
  return it != ranges.begin() && cp <= std::prev(it)->hi;
}

void append_lowercase(std::string& out, char32_t cp) {
  const auto* end = kLowercase + sizeof(kLowercase) / sizeof(kLowercase[0]);
  auto it = std::lower_bound(kLowercase, end, cp,
                             [](const LowercaseEntry& e, char32_t v) { return e.cp < v; });
  if (it == end || it->cp != cp) {
    append_utf8(out, cp);
    return;
  }
  for (char32_t t : it->to) {
    if (t != 0) append_utf8(out, t);
  }
}

}  // namespace sglang::tok
