// The BPE model of tokenizer.json: a vocabulary and ranked merges. A piece starts as one symbol per
// character (per byte for byte-level vocabularies, whose pre-tokenizer already mapped bytes to
// characters) and the adjacent pair with the lowest merge rank is merged, leftmost first, until no
// pair has a merge: the same result as HF's priority-queue implementation.
#include <mutex>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <unordered_map>

#include "tokenizer/components.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace sglang::tok {
namespace {

using nlohmann::json;

struct PairHash {
  size_t operator()(uint64_t k) const { return std::hash<uint64_t>()(k * 0x9e3779b97f4a7c15ull); }
};

class Bpe final : public Model {
 public:
  Status load(const json& j) {
    SGLANG_RETURN_IF_ERROR(vocab_.load(j.value("vocab", json()), "BPE"));
    int32_t rank = 0;
    for (const auto& m : j.value("merges", json::array())) {
      std::string a, b;
      if (m.is_string()) {  // "a b" (older files)
        const std::string s = m.get<std::string>();
        const size_t sp = s.find(' ', 1);
        if (sp == std::string::npos)
          return make_error(ErrorCode::kCorrupt, "bad BPE merge '" + s + "'");
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else if (m.is_array() && m.size() == 2) {  // ["a", "b"]
        a = m[0].get<std::string>();
        b = m[1].get<std::string>();
      } else {
        return make_error(ErrorCode::kCorrupt, "bad BPE merge " + m.dump());
      }
      const int32_t ia = token_to_id(a), ib = token_to_id(b), im = token_to_id(a + b);
      if (ia < 0 || ib < 0 || im < 0) {
        return make_error(ErrorCode::kCorrupt,
                          "BPE merge '" + a + " " + b + "' uses tokens not in the vocabulary");
      }
      merges_.emplace(key(ia, ib), Merge{rank++, im});
    }
    ignore_merges_ = j.value("ignore_merges", false);
    byte_fallback_ = j.value("byte_fallback", false);
    fuse_unk_ = j.value("fuse_unk", false);
    if (j.contains("unk_token") && j["unk_token"].is_string())
      unk_id_ = token_to_id(j["unk_token"].get<std::string>());
    if (j.contains("continuing_subword_prefix") && j["continuing_subword_prefix"].is_string()) {
      prefix_ = j["continuing_subword_prefix"].get<std::string>();
    }
    if (j.contains("end_of_word_suffix") && j["end_of_word_suffix"].is_string()) {
      suffix_ = j["end_of_word_suffix"].get<std::string>();
    }
    return {};
  }

  void tokenize(std::string_view piece, std::vector<int32_t>& out) const override {
    if (piece.empty()) return;
    if (ignore_merges_) {
      const int32_t id = token_to_id(piece);
      if (id >= 0) {
        out.push_back(id);
        return;
      }
    }
    {
      std::shared_lock lock(cache_mutex_);
      auto it = cache_.find(std::string(piece));
      if (it != cache_.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<int32_t> ids = merge_word(piece);
    out.insert(out.end(), ids.begin(), ids.end());
    std::unique_lock lock(cache_mutex_);
    if (cache_.size() > kCacheCapacity) cache_.clear();
    cache_.emplace(std::string(piece), std::move(ids));
  }

  int64_t vocab_size() const override { return vocab_.size(); }
  std::string id_to_token(int32_t id) const override { return vocab_.id_to_token(id); }
  int32_t token_to_id(std::string_view t) const override { return vocab_.token_to_id(t); }

 private:
  struct Merge {
    int32_t rank;
    int32_t id;
  };
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  static constexpr size_t kCacheCapacity = 1 << 16;

  std::vector<int32_t> merge_word(std::string_view piece) const {
    // Initial symbols: characters, with the continuing-subword prefix on all but the first and the
    // end-of-word suffix on the last; unknown characters become unk (fused if fuse_unk) or bytes.
    std::vector<int32_t> syms;
    size_t i = 0;
    bool last_unk = false;
    while (i < piece.size()) {
      const size_t b = i;
      next_code_point(piece, i);
      std::string ch(piece.substr(b, i - b));
      if (b > 0) ch = prefix_ + ch;
      if (i == piece.size()) ch += suffix_;
      const int32_t id = token_to_id(ch);
      if (id >= 0) {
        syms.push_back(id);
        last_unk = false;
        continue;
      }
      if (byte_fallback_) {
        bool all = true;
        std::vector<int32_t> bytes;
        for (size_t k = b; k < i; ++k) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "<0x%02X>", static_cast<uint8_t>(piece[k]));
          const int32_t bid = token_to_id(buf);
          if (bid < 0) all = false;
          bytes.push_back(bid);
        }
        if (all) {
          syms.insert(syms.end(), bytes.begin(), bytes.end());
          last_unk = false;
          continue;
        }
      }
      if (unk_id_ >= 0 && !(fuse_unk_ && last_unk)) syms.push_back(unk_id_);
      last_unk = true;
    }
    while (syms.size() > 1) {
      int32_t best_rank = INT32_MAX;
      size_t best = 0;
      int32_t best_id = -1;
      for (size_t k = 0; k + 1 < syms.size(); ++k) {
        auto it = merges_.find(key(syms[k], syms[k + 1]));
        if (it != merges_.end() && it->second.rank < best_rank) {
          best_rank = it->second.rank;
          best = k;
          best_id = it->second.id;
        }
      }
      if (best_id < 0) break;
      syms[best] = best_id;
      syms.erase(syms.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    }
    return syms;
  }

  Vocab vocab_;
  std::unordered_map<uint64_t, Merge, PairHash> merges_;
  bool ignore_merges_ = false, byte_fallback_ = false, fuse_unk_ = false;
  int32_t unk_id_ = -1;
  std::string prefix_, suffix_;
  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace

Result<std::unique_ptr<Model>> make_model(const json& j) {
  const std::string type = j.value("type", "BPE");
  if (type == "BPE") {
    auto m = std::make_unique<Bpe>();
    SGLANG_RETURN_IF_ERROR(m->load(j));
    return std::unique_ptr<Model>(std::move(m));
  }
  if (type == "WordPiece") return make_wordpiece(j);
  if (type == "Unigram") return make_unigram(j);
  return make_error(ErrorCode::kUnsupported, "unsupported model type '" + type + "'");
}

}  // namespace sglang::tok
