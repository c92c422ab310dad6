#pragma once
// What one forward hands a model besides the weights: the batch as the engine built it, plus
// everything about it that does not depend on the architecture, uploaded once by the model runner
// (engine/model_runner.h) for every model: token ids, positions, the attention metadata and the
// rows that produce logits. Models only describe their layers over it (as nano-vllm's
// ModelRunner.prepare_prefill/prepare_decode and mini-sglang's prepare_metadata hand the model a
// ready context).
#include <cstdint>
#include <vector>

#include "kernels/backend.h"
#include "model/forward_batch.h"

namespace sglang {

struct ModelInput {
  const ForwardBatch* batch = nullptr;  // validated by the runner; outlives the forward
  int64_t num_tokens = 0;
  Tensor token_ids;  // int32 [T]
  // int32 [T]: each new token's position in its sequence (prefix_len + index). Encoders that count
  // positions their own way (RoBERTa) build theirs from `batch`.
  Tensor positions;
  AttentionMetadata attention;
  // Rows of the flattened batch whose outputs the forward returns, in sequence order: the last new
  // token of a LogitsMode::kLast sequence, every new token of a kAll one.
  std::vector<int32_t> logit_rows;
};

}  // namespace sglang
