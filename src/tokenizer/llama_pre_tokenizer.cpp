#include "tokenizer/llama_pre_tokenizer.h"

#include <algorithm>

#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace sglang::tok {
namespace {

struct LlamaFlagRange {
  char32_t first;
  uint16_t flags;
};
#include "tokenizer/llama_unicode_flags.inc"

using namespace llama_flags;

// The regexes of llama-vocab.cpp. GPT-2's and Llama 3's have hand-written matchers in llama.cpp
// (recognised by their exact text); the others run as regexes.
constexpr const char* kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr const char* kLlama3Regex =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3CaselessRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Regex =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// The regex lists of llama-vocab.cpp's BPE pre-tokenizers that are supported here.
enum class RegexList { kDefault, kGpt2, kLlama3, kSmollm, kQwen2, kFalcon };

std::vector<std::string> regexes_of(RegexList list) {
  switch (list) {
    case RegexList::kDefault:
      return {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2Regex, R"(\p{N}+)", "[0-9][0-9][0-9]"};
    case RegexList::kGpt2:
      return {kGpt2Regex};
    case RegexList::kLlama3:
      return {kLlama3Regex};
    case RegexList::kSmollm:
      return {R"(\p{N})", kGpt2Regex};
    case RegexList::kQwen2:
      return {kQwen2Regex};
    case RegexList::kFalcon:
      return {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2Regex, "[0-9][0-9][0-9]"};
  }
  return {};
}

// tokenizer.ggml.pre values and what llama.cpp's vocabulary loader sets for each (clean_spaces is
// on for BPE unless the value turns it off).
struct PreType {
  const char* name;
  RegexList regexes;
  bool clean_spaces = true;
  bool ignore_merges = false;
  bool add_bos = false;
};
using R = RegexList;
constexpr PreType kPreTypes[] = {
    {"default", R::kDefault},
    {"llama3", R::kLlama3, true, true, true},
    {"llama-v3", R::kLlama3, true, true, true},
    {"llama-bpe", R::kLlama3, true, true, true},
    {"falcon3", R::kLlama3, true, true, true},
    {"falcon-h1", R::kLlama3, true, true, true},
    {"pixtral", R::kLlama3, true, true, true},
    {"midm-2.0", R::kLlama3, true, true, true},
    {"lfm2", R::kLlama3, true, true, true},
    {"jina-v5-nano", R::kLlama3, true, true, true},
    {"dbrx", R::kLlama3},
    {"smaug-bpe", R::kLlama3},
    {"falcon", R::kFalcon},
    {"gpt-2", R::kGpt2},
    {"phi-2", R::kGpt2},
    {"jina-es", R::kGpt2},
    {"jina-de", R::kGpt2},
    {"gigachat", R::kGpt2},
    {"jina-v2-es", R::kGpt2},
    {"jina-v2-de", R::kGpt2},
    {"a.x-4.0", R::kGpt2},
    {"mellum", R::kGpt2},
    {"modern-bert", R::kGpt2},
    {"exaone4", R::kGpt2},
    {"mpt", R::kGpt2},
    {"olmo", R::kGpt2},
    {"jais", R::kGpt2},
    {"trillion", R::kGpt2, false},
    {"granite-docling", R::kGpt2, false},
    {"starcoder", R::kSmollm},
    {"refact", R::kSmollm},
    {"codeshell", R::kSmollm},
    {"exaone", R::kSmollm},
    {"minerva-7b", R::kSmollm},
    {"mellum2", R::kSmollm},
    {"command-r", R::kSmollm, false},
    {"smollm", R::kSmollm, false},
    {"qwen2", R::kQwen2, false},
    {"deepseek-r1-qwen", R::kQwen2, false},
    {"kormo", R::kQwen2, false},
    {"f2llmv2", R::kQwen2, false},
    {"hunyuan", R::kQwen2, false},
    {"solar-open", R::kQwen2, false},
    {"stablelm2", R::kQwen2},
    {"megrez", R::kQwen2},
};

constexpr char32_t kOutOfRange = 0xFFFFFFFF;

// Piece lengths (in code points) are appended to `out` as llama.cpp's offsets.
class Cutter {
 public:
  Cutter(std::vector<size_t>& out, size_t begin) : out_(out), last_(begin) {}
  void cut(size_t at) {
    if (at > last_) out_.push_back(at - last_);
    last_ = at;
  }

