#pragma once
// Greedy generation for a few prompts without the scheduler: allocates pages, prefills each prompt
// (all prompts in one batch), then decodes all sequences together one token per step. This is the
// engine's smallest complete loop; the scheduler (continuous batching, radix cache) replaces it.
#include <cstdint>
#include <vector>

#include "cache/kv_cache.h"
#include "cache/page_pool.h"
#include "model/causal_lm.h"
#include "util/status.h"

namespace sglang {

struct GreedyOptions {
  int64_t max_new_tokens = 16;
  bool stop_at_eos = true;
  int64_t prefill_chunk = 0;  // >0: prefill in chunks of this many tokens
};

// Needs `pool` to have enough free pages for every prompt plus its new tokens.
Result<std::vector<std::vector<int32_t>>> generate_greedy(
    CausalLM& model, KvCache& kv, PagePool& pool, const std::vector<std::vector<int32_t>>& prompts,
    const GreedyOptions& options);

// Index of the largest logit (the first one on ties, as torch.argmax).
int32_t argmax(const float* logits, int64_t n);

}  // namespace sglang
