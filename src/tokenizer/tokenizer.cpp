#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/unicode.h"
#include "util/json_text.h"

namespace sglang {
namespace {

using nlohmann::json;

bool is_word_char(char32_t c) {
  // Rust's char::is_alphanumeric plus '_' approximates the \w that HF's single_word check uses.
  return c == '_' || (c < 0x80 ? std::isalnum(static_cast<int>(c)) != 0 : c >= 0xaa);
}

// Rust's char::is_whitespace (Unicode White_Space), which HF's lstrip / rstrip use.
bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
         c == 0x3000;
}

// Start of the code point that ends at byte `end` (> 0).
size_t prev_code_point_start(std::string_view s, size_t end) {
  size_t b = end - 1;
  while (b > 0 && (static_cast<uint8_t>(s[b]) & 0xc0) == 0x80) --b;
  return b;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_json(const std::string& text,
                                                        const std::string& source) {
  json j = parse_json_text(text);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorCode::kCorrupt, source + " is not a valid JSON object");
  }
  return from_json_value(j, source);
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_json_value(const json& j,
                                                              const std::string& source) {
  if (!j.is_object()) return make_error(ErrorCode::kCorrupt, source + " is not a JSON object");
  auto wrap = [&](const Error& e) { return make_error(e.code, e.message + " in " + source); };
  auto t = std::unique_ptr<Tokenizer>(new Tokenizer());
  if (!j.contains("model") || !j["model"].is_object())
    return make_error(ErrorCode::kNotFound, "missing field 'model' in " + source);
  auto model = tok::make_model(j["model"]);
  if (!model.ok()) return wrap(model.error());
  t->model_ = std::move(*model);
  if (j.contains("normalizer") && !j["normalizer"].is_null()) {
    auto n = tok::make_normalizer(j["normalizer"]);
    if (!n.ok()) return wrap(n.error());
    t->normalizer_ = std::move(*n);
  }
  if (j.contains("pre_tokenizer") && !j["pre_tokenizer"].is_null()) {
    auto p = tok::make_pre_tokenizer(j["pre_tokenizer"]);
    if (!p.ok()) return wrap(p.error());
    t->pre_tokenizer_ = std::move(*p);
  }
  auto post = tok::make_post_processor(j.value("post_processor", json()), *t->model_);
  if (!post.ok()) return wrap(post.error());
  t->post_processor_ = std::move(*post);
  if (j.contains("decoder") && !j["decoder"].is_null()) {
    auto d = tok::make_decoder(j["decoder"]);
    if (!d.ok()) return wrap(d.error());
    t->decoder_ = std::move(*d);
  }
  for (const auto& a : j.value("added_tokens", json::array())) {
    AddedToken tok;
    tok.id = a.value("id", -1);
    tok.content = a.value("content", "");
    tok.special = a.value("special", false);
    tok.lstrip = a.value("lstrip", false);
    tok.rstrip = a.value("rstrip", false);
    tok.single_word = a.value("single_word", false);
    tok.normalized = a.value("normalized", !tok.special);
    if (tok.id < 0 || tok.content.empty())
      return make_error(ErrorCode::kCorrupt, "bad added token " + a.dump() + " in " + source);
    t->added_.push_back(std::move(tok));
  }
  t->index_added();
  if (const json tr = j.value("truncation", json()); tr.is_object()) {
    Truncation x;
    x.max_length = tr.value("max_length", size_t{512});
    x.stride = tr.value("stride", size_t{0});
    x.left = tr.value("direction", "Right") == "Left";
    const std::string strategy = tr.value("strategy", "LongestFirst");
    if (strategy == "OnlyFirst") {
      x.strategy = Truncation::Strategy::kOnlyFirst;
    } else if (strategy == "OnlySecond") {
      x.strategy = Truncation::Strategy::kOnlySecond;
    } else if (strategy != "LongestFirst") {
      return make_error(ErrorCode::kCorrupt,
                        "unknown truncation strategy '" + strategy + "' in " + source);
    }
    t->file_truncation_ = x;
  }
  if (const json pd = j.value("padding", json()); pd.is_object()) {
    Padding x;
    const json strategy = pd.value("strategy", json("BatchLongest"));
    if (strategy.is_object() && strategy.contains("Fixed"))
      x.length = strategy["Fixed"].get<size_t>();
    x.left = pd.value("direction", "Right") == "Left";
    if (pd.contains("pad_to_multiple_of") && pd["pad_to_multiple_of"].is_number_unsigned())
      x.pad_to_multiple_of = pd["pad_to_multiple_of"].get<size_t>();
    x.pad_id = pd.value("pad_id", 0);
    x.pad_type_id = pd.value("pad_type_id", 0);
    x.pad_token = pd.value("pad_token", "[PAD]");
    t->file_padding_ = x;
  }
  return t;
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_parts(TokenizerParts parts) {
  if (!parts.model || !parts.post_processor) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a tokenizer needs a model and a post-processor");
  }
  auto t = std::unique_ptr<Tokenizer>(new Tokenizer());
  t->normalizer_ = std::move(parts.normalizer);
  t->pre_tokenizer_ = std::move(parts.pre_tokenizer);
  t->model_ = std::move(parts.model);
  t->post_processor_ = std::move(parts.post_processor);
  t->decoder_ = std::move(parts.decoder);
  t->matching_ = parts.matching;
  for (AddedToken& a : parts.added_tokens) {
    if (a.id < 0 || a.content.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "bad added token '" + a.content + "' (id " + std::to_string(a.id) + ")");
    }
    t->added_.push_back(std::move(a));
  }
  t->index_added();
  return t;
}

