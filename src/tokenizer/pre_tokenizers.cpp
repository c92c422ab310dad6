// Pre-tokenizers of tokenizer.json: Split (every behaviour, invert), ByteLevel, Whitespace,
// WhitespaceSplit, Digits, Metaspace, BertPreTokenizer, Punctuation (every behaviour), Sequence.
#include <array>
#include <nlohmann/json.hpp>

#include "tokenizer/components.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace sglang::tok {

Result<std::shared_ptr<const Regex>> compile_pattern(const nlohmann::json& p);  // normalizers.cpp

namespace {

using nlohmann::json;

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Splits `text` at the delimiters `matches` (sorted, non-overlapping byte ranges), handled per
// `behavior` (as HF's NormalizedString::split). With `invert`, the matches are the content and the
// text between them the delimiters.
void split_at(const std::vector<std::pair<size_t, size_t>>& matches, Behavior behavior, bool invert,
              std::string_view text, std::vector<std::string>& out) {
  struct Segment {
    size_t b, e;
    bool delim;
  };
  std::vector<Segment> segs;
  size_t last = 0;
  for (auto [b, e] : matches) {
    if (b > last) segs.push_back({last, b, invert});
    segs.push_back({b, e, !invert});
    last = e;
  }
  if (last < text.size()) segs.push_back({last, text.size(), invert});

  if (behavior == Behavior::kMergedWithNext) {
    // A delimiter joins the piece after it unless that piece is a delimiter too (HF folds from the
    // right), so "a..b" becomes "a", ".", ".b".
    std::vector<std::string> rev;
    bool next_delim = false;
    for (size_t k = segs.size(); k-- > 0;) {
      const Segment& s = segs[k];
      std::string_view piece = text.substr(s.b, s.e - s.b);
      if (s.delim && !next_delim && !rev.empty()) {
        rev.back().insert(0, piece);
      } else {
        rev.emplace_back(piece);
      }
      next_delim = s.delim;
    }
    for (size_t k = rev.size(); k-- > 0;) out.push_back(std::move(rev[k]));
    return;
  }
  // Merging looks only at this text's own pieces, never at the previous text's in `out`.
  const size_t first = out.size();
  bool prev_delim = false;
  for (const Segment& s : segs) {
    std::string_view piece = text.substr(s.b, s.e - s.b);
    switch (behavior) {
      case Behavior::kRemoved:
        if (!s.delim) out.emplace_back(piece);
        break;
      case Behavior::kIsolated:
        out.emplace_back(piece);
        break;
      case Behavior::kContiguous:
        if (s.delim && prev_delim && out.size() > first) {
          out.back().append(piece);
        } else {
          out.emplace_back(piece);
        }
        break;
      case Behavior::kMergedWithPrevious:
        if (s.delim && out.size() > first && !prev_delim) {
          out.back().append(piece);
        } else {
          out.emplace_back(piece);
        }
        break;
      case Behavior::kMergedWithNext:  // handled above
        break;
    }
    prev_delim = s.delim;
  }
}

void split_by(const Regex& re, Behavior behavior, bool invert, std::string_view text,
              std::vector<std::string>& out) {
  split_at(re.find_all(text), behavior, invert, text, out);
}

// Split, and the fixed-pattern pre-tokenizers (Whitespace, WhitespaceSplit, Digits) built on it.
class Split final : public PreTokenizer {
 public:
  Split(std::shared_ptr<const Regex> re, Behavior b, bool invert)
      : re_(std::move(re)), behavior_(b), invert_(invert) {}
  void split(std::vector<std::string>& pieces) const override {
    std::vector<std::string> out;
    for (const auto& p : pieces) split_by(*re_, behavior_, invert_, p, out);
    pieces = std::move(out);
  }

