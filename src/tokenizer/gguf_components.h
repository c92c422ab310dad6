#pragma once
// The model and decoder stages of a GGUF byte-level BPE tokenizer, as llama.cpp's llama-vocab.cpp
// runs them (see gguf_tokenizer.h).
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

// How llama.cpp's token_to_piece writes a token.
enum class GgufPiece : uint8_t {
  kText,      // normal token: GPT-2 characters back to bytes
  kVerbatim,  // control, user-defined and unknown tokens: the token text as it is
  kByte,      // byte token "<0xAB>": that byte
  kNothing,   // unused and undefined tokens
};
// Decodes tokens (by their text) per `pieces` (indexed by id, with `tokens` the texts), then, with
// clean_spaces, removes the spaces llama.cpp's detokenizer removes (" ?", " 's", " ' " ...).
// Invalid UTF-8 in the result becomes U+FFFD.
std::unique_ptr<Decoder> make_gguf_decoder(const std::vector<std::string>& tokens,
                                           const std::vector<GgufPiece>& pieces, bool clean_spaces);

}  // namespace sglang::tok
