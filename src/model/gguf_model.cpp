#include "model/gguf_model.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <vector>

#include "model/gguf_dequant.h"
#include "util/half.h"

namespace sglang {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

Result<std::string> find_gguf_file(const std::string& model_path) {
  std::error_code ec;
  if (fs::is_regular_file(model_path, ec)) {
    if (!GgufFile::has_gguf_magic(model_path)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "model path " + model_path +
                            " is a file but not a GGUF file (expected a GGUF file or a model "
                            "directory)");
    }
    return model_path;
  }
  if (!fs::is_directory(model_path, ec) || fs::exists(fs::path(model_path) / "config.json", ec)) {
    return std::string();
  }
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(model_path, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".gguf") found.push_back(e.path().string());
  }
  std::sort(found.begin(), found.end());
  if (found.size() > 1) {
    std::string list;
    for (const auto& f : found) list += (list.empty() ? "" : ", ") + f;
    return make_error(ErrorCode::kInvalidArgument,
                      model_path + " holds several GGUF files (" + list + "); pass one of them");
  }
  return found.empty() ? std::string() : found[0];
}

namespace {

struct ArchInfo {
  const char* gguf;
  const char* hf_architecture;
  const char* model_type;
  bool permuted_qk;  // llama.cpp's converter permutes q/k rows for this architecture
  bool norm_offset;  // the converter stores Gemma's (1 + w) norm weights as 1 + w
};
// The other architectures use NEOX rope in llama.cpp (no permutation), as qwen2.
constexpr ArchInfo kArchs[] = {
    {"llama", "LlamaForCausalLM", "llama", true, false},
    {"qwen2", "Qwen2ForCausalLM", "qwen2", false, false},
    {"qwen3", "Qwen3ForCausalLM", "qwen3", false, false},
    {"qwen3moe", "Qwen3MoeForCausalLM", "qwen3_moe", false, false},
    {"gemma2", "Gemma2ForCausalLM", "gemma2", false, true},
    {"gemma3", "Gemma3ForCausalLM", "gemma3_text", false, true},
    {"phi3", "Phi3ForCausalLM", "phi3", false, false},
};

bool is_gemma(const ArchInfo& a) {
  return a.norm_offset;
}

Result<const ArchInfo*> arch_of(const GgufFile& g) {
  SGLANG_ASSIGN_OR_RETURN(auto arch, g.get_string("general.architecture"));
  if (!arch) {
    return make_error(ErrorCode::kCorrupt, g.path() + ": missing metadata general.architecture");
  }
  std::string supported;
  for (const ArchInfo& a : kArchs) {
    if (*arch == a.gguf) return &a;
    supported += (supported.empty() ? "" : ", ") + std::string(a.gguf);
  }
  return make_error(ErrorCode::kUnsupported, g.path() + ": unsupported GGUF architecture '" +
                                                 *arch + "' (supported: " + supported + ")");
}

// The values of a 1-D F32 tensor (Phi-3's rope factors), or empty when the file has none.
Result<std::vector<double>> f32_vector(const GgufFile& g, const std::string& name) {
  const GgufTensorInfo* t = g.find_tensor(name);
  if (!t) return std::vector<double>();
  if (t->type != GgmlType::kF32 || t->dims.size() != 1) {
    return make_error(ErrorCode::kCorrupt, g.path() + ": tensor " + name + " must be 1-D F32");
  }
  const auto bytes = g.tensor_bytes(*t);
  std::vector<float> f(static_cast<size_t>(t->numel()));
  std::memcpy(f.data(), bytes.data(), f.size() * sizeof(float));
  return std::vector<double>(f.begin(), f.end());
}

// What llama.cpp reads from the keys its converter writes for each architecture beyond the common
// ones (convert_hf_to_gguf.py's Gemma2Model / Gemma3Model / Phi3MiniModel / Qwen2MoeModel, and
// llama-model.cpp's load_hparams for the values it has no key for), as config.json fields.
Status add_arch_fields(const GgufFile& g, const ArchInfo& arch, ojson& c) {
  const std::string a = arch.gguf;
  if (is_gemma(arch)) {
    // No key for query_pre_attn_scalar: llama.cpp scales by head_dim^-0.5, by (hidden /
    // heads)^-0.5 for the 27B sizes (46 Gemma 2 layers, 62 Gemma 3), as gemma_pytorch's
    // config does; those are the checkpoints' values.
    const int64_t layers = c["num_hidden_layers"].get<int64_t>();
    const int64_t heads = c["num_attention_heads"].get<int64_t>();
    const bool is_27b = layers == (a == "gemma2" ? 46 : 62);
    const int64_t head_dim = c.contains("head_dim") ? c["head_dim"].get<int64_t>()
                                                    : c["hidden_size"].get<int64_t>() / heads;
    c["query_pre_attn_scalar"] = is_27b ? c["hidden_size"].get<int64_t>() / heads : head_dim;
    c["hidden_activation"] = "gelu_pytorch_tanh";
    SGLANG_ASSIGN_OR_RETURN(auto window, g.get_int(a + ".attention.sliding_window"));
    if (window) c["sliding_window"] = *window;
    // Softcaps: a missing key is llama.cpp's default, which is Gemma 2's (50, 30) and none for
    // Gemma 3 (whose converter writes the final one only when set): our config defaults.
    for (const char* key : {"attn_logit_softcapping", "final_logit_softcapping"}) {
      SGLANG_ASSIGN_OR_RETURN(auto cap, g.get_float(a + "." + key));
      if (cap) c[key] = *cap;
    }
    // The layer pattern (a full layer every 2nd / 6th) is llama.cpp's set_swa_pattern and
    // transformers' default alike; Gemma 3's local layers rotate with base 10000, unscaled.
    if (a == "gemma3") c["rope_local_base_freq"] = 10000.0;
  }
  if (a == "phi3") {
    // No key_length: head_dim = hidden / heads. rope.dimension_count is Phi3MiniModel's
    // int(partial_rotary_factor * hidden) // heads.
    const int64_t head_dim =
        c["hidden_size"].get<int64_t>() / c["num_attention_heads"].get<int64_t>();
    SGLANG_ASSIGN_OR_RETURN(auto rot, g.get_int(a + ".rope.dimension_count"));
    if (rot && *rot != head_dim) {
      c["partial_rotary_factor"] = static_cast<double>(*rot) / static_cast<double>(head_dim);
    }
    SGLANG_ASSIGN_OR_RETURN(auto orig, g.get_int(a + ".rope.scaling.original_context_length"));
    if (orig) c["original_max_position_embeddings"] = *orig;
    // 0: no window (Phi-4-mini); else the window the checkpoint declares.
    SGLANG_ASSIGN_OR_RETURN(auto window, g.get_int(a + ".attention.sliding_window"));
    c["sliding_window"] = window && *window > 0 ? ojson(*window) : ojson();
    // longrope: the factors are tensors, the attention factor a key.
    SGLANG_ASSIGN_OR_RETURN(auto long_f, f32_vector(g, "rope_factors_long.weight"));
    SGLANG_ASSIGN_OR_RETURN(auto short_f, f32_vector(g, "rope_factors_short.weight"));
    if (!long_f.empty() || !short_f.empty()) {
      ojson rs = {{"rope_type", "longrope"}, {"long_factor", long_f}, {"short_factor", short_f}};
      SGLANG_ASSIGN_OR_RETURN(auto attn, g.get_float(a + ".rope.scaling.attn_factor"));
      if (attn) rs["attention_factor"] = *attn;
      c["rope_scaling"] = rs;
    }
  }
  if (a == "qwen3moe") {
    auto required = [&](const std::string& key) -> Result<int64_t> {
      SGLANG_ASSIGN_OR_RETURN(auto v, g.get_int(a + "." + key));
      if (!v)
        return make_error(ErrorCode::kCorrupt, g.path() + ": missing metadata " + a + "." + key);
      return *v;
    };
    SGLANG_ASSIGN_OR_RETURN(c["num_experts"], required("expert_count"));
    SGLANG_ASSIGN_OR_RETURN(c["num_experts_per_tok"], required("expert_used_count"));
    SGLANG_ASSIGN_OR_RETURN(c["moe_intermediate_size"], required("expert_feed_forward_length"));
    // llama.cpp's qwen3moe graph renormalises the top-k weights, every layer is sparse.
    SGLANG_ASSIGN_OR_RETURN(auto norm, g.get_bool(a + ".expert_weights_norm"));
    c["norm_topk_prob"] = norm.value_or(true);
    c["decoder_sparse_step"] = 1;
    c["mlp_only_layers"] = ojson::array();
  }
  return {};
}

}  // namespace

