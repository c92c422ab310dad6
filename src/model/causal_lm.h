#pragma once
// What the engine sees of a model, whatever its architecture: a decoder-only language model, or a
// bidirectional encoder (config().causal false: model/xlm_roberta.h) that the scheduler prefills
// whole, never from a cached prefix and never in chunks.
#include <memory>
#include <optional>
#include <string>

#include "cache/kv_cache.h"
#include "kernels/backend.h"
#include "model/expert_routing_observer.h"
#include "model/forward_batch.h"
#include "model/model_config.h"
#include "model/model_input.h"
#include "model/weight_store.h"
#include "util/status.h"

namespace sglang {

class CausalLM {
 public:
  virtual ~CausalLM() = default;
  virtual const ModelConfig& config() const = 0;
  virtual Backend& backend() const = 0;
  virtual KvCacheShape kv_cache_shape() const = 0;
  // Rules of this model beyond the ones the model runner checks for every model (an encoder
  // takes whole sequences only, ...). Called by ModelRunner::validate.
  virtual Status check_batch(const ForwardBatch& batch) const {
    (void)batch;
    return {};
  }
  // Runs the batch the runner prepared (engine/model_runner.h: call forwards through it); writes
  // the new tokens' K/V into `kv`; returns float32 logits [in.logit_rows.size(), output_width()]
  // on the backend, rows in sequence order.
  virtual Result<Tensor> forward(const ModelInput& in, KvCache& kv) = 0;
  // The same forward, returning what the head would read instead of the head's output: the final
  // (normed) hidden states [rows, hidden_size] of the rows `in` asks logits for. An embedding
  // server pools these (SGLang's last-token pooling for decoder embedding models).
  virtual Result<Tensor> forward_hidden(const ModelInput& in, KvCache& kv) = 0;
  // A mixture-of-experts model reports each forward's routing to `observer` (null: to nobody);
  // dense models ignore it. The observer must outlive the model or be reset first.
  virtual void set_expert_routing_observer(ExpertRoutingObserver* observer) { (void)observer; }
  // Width of forward()'s rows: vocab_size, num_labels for a sequence-classification head, or
  // hidden_size for an encoder embedding model (the pooled sentence vector).
  int64_t output_width() const {
    if (config().head == Head::kEmbedding) return config().hidden_size;
    return config().head == Head::kSequenceClassification ? config().num_labels
                                                          : config().vocab_size;
  }
};

// How load_causal_lm places a model.
struct LoadOptions {
  // --dtype: the matmul weights' dtype (F32, F16, BF16); unset is "auto" (ModelConfig).
  std::optional<DType> weight_dtype;
  // --quantization: the backend quantizes the float matmul weights at load (w8a8_int8); empty:
  // none.
  std::string quantization;
  // Hears of each tensor read (the server's progress bar); may be empty.
  WeightStore::ProgressFn progress;
};

// Reads the model at `model_path` (a HF directory: config.json and safetensors; or a GGUF file,
// or a directory holding one) onto `backend`.
Result<std::unique_ptr<CausalLM>> load_causal_lm(const std::string& model_path, Backend& backend,
                                                 const LoadOptions& options = {});

// SGLang's --dtype names: "auto" is unset; half/float16, bfloat16, float/float32. Another name is
// an error listing them.
Result<std::optional<DType>> parse_weight_dtype(const std::string& name);

}  // namespace sglang
