#pragma once
// SGLang's SamplingParams (python/sglang/srt/sampling/sampling_params.py): the same fields, the
// same defaults, the same normalisation (temperature 0 means greedy; top_k -1 means the whole
// vocabulary) and the same validation messages, so a client sees identical errors.
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "util/status.h"

namespace sglang {

class Tokenizer;

// SGLang's TOP_K_ALL: "no top-k".
inline constexpr int64_t kTopKAll = int64_t{1} << 30;

struct SamplingParams {
  int64_t max_new_tokens = 128;
  std::vector<std::string> stop;  // stop strings ("stop": str or list)
  std::vector<int64_t> stop_token_ids;
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t top_k = kTopKAll;
  double min_p = 0.0;
  double frequency_penalty = 0.0;
  double presence_penalty = 0.0;
  double repetition_penalty = 1.0;
  int64_t min_new_tokens = 0;
  int64_t n = 1;
  // The output constraint (at most one; engine/grammar_backend.h compiles it). structural_tag is
  // the JSON text of an xgrammar structural tag, as SGLang passes it on.
  std::optional<std::string> json_schema, regex, ebnf, structural_tag;
  // Accepted by SGLang; refused by verify() until this server implements them.
  bool has_stop_regex = false, has_custom_params = false;
  bool ignore_eos = false;
  bool skip_special_tokens = true;
  bool spaces_between_special_tokens = true;
  bool no_stop_trim = false;
  std::optional<int64_t> stream_interval;
  std::map<int64_t, double> logit_bias;  // token id -> bias added to its logit
  std::optional<uint64_t> sampling_seed;

  // Set by normalize(): the longest stop string in tokens (how far back the stop check decodes).
  int64_t stop_str_max_len = 0;

  // As SGLang's __post_init__: temperature below 1e-6 becomes greedy (temperature 1, top_k 1);
  // top_k -1 becomes the whole vocabulary. Call once after the fields are set from a request.
  void apply_defaults();
  // SGLang's verify(): the first violated rule as an InvalidArgument error with SGLang's message.
  Status verify(int64_t vocab_size) const;
  // SGLang's normalize(): measures the stop strings with the tokenizer (nullptr: in characters).
  void normalize(const Tokenizer* tokenizer);

  bool is_greedy() const { return top_k == 1; }
};

// Python's repr of a float as SGLang's f-strings print it ("0.0", "1.5", "inf", "-2.5e-07").
std::string python_float_repr(double v);

// A request's "sampling_params" object: SGLang's field names; null means the default; an unknown
// field or a value of the wrong type is an InvalidArgument error naming it. apply_defaults() is
// applied; verify() is not (the caller knows the vocabulary size).
Result<SamplingParams> sampling_params_from_json(const nlohmann::json& j);
}  // namespace sglang
