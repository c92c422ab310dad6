#pragma once
// The syntax tree of a template: expressions and statements, as jinja2's nodes module names them.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja/value.h"

namespace sglang::chat::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,  // literal
    kName,     // name
    kList,     // args
    kTuple,    // args
    kDict,     // args: key, value, key, value...
    kGetAttr,  // a.name
    kGetItem,  // a[b]
    kSlice,    // a[args0:args1:args2], missing parts null
    kCall,     // a(args, kwargs, *dyn_args, **dyn_kwargs)
    kFilter,   // a|name(args...); a null inside {% filter %}
    kTest,     // a is [not] name(args...)
    kUnary,    // name in {"-", "+"} applied to a
    kBinary,   // a name b: + - * / // % ** ~
    kCompare,  // a ops[0] args[0] ops[1] args[1] ...
    kAnd,
    kOr,
    kNot,
    kCondExpr,  // b if a else c (c may be null)
  };
  Kind kind;
  int line = 0;
  Value literal;
  std::string name;
  ExprPtr a, b, c;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  ExprPtr dyn_args, dyn_kwargs;
  std::vector<std::string> ops;
  bool negated = false;
  // A filter or test jinja2 does not know, used where jinja2 defers that error to run time.
  bool unknown = false;
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
  enum class Kind {
    kText,         // text
    kOutput,       // {{ expr }}
    kIf,           // branches (test, body), else_body
    kFor,          // targets in expr [if expr2] body else_body
    kSet,          // targets (or targets[0].attr) = expr
    kSetBlock,     // targets[0] = body | filter (expr, a kFilter chain on null)
    kMacro,        // name(params) body
    kCallBlock,    // {% call(params) expr %} body
    kFilterBlock,  // {% filter expr %} body
    kBreak,
    kContinue,
    kWith,   // params (assignments) body
    kScope,  // {% generation %} body: rendered as is
  };
  Kind kind;
  int line = 0;
  std::string text;
  ExprPtr expr, expr2;
  std::vector<std::string> targets;  // names assigned; more than one: tuple unpacking
  bool tuple_target = false;
  std::string attr;  // {% set ns.attr = ... %}
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body, else_body;
  std::vector<std::pair<std::string, ExprPtr>> params;  // macro/call parameters (defaults)
  bool recursive = false;
};

struct Program {
  Body body;
  // The template iterates over message content parts (see ChatTemplate::content_format).
  bool has_content_loop = false;
};

}  // namespace sglang::chat::jinja
