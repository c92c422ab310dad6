// The WordPiece model (BERT, MiniLM, bge): each word is cut greedily into the longest vocabulary
// prefix, continuation pieces carrying "##"; a word with any uncuttable rest, or longer than
// max_input_chars_per_word characters, becomes the unknown token as a whole.
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "tokenizer/components.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace sglang::tok {
namespace {

using nlohmann::json;

class WordPiece final : public Model {
 public:
  Status load(const json& j) {
    SGLANG_RETURN_IF_ERROR(vocab_.load(j.value("vocab", json()), "WordPiece"));
    prefix_ = j.value("continuing_subword_prefix", "##");
    max_chars_ = j.value("max_input_chars_per_word", 100);
    const std::string unk = j.value("unk_token", "[UNK]");
    unk_id_ = token_to_id(unk);
    if (unk_id_ < 0)
      return make_error(ErrorCode::kCorrupt,
                        "WordPiece unk_token '" + unk + "' is not in the vocabulary");
    return {};
  }

  void tokenize(std::string_view word, std::vector<int32_t>& out) const override {
    std::vector<size_t> bounds;  // byte offset of each character, plus the end
    for (size_t i = 0; i < word.size();) {
      bounds.push_back(i);
      next_code_point(word, i);
    }
    bounds.push_back(word.size());
    const size_t chars = bounds.size() - 1;
    if (chars == 0) return;
    if (static_cast<int64_t>(chars) > max_chars_) {
      out.push_back(unk_id_);
      return;
    }
    std::vector<int32_t> pieces;
    size_t start = 0;
    while (start < chars) {
      int32_t found = -1;
      size_t end = chars;
      for (; end > start; --end) {
        std::string sub(word.substr(bounds[start], bounds[end] - bounds[start]));
        if (start > 0) sub = prefix_ + sub;
        found = token_to_id(sub);
        if (found >= 0) break;
      }
      if (found < 0) {
        out.push_back(unk_id_);
        return;
      }
      pieces.push_back(found);
      start = end;
    }
    out.insert(out.end(), pieces.begin(), pieces.end());
  }

  int64_t vocab_size() const override { return vocab_.size(); }
  std::string id_to_token(int32_t id) const override { return vocab_.id_to_token(id); }
  int32_t token_to_id(std::string_view t) const override { return vocab_.token_to_id(t); }

 private:
  Vocab vocab_;
  std::string prefix_;
  int64_t max_chars_ = 100;
  int32_t unk_id_ = -1;
};

}  // namespace

Result<std::unique_ptr<Model>> make_wordpiece(const json& j) {
  auto m = std::make_unique<WordPiece>();
  SGLANG_RETURN_IF_ERROR(m->load(j));
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace sglang::tok
