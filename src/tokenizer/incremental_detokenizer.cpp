#include "tokenizer/incremental_detokenizer.h"

namespace sglang {

namespace {
constexpr std::string_view kReplacement = "\xef\xbf\xbd";
bool ends_with_replacement(const std::string& s) {
  return s.size() >= kReplacement.size() &&
         s.compare(s.size() - kReplacement.size(), kReplacement.size(), kReplacement) == 0;
}
}  // namespace

std::string IncrementalDetokenizer::decode_range(size_t begin, size_t end) const {
  return tokenizer_.decode(std::vector<int32_t>(ids_.begin() + static_cast<std::ptrdiff_t>(begin),
                                                ids_.begin() + static_cast<std::ptrdiff_t>(end)),
                           skip_special_);
}

std::string IncrementalDetokenizer::push(std::span<const int32_t> ids) {
  ids_.insert(ids_.end(), ids.begin(), ids.end());
  const std::string prefix_text = decode_range(prefix_offset_, read_offset_);
  const std::string new_text = decode_range(prefix_offset_, ids_.size());
  if (new_text.size() > prefix_text.size() && !ends_with_replacement(new_text)) {
    prefix_offset_ = read_offset_;
    read_offset_ = ids_.size();
    return new_text.substr(prefix_text.size());
  }
  return {};
}

std::string IncrementalDetokenizer::finish() {
  const std::string prefix_text = decode_range(prefix_offset_, read_offset_);
  const std::string new_text = decode_range(prefix_offset_, ids_.size());
  prefix_offset_ = read_offset_ = ids_.size();
  return new_text.size() > prefix_text.size() ? new_text.substr(prefix_text.size()) : std::string();
}

}  // namespace sglang
