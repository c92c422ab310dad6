#include "sampling/grammar/ebnf_parser.h"

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "util/utf8.h"

namespace sglang::grammar {
namespace {

enum class Tok : uint8_t {
  kIdentifier,
  kRuleName,  // an identifier followed by ::=
  kString,
  kCharClass,
  kInteger,
  kBoolean,
  kLParen,
  kLookahead,  // (=
  kRParen,
  kLBrace,
  kRBrace,
  kPipe,
  kComma,
  kStar,
  kPlus,
  kQuestion,
  kEqual,
  kAssign,
  kEnd,
};

struct Token {
  Tok type = Tok::kEnd;
  int line = 1, column = 1;
  std::string text;                    // identifier name, string value (UTF-8), lexeme otherwise
  std::vector<CodepointRange> ranges;  // kCharClass
  bool negated = false;                // kCharClass
  int64_t integer = 0;                 // kInteger; kBoolean: 0 or 1
};

// "EBNF error at line 3:14: ...": where (line:column, 1-based) and what.
Error ebnf_error(int line, int column, const std::string& msg) {
  return make_error(ErrorCode::kInvalidArgument, "EBNF error at line " + std::to_string(line) +
                                                     ":" + std::to_string(column) + ": " + msg);
}

// xgrammar's name characters: letters, '_', '-', '.', and digits after the first.
bool is_name_char(char c, bool first) {
  return c == '_' || c == '-' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (!first && c >= '0' && c <= '9');
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Sorts and merges ranges into disjoint ascending ones.
std::vector<CodepointRange> normalize_ranges(std::vector<CodepointRange> r) {
  std::sort(r.begin(), r.end(), [](auto a, auto b) { return a.lo < b.lo; });
  std::vector<CodepointRange> out;
  for (auto x : r) {
    if (!out.empty() && x.lo <= out.back().hi + 1) {
      out.back().hi = std::max(out.back().hi, x.hi);
    } else {
      out.push_back(x);
    }
  }
  return out;
}

std::vector<CodepointRange> complement_ranges(const std::vector<CodepointRange>& r) {
  std::vector<CodepointRange> out;
  char32_t next = 0;
  for (auto x : r) {
    if (x.lo > next) out.push_back({next, x.lo - 1});
    next = x.hi + 1;
  }
  if (next <= 0x10FFFF) out.push_back({next, 0x10FFFF});
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Result<std::vector<Token>> run() {
    std::vector<Token> tokens;
    while (true) {
      skip_space();
      Token t;
      t.line = line_;
      t.column = column_;
      if (pos_ >= text_.size()) {
        tokens.push_back(t);
        break;
      }
      if (!next(t)) return *error_;
      tokens.push_back(std::move(t));
    }
    // An identifier directly followed by ::= names a rule; it must start its line, which is what
    // lets a rule body end without a terminator.
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i].type != Tok::kAssign) continue;
      if (i == 0 || tokens[i - 1].type != Tok::kIdentifier) {
        const Token& at = i == 0 ? tokens[i] : tokens[i - 1];
        return fail_at(at.line, at.column, "::= must follow a rule name");
      }
      if (i >= 2 && tokens[i - 2].line == tokens[i - 1].line) {
        return fail_at(tokens[i - 1].line, tokens[i - 1].column,
                       "the rule name \"" + tokens[i - 1].text + "\" must start a line");
      }
      tokens[i - 1].type = Tok::kRuleName;
    }
    return tokens;
  }

 private:
  char peek(size_t delta = 0) const {
    return pos_ + delta < text_.size() ? text_[pos_ + delta] : '\0';
  }
  bool at_end() const { return pos_ >= text_.size(); }
  void advance(size_t n = 1) {
    for (size_t i = 0; i < n && pos_ < text_.size(); ++i) {
      char c = text_[pos_++];
      if (c == '\n' || (c == '\r' && peek() != '\n')) {
        ++line_;
        column_ = 1;
      } else {
        ++column_;
      }
    }
  }
  Error fail_at(int line, int column, const std::string& msg) {
    return ebnf_error(line, column, msg);
  }
  bool fail(const std::string& msg) {
    error_ = fail_at(line_, column_, msg);
    return false;
  }

