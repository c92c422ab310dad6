#pragma once
// tokenizer_config.json (transformers' side of a tokenizer) and loading a tokenizer from a model
// directory the way transformers' TokenizersBackend (v5) does: tokenizer.json, or failing that a
// GPT-2-style vocab.json + merges.txt; then the config's added tokens and add_bos_token /
// add_eos_token on top.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/tokenizer.h"
#include "util/status.h"

namespace sglang {

struct TokenizerConfig {
  // Special tokens, from a string or an AddedToken dict ({"content": ...}); nullopt if absent or
  // null.
  std::optional<std::string> bos_token, eos_token, pad_token, unk_token;
  // Present only when the file sets them (transformers then rebuilds the post-processor).
  std::optional<bool> add_bos_token, add_eos_token;
  // nullopt when absent, or transformers' "no limit" placeholder (VERY_LARGE_INTEGER, 1e30).
  std::optional<int64_t> model_max_length;
  // A string, or the entry named "default" of a list of {name, template}; else
  // chat_template.jinja beside the config (load_tokenizer_from_dir); empty if none.
  std::string chat_template;
  // The entry named "tool_use" of such a list: transformers renders with it when tools are given.
  std::string tool_use_chat_template;
  std::vector<AddedToken> added_tokens_decoder;  // by id, ascending
  std::optional<bool> add_prefix_space;
  bool clean_up_tokenization_spaces = false;  // parsed only: transformers 5 skips it for BPE
  std::string tokenizer_class;

  static Result<TokenizerConfig> parse(const nlohmann::json& j, const std::string& source);
  static Result<TokenizerConfig> from_file(const std::string& path);
};

struct LoadedTokenizer {
  std::unique_ptr<Tokenizer> tokenizer;
  TokenizerConfig config;  // default-constructed when the directory has no tokenizer_config.json
};

// dir/tokenizer.json, else dir/vocab.json + dir/merges.txt (byte-level BPE: ByteLevel
// pre-tokenizer with the config's add_prefix_space, default false; ByteLevel decoder). Then:
// added_tokens_decoder entries the tokenizer lacks are added; if the config sets add_bos_token or
// add_eos_token, the post-processor becomes transformers' template
// "[bos:0] $A:0 [eos:0]" / "... [bos:1] $B:1 [eos:1]" (an unset flag counts as false, a flag
// whose token is missing is dropped), as TokenizersBackend.update_post_processor does.
Result<LoadedTokenizer> load_tokenizer_from_dir(const std::string& dir);

}  // namespace sglang
