#include "sampling/grammar/regex_converter.h"

#include <optional>
#include <vector>

#include "sampling/grammar/ebnf_text.h"
#include "util/utf8.h"

namespace sglang::grammar {
namespace {

// Python's own limits: sre rejects deeper nesting long before this, and repeat counts above
// this would make grammars no engine can build in reasonable time.
constexpr int kMaxDepth = 200;
constexpr long kMaxRepeat = 100000;

// JSON must escape these inside a string (RFC 8259 section 7).
const CodePointSet& json_escaped() {
  static const CodePointSet set = CodePointSet::of({{0, 0x1F}, {'"', '"'}, {'\\', '\\'}});
  return set;
}

// The JSON escape of a code point JSON must escape.
std::string json_escape_of(char32_t c) {
  switch (c) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\n':
      return "\\n";
    case '\t':
      return "\\t";
    case '\r':
      return "\\r";
    case '\b':
      return "\\b";
    case '\f':
      return "\\f";
    default:
      break;
  }
  static const char* kHex = "0123456789abcdef";
  return std::string("\\u00") + kHex[(c >> 4) & 0xF] + kHex[c & 0xF];
}

// Python's str.isspace(), which is what `\s` means in a str pattern (sre's UNI_SPACE).
const CodePointSet& python_space() {
  static const CodePointSet set = CodePointSet::of({{0x09, 0x0D},
                                                    {0x1C, 0x20},
                                                    {0x85, 0x85},
                                                    {0xA0, 0xA0},
                                                    {0x1680, 0x1680},
                                                    {0x2000, 0x200A},
                                                    {0x2028, 0x2029},
                                                    {0x202F, 0x202F},
                                                    {0x205F, 0x205F},
                                                    {0x3000, 0x3000}});
  return set;
}

const CodePointSet& ascii_digit() {
  static const CodePointSet set = CodePointSet::of({{'0', '9'}});
  return set;
}

const CodePointSet& ascii_word() {
  static const CodePointSet set =
      CodePointSet::of({{'0', '9'}, {'A', 'Z'}, {'a', 'z'}, {'_', '_'}});
  return set;
}

const CodePointSet& non_ascii() {
  static const CodePointSet set = CodePointSet::of({{0x80, kMaxCodePoint}});
  return set;
}

const CodePointSet& ascii() {
  static const CodePointSet set = CodePointSet::of({{0, 0x7F}});
  return set;
}

// A class item as two sets. Python's \d and \w are Unicode-wide (every Nd digit, every
// alphanumeric) and we do not carry Unicode's tables here, so each is known only between an
// under-approximation (used where the item adds code points) and an over-approximation (used
// where a negated class removes them). Either way every string we allow is one Python matches.
struct ClassItem {
  CodePointSet under;
  CodePointSet over;
};

ClassItem exact(CodePointSet set) {
  return {set, set};
}

ClassItem category(char32_t letter) {
  CodePointSet over_digit = ascii_digit();
  over_digit.add(non_ascii());
  CodePointSet over_word = ascii_word();
  over_word.add(non_ascii());
  switch (letter) {
    case 'd':
      return {ascii_digit(), over_digit};
    case 'D':
      return {ascii().minus(ascii_digit()), ascii_digit().complement()};
    case 'w':
      return {ascii_word(), over_word};
    case 'W':
      return {ascii().minus(ascii_word()), ascii_word().complement()};
    case 's':
      return exact(python_space());
    default:
      return exact(python_space().complement());  // 'S'
  }
}

// How tightly a piece of EBNF binds: a quantifier may follow only an atom without parentheses,
// and an alternation needs them inside a sequence.
enum class Binding { kAlternation, kSequence, kAtom };

// One parsed piece of EBNF; `literal` holds the bytes when it is a plain literal (so neighbours
// merge into one).
struct Piece {
  std::string text;
  Binding binding = Binding::kAtom;
  std::optional<std::string> literal;
};

Piece literal_piece(std::string bytes) {
  Piece p;
  p.text = ebnf_literal(bytes);
  p.literal = std::move(bytes);
  return p;
}

Piece empty_piece() {
  return literal_piece("");
}

enum class EscapeKind { kChar, kSet, kStartAnchor, kEndAnchor };
struct Escape {
  EscapeKind kind = EscapeKind::kChar;
  char32_t c = 0;
  ClassItem set;
};

class RegexParser {
 public:
  RegexParser(std::string_view pattern, const RegexOptions& options) : options_(options) {
    size_t pos = 0;
    while (pos < pattern.size()) cps_.push_back(decode_utf8(pattern, &pos));
  }

