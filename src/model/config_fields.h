#pragma once
// The one typed reader of config.json fields, for model_config.cpp and the model files that parse
// their own architecture-specific keys (xlm_roberta.cpp, gte.cpp). A field that is absent or null
// takes the fallback (required_int: none, a kNotFound error); a wrong JSON type is a kCorrupt
// error naming the field, the file and the value, never a json exception (fuzz_model_config).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/status.h"

namespace sglang {

class ConfigFields {
 public:
  // `j` (an object: config.json or one of its sub-objects) must outlive the reader; `source`
  // names the file in errors.
  ConfigFields(const nlohmann::json& j, std::string source) : j_(j), source_(std::move(source)) {}

  Result<int64_t> required_int(const std::string& field) const;
  Result<int64_t> optional_int(const std::string& field, int64_t fallback) const;
  Result<double> optional_double(const std::string& field, double fallback) const;
  Result<bool> optional_bool(const std::string& field, bool fallback) const;
  Result<std::string> optional_string(const std::string& field, const std::string& fallback) const;
  // An int or a list of ints (Llama 3.1's eos_token_id is a list); absent: empty.
  Result<std::vector<int64_t>> optional_int_list(const std::string& field) const;

 private:
  bool absent(const std::string& field) const;
  Error wrong_type(const std::string& field, const char* want) const;
  Result<int64_t> int_value(const std::string& field) const;

  const nlohmann::json& j_;
  std::string source_;
};

}  // namespace sglang
