#pragma once
// The Python expressions a pythonic tool call is written in, read as SGLang's PythonicDetector
// reads them with ast.parse (v0.5.5): a list of calls `name(kw=literal, ...)` whose keyword values
// are literals (str, int, float, True/False/None, lists, dicts). Anything else — a negative
// number (ast.UnaryOp), a tuple, a name, an f-string, bytes — makes SGLang's whole parse fail,
// and so it fails here.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sglang::chat {

struct PythonCall {
  std::optional<std::string> name;  // unset when the callee is not a plain name (a.b(...))
  nlohmann::ordered_json arguments = nlohmann::ordered_json::object();  // keyword arguments
};

// The calls of `[f(a=1), g(b='x')]`, or nullopt when the text is not such a list (SGLang then
// reports no calls).
std::optional<std::vector<PythonCall>> parse_python_call_list(std::string_view text);

}  // namespace sglang::chat