void Tokenizer::index_added() {
  for (auto& table : added_by_first_byte_)
    for (auto& v : table) v.clear();
  added_by_id_.clear();
  added_by_content_.clear();
  // llama.cpp sorts its ascending-id list of special tokens with std::sort by length: the same
  // input and comparator give the same order, ties included.
  added_longest_first_.resize(added_.size());
  for (size_t i = 0; i < added_.size(); ++i) added_longest_first_[i] = i;
  std::stable_sort(added_longest_first_.begin(), added_longest_first_.end(),
                   [&](size_t a, size_t b) { return added_[a].id < added_[b].id; });
  std::sort(added_longest_first_.begin(), added_longest_first_.end(), [&](size_t a, size_t b) {
    return added_[a].content.size() > added_[b].content.size();
  });
  for (size_t i = 0; i < added_.size(); ++i) {
    const AddedToken& a = added_[i];
    added_by_first_byte_[a.normalized ? 1 : 0][static_cast<uint8_t>(a.content[0])].push_back(i);
    added_by_id_.emplace(a.id, i);  // the first entry wins, as the scans did
    added_by_content_.emplace(a.content, i);
  }
}

void Tokenizer::add_tokens(const std::vector<AddedToken>& tokens) {
  for (const AddedToken& a : tokens) {
    if (a.content.empty() || added_by_id_.count(a.id) || added_by_content_.count(a.content))
      continue;
    added_.push_back(a);
    added_by_id_.emplace(a.id, added_.size() - 1);
    added_by_content_.emplace(a.content, added_.size() - 1);
  }
  index_added();
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return from_json(ss.str(), path);
}