  void skip_space() {
    while (!at_end()) {
      char c = peek();
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        advance();
      } else if (c == '#') {
        while (!at_end() && peek() != '\n' && peek() != '\r') advance();
      } else {
        break;
      }
    }
  }

  // One UTF-8 code point of the source text.
  bool read_utf8(char32_t& cp) {
    auto b0 = static_cast<unsigned char>(peek());
    int len = b0 < 0x80 ? 1 : (b0 >> 5) == 6 ? 2 : (b0 >> 4) == 14 ? 3 : (b0 >> 3) == 30 ? 4 : 0;
    if (len == 0) return fail("invalid UTF-8 in the grammar text");
    cp = len == 1 ? b0 : len == 2 ? (b0 & 0x1f) : len == 3 ? (b0 & 0x0f) : (b0 & 0x07);
    for (int i = 1; i < len; ++i) {
      auto b = static_cast<unsigned char>(peek(static_cast<size_t>(i)));
      if ((b >> 6) != 2) return fail("invalid UTF-8 in the grammar text");
      cp = (cp << 6) | (b & 0x3f);
    }
    advance(static_cast<size_t>(len));
    return true;
  }

  // After a backslash: the escapes of xgrammar's strings (C's, \xHH, \uHHHH, \UHHHHHHHH) and, in
  // a character class, the regex punctuation it lets be escaped.
  bool read_escape(char32_t& cp, bool in_class) {
    advance();  // the backslash
    char c = peek();
    static const std::unordered_map<char, char32_t> kSimple = {
        {'n', '\n'}, {'t', '\t'}, {'r', '\r'}, {'\\', '\\'}, {'"', '"'},  {'\'', '\''},
        {'?', '?'},  {'a', '\a'}, {'b', '\b'}, {'f', '\f'},  {'v', '\v'}, {'0', '\0'}};
    if (auto it = kSimple.find(c); it != kSimple.end()) {
      cp = it->second;
      advance();
      return true;
    }
    if (in_class && std::string_view("^$.*+?()[]{}|/-").find(c) != std::string_view::npos) {
      cp = static_cast<char32_t>(c);
      advance();
      return true;
    }
    size_t digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
    if (digits == 0) return fail(std::string("invalid escape sequence \\") + c);
    advance();
    cp = 0;
    for (size_t i = 0; i < digits; ++i) {
      int v = hex_value(peek());
      if (v < 0)
        return fail(std::string("\\") + c + " needs " + std::to_string(digits) + " hex digits");
      cp = cp * 16 + static_cast<char32_t>(v);
      advance();
    }
    if (cp > 0x10FFFF) return fail("code point out of range in escape");
    return true;
  }

  bool next(Token& t) {
    char c = peek();
    auto single = [&](Tok type) {
      t.type = type;
      t.text = std::string(1, c);
      advance();
      return true;
    };
    switch (c) {
      case '(':
        if (peek(1) == '=') {
          t.type = Tok::kLookahead;
          t.text = "(=";
          advance(2);
          return true;
        }
        return single(Tok::kLParen);
      case ')':
        return single(Tok::kRParen);
      case '{':
        return single(Tok::kLBrace);
      case '}':
        return single(Tok::kRBrace);
      case '|':
        return single(Tok::kPipe);
      case ',':
        return single(Tok::kComma);
      case '*':
        return single(Tok::kStar);
      case '+':
        return single(Tok::kPlus);
      case '?':
        return single(Tok::kQuestion);
      case '=':
        return single(Tok::kEqual);
      case ':':
        if (peek(1) == ':' && peek(2) == '=') {
          t.type = Tok::kAssign;
          t.text = "::=";
          advance(3);
          return true;
        }
        return fail("unexpected character ':' (a rule is written name ::= body)");
      case '"':
        return string_literal(t);
      case '[':
        return char_class(t);
      default:
        break;
    }
    if ((c >= '0' && c <= '9') || (c == '-' && peek(1) >= '0' && peek(1) <= '9')) {
      return integer(t);
    }
    if (is_name_char(c, true)) {
      size_t start = pos_;
      while (!at_end() && is_name_char(peek(), pos_ == start)) advance();
      t.text = std::string(text_.substr(start, pos_ - start));
      t.type = Tok::kIdentifier;
      if (t.text == "true" || t.text == "false") {
        t.type = Tok::kBoolean;
        t.integer = t.text == "true";
      }
      return true;
    }
    return fail(std::string("unexpected character '") + c + "'");
  }

  bool integer(Token& t) {
    bool negative = peek() == '-';
    if (negative) advance();
    int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      v = v * 10 + (peek() - '0');
      if (v > 1'000'000'000'000'000) return fail("integer too large");
      advance();
    }
    t.type = Tok::kInteger;
    t.integer = negative ? -v : v;
    t.text = std::to_string(t.integer);
    return true;
  }

  bool string_literal(Token& t) {
    advance();  // "
    t.type = Tok::kString;
    while (!at_end() && peek() != '"') {
      if (peek() == '\n' || peek() == '\r') return fail("newline in a string literal");
      char32_t cp = 0;
      if (peek() == '\\' ? !read_escape(cp, false) : !read_utf8(cp)) return false;
      append_utf8(t.text, cp);
    }
    if (at_end()) return fail("unterminated string literal (expected \")");
    advance();
    return true;
  }

  // \d \w \s and their negations, as regex classes over ASCII (xgrammar rejects them in EBNF;
  // accepting them is a strict extension).
  static bool class_escape(char c, std::vector<CodepointRange>& out) {
    std::vector<CodepointRange> r;
    char lower = static_cast<char>(c | 0x20);
    if (lower == 'd')
      r = {{'0', '9'}};
    else if (lower == 'w')
      r = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
    else if (lower == 's')
      r = {{'\t', '\r'}, {' ', ' '}};
    else
      return false;
    if (c != lower) r = complement_ranges(normalize_ranges(r));
    out.insert(out.end(), r.begin(), r.end());
    return true;
  }

  bool char_class(Token& t) {
    advance();  // [
    t.type = Tok::kCharClass;
    if (peek() == '^') {
      t.negated = true;
      advance();
    }
    std::vector<CodepointRange> ranges;
    while (!at_end() && peek() != ']') {
      if (peek() == '\n' || peek() == '\r') return fail("newline in a character class");
      if (peek() == '\\' && class_escape(peek(1), ranges)) {
        advance(2);
        continue;
      }
      char32_t lo = 0;
      if (peek() == '\\' ? !read_escape(lo, true) : !read_utf8(lo)) return false;
      char32_t hi = lo;
      if (peek() == '-' && peek(1) != ']' && peek(1) != '\0') {
        advance();
        if (peek() == '\\' ? !read_escape(hi, true) : !read_utf8(hi)) return false;
        if (hi < lo) return fail("character class range is reversed (lower bound above upper)");
      }
      ranges.push_back({lo, hi});
    }
    if (at_end()) return fail("unterminated character class (expected ])");
    advance();
    t.ranges = normalize_ranges(std::move(ranges));
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1, column_ = 1;
  std::optional<Error> error_;
};