Result<ojson> hf_config_from_gguf(const GgufFile& g) {
  SGLANG_ASSIGN_OR_RETURN(const ArchInfo* arch, arch_of(g));
  const std::string a = arch->gguf;
  auto required_int = [&](const std::string& key) -> Result<int64_t> {
    SGLANG_ASSIGN_OR_RETURN(auto v, g.get_int(key));
    if (!v) return make_error(ErrorCode::kCorrupt, g.path() + ": missing metadata " + key);
    return *v;
  };
  ojson c;
  c["architectures"] = ojson::array({arch->hf_architecture});
  c["model_type"] = arch->model_type;
  SGLANG_ASSIGN_OR_RETURN(c["hidden_size"], required_int(a + ".embedding_length"));
  SGLANG_ASSIGN_OR_RETURN(c["intermediate_size"], required_int(a + ".feed_forward_length"));
  SGLANG_ASSIGN_OR_RETURN(c["num_hidden_layers"], required_int(a + ".block_count"));
  SGLANG_ASSIGN_OR_RETURN(const int64_t heads, required_int(a + ".attention.head_count"));
  c["num_attention_heads"] = heads;
  SGLANG_ASSIGN_OR_RETURN(auto kv_heads, g.get_int(a + ".attention.head_count_kv"));
  c["num_key_value_heads"] = kv_heads.value_or(heads);
  SGLANG_ASSIGN_OR_RETURN(auto key_length, g.get_int(a + ".attention.key_length"));
  if (key_length) c["head_dim"] = *key_length;
  SGLANG_ASSIGN_OR_RETURN(auto ctx, g.get_int(a + ".context_length"));
  if (ctx) c["max_position_embeddings"] = *ctx;
  SGLANG_ASSIGN_OR_RETURN(auto eps, g.get_float(a + ".attention.layer_norm_rms_epsilon"));
  if (eps) c["rms_norm_eps"] = *eps;
  SGLANG_ASSIGN_OR_RETURN(auto theta, g.get_float(a + ".rope.freq_base"));
  c["rope_theta"] = theta.value_or(10000.0);
  SGLANG_ASSIGN_OR_RETURN(auto scaling, g.get_string(a + ".rope.scaling.type"));
  if (scaling && *scaling == "linear") {
    SGLANG_ASSIGN_OR_RETURN(auto factor, g.get_float(a + ".rope.scaling.factor"));
    c["rope_scaling"] = {{"rope_type", "linear"}, {"factor", factor.value_or(1.0)}};
  } else if (scaling && *scaling != "none") {
    return make_error(ErrorCode::kUnsupported,
                      g.path() + ": rope scaling type '" + *scaling + "' is not supported");
  }
  const GgufTensorInfo* embd = g.find_tensor("token_embd.weight");
  if (!embd || embd->dims.size() != 2) {
    return make_error(ErrorCode::kNotFound, g.path() + ": missing tensor token_embd.weight");
  }
  SGLANG_ASSIGN_OR_RETURN(auto vocab, g.get_int(a + ".vocab_size"));
  c["vocab_size"] = vocab.value_or(embd->dims[1]);
  c["tie_word_embeddings"] = g.find_tensor("output.weight") == nullptr;
  SGLANG_ASSIGN_OR_RETURN(auto bos, g.get_int("tokenizer.ggml.bos_token_id"));
  SGLANG_ASSIGN_OR_RETURN(auto eos, g.get_int("tokenizer.ggml.eos_token_id"));
  if (bos) c["bos_token_id"] = *bos;
  if (eos) c["eos_token_id"] = *eos;
  // What transformers loads a GGUF file as (it dequantizes to float32); --dtype auto keeps the
  // quantized tensors in their blocks instead (open_gguf_weights).
  c["torch_dtype"] = "float32";
  SGLANG_RETURN_IF_ERROR(add_arch_fields(g, *arch, c));
  return c;
}