void Tokenizer::split_added(std::string_view text, bool normalized_pass, bool split_special,
                            std::vector<Segment>& out) const {
  size_t plain_start = 0, pos = 0;
  while (pos < text.size()) {
    // The longest added token of this pass starting at pos.
    const AddedToken* best = nullptr;
    for (size_t index :
         added_by_first_byte_[normalized_pass ? 1 : 0][static_cast<uint8_t>(text[pos])]) {
      const AddedToken& a = added_[index];
      if (split_special && a.special) continue;
      if (a.content.size() > text.size() - pos) continue;
      if (text.compare(pos, a.content.size(), a.content) != 0) continue;
      if (best && best->content.size() >= a.content.size()) continue;
      if (a.single_word) {
        size_t after = pos + a.content.size();
        bool word_before = false, word_after = false;
        if (pos > 0) {
          size_t b = pos - 1;
          while (b > 0 && (static_cast<uint8_t>(text[b]) & 0xc0) == 0x80) --b;
          size_t i = b;
          word_before = is_word_char(tok::next_code_point(text, i));
        }
        if (after < text.size()) word_after = is_word_char(tok::next_code_point(text, after));
        if (word_before || word_after) continue;
      }
      best = &a;
    }
    if (best == nullptr) {
      size_t i = pos;
      tok::next_code_point(text, i);
      pos = i;
      continue;
    }
    size_t b = pos, e = pos + best->content.size();
    if (best->lstrip) {
      while (b > plain_start) {
        const size_t p = prev_code_point_start(text, b);
        size_t i = p;
        if (!is_white_space(tok::next_code_point(text, i))) break;
        b = p;
      }
    }
    if (best->rstrip) {
      while (e < text.size()) {
        size_t i = e;
        if (!is_white_space(tok::next_code_point(text, i))) break;
        e = i;
      }
    }
    if (b > plain_start)
      out.push_back({std::string(text.substr(plain_start, b - plain_start)), -1});
    out.push_back({best->content, best->id});
    plain_start = pos = e;
  }
  if (plain_start < text.size()) out.push_back({std::string(text.substr(plain_start)), -1});
}

void Tokenizer::split_added_longest_first(std::string_view text, bool split_special,
                                          std::vector<Segment>& out) const {
  struct Stretch {
    size_t begin, end;
    const AddedToken* token;  // null: text
  };
  // C's isspace in the "C" locale, which llama.cpp's lstrip / rstrip use.
  auto ascii_space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  std::vector<Stretch> stretches;
  if (!text.empty()) stretches.push_back({0, text.size(), nullptr});
  std::vector<Stretch> next;
  for (size_t index : added_longest_first_) {
    const AddedToken& a = added_[index];
    if (split_special && a.special) continue;
    next.clear();
    for (const Stretch& s : stretches) {
      if (s.token) {
        next.push_back(s);
        continue;
      }
      const std::string_view region = text.substr(0, s.end);
      size_t from = s.begin;
      for (size_t at = region.find(a.content, from); at != std::string_view::npos;
           at = region.find(a.content, from)) {
        size_t left_end = at;
        if (a.lstrip) {
          while (left_end > from && ascii_space(text[left_end - 1])) --left_end;
        }
        if (left_end > from) next.push_back({from, left_end, nullptr});
        next.push_back({at, at + a.content.size(), &a});
        from = at + a.content.size();
        if (a.rstrip) {
          while (from < s.end && ascii_space(text[from])) ++from;
        }
      }
      if (from < s.end) next.push_back({from, s.end, nullptr});
    }
    stretches.swap(next);
  }
  for (const Stretch& s : stretches) {
    out.push_back(s.token ? Segment{s.token->content, s.token->id}
                          : Segment{std::string(text.substr(s.begin, s.end - s.begin)), -1});
  }
}

std::vector<int32_t> Tokenizer::encode_sequence(std::string_view text, bool split_special) const {
  std::vector<Segment> raw;
  if (matching_ == AddedTokenMatching::kLongestTokenFirst) {
    split_added_longest_first(text, split_special, raw);
  } else {
    split_added(text, /*normalized_pass=*/false, split_special, raw);
  }
  std::vector<int32_t> ids;
  for (const Segment& s : raw) {
    if (s.added_id >= 0) {
      ids.push_back(s.added_id);
      continue;
    }
    const std::string normalized = normalizer_ ? normalizer_->normalize(s.text) : s.text;
    std::vector<Segment> parts;
    split_added(normalized, /*normalized_pass=*/true, split_special, parts);
    for (const Segment& p : parts) {
      if (p.added_id >= 0) {
        ids.push_back(p.added_id);
        continue;
      }
      std::vector<std::string> pieces = {p.text};
      if (pre_tokenizer_) pre_tokenizer_->split(pieces);
      for (const auto& piece : pieces) model_->tokenize(piece, ids);
    }
  }
  return ids;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens,
                                       bool split_special_tokens) const {
  EncodeOptions o;
  o.add_special_tokens = add_special_tokens;
  o.split_special_tokens = split_special_tokens;
  auto e = encode_impl(text, nullptr, o);  // cannot fail without truncation
  return e.ok() ? std::move(e->ids) : std::vector<int32_t>();
}

