#pragma once
// The stages of GGUF tokenizers as llama.cpp's llama-vocab.cpp runs them (see gguf_tokenizer.h):
// byte-level BPE ("gpt2") and SentencePiece-style BPE with scores ("llama").
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/components.h"

namespace sglang::tok {

// BPE over GPT-2-mapped pieces: merges are "left right" strings ranked by their position; the
// adjacent pair with the lowest rank is merged first (the leftmost among equals) until none is
// left. A merged piece that is no token falls back to its single bytes that are. With
// ignore_merges, a piece that is a token as a whole is that token.
std::unique_ptr<Model> make_gguf_bpe(std::vector<std::string> tokens,
                                     const std::vector<std::string>& merges, bool ignore_merges);

// SentencePiece BPE ("llama"): the adjacent pair whose concatenation is the token with the highest
// score merges first (the leftmost among equals) until no pair forms a token; a character left
// that is no token becomes its bytes' <0xAB> tokens.
std::unique_ptr<Model> make_gguf_spm(std::vector<std::string> tokens, std::vector<float> scores);
// The text of a "llama" vocabulary: a space in front (add_space_prefix), then every space as
// U+2581.
std::unique_ptr<PreTokenizer> make_gguf_spm_escape(bool add_space_prefix);

// How llama.cpp's token_to_piece writes a token.
enum class GgufPiece : uint8_t {
  kText,      // normal token: GPT-2 characters back to bytes
  kVerbatim,  // control, user-defined and unknown tokens: the token text as it is
  kByte,      // byte token "<0xAB>": that byte
  kNothing,   // unused and undefined tokens
};
struct GgufDecodeOptions {
  bool sentencepiece = false;      // a normal token's U+2581 is a space (else GPT-2 characters)
  bool strip_first_space = false;  // add_space_prefix: the first token loses one leading space
  bool clean_spaces = false;       // remove the spaces llama.cpp's detokenizer removes (" ?" ...)
};
// Decodes tokens (by their text) per `pieces` (indexed by id, with `tokens` the texts) as
// llama_detokenize does; invalid UTF-8 in the result becomes U+FFFD.
std::unique_ptr<Decoder> make_gguf_decoder(const std::vector<std::string>& tokens,
                                           const std::vector<GgufPiece>& pieces,
                                           const GgufDecodeOptions& options);

}  // namespace sglang::tok
