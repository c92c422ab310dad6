#include "sampling/sampling_params.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"

namespace sglang {

std::string python_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  // Shortest round-trip digits, then Python's float_repr_style rule: scientific when the decimal
  // exponent is below -4 or at least 16, otherwise positional with at least one fractional digit.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  const size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  const int exponent = std::atoi(sci.c_str() + e_pos + 1);
  const bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+',
                  std::abs(exponent));
    return out + exp_buf;
  }
  if (exponent < 0) {
    return out + "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
  }
  const size_t int_len = static_cast<size_t>(exponent) + 1;
  if (digits.size() <= int_len) {
    return out + digits + std::string(int_len - digits.size(), '0') + ".0";
  }
  return out + digits.substr(0, int_len) + "." + digits.substr(int_len);
}

void SamplingParams::apply_defaults() {
  if (temperature >= 0 && temperature < 1e-6) {
    temperature = 1.0;
    top_k = 1;
  }
  if (top_k == -1) top_k = kTopKAll;
}

Status SamplingParams::verify(int64_t vocab_size) const {
  auto bad = [](std::string msg) {
    return make_error(ErrorCode::kInvalidArgument, std::move(msg));
  };
  if (!std::isfinite(temperature) || temperature < 0.0) {
    return bad("temperature must be a non-negative finite number, got " +
               python_float_repr(temperature) + ".");
  }
  if (!(top_p > 0.0 && top_p <= 1.0)) {
    return bad("top_p must be in (0, 1], got " + python_float_repr(top_p) + ".");
  }
  if (!(min_p >= 0.0 && min_p <= 1.0)) {
    return bad("min_p must be in [0, 1], got " + python_float_repr(min_p) + ".");
  }
  if (top_k < 1) {
    return bad("top_k must be -1 (disable) or at least 1, got " + std::to_string(top_k) + ".");
  }
  if (!(frequency_penalty >= -2.0 && frequency_penalty <= 2.0)) {
    return bad("frequency_penalty must be in [-2, 2], got " + python_float_repr(frequency_penalty) +
               ".");
  }
  if (!(presence_penalty >= -2.0 && presence_penalty <= 2.0)) {
    return bad("presence_penalty must be in [-2, 2], got " + python_float_repr(presence_penalty) +
               ".");
  }
  if (!(repetition_penalty > 0.0 && repetition_penalty <= 2.0)) {
    return bad("repetition_penalty must be in (0, 2] (1.0 = no penalty), got " +
               python_float_repr(repetition_penalty) + ".");
  }
  if (min_new_tokens < 0) {
    return bad("min_new_tokens must be in [0, max_new_tokens], got " +
               std::to_string(min_new_tokens) + ".");
  }
  if (max_new_tokens < 0) {
    return bad("max_new_tokens must be at least 0, got " + std::to_string(max_new_tokens) + ".");
  }
  if (min_new_tokens > max_new_tokens) {
    return bad("min_new_tokens must be in [0, max_new_tokens(" + std::to_string(max_new_tokens) +
               ")], got " + std::to_string(min_new_tokens) + ".");
  }
  for (const auto& [token_id, bias] : logit_bias) {
    if (token_id < 0 || token_id >= vocab_size) {
      return bad("logit_bias must has keys in [0, " + std::to_string(vocab_size - 1) + "], got " +
                 std::to_string(token_id) + ".");
    }
  }
  const int grammars =
      int{json_schema.has_value()} + int{regex.has_value()} + int{ebnf.has_value()};
  if (grammars > 1) return bad("Only one of regex, json_schema, or ebnf can be set.");
  if (has_stop_regex) return bad("stop_regex is not supported yet.");
  if (has_custom_params) {
    return bad("custom_params is not supported yet: this server has no custom logit processors.");
  }
  if (n < 1) return bad("n must be at least 1, got " + std::to_string(n) + ".");
  return {};
}