  Result<std::string> parse() {
    SGLANG_ASSIGN_OR_RETURN(Piece piece, parse_alternation(/*at_start=*/true, 0));
    if (pos_ < cps_.size()) return error("unbalanced parenthesis");
    return piece.text;
  }

 private:
  bool done() const { return pos_ >= cps_.size(); }
  char32_t peek(size_t ahead = 0) const {
    return pos_ + ahead < cps_.size() ? cps_[pos_ + ahead] : 0;
  }
  bool has(size_t ahead = 0) const { return pos_ + ahead < cps_.size(); }

  Error error(const std::string& what) const {
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid regex: " + what + " at position " + std::to_string(pos_));
  }

  Result<Piece> parse_alternation(bool at_start, int depth) {
    if (depth > kMaxDepth) return error("too many nested groups");
    std::vector<Piece> branches;
    while (true) {
      SGLANG_ASSIGN_OR_RETURN(Piece branch, parse_concat(at_start, depth));
      branches.push_back(std::move(branch));
      if (has() && peek() == '|') {
        ++pos_;
        continue;
      }
      break;
    }
    if (branches.size() == 1) return std::move(branches[0]);
    Piece out;
    out.binding = Binding::kAlternation;
    for (size_t i = 0; i < branches.size(); ++i) {
      if (i > 0) out.text += " | ";
      out.text += branches[i].text;
    }
    return out;
  }

  Result<Piece> parse_concat(bool at_start, int depth) {
    std::vector<Piece> items;
    while (has() && peek() != '|' && peek() != ')') {
      const bool item_at_start = at_start && items.empty();
      SGLANG_ASSIGN_OR_RETURN(std::optional<Piece> atom, parse_atom(item_at_start, depth));
      if (!atom) {
        if (has() && is_quantifier_start()) return error("nothing to repeat");
        continue;  // an anchor: zero width
      }
      SGLANG_ASSIGN_OR_RETURN(Piece piece, parse_quantifiers(std::move(*atom)));
      if (piece.literal && !items.empty() && items.back().literal) {
        items.back() = literal_piece(*items.back().literal + *piece.literal);
      } else {
        items.push_back(std::move(piece));
      }
    }
    if (items.empty()) return empty_piece();
    if (items.size() == 1) return std::move(items[0]);
    Piece out;
    out.binding = Binding::kSequence;
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out.text += " ";
      const bool wrap = items[i].binding == Binding::kAlternation;
      out.text += wrap ? "(" + items[i].text + ")" : items[i].text;
    }
    return out;
  }

  bool is_quantifier_start() {
    const char32_t c = peek();
    if (c == '*' || c == '+' || c == '?') return true;
    if (c != '{') return false;
    size_t save = pos_;
    long lo = 0, hi = 0;
    bool ok = parse_brace(&lo, &hi);
    pos_ = save;
    return ok;
  }

