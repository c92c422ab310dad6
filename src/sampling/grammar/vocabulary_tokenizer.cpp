// Vocabulary::from_tokenizer: the part of the vocabulary that reads our Tokenizer. It is compiled
// into sglang_core (where the tokenizer lives) so that sglang_grammar itself needs no tokenizer.
#include <unordered_map>

#include "sampling/grammar/vocabulary.h"
#include "tokenizer/components.h"
#include "tokenizer/tokenizer.h"

namespace sglang::grammar {

namespace {

constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // ▁

std::string replace_metaspace(const std::string& token) {
  std::string out;
  for (size_t i = 0; i < token.size();) {
    if (token.compare(i, kMetaspace.size(), kMetaspace) == 0) {
      out.push_back(' ');
      i += kMetaspace.size();
    } else {
      out.push_back(token[i++]);
    }
  }
  return out;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// GPT-2's table read backwards, one code point at a time; a character outside the table (an
// added token's text) stays as its UTF-8.
std::string byte_level_decode(const std::string& token) {
  std::string out;
  for (size_t i = 0; i < token.size();) {
    auto b0 = static_cast<unsigned char>(token[i]);
    size_t len = b0 < 0x80 ? 1 : (b0 >> 5) == 6 ? 2 : (b0 >> 4) == 14 ? 3 : (b0 >> 3) == 30 ? 4 : 1;
    if (i + len > token.size()) len = 1;
    char32_t cp = len == 1 ? b0 : len == 2 ? (b0 & 0x1f) : len == 3 ? (b0 & 0x0f) : (b0 & 0x07);
    for (size_t k = 1; k < len; ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(token[i + k]) & 0x3f);
    }
    int byte = tok::unicode_to_byte(cp);
    if (byte >= 0) {
      out.push_back(static_cast<char>(byte));
    } else {
      out.append(token, i, len);
    }
    i += len;
  }
  return out;
}

}  // namespace

std::string decode_token_string(const std::string& token, VocabType type) {
  switch (type) {
    case VocabType::kByteLevel:
      return byte_level_decode(token);
    case VocabType::kByteFallback:
      // `<0xNN>`: the byte itself (SentencePiece's byte fallback pieces).
      if (token.size() == 6 && token.compare(0, 3, "<0x") == 0 && token[5] == '>' &&
          hex(token[3]) >= 0 && hex(token[4]) >= 0) {
        return std::string(1, static_cast<char>(hex(token[3]) * 16 + hex(token[4])));
      }
      return replace_metaspace(token);
    case VocabType::kMetaspace:
      return replace_metaspace(token);
    case VocabType::kRaw:
    case VocabType::kAuto:
      break;
  }
  return token;
}

std::shared_ptr<const Vocabulary> Vocabulary::from_tokenizer(const Tokenizer& tok,
                                                             int64_t vocab_size,
                                                             std::vector<int32_t> stop_token_ids,
                                                             VocabType type) {
  int64_t n = std::max(vocab_size, tok.vocab_size());
  if (type == VocabType::kAuto) {
    // As xgrammar's TokenizerInfo tells the kinds apart (there from the decoder; here from what
    // the vocabulary holds, which is what the decoder implies): byte fallback pieces, else the
    // complete GPT-2 byte alphabet, else SentencePiece's word marker.
    bool all_bytes = true;
    for (int b = 0; b < 256 && all_bytes; ++b) {
      all_bytes = tok.token_to_id(tok::byte_to_unicode(static_cast<uint8_t>(b))) >= 0;
    }
    if (tok.token_to_id("<0x0A>") >= 0 && tok.token_to_id("<0x00>") >= 0) {
      type = VocabType::kByteFallback;
    } else if (all_bytes) {
      type = VocabType::kByteLevel;
    } else if (tok.token_to_id(std::string(kMetaspace)) >= 0) {
      type = VocabType::kMetaspace;
    } else {
      type = VocabType::kRaw;
    }
  }
  std::unordered_map<int32_t, const AddedToken*> added;
  for (const AddedToken& a : tok.added_tokens()) added[a.id] = &a;
  std::vector<std::string> bytes(static_cast<size_t>(n));
  std::vector<uint8_t> special(static_cast<size_t>(n), 0);
  for (int64_t id = 0; id < n; ++id) {
    auto i = static_cast<size_t>(id);
    if (id >= tok.vocab_size()) {
      special[i] = 1;  // padding of the logits past the tokenizer
      continue;
    }
    auto id32 = static_cast<int32_t>(id);
    if (auto it = added.find(id32); it != added.end()) {
      // An added token is its text as written; a special one produces nothing a grammar sees.
      if (it->second->special) {
        special[i] = 1;
      } else {
        bytes[i] = it->second->content;
      }
      continue;
    }
    if (tok.is_special(id32)) {
      special[i] = 1;
      continue;
    }
    bytes[i] = decode_token_string(tok.id_to_token(id32), type);
  }
  return std::make_shared<Vocabulary>(std::move(bytes), std::move(special),
                                      std::move(stop_token_ids));
}

}  // namespace sglang::grammar
