#include "tokenizer/gguf_components.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <queue>
#include <shared_mutex>
#include <unordered_map>

#include "tokenizer/unicode.h"

namespace sglang::tok {
namespace {

// Bytes in the UTF-8 character that starts with `lead`, as llama.cpp counts them (a stray
// continuation byte counts as one).
size_t utf8_length(char lead) {
  const auto b = static_cast<uint8_t>(lead);
  return b < 0xc0 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
}

class GgufBpe final : public Model {
 public:
  GgufBpe(std::vector<std::string> tokens, const std::vector<std::string>& merges,
          bool ignore_merges)
      : tokens_(std::move(tokens)), ignore_merges_(ignore_merges) {
    ids_.reserve(tokens_.size());
    for (size_t i = 0; i < tokens_.size(); ++i) ids_.emplace(tokens_[i], static_cast<int32_t>(i));
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      const std::string& m = merges[rank];
      const size_t space = m.find(' ', 1);
      if (space == std::string::npos) continue;  // llama.cpp keeps it as a pair that never matches
      const int32_t a = token_to_id(std::string_view(m).substr(0, space));
      const int32_t b = token_to_id(std::string_view(m).substr(space + 1));
      // The first of duplicate merges keeps its rank, as in llama.cpp.
      if (a >= 0 && b >= 0) {
        id_ranks_.emplace(pair_key(a, b), static_cast<int32_t>(rank));
      } else {
        text_ranks_.emplace(m, static_cast<int32_t>(rank));
      }
    }
  }

