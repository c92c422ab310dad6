// The Unigram model (SentencePiece; XLM-RoBERTa, bge-reranker-v2-m3): the segmentation of a piece
// with the highest total log-probability, by Viterbi over byte positions. A character no piece
// covers costs (lowest piece score - 10) as the unknown token, and runs of unknowns fuse into one,
// as HF's Unigram does. Ties keep the earlier candidate.
#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace sglang::tok {
namespace {

using nlohmann::json;

constexpr double kUnkPenalty = 10.0;

class Unigram final : public Model {
 public:
  Status load(const json& j) {
    if (!j.contains("vocab") || !j["vocab"].is_array()) {
      return make_error(ErrorCode::kCorrupt, "Unigram model without a 'vocab' list");
    }
    double min_score = INFINITY;
    for (const auto& entry : j["vocab"]) {
      if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() ||
          !entry[1].is_number()) {
        return make_error(ErrorCode::kCorrupt, "bad Unigram vocab entry " + entry.dump());
      }
      const auto id = static_cast<int32_t>(pieces_.size());
      const std::string piece = entry[0].get<std::string>();
      const double score = entry[1].get<double>();
      pieces_.push_back(piece);
      scores_.push_back(score);
      ids_.emplace(piece, id);
      insert(piece, id);
      min_score = std::min(min_score, score);
    }
    unk_id_ =
        j.contains("unk_id") && j["unk_id"].is_number_integer() ? j["unk_id"].get<int32_t>() : -1;
    if (unk_id_ >= static_cast<int32_t>(pieces_.size())) {
      return make_error(ErrorCode::kCorrupt, "Unigram unk_id is outside the vocabulary");
    }
    unk_score_ = min_score - kUnkPenalty;
    byte_fallback_ = j.value("byte_fallback", false);
    return {};
  }

  void tokenize(std::string_view s, std::vector<int32_t>& out) const override {
    if (s.empty()) return;
    struct Best {
      double score = 0;
      int64_t start = -1;  // -1: not reached
      int32_t id = -1;     // -1: unknown
    };
    std::vector<Best> best(s.size() + 1);
    best[0].start = 0;
    for (size_t pos = 0; pos < s.size();) {
      size_t next = pos;
      next_code_point(s, next);
      const size_t char_len = next - pos;
      if (best[pos].start >= 0) {
        const double base = best[pos].score;
        bool single_char = false;
        // Every vocabulary piece that starts here.
        int32_t node = 0;
        for (size_t k = pos; k < s.size(); ++k) {
          node = child(node, static_cast<uint8_t>(s[k]));
          if (node < 0) break;
          const int32_t id = nodes_[static_cast<size_t>(node)].id;
          if (id < 0) continue;
          const size_t end = k + 1;
          const double score = base + scores_[static_cast<size_t>(id)];
          if (best[end].start < 0 || score > best[end].score)
            best[end] = {score, static_cast<int64_t>(pos), id};
          if (end - pos == char_len) single_char = true;
        }
        if (!single_char) {
          const double score = base + unk_score_;
          Best& b = best[pos + char_len];
          if (b.start < 0 || score > b.score) b = {score, static_cast<int64_t>(pos), -1};
        }
      }
      pos = next;
    }
    // Backtrack, fusing adjacent unknowns.
    std::vector<int32_t> ids;
    bool prev_unk = false;
    for (int64_t end = static_cast<int64_t>(s.size()); end > 0;) {
      const Best& b = best[static_cast<size_t>(end)];
      const bool unk = b.id < 0 || b.id == unk_id_;  // the "<unk>" piece itself fuses too
      if (!(unk && prev_unk)) ids.push_back(unk ? unk_id_ : b.id);
      prev_unk = unk;
      end = b.start;
    }
    out.insert(out.end(), ids.rbegin(), ids.rend());
  }

  int64_t vocab_size() const override { return static_cast<int64_t>(pieces_.size()); }
  std::string id_to_token(int32_t id) const override {
    return id >= 0 && static_cast<size_t>(id) < pieces_.size() ? pieces_[static_cast<size_t>(id)]
                                                               : "";
  }
  int32_t token_to_id(std::string_view t) const override {
    auto it = ids_.find(std::string(t));
    return it == ids_.end() ? -1 : it->second;
  }

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;
    int32_t id = -1;
  };
  int32_t child(int32_t node, uint8_t byte) const {
    for (const auto& [b, n] : nodes_[static_cast<size_t>(node)].children) {
      if (b == byte) return n;
    }
    return -1;
  }
  void insert(const std::string& piece, int32_t id) {
    if (nodes_.empty()) nodes_.emplace_back();
    int32_t node = 0;
    for (char c : piece) {
      int32_t next = child(node, static_cast<uint8_t>(c));
      if (next < 0) {
        next = static_cast<int32_t>(nodes_.size());
        nodes_[static_cast<size_t>(node)].children.emplace_back(static_cast<uint8_t>(c), next);
        nodes_.emplace_back();
      }
      node = next;
    }
    // The first piece with a given string keeps it (HF builds its map in vocabulary order too).
    if (nodes_[static_cast<size_t>(node)].id < 0) nodes_[static_cast<size_t>(node)].id = id;
  }

  std::vector<std::string> pieces_;
  std::vector<double> scores_;
  std::unordered_map<std::string, int32_t> ids_;
  std::vector<Node> nodes_;
  int32_t unk_id_ = -1;
  double unk_score_ = 0;
  bool byte_fallback_ = false;
};

}  // namespace

Result<std::unique_ptr<Model>> make_unigram(const json& j) {
  auto m = std::make_unique<Unigram>();
  SGLANG_RETURN_IF_ERROR(m->load(j));
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace sglang::tok