std::vector<int32_t> Tokenizer::encode_pair(std::string_view a, std::string_view b,
                                            bool add_special_tokens,
                                            std::vector<int32_t>* type_ids) const {
  EncodeOptions o;
  o.add_special_tokens = add_special_tokens;
  auto e = encode_impl(a, &b, o);
  if (!e.ok()) return {};
  if (type_ids) *type_ids = std::move(e->type_ids);
  return std::move(e->ids);
}

Result<Encoding> Tokenizer::encode_with(std::string_view text, const EncodeOptions& o) const {
  return encode_impl(text, nullptr, o);
}

Result<Encoding> Tokenizer::encode_pair_with(std::string_view a, std::string_view b,
                                             const EncodeOptions& o) const {
  return encode_impl(a, &b, o);
}

namespace {

// HF's Encoding::truncate (no overflow pieces are kept).
void truncate_to(tok::EncodedSequence& s, size_t n, bool left) {
  if (s.ids.size() <= n) return;
  const auto cut = static_cast<std::ptrdiff_t>(s.ids.size() - n);
  if (left) {
    s.ids.erase(s.ids.begin(), s.ids.begin() + cut);
    s.type_ids.erase(s.type_ids.begin(), s.type_ids.begin() + cut);
  } else {
    s.ids.resize(n);
    s.type_ids.resize(n);
  }
}

// HF's truncate_encodings.
Status truncate(std::vector<tok::EncodedSequence>& seqs, const Truncation& t, size_t max_length,
                bool add_special_tokens) {
  auto& first = seqs[0];
  // Known difference: with a pair where one sequence encodes to nothing, tokenizers 0.23.2
  // sometimes truncates the other one or fails where truncation.rs says otherwise (depending on
  // add_special_tokens and more we did not pin down); this follows truncation.rs.
  (void)add_special_tokens;
  tok::EncodedSequence* second = seqs.size() > 1 ? &seqs[1] : nullptr;
  if (max_length == 0) {
    for (auto& s : seqs) truncate_to(s, 0, t.left);
    return {};
  }
  const size_t total = first.ids.size() + (second ? second->ids.size() : 0);
  if (total <= max_length) return {};
  const size_t to_remove = total - max_length;
  if (t.strategy == Truncation::Strategy::kLongestFirst) {
    if (!second) {
      truncate_to(first, total - to_remove, t.left);
      return {};
    }
    // As tokenizers' truncate_encodings: n1 the shorter length, kept whole if the longer one can
    // give up enough, else both get half. Known difference: when the shorter one does not fit
    // either (n1 >= max_length) and max_length is odd, tokenizers 0.23.2 gives the odd id to a
    // sequence chosen by something other than the lengths (measured: it follows the number of
    // pre-tokenized words); here the longer sequence gets it, as truncation.rs reads.
    size_t n1 = first.ids.size(), n2 = second->ids.size();
    const bool swap = n1 > n2;
    if (swap) std::swap(n1, n2);
    n2 = n1 > max_length ? n1 : std::max(n1, max_length - n1);
    if (n1 + n2 > max_length) {
      n1 = max_length / 2;
      n2 = n1 + max_length % 2;
    }
    if (swap) std::swap(n1, n2);
    truncate_to(first, n1, t.left);
    truncate_to(*second, n2, t.left);
    return {};
  }
  tok::EncodedSequence* target = &first;
  if (t.strategy == Truncation::Strategy::kOnlySecond) {
    if (!second) {
      return make_error(ErrorCode::kInvalidArgument,
                        "Truncation error: Second sequence not provided");
    }
    target = second;
  }
  if (target->ids.size() <= to_remove) {
    return make_error(ErrorCode::kInvalidArgument,
                      "Truncation error: Sequence to truncate too short to respect the provided "
                      "max_length");
  }
  truncate_to(*target, target->ids.size() - to_remove, t.left);
  return {};
}

}  // namespace