void SamplingParams::normalize(const Tokenizer* tokenizer) {
  stop_str_max_len = 0;
  for (const std::string& s : stop) {
    const int64_t len = tokenizer != nullptr
                            ? static_cast<int64_t>(tokenizer->encode(s, false).size())
                            : static_cast<int64_t>(s.size());
    stop_str_max_len = std::max(stop_str_max_len, len);
  }
}

namespace {

Error type_error(const std::string& field, const std::string& want, const nlohmann::json& got) {
  return make_error(ErrorCode::kInvalidArgument,
                    "sampling_params." + field + " must be " + want + ", got " + got.dump() + ".");
}

Status read_number(const nlohmann::json& j, const std::string& f, double* out) {
  if (j.is_null()) return {};
  if (!j.is_number()) return type_error(f, "a number", j);
  *out = j.get<double>();
  return {};
}

Status read_int(const nlohmann::json& j, const std::string& f, int64_t* out) {
  if (j.is_null()) return {};
  // Python's ints have no bound; beyond int64 the value saturates (so n = 1e30 is "too many",
  // not a wrapped or undefined conversion).
  constexpr double kInt64Bound = 9223372036854775808.0;  // 2^63
  if (j.is_number_unsigned()) {
    const uint64_t u = j.get<uint64_t>();
    *out = u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
               ? std::numeric_limits<int64_t>::max()
               : static_cast<int64_t>(u);
    return {};
  }
  if (j.is_number_integer()) {
    *out = j.get<int64_t>();
    return {};
  }
  // Python accepts 3.0 where an int is expected only by accident; SGLang's comparisons would take
  // it, so an integral float is allowed.
  if (j.is_number_float() && std::floor(j.get<double>()) == j.get<double>()) {
    const double d = j.get<double>();
    *out = d >= kInt64Bound   ? std::numeric_limits<int64_t>::max()
           : d < -kInt64Bound ? std::numeric_limits<int64_t>::min()
                              : static_cast<int64_t>(d);
    return {};
  }
  return type_error(f, "an integer", j);
}

Status read_bool(const nlohmann::json& j, const std::string& f, bool* out) {
  if (j.is_null()) return {};
  if (!j.is_boolean()) return type_error(f, "a boolean", j);
  *out = j.get<bool>();
  return {};
}

Status read_opt_string(const nlohmann::json& j, const std::string& f,
                       std::optional<std::string>* out) {
  if (j.is_null()) return {};
  if (j.is_string()) {
    *out = j.get<std::string>();
  } else if (j.is_object() || j.is_array()) {
    *out = j.dump();  // a JSON schema given as an object
  } else {
    return type_error(f, "a string", j);
  }
  return {};
}

}  // namespace

