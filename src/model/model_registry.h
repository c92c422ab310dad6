#pragma once
// The models this engine serves, in one table (as mini-sglang's models/register.py): each
// config.json architecture name with how its config is read and which model class runs it.
// parse_model_config and load_causal_lm look architectures up here, and the error for an
// unsupported one lists this table, so adding a row is all it takes to serve a new name.
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/backend.h"
#include "model/causal_lm.h"
#include "model/model_config.h"
#include "model/weight_store.h"
#include "util/status.h"

namespace sglang {

struct ModelArchitecture {
  const char* name;  // config.json "architectures"[0], e.g. "Qwen3ForCausalLM"
  Architecture architecture;
  Head head;
  // config.json -> ModelConfig, with the family's transformers defaults.
  Result<ModelConfig> (*parse_config)(const nlohmann::json& j, const std::string& source,
                                      const ModelArchitecture& arch);
  Result<std::unique_ptr<CausalLM>> (*load)(const ModelConfig& config, const WeightStore& weights,
                                            Backend& backend);
};

const std::vector<ModelArchitecture>& model_architectures();
// The row for `name`, or null.
const ModelArchitecture* find_model_architecture(std::string_view name);
// "LlamaForCausalLM, LlamaForSequenceClassification, ..." in table order.
std::string supported_architectures();

}  // namespace sglang
