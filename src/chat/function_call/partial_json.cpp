#include "chat/function_call/partial_json.h"

#include <cstdint>
#include <optional>
#include <string>
#include "util/json_nesting.h"

namespace sglang::chat {
namespace {

// What partial_json_parser's complete_* functions return for the text from some position:
// `end` bytes of it kept, then `tail` appended; `done` when those bytes are already a whole
// value. std::nullopt is their `False`: unfinished, and not allowed to be.
struct Completion {
  size_t end = 0;
  std::string tail;
  bool done = false;
};
using Step = std::optional<Completion>;

// Python's IndexError (reading past the end), which the containers turn into "close here", and
// MalformedJSON, which ends the parse.
enum class Fault { kNone, kEndOfText, kMalformed };

// str.isspace() over the ASCII range, as skip_blank uses it.
bool is_blank(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

class Completer {
 public:
  Completer(std::string_view text, unsigned allowed) : s_(text), allow_(allowed) {}
  Fault fault() const { return fault_; }

  size_t skip_blank(size_t i) const {
    while (i < s_.size() && is_blank(s_[i])) ++i;
    return i;
  }

  // complete_any on s_[pos:]; positions in the result are relative to pos. Nesting is bounded
  // as for JSON (util/json_nesting.h): the completer recurses per level.
  Step any(size_t pos, bool top_level) {
    if (depth_ >= kMaxJsonNesting) return malformed();
    ++depth_;
    Step step = any_at_depth(pos, top_level);
    --depth_;
    return step;
  }

  Step any_at_depth(size_t pos, bool top_level) {
    size_t i = skip_blank(pos);
    if (i >= s_.size()) return end_of_text();
    char c = s_[i];
    if (c == '"') return str(pos);
    if (c >= '0' && c <= '9') return num(pos, top_level);
    if (c == '[') return arr(pos);
    if (c == '{') return obj(pos);
    std::string_view rest = s_.substr(pos);
    for (auto [word, flag] : {std::pair{std::string_view("null"), allow::kNull},
                              std::pair{std::string_view("true"), allow::kBool},
                              std::pair{std::string_view("false"), allow::kBool},
                              std::pair{std::string_view("Infinity"), allow::kInfinity}}) {
      if (rest.starts_with(word)) return Completion{word.size(), "", true};
      if (word.starts_with(rest)) {
        if (!(allow_ & flag)) return std::nullopt;
        return Completion{0, std::string(word), false};
      }
    }
    if (c == '-') {
      if (rest.size() == 1) return std::nullopt;
      if (rest[1] != 'I') return num(pos, top_level);
    }
    if (rest.starts_with("-Infinity")) return Completion{9, "", true};
    if (std::string_view("-Infinity").starts_with(rest)) {
      if (!(allow_ & allow::kNegInfinity)) return std::nullopt;
      return Completion{0, "-Infinity", false};
    }
    if (rest.starts_with("NaN")) return Completion{3, "", true};
    if (std::string_view("NaN").starts_with(rest)) {
      if (!(allow_ & allow::kNan)) return std::nullopt;
      return Completion{0, "NaN", false};
    }
    return malformed();
  }

  // complete_str: s_[pos] is '"'.
  Step str(size_t pos) {
    if (pos >= s_.size() || s_[pos] != '"') return malformed();
    size_t length = s_.size() - pos;
    size_t i = 1;
    while (i < length) {
      char c = s_[pos + i];
      if (c == '\\') {
        if (i + 1 == length) break;
        i += 2;
        continue;
      }
      if (c == '"') return Completion{i + 1, "", true};
      ++i;
    }
    if (!(allow_ & allow::kStr)) return std::nullopt;
    // An unfinished escape (\uXXXX, \UXXXXXXXX, \xXX) is dropped whole.
    for (auto [escape, span] : {std::pair{std::string_view("\\u"), size_t{5}},
                                std::pair{std::string_view("\\U"), size_t{9}},
                                std::pair{std::string_view("\\x"), size_t{3}}}) {
      size_t from = i > span ? i - span : 0;
      std::string_view window = s_.substr(pos, i);
      size_t at = window.rfind(escape);
      if (at != std::string_view::npos && at >= from && at + escape.size() <= i &&
          not_escaped(pos, at)) {
        return Completion{at, "\"", false};
      }
    }
    return Completion{std::min(i, length), "\"", false};
  }

  // complete_num: digits and ".-+eE" forward, then back off a trailing ".-+eE".
  Step num(size_t pos, bool top_level) {
    std::string_view t = s_.substr(pos);
    size_t i = 1;
    auto numeric = [](char c) {
      return (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E';
    };
    while (i < t.size() && numeric(t[i])) ++i;
    bool modified = false;
    auto trailing = [](char c) { return c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'; };
    while (i > 0 && trailing(t[i - 1])) {
      modified = true;
      --i;
    }
    if (modified || (i == t.size() && !top_level)) {
      if (!(allow_ & allow::kNum)) return std::nullopt;
      return Completion{i, "", false};
    }
    return Completion{i, "", true};
  }

  Step arr(size_t pos) {
    size_t i = 1, j = 1;
    auto close = [&]() -> Step {
      if (!(allow_ & allow::kArr)) return std::nullopt;
      return Completion{i, "]", false};
    };
    while (true) {
      j = skip_blank(pos + j) - pos;
      if (pos + j >= s_.size()) return close();
      if (s_[pos + j] == ']') return Completion{j + 1, "", true};
      Step r = any(pos + j, false);
      if (fault_ == Fault::kMalformed) return std::nullopt;
      if (fault_ == Fault::kEndOfText) {
        fault_ = Fault::kNone;
        return close();
      }
      if (!r) return close();
      if (!r->done) {
        if (!(allow_ & allow::kArr)) return std::nullopt;
        return Completion{j + r->end, r->tail + "]", false};
      }
      i = j = j + r->end;
      j = skip_blank(pos + j) - pos;
      if (pos + j >= s_.size()) return close();
      if (s_[pos + j] == ',') {
        ++j;
      } else if (s_[pos + j] == ']') {
        return Completion{j + 1, "", true};
      } else {
        return malformed();
      }
    }
  }

  Step obj(size_t pos) {
    size_t i = 1, j = 1;
    auto close = [&]() -> Step {
      if (!(allow_ & allow::kObj)) return std::nullopt;
      return Completion{i, "}", false};
    };
    while (true) {
      j = skip_blank(pos + j) - pos;
      if (pos + j >= s_.size()) return close();
      if (s_[pos + j] == '}') return Completion{j + 1, "", true};
      Step key = str(pos + j);
      if (fault_ == Fault::kMalformed) return std::nullopt;
      if (!key || !key->done) return close();
      j += key->end;
      j = skip_blank(pos + j) - pos;
      if (pos + j >= s_.size()) return close();
      if (s_[pos + j] != ':') return malformed();
      ++j;
      j = skip_blank(pos + j) - pos;
      Step r = any(pos + j, false);
      if (fault_ == Fault::kMalformed) return std::nullopt;
      if (fault_ == Fault::kEndOfText) {
        fault_ = Fault::kNone;
        return close();
      }
      if (!r) return close();
      if (!r->done) {
        if (!(allow_ & allow::kObj)) return std::nullopt;
        return Completion{j + r->end, r->tail + "}", false};
      }
      i = j = j + r->end;
      j = skip_blank(pos + j) - pos;
      if (pos + j >= s_.size()) return close();
      if (s_[pos + j] == ',') {
        ++j;
      } else if (s_[pos + j] == '}') {
        return Completion{j + 1, "", true};
      } else {
        return malformed();
      }
    }
  }

 private:
  // An even number of backslashes right before s_[pos + at].
  bool not_escaped(size_t pos, size_t at) const {
    size_t count = 0;
    while (at > count && s_[pos + at - count - 1] == '\\') ++count;
    return count % 2 == 0;
  }
  Step end_of_text() {
    fault_ = Fault::kEndOfText;
    return std::nullopt;
  }
  Step malformed() {
    fault_ = Fault::kMalformed;
    return std::nullopt;
  }

  std::string_view s_;
  unsigned allow_;
  Fault fault_ = Fault::kNone;
  int depth_ = 0;
};

uint32_t hex4(std::string_view s) {
  uint32_t v = 0;
  for (char c : s) {
    v <<= 4;
    if (c >= '0' && c <= '9') {
      v |= static_cast<uint32_t>(c - '0');
    } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
      v |= static_cast<uint32_t>((c | 0x20) - 'a' + 10);
    } else {
      return 0xFFFFFFFF;
    }
  }
  return v;
}

// Python's json reads a lone UTF-16 surrogate escape (a pair cut in two while streaming) into
// its str, and json.dumps writes it back as \udXXX; nlohmann refuses it. A lone surrogate is
// carried as a code point of kLoneSurrogateBase + (unit - 0xD800) instead, which
// python_json_dumps turns back into the escape. Returns whether any was found.
bool mask_lone_surrogates(std::string& text) {
  std::string out;
  bool found = false, in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (!in_string) {
      in_string = c == '"';
      out += c;
      continue;
    }
    if (c == '"') {
      in_string = false;
      out += c;
      continue;
    }
    if (c != '\\' || i + 1 >= text.size()) {
      out += c;
      continue;
    }
    if (text[i + 1] != 'u' || i + 6 > text.size()) {
      out += text.substr(i, 2);
      ++i;
      continue;
    }
    uint32_t unit = hex4(std::string_view(text).substr(i + 2, 4));
    bool high = unit >= 0xD800 && unit <= 0xDBFF;
    bool low = unit >= 0xDC00 && unit <= 0xDFFF;
    if (high && i + 12 <= text.size() && text[i + 6] == '\\' && text[i + 7] == 'u') {
      uint32_t next = hex4(std::string_view(text).substr(i + 8, 4));
      if (next >= 0xDC00 && next <= 0xDFFF) {
        out += text.substr(i, 12);
        i += 11;
        continue;
      }
    }
    if (!high && !low) {
      out += text.substr(i, 6);
      i += 5;
      continue;
    }
    found = true;
    uint32_t cp = kLoneSurrogateBase + (unit - 0xD800);
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
    i += 5;
  }
  text = std::move(out);
  return found;
}

Result<nlohmann::ordered_json> read_json(std::string text, bool* lone_surrogates = nullptr) {
  bool found = mask_lone_surrogates(text);
  if (lone_surrogates != nullptr) *lone_surrogates = found;
  auto value = parse_json_within_nesting<nlohmann::ordered_json>(text);
  if (value.is_discarded()) {
    return make_error(ErrorCode::kInvalidArgument, "malformed JSON: " + text);
  }
  return value;
}

// The length of `text` without its trailing str.isspace() characters (Unicode ones included:
// U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000).
size_t python_rstrip_length(std::string_view text) {
  size_t n = text.size();
  while (n > 0) {
    if (is_blank(text[n - 1])) {
      --n;
      continue;
    }
    auto ends_with = [&](std::string_view s) { return text.substr(0, n).ends_with(s); };
    size_t cut = 0;
    static const std::string_view kSpaces[] = {"\xc2\x85",     "\xc2\xa0",     "\xe1\x9a\x80",
                                               "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\xaf",
                                               "\xe2\x81\x9f", "\xe3\x80\x80"};
    for (std::string_view s : kSpaces) {
      if (ends_with(s)) cut = s.size();
    }
    // U+2000..U+200A: E2 80 80..8A
    if (cut == 0 && n >= 3 && text[n - 3] == '\xe2' && text[n - 2] == '\x80' &&
        static_cast<unsigned char>(text[n - 1]) >= 0x80 &&
        static_cast<unsigned char>(text[n - 1]) <= 0x8A) {
      cut = 3;
    }
    if (cut == 0) break;
    n -= cut;
  }
  return n;
}

}  // namespace

Result<PartialJson> parse_partial_json(std::string_view full_text, unsigned allowed) {
  // As partial_json_parser's _fix: the text is stripped before it is completed, so trailing
  // blanks (inside an unfinished string too) are not part of the value.
  std::string_view text = full_text.substr(0, python_rstrip_length(full_text));
  Completer completer(text, allowed);
  size_t lead = completer.skip_blank(0);
  if (lead >= text.size()) return make_error(ErrorCode::kInvalidArgument, "empty JSON text");
  Step step = completer.any(lead, /*top_level=*/true);
  if (completer.fault() != Fault::kNone) {
    return make_error(ErrorCode::kInvalidArgument, "malformed JSON text");
  }
  if (!step) return make_error(ErrorCode::kInvalidArgument, "partial JSON not allowed here");
  PartialJson out;
  if (step->done) {
    // Whole value: json.loads when only blanks follow, else raw_decode up to its end.
    size_t end = lead + step->end;
    bool lone = false;
    SGLANG_ASSIGN_OR_RETURN(out.value, read_json(std::string(text.substr(lead, step->end)), &lone));
    out.consumed = completer.skip_blank(end) == text.size() ? full_text.size() : end;
    out.complete = !lone;  // orjson, which SGLang asks, refuses lone surrogates
    return out;
  }
  SGLANG_ASSIGN_OR_RETURN(out.value,
                          read_json(std::string(text.substr(lead, step->end)) + step->tail));
  out.consumed = full_text.size();
  out.complete = false;
  return out;
}

Result<PartialJson> raw_decode_json(std::string_view text) {
  if (text.empty() || is_blank(text[0])) {
    return make_error(ErrorCode::kInvalidArgument, "Expecting value");
  }
  Completer completer(text, /*allowed=*/0);
  Step step = completer.any(0, /*top_level=*/true);
  if (completer.fault() != Fault::kNone || !step || !step->done) {
    return make_error(ErrorCode::kInvalidArgument, "no complete JSON value");
  }
  PartialJson out;
  SGLANG_ASSIGN_OR_RETURN(out.value, read_json(std::string(text.substr(0, step->end))));
  out.consumed = step->end;
  out.complete = true;
  return out;
}

std::string_view python_strip(std::string_view text) {
  size_t b = 0, e = text.size();
  while (b < e && is_blank(text[b])) ++b;
  while (e > b && is_blank(text[e - 1])) --e;
  return text.substr(b, e - b);
}

}  // namespace sglang::chat
