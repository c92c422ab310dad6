// Normalizers of tokenizer.json. Implemented: NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend,
// Strip, Sequence. (BertNormalizer, StripAccents and Precompiled come with the WordPiece and
// Unigram models.)

#include <nlohmann/json.hpp>

#include "tokenizer/components.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace sglang::tok {
namespace {

using nlohmann::json;

class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(NormalForm f) : form_(f) {}
  std::string normalize(std::string_view t) const override { return tok::normalize(t, form_); }

 private:
  NormalForm form_;
};

// Applies f(code point, out) to every code point.
template <typename F>
std::string map_code_points(std::string_view t, F f) {
  std::string out;
  out.reserve(t.size());
  for (size_t i = 0; i < t.size();) f(next_code_point(t, i), out);
  return out;
}

class Lowercase final : public Normalizer {
 public:
  std::string normalize(std::string_view t) const override {
    return map_code_points(t, [](char32_t c, std::string& out) { append_lowercase(out, c); });
  }
};

class StripAccents final : public Normalizer {
 public:
  std::string normalize(std::string_view t) const override {
    return map_code_points(t, [](char32_t c, std::string& out) {
      if (!has_class(CharClass::kAccentMark, c)) append_utf8(out, c);
    });
  }
};

bool is_chinese_char(char32_t c) {
  // The CJK blocks of BERT's original tokenizer.
  return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) ||
         (c >= 0x20000 && c <= 0x2a6df) || (c >= 0x2a700 && c <= 0x2b73f) ||
         (c >= 0x2b740 && c <= 0x2b81f) || (c >= 0x2b920 && c <= 0x2ceaf) ||
         (c >= 0xf900 && c <= 0xfaff) || (c >= 0x2f800 && c <= 0x2fa1f);
}

// BERT's text cleanup, in HF's order: clean_text, handle_chinese_chars, strip_accents (NFD, then
// drop nonspacing marks; by default on when lowercasing), lowercase.
class BertNormalizer final : public Normalizer {
 public:
  BertNormalizer(bool clean, bool chinese, bool strip, bool lower)
      : clean_(clean), chinese_(chinese), strip_(strip), lower_(lower) {}
  std::string normalize(std::string_view t) const override {
    std::string s = map_code_points(t, [this](char32_t c, std::string& out) {
      if (clean_ && has_class(CharClass::kBertRemoved, c)) return;
      if (clean_ && has_class(CharClass::kBertSpace, c)) {
        out.push_back(' ');
      } else if (chinese_ && is_chinese_char(c)) {
        out.push_back(' ');
        append_utf8(out, c);
        out.push_back(' ');
      } else {
        append_utf8(out, c);
      }
    });
    if (strip_) {
      s = map_code_points(tok::normalize(s, NormalForm::kNFD), [](char32_t c, std::string& out) {
        if (!has_class(CharClass::kBertMark, c)) append_utf8(out, c);
      });
    }
    if (lower_)
      s = map_code_points(s, [](char32_t c, std::string& out) { append_lowercase(out, c); });
    return s;
  }

 private:
  bool clean_, chinese_, strip_, lower_;
};

class Replace final : public Normalizer {
 public:
  Replace(std::shared_ptr<const Regex> re, std::string content)
      : re_(std::move(re)), content_(std::move(content)) {}
  std::string normalize(std::string_view t) const override {
    std::string out;
    size_t last = 0;
    for (auto [b, e] : re_->find_all(t)) {
      out.append(t.substr(last, b - last));
      out.append(content_);
      last = e;
    }
    out.append(t.substr(last));
    return out;
  }

 private:
  std::shared_ptr<const Regex> re_;
  std::string content_;
};

class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string p) : prepend_(std::move(p)) {}
  std::string normalize(std::string_view t) const override {
    return t.empty() ? std::string() : prepend_ + std::string(t);
  }

 private:
  std::string prepend_;
};

bool is_unicode_whitespace(char32_t c) {
  // Rust's char::is_whitespace: the White_Space property.
  return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
         c == 0x3000;
}

class Strip final : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  std::string normalize(std::string_view t) const override {
    size_t b = 0, e = t.size();
    if (left_) {
      while (b < e) {
        size_t i = b;
        if (!is_unicode_whitespace(next_code_point(t, i))) break;
        b = i;
      }
    }
    if (right_) {
      while (e > b) {
        size_t start = e - 1;
        while (start > b && (static_cast<uint8_t>(t[start]) & 0xc0) == 0x80) --start;
        size_t i = start;
        if (!is_unicode_whitespace(next_code_point(t, i))) break;
        e = start;
      }
    }
    return std::string(t.substr(b, e - b));
  }

 private:
  bool left_, right_;
};

class NormalizerSequence final : public Normalizer {
 public:
  explicit NormalizerSequence(std::vector<std::unique_ptr<Normalizer>> s) : steps_(std::move(s)) {}
  std::string normalize(std::string_view t) const override {
    std::string s(t);
    for (const auto& n : steps_) s = n->normalize(s);
    return s;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

// The pattern of a Replace / Split: {"String": "..."} (literal) or {"Regex": "..."}.
Result<std::shared_ptr<const Regex>> compile_pattern(const json& p) {
  if (p.is_object() && p.contains("String") && p["String"].is_string()) {
    return Regex::compile(regex_escape(p["String"].get<std::string>()));
  }
  if (p.is_object() && p.contains("Regex") && p["Regex"].is_string()) {
    return Regex::compile(p["Regex"].get<std::string>());
  }
  return make_error(ErrorCode::kCorrupt,
                    "pattern must be {\"String\": ...} or {\"Regex\": ...}, got " + p.dump());
}

Result<std::unique_ptr<Normalizer>> make_normalizer(const json& j) {
  const std::string type = j.value("type", "");
  if (type == "NFC") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalForm::kNFC));
  if (type == "NFD") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalForm::kNFD));
  if (type == "NFKC") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalForm::kNFKC));
  if (type == "NFKD") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalForm::kNFKD));
  if (type == "Lowercase") return std::unique_ptr<Normalizer>(new Lowercase());
  if (type == "Precompiled") return make_precompiled(j);
  if (type == "StripAccents") return std::unique_ptr<Normalizer>(new StripAccents());
  if (type == "BertNormalizer") {
    const bool lower = j.value("lowercase", true);
    const bool strip = j.contains("strip_accents") && j["strip_accents"].is_boolean()
                           ? j["strip_accents"].get<bool>()
                           : lower;
    return std::unique_ptr<Normalizer>(new BertNormalizer(
        j.value("clean_text", true), j.value("handle_chinese_chars", true), strip, lower));
  }
  if (type == "Prepend") return std::unique_ptr<Normalizer>(new Prepend(j.value("prepend", "")));
  if (type == "Strip") {
    return std::unique_ptr<Normalizer>(
        new Strip(j.value("strip_left", true), j.value("strip_right", true)));
  }
  if (type == "Replace") {
    SGLANG_ASSIGN_OR_RETURN(auto re, compile_pattern(j.value("pattern", json())));
    return std::unique_ptr<Normalizer>(new Replace(std::move(re), j.value("content", "")));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (const auto& s : j.value("normalizers", json::array())) {
      SGLANG_ASSIGN_OR_RETURN(auto n, make_normalizer(s));
      steps.push_back(std::move(n));
    }
    return std::unique_ptr<Normalizer>(new NormalizerSequence(std::move(steps)));
  }
  return make_error(ErrorCode::kUnsupported, "unsupported normalizer type '" + type + "'");
}

}  // namespace sglang::tok
