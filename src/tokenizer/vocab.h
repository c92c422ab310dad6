#pragma once
// A model vocabulary: token string <-> id, as tokenizer.json's {"token": id, ...} objects hold it.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "util/status.h"

namespace sglang::tok {

class Vocab {
 public:
  // Reads a {"token": id} object; `model` names the model in errors.
  Status load(const nlohmann::json& object, const std::string& model);
  int64_t size() const { return static_cast<int64_t>(id_to_token_.size()); }
  std::string id_to_token(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < id_to_token_.size()
               ? id_to_token_[static_cast<size_t>(id)]
               : "";
  }
  int32_t token_to_id(std::string_view t) const {
    auto it = ids_.find(t);  // no string built per lookup (BPE looks up every merge)
    return it == ids_.end() ? -1 : it->second;
  }

 private:
  // Lets the map be searched by string_view (heterogeneous lookup).
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> ids_;
  std::vector<std::string> id_to_token_;
};

}  // namespace sglang::tok
