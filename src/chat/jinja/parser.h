#pragma once
// Tokens -> syntax tree, following jinja2's parser (operator precedence, filters and tests binding
// tighter than arithmetic, `is` tests with one bare argument, tuple targets).
#include <string_view>

#include "chat/jinja/ast.h"
#include "util/status.h"

namespace sglang::chat::jinja {

Result<std::shared_ptr<const Program>> parse_template(std::string_view source);

// Whether jinja2 (with transformers' extensions) knows a filter or test of this name.
bool is_known_filter(const std::string& name);
bool is_known_test(const std::string& name);

}  // namespace sglang::chat::jinja