Result<Encoding> Tokenizer::encode_impl(std::string_view a, const std::string_view* b,
                                        const EncodeOptions& o) const {
  std::vector<tok::EncodedSequence> seqs;
  for (int k = 0; k < (b ? 2 : 1); ++k) {
    const std::string_view text = k == 0 ? a : *b;
    tok::EncodedSequence s;
    s.ids = encode_sequence(tok::is_valid_utf8(text) ? std::string(text) : tok::utf8_lossy(text),
                            o.split_special_tokens);
    s.type_ids.assign(s.ids.size(), k);
    seqs.push_back(std::move(s));
  }
  if (o.truncation) {
    const size_t added = o.add_special_tokens ? post_processor_->added_tokens(b != nullptr) : 0;
    const size_t max_length =
        o.truncation->max_length > added ? o.truncation->max_length - added : 0;
    SGLANG_RETURN_IF_ERROR(truncate(seqs, *o.truncation, max_length, o.add_special_tokens));
  }
  post_processor_->process(seqs, o.add_special_tokens);
  Encoding e;
  for (auto& s : seqs) {
    e.ids.insert(e.ids.end(), s.ids.begin(), s.ids.end());
    e.type_ids.insert(e.type_ids.end(), s.type_ids.begin(), s.type_ids.end());
  }
  e.attention_mask.assign(e.ids.size(), 1);
  if (o.padding) {
    const Padding& p = *o.padding;
    size_t target = p.length.value_or(e.ids.size());
    if (p.pad_to_multiple_of > 0 && target % p.pad_to_multiple_of != 0)
      target += p.pad_to_multiple_of - target % p.pad_to_multiple_of;
    if (e.ids.size() < target) {
      const size_t n = target - e.ids.size();
      const auto at = [&](std::vector<int32_t>& v) { return p.left ? v.begin() : v.end(); };
      e.ids.insert(at(e.ids), n, p.pad_id);
      e.type_ids.insert(at(e.type_ids), n, p.pad_type_id);
      e.attention_mask.insert(at(e.attention_mask), n, 0);
    }
  }
  return e;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, const DecodeOptions& options) const {
  // options.spaces_between_special_tokens has no effect: see DecodeOptions.
  return decode(ids, options.skip_special_tokens);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  for (int32_t id : ids) {
    if (skip_special_tokens && is_special(id)) {
      if (decoder_ && decoder_->wants_skipped_tokens()) tokens.emplace_back();
      continue;
    }
    std::string t = id_to_token(id);
    if (!t.empty()) tokens.push_back(std::move(t));
  }
  if (!decoder_) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
    return out;
  }
  std::string out;
  for (auto& piece : decoder_->decode_chain(std::move(tokens))) out += piece;
  return out;
}

int64_t Tokenizer::vocab_size() const {
  int64_t n = model_->vocab_size();
  for (const auto& a : added_) n = std::max<int64_t>(n, a.id + 1);
  return n;
}

int64_t Tokenizer::base_vocab_size() const {
  return model_->vocab_size();
}

std::string Tokenizer::id_to_token(int32_t id) const {
  auto it = added_by_id_.find(id);
  return it != added_by_id_.end() ? added_[it->second].content : model_->id_to_token(id);
}

int32_t Tokenizer::token_to_id(std::string_view token) const {
  auto it = added_by_content_.find(std::string(token));
  return it != added_by_content_.end() ? added_[it->second].id : model_->token_to_id(token);
}

bool Tokenizer::is_special(int32_t id) const {
  auto it = added_by_id_.find(id);
  return it != added_by_id_.end() && added_[it->second].special;
}

}  // namespace sglang
