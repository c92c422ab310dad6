#pragma once
// Turning one row of logits into the next token, as SGLang's sampler does for each request of a
// batch:
//   1. logit processors, in SGLang's penalizer order: frequency penalty (-= f * count in the
//      output), min_new_tokens (stop tokens masked to -inf while the output is shorter), presence
//      penalty (-= p if the token occurred in the output), repetition penalty (tokens in the
//      output: positive logits divided by it, negative ones multiplied), then logit_bias;
//   2. greedy (top_k == 1): argmax; otherwise logits / temperature -> softmax -> keep the sorted
//      prefix allowed by top_k, top_p (exclusive cumulative sum <= top_p) and min_p
//      (p >= min_p * p_max) -> draw from what is kept;
//   3. logprobs as SGLang reports them: greedy -> log_softmax of the processed logits; sampled ->
//      log of the temperature-scaled probabilities renormalised over the top_p set (tokens outside
//      it get the most negative float, as SGLang's clamp).
// Draws come from a counter-based generator keyed by (seed, output position), so a seeded request
// repeats exactly, even when it is retracted and recomputed.
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "sampling/sampling_params.h"

namespace sglang {

struct TokenLogprob {
  int32_t token_id = 0;
  float logprob = 0;
};

// What the sampler needs to remember about one request between steps.
struct PenaltyState {
  std::unordered_map<int32_t, int32_t> output_counts;  // token -> times generated
  void add_output_token(int32_t token) { ++output_counts[token]; }
};

struct SampleResult {
  int32_t token_id = 0;
  float logprob = 0;              // of token_id, only when asked
  std::vector<TokenLogprob> top;  // the top_logprobs_num most likely tokens, most likely first
  // The logprobs of the asked token ids (SGLang's token_ids_logprob), in the order asked, under
  // the same distribution as `logprob` and `top`.
  std::vector<TokenLogprob> ids;
};

// Step 1, in place. `stop_token_ids` are what min_new_tokens suppresses (the request's
// stop_token_ids and the model's EOS ids).
void apply_logit_processors(std::span<float> logits, const SamplingParams& params,
                            const PenaltyState& state, int64_t num_output_tokens,
                            std::span<const int64_t> stop_token_ids);

// Steps 2 and 3 on processed logits (modified: scaled in place). `seed` and `position` select the
// random draw; want_logprob/top_logprobs_num/token_ids select what step 3 computes.
SampleResult sample_from_logits(std::span<float> logits, const SamplingParams& params,
                                uint64_t seed, int64_t position, bool want_logprob,
                                int64_t top_logprobs_num, std::span<const int32_t> token_ids = {});

// Step 3 alone for a token that was not sampled here (input-token logprobs): the logprob of
// `token_id` under the distribution `params` describe, the top entries and those of `token_ids`.
SampleResult logprob_of(std::span<float> logits, const SamplingParams& params, int32_t token_id,
                        int64_t top_logprobs_num, std::span<const int32_t> token_ids = {});

// A uniform double in [0, 1) from (seed, position): the same pair gives the same draw.
double uniform_draw(uint64_t seed, int64_t position);

}  // namespace sglang
