#pragma once
// The grammar as parsed from EBNF text: rules whose bodies are expression trees over bytes, code
// point classes and references to other rules. It is what ebnf_parser.* produces and what
// grammar_automaton.* compiles; nothing here knows about tokens.
#include <cstdint>
#include <string>
#include <vector>

namespace sglang::grammar {

// An inclusive range of Unicode code points.
struct CodepointRange {
  char32_t lo = 0;
  char32_t hi = 0;
};

// One `("tag", rule)` pair of TagDispatch.
struct TagRule {
  std::string tag;
  int32_t rule = -1;
};

// xgrammar's TagDispatch builtin: free text until one of the tags appears, then that tag's rule,
// then free text again (loop_after_dispatch) or the end. stop_eos: the free text may end the
// grammar at any point; stop_str: free text ends (the dispatch is over) once one of these appears;
// excludes: strings the free text must not contain.
struct TagDispatch {
  std::vector<TagRule> tags;
  bool stop_eos = true;
  std::vector<std::string> stop_str;
  std::vector<std::string> excludes;
  bool loop_after_dispatch = true;
};

enum class ExprKind : uint8_t {
  kEmpty,        // ""
  kBytes,        // a string literal, as UTF-8 bytes
  kCharClass,    // [a-z], [^"\\]: code point ranges, negated or not
  kRuleRef,      // another rule by index
  kSequence,     // children one after another
  kChoice,       // one of the children
  kRepeat,       // child {min, max}; max -1: unbounded
  kTagDispatch,  // Grammar::tag_dispatches[index]
};

struct Expr {
  ExprKind kind = ExprKind::kEmpty;
  std::string bytes;                   // kBytes
  std::vector<CodepointRange> ranges;  // kCharClass, sorted and merged
  bool negated = false;                // kCharClass
  int32_t index = -1;                  // kRuleRef: the rule; kTagDispatch: the dispatch
  std::vector<int32_t> children;       // kSequence, kChoice; kRepeat: one
  int64_t min = 0, max = 0;            // kRepeat
};

struct Rule {
  std::string name;
  int32_t body = -1;       // an index into Grammar::exprs
  int32_t lookahead = -1;  // `(= ...)` after the body; parsed, used only as a hint (-1: none)
};

struct Grammar {
  std::vector<Rule> rules;
  std::vector<Expr> exprs;
  std::vector<TagDispatch> tag_dispatches;
  int32_t root = -1;
};

}  // namespace sglang::grammar