 private:
  std::vector<size_t>& out_;
  size_t last_;
};

// A view of cps[begin, end) where reads past the end give the out-of-range values llama.cpp's
// matchers test against.
struct Range {
  const std::vector<char32_t>& cps;
  size_t begin, end;
  char32_t cp(size_t i) const { return i < end ? cps[i] : kOutOfRange; }
  uint16_t flags(size_t i) const { return i < end ? llama_code_point_flags(cps[i]) : 0; }
};

char32_t ascii_lower(char32_t c) {
  return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

// Length of a contraction ('s 't 'm 'd 're 've 'll) at pos, or 0.
size_t contraction(const Range& r, size_t pos, bool any_case) {
  if (r.cps[pos] != '\'' || pos + 1 >= r.end) return 0;
  auto low = [&](char32_t c) { return any_case ? ascii_lower(c) : c; };
  const char32_t n = low(r.cps[pos + 1]);
  if (n == 's' || n == 't' || n == 'm' || n == 'd') return 2;
  if (pos + 2 >= r.end) return 0;
  const char32_t nn = low(r.cps[pos + 2]);
  if ((n == 'r' && nn == 'e') || (n == 'v' && nn == 'e') || (n == 'l' && nn == 'l')) return 3;
  return 0;
}

constexpr uint16_t kWordish = kWhitespace | kLetter | kNumber;

// GPT-2's pattern, as llama.cpp's unicode_regex_split_custom_gpt2 matches it (the trailing `\s+`
// alternative and a lone character as the last resort included).
void split_gpt2(const Range& r, std::vector<size_t>& out) {
  Cutter cut(out, r.begin);
  for (size_t pos = r.begin; pos < r.end;) {
    const char32_t c = r.cps[pos];
    if (const size_t n = contraction(r, pos, false)) {
      cut.cut(pos += n);
      continue;
    }
    const bool space = c == ' ';
    const uint16_t f2 = space ? r.flags(pos + 1) : r.flags(pos);
    if (f2 & (kLetter | kNumber)) {  // ` ?\p{L}+` or ` ?\p{N}+`
      const uint16_t cls = (f2 & kLetter) ? kLetter : kNumber;
      pos += space;
      while (r.flags(pos) & cls) ++pos;
      cut.cut(pos);
      continue;
    }
    if (!(f2 & kWordish) && f2 != 0) {  // ` ?[^\s\p{L}\p{N}]+`
      pos += space;
      for (uint16_t f = r.flags(pos); !(f & kWordish) && f != 0; f = r.flags(++pos)) {
      }
      cut.cut(pos);
      continue;
    }
    size_t n_ws = 0;
    while (r.flags(pos + n_ws) & kWhitespace) ++n_ws;
    if (n_ws > 1 && pos + n_ws < r.end) {  // `\s+(?!\S)`: leave the last one to the next piece
      cut.cut(pos += n_ws - 1);
    } else if (n_ws > 0) {  // `\s+`
      cut.cut(pos += n_ws);
    } else {
      cut.cut(++pos);
    }
  }
}

// Llama 3's pattern, as llama.cpp's unicode_regex_split_custom_llama3 matches it.
void split_llama3(const Range& r, std::vector<size_t>& out) {
  Cutter cut(out, r.begin);
  for (size_t pos = r.begin; pos < r.end;) {
    const char32_t c = r.cps[pos];
    const uint16_t f = r.flags(pos);
    if (const size_t n = contraction(r, pos, true)) {
      cut.cut(pos += n);
      continue;
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (!(c == '\r' || c == '\n' || (f & kNumber)) &&
        ((f & kLetter) || (r.flags(pos + 1) & kLetter))) {
      ++pos;
      while (r.flags(pos) & kLetter) ++pos;
      cut.cut(pos);
      continue;
    }
    if (f & kNumber) {  // \p{N}{1,3}
      size_t first = pos;
      while (r.flags(pos) & kNumber) {
        if (++pos - first >= 3) {
          cut.cut(pos);
          first = pos;
        }
      }
      cut.cut(pos);
      continue;
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*` (llama.cpp tests the first character's own flags for being in
    // range, not the one after the space)
    const uint16_t f2 = c == ' ' ? r.flags(pos + 1) : f;
    if (!(f2 & kWordish) && f != 0) {
      pos += c == ' ';
      for (uint16_t g = r.flags(pos); !(g & kWordish) && g != 0; g = r.flags(++pos)) {
      }
      while (r.cp(pos) == '\r' || r.cp(pos) == '\n') ++pos;
      cut.cut(pos);
      continue;
    }
    size_t n_ws = 0, after_last_newline = 0;
    while (r.flags(pos + n_ws) & kWhitespace) {
      const char32_t w = r.cps[pos + n_ws];
      if (w == '\r' || w == '\n') after_last_newline = pos + n_ws + 1;
      ++n_ws;
    }
    if (after_last_newline > 0) {  // \s*[\r\n]+
      cut.cut(pos = after_last_newline);
    } else if (n_ws > 1 && pos + n_ws < r.end) {  // \s+(?!\S)
      cut.cut(pos += n_ws - 1);
    } else if (n_ws > 0) {  // \s+
      cut.cut(pos += n_ws);
    } else {
      cut.cut(++pos);
    }
  }
}

// The Unicode classes llama.cpp rewrites for its collapsed text: the byte that stands for the
// category outside ASCII, and the ASCII members of the category.
struct CollapsedClass {
  const char* name;
  char stand_in;
  const char* ascii;
};
constexpr CollapsedClass kCollapsedClasses[] = {
    {R"(\p{N})", '\xD1', "0-9"},
    {R"(\p{L})", '\xD2', "A-Za-z"},
    {R"(\p{P})", '\xD3', R"(!-#%-*,-/:-;?-@\[-\]_\{\})"},
    {R"(\p{M})", '\xD4', ""},
    {R"(\p{S})", '\xD5', R"(\$\+<->^`\|)"},
    {R"(\p{Lu})", '\xD2', "A-Za-z"},
    {R"(\p{Ll})", '\xD2', "A-Za-z"},
    {R"(\p{Lt})", '\xD2', "A-Za-z"},
    {R"(\p{Lm})", '\xD2', "A-Za-z"},
    {R"(\p{Lo})", '\xD2', "A-Za-z"},
};

bool uses_categories(const std::string& regex) {
  return std::any_of(
      std::begin(kCollapsedClasses), std::end(kCollapsedClasses),
      [&](const CollapsedClass& c) { return regex.find(c.name) != std::string::npos; });
}

// One byte per code point: ASCII stays, whitespace becomes \v, anything else the byte standing for
// its category (0xD0 for those without one).
std::string collapse_text(const std::vector<char32_t>& cps) {
  std::string out(cps.size(), '\0');
  for (size_t i = 0; i < cps.size(); ++i) {
    if (cps[i] < 0x80) {
      out[i] = static_cast<char>(cps[i]);
      continue;
    }
    const uint16_t f = llama_code_point_flags(cps[i]);
    char c = '\xD0';
    if (f & kWhitespace) {
      c = '\v';
    } else {
      for (const auto& [flag, byte] :
           {std::pair{kNumber, '\xD1'}, std::pair{kLetter, '\xD2'}, std::pair{kPunctuation, '\xD3'},
            std::pair{kAccentMark, '\xD4'}, std::pair{kSymbol, '\xD5'}}) {
        if ((f & kCategories) == flag) c = byte;
      }
    }
    out[i] = c;
  }
  return out;
}

// The regex with each \p{..} replaced by its collapsed class (a bracket of its own outside one).
std::string collapse_regex(const std::string& regex) {
  std::string out;
  bool inside = false;
  for (size_t i = 0; i < regex.size(); ++i) {
    const char c = regex[i];
    if (c == '[' && (i == 0 || regex[i - 1] != '\\')) {
      out += c;
      inside = true;
      continue;
    }
    if (inside && c == ']' && regex[i - 1] != '\\') {
      out += c;
      inside = false;
      continue;
    }
    const CollapsedClass* hit = nullptr;
    for (const auto& k : kCollapsedClasses) {
      if (regex.compare(i, std::string_view(k.name).size(), k.name) == 0) hit = &k;
    }
    if (hit) {
      if (!inside) out += '[';
      out += hit->stand_in;
      out += hit->ascii;
      if (!inside) out += ']';
      i += std::string_view(hit->name).size() - 1;
      continue;
    }
    out += c;
  }
  return out;
}

// Appends the pieces the matches of `re` make of subject (of `length` code points): the text
// between matches and each match, as llama.cpp's unicode_regex_split_stl.
void cut_at_matches(const Regex& re, std::string_view subject,
                    const std::vector<size_t>& cp_at_byte, size_t length,
                    std::vector<size_t>& out) {
  size_t done = 0;
  for (auto [b, e] : re.find_all(subject)) {
    const size_t cb = cp_at_byte[b], ce = cp_at_byte[e];
    if (cb > done) out.push_back(cb - done);
    out.push_back(ce - cb);
    done = ce;
  }
  if (done < length) out.push_back(length - done);
}

class Step {
 public:
  enum class Kind { kGpt2, kLlama3, kCollapsed, kCodePoints };
  static Result<Step> make(const std::string& regex) {
    Step s;
    if (regex == kGpt2Regex) {
      s.kind_ = Kind::kGpt2;
    } else if (regex == kLlama3Regex || regex == kLlama3CaselessRegex) {
      s.kind_ = Kind::kLlama3;
    } else if (uses_categories(regex)) {
      for (char c : regex) {
        if (static_cast<unsigned char>(c) >= 0x80) {
          return make_error(ErrorCode::kUnsupported,
                            "regex '" + regex + "' mixes Unicode classes and non-ASCII characters");
        }
      }
      s.kind_ = Kind::kCollapsed;
      SGLANG_ASSIGN_OR_RETURN(s.re_, Regex::compile_ecmascript(collapse_regex(regex), false));
    } else {
      s.kind_ = Kind::kCodePoints;
      SGLANG_ASSIGN_OR_RETURN(s.re_, Regex::compile_ecmascript(regex, true));
    }
    return s;
  }
  bool needs_collapsed() const { return kind_ == Kind::kCollapsed; }

  // Splits each piece (lengths over cps) further.
  std::vector<size_t> apply(const std::vector<char32_t>& cps, const std::string& collapsed,
                            const std::vector<size_t>& pieces) const {
    std::vector<size_t> out;
    out.reserve(pieces.size());
    size_t begin = 0;
    std::vector<size_t> cp_at_byte;
    for (size_t len : pieces) {
      const Range r{cps, begin, begin + len};
      switch (kind_) {
        case Kind::kGpt2:
          split_gpt2(r, out);
          break;
        case Kind::kLlama3:
          split_llama3(r, out);
          break;
        case Kind::kCollapsed:
          cp_at_byte.resize(len + 1);
          for (size_t i = 0; i <= len; ++i) cp_at_byte[i] = i;
          cut_at_matches(*re_, std::string_view(collapsed).substr(begin, len), cp_at_byte, len,
                         out);
          break;
        case Kind::kCodePoints: {
          // As llama.cpp's std::wregex path: whitespace outside ASCII reads as \v.
          std::string utf8;
          cp_at_byte.clear();
          for (size_t i = begin; i < begin + len; ++i) {
            const char32_t c =
                cps[i] >= 0x80 && (llama_code_point_flags(cps[i]) & kWhitespace) ? U'\v' : cps[i];
            const size_t before = utf8.size();
            append_utf8(utf8, c);
            cp_at_byte.resize(utf8.size(), 0);
            cp_at_byte[before] = i - begin;
          }
          cp_at_byte.push_back(len);
          cut_at_matches(*re_, utf8, cp_at_byte, len, out);
          break;
        }
      }
      begin += len;
    }
    return out;
  }

 private:
  Kind kind_ = Kind::kGpt2;
  std::shared_ptr<const Regex> re_;
};

Result<std::vector<Step>> make_steps(const std::vector<std::string>& regexes) {
  std::vector<Step> steps;
  for (const auto& r : regexes) {
    SGLANG_ASSIGN_OR_RETURN(Step s, Step::make(r));
    steps.push_back(std::move(s));
  }
  return steps;
}

// The pieces of `text` (UTF-8) as code point ranges.
std::vector<std::string> split_text(const std::vector<Step>& steps, std::string_view text) {
  std::vector<char32_t> cps;
  cps.reserve(text.size());
  std::vector<size_t> byte_at_cp;  // start byte of each code point, and the end
  for (size_t i = 0; i < text.size();) {
    byte_at_cp.push_back(i);
    cps.push_back(next_code_point(text, i));
  }
  byte_at_cp.push_back(text.size());
  const bool collapse =
      std::any_of(steps.begin(), steps.end(), [](const Step& s) { return s.needs_collapsed(); });
  const std::string collapsed = collapse ? collapse_text(cps) : std::string();
  std::vector<size_t> pieces = {cps.size()};
  for (const Step& s : steps) pieces = s.apply(cps, collapsed, pieces);
  std::vector<std::string> out;
  out.reserve(pieces.size());
  size_t begin = 0;
  for (size_t len : pieces) {
    if (len > 0) {
      out.emplace_back(text.substr(byte_at_cp[begin], byte_at_cp[begin + len] - byte_at_cp[begin]));
    }
    begin += len;
  }
  return out;
}

class LlamaPreTokenizer final : public PreTokenizer {
 public:
  explicit LlamaPreTokenizer(std::vector<Step> steps) : steps_(std::move(steps)) {}
  void split(std::vector<std::string>& pieces) const override {
    std::vector<std::string> out;
    for (const auto& p : pieces) {
      for (const auto& word : split_text(steps_, p)) {
        std::string mapped;
        mapped.reserve(word.size() * 2);
        for (char c : word) mapped += byte_to_unicode(static_cast<uint8_t>(c));
        out.push_back(std::move(mapped));
      }
    }
    pieces = std::move(out);
  }

 private:
  std::vector<Step> steps_;
};

}  // namespace

uint16_t llama_code_point_flags(char32_t cp) {
  if (cp >= 0x110000) return kUndefined;
  const auto* it =
      std::upper_bound(std::begin(kLlamaFlagRanges), std::end(kLlamaFlagRanges), cp,
                       [](char32_t c, const LlamaFlagRange& r) { return c < r.first; });
  return std::prev(it)->flags;
}

Result<LlamaPreTokenizerSpec> llama_pre_tokenizer_spec(const std::string& pre) {
  const std::string name = pre.empty() ? "default" : pre;
  std::string known;
  for (const PreType& t : kPreTypes) {
    if (name == t.name) {
      LlamaPreTokenizerSpec s;
      s.name = name;
      s.regexes = regexes_of(t.regexes);
      s.clean_spaces = t.clean_spaces;
      s.ignore_merges = t.ignore_merges;
      s.add_bos = t.add_bos;
      return s;
    }
    known += std::string(known.empty() ? "" : ", ") + t.name;
  }
  return make_error(ErrorCode::kUnsupported, "unsupported GGUF pre-tokenizer '" + name +
                                                 "' (tokenizer.ggml.pre); supported: " + known);
}

Result<std::unique_ptr<PreTokenizer>> make_llama_pre_tokenizer(
    const std::vector<std::string>& regexes) {
  SGLANG_ASSIGN_OR_RETURN(std::vector<Step> steps, make_steps(regexes));
  return std::unique_ptr<PreTokenizer>(new LlamaPreTokenizer(std::move(steps)));
}

Result<std::vector<std::string>> llama_regex_split(const std::string& text,
                                                   const std::vector<std::string>& regexes) {
  SGLANG_ASSIGN_OR_RETURN(std::vector<Step> steps, make_steps(regexes));
  return split_text(steps, text);
}

}  // namespace sglang::tok
