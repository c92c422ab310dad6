#pragma once
// Tokenizers from GGUF metadata (llama.cpp's model files). The vocabulary, merges, token types and
// special tokens under tokenizer.ggml.* become our Tokenizer, built to tokenize and detokenize
// exactly as llama.cpp's llama-vocab.cpp does, together with a TokenizerConfig (special tokens,
// add_bos / add_eos, tokenizer.chat_template, <arch>.context_length), so that everything
// downstream uses it like a tokenizer loaded from a model directory.
//
// How llama.cpp's behaviour maps onto the Tokenizer:
//   * control, user-defined and unknown tokens are the added tokens, matched in the text before the
//     rest the way llama.cpp does (AddedTokenMatching::kLongestTokenFirst); control and unknown
//     ones are "special": EncodeOptions::split_special_tokens is llama.cpp's parse_special = false,
//     decode's skip_special_tokens its unparse_special = false;
//   * add_special_tokens adds BOS / EOS where llama.cpp's add_bos / add_eos say so;
//   * decode is llama_detokenize(remove_special = false), with invalid UTF-8 replaced by U+FFFD.
// Supported: tokenizer.ggml.model "gpt2" (byte-level BPE) with the pre-tokenizers that
// llama_pre_tokenizer.h lists, and "llama" (SentencePiece-style BPE with scores, U+2581 for spaces,
// <0xAB> byte tokens, add_space_prefix); anything else is an error that names it.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/tokenizer_config.h"
#include "util/status.h"

namespace sglang {

class GgufFile;

// The tokenizer metadata of a GGUF file, as stored.
struct GgufVocab {
  std::string model;  // tokenizer.ggml.model
  std::string pre;    // tokenizer.ggml.pre; empty when absent
  std::vector<std::string> tokens;
  std::vector<int32_t> token_types;  // tokenizer.ggml.token_type; empty when absent
  std::vector<float> scores;         // tokenizer.ggml.scores; empty when absent
  std::vector<std::string> merges;
  // Special token ids the file sets, by the key's middle part: "bos", "eos", "eot", "eom",
  // "unknown", "seperator" (sic), "padding", "mask", "fim_pre", "fim_suf", "fim_mid", "fim_pad",
  // "fim_rep", "fim_sep", and the deprecated "prefix", "suffix", "middle".
  std::map<std::string, int64_t> special_ids;
  std::optional<bool> add_bos, add_eos, add_sep, add_space_prefix;
  std::string name;  // general.name (llama.cpp sets some token attributes by it)
};

// llama.cpp's token attributes (llama_token_attr), the same bits.
namespace gguf_attr {
inline constexpr uint32_t kUndefined = 0, kUnknown = 1u << 0, kUnused = 1u << 1, kNormal = 1u << 2,
                          kControl = 1u << 3, kUserDefined = 1u << 4, kByte = 1u << 5,
                          kLstrip = 1u << 7, kRstrip = 1u << 8;
}

// What llama.cpp's vocabulary loader makes of a GgufVocab: the token attributes after its fix-ups
// (end-of-generation and FIM tokens found by their text become control tokens, etc.), the special
// token ids (-1: none), the flags, and the end-of-generation set.
struct GgufVocabState {
  std::vector<std::string> tokens;  // the texts (an empty one named "[EMPTY_<id>]" as there)
  std::vector<uint32_t> attrs;      // per token, gguf_attr bits
  int32_t bos_id = -1, eos_id = -1, eot_id = -1, eom_id = -1, unk_id = -1, sep_id = -1, pad_id = -1,
          mask_id = -1;
  bool sentencepiece = false;  // tokenizer.ggml.model "llama"
  bool add_bos = false, add_eos = false, add_space_prefix = false;
  bool clean_spaces = false, ignore_merges = false;
  std::vector<std::string> pre_regexes;
  std::vector<int32_t> eog_ids;  // ascending
};

// Reads the tokenizer keys of `file`; fails where a key llama.cpp needs is missing or mistyped.
Result<GgufVocab> read_gguf_vocab(const GgufFile& file);
// llama.cpp's view of `vocab`; fails on what llama.cpp rejects or this does not support.
Result<GgufVocabState> gguf_vocab_state(const GgufVocab& vocab);
// The tokenizer and its config (special tokens, add_bos_token / add_eos_token as llama.cpp decides
// them, the added tokens); no chat template or length.
Result<LoadedTokenizer> tokenizer_from_gguf_vocab(const GgufVocab& vocab);
// The file's tokenizer, with tokenizer.chat_template and <general.architecture>.context_length (as
// model_max_length) in the config.
Result<LoadedTokenizer> tokenizer_from_gguf(const GgufFile& file);
// Opens `path` (a .gguf file) and reads its tokenizer; the weights are not read.
Result<LoadedTokenizer> load_tokenizer_from_gguf(const std::string& path);

}  // namespace sglang