 private:
  std::shared_ptr<const Regex> re_;
  Behavior behavior_;
  bool invert_;
};

// GPT-2's split pattern, used by ByteLevel with use_regex.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevel final : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, std::shared_ptr<const Regex> re)
      : add_prefix_space_(add_prefix_space), re_(std::move(re)) {}
  void split(std::vector<std::string>& pieces) const override {
    std::vector<std::string> out;
    for (auto& p : pieces) {
      std::string s = p;
      if (add_prefix_space_ && (s.empty() || s[0] != ' ')) s.insert(s.begin(), ' ');
      std::vector<std::string> parts;
      if (re_) {
        split_by(*re_, Behavior::kIsolated, false, s, parts);
      } else {
        parts.push_back(std::move(s));
      }
      for (const auto& part : parts) {
        std::string mapped;
        mapped.reserve(part.size() * 2);
        for (char c : part) mapped += byte_to_unicode(static_cast<uint8_t>(c));
        out.push_back(std::move(mapped));
      }
    }
    pieces = std::move(out);
  }

 private:
  bool add_prefix_space_;
  std::shared_ptr<const Regex> re_;
};

// BERT: split on whitespace (dropped), then isolate every punctuation character.
class BertPreTokenizer final : public PreTokenizer {
 public:
  void split(std::vector<std::string>& pieces) const override {
    std::vector<std::string> out;
    for (const auto& p : pieces) {
      std::string cur;
      auto flush = [&] {
        if (!cur.empty()) out.push_back(std::move(cur));
        cur.clear();
      };
      for (size_t i = 0; i < p.size();) {
        const size_t b = i;
        const char32_t c = next_code_point(p, i);
        if (has_class(CharClass::kSpace, c)) {
          flush();
        } else if (has_class(CharClass::kBertPunctuation, c)) {
          flush();
          out.emplace_back(p.substr(b, i - b));
        } else {
          cur.append(p, b, i - b);
        }
      }
      flush();
    }
    pieces = std::move(out);
  }
};

// Every punctuation character (ASCII punctuation or Unicode category P*, the set BERT uses) is a
// delimiter of its own, handled per `behavior` (default Isolated).
class Punctuation final : public PreTokenizer {
 public:
  explicit Punctuation(Behavior b) : behavior_(b) {}
  void split(std::vector<std::string>& pieces) const override {
    std::vector<std::string> out;
    std::vector<std::pair<size_t, size_t>> matches;
    for (const auto& p : pieces) {
      matches.clear();
      for (size_t i = 0; i < p.size();) {
        const size_t b = i;
        if (has_class(CharClass::kBertPunctuation, next_code_point(p, i)))
          matches.emplace_back(b, i);
      }
      split_at(matches, behavior_, false, p, out);
    }
    pieces = std::move(out);
  }

 private:
  Behavior behavior_;
};

// SentencePiece-style: spaces become the replacement character (U+2581), which is prepended to each
// piece per prepend_scheme, and with `split` each piece is cut before every replacement character.
class Metaspace final : public PreTokenizer {
 public:
  Metaspace(std::string replacement, std::string scheme, bool split_pieces)
      : rep_(std::move(replacement)), scheme_(std::move(scheme)), split_(split_pieces) {}
  void split(std::vector<std::string>& pieces) const override {
    std::vector<std::string> out;
    for (size_t n = 0; n < pieces.size(); ++n) {
      std::string s;
      for (char c : pieces[n]) {
        if (c == ' ') {
          s += rep_;
        } else {
          s.push_back(c);
        }
      }
      const bool starts = s.rfind(rep_, 0) == 0;
      if (!starts && (scheme_ == "always" || (scheme_ == "first" && n == 0))) s = rep_ + s;
      if (!split_) {
        out.push_back(std::move(s));
        continue;
      }
      size_t start = 0;
      for (size_t pos = s.find(rep_, 1); pos != std::string::npos;
           pos = s.find(rep_, pos + rep_.size())) {
        out.push_back(s.substr(start, pos - start));
        start = pos;
      }
      if (start < s.size()) out.push_back(s.substr(start));
    }
    pieces = std::move(out);
  }

 private:
  std::string rep_, scheme_;
  bool split_;
};

