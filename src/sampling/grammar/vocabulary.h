#pragma once
// The vocabulary as the matcher sees it: each token id's byte string, which ids are special
// (never allowed by a mask) and the stop ids (allowed exactly when the grammar can end). Built
// once per model, immutable, shared by every compiled grammar.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sglang {
class Tokenizer;
}

namespace sglang::grammar {

// How token strings map to bytes, as xgrammar's TokenizerInfo distinguishes vocabularies.
enum class VocabType : uint8_t {
  kAuto,          // from_tokenizer decides from the vocabulary
  kRaw,           // tokens are their bytes
  kByteLevel,     // GPT-2's byte-to-character table (Qwen, Llama 3, GPT-2)
  kByteFallback,  // SentencePiece: `▁` is a space, `<0xNN>` the byte NN (Llama 2, Mistral)
  kMetaspace,     // SentencePiece without byte fallback: `▁` is a space
};

// The normal tokens' byte strings as a trie in preorder: walking it visits every token once and
// skips a whole subtree (every token with that prefix) in one step.
struct VocabularyTrie {
  struct Node {
    uint32_t subtree_end = 0;                   // the index after this node's subtree
    uint32_t tokens_begin = 0, tokens_end = 0;  // into token_ids: the tokens that end here
    uint16_t depth = 0;                         // 1 for a first byte
    uint8_t byte = 0;
  };
  std::vector<Node> nodes;
  std::vector<int32_t> token_ids;
  int max_depth = 0;
  // Per node, the ASCII bytes (bit b of word b / 64) found below it in its subtree; bit 0 also
  // stands for NUL and every byte from 0x80, so a walk may take a whole subtree at once where its
  // stack set loops on each of them (inside a string, say).
  std::vector<std::array<uint64_t, 2>> below;
  // Per node, UTF-8 below it: bit q (q < kUtf8States) set when every byte string below reads
  // as well-formed UTF-8 (a prefix of it) from decoder state q (utf8_step); kUtf8Nul and
  // kUtf8NonAscii say whether a NUL or a byte from 0x80 is there.
  std::vector<uint16_t> utf8;
  static constexpr int kUtf8States = 8;  // 0: at a code point's start
  static constexpr uint16_t kUtf8Nul = 1u << 8, kUtf8NonAscii = 1u << 9;
  // The decoder state after `byte` from `state`, -1 if ill-formed (RFC 3629's table: 1-3
  // continuation bytes to come, or the first of them restricted after E0, ED, F0, F4).
  static int utf8_step(int state, uint8_t byte);
  // The tokens of node i's subtree: token_ids[nodes[i].tokens_begin, subtree_tokens_end(i)).
  uint32_t subtree_tokens_end(size_t i) const {
    size_t e = nodes[i].subtree_end;
    return e < nodes.size() ? nodes[e].tokens_begin : static_cast<uint32_t>(token_ids.size());
  }
};

class Vocabulary {
 public:
  // Tokens of `tok` decoded per `type` (kAuto: the vocabulary decides), ids past the
  // tokenizer's vocabulary up to `vocab_size` (the logits width) special, as are the added
  // special tokens (their text is not what they produce).
  static std::shared_ptr<const Vocabulary> from_tokenizer(const Tokenizer& tok, int64_t vocab_size,
                                                          std::vector<int32_t> stop_token_ids,
                                                          VocabType type = VocabType::kAuto);
  // Raw byte strings per id; empty strings are special.
  static std::shared_ptr<const Vocabulary> from_token_bytes(std::vector<std::string> token_bytes,
                                                            std::vector<int32_t> stop_token_ids);

  int64_t size() const { return static_cast<int64_t>(bytes_.size()); }  // the logits width
  int64_t bitmask_words() const { return (size() + 31) / 32; }
  const std::string& token_bytes(int32_t id) const { return bytes_[static_cast<size_t>(id)]; }
  bool is_special(int32_t id) const { return special_[static_cast<size_t>(id)] != 0; }
  bool is_stop(int32_t id) const { return stop_[static_cast<size_t>(id)] != 0; }
  const std::vector<int32_t>& stop_token_ids() const { return stop_ids_; }
  // The ids the grammar decides: neither special nor stop tokens.
  const std::vector<int32_t>& normal_token_ids() const { return normal_ids_; }
  const VocabularyTrie& trie() const { return trie_; }
  // One bit per normal token, in the bitmask's layout.
  const std::vector<uint32_t>& normal_bits() const { return normal_bits_; }

  // Use the factories; public for std::make_shared.
  Vocabulary(std::vector<std::string> bytes, std::vector<uint8_t> special,
             std::vector<int32_t> stop_ids);

 private:
  std::vector<std::string> bytes_;
  std::vector<uint8_t> special_;
  std::vector<uint8_t> stop_;
  std::vector<int32_t> stop_ids_;
  std::vector<int32_t> normal_ids_;
  std::vector<uint32_t> normal_bits_;
  VocabularyTrie trie_;

  void build_trie();
};

// Decodes one token string of a vocabulary of `type` (not kAuto) to its bytes.
std::string decode_token_string(const std::string& token, VocabType type);

}  // namespace sglang::grammar
