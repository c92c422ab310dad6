#include "model/gguf_model.h"

#include <algorithm>
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
};
constexpr ArchInfo kArchs[] = {
    {"llama", "LlamaForCausalLM", "llama", true},
    {"qwen2", "Qwen2ForCausalLM", "qwen2", false},
    {"qwen3", "Qwen3ForCausalLM", "qwen3", false},  // NEOX rope in llama.cpp, as qwen2
};

Result<const ArchInfo*> arch_of(const GgufFile& g) {
  SGLANG_ASSIGN_OR_RETURN(auto arch, g.get_string("general.architecture"));
  if (!arch) {
    return make_error(ErrorCode::kCorrupt, g.path() + ": missing metadata general.architecture");
  }
  for (const ArchInfo& a : kArchs) {
    if (*arch == a.gguf) return &a;
  }
  return make_error(ErrorCode::kUnsupported, g.path() + ": unsupported GGUF architecture '" +
                                                 *arch + "' (supported: llama, qwen2, qwen3)");
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

// GGUF tensor names (llama.cpp's) of the Hugging Face names the model code asks for.
std::string gguf_name_of(const std::string& hf_name) {
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
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
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
      // Qwen3's per-head norms, as llama.cpp's converter names them.
      {"self_attn.q_norm.weight", "attn_q_norm.weight"},
      {"self_attn.k_norm.weight", "attn_k_norm.weight"},
  };
  const std::string name = hf_name.starts_with("model.") || hf_name.starts_with("lm_head")
                               ? hf_name
                               : "model." + hf_name;
  if (auto it = kTop.find(name); it != kTop.end()) return it->second;
  const std::string prefix = "model.layers.";
  if (name.rfind(prefix, 0) != 0) return "";
  const size_t dot = name.find('.', prefix.size());
  if (dot == std::string::npos) return "";
  const std::string layer = name.substr(prefix.size(), dot - prefix.size());
  auto it = kLayer.find(name.substr(dot + 1));
  return it == kLayer.end() ? "" : "blk." + layer + "." + it->second;
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
    const std::string gn = gguf_name_of(name);
    return !gn.empty() && gguf_->find_tensor(gn) != nullptr;
  }

  size_t num_tensors() const override { return gguf_->tensors().size(); }

 protected:
  Result<HostTensor> read(const std::string& name,
                          const std::vector<int64_t>& shape) const override {
    const std::string gn = gguf_name_of(name);
    const GgufTensorInfo* t = gn.empty() ? nullptr : gguf_->find_tensor(gn);
    if (!t) {
      return make_error(ErrorCode::kNotFound, "missing tensor '" + name + "' (GGUF name '" +
                                                  (gn.empty() ? "?" : gn) + "') in " +
                                                  gguf_->path());
    }
    if (t->shape() != shape) {
      return make_error(ErrorCode::kCorrupt, "tensor " + gguf_->path() + ":" + gn + " has shape " +
                                                 shape_string(t->shape()) + ", expected " +
                                                 shape_string(shape));
    }
    // llama.cpp stores llama's q/k rows interleaved per head for its rotary kernel.
    int64_t permute_heads = 0;
    if (arch_.permuted_qk && gn.ends_with("attn_q.weight")) permute_heads = heads_;
    if (arch_.permuted_qk && gn.ends_with("attn_k.weight")) permute_heads = kv_heads_;

    HostTensor out;
    out.shape = shape;
    const auto bytes = gguf_->tensor_bytes(*t);
    const std::optional<DType> quantized = quantized_dtype_of(t->type);
    if (!dequantized_dtype_ && quantized && shape.size() == 2 &&
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
    if (permute_heads == 0) {
      if (t->type == GgmlType::kF32 || t->type == GgmlType::kF16 || t->type == GgmlType::kBF16) {
        out.dtype = t->type == GgmlType::kF32   ? DType::kF32
                    : t->type == GgmlType::kF16 ? DType::kF16
                                                : DType::kBF16;
        out.data = bytes.data();  // in place in the mmap
        return out;
      }
    }
    std::vector<float> values(static_cast<size_t>(t->numel()));
    Status st = dequantize(t->type, bytes, t->numel(), values.data());
    if (!st.ok()) {
      return make_error(st.error().code,
                        gguf_->path() + ": tensor '" + gn + "': " + st.error().message);
    }
    if (permute_heads != 0) {
      SGLANG_ASSIGN_OR_RETURN(
          values,
          unpermute_rows(values, shape[0], shape.size() > 1 ? shape[1] : 1, permute_heads, gn));
    }
    // Float tensors a quantized file holds dequantized (norms are F32 already): bfloat16 unless
    // float32 was asked for.
    if (dequantized_dtype_.value_or(DType::kBF16) == DType::kBF16) {
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