  void tokenize(std::string_view word, std::vector<int32_t>& out) const override {
    if (word.empty()) return;
    if (ignore_merges_) {
      if (const int32_t id = token_to_id(word); id >= 0) {
        out.push_back(id);
        return;
      }
    }
    {
      std::shared_lock lock(cache_mutex_);
      if (auto it = cache_.find(std::string(word)); it != cache_.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<int32_t> ids = merge(word);
    out.insert(out.end(), ids.begin(), ids.end());
    std::unique_lock lock(cache_mutex_);
    if (cache_.size() > kCacheCapacity) cache_.clear();
    cache_.emplace(std::string(word), std::move(ids));
  }

  int64_t vocab_size() const override { return static_cast<int64_t>(tokens_.size()); }
  std::string id_to_token(int32_t id) const override {
    return id >= 0 && static_cast<size_t>(id) < tokens_.size() ? tokens_[static_cast<size_t>(id)]
                                                               : std::string();
  }
  int32_t token_to_id(std::string_view t) const override {
    auto it = ids_.find(std::string(t));
    return it == ids_.end() ? -1 : it->second;
  }

 private:
  static constexpr size_t kCacheCapacity = 1 << 16;
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  struct Symbol {
    size_t begin, size;  // bytes of the word; size 0 once merged into the symbol on its left
    int prev, next;      // neighbours, -1 at the ends
    int32_t id;          // the token this text is, or -1
  };
  struct Candidate {
    int32_t rank;
    int left, right;
    size_t left_size, right_size;  // the symbols' sizes when queued: stale once either changed
    // A min-heap on (rank, left): the lowest rank first, the leftmost among equal ranks.
    bool operator<(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };

  int32_t rank_of(std::string_view word, const Symbol& l, const Symbol& r) const {
    if (l.id >= 0 && r.id >= 0) {
      auto it = id_ranks_.find(pair_key(l.id, r.id));
      return it == id_ranks_.end() ? -1 : it->second;
    }
    if (text_ranks_.empty()) return -1;
    std::string key(word.substr(l.begin, l.size));
    key += ' ';
    key.append(word.substr(r.begin, r.size));
    auto it = text_ranks_.find(key);
    return it == text_ranks_.end() ? -1 : it->second;
  }

  std::vector<int32_t> merge(std::string_view word) const {
    std::vector<Symbol> syms;
    for (size_t at = 0; at < word.size();) {
      const size_t n = std::min(utf8_length(word[at]), word.size() - at);
      const int index = static_cast<int>(syms.size());
      syms.push_back({at, n, index - 1, at + n == word.size() ? -1 : index + 1,
                      token_to_id(word.substr(at, n))});
      at += n;
    }
    std::priority_queue<Candidate> queue;
    auto offer = [&](int l, int r) {
      if (l < 0 || r < 0) return;
      const int32_t rank =
          rank_of(word, syms[static_cast<size_t>(l)], syms[static_cast<size_t>(r)]);
      if (rank >= 0) {
        queue.push(
            {rank, l, r, syms[static_cast<size_t>(l)].size, syms[static_cast<size_t>(r)].size});
      }
    };
    for (int i = 1; i < static_cast<int>(syms.size()); ++i) offer(i - 1, i);
    while (!queue.empty()) {
      const Candidate c = queue.top();
      queue.pop();
      Symbol& l = syms[static_cast<size_t>(c.left)];
      Symbol& r = syms[static_cast<size_t>(c.right)];
      if (l.size != c.left_size || r.size != c.right_size || l.size == 0 || r.size == 0) continue;
      l.size += r.size;
      r.size = 0;
      l.next = r.next;
      if (r.next >= 0) syms[static_cast<size_t>(r.next)].prev = c.left;
      l.id = token_to_id(word.substr(l.begin, l.size));
      offer(l.prev, c.left);
      offer(c.left, l.next);
    }
    std::vector<int32_t> ids;
    for (int i = syms.empty() ? -1 : 0; i >= 0; i = syms[static_cast<size_t>(i)].next) {
      const Symbol& s = syms[static_cast<size_t>(i)];
      if (s.id >= 0) {
        ids.push_back(s.id);
        continue;
      }
      // Not a token: its single bytes that are tokens (llama.cpp drops the others).
      for (size_t k = 0; k < s.size; ++k) {
        if (const int32_t b = token_to_id(word.substr(s.begin + k, 1)); b >= 0) ids.push_back(b);
      }
    }
    return ids;
  }

  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t> ids_;
  std::unordered_map<uint64_t, int32_t> id_ranks_;       // both halves are tokens
  std::unordered_map<std::string, int32_t> text_ranks_;  // "left right" otherwise
  bool ignore_merges_;
  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

// Decodes UTF-8 as llama.cpp's unicode_cpts_from_utf8: a byte that does not start a complete
// sequence becomes U+FFFD on its own.
std::vector<char32_t> llama_code_points(std::string_view s) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<uint8_t>(s[i]);
    const size_t n = b < 0x80 ? 1 : b < 0xc0 ? 0 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : b < 0xf8 ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<uint8_t>(s[i + k]) & 0xc0) == 0x80;
    if (!ok) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    char32_t cp = n == 1 ? b : b & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3f);
    out.push_back(cp);
    i += n;
  }
  return out;
}

// llama.cpp's llama_decode_text: each character of a normal token back to its byte; one outside
// GPT-2's map is written as "[UNK_BYTE_0x<its UTF-8 in hex><the whole token>]".
void append_decoded_text(std::string& out, const std::string& token) {
  for (char32_t cp : llama_code_points(token)) {
    const int byte = unicode_to_byte(cp);
    if (byte >= 0) {
      out.push_back(static_cast<char>(byte));
      continue;
    }
    std::string utf8;
    append_utf8(utf8, cp <= 0x10FFFF ? cp : 0xFFFD);
    out += "[UNK_BYTE_0x";
    char hex[3];
    for (char c : utf8) {
      std::snprintf(hex, sizeof(hex), "%02x", static_cast<uint8_t>(c));
      out += hex;
    }
    out += token + "]";
  }
}

// The three passes of llama.cpp's detokenizer with clean_spaces, in place on `t` as there: the
// space before ?!., goes; " ' " becomes "'"; the space before 's 'm 're 've goes.
void clean_spaces(std::string& t) {
  size_t total = t.size();
  // First pass.
  size_t n = total;
  total = n ? 1 : 0;
  for (size_t i = 1; i < n; ++i) {
    const char x = t[i];
    if (t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
    t[total++] = x;
  }
  // Second pass.
  n = total;
  total = n ? 1 : 0;
  for (size_t i = 1; i < n; ++i) {
    const char x = t[i];
    if (x == '\'' && i + 1 < n && t[i - 1] == ' ' && t[i + 1] == ' ') {
      --total;
      t[++i] = '\0';
    }
    t[total++] = x;
  }
  // Third pass.
  n = total;
  total = n ? 1 : 0;
  for (size_t i = 1; i < n; ++i) {
    const char x = t[i];
    if (t[i - 1] == ' ' && x == '\'' && i + 1 < n) {
      const char x1 = t[i + 1];
      if (x1 == 's' || x1 == 'm') {
        --total;
      } else if (x1 != 't' && x1 != 'd' && i + 2 < n) {
        const char x2 = t[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
      }
    }
    t[total++] = x;
  }
  t.resize(total);
}

const std::string kEscapedSpace = "\u2581";

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, from.size(), from) == 0) {
      out += to;
      i += from.size();
    } else {
      out += s[i++];
    }
  }
  s = std::move(out);
}

