#pragma once
// The sparse mixture-of-experts MLP of Qwen2-MoE (transformers' Qwen2MoeSparseMoeBlock; SGLang's
// Qwen2MoeSparseMoeBlock): a router linear picks, per token, the top-k of E SiLU-gated expert MLPs
// by softmax probability (optionally renormalised over the k); the output is their
// probability-weighted sum plus a shared expert scaled by sigmoid(shared_expert_gate(x)).
//
// Computed batched by expert, not token by token: the routing comes to the host once per layer,
// the tokens' rows are gathered grouped by expert (one contiguous block per expert), each expert
// runs one GEMM pair over its block, and moe_combine brings the rows back to token order with
// their routing weights.
#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "model/expert_routing_observer.h"
#include "model/model_config.h"
#include "model/weight_store.h"

namespace sglang {

// Activation buffers of the MoE layers, shared by all of them and grown to the largest batch.
struct MoeWorkspace {
  void ensure(Backend& be, const ModelConfig& c, int64_t tokens);

  int64_t capacity = 0;
  Tensor router_logits;               // [T, E]
  Tensor topk_weights, topk_ids;      // [T, k]
  Tensor sorted_rows;                 // [T * k, 1] token of each expert-grouped row
  Tensor slots;                       // [T, k] expert-grouped row of each choice
  Tensor expert_in, expert_out;       // [T * k, H]
  Tensor expert_gate_up, expert_act;  // [T, 2I], [T, I]: one expert's rows at a time
  Tensor shared_gate_up, shared_act;  // [T, 2S], [T, S]
  Tensor shared_gate;                 // [T, 1]
  std::vector<int32_t> host_ids, host_sorted_rows, host_slots;
  std::vector<int64_t> expert_begin;  // [E + 1] first grouped row of each expert
};

class SparseMoeBlock {
 public:
  // The weights under `prefix` ("model.layers.<i>.mlp."): gate (the router), experts.<e>.{gate,
  // up,down}_proj, shared_expert.{gate,up,down}_proj, shared_expert_gate.
  static Result<std::unique_ptr<SparseMoeBlock>> load(const ModelConfig& c, const WeightStore& w,
                                                      const std::string& prefix, Backend& be);

  // out[T, H] = the block applied to x[T, H]. The routing goes to `observer` (may be null) as
  // decoder layer `layer`.
  void forward(Backend& be, const Tensor& x, const Tensor& out, MoeWorkspace& ws,
               ExpertRoutingObserver* observer, int64_t layer) const;

 private:
  struct Mlp {
    Tensor gate_up;  // gate and up stacked: [2I, H]
    Tensor down;     // [H, I]
  };
  SparseMoeBlock() = default;

  int64_t num_experts_ = 0, top_k_ = 0;
  int64_t intermediate_ = 0, shared_intermediate_ = 0;
  bool renormalize_ = false;
  Tensor router_;  // [E, H]
  std::vector<Mlp> experts_;
  Mlp shared_;
  Tensor shared_gate_;  // [1, H]
};

}  // namespace sglang
