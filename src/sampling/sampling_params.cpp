#include "sampling/sampling_params.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

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

}  // namespace sglang
