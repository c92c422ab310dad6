// Post-processors of tokenizer.json: ByteLevel (no effect on ids), TemplateProcessing,
// BertProcessing, RobertaProcessing, Sequence. Offsets are not tracked, so trim_offsets has nothing
// to do (nor add_prefix_space, which only steers it).
#include <nlohmann/json.hpp>

#include "tokenizer/components.h"

namespace sglang::tok {
namespace {

using nlohmann::json;

class NoOp final : public PostProcessor {
 public:
  void process(std::vector<EncodedSequence>&, bool) const override {}
  size_t added_tokens(bool) const override { return 0; }
};

// "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id":
// 0}}]. Even without special tokens the template's type ids apply to the sequences.
class Template final : public PostProcessor {
 public:
  struct Item {
    bool is_sequence;
    bool is_a;  // sequence A or B
    std::vector<int32_t> special_ids;
    int32_t type_id;
  };
  std::vector<Item> single, pair;

  void process(std::vector<EncodedSequence>& seqs, bool add_special_tokens) const override {
    if (seqs.empty() || seqs.size() > 2) return;
    std::vector<EncodedSequence> out;
    for (const Item& it : seqs.size() == 2 ? pair : single) {
      if (it.is_sequence) {
        EncodedSequence s = seqs[it.is_a ? 0 : 1];
        s.type_ids.assign(s.ids.size(), it.type_id);
        out.push_back(std::move(s));
      } else if (add_special_tokens) {
        out.push_back({it.special_ids, std::vector<int32_t>(it.special_ids.size(), it.type_id)});
      }
    }
    seqs = std::move(out);
  }
  size_t added_tokens(bool is_pair) const override {
    size_t n = 0;
    for (const Item& it : is_pair ? pair : single) n += it.special_ids.size();
    return n;
  }
};

Result<std::vector<Template::Item>> parse_template(const json& items, const json& special_tokens) {
  std::vector<Template::Item> out;
  for (const auto& item : items) {
    Template::Item t{};
    if (item.contains("Sequence")) {
      t.is_sequence = true;
      t.is_a = item["Sequence"].value("id", "A") == "A";
      t.type_id = item["Sequence"].value("type_id", 0);
    } else if (item.contains("SpecialToken")) {
      const std::string name = item["SpecialToken"].value("id", "");
      t.type_id = item["SpecialToken"].value("type_id", 0);
      if (!special_tokens.contains(name)) {
        return make_error(ErrorCode::kCorrupt,
                          "TemplateProcessing names unknown special token '" + name + "'");
      }
      for (const auto& id : special_tokens[name].value("ids", json::array()))
        t.special_ids.push_back(id.get<int32_t>());
    } else {
      return make_error(ErrorCode::kCorrupt, "bad TemplateProcessing item " + item.dump());
    }
    out.push_back(std::move(t));
  }
  return out;
}

// BERT: [CLS] A [SEP] (type 0), then B [SEP] (type 1).
class BertProcessing final : public PostProcessor {
 public:
  BertProcessing(int32_t cls, int32_t sep) : cls_(cls), sep_(sep) {}
  void process(std::vector<EncodedSequence>& seqs, bool add_special_tokens) const override {
    if (!add_special_tokens) return;
    for (size_t i = 0; i < seqs.size(); ++i) {
      EncodedSequence& s = seqs[i];
      if (i == 0) {
        s.ids.insert(s.ids.begin(), cls_);
        s.type_ids.insert(s.type_ids.begin(), 0);
        s.ids.push_back(sep_);
        s.type_ids.push_back(0);
      } else {
        s.ids.push_back(sep_);
        s.type_ids.push_back(1);
      }
    }
  }
  size_t added_tokens(bool is_pair) const override { return is_pair ? 3 : 2; }

