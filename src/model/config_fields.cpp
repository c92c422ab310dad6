#include "model/config_fields.h"

namespace sglang {

using nlohmann::json;

Result<int64_t> int_field(const json& j, const std::string& source, const std::string& name,
                          std::optional<int64_t> fallback) {
  if (!j.contains(name) || j.at(name).is_null()) {
    if (fallback) return *fallback;
    return make_error(ErrorCode::kNotFound, "missing field '" + name + "' in " + source);
  }
  if (!j.at(name).is_number_integer()) {
    return make_error(ErrorCode::kCorrupt, "field '" + name + "' in " + source +
                                               " must be an integer, got " + j.at(name).dump());
  }
  return j.at(name).get<int64_t>();
}

Result<double> number_field(const json& j, const std::string& source, const std::string& name,
                            double fallback) {
  if (!j.contains(name) || j.at(name).is_null()) return fallback;
  if (!j.at(name).is_number()) {
    return make_error(ErrorCode::kCorrupt, "field '" + name + "' in " + source +
                                               " must be a number, got " + j.at(name).dump());
  }
  return j.at(name).get<double>();
}

Result<std::string> string_field(const json& j, const std::string& source, const std::string& name,
                                 const std::string& fallback) {
  if (!j.contains(name) || j.at(name).is_null()) return fallback;
  if (!j.at(name).is_string()) {
    return make_error(ErrorCode::kCorrupt, "field '" + name + "' in " + source +
                                               " must be a string, got " + j.at(name).dump());
  }
  return j.at(name).get<std::string>();
}

}  // namespace sglang
