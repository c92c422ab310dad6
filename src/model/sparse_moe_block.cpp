#include "model/sparse_moe_block.h"

#include <algorithm>

namespace sglang {

void MoeWorkspace::ensure(Backend& be, const ModelConfig& c, int64_t tokens) {
  if (tokens <= capacity) return;
  const int64_t cap = std::max<int64_t>(tokens, 2 * capacity);
  const MoeConfig& m = c.moe;
  const int64_t h = c.hidden_size, k = m.num_experts_per_tok, rows = cap * k;
  const int64_t inter = m.moe_intermediate_size, shared = m.shared_expert_intermediate_size;
  capacity = cap;
  router_logits = be.empty(DType::kF32, {cap, m.num_experts});
  topk_weights = be.empty(DType::kF32, {cap, k});
  topk_ids = be.empty(DType::kI32, {cap, k});
  sorted_rows = be.empty(DType::kI32, {rows, 1});
  slots = be.empty(DType::kI32, {cap, k});
  expert_in = be.empty(DType::kF32, {rows, h});
  expert_out = be.empty(DType::kF32, {rows, h});
  // One expert at a time uses these; it gets each token at most once, so T rows suffice.
  expert_gate_up = be.empty(DType::kF32, {cap, 2 * inter});
  expert_act = be.empty(DType::kF32, {cap, inter});
  if (shared > 0) {
    shared_gate_up = be.empty(DType::kF32, {cap, 2 * shared});
    shared_act = be.empty(DType::kF32, {cap, shared});
    shared_gate = be.empty(DType::kF32, {cap, 1});
  }
  host_ids.resize(static_cast<size_t>(rows));
  host_sorted_rows.resize(static_cast<size_t>(rows));
  host_slots.resize(static_cast<size_t>(rows));
  expert_begin.resize(static_cast<size_t>(m.num_experts + 1));
}

Result<std::unique_ptr<SparseMoeBlock>> SparseMoeBlock::load(const ModelConfig& c,
                                                             const WeightStore& w,
                                                             const std::string& prefix,
                                                             Backend& be) {
  std::unique_ptr<SparseMoeBlock> b(new SparseMoeBlock());
  const MoeConfig& m = c.moe;
  const int64_t h = c.hidden_size;
  b->num_experts_ = m.num_experts;
  b->top_k_ = m.num_experts_per_tok;
  b->intermediate_ = m.moe_intermediate_size;
  b->shared_intermediate_ = m.shared_expert_intermediate_size;
  b->renormalize_ = m.norm_topk_prob;
  auto load_mlp = [&](const std::string& p, int64_t inter) -> Result<Mlp> {
    SGLANG_ASSIGN_OR_RETURN(auto wg, w.get(p + "gate_proj.weight", {inter, h}));
    SGLANG_ASSIGN_OR_RETURN(auto wu, w.get(p + "up_proj.weight", {inter, h}));
    SGLANG_ASSIGN_OR_RETURN(auto wd, w.get(p + "down_proj.weight", {h, inter}));
    return Mlp{be.load_matmul_weight({wg, wu}, c.weight_dtype),
               be.load_matmul_weight({wd}, c.weight_dtype)};
  };
  SGLANG_ASSIGN_OR_RETURN(auto router, w.get(prefix + "gate.weight", {m.num_experts, h}));
  b->router_ = be.load_matmul_weight({router}, c.weight_dtype);
  for (int64_t e = 0; e < m.num_experts; ++e) {
    SGLANG_ASSIGN_OR_RETURN(
        Mlp expert, load_mlp(prefix + "experts." + std::to_string(e) + ".", b->intermediate_));
    b->experts_.push_back(std::move(expert));
  }
  if (b->shared_intermediate_ > 0) {
    SGLANG_ASSIGN_OR_RETURN(b->shared_,
                            load_mlp(prefix + "shared_expert.", b->shared_intermediate_));
    SGLANG_ASSIGN_OR_RETURN(auto gate, w.get(prefix + "shared_expert_gate.weight", {1, h}));
    b->shared_gate_ = be.load_matmul_weight({gate}, c.weight_dtype);
  }
  return b;
}

void SparseMoeBlock::forward(Backend& be, const Tensor& x, const Tensor& out, MoeWorkspace& ws,
                             ExpertRoutingObserver* observer, int64_t layer) const {
  const int64_t T = x.rows(), k = top_k_, rows = T * k;
  const Tensor logits = ws.router_logits.rows_view(0, T);
  const Tensor weights = ws.topk_weights.rows_view(0, T);
  const Tensor ids = ws.topk_ids.rows_view(0, T);
  be.linear(x, router_, nullptr, logits);
  be.moe_topk_softmax(logits, renormalize_, weights, ids);

  // The routing on the host: the per-expert token lists decide the GEMM shapes.
  be.copy_to_host(ids, ws.host_ids.data());
  if (observer != nullptr) observer->on_select_experts(layer, ws.host_ids.data(), T, k);
  std::vector<int64_t>& begin = ws.expert_begin;
  std::fill(begin.begin(), begin.end(), 0);
  for (int64_t i = 0; i < rows; ++i) ++begin[static_cast<size_t>(ws.host_ids[i]) + 1];
  for (int64_t e = 0; e < num_experts_; ++e) begin[e + 1] += begin[e];
  // Grouped by expert, tokens in order within a group.
  std::vector<int64_t> next(begin.begin(), begin.end() - 1);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t j = 0; j < k; ++j) {
      const int64_t slot = next[static_cast<size_t>(ws.host_ids[t * k + j])]++;
      ws.host_sorted_rows[slot] = static_cast<int32_t>(t);
      ws.host_slots[t * k + j] = static_cast<int32_t>(slot);
    }
  }
  const Tensor sorted_rows = ws.sorted_rows.rows_view(0, rows);
  const Tensor slots = ws.slots.rows_view(0, T);
  be.copy_from_host(sorted_rows, ws.host_sorted_rows.data());
  be.copy_from_host(slots, ws.host_slots.data());

  const Tensor expert_in = ws.expert_in.rows_view(0, rows);
  const Tensor expert_out = ws.expert_out.rows_view(0, rows);
  be.gather_rows(x, sorted_rows, expert_in);
  for (int64_t e = 0; e < num_experts_; ++e) {
    const int64_t b = begin[e], n = begin[e + 1] - begin[e];
    if (n == 0) continue;
    const Tensor gate_up = ws.expert_gate_up.rows_view(0, n);
    const Tensor act = ws.expert_act.rows_view(0, n);
    be.linear(expert_in.rows_view(b, b + n), experts_[e].gate_up, nullptr, gate_up);
    be.silu_and_mul(gate_up, act);
    be.linear(act, experts_[e].down, nullptr, expert_out.rows_view(b, b + n));
  }

  if (shared_intermediate_ > 0) {
    const Tensor gate_up = ws.shared_gate_up.rows_view(0, T);
    const Tensor act = ws.shared_act.rows_view(0, T);
    const Tensor gate = ws.shared_gate.rows_view(0, T);
    be.linear(x, shared_.gate_up, nullptr, gate_up);
    be.silu_and_mul(gate_up, act);
    be.linear(act, shared_.down, nullptr, out);
    be.linear(x, shared_gate_, nullptr, gate);
    be.sigmoid_scale_rows(out, gate, out);
  }
  be.moe_combine(expert_out, slots, weights, /*accumulate=*/shared_intermediate_ > 0, out);
}

}  // namespace sglang
