#pragma once
// Template source -> tokens, as jinja2's lexer with transformers' settings (trim_blocks,
// lstrip_blocks, keep_trailing_newline off): text between tags becomes kData tokens with the
// whitespace control of `{%-`/`-%}`/`{%+`/`+%}` already applied, tags become their delimiters and
// the expression tokens inside them; `{% raw %}` bodies are data.
#include <string>
#include <vector>

#include "util/status.h"

namespace sglang::chat::jinja {

enum class TokenType {
  kData,
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kName,
  kString,  // text holds the decoded value
  kInteger,
  kFloat,
  kOperator,
  kEof,
};

struct Token {
  TokenType type;
  std::string text;
  int line = 1;
};

Result<std::vector<Token>> tokenize(std::string_view source);

}  // namespace sglang::chat::jinja