  // Python's sre: `{` starts a repeat only as {m}, {m,}, {,n}, {m,n} or {,}; anything else (and
  // `{}`) is a literal brace.
  bool parse_brace(long* lo, long* hi) {
    if (peek() != '{' || peek(1) == '}') return false;
    size_t p = pos_ + 1;
    std::string lo_digits, hi_digits;
    while (p < cps_.size() && cps_[p] >= '0' && cps_[p] <= '9')
      lo_digits.push_back(char(cps_[p++]));
    bool comma = p < cps_.size() && cps_[p] == ',';
    if (comma) {
      ++p;
      while (p < cps_.size() && cps_[p] >= '0' && cps_[p] <= '9') {
        hi_digits.push_back(char(cps_[p++]));
      }
    } else {
      hi_digits = lo_digits;
    }
    if (p >= cps_.size() || cps_[p] != '}') return false;
    const auto to_long = [](const std::string& d) {
      return d.size() > 9 ? kMaxRepeat + 1 : std::stol(d);
    };
    *lo = lo_digits.empty() ? 0 : to_long(lo_digits);
    *hi = hi_digits.empty() ? -1 : to_long(hi_digits);
    pos_ = p + 1;
    return true;
  }

  Result<Piece> parse_quantifiers(Piece atom) {
    bool quantified = false;
    while (has()) {
      long lo = 0, hi = -1;
      const char32_t c = peek();
      if (c == '*') {
        ++pos_;
      } else if (c == '+') {
        ++pos_;
        lo = 1;
      } else if (c == '?') {
        ++pos_;
        hi = 1;
      } else if (c == '{') {
        if (!parse_brace(&lo, &hi)) break;
        if (lo > kMaxRepeat || hi > kMaxRepeat) {
          return error("repeat count above " + std::to_string(kMaxRepeat));
        }
        if (hi != -1 && lo > hi) return error("min repeat greater than max repeat");
      } else {
        break;
      }
      if (quantified) return error("multiple repeat");
      quantified = true;
      // A lazy quantifier matches the same language as the greedy one.
      if (has() && peek() == '?') {
        ++pos_;
      } else if (has() && peek() == '+') {
        return error("possessive quantifier (it changes the language; not supported)");
      }
      atom = quantify(std::move(atom), lo, hi);
    }
    return atom;
  }

  static Piece quantify(Piece atom, long lo, long hi) {
    if (lo == 1 && hi == 1) return atom;
    if (hi == 0) return empty_piece();
    if (atom.literal && atom.literal->empty()) return atom;
    std::string base = atom.binding == Binding::kAtom ? atom.text : "(" + atom.text + ")";
    std::string suffix;
    if (lo == 0 && hi == -1) {
      suffix = "*";
    } else if (lo == 1 && hi == -1) {
      suffix = "+";
    } else if (lo == 0 && hi == 1) {
      suffix = "?";
    } else if (lo == hi) {
      suffix = "{" + std::to_string(lo) + "}";
    } else if (hi == -1) {
      suffix = "{" + std::to_string(lo) + ",}";
    } else {
      suffix = "{" + std::to_string(lo) + "," + std::to_string(hi) + "}";
    }
    Piece out;
    out.text = base + suffix;
    out.binding = Binding::kSequence;
    return out;
  }

  // `$` (or \Z) may stand only where the rest of the pattern cannot consume anything more:
  // closing parentheses and further `$` up to the end, or a `|` whose alternative ends there.
  bool at_end_from(size_t p) const {
    while (p < cps_.size()) {
      const char32_t c = cps_[p];
      if (c == ')' || c == '$') {
        ++p;
      } else if (c == '|') {
        p = after_group(p);
        if (p == std::string::npos) return true;
      } else {
        return false;
      }
    }
    return true;
  }

  // The position after the `)` closing the group that contains `p`; npos at top level.
  size_t after_group(size_t p) const {
    int depth = 0;
    bool in_class = false;
    for (; p < cps_.size(); ++p) {
      const char32_t c = cps_[p];
      if (c == '\\') {
        ++p;
      } else if (in_class) {
        if (c == ']') in_class = false;
      } else if (c == '[') {
        in_class = true;
        if (p + 1 < cps_.size() && cps_[p + 1] == '^') ++p;
        if (p + 1 < cps_.size() && cps_[p + 1] == ']') ++p;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        if (depth == 0) return p + 1;
        --depth;
      }
    }
    return std::string::npos;
  }

