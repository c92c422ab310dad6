#include "model/weight_store.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "model/gguf_model.h"

namespace sglang {

namespace fs = std::filesystem;

Result<std::unique_ptr<WeightStore>> WeightStore::open(const std::string& model_path,
                                                       std::optional<DType> dequantized_dtype) {
  SGLANG_ASSIGN_OR_RETURN(std::string gguf, find_gguf_file(model_path));
  if (!gguf.empty()) {
    SGLANG_ASSIGN_OR_RETURN(auto store, open_gguf_weights(gguf, dequantized_dtype));
    return std::unique_ptr<WeightStore>(std::move(store));
  }
  SGLANG_ASSIGN_OR_RETURN(auto store, SafetensorsWeightStore::open(model_path));
  return std::unique_ptr<WeightStore>(std::move(store));
}

Result<std::unique_ptr<SafetensorsWeightStore>> SafetensorsWeightStore::open(
    const std::string& model_dir) {
  auto store = std::unique_ptr<SafetensorsWeightStore>(new SafetensorsWeightStore());
  store->dir_ = model_dir;
  std::vector<std::string> shard_names;
  fs::path index_path = fs::path(model_dir) / "model.safetensors.index.json";
  std::error_code ec;
  if (fs::exists(index_path, ec)) {
    std::ifstream in(index_path);
    std::stringstream ss;
    ss << in.rdbuf();
    auto index = nlohmann::json::parse(ss.str(), nullptr, false);
    if (index.is_discarded() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
      return make_error(ErrorCode::kCorrupt,
                        "missing field 'weight_map' in " + index_path.string());
    }
    std::set<std::string> unique;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it.value().is_string()) {
        return make_error(ErrorCode::kCorrupt,
                          "bad weight_map entry '" + it.key() + "' in " + index_path.string());
      }
      unique.insert(it.value().get<std::string>());
    }
    shard_names.assign(unique.begin(), unique.end());
  } else if (fs::exists(fs::path(model_dir) / "model.safetensors", ec)) {
    shard_names.push_back("model.safetensors");
  } else {
    for (const auto& e : fs::directory_iterator(model_dir, ec)) {
      if (e.path().extension() == ".safetensors")
        shard_names.push_back(e.path().filename().string());
    }
    std::sort(shard_names.begin(), shard_names.end());
  }
  if (shard_names.empty()) {
    return make_error(ErrorCode::kNotFound, "no *.safetensors weights in " + model_dir);
  }
  for (const auto& name : shard_names) {
    SGLANG_ASSIGN_OR_RETURN(auto file,
                            SafetensorsFile::open((fs::path(model_dir) / name).string()));
    store->files_.push_back(std::move(file));
  }
  return store;
}

const HostTensor* SafetensorsWeightStore::find(const std::string& name, std::string* where) const {
  std::vector<std::string> candidates = {name};
  if (name.rfind("model.", 0) == 0) {
    candidates.push_back(name.substr(6));
  } else {
    candidates.push_back("model." + name);
  }
  for (const auto& candidate : candidates) {
    for (const auto& f : files_) {
      auto it = f->tensors().find(candidate);
      if (it != f->tensors().end()) {
        if (where) *where = f->path() + ":" + candidate;
        return &it->second;
      }
    }
  }
  return nullptr;
}

bool SafetensorsWeightStore::contains(const std::string& name) const {
  return find(name, nullptr) != nullptr;
}

size_t SafetensorsWeightStore::num_tensors() const {
  size_t n = 0;
  for (const auto& f : files_) n += f->tensors().size();
  return n;
}

Result<HostTensor> SafetensorsWeightStore::read(const std::string& name,
                                                const std::vector<int64_t>& shape) const {
  std::string where;
  const HostTensor* t = find(name, &where);
  if (t == nullptr) {
    return make_error(ErrorCode::kNotFound, "missing tensor '" + name + "' in " + dir_);
  }
  if (t->shape != shape) {
    return make_error(ErrorCode::kCorrupt, "tensor " + where + " has shape " +
                                               shape_string(t->shape) + ", expected " +
                                               shape_string(shape));
  }
  return *t;
}

}  // namespace sglang