Result<ojson> read_hf_config(const std::string& model_path) {
  SGLANG_ASSIGN_OR_RETURN(std::string gguf_path, find_gguf_file(model_path));
  if (!gguf_path.empty()) {
    SGLANG_ASSIGN_OR_RETURN(auto g, GgufFile::open(gguf_path));
    return hf_config_from_gguf(*g);
  }
  const std::string path = model_path + "/config.json";
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  ojson j = ojson::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return make_error(ErrorCode::kCorrupt, path + " is not valid JSON");
  return j;
}

namespace {

// A tensor the model asks for by Hugging Face name, in the GGUF file: its llama.cpp name, and for
// one expert of a Qwen3-MoE layer the index into the stacked ffn_*_exps tensor.
struct GgufRef {
  std::string name;     // "" when the Hugging Face name has no GGUF counterpart
  int64_t expert = -1;  // >= 0: slice `expert` of the [experts, rows, cols] tensor
};

// llama.cpp's names (gguf-py's TensorNameMap, what its converter writes) of the Hugging Face names
// the model code asks for.
GgufRef gguf_ref_of(const std::string& hf_name, const ArchInfo& arch) {
  static const std::map<std::string, std::string> kTop = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
      // Not a Hugging Face tensor: Llama 3 rope scaling as per-frequency divisors
      // (model/llama.cpp).
      {"model.rope_freqs.weight", "rope_freqs.weight"},
  };
  static const std::map<std::string, std::string> kLayer = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.o_proj.bias", "attn_output.bias"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
      // Qwen3's and Gemma 3's per-head norms.
      {"self_attn.q_norm.weight", "attn_q_norm.weight"},
      {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      // Phi-3's fused projections: qkv as attn_qkv, gate and up (gate first) as ffn_up.
      {"self_attn.qkv_proj.weight", "attn_qkv.weight"},
      {"mlp.gate_up_proj.weight", "ffn_up.weight"},
      // Gemma's sandwich norms (its post_attention_layernorm is below).
      {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},
      {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"},
      // The MoE router.
      {"mlp.gate.weight", "ffn_gate_inp.weight"},
  };
  const std::string name = hf_name.starts_with("model.") || hf_name.starts_with("lm_head")
                               ? hf_name
                               : "model." + hf_name;
  if (auto it = kTop.find(name); it != kTop.end()) return {it->second};
  const std::string prefix = "model.layers.";
  if (name.rfind(prefix, 0) != 0) return {};
  const size_t dot = name.find('.', prefix.size());
  if (dot == std::string::npos) return {};
  const std::string blk = "blk." + name.substr(prefix.size(), dot - prefix.size()) + ".";
  const std::string rest = name.substr(dot + 1);
  if (rest == "post_attention_layernorm.weight") {
    // Gemma's norm of the attention output; everyone else's norm before the MLP.
    return {blk + (is_gemma(arch) ? "post_attention_norm.weight" : "ffn_norm.weight")};
  }
  // mlp.experts.E.{gate,up,down}_proj.weight: expert E of the stacked ffn_{gate,up,down}_exps.
  const std::string experts = "mlp.experts.";
  if (rest.rfind(experts, 0) == 0) {
    const size_t e_end = rest.find('.', experts.size());
    if (e_end == std::string::npos || e_end == experts.size()) return {};
    const std::string id = rest.substr(experts.size(), e_end - experts.size());
    if (!std::all_of(id.begin(), id.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) ||
        id.size() > 9) {
      return {};
    }
    const std::string proj = rest.substr(e_end + 1);
    for (const char* p : {"gate", "up", "down"}) {
      if (proj == std::string(p) + "_proj.weight") {
        return {blk + "ffn_" + p + "_exps.weight", std::stoll(id)};
      }
    }
    return {};
  }
  auto it = kLayer.find(rest);
  return it == kLayer.end() ? GgufRef{} : GgufRef{blk + it->second};
}

class GgufWeightStore final : public WeightStore {
 public:
  GgufWeightStore(std::unique_ptr<GgufFile> g, const ArchInfo& arch, int64_t heads,
                  int64_t kv_heads, std::optional<DType> dequantized_dtype)
      : gguf_(std::move(g)),
        arch_(arch),
        heads_(heads),
        kv_heads_(kv_heads),
        dequantized_dtype_(dequantized_dtype) {}