class GgufDecoder final : public Decoder {
 public:
  GgufDecoder(const std::vector<std::string>& tokens, const std::vector<GgufPiece>& pieces,
              const GgufDecodeOptions& options)
      : options_(options) {
    for (size_t i = 0; i < tokens.size() && i < pieces.size(); ++i) {
      if (pieces[i] != GgufPiece::kText) special_.emplace(tokens[i], pieces[i]);
    }
  }
  // A skipped first token still uses up the first-token space strip.
  bool wants_skipped_tokens() const override { return options_.strip_first_space; }

  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string out;
    bool strip = options_.strip_first_space;
    for (const auto& t : tokens) {
      std::string piece;
      auto it = special_.find(t);
      const GgufPiece kind = t.empty()              ? GgufPiece::kNothing  // a skipped token
                             : it == special_.end() ? GgufPiece::kText
                                                    : it->second;
      switch (kind) {
        case GgufPiece::kText:
          if (options_.sentencepiece) {
            piece = t;
            replace_all(piece, kEscapedSpace, " ");
          } else {
            append_decoded_text(piece, t);
          }
          break;
        case GgufPiece::kVerbatim:
          piece = t;
          break;
        case GgufPiece::kByte:
          // llama.cpp reads the two characters after "<0x" as hex.
          if (t.size() >= 5) {
            piece.push_back(static_cast<char>(std::strtol(t.substr(3, 2).c_str(), nullptr, 16)));
          }
          break;
        case GgufPiece::kNothing:
          break;
      }
      if (strip && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
      strip = false;
      out += piece;
    }
    if (options_.clean_spaces) clean_spaces(out);
    return {utf8_lossy(out)};
  }

 private:
  // Token text -> how it is written, for all but normal tokens (token texts are unique).
  std::unordered_map<std::string, GgufPiece> special_;
  GgufDecodeOptions options_;
};

