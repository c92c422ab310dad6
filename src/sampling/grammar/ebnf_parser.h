#pragma once
// xgrammar's EBNF dialect (what SGLang users send as `sampling_params.ebnf`) -> Grammar.
//   name ::= body        a rule; its name starts a line; `root` (or the root asked for) is the
//   start
//   "..."  [a-z] [^"\\]  string literals and character classes over code points, with escapes
//   ( ) | * + ? {n} {n,} {n,m}  grouping, choice, repetition; "" or () is the empty string
//   # ...                a comment to the end of the line
//   name ::= body (= lookahead)   a lookahead assertion after a body (kept only as a hint)
//   TagDispatch(("tag", rule), ..., stop_eos=true, stop_str=("..."), loop_after_dispatch=true)
// Errors name the problem and where it is (line:column), as xgrammar's parser does.
#include <string_view>

#include "sampling/grammar/grammar.h"
#include "util/status.h"

namespace sglang::grammar {

// Bounds on what the parser accepts, so that no input can exhaust the stack.
inline constexpr int kMaxNestingDepth = 200;

Result<Grammar> parse_ebnf(std::string_view text, std::string_view root = "root");

}  // namespace sglang::grammar