  Result<std::optional<Piece>> parse_atom(bool at_start, int depth) {
    const char32_t c = peek();
    switch (c) {
      case '(':
        return parse_group(at_start, depth);
      case '[': {
        ++pos_;
        SGLANG_ASSIGN_OR_RETURN(CodePointSet set, parse_class());
        SGLANG_ASSIGN_OR_RETURN(Piece piece, class_piece(set));
        return std::optional<Piece>(std::move(piece));
      }
      case '.': {
        ++pos_;
        SGLANG_ASSIGN_OR_RETURN(Piece piece,
                                class_piece(CodePointSet::of({{'\n', '\n'}}).complement()));
        return std::optional<Piece>(std::move(piece));
      }
      case '^':
        ++pos_;
        if (!at_start) return error("'^' anchor inside the pattern is not supported");
        return std::optional<Piece>();
      case '$':
        ++pos_;
        if (!at_end_from(pos_)) return error("'$' anchor inside the pattern is not supported");
        return std::optional<Piece>();
      case '*':
      case '+':
      case '?':
        return error("nothing to repeat");
      case '{':
        if (is_quantifier_start()) return error("nothing to repeat");
        ++pos_;
        return std::optional<Piece>(char_piece('{'));
      case '\\': {
        ++pos_;
        SGLANG_ASSIGN_OR_RETURN(Escape esc, parse_escape(/*in_class=*/false));
        if (esc.kind == EscapeKind::kStartAnchor) {
          if (!at_start) return error("'\\A' anchor inside the pattern is not supported");
          return std::optional<Piece>();
        }
        if (esc.kind == EscapeKind::kEndAnchor) {
          if (!at_end_from(pos_)) return error("'\\Z' anchor inside the pattern is not supported");
          return std::optional<Piece>();
        }
        if (esc.kind == EscapeKind::kSet) {
          SGLANG_ASSIGN_OR_RETURN(Piece piece, class_piece(esc.set.under));
          return std::optional<Piece>(std::move(piece));
        }
        return std::optional<Piece>(char_piece(esc.c));
      }
      default:
        ++pos_;
        return std::optional<Piece>(char_piece(c));
    }
  }

  Result<std::optional<Piece>> parse_group(bool at_start, int depth) {
    ++pos_;  // '('
    if (peek() == '?') {
      ++pos_;
      const char32_t k = peek();
      if (k == ':') {
        ++pos_;
      } else if (k == 'P' && peek(1) == '<') {
        pos_ += 2;
        while (has() && peek() != '>') ++pos_;
        if (!has()) return error("missing '>' in group name");
        ++pos_;
      } else if (k == 'P' && peek(1) == '=') {
        return error("backreference (?P=...) is not supported");
      } else if (k == '#') {
        while (has() && peek() != ')') ++pos_;
        if (!has()) return error("missing ')' after comment");
        ++pos_;
        return std::optional<Piece>();
      } else if (k == '=' || k == '!') {
        return error("lookahead is not supported");
      } else if (k == '<' && (peek(1) == '=' || peek(1) == '!')) {
        return error("lookbehind is not supported");
      } else if (k == '>') {
        return error("atomic group (it changes the language; not supported)");
      } else if (k == '(') {
        return error("conditional group is not supported");
      } else {
        return error("inline flags are not supported");
      }
    }
    SGLANG_ASSIGN_OR_RETURN(Piece inner, parse_alternation(at_start, depth + 1));
    if (!has() || peek() != ')') return error("missing ')', unterminated subpattern");
    ++pos_;
    return std::optional<Piece>(std::move(inner));
  }

