#pragma once
// A Hugging Face tokenizer loaded from tokenizer.json: added tokens are split out of the text
// first, then each remaining segment goes normalizer -> pre-tokenizer -> model, and the
// post-processor adds the special tokens; decode maps ids back through the decoder. Encode and
// decode are const and thread-safe.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/components.h"
#include "util/status.h"

namespace sglang {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;
  bool lstrip = false, rstrip = false, single_word = false, normalized = false;
};

// HF's truncation block ({"max_length", "strategy", "direction", "stride"}). stride only shapes the
// overflowing pieces, which are not produced, so it has no effect on the ids.
struct Truncation {
  enum class Strategy { kLongestFirst, kOnlyFirst, kOnlySecond };
  size_t max_length = 512;
  Strategy strategy = Strategy::kLongestFirst;
  bool left = false;  // direction "Left": keep the end of the sequence
  size_t stride = 0;
};

// HF's padding block. length: Fixed(n); nullopt: BatchLongest (one sequence: its own length).
struct Padding {
  std::optional<size_t> length;
  bool left = false;  // direction "Left"
  size_t pad_to_multiple_of = 0;
  int32_t pad_id = 0;
  int32_t pad_type_id = 0;
  std::string pad_token = "[PAD]";
};

struct EncodeOptions {
  bool add_special_tokens = true;
  // Special added tokens written in the text are not recognised: the text is tokenized as written
  // (transformers' split_special_tokens; llama.cpp's parse_special = false). Non-special added
  // tokens still are.
  bool split_special_tokens = false;
  std::optional<Truncation> truncation;  // nullopt: none (the tokenizer.json block is not implied)
  std::optional<Padding> padding;
};

struct Encoding {
  std::vector<int32_t> ids;
  std::vector<int32_t> type_ids;
  std::vector<int32_t> attention_mask;  // 1 for real ids, 0 for padding
};

struct DecodeOptions {
  bool skip_special_tokens = false;
  // Accepted for SGLang's sake and ignored: transformers' fast tokenizers (PreTrainedTokenizerFast
  // / TokenizersBackend._decode) swallow it in **kwargs and call the `tokenizers` decode with
  // skip_special_tokens only; only the slow Python tokenizers join added tokens with spaces.
  bool spaces_between_special_tokens = true;
};

// How added tokens are found in the text before the pipeline sees the rest.
enum class AddedTokenMatching {
  // Hugging Face's AddedVocabulary: left to right, the longest added token starting at each
  // position; lstrip / rstrip take Unicode whitespace.
  kLeftmostLongest,
  // llama.cpp's tokenizer_st_partition: token by token, longest first (equal lengths in the order
  // std::sort leaves them, from ascending ids), each cut out of every stretch of text still
  // unclaimed wherever it occurs; lstrip / rstrip take ASCII whitespace.
  kLongestTokenFirst,
};

// The stages of a tokenizer built in code rather than from tokenizer.json (GGUF vocabularies).
struct TokenizerParts {
  std::unique_ptr<tok::Normalizer> normalizer;         // optional
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer;    // optional
  std::unique_ptr<tok::Model> model;                   // required
  std::unique_ptr<tok::PostProcessor> post_processor;  // required
  std::unique_ptr<tok::Decoder> decoder;               // optional (tokens joined by spaces)
  std::vector<AddedToken> added_tokens;
  AddedTokenMatching matching = AddedTokenMatching::kLeftmostLongest;
};

class Tokenizer {
 public:
  // A tokenizer from stages built in code; fails without a model or post-processor.
  static Result<std::unique_ptr<Tokenizer>> from_parts(TokenizerParts parts);
  // tokenizer.json's text; `source` names it in errors.
  static Result<std::unique_ptr<Tokenizer>> from_json(const std::string& json_text,
                                                      const std::string& source);
  // An already parsed tokenizer.json.
  static Result<std::unique_ptr<Tokenizer>> from_json_value(const nlohmann::json& j,
                                                            const std::string& source);
  static Result<std::unique_ptr<Tokenizer>> from_file(const std::string& path);

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true,
                              bool split_special_tokens = false) const;
  // A pair of texts (cross-encoders); type_ids gets each id's segment.
  std::vector<int32_t> encode_pair(std::string_view a, std::string_view b, bool add_special_tokens,
                                   std::vector<int32_t>* type_ids) const;
  // With truncation and padding (HF's encode as a whole: truncation leaves room for the special
  // tokens the post-processor adds). Fails as HF does: only_second without a pair, or a sequence
  // too short to remove enough ids from.
  Result<Encoding> encode_with(std::string_view text, const EncodeOptions& options) const;
  Result<Encoding> encode_pair_with(std::string_view a, std::string_view b,
                                    const EncodeOptions& options) const;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;
  std::string decode(const std::vector<int32_t>& ids, const DecodeOptions& options) const;
  // The truncation / padding blocks of tokenizer.json (nullopt where null). Encoding does not
  // apply them by itself: pass them in EncodeOptions to encode as the file says.
  const std::optional<Truncation>& file_truncation() const { return file_truncation_; }
  const std::optional<Padding>& file_padding() const { return file_padding_; }

  // Adds tokens to the added vocabulary (tokenizer_config.json's added_tokens_decoder entries that
  // tokenizer.json lacks); an entry whose id or content is already there is skipped.
  void add_tokens(const std::vector<AddedToken>& tokens);
  // Replaces the post-processor (transformers' add_bos_token / add_eos_token handling).
  void set_post_processor(std::unique_ptr<tok::PostProcessor> p) { post_processor_ = std::move(p); }

  int64_t vocab_size() const;  // including added tokens
  // The model's vocabulary without the added tokens (transformers' tokenizer.vocab_size).
  int64_t base_vocab_size() const;
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
  void split_added(std::string_view text, bool normalized_pass, bool split_special,
                   std::vector<Segment>& out) const;
  void split_added_longest_first(std::string_view text, bool split_special,
                                 std::vector<Segment>& out) const;
  std::vector<int32_t> encode_sequence(std::string_view text, bool split_special) const;
  Result<Encoding> encode_impl(std::string_view a, const std::string_view* b,
                               const EncodeOptions& options) const;
  void index_added();

  std::unique_ptr<tok::Normalizer> normalizer_;
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer_;
  std::unique_ptr<tok::Model> model_;
  std::unique_ptr<tok::PostProcessor> post_processor_;
  std::unique_ptr<tok::Decoder> decoder_;
  std::vector<AddedToken> added_;
  AddedTokenMatching matching_ = AddedTokenMatching::kLeftmostLongest;
  // kLongestTokenFirst: indices into added_ in the order they are cut out of the text.
  std::vector<size_t> added_longest_first_;
  // Indices into added_ by the token's first byte, per pass (0: raw text, 1: normalized text), so
  // the scan for added tokens costs one table lookup per byte of text.
  std::array<std::array<std::vector<size_t>, 256>, 2> added_by_first_byte_;
  // Indices into added_ by id and by content: decode looks every id up, so no scan of added_.
  std::unordered_map<int32_t, size_t> added_by_id_;
  std::unordered_map<std::string, size_t> added_by_content_;
  std::optional<Truncation> file_truncation_;
  std::optional<Padding> file_padding_;
};

}  // namespace sglang
