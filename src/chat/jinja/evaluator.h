#pragma once
// Renders a parsed template: walks the statement tree with a chain of scopes (jinja2's frames:
// a for-loop iteration, a macro call and a {% with %} open one; an if does not).
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include "chat/jinja/ast.h"
#include "chat/jinja/value.h"

namespace sglang::chat::jinja {

struct RenderOptions {
  std::optional<std::time_t> now;  // strftime_now's clock; nullopt: the real one
};

// Renders `program` with the variables of `context` (a dict Value). Throws TemplateException.
std::string render_program(const Program& program, const Value& context,
                           const RenderOptions& options);

// Builtins (builtins.cpp). `subject` is the filtered / tested value.
class Evaluator;
Value apply_filter(Evaluator& ev, const std::string& name, const Value& subject, CallArgs& args);
bool apply_test(Evaluator& ev, const std::string& name, const Value& subject, CallArgs& args);
// A Python method of a str, list or dict (`s.strip()`, `d.get(k)`); nullopt when `obj` has no
// method of that name. Mutating list/dict methods raise SecurityError (the immutable sandbox).
std::optional<Value> call_method(const Value& obj, const std::string& name, CallArgs& args);
bool has_method(const Value& obj, const std::string& name);
// markupsafe's escape: & < > " ' as jinja2's |escape (and Markup + str) writes them.
std::string html_escape(const std::string& s);
// Python's `format % args` for str.
std::string percent_format(const std::string& format, const Value& args);

// What builtins need from the evaluator.
class Evaluator {
 public:
  virtual ~Evaluator() = default;
  virtual Value getattr(const Value& obj, const std::string& name) = 0;
  virtual Value getitem(const Value& obj, const Value& key) = 0;
  virtual Value call(const Value& callee, CallArgs& args) = 0;
  virtual bool test(const std::string& name, const Value& subject, CallArgs& args) = 0;
  virtual Value filter(const std::string& name, const Value& subject, CallArgs& args) = 0;
};

}  // namespace sglang::chat::jinja
