#include "chat/jinja/parser.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <initializer_list>
#include <set>

#include "chat/jinja/lexer.h"

namespace sglang::chat::jinja {

bool is_known_filter(const std::string& name) {
  static const std::set<std::string> kFilters = {
      "abs",    "attr",       "batch",       "capitalize", "center",   "count",
      "d",      "default",    "dictsort",    "e",          "escape",   "filesizeformat",
      "first",  "float",      "forceescape", "format",     "groupby",  "indent",
      "int",    "items",      "join",        "last",       "length",   "list",
      "lower",  "map",        "max",         "min",        "pprint",   "random",
      "reject", "rejectattr", "replace",     "reverse",    "round",    "safe",
      "select", "selectattr", "slice",       "sort",       "string",   "striptags",
      "sum",    "title",      "tojson",      "trim",       "truncate", "unique",
      "upper",  "urlencode",  "urlize",      "wordcount",  "wordwrap", "xmlattr"};
  return kFilters.count(name) > 0;
}

bool is_known_test(const std::string& name) {
  static const std::set<std::string> kTests = {
      "boolean", "callable", "defined",  "divisibleby", "eq",       "equalto",     "escaped",
      "even",    "false",    "filter",   "float",       "ge",       "greaterthan", "gt",
      "in",      "integer",  "iterable", "le",          "lessthan", "lower",       "lt",
      "mapping", "ne",       "none",     "number",      "odd",      "sameas",      "sequence",
      "string",  "test",     "true",     "undefined",   "upper",    "==",          "!=",
      "<",       "<=",       ">",        ">="};
  return kTests.count(name) > 0;
}

namespace {

// Python's float(text): out of range is inf or 0.0, where std::stod would throw.
double to_double(const std::string& text) {
  return std::strtod(text.c_str(), nullptr);
}

[[noreturn]] void syntax_error(const std::string& message, int line) {
  raise("TemplateSyntaxError", message + " (line " + std::to_string(line) + ")");
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  Body parse_all() {
    std::string end;
    Body body = subparse({}, &end);
    return body;
  }

 private:
  const Token& cur() const { return t_[i_]; }
  const Token& peek(size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  void next() {
    if (i_ + 1 < t_.size()) ++i_;
  }
  bool is_op(const char* op) const {
    return cur().type == TokenType::kOperator && cur().text == op;
  }
  bool is_name(const char* name) const {
    return cur().type == TokenType::kName && cur().text == name;
  }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }
  [[noreturn]] void unexpected(const std::string& expected) const {
    std::string got = cur().type == TokenType::kEof           ? "end of template"
                      : cur().type == TokenType::kBlockEnd    ? "end of statement block"
                      : cur().type == TokenType::kVariableEnd ? "end of print statement"
                                                              : "'" + cur().text + "'";
    syntax_error("expected " + expected + ", got " + got, cur().line);
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) unexpected(std::string("'") + op + "'");
  }
  void expect_block_end() {
    if (cur().type != TokenType::kBlockEnd) unexpected("end of statement block");
    next();
  }
  std::string expect_name() {
    if (cur().type != TokenType::kName) unexpected("name");
    std::string name = cur().text;
    next();
    return name;
  }

  ExprPtr make(Expr::Kind kind) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = cur().line;
    return e;
  }

