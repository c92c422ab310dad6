#pragma once
// A Hugging Face tokenizer loaded from tokenizer.json: added tokens are split out of the text
// first, then each remaining segment goes normalizer -> pre-tokenizer -> model, and the
// post-processor adds the special tokens; decode maps ids back through the decoder. Encode and
// decode are const and thread-safe.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/components.h"
#include "util/status.h"

namespace sglang {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;
  bool lstrip = false, rstrip = false, single_word = false, normalized = false;
};

class Tokenizer {
 public:
  // tokenizer.json's text; `source` names it in errors.
  static Result<std::unique_ptr<Tokenizer>> from_json(const std::string& json_text,
                                                      const std::string& source);
  static Result<std::unique_ptr<Tokenizer>> from_file(const std::string& path);

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  // A pair of texts (cross-encoders); type_ids gets each id's segment.
  std::vector<int32_t> encode_pair(std::string_view a, std::string_view b, bool add_special_tokens,
                                   std::vector<int32_t>* type_ids) const;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;

  int64_t vocab_size() const;  // including added tokens
  std::string id_to_token(int32_t id) const;
  int32_t token_to_id(std::string_view token) const;  // -1 if absent
  bool is_special(int32_t id) const;
  const std::vector<AddedToken>& added_tokens() const { return added_; }

 private:
  // Text split into runs of plain text and added tokens (leftmost-longest, as HF's
  // AddedVocabulary).
  struct Segment {
    std::string text;
    int32_t added_id = -1;  // >= 0: this segment is that added token
  };
  void split_added(std::string_view text, bool normalized_pass, std::vector<Segment>& out) const;
  std::vector<int32_t> encode_sequence(std::string_view text) const;

  std::unique_ptr<tok::Normalizer> normalizer_;
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer_;
  std::unique_ptr<tok::Model> model_;
  std::unique_ptr<tok::PostProcessor> post_processor_;
  std::unique_ptr<tok::Decoder> decoder_;
  std::vector<AddedToken> added_;
  // Indices into added_ by the token's first byte, per pass (0: raw text, 1: normalized text), so
  // the scan for added tokens costs one table lookup per byte of text.
  std::array<std::array<std::vector<size_t>, 256>, 2> added_by_first_byte_;
  // Indices into added_ by id and by content: decode looks every id up, so no scan of added_.
  std::unordered_map<int32_t, size_t> added_by_id_;
  std::unordered_map<std::string, size_t> added_by_content_;
};

}  // namespace sglang
