#include "sampling/grammar/compiled_grammar.h"

#include "sampling/grammar/ebnf_parser.h"

namespace sglang::grammar {

Result<std::shared_ptr<const CompiledGrammar>> compile_grammar(
    const Grammar& grammar, std::shared_ptr<const Vocabulary> vocab,
    const CompileOptions& options) {
  if (!vocab)
    return make_error(ErrorCode::kInvalidArgument, "grammar compiled without a vocabulary");
  SGLANG_ASSIGN_OR_RETURN(auto automaton, GrammarAutomaton::compile(grammar, options.limits));
  auto masks = TokenMaskCache::build(automaton, *vocab, options.threads);
  return std::shared_ptr<const CompiledGrammar>(
      std::make_shared<CompiledGrammar>(std::move(automaton), std::move(vocab), std::move(masks)));
}

Result<std::shared_ptr<const CompiledGrammar>> compile_ebnf(std::string_view ebnf,
                                                            std::shared_ptr<const Vocabulary> vocab,
                                                            std::string_view root,
                                                            const CompileOptions& options) {
  SGLANG_ASSIGN_OR_RETURN(auto grammar, parse_ebnf(ebnf, root));
  return compile_grammar(grammar, std::move(vocab), options);
}

}  // namespace sglang::grammar