class GgufSpm final : public Model {
 public:
  GgufSpm(std::vector<std::string> tokens, std::vector<float> scores)
      : tokens_(std::move(tokens)), scores_(std::move(scores)) {
    scores_.resize(tokens_.size(), 0.0f);
    ids_.reserve(tokens_.size());
    for (size_t i = 0; i < tokens_.size(); ++i) ids_.emplace(tokens_[i], static_cast<int32_t>(i));
    // llama.cpp's byte_to_token: "<0xAB>", else the one-byte token.
    for (int b = 0; b < 256; ++b) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "<0x%02X>", b);
      int32_t id = token_to_id(hex);
      if (id < 0) id = token_to_id(std::string(1, static_cast<char>(b)));
      byte_ids_[static_cast<size_t>(b)] = id;
    }
  }

  void tokenize(std::string_view text, std::vector<int32_t>& out) const override {
    if (text.empty()) return;
    {
      std::shared_lock lock(cache_mutex_);
      if (auto it = cache_.find(std::string(text)); it != cache_.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<int32_t> ids = merge(text);
    out.insert(out.end(), ids.begin(), ids.end());
    std::unique_lock lock(cache_mutex_);
    if (cache_.size() > kCacheCapacity) cache_.clear();
    cache_.emplace(std::string(text), std::move(ids));
  }
  int64_t vocab_size() const override { return static_cast<int64_t>(tokens_.size()); }
  std::string id_to_token(int32_t id) const override {
    return id >= 0 && static_cast<size_t>(id) < tokens_.size() ? tokens_[static_cast<size_t>(id)]
                                                               : std::string();
  }
  int32_t token_to_id(std::string_view t) const override {
    auto it = ids_.find(std::string(t));
    return it == ids_.end() ? -1 : it->second;
  }

 private:
  static constexpr size_t kCacheCapacity = 1 << 16;
  struct Symbol {
    size_t begin, size;  // size 0 once merged into the symbol on its left
    int prev, next;
  };
  struct Candidate {
    float score;
    int left, right;
    size_t left_size, right_size;  // the symbols' sizes when queued: stale once either changed
    // A max-heap on score, the leftmost among equal scores first.
    bool operator<(const Candidate& o) const {
      return score != o.score ? score < o.score : left > o.left;
    }
  };

  std::vector<int32_t> merge(std::string_view text) const {
    std::vector<Symbol> syms;
    for (size_t at = 0; at < text.size();) {
      const size_t n = std::min(utf8_length(text[at]), text.size() - at);
      const int index = static_cast<int>(syms.size());
      syms.push_back({at, n, index - 1, at + n == text.size() ? -1 : index + 1});
      at += n;
    }
    std::priority_queue<Candidate> queue;
    auto offer = [&](int l, int r) {
      if (l < 0 || r < 0) return;
      const Symbol& a = syms[static_cast<size_t>(l)];
      const Symbol& b = syms[static_cast<size_t>(r)];
      const int32_t id = token_to_id(text.substr(a.begin, a.size + b.size));
      if (id >= 0) queue.push({scores_[static_cast<size_t>(id)], l, r, a.size, b.size});
    };
    for (int i = 1; i < static_cast<int>(syms.size()); ++i) offer(i - 1, i);
    while (!queue.empty()) {
      const Candidate c = queue.top();
      queue.pop();
      Symbol& l = syms[static_cast<size_t>(c.left)];
      Symbol& r = syms[static_cast<size_t>(c.right)];
      if (l.size != c.left_size || r.size != c.right_size || l.size == 0 || r.size == 0) continue;
      l.size += r.size;
      r.size = 0;
      l.next = r.next;
      if (r.next >= 0) syms[static_cast<size_t>(r.next)].prev = c.left;
      offer(l.prev, c.left);
      offer(c.left, l.next);
    }
    std::vector<int32_t> ids;
    for (int i = syms.empty() ? -1 : 0; i >= 0; i = syms[static_cast<size_t>(i)].next) {
      const Symbol& s = syms[static_cast<size_t>(i)];
      if (const int32_t id = token_to_id(text.substr(s.begin, s.size)); id >= 0) {
        ids.push_back(id);
        continue;
      }
      // Only a single character can be no token (merges only make tokens): its bytes.
      for (size_t k = 0; k < s.size; ++k) {
        const int32_t b = byte_ids_[static_cast<uint8_t>(text[s.begin + k])];
        if (b >= 0) ids.push_back(b);
      }
    }
    return ids;
  }

  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::unordered_map<std::string, int32_t> ids_;
  std::array<int32_t, 256> byte_ids_{};
  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

class SpmEscape final : public PreTokenizer {
 public:
  explicit SpmEscape(bool add_space_prefix) : prefix_(add_space_prefix) {}
  void split(std::vector<std::string>& pieces) const override {
    for (auto& p : pieces) {
      if (prefix_) p.insert(p.begin(), ' ');
      replace_all(p, " ", kEscapedSpace);
    }
  }

 private:
  bool prefix_;
};

}  // namespace

std::unique_ptr<Model> make_gguf_bpe(std::vector<std::string> tokens,
                                     const std::vector<std::string>& merges, bool ignore_merges) {
  return std::make_unique<GgufBpe>(std::move(tokens), merges, ignore_merges);
}

std::unique_ptr<Model> make_gguf_spm(std::vector<std::string> tokens, std::vector<float> scores) {
  return std::make_unique<GgufSpm>(std::move(tokens), std::move(scores));
}

std::unique_ptr<PreTokenizer> make_gguf_spm_escape(bool add_space_prefix) {
  return std::make_unique<SpmEscape>(add_space_prefix);
}

std::unique_ptr<Decoder> make_gguf_decoder(const std::vector<std::string>& tokens,
                                           const std::vector<GgufPiece>& pieces,
                                           const GgufDecodeOptions& options) {
  return std::make_unique<GgufDecoder>(tokens, pieces, options);
}

}  // namespace sglang::tok