// A TagDispatch argument: string, integer, boolean, identifier or tuple of those.
struct MacroValue {
  Tok type = Tok::kEnd;  // kString, kInteger, kBoolean, kIdentifier; kLParen for a tuple
  std::string text;
  int64_t integer = 0;
  std::vector<MacroValue> items;
};

class Parser {
 public:
  Parser(std::vector<Token> tokens, std::string_view root) : tokens_(std::move(tokens)) {
    root_name_ = std::string(root);
  }

  Result<Grammar> run() {
    for (const Token& t : tokens_) {
      if (t.type != Tok::kRuleName) continue;
      if (rule_ids_.count(t.text)) {
        return error_at(t, "rule \"" + t.text + "\" is defined more than once");
      }
      rule_ids_[t.text] = static_cast<int32_t>(g_.rules.size());
      g_.rules.push_back(Rule{t.text, -1, -1});
    }
    auto root = rule_ids_.find(root_name_);
    if (root == rule_ids_.end()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "EBNF error: the root rule \"" + root_name_ + "\" is not defined");
    }
    g_.root = root->second;
    while (peek().type != Tok::kEnd) {
      if (!parse_rule()) return *error_;
    }
    return std::move(g_);
  }

 private:
  const Token& peek(size_t delta = 0) const {
    return tokens_[std::min(pos_ + delta, tokens_.size() - 1)];
  }
  void consume() { pos_ = std::min(pos_ + 1, tokens_.size() - 1); }
  static Error error_at(const Token& t, const std::string& msg) {
    return ebnf_error(t.line, t.column, msg);
  }
  int32_t fail(const Token& t, const std::string& msg) {
    if (!error_) error_ = error_at(t, msg);
    return -1;
  }
  static std::string describe(const Token& t) {
    return t.type == Tok::kEnd ? "the end of the grammar" : "\"" + t.text + "\"";
  }
  bool expect(Tok type, const std::string& what) {
    if (peek().type != type) {
      fail(peek(), "expected " + what + ", got " + describe(peek()));
      return false;
    }
    consume();
    return true;
  }
  int32_t add(Expr e) {
    g_.exprs.push_back(std::move(e));
    return static_cast<int32_t>(g_.exprs.size() - 1);
  }

  bool parse_rule() {
    const Token& name = peek();
    if (name.type != Tok::kRuleName) {
      fail(name, "expected a rule (name ::= body), got " + describe(name));
      return false;
    }
    int32_t id = rule_ids_.at(name.text);
    consume();
    if (!expect(Tok::kAssign, "::=")) return false;
    int32_t body = parse_choices();
    if (body < 0) return false;
    int32_t lookahead = -1;
    if (peek().type == Tok::kLookahead) {
      consume();
      lookahead = parse_choices();
      if (lookahead < 0 || !expect(Tok::kRParen, ") closing the lookahead")) return false;
    }
    if (peek().type != Tok::kRuleName && peek().type != Tok::kEnd) {
      fail(peek(), "unexpected " + describe(peek()) + " after the body of rule \"" +
                       g_.rules[static_cast<size_t>(id)].name + "\"");
      return false;
    }
    g_.rules[static_cast<size_t>(id)].body = body;
    g_.rules[static_cast<size_t>(id)].lookahead = lookahead;
    return true;
  }

  int32_t parse_choices() {
    if (++depth_ > kMaxNestingDepth) {
      return fail(peek(), "the grammar nests deeper than " + std::to_string(kMaxNestingDepth));
    }
    Expr choice;
    choice.kind = ExprKind::kChoice;
    while (true) {
      int32_t seq = parse_sequence();
      if (seq < 0) return -1;
      choice.children.push_back(seq);
      if (peek().type != Tok::kPipe) break;
      consume();
    }
    --depth_;
    return choice.children.size() == 1 ? choice.children[0] : add(std::move(choice));
  }

  int32_t parse_sequence() {
    Expr seq;
    seq.kind = ExprKind::kSequence;
    do {
      int32_t e = parse_quantified();
      if (e < 0) return -1;
      seq.children.push_back(e);
    } while (peek().type != Tok::kPipe && peek().type != Tok::kRParen &&
             peek().type != Tok::kLookahead && peek().type != Tok::kRuleName &&
             peek().type != Tok::kEnd);
    return seq.children.size() == 1 ? seq.children[0] : add(std::move(seq));
  }

  int32_t parse_quantified() {
    int32_t e = parse_element();
    if (e < 0) return -1;
    Expr rep;
    rep.kind = ExprKind::kRepeat;
    rep.children = {e};
    switch (peek().type) {
      case Tok::kStar:
        rep.min = 0, rep.max = -1;
        break;
      case Tok::kPlus:
        rep.min = 1, rep.max = -1;
        break;
      case Tok::kQuestion:
        rep.min = 0, rep.max = 1;
        break;
      case Tok::kLBrace:
        return parse_range(e);
      default:
        return e;
    }
    consume();
    return add(std::move(rep));
  }

  // {n}, {n,}, {n,m} (xgrammar's printer also writes {n,-1} for unbounded).
  int32_t parse_range(int32_t e) {
    consume();  // {
    Expr rep;
    rep.kind = ExprKind::kRepeat;
    rep.children = {e};
    const Token& lo = peek();
    if (lo.type != Tok::kInteger || lo.integer < 0) {
      return fail(lo, "expected a non-negative integer in {n,m}, got " + describe(lo));
    }
    rep.min = rep.max = lo.integer;
    consume();
    if (peek().type == Tok::kComma) {
      consume();
      if (peek().type == Tok::kRBrace) {
        rep.max = -1;
      } else if (peek().type == Tok::kInteger) {
        rep.max = peek().integer;
        if (rep.max == -1) {
          // {n,-1}: unbounded
        } else if (rep.max < rep.min) {
          return fail(peek(), "repetition upper bound " + std::to_string(rep.max) +
                                  " is below the lower bound " + std::to_string(rep.min));
        }
        consume();
      } else {
        return fail(peek(), "expected an integer or } in {n,m}, got " + describe(peek()));
      }
    }
    if (!expect(Tok::kRBrace, "} closing the repetition")) return -1;
    return add(std::move(rep));
  }

  int32_t parse_element() {
    const Token& t = peek();
    switch (t.type) {
      case Tok::kLParen: {
        consume();
        if (peek().type == Tok::kRParen) {
          consume();
          return add(Expr{});
        }
        int32_t inner = parse_choices();
        if (inner < 0 || !expect(Tok::kRParen, ")")) return -1;
        return inner;
      }
      case Tok::kString: {
        Expr e;
        if (!t.text.empty()) {
          e.kind = ExprKind::kBytes;
          e.bytes = t.text;
        }
        consume();
        return add(std::move(e));
      }
      case Tok::kCharClass: {
        Expr e;
        e.kind = ExprKind::kCharClass;
        e.ranges = t.ranges;
        e.negated = t.negated;
        consume();
        return add(std::move(e));
      }
      case Tok::kIdentifier: {
        if (t.text == "TagDispatch") return parse_tag_dispatch();
        if (t.text == "Regex" || t.text == "Token" || t.text == "ExcludeToken" ||
            t.text == "TokenTagDispatch") {
          return fail(t, "the builtin " + t.text + "(...) is not supported");
        }
        auto it = rule_ids_.find(t.text);
        if (it == rule_ids_.end()) return fail(t, "rule \"" + t.text + "\" is not defined");
        Expr e;
        e.kind = ExprKind::kRuleRef;
        e.index = it->second;
        consume();
        return add(std::move(e));
      }
      default:
        return fail(t, "expected an element, got " + describe(t));
    }
  }

  bool parse_macro_value(MacroValue& v) {
    const Token& t = peek();
    v.type = t.type;
    v.text = t.text;
    v.integer = t.integer;
    switch (t.type) {
      case Tok::kString:
      case Tok::kInteger:
      case Tok::kBoolean:
      case Tok::kIdentifier:
        consume();
        return true;
      case Tok::kLParen: {
        if (++depth_ > kMaxNestingDepth) {
          fail(t, "the grammar nests deeper than " + std::to_string(kMaxNestingDepth));
          return false;
        }
        consume();
        while (peek().type != Tok::kRParen) {
          MacroValue item;
          if (!parse_macro_value(item)) return false;
          v.items.push_back(std::move(item));
          if (peek().type == Tok::kComma) {
            consume();
          } else if (peek().type != Tok::kRParen) {
            fail(peek(), "expected , or ) in a tuple, got " + describe(peek()));
            return false;
          }
        }
        consume();
        --depth_;
        return true;
      }
      default:
        fail(t, "expected a string, integer, boolean, name or tuple, got " + describe(t));
        return false;
    }
  }

  bool string_tuple(const Token& at, const MacroValue& v, const std::string& what,
                    std::vector<std::string>& out) {
    if (v.type != Tok::kLParen) {
      fail(at, what + " must be a tuple of strings");
      return false;
    }
    for (const MacroValue& s : v.items) {
      if (s.type != Tok::kString || s.text.empty()) {
        fail(at, what + " must hold non-empty string literals");
        return false;
      }
      out.push_back(s.text);
    }
    return true;
  }

  int32_t parse_tag_dispatch() {
    const Token& at = peek();
    consume();  // TagDispatch
    if (!expect(Tok::kLParen, "( after TagDispatch")) return -1;
    TagDispatch td;
    while (peek().type != Tok::kRParen) {
      if (peek().type == Tok::kIdentifier && peek(1).type == Tok::kEqual) {
        std::string name = peek().text;
        const Token& name_tok = peek();
        consume();
        consume();
        MacroValue v;
        if (!parse_macro_value(v)) return -1;
        if (name == "stop_eos" || name == "loop_after_dispatch") {
          if (v.type != Tok::kBoolean) return fail(name_tok, name + " must be true or false");
          (name == "stop_eos" ? td.stop_eos : td.loop_after_dispatch) = v.integer != 0;
        } else if (name == "stop_str" || name == "excludes") {
          if (!string_tuple(name_tok, v, name, name == "stop_str" ? td.stop_str : td.excludes)) {
            return -1;
          }
        } else {
          return fail(name_tok, "unknown TagDispatch argument \"" + name + "\"");
        }
      } else {
        const Token& pair_tok = peek();
        MacroValue v;
        if (!parse_macro_value(v)) return -1;
        if (v.type != Tok::kLParen || v.items.size() != 2 || v.items[0].type != Tok::kString ||
            v.items[1].type != Tok::kIdentifier) {
          return fail(pair_tok, "a TagDispatch item must be a pair (\"tag\", rule)");
        }
        if (v.items[0].text.empty()) return fail(pair_tok, "a TagDispatch tag must not be empty");
        auto it = rule_ids_.find(v.items[1].text);
        if (it == rule_ids_.end()) {
          return fail(pair_tok, "rule \"" + v.items[1].text + "\" is not defined");
        }
        td.tags.push_back({v.items[0].text, it->second});
      }
      if (peek().type == Tok::kComma) {
        consume();
      } else if (peek().type != Tok::kRParen) {
        return fail(peek(), "expected , or ) in TagDispatch, got " + describe(peek()));
      }
    }
    consume();  // )
    for (const std::string& ex : td.excludes) {
      for (const TagRule& tr : td.tags) {
        if (tr.tag.compare(0, ex.size(), ex) == 0) {
          return fail(
              at, "TagDispatch exclude \"" + ex + "\" is a prefix of the tag \"" + tr.tag + "\"");
        }
      }
    }
    g_.tag_dispatches.push_back(std::move(td));
    Expr e;
    e.kind = ExprKind::kTagDispatch;
    e.index = static_cast<int32_t>(g_.tag_dispatches.size() - 1);
    return add(std::move(e));
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
  std::string root_name_;
  std::unordered_map<std::string, int32_t> rule_ids_;
  Grammar g_;
  std::optional<Error> error_;
};

}  // namespace

Result<Grammar> parse_ebnf(std::string_view text, std::string_view root) {
  SGLANG_ASSIGN_OR_RETURN(auto tokens, Lexer(text).run());
  return Parser(std::move(tokens), root).run();
}

}  // namespace sglang::grammar