 private:
  int32_t cls_, sep_;
};

// RoBERTa: <s> A </s>, then </s> B </s>; every type id is 0, with or without special tokens.
class RobertaProcessing final : public PostProcessor {
 public:
  RobertaProcessing(int32_t cls, int32_t sep) : cls_(cls), sep_(sep) {}
  void process(std::vector<EncodedSequence>& seqs, bool add_special_tokens) const override {
    for (size_t i = 0; i < seqs.size(); ++i) {
      EncodedSequence& s = seqs[i];
      if (add_special_tokens) {
        s.ids.insert(s.ids.begin(), i == 0 ? cls_ : sep_);
        s.ids.push_back(sep_);
      }
      s.type_ids.assign(s.ids.size(), 0);
    }
  }
  size_t added_tokens(bool is_pair) const override { return is_pair ? 4 : 2; }

 private:
  int32_t cls_, sep_;
};

// Each step rewrites the sequences in turn (they are joined only at the end).
class PostSequence final : public PostProcessor {
 public:
  explicit PostSequence(std::vector<std::unique_ptr<PostProcessor>> s) : steps_(std::move(s)) {}
  void process(std::vector<EncodedSequence>& seqs, bool add_special_tokens) const override {
    for (const auto& s : steps_) s->process(seqs, add_special_tokens);
  }
  size_t added_tokens(bool is_pair) const override {
    size_t n = 0;
    for (const auto& s : steps_) n += s->added_tokens(is_pair);
    return n;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

// BertProcessing / RobertaProcessing name their tokens as ["[SEP]", 102].
Result<int32_t> token_id_field(const json& j, const char* field) {
  const json v = j.value(field, json());
  if (v.is_array() && v.size() == 2 && v[1].is_number_integer()) return v[1].get<int32_t>();
  return make_error(ErrorCode::kCorrupt,
                    std::string("post_processor field '") + field + "' must be [token, id]");
}

}  // namespace

std::unique_ptr<PostProcessor> make_bos_eos_template(int32_t bos_id, int32_t eos_id) {
  auto t = std::make_unique<Template>();
  auto special = [](int32_t id, int32_t type) { return Template::Item{false, false, {id}, type}; };
  for (int32_t type : {0, 1}) {
    auto& items = type == 0 ? t->single : t->pair;
    if (type == 1) items = t->single;
    if (bos_id >= 0) items.push_back(special(bos_id, type));
    items.push_back(Template::Item{true, type == 0, {}, type});
    if (eos_id >= 0) items.push_back(special(eos_id, type));
  }
  return t;
}

Result<std::unique_ptr<PostProcessor>> make_post_processor(const json& j, const Model& model) {
  (void)model;
  if (j.is_null()) return std::unique_ptr<PostProcessor>(new NoOp());
  const std::string type = j.value("type", "");
  if (type == "ByteLevel") return std::unique_ptr<PostProcessor>(new NoOp());
  if (type == "TemplateProcessing") {
    auto t = std::make_unique<Template>();
    const json specials = j.value("special_tokens", json::object());
    SGLANG_ASSIGN_OR_RETURN(t->single, parse_template(j.value("single", json::array()), specials));
    SGLANG_ASSIGN_OR_RETURN(t->pair, parse_template(j.value("pair", json::array()), specials));
    return std::unique_ptr<PostProcessor>(std::move(t));
  }
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    SGLANG_ASSIGN_OR_RETURN(int32_t cls, token_id_field(j, "cls"));
    SGLANG_ASSIGN_OR_RETURN(int32_t sep, token_id_field(j, "sep"));
    if (type == "BertProcessing")
      return std::unique_ptr<PostProcessor>(new BertProcessing(cls, sep));
    return std::unique_ptr<PostProcessor>(new RobertaProcessing(cls, sep));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PostProcessor>> steps;
    for (const auto& s : j.value("processors", json::array())) {
      SGLANG_ASSIGN_OR_RETURN(auto p, make_post_processor(s, model));
      steps.push_back(std::move(p));
    }
    return std::unique_ptr<PostProcessor>(new PostSequence(std::move(steps)));
  }
  return make_error(ErrorCode::kUnsupported, "unsupported post_processor type '" + type + "'");
}

}  // namespace sglang::tok
