#pragma once
// The model runner: the one place a forward goes through, whatever the model. It checks the
// ForwardBatch against the model and the KV cache (a malformed batch is an error, never a crash),
// builds the per-forward input that every architecture shares (model/model_input.h: ids,
// positions, attention metadata, logit rows) once, and calls the model, which only describes its
// layers. As nano-vllm's engine/model_runner.py (prepare_prefill / prepare_decode, then run_model)
// and mini-sglang's prepare_metadata. Backend-agnostic: the metadata is uploaded through the
// Backend, so a CUDA backend can capture graphs around run() later.
#include "cache/kv_cache.h"
#include "model/causal_lm.h"
#include "model/forward_batch.h"
#include "model/model_input.h"
#include "util/status.h"

namespace sglang {

class ModelRunner {
 public:
  explicit ModelRunner(CausalLM& model) : model_(&model) {}

  CausalLM& model() const { return *model_; }
  void set_model(CausalLM& model) { model_ = &model; }

  // float32 logits [batch.num_logit_rows(), model.output_width()] on the backend, rows in sequence
  // order; the new tokens' K/V are written into `kv`.
  Result<Tensor> forward(const ForwardBatch& batch, KvCache& kv);
  // The rows the head would read instead of the head's output (CausalLM::forward_hidden).
  Result<Tensor> forward_hidden(const ForwardBatch& batch, KvCache& kv);

  // The checks forward() makes before it touches the backend: the batch's own consistency, token
  // ids within the vocabulary, pages that cover each sequence and exist in `kv`, then the model's
  // own rules (CausalLM::check_batch).
  Status validate(const ForwardBatch& batch, const KvCache& kv) const;
  // The shared input of a validated batch, uploaded to the model's backend.
  ModelInput prepare(const ForwardBatch& batch, const KvCache& kv) const;

 private:
  CausalLM* model_;
};

}  // namespace sglang