  // Parses nodes until a block tag whose name is in `ends`; leaves the stream on that name.
  Body subparse(std::initializer_list<const char*> ends, std::string* end_found) {
    Body body;
    while (true) {
      const Token& tok = cur();
      if (tok.type == TokenType::kEof) {
        if (ends.size() > 0) {
          syntax_error("Unexpected end of template. Jinja was looking for the following tags: " +
                           std::string("'") + *ends.begin() + "'.",
                       tok.line);
        }
        return body;
      }
      if (tok.type == TokenType::kData) {
        auto n = std::make_unique<Node>();
        n->kind = Node::Kind::kText;
        n->text = tok.text;
        body.push_back(std::move(n));
        next();
      } else if (tok.type == TokenType::kVariableBegin) {
        next();
        auto n = std::make_unique<Node>();
        n->kind = Node::Kind::kOutput;
        n->line = tok.line;
        n->expr = parse_tuple(true);
        if (cur().type != TokenType::kVariableEnd) unexpected("end of print statement");
        next();
        body.push_back(std::move(n));
      } else if (tok.type == TokenType::kBlockBegin) {
        next();
        if (cur().type != TokenType::kName) unexpected("statement name");
        for (const char* end : ends) {
          if (cur().text == end) {
            *end_found = end;
            return body;
          }
        }
        body.push_back(parse_statement());
      } else {
        unexpected("template data");
      }
    }
  }

  NodePtr node(Node::Kind kind) {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->line = cur().line;
    return n;
  }