  Piece char_piece(char32_t c) {
    if (options_.json_string && json_escaped().contains(c)) return literal_piece(json_escape_of(c));
    std::string bytes;
    append_utf8(bytes, c);
    return literal_piece(std::move(bytes));
  }

  Result<Piece> class_piece(const CodePointSet& set) {
    CodePointSet plain = set.minus(CodePointSet::of({{0xD800, 0xDFFF}}));
    std::vector<std::string> escapes;
    if (options_.json_string) {
      const CodePointSet escaped = plain.intersect(json_escaped());
      for (const auto& [lo, hi] : escaped.ranges()) {
        for (char32_t c = lo; c <= hi; ++c) escapes.push_back(ebnf_literal(json_escape_of(c)));
      }
      plain = plain.minus(json_escaped());
    }
    if (plain.empty() && escapes.empty()) return error("character class matches nothing");
    Piece out;
    if (plain.ranges().size() == 1 && plain.ranges()[0].first == plain.ranges()[0].second) {
      std::string bytes;
      append_utf8(bytes, plain.ranges()[0].first);
      if (escapes.empty()) return literal_piece(std::move(bytes));
      out.text = ebnf_literal(bytes);
    } else if (!plain.empty()) {
      out.text = ebnf_char_class(plain);
    }
    if (escapes.empty()) return out;
    std::string alternatives = out.text;
    for (const auto& e : escapes) alternatives += (alternatives.empty() ? "" : " | ") + e;
    out.text = "(" + alternatives + ")";
    return out;
  }

  // After '['. Python's sre: a leading ']' is literal, '-' first or last is literal, a range
  // endpoint may not be a class escape.
  Result<CodePointSet> parse_class() {
    bool negated = false;
    if (peek() == '^' && has()) {
      negated = true;
      ++pos_;
    }
    CodePointSet under, over;
    bool first = true;
    while (true) {
      if (!has()) return error("unterminated character set (missing ']')");
      if (peek() == ']' && !first) {
        ++pos_;
        break;
      }
      first = false;
      SGLANG_ASSIGN_OR_RETURN(ClassItem item, parse_class_atom());
      const bool is_char = item.under.ranges().size() == 1 &&
                           item.under.ranges()[0].first == item.under.ranges()[0].second &&
                           item.over.ranges() == item.under.ranges();
      if (is_char && has(1) && peek() == '-' && peek(1) != ']') {
        ++pos_;
        SGLANG_ASSIGN_OR_RETURN(ClassItem hi_item, parse_class_atom());
        const bool hi_is_char =
            hi_item.under.ranges().size() == 1 &&
            hi_item.under.ranges()[0].first == hi_item.under.ranges()[0].second &&
            hi_item.over.ranges() == hi_item.under.ranges();
        if (!hi_is_char) return error("bad character range");
        const char32_t lo = item.under.ranges()[0].first;
        const char32_t hi = hi_item.under.ranges()[0].first;
        if (lo > hi) return error("bad character range");
        under.add(lo, hi);
        over.add(lo, hi);
        continue;
      }
      if (!is_char && has(1) && peek() == '-' && peek(1) != ']')
        return error("bad character range");
      under.add(item.under);
      over.add(item.over);
    }
    return negated ? over.complement() : under;
  }

  Result<ClassItem> parse_class_atom() {
    const char32_t c = peek();
    ++pos_;
    if (c != '\\') return exact(CodePointSet::of({{c, c}}));
    SGLANG_ASSIGN_OR_RETURN(Escape esc, parse_escape(/*in_class=*/true));
    if (esc.kind == EscapeKind::kSet) return esc.set;
    return exact(CodePointSet::of({{esc.c, esc.c}}));
  }

