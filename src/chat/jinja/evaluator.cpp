#include "chat/jinja/evaluator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <unordered_map>

#include "util/json_nesting.h"

namespace sglang::chat::jinja {
namespace {

struct Scope {
  std::shared_ptr<Scope> parent;
  std::vector<std::pair<std::string, Value>> vars;

  const Value* find(const std::string& name) const {
    for (const Scope* s = this; s != nullptr; s = s->parent.get()) {
      for (const auto& [k, v] : s->vars) {
        if (k == name) return &v;
      }
    }
    return nullptr;
  }
  void set(const std::string& name, Value value) {
    for (auto& [k, v] : vars) {
      if (k == name) {
        v = std::move(value);
        return;
      }
    }
    vars.emplace_back(name, std::move(value));
  }
};
using ScopePtr = std::shared_ptr<Scope>;

enum class Flow { kNormal, kBreak, kContinue };

// One level of a bounded recursion (macro calls, expression evaluation): past `max` levels it is
// Python's RecursionError, with the clause CPython adds for where it happened.
class RecursionGuard {
 public:
  RecursionGuard(int& depth, int max, const char* where) : depth_(depth) {
    if (depth_ >= max)
      raise("RecursionError", std::string("maximum recursion depth exceeded ") + where);
    ++depth_;
  }
  ~RecursionGuard() { --depth_; }
  RecursionGuard(const RecursionGuard&) = delete;
  RecursionGuard& operator=(const RecursionGuard&) = delete;

