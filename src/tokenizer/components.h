#pragma once
// The stages of a Hugging Face tokenizer pipeline (tokenizer.json), as interfaces:
//   normalizer -> pre-tokenizer -> model -> post-processor, and a decoder for the way back.
// Each stage works on plain UTF-8 strings: ids are what the engine needs, not character offsets.
// Concrete stages are built from their tokenizer.json objects by the make_* factories, which name
// the unsupported type in their error.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "util/status.h"

namespace sglang::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string normalize(std::string_view text) const = 0;
};

// Splits each piece further; pieces never become empty.
class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void split(std::vector<std::string>& pieces) const = 0;
};

// Maps one pre-tokenized piece to ids.
class Model {
 public:
  virtual ~Model() = default;
  virtual void tokenize(std::string_view piece, std::vector<int32_t>& out) const = 0;
  virtual int64_t vocab_size() const = 0;
  // The token's string, or empty when the id is unknown.
  virtual std::string id_to_token(int32_t id) const = 0;
  virtual int32_t token_to_id(std::string_view token) const = 0;  // -1 if absent
};

// One encoded sequence on its way through the post-processor.
struct EncodedSequence {
  std::vector<int32_t> ids;
  std::vector<int32_t> type_ids;
};

// Adds special tokens around one sequence (or a pair) of ids, as HF's process_encodings: it
// rewrites the list of sequences (one, or two for a pair), which the tokenizer then concatenates.
// It runs with add_special_tokens false too, since some processors also set the type ids then.
class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual void process(std::vector<EncodedSequence>& seqs, bool add_special_tokens) const = 0;
  // How many ids process() adds with add_special_tokens (truncation leaves room for them).
  virtual size_t added_tokens(bool pair) const = 0;
};

// Joins tokens back into text.
class Decoder {
 public:
  virtual ~Decoder() = default;
  // Turns tokens into text pieces (decode_chain in HF); the final text is their concatenation.
  virtual std::vector<std::string> decode_chain(std::vector<std::string> tokens) const = 0;
  // True: tokens that decode's skip_special_tokens leaves out still reach decode_chain, as empty
  // strings (llama.cpp's detokenizer counts them when it strips the first token's leading space).
  virtual bool wants_skipped_tokens() const { return false; }
};

Result<std::unique_ptr<Normalizer>> make_normalizer(const nlohmann::json& j);
Result<std::unique_ptr<PreTokenizer>> make_pre_tokenizer(const nlohmann::json& j);
Result<std::unique_ptr<Model>> make_model(const nlohmann::json& j);
Result<std::unique_ptr<Normalizer>> make_precompiled(const nlohmann::json& j);
Result<std::unique_ptr<Model>> make_wordpiece(const nlohmann::json& j);
Result<std::unique_ptr<Model>> make_unigram(const nlohmann::json& j);
Result<std::unique_ptr<PostProcessor>> make_post_processor(const nlohmann::json& j,
                                                           const Model& model);
// transformers' update_post_processor: "[bos] $A:0 [eos]" / "[bos] $A:0 [eos] [bos]:1 $B:1 [eos]:1"
// with the given ids (-1: not added).
std::unique_ptr<PostProcessor> make_bos_eos_template(int32_t bos_id, int32_t eos_id);
Result<std::unique_ptr<Decoder>> make_decoder(const nlohmann::json& j);

// GPT-2's reversible byte <-> printable-character map used by the ByteLevel stages.
const std::string& byte_to_unicode(uint8_t byte);  // UTF-8 of the stand-in character
int unicode_to_byte(char32_t cp);                  // -1 if cp stands for no byte

}  // namespace sglang::tok