class PreTokenizerSequence final : public PreTokenizer {
 public:
  explicit PreTokenizerSequence(std::vector<std::unique_ptr<PreTokenizer>> s)
      : steps_(std::move(s)) {}
  void split(std::vector<std::string>& pieces) const override {
    for (const auto& s : steps_) s->split(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

Result<Behavior> parse_behavior(const std::string& s) {
  if (s == "Removed") return Behavior::kRemoved;
  if (s == "Isolated") return Behavior::kIsolated;
  if (s == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return Behavior::kMergedWithNext;
  if (s == "Contiguous") return Behavior::kContiguous;
  return make_error(ErrorCode::kUnsupported, "unknown split behavior '" + s + "'");
}

Result<std::unique_ptr<PreTokenizer>> regex_pre_tokenizer(const std::string& pattern, Behavior b,
                                                          bool invert) {
  SGLANG_ASSIGN_OR_RETURN(auto re, Regex::compile(pattern));
  return std::unique_ptr<PreTokenizer>(new Split(std::move(re), b, invert));
}

}  // namespace

const std::string& byte_to_unicode(uint8_t byte) {
  // Printable Latin-1 bytes stand for themselves; the others map to U+0100 onwards, in byte order.
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable =
          (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
      append_utf8(t[static_cast<size_t>(b)],
                  printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++));
    }
    return t;
  }();
  return table[byte];
}

int unicode_to_byte(char32_t cp) {
  static const std::array<int, 324> table = [] {
    std::array<int, 324> t;
    t.fill(-1);
    for (int b = 0; b < 256; ++b) {
      size_t i = 0;
      t[next_code_point(byte_to_unicode(static_cast<uint8_t>(b)), i)] = b;
    }
    return t;
  }();
  return cp < table.size() ? table[cp] : -1;
}

Result<std::unique_ptr<PreTokenizer>> make_pre_tokenizer(const json& j) {
  const std::string type = j.value("type", "");
  if (type == "Split") {
    SGLANG_ASSIGN_OR_RETURN(auto re, compile_pattern(j.value("pattern", json())));
    SGLANG_ASSIGN_OR_RETURN(Behavior b, parse_behavior(j.value("behavior", "Isolated")));
    return std::unique_ptr<PreTokenizer>(new Split(std::move(re), b, j.value("invert", false)));
  }
  if (type == "ByteLevel") {
    std::shared_ptr<const Regex> re;
    if (j.value("use_regex", true)) {
      SGLANG_ASSIGN_OR_RETURN(re, Regex::compile(kGpt2Pattern));
    }
    return std::unique_ptr<PreTokenizer>(
        new ByteLevel(j.value("add_prefix_space", true), std::move(re)));
  }
  if (type == "Whitespace") return regex_pre_tokenizer(R"(\w+|[^\w\s]+)", Behavior::kRemoved, true);
  if (type == "WhitespaceSplit") return regex_pre_tokenizer(R"(\s+)", Behavior::kRemoved, false);
  if (type == "Digits") {
    return regex_pre_tokenizer(j.value("individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)",
                               Behavior::kIsolated, false);
  }
  if (type == "Metaspace") {
    std::string scheme = j.value("prepend_scheme", "");
    if (scheme.empty()) scheme = j.value("add_prefix_space", true) ? "always" : "never";
    return std::unique_ptr<PreTokenizer>(
        new Metaspace(j.value("replacement", "\u2581"), scheme, j.value("split", true)));
  }
  if (type == "BertPreTokenizer") return std::unique_ptr<PreTokenizer>(new BertPreTokenizer());
  if (type == "Punctuation") {
    SGLANG_ASSIGN_OR_RETURN(Behavior b, parse_behavior(j.value("behavior", "Isolated")));
    return std::unique_ptr<PreTokenizer>(new Punctuation(b));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (const auto& s : j.value("pretokenizers", json::array())) {
      SGLANG_ASSIGN_OR_RETURN(auto p, make_pre_tokenizer(s));
      steps.push_back(std::move(p));
    }
    return std::unique_ptr<PreTokenizer>(new PreTokenizerSequence(std::move(steps)));
  }
  return make_error(ErrorCode::kUnsupported, "unsupported pre_tokenizer type '" + type + "'");
}

}  // namespace sglang::tok
