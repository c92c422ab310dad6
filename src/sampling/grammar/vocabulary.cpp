#include "sampling/grammar/vocabulary.h"

#include <algorithm>

namespace sglang::grammar {

Vocabulary::Vocabulary(std::vector<std::string> bytes, std::vector<uint8_t> special,
                       std::vector<int32_t> stop_ids)
    : bytes_(std::move(bytes)), special_(std::move(special)) {
  stop_.assign(bytes_.size(), 0);
  for (int32_t id : stop_ids) {
    if (id < 0 || static_cast<size_t>(id) >= bytes_.size() || stop_[static_cast<size_t>(id)]) {
      continue;
    }
    stop_[static_cast<size_t>(id)] = 1;
    stop_ids_.push_back(id);
  }
  std::sort(stop_ids_.begin(), stop_ids_.end());
  for (size_t i = 0; i < bytes_.size(); ++i) {
    if (bytes_[i].empty()) special_[i] = 1;
    if (!special_[i] && !stop_[i]) normal_ids_.push_back(static_cast<int32_t>(i));
  }
  normal_bits_.assign((bytes_.size() + 31) / 32, 0);
  for (int32_t id : normal_ids_) normal_bits_[static_cast<size_t>(id) / 32] |= 1u << (id % 32);
  build_trie();
}

void Vocabulary::build_trie() {
  std::vector<int32_t> order = normal_ids_;
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    const std::string& x = bytes_[static_cast<size_t>(a)];
    const std::string& y = bytes_[static_cast<size_t>(b)];
    return x != y ? x < y : a < b;
  });
  // `path[d]` is the node of the current string's first d + 1 bytes.
  std::vector<uint32_t> path;
  const std::string* prev = nullptr;
  auto close_until = [&](size_t depth) {
    while (path.size() > depth) {
      trie_.nodes[path.back()].subtree_end = static_cast<uint32_t>(trie_.nodes.size());
      path.pop_back();
    }
  };
  for (int32_t id : order) {
    const std::string& s = bytes_[static_cast<size_t>(id)];
    if (s.size() > 0xFFFF) continue;  // no real token is this long; depth is 16 bits
    size_t common = 0;
    if (prev) {
      while (common < s.size() && common < prev->size() && s[common] == (*prev)[common]) ++common;
    }
    close_until(common);
    for (size_t d = common; d < s.size(); ++d) {
      VocabularyTrie::Node n;
      n.byte = static_cast<uint8_t>(s[d]);
      n.depth = static_cast<uint16_t>(d + 1);
      n.tokens_begin = n.tokens_end = static_cast<uint32_t>(trie_.token_ids.size());
      path.push_back(static_cast<uint32_t>(trie_.nodes.size()));
      trie_.nodes.push_back(n);
    }
    // Sorted order puts every token of one string right after its node was made.
    VocabularyTrie::Node& last = trie_.nodes[path.back()];
    if (last.tokens_end != trie_.token_ids.size()) {
      last.tokens_begin = static_cast<uint32_t>(trie_.token_ids.size());
    }
    trie_.token_ids.push_back(id);
    last.tokens_end = static_cast<uint32_t>(trie_.token_ids.size());
    trie_.max_depth = std::max(trie_.max_depth, static_cast<int>(s.size()));
    prev = &s;
  }
  close_until(0);
  // Children before parents: a node's `below` is its children's bytes and their `below`s.
  trie_.below.assign(trie_.nodes.size(), {0, 0});
  trie_.utf8.assign(trie_.nodes.size(), 0);
  for (size_t i = trie_.nodes.size(); i-- > 0;) {
    std::array<uint64_t, 2>& b = trie_.below[i];
    uint16_t ok = (1u << VocabularyTrie::kUtf8States) - 1, flags = 0;
    for (size_t c = i + 1; c < trie_.nodes[i].subtree_end; c = trie_.nodes[c].subtree_end) {
      uint8_t byte = trie_.nodes[c].byte;
      uint16_t child = trie_.utf8[c];
      flags |= child & (VocabularyTrie::kUtf8Nul | VocabularyTrie::kUtf8NonAscii);
      if (byte == 0) flags |= VocabularyTrie::kUtf8Nul;
      if (byte >= 0x80) flags |= VocabularyTrie::kUtf8NonAscii;
      for (int q = 0; q < VocabularyTrie::kUtf8States; ++q) {
        int next = VocabularyTrie::utf8_step(q, byte);
        if (next < 0 || !(child >> next & 1u)) ok &= static_cast<uint16_t>(~(1u << q));
      }
      unsigned bit = byte < 0x80 ? byte : 0;
      b[bit / 64] |= uint64_t{1} << (bit % 64);
      b[0] |= trie_.below[c][0];
      b[1] |= trie_.below[c][1];
    }
    trie_.utf8[i] = ok | flags;
  }
}

int VocabularyTrie::utf8_step(int state, uint8_t byte) {
  auto in = [&](int lo, int hi) { return byte >= lo && byte <= hi; };
  switch (state) {
    case 0:
      if (byte < 0x80) return 0;
      if (in(0xC2, 0xDF)) return 1;
      if (byte == 0xE0) return 4;
      if (byte == 0xED) return 5;
      if (in(0xE1, 0xEF)) return 2;
      if (byte == 0xF0) return 6;
      if (byte == 0xF4) return 7;
      if (in(0xF1, 0xF3)) return 3;
      return -1;
    case 1:
    case 2:
    case 3:
      return in(0x80, 0xBF) ? state - 1 : -1;
    case 4:
      return in(0xA0, 0xBF) ? 1 : -1;
    case 5:
      return in(0x80, 0x9F) ? 1 : -1;
    case 6:
      return in(0x90, 0xBF) ? 2 : -1;
    case 7:
      return in(0x80, 0x8F) ? 2 : -1;
    default:
      return -1;
  }
}

std::shared_ptr<const Vocabulary> Vocabulary::from_token_bytes(
    std::vector<std::string> token_bytes, std::vector<int32_t> stop_token_ids) {
  std::vector<uint8_t> special(token_bytes.size(), 0);
  return std::make_shared<Vocabulary>(std::move(token_bytes), std::move(special),
                                      std::move(stop_token_ids));
}

}  // namespace sglang::grammar