 private:
  int& depth_;
};

// jinja2's object_type_repr: "None" or "<type> object". Its Undefined message quotes it (!r) for a
// missing attribute but not for a missing element (runtime.py, Undefined._undefined_message).
std::string object_type_repr(const Value& v) {
  if (v.is_none()) return "None";
  return v.type_name() + " object";
}

Value missing_attribute(const Value& obj, const std::string& name) {
  return Value::undefined("'" + object_type_repr(obj) + "' has no attribute " + Value(name).repr());
}

Value missing_element(const Value& obj, const Value& key) {
  if (key.is_string()) return missing_attribute(obj, key.as_string());
  return Value::undefined(object_type_repr(obj) + " has no element " + key.repr());
}

[[noreturn]] void type_error(const std::string& message) {
  raise("TypeError", message);
}

// Python ints do not overflow; past int64 we fall back to a float (big ints are rare in chat
// templates) instead of undefined behaviour.
template <typename Op, typename FloatOp>
Value int_op(const Value& a, const Value& b, Op op, FloatOp fop) {
  int64_t r = 0;
  if (op(a.to_int(), b.to_int(), &r)) return Value(fop(a.to_double(), b.to_double()));
  return Value(r);
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t py_mod(int64_t a, int64_t b) {
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

// Whether an expression yields markupsafe.Markup (|safe, |escape, or + with a Markup side). We
// track it in the tree rather than in values: only `+` behaves differently for Markup.
bool is_markup(const Expr& e) {
  if (e.kind == Expr::Kind::kFilter) {
    return e.name == "safe" || e.name == "e" || e.name == "escape" || e.name == "forceescape";
  }
  if (e.kind == Expr::Kind::kBinary && e.name == "+") return is_markup(*e.a) || is_markup(*e.b);
  return false;
}

class Interpreter : public Evaluator {
 public:
  Interpreter(const RenderOptions& options) : options_(options) {}
  // A macro keeps its defining scope alive, and that scope holds the macro: a shared_ptr cycle.
  // A render's values never outlive it (it returns text), so the cycles are broken here.
  ~Interpreter() override {
    for (const ScopePtr& s : macro_scopes_) {
      s->vars.clear();
      s->parent.reset();
    }
  }

  std::string run(const Program& program, const Value& context) {
    auto globals = std::make_shared<Scope>();
    install_globals(*globals);
    auto root = std::make_shared<Scope>();
    root->parent = globals;
    if (context.is_dict()) {
      for (const auto& [k, v] : context.as_dict().items) {
        if (k.is_string()) root->set(k.as_string(), v);
      }
    }
    std::string out;
    exec_body(program.body, root, out);
    return out;
  }

  // --- Evaluator ---

  Value getattr(const Value& obj, const std::string& name) override {
    switch (obj.kind()) {
      case Value::Kind::kUndefined:
        obj.fail_undefined();
      case Value::Kind::kDict: {
        const DictData& d = obj.as_dict();
        if (!d.is_namespace && !d.is_loop && has_method(obj, name)) return bound_method(obj, name);
        if (const Value* v = d.find(std::string_view(name))) return *v;
        return missing_attribute(obj, name);
      }
      case Value::Kind::kString:
      case Value::Kind::kList:
        if (has_method(obj, name)) return bound_method(obj, name);
        return missing_attribute(obj, name);
      default:
        return missing_attribute(obj, name);
    }
  }

  Value getitem(const Value& obj, const Value& key) override {
    switch (obj.kind()) {
      case Value::Kind::kUndefined:
        obj.fail_undefined();
      case Value::Kind::kDict:
        if (const Value* v = obj.as_dict().find(key)) return *v;
        if (key.is_string() && has_method(obj, key.as_string())) {
          return bound_method(obj, key.as_string());
        }
        return missing_element(obj, key);
      case Value::Kind::kList:
      case Value::Kind::kString: {
        if (key.is_int() || key.is_bool()) {
          int64_t i = key.to_int();
          if (obj.is_string()) {
            const std::string& s = obj.as_string();
            if (is_ascii(s)) {
              int64_t n = static_cast<int64_t>(s.size());
              if (i < 0) i += n;
              if (i < 0 || i >= n) return missing_element(obj, key);
              return Value(s.substr(static_cast<size_t>(i), 1));
            }
            std::u32string u = utf8_decode(s);
            int64_t n = static_cast<int64_t>(u.size());
            if (i < 0) i += n;
            if (i < 0 || i >= n) return missing_element(obj, key);
            return Value(utf8_encode(u.substr(static_cast<size_t>(i), 1)));
          }
          const ListData& l = obj.as_list();
          if (l.kind == SequenceKind::kGenerator || l.kind == SequenceKind::kReverseIterator ||
              l.kind == SequenceKind::kDictItems || l.kind == SequenceKind::kDictKeys ||
              l.kind == SequenceKind::kDictValues) {
            return missing_element(obj, key);
          }
          int64_t n = static_cast<int64_t>(l.items.size());
          if (i < 0) i += n;
          if (i < 0 || i >= n) return missing_element(obj, key);
          return l.items[static_cast<size_t>(i)];
        }
        if (key.is_string()) return getattr(obj, key.as_string());
        return missing_element(obj, key);
      }
      default:
        return missing_element(obj, key);
    }
  }

  Value call(const Value& callee, CallArgs& args) override {
    if (callee.is_callable()) {
      // A macro (or recursive loop) that calls itself without end is Python's RecursionError in
      // jinja2, not a stack overflow here (fuzz_chat_template). Real templates nest a few levels
      // (a tool schema's depth); the bound leaves room for the sanitizers' larger frames.
      RecursionGuard guard(call_depth_, kMaxCallDepth, "while calling a Python object");
      return callee.as_callable().fn(args);
    }
    if (callee.is_undefined()) callee.fail_undefined();
    type_error("'" + callee.type_name() + "' object is not callable");
  }

  bool test(const std::string& name, const Value& subject, CallArgs& args) override {
    return apply_test(*this, name, subject, args);
  }

  Value filter(const std::string& name, const Value& subject, CallArgs& args) override {
    return apply_filter(*this, name, subject, args);
  }

 private:
  Value bound_method(const Value& obj, const std::string& name) {
    return Value::function(name, [obj, name](CallArgs& args) -> Value {
      std::optional<Value> r = call_method(obj, name, args);
      if (!r) type_error("no method " + name);
      return *r;
    });
  }

  void install_globals(Scope& g) {
    g.set("range", Value::function("range", [](CallArgs& a) -> Value {
            int64_t start = 0, stop = 0, step = 1;
            auto arg = [&](size_t i) {
              if (!a.args[i].is_int() && !a.args[i].is_bool()) {
                type_error("'" + a.args[i].type_name() +
                           "' object cannot be interpreted as an integer");
              }
              return a.args[i].to_int();
            };
            if (a.args.size() == 1) {
              stop = arg(0);
            } else if (a.args.size() >= 2) {
              start = arg(0);
              stop = arg(1);
              if (a.args.size() >= 3) step = arg(2);
            } else {
              type_error("range expected at least 1 argument, got 0");
            }
            if (step == 0) raise("ValueError", "range() arg 3 must not be zero");
            std::vector<Value> items;
            for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
              if (items.size() >= 100000) raise("OverflowError", "range too big");
              items.emplace_back(i);
            }
            Value v = Value::list(std::move(items), SequenceKind::kRange);
            v.as_list().range_start = start;
            v.as_list().range_stop = stop;
            v.as_list().range_step = step;
            return v;
          }));
    g.set("namespace", Value::function("namespace", [](CallArgs& a) -> Value {
            auto d = std::make_shared<DictData>();
            d->is_namespace = true;
            for (const Value& v : a.args) {
              if (v.is_dict()) {
                for (const auto& kv : v.as_dict().items) d->set(kv.first, kv.second);
              }
            }
            for (auto& [k, v] : a.kwargs) d->set(Value(k), v);
            return Value(std::move(d));
          }));
    g.set("dict", Value::function("dict", [](CallArgs& a) -> Value {
            auto d = std::make_shared<DictData>();
            for (const Value& v : a.args) {
              if (v.is_dict()) {
                for (const auto& kv : v.as_dict().items) d->set(kv.first, kv.second);
              }
            }
            for (auto& [k, v] : a.kwargs) d->set(Value(k), v);
            return Value(std::move(d));
          }));
    g.set("raise_exception", Value::function("raise_exception", [](CallArgs& a) -> Value {
            raise("TemplateError", a.args.empty() ? "" : a.args[0].str());
          }));
    const RenderOptions* options = &options_;
    g.set("strftime_now", Value::function("strftime_now", [options](CallArgs& a) -> Value {
            std::time_t t =
                options->now
                    ? *options->now
                    : std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
            std::tm tm{};
            localtime_r(&t, &tm);
            std::string format = a.args.empty() ? "" : a.args[0].str();
            if (format.empty()) return Value("");
            char buf[512];
            size_t n = std::strftime(buf, sizeof(buf), format.c_str(), &tm);
            return Value(std::string(buf, n));
          }));
    g.set("cycler", Value::function("cycler", [](CallArgs& a) -> Value {
            auto d = std::make_shared<DictData>();
            auto items = std::make_shared<std::vector<Value>>(a.args);
            auto pos = std::make_shared<size_t>(0);
            d->set(Value("next"), Value::function("next", [items, pos](CallArgs&) -> Value {
                     if (items->empty()) return Value(nullptr);
                     Value v = (*items)[*pos % items->size()];
                     ++*pos;
                     return v;
                   }));
            return Value(std::move(d));
          }));
    g.set("joiner", Value::function("joiner", [](CallArgs& a) -> Value {
            std::string sep = a.args.empty() ? ", " : a.args[0].str();
            auto used = std::make_shared<bool>(false);
            return Value::function("joiner", [sep, used](CallArgs&) -> Value {
              if (!*used) {
                *used = true;
                return Value("");
              }
              return Value(sep);
            });
          }));
  }

  // --- statements ---

  Flow exec_body(const Body& body, const ScopePtr& scope, std::string& out) {
    for (const auto& n : body) {
      Flow f = exec(*n, scope, out);
      if (f != Flow::kNormal) return f;
    }
    return Flow::kNormal;
  }

  // Setting a namespace attribute is the one way a template mutates a container, so it is the one
  // place a value could come to hold itself (`set ns.x = ns`) or nest without bound (`set ns.x =
  // [ns.x]` in a loop). jinja2 allows both (its repr prints `{...}`); here values are
  // reference-counted and printed, compared and serialised recursively, so a cycle would leak and
  // recurse without end, and a deep chain would overflow the stack (fuzz_chat_template). Both are
  // refused, past the JSON nesting bound requests get (util/json_nesting.h).
  static void refuse_cycle_or_depth(const Value& value, const DictData& ns) {
    // Heights of the containers already walked: a value may share one list many times over (`set
    // ns.x = [ns.x, ns.x]`), so each is walked once. Values are acyclic before this assignment.
    std::unordered_map<const void*, int> heights;
    auto height = [&](auto& self, const Value& v, int depth) -> int {
      if (!v.is_list() && !v.is_dict()) return 0;
      const void* key = v.is_list() ? static_cast<const void*>(&v.as_list())
                                    : static_cast<const void*>(&v.as_dict());
      if (key == &ns) raise("ValueError", "a namespace attribute cannot hold the namespace itself");
      if (depth >= kMaxJsonNesting) raise("RecursionError", "namespace value nested too deeply");
      auto it = heights.find(key);
      int h = 0;
      if (it != heights.end()) {
        h = it->second;
      } else {
        if (v.is_list()) {
          for (const Value& item : v.as_list().items)
            h = std::max(h, 1 + self(self, item, depth + 1));
        } else {
          for (const auto& [k, item] : v.as_dict().items) {
            h = std::max({h, 1 + self(self, k, depth + 1), 1 + self(self, item, depth + 1)});
          }
        }
        heights.emplace(key, h);
      }
      if (depth + h > kMaxJsonNesting) raise("RecursionError", "namespace value nested too deeply");
      return h;
    };
    height(height, value, 0);
  }

  void assign(const Node& n, const ScopePtr& scope, const Value& value) {
    if (!n.attr.empty()) {
      const Value* ns = scope->find(n.targets[0]);
      if (ns == nullptr || !ns->is_dict() || !ns->as_dict().is_namespace) {
        raise("TemplateRuntimeError", "cannot assign attribute on non-namespace object");
      }
      refuse_cycle_or_depth(value, ns->as_dict());
      ns->as_dict().set(Value(n.attr), value);
      return;
    }
    if (!n.tuple_target) {
      scope->set(n.targets[0], value);
      return;
    }
    std::vector<Value> items = value.iterate();
    if (items.size() != n.targets.size()) {
      raise("ValueError",
            items.size() > n.targets.size()
                ? "too many values to unpack (expected " + std::to_string(n.targets.size()) + ")"
                : "not enough values to unpack (expected " + std::to_string(n.targets.size()) +
                      ", got " + std::to_string(items.size()) + ")");
    }
    for (size_t i = 0; i < items.size(); ++i) scope->set(n.targets[i], items[i]);
  }

  Flow exec(const Node& n, const ScopePtr& scope, std::string& out) {
    switch (n.kind) {
      case Node::Kind::kText:
        out += n.text;
        return Flow::kNormal;
      case Node::Kind::kOutput:
        out += eval(*n.expr, scope).str();
        return Flow::kNormal;
      case Node::Kind::kIf:
        for (const auto& [test, body] : n.branches) {
          if (eval(*test, scope).truthy()) return exec_body(body, scope, out);
        }
        return exec_body(n.else_body, scope, out);
      case Node::Kind::kFor:
        exec_for(n, scope, out);
        return Flow::kNormal;
      case Node::Kind::kSet:
        assign(n, scope, eval(*n.expr, scope));
        return Flow::kNormal;
      case Node::Kind::kSetBlock: {
        std::string text;
        exec_body(n.body, scope, text);
        Value v(std::move(text));
        if (n.expr) v = apply_filter_chain(*n.expr, v, scope);
        assign(n, scope, v);
        return Flow::kNormal;
      }
      case Node::Kind::kMacro:
        scope->set(n.text, make_macro(n, scope));
        return Flow::kNormal;
      case Node::Kind::kCallBlock: {
        Value caller = make_macro(n, scope, "caller");
        CallArgs args = eval_args(*n.expr, scope);
        args.kwargs.emplace_back("caller", caller);
        out += call(eval(*n.expr->a, scope), args).str();
        return Flow::kNormal;
      }
      case Node::Kind::kFilterBlock: {
        std::string text;
        exec_body(n.body, scope, text);
        out += apply_filter_chain(*n.expr, Value(std::move(text)), scope).str();
        return Flow::kNormal;
      }
      case Node::Kind::kBreak:
        return Flow::kBreak;
      case Node::Kind::kContinue:
        return Flow::kContinue;
      case Node::Kind::kWith: {
        auto inner = std::make_shared<Scope>();
        inner->parent = scope;
        for (const auto& [name, e] : n.params) inner->set(name, eval(*e, scope));
        return exec_body(n.body, inner, out);
      }
      case Node::Kind::kScope:
        return exec_body(n.body, scope, out);
    }
    return Flow::kNormal;
  }

  // The filter chain of a {% filter %} block or a block set, applied to `v`.
  Value apply_filter_chain(const Expr& e, const Value& v, const ScopePtr& scope) {
    Value subject = e.a ? apply_filter_chain(*e.a, v, scope) : v;
    CallArgs args = eval_args(e, scope);
    if (e.unknown) raise("TemplateRuntimeError", "No filter named '" + e.name + "' found.");
    return apply_filter(*this, e.name, subject, args);
  }

  void exec_for(const Node& n, const ScopePtr& scope, std::string& out) {
    Value iterable = eval(*n.expr, scope);
    if (iterable.is_none() || iterable.is_int() || iterable.is_float() || iterable.is_bool()) {
      type_error("'" + iterable.type_name() + "' object is not iterable");
    }
    std::vector<Value> items = iterable.iterate();
    if (n.expr2) {
      std::vector<Value> kept;
      for (const Value& item : items) {
        auto s = std::make_shared<Scope>();
        s->parent = scope;
        assign(n, s, item);
        if (eval(*n.expr2, s).truthy()) kept.push_back(item);
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      exec_body(n.else_body, scope, out);
      return;
    }
    size_t len = items.size();
    for (size_t i = 0; i < len; ++i) {
      auto s = std::make_shared<Scope>();
      s->parent = scope;
      auto loop = std::make_shared<DictData>();
      loop->is_loop = true;
      auto& li = loop->items;
      li.reserve(12);
      auto idx = static_cast<int64_t>(i);
      auto length = static_cast<int64_t>(len);
      li.emplace_back(Value("index"), Value(idx + 1));
      li.emplace_back(Value("index0"), Value(idx));
      li.emplace_back(Value("revindex"), Value(length - idx));
      li.emplace_back(Value("revindex0"), Value(length - idx - 1));
      li.emplace_back(Value("first"), Value(i == 0));
      li.emplace_back(Value("last"), Value(i + 1 == len));
      li.emplace_back(Value("length"), Value(length));
      li.emplace_back(Value("depth"), Value(1));
      li.emplace_back(Value("depth0"), Value(0));
      li.emplace_back(Value("previtem"),
                      i > 0 ? items[i - 1] : Value::undefined("there is no previous item"));
      li.emplace_back(Value("nextitem"),
                      i + 1 < len ? items[i + 1] : Value::undefined("there is no next item"));
      li.emplace_back(Value("cycle"), Value::function("cycle", [i](CallArgs& a) -> Value {
                        if (a.args.empty()) type_error("no items for cycling given");
                        return a.args[i % a.args.size()];
                      }));
      s->vars.emplace_back("loop", Value(std::move(loop)));
      assign(n, s, items[i]);
      if (exec_body(n.body, s, out) == Flow::kBreak) break;
    }
  }

  Value make_macro(const Node& n, const ScopePtr& scope, const std::string& name = "") {
    const Node* node = &n;
    auto def_scope = scope;
    macro_scopes_.push_back(scope);
    std::string macro_name = name.empty() ? n.text : name;
    auto c = std::make_shared<Callable>();
    c->name = macro_name;
    c->is_macro = true;
    c->fn = [this, node, def_scope, macro_name](CallArgs& a) -> Value {
      auto s = std::make_shared<Scope>();
      s->parent = def_scope;
      size_t np = node->params.size();
      std::vector<bool> bound(np, false);
      for (size_t i = 0; i < np && i < a.args.size(); ++i) {
        s->set(node->params[i].first, a.args[i]);
        bound[i] = true;
      }
      std::vector<Value> varargs;
      for (size_t i = np; i < a.args.size(); ++i) varargs.push_back(a.args[i]);
      auto kwargs = std::make_shared<DictData>();
      for (auto& [k, v] : a.kwargs) {
        bool matched = false;
        for (size_t i = 0; i < np; ++i) {
          if (node->params[i].first == k) {
            s->set(k, v);
            bound[i] = true;
            matched = true;
          }
        }
        if (!matched) {
          if (k == "caller") {
            s->set("caller", v);
          } else {
            kwargs->set(Value(k), v);
          }
        }
      }
      for (size_t i = 0; i < np; ++i) {
        if (bound[i]) continue;
        if (node->params[i].second) {
          s->set(node->params[i].first, eval(*node->params[i].second, s));
        } else {
          s->set(node->params[i].first,
                 Value::undefined("parameter '" + node->params[i].first + "' was not provided"));
        }
      }
      s->set("varargs", Value::list(std::move(varargs), SequenceKind::kTuple));
      s->set("kwargs", Value(std::move(kwargs)));
      std::string out;
      exec_body(node->body, s, out);
      return Value(std::move(out));
    };
    return Value(std::move(c));
  }

  // --- expressions ---

  CallArgs eval_args(const Expr& e, const ScopePtr& scope) {
    CallArgs args;
    args.args.reserve(e.args.size());
    for (const auto& a : e.args) args.args.push_back(eval(*a, scope));
    if (e.dyn_args) {
      for (const Value& v : eval(*e.dyn_args, scope).iterate()) args.args.push_back(v);
    }
    for (const auto& [k, v] : e.kwargs) args.kwargs.emplace_back(k, eval(*v, scope));
    if (e.dyn_kwargs) {
      Value d = eval(*e.dyn_kwargs, scope);
      if (d.is_dict()) {
        for (const auto& [k, v] : d.as_dict().items) args.kwargs.emplace_back(k.str(), v);
      }
    }
    return args;
  }

  // An expression nested past kMaxEvalDepth (a chain of thousands of `+`, filters or `not`) is
  // Python's RecursionError in jinja2 (its compiler recurses per level), not a stack overflow here
  // (fuzz_chat_template; a sanitizer frame of eval is ~10 KB).
  Value eval(const Expr& e, const ScopePtr& scope) {
    RecursionGuard guard(eval_depth_, kMaxEvalDepth, "during compilation");
    return eval_node(e, scope);
  }

  Value eval_node(const Expr& e, const ScopePtr& scope) {
    switch (e.kind) {
      case Expr::Kind::kLiteral:
        return e.literal;
      case Expr::Kind::kName: {
        if (const Value* v = scope->find(e.name)) return *v;
        return Value::undefined("'" + e.name + "' is undefined");
      }
      case Expr::Kind::kList:
      case Expr::Kind::kTuple: {
        std::vector<Value> items;
        items.reserve(e.args.size());
        for (const auto& a : e.args) items.push_back(eval(*a, scope));
        return Value::list(std::move(items), e.kind == Expr::Kind::kTuple ? SequenceKind::kTuple
                                                                          : SequenceKind::kList);
      }
      case Expr::Kind::kDict: {
        auto d = std::make_shared<DictData>();
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          d->set(eval(*e.args[i], scope), eval(*e.args[i + 1], scope));
        }
        return Value(std::move(d));
      }
      case Expr::Kind::kGetAttr:
        return getattr(eval(*e.a, scope), e.name);
      case Expr::Kind::kGetItem:
        return getitem(eval(*e.a, scope), eval(*e.b, scope));
      case Expr::Kind::kSlice:
        return slice(eval(*e.a, scope), e, scope);
      case Expr::Kind::kCall: {
        if (e.a->kind == Expr::Kind::kGetAttr) {
          // obj.method(...): call the method without building a bound callable.
          Value obj = eval(*e.a->a, scope);
          if ((obj.is_string() || obj.is_list() ||
               (obj.is_dict() && !obj.as_dict().is_namespace && !obj.as_dict().is_loop)) &&
              has_method(obj, e.a->name)) {
            CallArgs args = eval_args(e, scope);
            return *call_method(obj, e.a->name, args);
          }
          Value callee = getattr(obj, e.a->name);
          CallArgs args = eval_args(e, scope);
          return call(callee, args);
        }
        Value callee = eval(*e.a, scope);
        CallArgs args = eval_args(e, scope);
        return call(callee, args);
      }
      case Expr::Kind::kFilter: {
        Value subject = eval(*e.a, scope);
        CallArgs args = eval_args(e, scope);
        if (e.unknown) raise("TemplateRuntimeError", "No filter named '" + e.name + "' found.");
        return apply_filter(*this, e.name, subject, args);
      }
      case Expr::Kind::kTest: {
        Value subject = eval(*e.a, scope);
        CallArgs args = eval_args(e, scope);
        if (e.unknown) raise("TemplateRuntimeError", "No test named '" + e.name + "' found.");
        bool r = apply_test(*this, e.name, subject, args);
        return Value(e.negated ? !r : r);
      }
      case Expr::Kind::kUnary: {
        Value v = eval(*e.a, scope);
        if (v.is_undefined()) v.fail_undefined();
        if (!v.is_number()) {
          type_error("bad operand type for unary " + e.name + ": '" + v.type_name() + "'");
        }
        if (e.name == "+") return v.is_bool() ? Value(v.to_int()) : v;
        if (v.is_float()) return Value(-v.as_float());
        return Value(-v.to_int());
      }
      case Expr::Kind::kBinary: {
        Value a = eval(*e.a, scope), b = eval(*e.b, scope);
        if (e.name == "+" && a.is_string() && b.is_string()) {
          // markupsafe: Markup + str escapes the str (and str + Markup), autoescape or not.
          bool ma = is_markup(*e.a), mb = is_markup(*e.b);
          if (ma != mb) {
            return ma ? Value(a.as_string() + html_escape(b.as_string()))
                      : Value(html_escape(a.as_string()) + b.as_string());
          }
        }
        return binary(e.name, a, b);
      }
      case Expr::Kind::kCompare: {
        Value left = eval(*e.a, scope);
        for (size_t i = 0; i < e.ops.size(); ++i) {
          Value right = eval(*e.args[i], scope);
          if (!compare(e.ops[i], left, right)) return Value(false);
          left = std::move(right);
        }
        return Value(true);
      }
      case Expr::Kind::kAnd: {
        Value l = eval(*e.a, scope);
        if (!l.truthy()) return l;
        return eval(*e.b, scope);
      }
      case Expr::Kind::kOr: {
        Value l = eval(*e.a, scope);
        if (l.truthy()) return l;
        return eval(*e.b, scope);
      }
      case Expr::Kind::kNot:
        return Value(!eval(*e.a, scope).truthy());
      case Expr::Kind::kCondExpr:
        if (eval(*e.a, scope).truthy()) return eval(*e.b, scope);
        if (e.c) return eval(*e.c, scope);
        return Value::undefined(
            "the inline if-expression evaluated to false and no else "
            "section was defined.");
    }
    return Value();
  }

  Value slice(const Value& obj, const Expr& e, const ScopePtr& scope) {
    if (obj.is_undefined()) obj.fail_undefined();
    Value parts[3];
    for (int i = 0; i < 3; ++i) {
      if (e.args[static_cast<size_t>(i)]) parts[i] = eval(*e.args[static_cast<size_t>(i)], scope);
    }
    auto get = [&](int i, bool& present) -> int64_t {
      present = !(parts[i].is_undefined() || parts[i].is_none());
      if (!present) return 0;
      if (!parts[i].is_int() && !parts[i].is_bool()) {
        type_error("slice indices must be integers or None or have an __index__ method");
      }
      return parts[i].to_int();
    };
    bool has_start, has_stop, has_step;
    int64_t start = get(0, has_start), stop = get(1, has_stop), step = get(2, has_step);
    if (!has_step) step = 1;
    if (step == 0) raise("ValueError", "slice step cannot be zero");
    auto indices = [&](int64_t n) {
      std::vector<int64_t> out;
      auto clamp = [&](int64_t v, bool present, int64_t def) {
        if (!present) return def;
        if (v < 0) v += n;
        if (step > 0) return std::clamp<int64_t>(v, 0, n);
        return std::clamp<int64_t>(v, -1, n - 1);
      };
      int64_t b = clamp(start, has_start, step > 0 ? 0 : n - 1);
      int64_t en = clamp(stop, has_stop, step > 0 ? n : -1);
      for (int64_t i = b; step > 0 ? i < en : i > en; i += step) out.push_back(i);
      return out;
    };
    if (obj.is_string()) {
      std::u32string u = utf8_decode(obj.as_string());
      std::u32string r;
      for (int64_t i : indices(static_cast<int64_t>(u.size()))) r += u[static_cast<size_t>(i)];
      return Value(utf8_encode(r));
    }
    if (obj.is_list()) {
      const auto& items = obj.as_list().items;
      std::vector<Value> r;
      for (int64_t i : indices(static_cast<int64_t>(items.size()))) {
        r.push_back(items[static_cast<size_t>(i)]);
      }
      return Value::list(std::move(r), obj.as_list().kind == SequenceKind::kTuple
                                           ? SequenceKind::kTuple
                                           : SequenceKind::kList);
    }
    type_error("'" + obj.type_name() + "' object is not subscriptable");
  }

  bool contains(const Value& container, const Value& item) {
    switch (container.kind()) {
      case Value::Kind::kUndefined:
        return false;
      case Value::Kind::kString:
        if (item.is_undefined()) item.fail_undefined();
        if (!item.is_string()) {
          type_error("'in <string>' requires string as left operand, not " + item.type_name());
        }
        return container.as_string().find(item.as_string()) != std::string::npos;
      case Value::Kind::kList:
        for (const Value& v : container.as_list().items) {
          if (v.equals(item)) return true;
        }
        return false;
      case Value::Kind::kDict:
        return container.as_dict().find(item) != nullptr;
      default:
        type_error("argument of type '" + container.type_name() + "' is not iterable");
    }
  }

  bool compare(const std::string& op, const Value& a, const Value& b) {
    if (op == "==") return a.equals(b);
    if (op == "!=") return !a.equals(b);
    if (op == "in") return contains(b, a);
    if (op == "notin") return !contains(b, a);
    if (a.is_undefined()) a.fail_undefined();
    if (b.is_undefined()) b.fail_undefined();
    auto unsupported = [&]() {
      type_error("'" + op + "' not supported between instances of '" + a.type_name() + "' and '" +
                 b.type_name() + "'");
    };
    bool comparable = (a.is_number() && b.is_number()) || (a.is_string() && b.is_string()) ||
                      (a.is_list() && b.is_list());
    if (!comparable) unsupported();
    if (op == "<") return less_than(a, b);
    if (op == ">") return less_than(b, a);
    if (op == "<=") return !less_than(b, a);
    return !less_than(a, b);
  }

  // Strings and lists a template builds stay under kMaxSequenceLength characters or items: past
  // it Python would be out of memory (MemoryError) long after this server is (`'ab' * 10**12`,
  // or a string doubled in a loop; fuzz_chat_template).
  static constexpr size_t kMaxSequenceLength = size_t{1} << 24;
  static void check_length(size_t n) {
    if (n > kMaxSequenceLength) raise("MemoryError", "the result would be too long");
  }

  Value binary(const std::string& op, const Value& a, const Value& b) {
    if (op == "~") {
      std::string l = a.str(), r = b.str();
      check_length(l.size() + r.size());
      return Value(l + r);
    }
    if (a.is_undefined()) a.fail_undefined();
    if (b.is_undefined()) b.fail_undefined();
    auto unsupported = [&]() -> Value {
      type_error("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" +
                 b.type_name() + "'");
    };
    bool nums = a.is_number() && b.is_number();
    bool floats = nums && (a.is_float() || b.is_float());
    if (op == "+") {
      if (nums)
        return floats ? Value(a.to_double() + b.to_double())
                      : int_op(
                            a, b,
                            [](int64_t x, int64_t y, int64_t* r) {
                              return __builtin_add_overflow(x, y, r);
                            },
                            [](double x, double y) { return x + y; });
      if (a.is_string() && b.is_string()) {
        check_length(a.as_string().size() + b.as_string().size());
        return Value(a.as_string() + b.as_string());
      }
      if (a.is_list() && b.is_list() && a.as_list().kind == b.as_list().kind &&
          (a.as_list().kind == SequenceKind::kList || a.as_list().kind == SequenceKind::kTuple)) {
        check_length(a.as_list().items.size() + b.as_list().items.size());
        std::vector<Value> items = a.as_list().items;
        items.insert(items.end(), b.as_list().items.begin(), b.as_list().items.end());
        return Value::list(std::move(items), a.as_list().kind);
      }
      if (a.is_string() || (a.is_list() && a.as_list().kind == SequenceKind::kList)) {
        type_error("can only concatenate " + a.type_name() + " (not \"" + b.type_name() +
                   "\") to " + a.type_name());
      }
      return unsupported();
    }
    if (op == "-") {
      if (nums)
        return floats ? Value(a.to_double() - b.to_double())
                      : int_op(
                            a, b,
                            [](int64_t x, int64_t y, int64_t* r) {
                              return __builtin_sub_overflow(x, y, r);
                            },
                            [](double x, double y) { return x - y; });
      return unsupported();
    }
    if (op == "*") {
      if (nums)
        return floats ? Value(a.to_double() * b.to_double())
                      : int_op(
                            a, b,
                            [](int64_t x, int64_t y, int64_t* r) {
                              return __builtin_mul_overflow(x, y, r);
                            },
                            [](double x, double y) { return x * y; });
      const Value* seq = a.is_string() || a.is_list() ? &a : &b;
      const Value* count = seq == &a ? &b : &a;
      if ((seq->is_string() || seq->is_list()) && (count->is_int() || count->is_bool())) {
        int64_t n = std::max<int64_t>(0, count->to_int());
        const size_t unit =
            seq->is_string() ? seq->as_string().size() : seq->as_list().items.size();
        if (unit == 0) n = 0;
        if (n > 0)
          check_length(static_cast<size_t>(n) > kMaxSequenceLength / unit + 1
                           ? kMaxSequenceLength + 1
                           : static_cast<size_t>(n) * unit);
        if (seq->is_string()) {
          std::string out;
          for (int64_t i = 0; i < n; ++i) out += seq->as_string();
          return Value(std::move(out));
        }
        std::vector<Value> items;
        for (int64_t i = 0; i < n; ++i) {
          items.insert(items.end(), seq->as_list().items.begin(), seq->as_list().items.end());
        }
        return Value::list(std::move(items), seq->as_list().kind);
      }
      return unsupported();
    }
    if (op == "/") {
      if (!nums) return unsupported();
      if (b.to_double() == 0.0) raise("ZeroDivisionError", "division by zero");
      return Value(a.to_double() / b.to_double());
    }
    if (op == "//") {
      if (!nums) return unsupported();
      if (b.to_double() == 0.0) {
        raise("ZeroDivisionError",
              floats ? "float floor division by zero" : "integer division or modulo by zero");
      }
      if (floats) return Value(std::floor(a.to_double() / b.to_double()));
      return Value(floor_div(a.to_int(), b.to_int()));
    }
    if (op == "%") {
      if (a.is_string()) return Value(percent_format(a.as_string(), b));
      if (!nums) return unsupported();
      if (b.to_double() == 0.0) {
        raise("ZeroDivisionError", floats ? "float modulo" : "integer division or modulo by zero");
      }
      if (floats) {
        double r = std::fmod(a.to_double(), b.to_double());
        if (r != 0 && ((r < 0) != (b.to_double() < 0))) r += b.to_double();
        return Value(r);
      }
      return Value(py_mod(a.to_int(), b.to_int()));
    }
    if (op == "**") {
      if (!nums) return unsupported();
      if (!floats && b.to_int() >= 0) {
        int64_t r = 1, base = a.to_int();
        for (int64_t i = 0; i < b.to_int(); ++i) {
          if (__builtin_mul_overflow(r, base, &r)) {
            return Value(std::pow(a.to_double(), b.to_double()));
          }
        }
        return Value(r);
      }
      return Value(std::pow(a.to_double(), b.to_double()));
    }
    return unsupported();
  }

  const RenderOptions& options_;
  static constexpr int kMaxCallDepth = 100;
  int call_depth_ = 0;
  static constexpr int kMaxEvalDepth = 300;
  int eval_depth_ = 0;
  std::vector<ScopePtr> macro_scopes_;  // scopes macros closed over (see ~Interpreter)
};

}  // namespace

std::string render_program(const Program& program, const Value& context,
                           const RenderOptions& options) {
  Interpreter interpreter(options);
  return interpreter.run(program, context);
}

}  // namespace sglang::chat::jinja
