// SentencePiece's precompiled character map normalizer (XLM-RoBERTa, bge-reranker): a darts-clone
// double-array trie from byte strings to replacement strings, stored base64 in tokenizer.json.
// As HF's Precompiled: each grapheme shorter than 6 bytes whose prefix matches is replaced whole by
// the shortest match's replacement; otherwise each character is replaced on its own match.
#include <unicode/brkiter.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace sglang::tok {
namespace {

std::string base64_decode(const std::string& in) {
  static const std::string chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const size_t v = chars.find(c);
    if (v == std::string::npos) continue;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

class Precompiled final : public Normalizer {
 public:
  static Result<std::unique_ptr<Normalizer>> make(const std::string& b64) {
    const std::string blob = base64_decode(b64);
    if (blob.size() < 4) return make_error(ErrorCode::kCorrupt, "precompiled_charsmap too short");
    uint32_t trie_bytes = 0;
    std::memcpy(&trie_bytes, blob.data(), 4);
    if (trie_bytes % 4 != 0 || trie_bytes > blob.size() - 4) {
      return make_error(ErrorCode::kCorrupt, "precompiled_charsmap has a bad trie size");
    }
    auto p = std::unique_ptr<Precompiled>(new Precompiled());
    p->array_.resize(trie_bytes / 4);
    std::memcpy(p->array_.data(), blob.data() + 4, trie_bytes);
    p->normalized_ = blob.substr(4 + trie_bytes);
    if (p->array_.empty())
      return make_error(ErrorCode::kCorrupt, "precompiled_charsmap has an empty trie");
    return std::unique_ptr<Normalizer>(std::move(p));
  }

  std::string normalize(std::string_view text) const override {
    std::string out;
    for_each_grapheme(text, [&](std::string_view g) {
      const char* rep = g.size() < 6 ? transform(g) : nullptr;
      if (rep) {
        out += rep;
        return;
      }
      for (size_t i = 0; i < g.size();) {
        const size_t b = i;
        next_code_point(g, i);
        const char* r = transform(g.substr(b, i - b));
        if (r) {
          out += r;
        } else {
          out.append(g.substr(b, i - b));
        }
      }
    });
    return out;
  }

 private:
  // darts-clone unit accessors
  static bool has_leaf(uint32_t u) { return ((u >> 8) & 1) == 1; }
  static uint32_t value(uint32_t u) { return u & ((1u << 31) - 1); }
  static uint32_t label(uint32_t u) { return u & ((1u << 31) | 0xff); }
  static uint32_t offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

  // The replacement of the shortest prefix of `chunk` in the trie, or null.
  const char* transform(std::string_view chunk) const {
    size_t node = 0;
    uint32_t unit = array_[0];
    node ^= offset(unit);
    for (char ch : chunk) {
      const auto c = static_cast<uint8_t>(ch);
      if (c == 0) break;
      node ^= c;
      if (node >= array_.size()) return nullptr;
      unit = array_[node];
      if (label(unit) != c) return nullptr;
      node ^= offset(unit);
      if (node >= array_.size()) return nullptr;
      if (has_leaf(unit)) {
        const uint32_t v = value(array_[node]);
        return v < normalized_.size() ? normalized_.c_str() + v : nullptr;
      }
    }
    return nullptr;
  }

  template <typename F>
  static void for_each_grapheme(std::string_view text, F f) {
    UErrorCode status = U_ZERO_ERROR;
    thread_local std::unique_ptr<icu::BreakIterator> it(
        icu::BreakIterator::createCharacterInstance(icu::Locale::getRoot(), status));
    if (U_FAILURE(status) || !it) throw std::runtime_error("ICU grapheme iterator unavailable");
    const icu::UnicodeString u = icu::UnicodeString::fromUTF8(
        icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
    it->setText(u);
    // Map UTF-16 boundaries back to UTF-8 offsets by walking both in step. ICU's grapheme rules are
    // Unicode 15; a combining mark assigned later is unknown to it and would start a cluster of its
    // own, where HF's segmentation (newer Unicode) extends the previous cluster: join those.
    std::vector<std::pair<size_t, size_t>> clusters;
    size_t pos8 = 0;
    int32_t pos16 = 0;
    for (int32_t b = it->next(); b != icu::BreakIterator::DONE; b = it->next()) {
      const size_t start8 = pos8;
      size_t probe = pos8;
      const char32_t first = next_code_point(text, probe);
      while (pos16 < b) {
        const char32_t cp = next_code_point(text, pos8);
        pos16 += cp >= 0x10000 ? 2 : 1;
      }
      const bool late_mark = u_charType(static_cast<UChar32>(first)) == U_UNASSIGNED &&
                             has_class(CharClass::kGraphemeExtend, first);
      if (late_mark && !clusters.empty()) {
        clusters.back().second = pos8;
      } else {
        clusters.emplace_back(start8, pos8);
      }
    }
    for (const auto& [b, e] : clusters) f(text.substr(b, e - b));
  }

  std::vector<uint32_t> array_;
  std::string normalized_;
};

}  // namespace

Result<std::unique_ptr<Normalizer>> make_precompiled(const nlohmann::json& j) {
  if (!j.contains("precompiled_charsmap") || !j["precompiled_charsmap"].is_string()) {
    return make_error(ErrorCode::kNotFound,
                      "Precompiled normalizer without 'precompiled_charsmap'");
  }
  return Precompiled::make(j["precompiled_charsmap"].get<std::string>());
}

}  // namespace sglang::tok