Result<SamplingParams> sampling_params_from_json(const nlohmann::json& j) {
  SamplingParams p;
  if (j.is_null()) {
    p.apply_defaults();
    return p;
  }
  if (!j.is_object()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "sampling_params must be an object, got " + j.dump() + ".");
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const nlohmann::json& v = it.value();
    if (k == "max_new_tokens") {
      SGLANG_RETURN_IF_ERROR(read_int(v, k, &p.max_new_tokens));
    } else if (k == "min_new_tokens") {
      SGLANG_RETURN_IF_ERROR(read_int(v, k, &p.min_new_tokens));
    } else if (k == "n") {
      SGLANG_RETURN_IF_ERROR(read_int(v, k, &p.n));
    } else if (k == "top_k") {
      SGLANG_RETURN_IF_ERROR(read_int(v, k, &p.top_k));
    } else if (k == "temperature") {
      SGLANG_RETURN_IF_ERROR(read_number(v, k, &p.temperature));
    } else if (k == "top_p") {
      SGLANG_RETURN_IF_ERROR(read_number(v, k, &p.top_p));
    } else if (k == "min_p") {
      SGLANG_RETURN_IF_ERROR(read_number(v, k, &p.min_p));
    } else if (k == "frequency_penalty") {
      SGLANG_RETURN_IF_ERROR(read_number(v, k, &p.frequency_penalty));
    } else if (k == "presence_penalty") {
      SGLANG_RETURN_IF_ERROR(read_number(v, k, &p.presence_penalty));
    } else if (k == "repetition_penalty") {
      SGLANG_RETURN_IF_ERROR(read_number(v, k, &p.repetition_penalty));
    } else if (k == "ignore_eos") {
      SGLANG_RETURN_IF_ERROR(read_bool(v, k, &p.ignore_eos));
    } else if (k == "skip_special_tokens") {
      SGLANG_RETURN_IF_ERROR(read_bool(v, k, &p.skip_special_tokens));
    } else if (k == "spaces_between_special_tokens") {
      SGLANG_RETURN_IF_ERROR(read_bool(v, k, &p.spaces_between_special_tokens));
    } else if (k == "no_stop_trim") {
      SGLANG_RETURN_IF_ERROR(read_bool(v, k, &p.no_stop_trim));
    } else if (k == "stop") {
      if (v.is_string()) {
        p.stop = {v.get<std::string>()};
      } else if (v.is_array()) {
        for (const auto& s : v) {
          if (!s.is_string()) return type_error(k, "a string or a list of strings", v);
          p.stop.push_back(s.get<std::string>());
        }
      } else if (!v.is_null()) {
        return type_error(k, "a string or a list of strings", v);
      }
    } else if (k == "stop_token_ids") {
      if (v.is_array()) {
        for (const auto& t : v) {
          if (t.is_null()) continue;
          if (!t.is_number_integer()) return type_error(k, "a list of integers", v);
          p.stop_token_ids.push_back(t.get<int64_t>());
        }
      } else if (!v.is_null()) {
        return type_error(k, "a list of integers", v);
      }
    } else if (k == "json_schema") {
      SGLANG_RETURN_IF_ERROR(read_opt_string(v, k, &p.json_schema));
    } else if (k == "regex") {
      SGLANG_RETURN_IF_ERROR(read_opt_string(v, k, &p.regex));
    } else if (k == "ebnf") {
      SGLANG_RETURN_IF_ERROR(read_opt_string(v, k, &p.ebnf));
    } else if (k == "stream_interval") {
      if (!v.is_null()) {
        int64_t x = 1;
        SGLANG_RETURN_IF_ERROR(read_int(v, k, &x));
        p.stream_interval = x;
      }
    } else if (k == "sampling_seed") {
      if (!v.is_null()) {
        int64_t x = 0;
        SGLANG_RETURN_IF_ERROR(read_int(v, k, &x));
        p.sampling_seed = static_cast<uint64_t>(x);
      }
    } else if (k == "logit_bias") {
      if (v.is_object()) {
        for (auto b = v.begin(); b != v.end(); ++b) {
          if (!b.value().is_number()) return type_error(k, "a map of token id to number", v);
          try {
            size_t used = 0;
            const long long id = std::stoll(b.key(), &used);
            if (used != b.key().size()) throw std::invalid_argument(b.key());
            p.logit_bias[id] = b.value().get<double>();
          } catch (const std::exception&) {
            return type_error(k, "a map of token id to number", v);
          }
        }
      } else if (!v.is_null()) {
        return type_error(k, "a map of token id to number", v);
      }
    } else if (k == "structural_tag") {
      SGLANG_RETURN_IF_ERROR(read_opt_string(v, k, &p.structural_tag));
    } else if (k == "custom_params" || k == "stop_regex") {
      // Refused by verify() when set (not implemented yet).
      const bool set = !v.is_null();
      (k == "stop_regex" ? p.has_stop_regex : p.has_custom_params) = set;
    } else {
      // SGLang builds SamplingParams(**sampling_params): Python's message for an unknown keyword.
      return make_error(ErrorCode::kInvalidArgument,
                        "SamplingParams.__init__() got an unexpected keyword argument '" + k + "'");
    }
  }
  p.apply_defaults();
  return p;
}

}  // namespace sglang
