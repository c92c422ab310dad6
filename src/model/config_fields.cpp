#include "model/config_fields.h"

namespace sglang {

using nlohmann::json;

bool ConfigFields::absent(const std::string& field) const {
  return !j_.contains(field) || j_.at(field).is_null();
}

Error ConfigFields::wrong_type(const std::string& field, const char* want) const {
  return make_error(ErrorCode::kCorrupt, "field '" + field + "' in " + source_ + " must be " +
                                             want + ", got " + j_.at(field).dump());
}

Result<int64_t> ConfigFields::int_value(const std::string& field) const {
  const json& v = j_.at(field);
  if (!v.is_number_integer()) return wrong_type(field, "an integer");
  return v.get<int64_t>();
}

Result<int64_t> ConfigFields::required_int(const std::string& field) const {
  if (absent(field)) {
    return make_error(ErrorCode::kNotFound, "missing field '" + field + "' in " + source_);
  }
  return int_value(field);
}

Result<int64_t> ConfigFields::optional_int(const std::string& field, int64_t fallback) const {
  if (absent(field)) return fallback;
  return int_value(field);
}

Result<double> ConfigFields::optional_double(const std::string& field, double fallback) const {
  if (absent(field)) return fallback;
  if (!j_.at(field).is_number()) return wrong_type(field, "a number");
  return j_.at(field).get<double>();
}

Result<bool> ConfigFields::optional_bool(const std::string& field, bool fallback) const {
  if (absent(field)) return fallback;
  if (!j_.at(field).is_boolean()) return wrong_type(field, "a boolean");
  return j_.at(field).get<bool>();
}

Result<std::string> ConfigFields::optional_string(const std::string& field,
                                                  const std::string& fallback) const {
  if (absent(field)) return fallback;
  if (!j_.at(field).is_string()) return wrong_type(field, "a string");
  return j_.at(field).get<std::string>();
}

Result<std::vector<int64_t>> ConfigFields::optional_int_list(const std::string& field) const {
  std::vector<int64_t> out;
  if (absent(field)) return out;
  const json& v = j_.at(field);
  if (v.is_number_integer()) {
    out.push_back(v.get<int64_t>());
  } else if (v.is_array()) {
    for (const json& e : v) {
      if (!e.is_number_integer()) return wrong_type(field, "an integer or a list of integers");
      out.push_back(e.get<int64_t>());
    }
  } else {
    return wrong_type(field, "an integer or a list of integers");
  }
  return out;
}

}  // namespace sglang
