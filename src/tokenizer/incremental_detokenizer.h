#pragma once
// Streaming detokenization, as SGLang's detokenizer manager does it: ids arrive one (or a few) at a
// time and only text that can no longer change is emitted. A decode ending in U+FFFD may be an
// incomplete UTF-8 character whose remaining bytes are in tokens still to come, so it is held back.
// Pieces are always valid UTF-8, and their concatenation after finish() is decode(all ids).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace sglang {

class IncrementalDetokenizer {
 public:
  IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens)
      : tokenizer_(tokenizer), skip_special_(skip_special_tokens) {}

  // Adds ids; returns the newly final text (possibly empty).
  std::string push(std::span<const int32_t> ids);
  // Returns whatever is still held back (a trailing incomplete character becomes U+FFFD).
  std::string finish();
  const std::vector<int32_t>& ids() const { return ids_; }

 private:
  std::string decode_range(size_t begin, size_t end) const;

  const Tokenizer& tokenizer_;
  bool skip_special_;
  std::vector<int32_t> ids_;
  // ids_[prefix_offset_, read_offset_) decode to the text already emitted last time, kept as
  // context so that decoders that look at neighbouring tokens see them.
  size_t prefix_offset_ = 0;
  size_t read_offset_ = 0;
};

}  // namespace sglang
