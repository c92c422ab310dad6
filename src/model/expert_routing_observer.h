#pragma once
// A listener for the routing decisions of a mixture-of-experts model: which experts each token of a
// forward was sent to, per MoE layer. SGLang's ExpertDistributionRecorder hooks the same place
// (select_experts, inside the forward of every MoE layer). Called on the thread that runs the
// forward; an implementation shared with other threads synchronises itself.
#include <cstdint>

#include "model/forward_batch.h"

namespace sglang {

class ExpertRoutingObserver {
 public:
  virtual ~ExpertRoutingObserver() = default;
  // A forward of `batch` begins; every on_select_experts until on_forward_end belongs to it. A
  // forward that fails never ends: the next begin starts over.
  virtual void on_forward_begin(const ForwardBatch& batch) = 0;
  // Layer `layer` routed the batch's tokens: expert_ids[t * top_k + j] is token t's j-th choice
  // (descending routing weight), for t < num_tokens. Host memory, valid during the call only.
  virtual void on_select_experts(int64_t layer, const int32_t* expert_ids, int64_t num_tokens,
                                 int64_t top_k) = 0;
  virtual void on_forward_end() = 0;
};

}  // namespace sglang
