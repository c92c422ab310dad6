#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/unicode.h"

namespace sglang {
namespace {

using nlohmann::json;

bool is_word_char(char32_t c) {
  // Rust's char::is_alphanumeric plus '_' approximates the \w that HF's single_word check uses.
  return c == '_' || (c < 0x80 ? std::isalnum(static_cast<int>(c)) != 0 : c >= 0xaa);
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_json(const std::string& text,
                                                        const std::string& source) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorCode::kCorrupt, source + " is not a valid JSON object");
  }
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
  for (size_t i = 0; i < t->added_.size(); ++i) {
    const AddedToken& a = t->added_[i];
    t->added_by_first_byte_[a.normalized ? 1 : 0][static_cast<uint8_t>(a.content[0])].push_back(i);
    t->added_by_id_.emplace(a.id, i);  // the first entry wins, as the scans did
    t->added_by_content_.emplace(a.content, i);
  }
  return t;
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return from_json(ss.str(), path);
}

void Tokenizer::split_added(std::string_view text, bool normalized_pass,
                            std::vector<Segment>& out) const {
  size_t plain_start = 0, pos = 0;
  while (pos < text.size()) {
    // The longest added token of this pass starting at pos.
    const AddedToken* best = nullptr;
    for (size_t index :
         added_by_first_byte_[normalized_pass ? 1 : 0][static_cast<uint8_t>(text[pos])]) {
      const AddedToken& a = added_[index];
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
      while (b > plain_start && is_space(text[b - 1])) --b;
    }
    if (best->rstrip) {
      while (e < text.size() && is_space(text[e])) ++e;
    }
    if (b > plain_start)
      out.push_back({std::string(text.substr(plain_start, b - plain_start)), -1});
    out.push_back({best->content, best->id});
    plain_start = pos = e;
  }
  if (plain_start < text.size()) out.push_back({std::string(text.substr(plain_start)), -1});
}

std::vector<int32_t> Tokenizer::encode_sequence(std::string_view text) const {
  std::vector<Segment> raw;
  split_added(text, /*normalized_pass=*/false, raw);
  std::vector<int32_t> ids;
  for (const Segment& s : raw) {
    if (s.added_id >= 0) {
      ids.push_back(s.added_id);
      continue;
    }
    const std::string normalized = normalizer_ ? normalizer_->normalize(s.text) : s.text;
    std::vector<Segment> parts;
    split_added(normalized, /*normalized_pass=*/true, parts);
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

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<int32_t> ids =
      encode_sequence(tok::is_valid_utf8(text) ? std::string(text) : tok::utf8_lossy(text));
  if (add_special_tokens) {
    std::vector<int32_t> types;
    post_processor_->process(ids, nullptr, types);
  }
  return ids;
}

std::vector<int32_t> Tokenizer::encode_pair(std::string_view a, std::string_view b,
                                            bool add_special_tokens,
                                            std::vector<int32_t>* type_ids) const {
  std::vector<int32_t> ids = encode(a, false), second = encode(b, false), types;
  if (add_special_tokens) {
    post_processor_->process(ids, &second, types);
  } else {
    types.assign(ids.size(), 0);
    types.insert(types.end(), second.size(), 1);
    ids.insert(ids.end(), second.begin(), second.end());
  }
  if (type_ids) *type_ids = std::move(types);
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  for (int32_t id : ids) {
    if (skip_special_tokens && is_special(id)) continue;
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
