// The structured-output grammar compilers on arbitrary input: the first byte picks the front-end
// (JSON schema, regex, EBNF, structural tag), the rest is its text. Whatever it is, conversion and
// compilation give a grammar or an error, never a crash, a hang or undefined behaviour; a grammar
// that compiles is then matched a few steps on a small byte vocabulary.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sampling/grammar/compiled_grammar.h"
#include "sampling/grammar/grammar_matcher.h"
#include "sampling/grammar/json_schema_converter.h"
#include "sampling/grammar/regex_converter.h"
#include "sampling/grammar/structural_tag_converter.h"

namespace {

using namespace sglang::grammar;

// Every single byte and a few multi-byte tokens (JSON punctuation, a UTF-8 letter), id 0 special
// (empty), the last one the stop token.
std::shared_ptr<const Vocabulary> make_vocabulary() {
  std::vector<std::string> tokens{""};
  for (int b = 1; b < 256; ++b) tokens.emplace_back(1, static_cast<char>(b));
  for (const char* t : {"{\"", "\":", "\",", "\"}", "true", "null", "12", "\xC3\xA9", "  "})
    tokens.emplace_back(t);
  tokens.emplace_back("");  // stop
  const auto stop = static_cast<int32_t>(tokens.size() - 1);
  return Vocabulary::from_token_bytes(std::move(tokens), {stop});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const std::shared_ptr<const Vocabulary> vocab = make_vocabulary();
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  sglang::Result<std::string> ebnf = std::string(text);
  switch (data[0] % 5) {
    case 0:
      ebnf = json_schema_to_ebnf(text);
      break;
    case 1: {
      JsonSchemaOptions options;
      options.any_whitespace = false;
      options.indent = 2;
      options.strict_mode = false;
      ebnf = json_schema_to_ebnf(text, options);
      break;
    }
    case 2:
      ebnf = regex_to_ebnf(text);
      break;
    case 3:
      ebnf = structural_tag_to_ebnf(text);
      break;
    default:
      break;  // EBNF as it is
  }
  if (!ebnf.ok()) return 0;
  CompileOptions options;
  options.threads = 1;
  auto compiled = compile_ebnf(*ebnf, vocab, "root", options);
  if (!compiled.ok()) return 0;
  GrammarMatcher matcher(*compiled);
  std::vector<uint32_t> mask(static_cast<size_t>((vocab->size() + 31) / 32));
  // A few steps: the jump-forward string, then the first allowed token, as a sampler would.
  for (int step = 0; step < 8 && !matcher.is_terminated(); ++step) {
    (void)matcher.find_jump_forward_string();
    matcher.fill_next_token_bitmask(mask);
    int32_t next = -1;
    for (size_t w = 0; w < mask.size() && next < 0; ++w)
      if (mask[w] != 0)
        next = static_cast<int32_t>(w * 32 + static_cast<size_t>(__builtin_ctz(mask[w])));
    if (next < 0 || !matcher.accept_token(next)) break;
  }
  return 0;
}