  bool contains(const std::string& name) const override {
    const GgufRef ref = gguf_ref_of(name, arch_);
    if (ref.name.empty()) return false;
    const GgufTensorInfo* t = gguf_->find_tensor(ref.name);
    return t != nullptr && (ref.expert < 0 || (t->dims.size() == 3 && ref.expert < t->dims[2]));
  }

  size_t num_tensors() const override { return gguf_->tensors().size(); }

 protected:
  Result<HostTensor> read(const std::string& name,
                          const std::vector<int64_t>& shape) const override {
    const GgufRef ref = gguf_ref_of(name, arch_);
    const std::string& gn = ref.name;
    const GgufTensorInfo* t = gn.empty() ? nullptr : gguf_->find_tensor(gn);
    if (!t) {
      return make_error(ErrorCode::kNotFound, "missing tensor '" + name + "' (GGUF name '" +
                                                  (gn.empty() ? "?" : gn) + "') in " +
                                                  gguf_->path());
    }
    std::vector<int64_t> file_shape = t->shape();
    auto bytes = gguf_->tensor_bytes(*t);
    int64_t numel = t->numel();
    if (ref.expert >= 0) {
      // One expert's [rows, cols] of the stacked tensor: whole rows (of blocks), contiguous.
      if (file_shape.size() != 3 || ref.expert >= file_shape[0] ||
          bytes.size() % static_cast<size_t>(file_shape[0]) != 0) {
        return make_error(ErrorCode::kCorrupt, "tensor " + gguf_->path() + ":" + gn +
                                                   " has shape " + shape_string(file_shape) +
                                                   ", no expert " + std::to_string(ref.expert));
      }
      const size_t per_expert = bytes.size() / static_cast<size_t>(file_shape[0]);
      bytes = bytes.subspan(static_cast<size_t>(ref.expert) * per_expert, per_expert);
      numel /= file_shape[0];
      file_shape.erase(file_shape.begin());
    }
    if (file_shape != shape) {
      return make_error(ErrorCode::kCorrupt, "tensor " + gguf_->path() + ":" + gn + " has shape " +
                                                 shape_string(file_shape) + ", expected " +
                                                 shape_string(shape));
    }
    // Gemma: the file holds 1 + w where the model asks for w (it adds the 1 back: model/gemma.cpp).
    // In float32, (1 + w) - 1 is exact for |w| <= 1/2, so the model's 1 + w is the file's value.
    const bool norm_offset = arch_.norm_offset && gn.ends_with("norm.weight");
    // llama.cpp stores llama's q/k rows interleaved per head for its rotary kernel.
    int64_t permute_heads = 0;
    if (arch_.permuted_qk && gn.ends_with("attn_q.weight")) permute_heads = heads_;
    if (arch_.permuted_qk && gn.ends_with("attn_k.weight")) permute_heads = kv_heads_;

    HostTensor out;
    out.shape = shape;
    const std::optional<DType> quantized = quantized_dtype_of(t->type);
    if (!dequantized_dtype_ && quantized && !norm_offset && shape.size() == 2 &&
        shape[1] % dtype_block_elements(*quantized) == 0) {
      // Kept in its blocks for the backend's quantized matmul. Each row is whole blocks, so the
      // q/k permutation moves rows of bytes exactly.
      out.dtype = *quantized;
      if (permute_heads == 0) {
        out.data = bytes.data();  // in place in the mmap
        return out;
      }
      std::vector<uint8_t> raw(bytes.begin(), bytes.end());
      SGLANG_ASSIGN_OR_RETURN(
          raw,
          unpermute_rows(raw, shape[0], dtype_row_bytes(*quantized, shape[1]), permute_heads, gn));
      std::lock_guard lock(mu_);
      owned_bytes_.push_back(std::move(raw));
      out.data = owned_bytes_.back().data();
      return out;
    }
    if (permute_heads == 0 && !norm_offset) {
      if (t->type == GgmlType::kF32 || t->type == GgmlType::kF16 || t->type == GgmlType::kBF16) {
        out.dtype = t->type == GgmlType::kF32   ? DType::kF32
                    : t->type == GgmlType::kF16 ? DType::kF16
                                                : DType::kBF16;
        out.data = bytes.data();  // in place in the mmap
        return out;
      }
    }
    std::vector<float> values(static_cast<size_t>(numel));
    Status st = dequantize(t->type, bytes, numel, values.data());
    if (!st.ok()) {
      return make_error(st.error().code,
                        gguf_->path() + ": tensor '" + gn + "': " + st.error().message);
    }
    if (permute_heads != 0) {
      SGLANG_ASSIGN_OR_RETURN(
          values,
          unpermute_rows(values, shape[0], shape.size() > 1 ? shape[1] : 1, permute_heads, gn));
    }
    if (norm_offset) {
      for (float& v : values) v -= 1.0f;
    }
    // Float tensors a quantized file holds dequantized (norms are F32 already): bfloat16 unless
    // float32 was asked for (or a Gemma norm, kept exact).
    if (!norm_offset && dequantized_dtype_.value_or(DType::kBF16) == DType::kBF16) {
      std::vector<uint16_t> halves(values.size());
      const auto n = static_cast<int64_t>(values.size());
#pragma omp parallel for schedule(static) if (n > 65536)
      for (int64_t i = 0; i < n; ++i) halves[i] = f32_to_bf16(values[i]);
      std::lock_guard lock(mu_);
      owned_bf16_.push_back(std::move(halves));
      out.dtype = DType::kBF16;
      out.data = owned_bf16_.back().data();
      return out;
    }
    std::lock_guard lock(mu_);
    owned_.push_back(std::move(values));
    out.dtype = DType::kF32;
    out.data = owned_.back().data();
    return out;
  }

