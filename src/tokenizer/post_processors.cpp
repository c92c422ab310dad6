// Post-processors of tokenizer.json. Implemented: ByteLevel (no effect on ids), TemplateProcessing,
// Sequence. (BertProcessing and RobertaProcessing come with the WordPiece and Unigram models.)
#include <nlohmann/json.hpp>

#include "tokenizer/components.h"

namespace sglang::tok {
namespace {

using nlohmann::json;

class NoOp final : public PostProcessor {
 public:
  void process(std::vector<int32_t>& ids, std::vector<int32_t>* pair,
               std::vector<int32_t>& type_ids) const override {
    type_ids.assign(ids.size(), 0);
    if (pair) {
      type_ids.insert(type_ids.end(), pair->size(), 1);
      ids.insert(ids.end(), pair->begin(), pair->end());
    }
  }
};

// "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id":
// 0}}]
class Template final : public PostProcessor {
 public:
  struct Item {
    bool is_sequence;
    bool is_a;  // sequence A or B
    std::vector<int32_t> special_ids;
    int32_t type_id;
  };
  std::vector<Item> single, pair;

  void process(std::vector<int32_t>& ids, std::vector<int32_t>* b,
               std::vector<int32_t>& type_ids) const override {
    std::vector<int32_t> out, types;
    for (const Item& it : b ? pair : single) {
      const std::vector<int32_t>& src = it.is_sequence ? (it.is_a ? ids : *b) : it.special_ids;
      out.insert(out.end(), src.begin(), src.end());
      types.insert(types.end(), src.size(), it.type_id);
    }
    ids = std::move(out);
    type_ids = std::move(types);
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

class PostSequence final : public PostProcessor {
 public:
  explicit PostSequence(std::vector<std::unique_ptr<PostProcessor>> s) : steps_(std::move(s)) {}
  void process(std::vector<int32_t>& ids, std::vector<int32_t>* pair,
               std::vector<int32_t>& type_ids) const override {
    // Only the first step may join a pair; later ones see one sequence.
    for (size_t i = 0; i < steps_.size(); ++i)
      steps_[i]->process(ids, i == 0 ? pair : nullptr, type_ids);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

}  // namespace

Result<std::unique_ptr<PostProcessor>> make_post_processor(const json& j, const Model& model) {
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
