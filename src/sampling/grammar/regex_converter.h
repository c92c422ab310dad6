#pragma once
// Python `re` patterns, as SGLang users write them for `sampling_params.regex` and JSON-schema
// `pattern`, to EBNF text in xgrammar's dialect (sampling/grammar/ebnf_text.h).
//
// The pattern's language is matched as `re.fullmatch` sees it. What an EBNF grammar cannot say
// (backreferences, lookaround, word boundaries, atomic groups and possessive quantifiers, inline
// flags, anchors inside the pattern) is an error that names the construct. Lazy quantifiers match
// the same language as greedy ones and are accepted.
#include <string>
#include <string_view>

#include "util/status.h"

namespace sglang::grammar {

struct RegexOptions {
  // The pattern describes the *decoded* value of a JSON string (JSON schema `pattern`/`format`):
  // characters JSON must escape (`"`, `\`, U+0000..U+001F) are produced as their JSON escapes,
  // so the output is valid JSON whose decoded value matches the pattern.
  bool json_string = false;
};

// One EBNF expression (no rule name) matching the pattern.
Result<std::string> regex_to_ebnf_expr(std::string_view pattern, const RegexOptions& options = {});

// A whole grammar: `root ::= <expression>`.
Result<std::string> regex_to_ebnf(std::string_view pattern);

}  // namespace sglang::grammar