 private:
  // Inverse of the converter's per-head permutation: within each head of D rows, GGUF row 2i + j
  // holds Hugging Face row j * D/2 + i (i < D/2, j in {0, 1}). A row is `cols` elements of E
  // (floats, or the bytes of a quantized row's blocks).
  template <typename E>
  Result<std::vector<E>> unpermute_rows(const std::vector<E>& in, int64_t rows, int64_t cols,
                                        int64_t heads, const std::string& gn) const {
    if (heads <= 0 || rows % heads != 0 || (rows / heads) % 2 != 0) {
      return make_error(ErrorCode::kCorrupt, gguf_->path() + ": tensor '" + gn + "' has " +
                                                 std::to_string(rows) + " rows, not " +
                                                 std::to_string(heads) + " heads of even size");
    }
    const int64_t d = rows / heads, half = d / 2;
    std::vector<E> out(in.size());
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t i = 0; i < half; ++i) {
        for (int64_t j = 0; j < 2; ++j) {
          const E* src = in.data() + (h * d + 2 * i + j) * cols;
          E* dst = out.data() + (h * d + j * half + i) * cols;
          std::copy(src, src + cols, dst);
        }
      }
    }
    return out;
  }

  std::unique_ptr<GgufFile> gguf_;
  const ArchInfo& arch_;
  int64_t heads_, kv_heads_;
  std::optional<DType> dequantized_dtype_;  // none: quantized tensors stay in their blocks
  mutable std::mutex mu_;
  // Dequantized tensors handed out as views.
  mutable std::deque<std::vector<float>> owned_;
  mutable std::deque<std::vector<uint16_t>> owned_bf16_;
  mutable std::deque<std::vector<uint8_t>> owned_bytes_;  // permuted quantized rows
};

}  // namespace

Result<std::unique_ptr<WeightStore>> open_gguf_weights(const std::string& gguf_path,
                                                       std::optional<DType> dequantized_dtype) {
  if (dequantized_dtype && *dequantized_dtype != DType::kF32 &&
      *dequantized_dtype != DType::kBF16) {
    return make_error(ErrorCode::kInvalidArgument, "GGUF tensors dequantize to F32 or BF16");
  }
  SGLANG_ASSIGN_OR_RETURN(auto g, GgufFile::open(gguf_path));
  SGLANG_ASSIGN_OR_RETURN(const ArchInfo* arch, arch_of(*g));
  const std::string a = arch->gguf;
  SGLANG_ASSIGN_OR_RETURN(auto heads, g->get_int(a + ".attention.head_count"));
  SGLANG_ASSIGN_OR_RETURN(auto kv_heads, g->get_int(a + ".attention.head_count_kv"));
  if (!heads) {
    return make_error(ErrorCode::kCorrupt,
                      gguf_path + ": missing metadata " + a + ".attention.head_count");
  }
  return std::unique_ptr<WeightStore>(new GgufWeightStore(
      std::move(g), *arch, *heads, kv_heads.value_or(*heads), dequantized_dtype));
}

}  // namespace sglang
