#include "tokenizer/unicode.h"

#include <unicode/normalizer2.h>
#include <unicode/uniset.h>
#include <unicode/unistr.h>

#include <stdexcept>

namespace sglang::tok {

char32_t next_code_point(std::string_view s, size_t& i) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int len = b0 >= 0xf0 ? 4 : b0 >= 0xe0 ? 3 : 2;
  char32_t cp = b0 & (0x7f >> len);
  for (int k = 1; k < len && i + k < s.size(); ++k)
    cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3f);
  i += len;
  return cp;
}

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0; `*maximal` gets the length of the maximal
// subpart of an ill-formed sequence (at least 1), per Unicode's "U+FFFD substitution of maximal
// subparts", which Rust's from_utf8_lossy follows.
size_t valid_sequence(std::string_view s, size_t i, size_t* maximal) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  *maximal = 1;
  if (b0 < 0x80) return 1;
  size_t len;
  uint8_t lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    if (b0 == 0xe0) lo = 0xa0;
    if (b0 == 0xed) hi = 0x9f;  // no surrogates
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    if (b0 == 0xf0) lo = 0x90;
    if (b0 == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  for (size_t k = 1; k < len; ++k) {
    if (i + k >= s.size()) return 0;
    const auto b = static_cast<uint8_t>(s[i + k]);
    const bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xbf);
    if (!ok) return 0;
    *maximal = k + 1;
  }
  return len;
}

}  // namespace

std::string utf8_lossy(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t maximal = 1;
    const size_t n = valid_sequence(s, i, &maximal);
    if (n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out.append("\xef\xbf\xbd");
      i += maximal;
    }
  }
  return out;
}

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t maximal = 1;
    const size_t n = valid_sequence(s, i, &maximal);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

namespace {

const icu::Normalizer2& base_normalizer(NormalForm form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (form) {
    case NormalForm::kNFC:
      n = icu::Normalizer2::getNFCInstance(status);
      break;
    case NormalForm::kNFD:
      n = icu::Normalizer2::getNFDInstance(status);
      break;
    case NormalForm::kNFKC:
      n = icu::Normalizer2::getNFKCInstance(status);
      break;
    case NormalForm::kNFKD:
      n = icu::Normalizer2::getNFKDInstance(status);
      break;
  }
  if (U_FAILURE(status) || n == nullptr) throw std::runtime_error("ICU normalizer unavailable");
  return *n;
}

// Characters Unicode 9.0 had assigned (ICU's [:age=9.0:] is "assigned in 9.0 or earlier").
const icu::UnicodeSet& assigned_in_unicode9() {
  static const icu::UnicodeSet* set = [] {
    UErrorCode status = U_ZERO_ERROR;
    auto* s = new icu::UnicodeSet(icu::UnicodeString("[:age=9.0:]"), status);
    if (U_FAILURE(status)) throw std::runtime_error("ICU cannot build [:age=9.0:]");
    s->freeze();
    return s;
  }();
  return *set;
}

std::string normalize_run(const icu::Normalizer2& n, std::string_view run) {
  if (run.empty()) return {};
  UErrorCode status = U_ZERO_ERROR;
  const icu::UnicodeString src =
      icu::UnicodeString::fromUTF8(icu::StringPiece(run.data(), static_cast<int32_t>(run.size())));
  // Fast path: most text is already normalised.
  if (n.isNormalized(src, status) && U_SUCCESS(status)) return std::string(run);
  status = U_ZERO_ERROR;
  const icu::UnicodeString dst = n.normalize(src, status);
  if (U_FAILURE(status)) throw std::runtime_error("ICU normalization failed");
  std::string out;
  dst.toUTF8String(out);
  return out;
}

}  // namespace

std::string normalize(std::string_view text, NormalForm form) {
  // Hugging Face tokenizers normalises with Unicode 9.0 data; ICU's is newer. In 9.0 a character
  // assigned later was unassigned: a starter without decomposition, across which nothing reorders
  // or composes. So runs of 9.0 characters are normalised on their own and later ones copied as
  // they are. (ICU's FilteredNormalizer2 differs: it still reorders across filtered-out
  // characters.)
  const icu::Normalizer2& n = base_normalizer(form);
  const icu::UnicodeSet& known = assigned_in_unicode9();
  std::string out;
  out.reserve(text.size());
  size_t run_start = 0, i = 0;
  while (i < text.size()) {
    const size_t cp_start = i;
    const char32_t cp = next_code_point(text, i);
    if (!known.contains(static_cast<UChar32>(cp))) {
      out += normalize_run(n, text.substr(run_start, cp_start - run_start));
      out.append(text.substr(cp_start, i - cp_start));
      run_start = i;
    }
  }
  out += normalize_run(n, text.substr(run_start));
  return out;
}

}  // namespace sglang::tok