  NodePtr parse_statement() {
    Nested nested(*this);
    std::string name = cur().text;
    int line = cur().line;
    next();
    if (name == "if") return parse_if();
    if (name == "for") return parse_for();
    if (name == "set") return parse_set();
    if (name == "macro") return parse_macro();
    if (name == "call") return parse_call_block();
    if (name == "filter") return parse_filter_block();
    if (name == "with") return parse_with();
    if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) syntax_error("'" + name + "' outside of a loop", line);
      auto n = node(name == "break" ? Node::Kind::kBreak : Node::Kind::kContinue);
      expect_block_end();
      return n;
    }
    if (name == "generation") {
      // transformers' AssistantTracker: the body renders as is.
      auto n = node(Node::Kind::kScope);
      expect_block_end();
      std::string end;
      n->body = subparse({"endgeneration"}, &end);
      next();
      expect_block_end();
      return n;
    }
    syntax_error("Encountered unknown tag '" + name + "'.", line);
  }

  NodePtr parse_if() {
    auto n = node(Node::Kind::kIf);
    while (true) {
      ExprPtr test = parse_tuple(false);
      expect_block_end();
      std::string end;
      Body body = subparse({"elif", "else", "endif"}, &end);
      n->branches.emplace_back(std::move(test), std::move(body));
      next();
      if (end == "elif") continue;
      if (end == "else") {
        expect_block_end();
        n->else_body = subparse({"endif"}, &end);
        next();
      }
      expect_block_end();
      return n;
    }
  }

  void parse_targets(Node& n, bool allow_attr) {
    bool paren = skip_op("(");
    n.targets.push_back(expect_name());
    if (allow_attr && !paren && skip_op(".")) {
      n.attr = expect_name();
      return;
    }
    while (skip_op(",")) {
      n.tuple_target = true;
      if (cur().type != TokenType::kName) break;
      n.targets.push_back(expect_name());
    }
    if (paren) {
      n.tuple_target = true;
      expect_op(")");
    }
  }

  NodePtr parse_for() {
    auto n = node(Node::Kind::kFor);
    parse_targets(*n, false);
    if (!skip_name("in")) unexpected("'in'");
    n->expr = parse_tuple(false, /*with_condexpr=*/false);
    if (skip_name("if")) n->expr2 = parse_expression();
    if (skip_name("recursive")) n->recursive = true;
    expect_block_end();
    ++loop_depth_;
    std::string end;
    n->body = subparse({"endfor", "else"}, &end);
    --loop_depth_;
    next();
    if (end == "else") {
      expect_block_end();
      n->else_body = subparse({"endfor"}, &end);
      next();
    }
    expect_block_end();
    return n;
  }

  NodePtr parse_set() {
    auto n = node(Node::Kind::kSet);
    parse_targets(*n, true);
    if (skip_op("=")) {
      n->expr = parse_tuple(false);
      expect_block_end();
      return n;
    }
    n->kind = Node::Kind::kSetBlock;
    if (is_op("|")) n->expr = parse_filter_chain(nullptr);
    expect_block_end();
    std::string end;
    n->body = subparse({"endset"}, &end);
    next();
    expect_block_end();
    return n;
  }

  void parse_signature(Node& n) {
    expect_op("(");
    while (!is_op(")")) {
      if (!n.params.empty()) expect_op(",");
      if (is_op(")")) break;
      std::string name = expect_name();
      ExprPtr def;
      if (skip_op("=")) def = parse_expression();
      n.params.emplace_back(std::move(name), std::move(def));
    }
    expect_op(")");
  }

  NodePtr parse_macro() {
    auto n = node(Node::Kind::kMacro);
    n->text = expect_name();
    parse_signature(*n);
    expect_block_end();
    int saved = loop_depth_;
    loop_depth_ = 0;
    std::string end;
    n->body = subparse({"endmacro"}, &end);
    loop_depth_ = saved;
    next();
    if (cur().type == TokenType::kName) next();  // {% endmacro name %}
    expect_block_end();
    return n;
  }

  NodePtr parse_call_block() {
    auto n = node(Node::Kind::kCallBlock);
    if (is_op("(")) parse_signature(*n);
    n->expr = parse_expression();
    if (n->expr->kind != Expr::Kind::kCall) syntax_error("expected call", n->line);
    expect_block_end();
    std::string end;
    n->body = subparse({"endcall"}, &end);
    next();
    expect_block_end();
    return n;
  }

  NodePtr parse_filter_block() {
    auto n = node(Node::Kind::kFilterBlock);
    n->expr = parse_filter_chain(nullptr, /*first_pipe=*/false);
    expect_block_end();
    std::string end;
    n->body = subparse({"endfilter"}, &end);
    next();
    expect_block_end();
    return n;
  }

  NodePtr parse_with() {
    auto n = node(Node::Kind::kWith);
    while (cur().type != TokenType::kBlockEnd) {
      if (!n->params.empty()) expect_op(",");
      std::string name = expect_name();
      expect_op("=");
      n->params.emplace_back(std::move(name), parse_expression());
    }
    expect_block_end();
    std::string end;
    n->body = subparse({"endwith"}, &end);
    next();
    expect_block_end();
    return n;
  }

  // --- expressions ---

  ExprPtr parse_tuple(bool allow_empty_end, bool with_condexpr = true,
                      bool explicit_parens = false) {
    (void)allow_empty_end;
    int line = cur().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) {
        if (!skip_op(",")) break;
        is_tuple = true;
      }
      if (cur().type == TokenType::kBlockEnd || cur().type == TokenType::kVariableEnd ||
          is_op(")") || is_name("in") || (!items.empty() && is_name("if") && !with_condexpr)) {
        if (items.empty() && !explicit_parens) unexpected("an expression");
        break;
      }
      items.push_back(with_condexpr ? parse_expression() : parse_or());
    }
    if (!is_tuple) {
      if (items.empty()) {
        auto e = std::make_unique<Expr>();
        e->kind = Expr::Kind::kTuple;
        e->line = line;
        return e;
      }
      return std::move(items[0]);
    }
    auto e = std::make_unique<Expr>();
    e->kind = Expr::Kind::kTuple;
    e->line = line;
    e->args = std::move(items);
    return e;
  }

  // The parser recurses per nesting level of statement blocks, brackets, `not` and unary signs:
  // past kMaxExprNesting it is a syntax error, not a stack overflow (fuzz_chat_template). jinja2
  // itself hits Python's RecursionError near 80 nested parentheses.
  static constexpr int kMaxExprNesting = 200;
  struct Nested {
    explicit Nested(Parser& p) : parser(p) {
      if (parser.expr_nesting_ >= kMaxExprNesting) {
        syntax_error("expression nested too deeply", parser.cur().line);
      }
      ++parser.expr_nesting_;
    }
    ~Nested() { --parser.expr_nesting_; }
    Parser& parser;
  };

  ExprPtr parse_expression() {
    Nested nested(*this);
    ExprPtr expr = parse_or();
    while (is_name("if")) {
      next();
      auto e = make(Expr::Kind::kCondExpr);
      e->b = std::move(expr);
      e->a = parse_or();
      if (skip_name("else")) e->c = parse_expression();
      expr = std::move(e);
    }
    return expr;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      next();
      auto e = make(Expr::Kind::kOr);
      e->a = std::move(left);
      e->b = parse_and();
      left = std::move(e);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      next();
      auto e = make(Expr::Kind::kAnd);
      e->a = std::move(left);
      e->b = parse_not();
      left = std::move(e);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      Nested nested(*this);
      next();
      auto e = make(Expr::Kind::kNot);
      e->a = parse_not();
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    ExprPtr left = parse_math1();
    ExprPtr cmp;
    while (true) {
      std::string op;
      if (cur().type == TokenType::kOperator &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == ">" ||
           cur().text == "<=" || cur().text == ">=")) {
        op = cur().text;
        next();
      } else if (is_name("in")) {
        op = "in";
        next();
      } else if (is_name("not") && peek().type == TokenType::kName && peek().text == "in") {
        op = "notin";
        next();
        next();
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(Expr::Kind::kCompare);
        cmp->a = std::move(left);
      }
      cmp->ops.push_back(op);
      cmp->args.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(left);
  }

  ExprPtr binary(const std::string& op, ExprPtr a, ExprPtr b) {
    auto e = make(Expr::Kind::kBinary);
    e->name = op;
    e->a = std::move(a);
    e->b = std::move(b);
    return e;
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = cur().text;
      next();
      left = binary(op, std::move(left), parse_concat());
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (is_op("~")) {
      next();
      left = binary("~", std::move(left), parse_math2());
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = cur().text;
      next();
      left = binary(op, std::move(left), parse_pow());
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      next();
      left = binary("**", std::move(left), parse_unary(true));
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      Nested nested(*this);
      auto e = make(Expr::Kind::kUnary);
      e->name = cur().text;
      next();
      e->a = parse_unary(false);
      node = std::move(e);
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& tok = cur();
    if (tok.type == TokenType::kName) {
      auto e = make(Expr::Kind::kLiteral);
      const std::string& n = tok.text;
      if (n == "true" || n == "True") {
        e->literal = Value(true);
      } else if (n == "false" || n == "False") {
        e->literal = Value(false);
      } else if (n == "none" || n == "None") {
        e->literal = Value(nullptr);
      } else {
        e->kind = Expr::Kind::kName;
        e->name = n;
      }
      next();
      return e;
    }
    if (tok.type == TokenType::kString) {
      auto e = make(Expr::Kind::kLiteral);
      std::string s;
      while (cur().type == TokenType::kString) {  // adjacent literals concatenate
        s += cur().text;
        next();
      }
      e->literal = Value(std::move(s));
      return e;
    }
    if (tok.type == TokenType::kInteger) {
      auto e = make(Expr::Kind::kLiteral);
      int64_t v = 0;
      auto res = std::from_chars(tok.text.data(), tok.text.data() + tok.text.size(), v);
      if (res.ec != std::errc()) {
        e->literal = Value(to_double(tok.text));
      } else {
        e->literal = Value(v);
      }
      next();
      return e;
    }
    if (tok.type == TokenType::kFloat) {
      auto e = make(Expr::Kind::kLiteral);
      e->literal = Value(to_double(tok.text));
      next();
      return e;
    }
    if (is_op("(")) {
      next();
      ExprPtr e = parse_tuple(false, true, true);
      expect_op(")");
      return e;
    }
    if (is_op("[")) {
      auto e = make(Expr::Kind::kList);
      next();
      while (!is_op("]")) {
        if (!e->args.empty()) expect_op(",");
        if (is_op("]")) break;
        e->args.push_back(parse_expression());
      }
      expect_op("]");
      return e;
    }
    if (is_op("{")) {
      auto e = make(Expr::Kind::kDict);
      next();
      while (!is_op("}")) {
        if (!e->args.empty()) expect_op(",");
        if (is_op("}")) break;
        e->args.push_back(parse_expression());
        expect_op(":");
        e->args.push_back(parse_expression());
      }
      expect_op("}");
      return e;
    }
    unexpected("an expression");
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".")) {
        next();
        auto e = make(Expr::Kind::kGetAttr);
        if (cur().type == TokenType::kName) {
          e->name = cur().text;
        } else if (cur().type == TokenType::kInteger) {
          int64_t index = 0;
          const std::string& digits = cur().text;
          auto res = std::from_chars(digits.data(), digits.data() + digits.size(), index);
          if (res.ec == std::errc()) {
            e->kind = Expr::Kind::kGetItem;
            auto idx = make(Expr::Kind::kLiteral);
            idx->literal = Value(index);
            e->b = std::move(idx);
          } else {
            e->name = digits;  // past int64: no sequence is that long, so it is undefined
          }
        } else {
          unexpected("name or number");
        }
        next();
        e->a = std::move(node);
        node = std::move(e);
      } else if (is_op("[")) {
        next();
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr target) {
    // a[b], a[b:c:d] (each part optional)
    ExprPtr parts[3];
    bool slice = false;
    int idx = 0;
    while (true) {
      if (is_op(":")) {
        slice = true;
        ++idx;
        if (idx > 2) unexpected("']'");
        next();
        continue;
      }
      if (is_op("]")) break;
      if (parts[idx]) unexpected("']'");
      parts[idx] = parse_expression();
      if (!slice && is_op(",")) {  // a[1, 2]: a tuple key
        auto t = make(Expr::Kind::kTuple);
        t->args.push_back(std::move(parts[idx]));
        while (skip_op(",")) {
          if (is_op("]")) break;
          t->args.push_back(parse_expression());
        }
        parts[idx] = std::move(t);
      }
    }
    expect_op("]");
    if (!slice) {
      auto e = make(Expr::Kind::kGetItem);
      e->a = std::move(target);
      // a[] is a[()] in Jinja2 (its parse_subscript builds a Tuple of no items).
      e->b = parts[0] ? std::move(parts[0]) : make(Expr::Kind::kTuple);
      return e;
    }
    auto e = make(Expr::Kind::kSlice);
    e->a = std::move(target);
    for (auto& p : parts) e->args.push_back(std::move(p));
    return e;
  }

  void parse_call_args(Expr& e) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
      if (!first) {
        expect_op(",");
        if (is_op(")")) break;
      }
      first = false;
      if (is_op("*")) {
        next();
        e.dyn_args = parse_expression();
      } else if (is_op("**")) {
        next();
        e.dyn_kwargs = parse_expression();
      } else if (cur().type == TokenType::kName && peek().type == TokenType::kOperator &&
                 peek().text == "=") {
        std::string key = cur().text;
        next();
        next();
        e.kwargs.emplace_back(std::move(key), parse_expression());
      } else {
        e.args.push_back(parse_expression());
      }
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto e = make(Expr::Kind::kCall);
    e->a = std::move(callee);
    parse_call_args(*e);
    return e;
  }

  std::string dotted_name() {
    std::string name = expect_name();
    while (is_op(".") && peek().type == TokenType::kName) {
      next();
      name += "." + cur().text;
      next();
    }
    return name;
  }

  ExprPtr parse_filter(ExprPtr subject) {
    auto e = make(Expr::Kind::kFilter);
    e->name = dotted_name();
    e->a = std::move(subject);
    e->unknown = !is_known_filter(e->name);
    if (is_op("(")) parse_call_args(*e);
    return e;
  }

  // `|f|g(...)` as in `{% filter %}` and block set: the first filter has no subject.
  ExprPtr parse_filter_chain(ExprPtr subject, bool first_pipe = true) {
    if (first_pipe) expect_op("|");
    ExprPtr node = parse_filter(std::move(subject));
    while (skip_op("|")) node = parse_filter(std::move(node));
    return node;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        next();
        node = parse_filter(std::move(node));
      } else if (is_name("is")) {
        next();
        auto e = make(Expr::Kind::kTest);
        e->negated = skip_name("not");
        e->name = dotted_name();
        e->unknown = !is_known_test(e->name);
        e->a = std::move(node);
        if (is_op("(")) {
          parse_call_args(*e);
        } else if ((cur().type == TokenType::kName || cur().type == TokenType::kString ||
                    cur().type == TokenType::kInteger || cur().type == TokenType::kFloat ||
                    is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          if (is_name("is")) syntax_error("You cannot chain multiple tests with is", cur().line);
          e->args.push_back(parse_postfix(parse_primary()));
        }
        node = std::move(e);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  int loop_depth_ = 0;
  int expr_nesting_ = 0;  // see Nested
};

// jinja2 reports a filter or test it does not know when compiling, except inside an `if` or a
// conditional expression (a "soft frame"), where the error waits until the call runs.
class Checker {
 public:
  void body(const Body& b, bool soft) {
    for (const auto& n : b) node(*n, soft);
  }
  bool content_loop = false;

 private:
  void node(const Node& n, bool soft) {
    switch (n.kind) {
      case Node::Kind::kIf:
        for (const auto& [test, b] : n.branches) {
          expr(test.get(), true);
          body(b, true);
        }
        body(n.else_body, true);
        return;
      case Node::Kind::kFor:
        expr(n.expr.get(), soft);
        if (iterates_content(n.expr.get())) content_loop = true;
        expr(n.expr2.get(), false);
        body(n.body, false);
        body(n.else_body, false);
        return;
      default:
        expr(n.expr.get(), soft);
        expr(n.expr2.get(), soft);
        for (const auto& p : n.params) expr(p.second.get(), false);
        body(n.body, n.kind == Node::Kind::kScope ? soft : false);
        return;
    }
  }

  static bool iterates_content(const Expr* e) {
    while (e != nullptr && e->kind == Expr::Kind::kFilter) e = e->a.get();
    if (e == nullptr) return false;
    if (e->kind == Expr::Kind::kGetAttr) return e->name == "content";
    if (e->kind == Expr::Kind::kGetItem && e->b && e->b->kind == Expr::Kind::kLiteral &&
        e->b->literal.is_string()) {
      return e->b->literal.as_string() == "content";
    }
    return false;
  }

  void expr(const Expr* e, bool soft) {
    if (e == nullptr) return;
    if (e->kind == Expr::Kind::kCondExpr) soft = true;
    if ((e->kind == Expr::Kind::kFilter || e->kind == Expr::Kind::kTest) && e->unknown && !soft) {
      raise("TemplateAssertionError",
            std::string("No ") + (e->kind == Expr::Kind::kFilter ? "filter" : "test") + " named '" +
                e->name + "'. (line " + std::to_string(e->line) + ")");
    }
    expr(e->a.get(), soft);
    expr(e->b.get(), soft);
    expr(e->c.get(), soft);
    for (const auto& x : e->args) expr(x.get(), soft);
    for (const auto& kv : e->kwargs) expr(kv.second.get(), soft);
    expr(e->dyn_args.get(), soft);
    expr(e->dyn_kwargs.get(), soft);
  }
};

}  // namespace

Result<std::shared_ptr<const Program>> parse_template(std::string_view source) {
  SGLANG_ASSIGN_OR_RETURN(auto tokens, tokenize(source));
  try {
    auto program = std::make_shared<Program>();
    program->body = Parser(std::move(tokens)).parse_all();
    Checker checker;
    checker.body(program->body, false);
    program->has_content_loop = checker.content_loop;
    return std::shared_ptr<const Program>(std::move(program));
  } catch (const TemplateException& e) {
    return make_error(ErrorCode::kInvalidArgument,
                      "template syntax error: " + std::string(e.what()));
  }
}

}  // namespace sglang::chat::jinja