  Result<char32_t> hex_digits(int count, const char* what) {
    char32_t value = 0;
    for (int i = 0; i < count; ++i) {
      const char32_t d = peek();
      int v = d >= '0' && d <= '9'   ? int(d - '0')
              : d >= 'a' && d <= 'f' ? int(d - 'a' + 10)
              : d >= 'A' && d <= 'F' ? int(d - 'A' + 10)
                                     : -1;
      if (!has() || v < 0) return error(std::string("incomplete escape \\") + what);
      value = value * 16 + char32_t(v);
      ++pos_;
    }
    if (value > kMaxCodePoint) return error(std::string("bad escape \\") + what);
    return value;
  }

  static bool is_octal(char32_t c) { return c >= '0' && c <= '7'; }

  // After the backslash; Python's sre_parse _escape / _class_escape.
  Result<Escape> parse_escape(bool in_class) {
    if (!has()) return error("bad escape (end of pattern)");
    const char32_t c = peek();
    ++pos_;
    Escape esc;
    const auto character = [&](char32_t v) {
      esc.kind = EscapeKind::kChar;
      esc.c = v;
      return esc;
    };
    switch (c) {
      case 'd':
      case 'D':
      case 'w':
      case 'W':
      case 's':
      case 'S':
        esc.kind = EscapeKind::kSet;
        esc.set = category(c);
        return esc;
      case 'n':
        return character('\n');
      case 't':
        return character('\t');
      case 'r':
        return character('\r');
      case 'f':
        return character('\f');
      case 'v':
        return character('\v');
      case 'a':
        return character('\a');
      case 'x': {
        SGLANG_ASSIGN_OR_RETURN(char32_t v, hex_digits(2, "x"));
        return character(v);
      }
      case 'u': {
        SGLANG_ASSIGN_OR_RETURN(char32_t v, hex_digits(4, "u"));
        return character(v);
      }
      case 'U': {
        SGLANG_ASSIGN_OR_RETURN(char32_t v, hex_digits(8, "U"));
        return character(v);
      }
      case 'N':
        return error("named character escape \\N{...} is not supported");
      case 'b':
        if (in_class) return character('\b');
        return error("word boundary \\b is not supported");
      case 'B':
        if (in_class) return error("bad escape \\B");
        return error("word boundary \\B is not supported");
      case 'A':
      case 'Z':
        if (in_class) return error(std::string("bad escape \\") + char(c));
        esc.kind = c == 'A' ? EscapeKind::kStartAnchor : EscapeKind::kEndAnchor;
        return esc;
      default:
        break;
    }
    if (c >= '0' && c <= '9') {
      // Octal: \0 plus up to two octal digits, or three octal digits; else a group reference.
      if (c == '0' || (in_class && is_octal(c))) {
        char32_t v = c - '0';
        for (int i = 0; i < 2 && has() && is_octal(peek()); ++i) {
          v = v * 8 + (peek() - '0');
          ++pos_;
        }
        if (v > 0377) return error("octal escape value outside of range 0-0o377");
        return character(v);
      }
      if (!in_class && is_octal(c) && has(1) && is_octal(peek()) && is_octal(peek(1))) {
        char32_t v = (c - '0') * 64 + (peek() - '0') * 8 + (peek(1) - '0');
        pos_ += 2;
        if (v > 0377) return error("octal escape value outside of range 0-0o377");
        return character(v);
      }
      if (in_class) return error(std::string("bad escape \\") + char(c));
      return error("backreference \\" + std::string(1, char(c)) + " is not supported");
    }
    if (c < 0x80 && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
      return error(std::string("bad escape \\") + char(c));
    }
    return character(c);
  }

  std::vector<char32_t> cps_;
  size_t pos_ = 0;
  RegexOptions options_;
};

}  // namespace

Result<std::string> regex_to_ebnf_expr(std::string_view pattern, const RegexOptions& options) {
  return RegexParser(pattern, options).parse();
}

Result<std::string> regex_to_ebnf(std::string_view pattern) {
  SGLANG_ASSIGN_OR_RETURN(std::string expr, regex_to_ebnf_expr(pattern));
  return "root ::= " + expr + "\n";
}

}  // namespace sglang::grammar
