#pragma once
// Typed readers for config.json fields, shared by the model files that parse their own
// architecture-specific keys (xlm_roberta.cpp, gte.cpp). A field that is absent or null takes the
// fallback (none: required); a wrong JSON type is a kCorrupt error naming the field and its value.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "util/status.h"

namespace sglang {

Result<int64_t> int_field(const nlohmann::json& j, const std::string& source,
                          const std::string& name, std::optional<int64_t> fallback);
Result<double> number_field(const nlohmann::json& j, const std::string& source,
                            const std::string& name, double fallback);
Result<std::string> string_field(const nlohmann::json& j, const std::string& source,
                                 const std::string& name, const std::string& fallback);

}  // namespace sglang
