#include "tokenizer/vocab.h"

#include <nlohmann/json.hpp>

namespace sglang::tok {

Status Vocab::load(const nlohmann::json& object, const std::string& model) {
  if (!object.is_object())
    return make_error(ErrorCode::kCorrupt, model + " model without a 'vocab' object");
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0) {
      return make_error(ErrorCode::kCorrupt,
                        model + " vocab entry '" + it.key() + "' has no valid id");
    }
    const auto id = it.value().get<int32_t>();
    ids_[it.key()] = id;
    if (static_cast<size_t>(id) >= id_to_token_.size())
      id_to_token_.resize(static_cast<size_t>(id) + 1);
    id_to_token_[static_cast<size_t>(id)] = it.key();
  }
  return {};
}

}  // namespace sglang::tok
