// GGUF loading: the reader and dequantization against the `gguf` Python package, and whole tiny
// models converted to GGUF (tools/hf_to_gguf.py) against the same checkpoints loaded from
// safetensors. The fixtures are made at test time by tests/gguf/make_fixtures.sh (a CTest fixture).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "cache/kv_cache.h"
#include "cache/page_pool.h"
#include "engine/model_runner.h"
#include "engine/offline_generator.h"
#include "kernels/cpu/cpu_backend.h"
#include "model/causal_lm.h"
#include "model/gguf.h"
#include "model/gguf_dequant.h"
#include "model/gguf_model.h"
#include "model/safetensors.h"
#include "test_support.h"
#include "util/half.h"

namespace sglang {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& name) {
  return std::string(SGLANG_GGUF_FIXTURE_DIR) + "/" + name;
}

std::unique_ptr<GgufFile> open_or_fail(const std::string& path) {
  auto g = GgufFile::open(path);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message);
  return g.ok() ? std::move(*g) : nullptr;
}

// --- dequantization, bit for bit ---

class Dequantize : public ::testing::TestWithParam<std::string> {};

TEST_P(Dequantize, EqualsTheGgufPackageBitForBit) {
  auto g = open_or_fail(fixture("quants.gguf"));
  ASSERT_TRUE(g);
  const GgufTensorInfo* q = g->find_tensor(GetParam() + ".q");
  const GgufTensorInfo* ref = g->find_tensor(GetParam() + ".ref");
  ASSERT_TRUE(q && ref);
  EXPECT_EQ(ggml_type_name(q->type), GetParam());
  ASSERT_EQ(ref->type, GgmlType::kF32);
  ASSERT_EQ(q->shape(), ref->shape());
  std::vector<float> ours(static_cast<size_t>(q->numel()));
  Status st = dequantize(q->type, g->tensor_bytes(*q), q->numel(), ours.data());
  ASSERT_TRUE(st.ok()) << st.error().message;
  const auto want = g->tensor_bytes(*ref);
  ASSERT_EQ(want.size(), ours.size() * sizeof(float));
  size_t differ = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    uint32_t a, b;
    std::memcpy(&a, &ours[i], 4);
    std::memcpy(&b, want.data() + 4 * i, 4);
    if (a != b && ++differ <= 3) {
      ADD_FAILURE() << GetParam() << " element " << i << ": ours " << ours[i] << " (0x" << std::hex
                    << a << "), gguf 0x" << b << std::dec;
    }
  }
  EXPECT_EQ(differ, 0u) << "of " << ours.size();
}

INSTANTIATE_TEST_SUITE_P(Types, Dequantize,
                         ::testing::Values("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K",
                                           "Q5_K", "Q6_K"),
                         [](const auto& p) { return p.param; });

TEST(GgufDequantize, UnsupportedTypeAndWrongSizeAreErrorsThatNameThem) {
  std::vector<uint8_t> bytes(22);
  std::vector<float> out(32);
  Status st = dequantize(GgmlType::kQ5_0, bytes, 32, out.data());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("Q5_0"), std::string::npos) << st.error().message;
  st = dequantize(GgmlType::kQ8_0, bytes, 32, out.data());  // a Q8_0 block is 34 bytes
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("Q8_0"), std::string::npos) << st.error().message;
}

// --- the reader ---

TEST(GgufReader, ReadsMetadataAndTensorDescriptions) {
  auto g = open_or_fail(fixture("quants.gguf"));
  ASSERT_TRUE(g);
  EXPECT_EQ(g->version(), 3u);
  auto arch = g->get_string("general.architecture");
  ASSERT_TRUE(arch.ok() && arch->has_value());
  EXPECT_EQ(**arch, "llama");
  EXPECT_EQ(g->tensors().size(), 18u);
  const GgufTensorInfo* t = g->find_tensor("Q4_K.q");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->shape(), (std::vector<int64_t>{6, 512}));
  EXPECT_EQ(t->nbytes, 6u * 2 * 144);
  // A key of another type is an error naming the key, a missing one is empty.
  auto wrong = g->get_int("general.architecture");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("general.architecture"), std::string::npos);
  auto missing = g->get_int("llama.block_count");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string write_bytes(const std::string& name, const std::vector<char>& bytes) {
  const std::string path = testing::scratch_dir("gguf-corrupt") + "/" + name;
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

TEST(GgufReader, TruncatedOrForeignFilesAreErrorsNotCrashes) {
  const auto whole = read_all(fixture("quants.gguf"));
  ASSERT_GT(whole.size(), 1000u);
  // Every cut: inside the header, the metadata, the tensor descriptions and the data.
  std::mt19937 rng(3);
  std::vector<size_t> cuts = {0, 3, 4, 8, 16, 23, 24, 40, whole.size() - 1};
  for (int i = 0; i < 40; ++i) cuts.push_back(rng() % whole.size());
  for (size_t cut : cuts) {
    const std::string path =
        write_bytes("cut.gguf", std::vector<char>(whole.begin(), whole.begin() + cut));
    auto g = GgufFile::open(path);
    EXPECT_FALSE(g.ok()) << "cut at " << cut;
    if (!g.ok() && cut >= 4) {
      const std::string& m = g.error().message;
      EXPECT_TRUE(m.find("truncated") != std::string::npos ||
                  m.find("runs past the end") != std::string::npos)
          << "cut at " << cut << ": " << m;
    }
  }
  auto bad_magic = whole;
  bad_magic[0] = 'X';
  auto g = GgufFile::open(write_bytes("magic.gguf", bad_magic));
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message.find("not a GGUF file"), std::string::npos);
  auto v1 = whole;
  v1[4] = 1;
  g = GgufFile::open(write_bytes("v1.gguf", v1));
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message.find("version 1"), std::string::npos) << g.error().message;
  // Random corruption of the header region never crashes (ASan checks the reads).
  for (int i = 0; i < 200; ++i) {
    auto noisy = whole;
    for (int k = 0; k < 4; ++k) noisy[8 + rng() % 1024] = static_cast<char>(rng());
    (void)GgufFile::open(write_bytes("noise.gguf", noisy));
  }
}

// --- whole models: GGUF against the safetensors checkpoint it was converted from ---

struct ModelCase {
  std::string arch;     // tiny checkpoint: tests/gguf/make_fixtures.sh
  std::string outtype;  // f32, q8_0
  double tolerance;     // relative L2 of the logits
};

void PrintTo(const ModelCase& c, std::ostream* os) {
  *os << c.arch << "/" << c.outtype;
}

class GgufModel : public ::testing::TestWithParam<ModelCase> {};

std::vector<float> prefill_logits(CausalLM& model, CpuBackend& backend,
                                  const std::vector<int32_t>& ids) {
  const int64_t n = static_cast<int64_t>(ids.size());
  PagePool pool(n + 8, 1);
  KvCache kv(backend, model.kv_cache_shape(), pool.num_pages(), 1);
  auto pages = *pool.allocate(pool.pages_for(n));
  ForwardBatch b;
  b.add(ids, 0, pages, LogitsMode::kAll);
  auto out = ModelRunner(model).forward(b, kv);
  EXPECT_TRUE(out.ok()) << out.error().message;
  if (!out.ok()) return {};
  std::vector<float> host(static_cast<size_t>(out->numel()));
  backend.copy_to_host(*out, host.data());
  return host;
}

TEST_P(GgufModel, LogitsEqualTheSafetensorsCheckpoint) {
  const ModelCase& c = GetParam();
  CpuBackend backend;
  const std::string dir = fixture("tiny-" + c.arch);
  const std::string gguf = fixture("tiny-" + c.arch + "-" + c.outtype + ".gguf");
  auto hf = load_causal_lm(dir, backend);
  ASSERT_TRUE(hf.ok()) << hf.error().message;
  LoadOptions f32;  // float32 as the checkpoint (auto would serve the q8_0 tensors in bfloat16)
  f32.weight_dtype = DType::kF32;
  auto gg = load_causal_lm(gguf, backend, f32);
  ASSERT_TRUE(gg.ok()) << gg.error().message;
  const ModelConfig& a = (*hf)->config();
  const ModelConfig& b = (*gg)->config();
  EXPECT_EQ(a.architecture_name, b.architecture_name);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.num_hidden_layers, b.num_hidden_layers);
  EXPECT_EQ(a.num_attention_heads, b.num_attention_heads);
  EXPECT_EQ(a.num_key_value_heads, b.num_key_value_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.max_position_embeddings, b.max_position_embeddings);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
  EXPECT_NEAR(a.rms_norm_eps, b.rms_norm_eps, 1e-12);
  EXPECT_DOUBLE_EQ(a.rope_theta, b.rope_theta);
  // What llama.cpp's converter writes for the newer families, or llama.cpp assumes.
  EXPECT_EQ(a.rotary_dim, b.rotary_dim);
  // (Llama 3's scaling travels as the rope_freqs tensor, not as a type.)
  if (c.arch != "llama") {
    EXPECT_EQ(a.rope_scaling.type, b.rope_scaling.type);
  }
  EXPECT_NEAR(a.rope_scaling.attention_factor, b.rope_scaling.attention_factor, 1e-6);
  EXPECT_EQ(a.rope_scaling.original_max_position_embeddings,
            b.rope_scaling.original_max_position_embeddings);
  ASSERT_EQ(a.rope_scaling.long_factor.size(), b.rope_scaling.long_factor.size());
  ASSERT_EQ(a.rope_scaling.short_factor.size(), b.rope_scaling.short_factor.size());
  for (size_t i = 0; i < a.rope_scaling.long_factor.size(); ++i) {  // f32 in the file
    EXPECT_FLOAT_EQ(a.rope_scaling.long_factor[i], b.rope_scaling.long_factor[i]) << i;
    EXPECT_FLOAT_EQ(a.rope_scaling.short_factor[i], b.rope_scaling.short_factor[i]) << i;
  }
  EXPECT_EQ(a.query_pre_attn_scalar, b.query_pre_attn_scalar);
  EXPECT_EQ(a.attn_logit_softcapping, b.attn_logit_softcapping);
  EXPECT_EQ(a.final_logit_softcapping, b.final_logit_softcapping);
  EXPECT_EQ(a.layer_types, b.layer_types);
  EXPECT_EQ(a.rope_local_base_freq, b.rope_local_base_freq);
  EXPECT_EQ(a.moe.num_experts, b.moe.num_experts);
  EXPECT_EQ(a.moe.num_experts_per_tok, b.moe.num_experts_per_tok);
  EXPECT_EQ(a.moe.moe_intermediate_size, b.moe.moe_intermediate_size);
  EXPECT_EQ(a.moe.norm_topk_prob, b.moe.norm_topk_prob);
  for (int64_t i = 0; i < a.num_hidden_layers; ++i) {
    EXPECT_EQ(a.is_sparse_layer(i), b.is_sparse_layer(i)) << "layer " << i;
    EXPECT_EQ(a.layer_sliding_window(i), b.layer_sliding_window(i)) << "layer " << i;
  }

  std::mt19937 rng(11);
  std::vector<int32_t> ids(40);
  for (auto& id : ids) id = static_cast<int32_t>(rng() % a.vocab_size);
  const auto want = prefill_logits(**hf, backend, ids);
  const auto got = prefill_logits(**gg, backend, ids);
  ASSERT_EQ(want.size(), got.size());
  const int64_t v = a.vocab_size;
  for (size_t t = 0; t < ids.size(); ++t) {
    const double err = testing::relative_l2(got.data() + t * v, want.data() + t * v, v);
    EXPECT_LE(err, c.tolerance) << "position " << t;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Converted, GgufModel,
    ::testing::Values(
        // f32 holds the bf16 checkpoint exactly: only the kernels' rounding differs.
        ModelCase{"llama", "f32", 1e-5}, ModelCase{"qwen2", "f32", 1e-5},
        ModelCase{"qwen3", "f32", 1e-5}, ModelCase{"qwen3-moe-gguf", "f32", 1e-5},
        ModelCase{"gemma2-gguf", "f32", 1e-5}, ModelCase{"gemma3-gguf", "f32", 1e-5},
        ModelCase{"phi3", "f32", 1e-5},
        // Q8_0 rounds each weight to 8 bits per block of 32.
        ModelCase{"llama", "q8_0", 3e-2}, ModelCase{"qwen2", "q8_0", 3e-2},
        // (qwen3-moe's q8_0 file: a near-tie of the router flips an expert on the rounded
        // activations, so its stacked experts are checked exactly by
        // GgufWeights.ExpertSlicesOfStackedQuantizedTensors instead.)
        ModelCase{"qwen3", "q8_0", 3e-2}, ModelCase{"gemma2-gguf", "q8_0", 3e-2},
        ModelCase{"gemma3-gguf", "q8_0", 3e-2}, ModelCase{"phi3", "q8_0", 3e-2}),
    [](const auto& p) {
      std::string name = p.param.arch + "_" + p.param.outtype;
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

// --dtype auto serves quantized tensors dequantized to bfloat16 (half the memory and bandwidth of
// float32): each value is the float32 dequantization rounded to nearest even; float tensors stay.
TEST(GgufWeights, QuantizedTensorsDequantizeToBf16) {
  auto f32 = open_gguf_weights(fixture("tiny-qwen2-q8_0.gguf"), DType::kF32);
  auto bf16 = open_gguf_weights(fixture("tiny-qwen2-q8_0.gguf"), DType::kBF16);
  ASSERT_TRUE(f32.ok() && bf16.ok());
  const ModelConfig c = *load_model_config(fixture("tiny-qwen2-q8_0.gguf"));
  const std::vector<int64_t> shape = {c.intermediate_size, c.hidden_size};
  auto a = (*f32)->get("model.layers.0.mlp.gate_proj.weight", shape);
  auto b = (*bf16)->get("model.layers.0.mlp.gate_proj.weight", shape);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->dtype, DType::kF32);
  ASSERT_EQ(b->dtype, DType::kBF16);
  for (int64_t i = 0; i < a->numel(); ++i) {
    ASSERT_EQ(static_cast<const uint16_t*>(b->data)[i],
              f32_to_bf16(static_cast<const float*>(a->data)[i]))
        << i;
  }
  auto norm = (*bf16)->get("model.norm.weight", {c.hidden_size});
  ASSERT_TRUE(norm.ok());
  EXPECT_EQ(norm->dtype, DType::kF32);  // F32 in the file: served in place
  EXPECT_FALSE(open_gguf_weights(fixture("tiny-qwen2-q8_0.gguf"), DType::kF16).ok());
}

// Without a dtype (--dtype auto) quantized tensors stay in their blocks, the file's bytes; llama's
// permuted q/k rows are moved whole, so they dequantize to the float32 store's values exactly.
TEST(GgufWeights, AutoKeepsQuantizedBlocksAndPermutesWholeRows) {
  const std::string file = fixture("tiny-llama-q8_0.gguf");
  auto f32 = open_gguf_weights(file, DType::kF32);
  auto kept = open_gguf_weights(file, std::nullopt);
  ASSERT_TRUE(f32.ok() && kept.ok());
  const ModelConfig c = *load_model_config(file);
  for (const char* name :
       {"model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
        "model.layers.1.mlp.down_proj.weight"}) {
    const int64_t rows =
        std::string(name).find("k_proj") != std::string::npos   ? c.num_key_value_heads * c.head_dim
        : std::string(name).find("q_proj") != std::string::npos ? c.num_attention_heads * c.head_dim
                                                                : c.hidden_size;
    const int64_t cols =
        std::string(name).find("down") != std::string::npos ? c.intermediate_size : c.hidden_size;
    auto a = (*f32)->get(name, {rows, cols});
    auto q = (*kept)->get(name, {rows, cols});
    ASSERT_TRUE(a.ok() && q.ok()) << name;
    ASSERT_EQ(q->dtype, DType::kQ8_0) << name;
    std::vector<float> values(static_cast<size_t>(rows * cols));
    ASSERT_TRUE(dequantize(GgmlType::kQ8_0,
                           std::span(static_cast<const uint8_t*>(q->data), q->nbytes()),
                           rows * cols, values.data())
                    .ok());
    EXPECT_EQ(0, std::memcmp(values.data(), a->data, values.size() * 4)) << name;
  }
  auto norm = (*kept)->get("model.norm.weight", {c.hidden_size});
  ASSERT_TRUE(norm.ok());
  EXPECT_EQ(norm->dtype, DType::kF32);
}

// Qwen3-MoE's experts are stacked per layer (ffn_*_exps [experts, rows, cols]); each expert the
// model asks for by its Hugging Face name is its slice, in its Q8_0 blocks under auto, and those
// dequantize to the float32 store's slice exactly. The router stays F32, as llama.cpp's converter
// keeps it.
TEST(GgufWeights, ExpertSlicesOfStackedQuantizedTensors) {
  const std::string file = fixture("tiny-qwen3-moe-gguf-q8_0.gguf");
  auto f32 = open_gguf_weights(file, DType::kF32);
  auto kept = open_gguf_weights(file, std::nullopt);
  ASSERT_TRUE(f32.ok() && kept.ok());
  const ModelConfig c = *load_model_config(file);
  ASSERT_EQ(c.moe.num_experts, 8);
  const int64_t h = c.hidden_size, inter = c.moe.moe_intermediate_size;
  for (const std::string layer : {"0", "2"}) {
    for (int64_t e : {int64_t{0}, int64_t{5}, c.moe.num_experts - 1}) {
      for (const std::string proj : {"gate_proj", "up_proj", "down_proj"}) {
        const std::string name =
            "model.layers." + layer + ".mlp.experts." + std::to_string(e) + "." + proj + ".weight";
        const std::vector<int64_t> shape =
            proj == "down_proj" ? std::vector<int64_t>{h, inter} : std::vector<int64_t>{inter, h};
        EXPECT_TRUE((*kept)->contains(name)) << name;
        auto a = (*f32)->get(name, shape);
        auto q = (*kept)->get(name, shape);
        ASSERT_TRUE(a.ok() && q.ok()) << name << ": " << (a.ok() ? q.error() : a.error()).message;
        ASSERT_EQ(q->dtype, DType::kQ8_0) << name;
        std::vector<float> values(static_cast<size_t>(a->numel()));
        ASSERT_TRUE(dequantize(GgmlType::kQ8_0,
                               std::span(static_cast<const uint8_t*>(q->data), q->nbytes()),
                               a->numel(), values.data())
                        .ok());
        EXPECT_EQ(0, std::memcmp(values.data(), a->data, values.size() * 4)) << name;
      }
    }
  }
  EXPECT_FALSE((*kept)->contains("model.layers.0.mlp.experts.8.up_proj.weight"));
  auto router = (*kept)->get("model.layers.1.mlp.gate.weight", {c.moe.num_experts, h});
  ASSERT_TRUE(router.ok());
  EXPECT_EQ(router->dtype, DType::kF32);
}

// The whole model under auto: the Q8_0 blocks multiplied as they are (int8-rounded activations for
// few tokens, quant_gemm_isa.cpp), logits close to float32.
TEST(GgufWeights, AutoDtypeModelStaysCloseToFloat32) {
  CpuBackend backend;
  LoadOptions f32;
  f32.weight_dtype = DType::kF32;
  size_t reads = 0, total = 0;
  LoadOptions automatic;
  automatic.progress = [&](size_t done, size_t n) {
    reads = done;
    total = n;
  };
  auto exact = load_causal_lm(fixture("tiny-qwen2-q8_0.gguf"), backend, f32);
  auto served = load_causal_lm(fixture("tiny-qwen2-q8_0.gguf"), backend, automatic);
  ASSERT_TRUE(exact.ok() && served.ok());
  EXPECT_FALSE((*served)->config().weight_dtype.has_value());
  // Progress heard of every tensor the model read: all of the file's, the tied head aside.
  EXPECT_GT(reads, 0u);
  EXPECT_LE(reads, total);
  EXPECT_GE(reads + 1, total);
  std::vector<int32_t> ids = {1, 5, 9, 30, 2, 7, 7, 11};
  const auto want = prefill_logits(**exact, backend, ids);
  const auto got = prefill_logits(**served, backend, ids);
  ASSERT_EQ(want.size(), got.size());
  const int64_t v = (*exact)->config().vocab_size;
  double worst = 0;
  for (size_t t = 0; t < ids.size(); ++t) {
    worst = std::max(worst, testing::relative_l2(got.data() + t * v, want.data() + t * v, v));
  }
  EXPECT_LE(worst, 2e-2);
  EXPECT_GT(worst, 0.0);  // the weights were really rounded
}

TEST(GgufModelPath, DirectoryWithOneGgufFileAndErrors) {
  // A directory holding one .gguf (and no config.json) is that file.
  const std::string dir = testing::scratch_dir("gguf-dir");
  fs::copy_file(fixture("tiny-qwen2-f32.gguf"), dir + "/model.gguf");
  auto found = find_gguf_file(dir);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, dir + "/model.gguf");
  // Two are ambiguous.
  fs::copy_file(fixture("tiny-qwen2-f32.gguf"), dir + "/other.gguf");
  found = find_gguf_file(dir);
  ASSERT_FALSE(found.ok());
  EXPECT_NE(found.error().message.find("several GGUF files"), std::string::npos);
  // A HF directory is not GGUF; a file that is not GGUF is an error.
  found = find_gguf_file(fixture("tiny-qwen2"));
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, "");
  found = find_gguf_file(fixture("tiny-qwen2") + "/config.json");
  ASSERT_FALSE(found.ok());
  EXPECT_NE(found.error().message.find("not a GGUF file"), std::string::npos);
  // A missing tensor is named by both its names; a wrong shape by both shapes.
  auto store = open_gguf_weights(fixture("tiny-qwen2-f32.gguf"));
  ASSERT_TRUE(store.ok()) << store.error().message;
  auto missing = (*store)->get("model.layers.99.mlp.up_proj.weight", {8, 8});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("blk.99.ffn_up.weight"), std::string::npos);
  auto shape = (*store)->get("model.norm.weight", {8});
  ASSERT_FALSE(shape.ok());
  EXPECT_NE(shape.error().message.find("expected [8]"), std::string::npos) << shape.error().message;
  // The metadata of a file without a model in it is an error, not a crash.
  auto none = open_gguf_weights(fixture("quants.gguf"));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("head_count"), std::string::npos);
}

// --- the default real model: SmolLM2-135M-Instruct (Q4_1 GGUF) against transformers ---

// Reference: tools/make_gguf_golden.py (transformers loading the same GGUF, float32).
struct GoldenCase {
  std::string name;
  std::optional<DType> weight_dtype;
  double logits_tolerance;  // relative L2 of the reference's top-20 logits at every position
  double lse_tolerance;     // of the log-sum-exp, relative to max(1, |lse|)
  float tie_margin;         // greedy steps compared up to the first reference margin below this
  double min_compared;      // fraction of the greedy steps that must have been compared
};

void PrintTo(const GoldenCase& c, std::ostream* os) {
  *os << c.name;
}

class SmolLM2Gguf : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(SmolLM2Gguf, LogitsAndGreedyMatchTransformers) {
  const GoldenCase& c = GetParam();
  const std::string path = SGLANG_DEFAULT_MODEL;
  ASSERT_TRUE(fs::exists(path)) << path << " is missing: run scripts/fetch_model.sh";
  CpuBackend backend;
  LoadOptions options;
  options.weight_dtype = c.weight_dtype;
  auto model = load_causal_lm(path, backend, options);
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto golden = SafetensorsFile::open(std::string(SGLANG_GOLDEN_DIR) + "/smollm2-gguf.safetensors");
  ASSERT_TRUE(golden.ok()) << golden.error().message;
  auto read_i32 = [&](const std::string& name) {
    auto t = (*golden)->get(name);
    EXPECT_TRUE(t.ok()) << name;
    const auto* p = static_cast<const int32_t*>(t->data);
    return std::vector<int32_t>(p, p + t->numel());
  };
  auto read_f32 = [&](const std::string& name) {
    auto t = (*golden)->get(name);
    EXPECT_TRUE(t.ok()) << name;
    const auto* p = static_cast<const float*>(t->data);
    return std::vector<float>(p, p + t->numel());
  };
  const int prompts = std::stoi((*golden)->metadata().at("num_prompts"));
  ASSERT_EQ(prompts, 10);
  const int64_t vocab = (*model)->config().vocab_size;
  size_t compared_steps = 0, total_steps = 0;
  double worst_logits = 0, worst_lse = 0;
  std::vector<std::vector<int32_t>> prompt_ids;
  for (int i = 0; i < prompts; ++i) {
    const std::string p = "p" + std::to_string(i) + ".";
    const auto ids = read_i32(p + "input_ids");
    const auto top_ids = read_i32(p + "topk_ids");
    const auto top_logits = read_f32(p + "topk_logits");
    const auto lse = read_f32(p + "logsumexp");
    const size_t n = ids.size(), k = top_ids.size() / n;
    const auto logits = prefill_logits(**model, backend, ids);
    ASSERT_EQ(logits.size(), n * static_cast<size_t>(vocab));
    for (size_t t = 0; t < n; ++t) {
      const float* row = logits.data() + t * vocab;
      std::vector<float> ours(k);
      for (size_t j = 0; j < k; ++j) ours[j] = row[top_ids[t * k + j]];
      const double err = testing::relative_l2(ours.data(), top_logits.data() + t * k, k);
      worst_logits = std::max(worst_logits, err);
      EXPECT_LE(err, c.logits_tolerance) << "prompt " << i << " position " << t;
      double mx = *std::max_element(row, row + vocab), sum = 0;
      for (int64_t v = 0; v < vocab; ++v) sum += std::exp(row[v] - mx);
      const double lse_err =
          std::abs(mx + std::log(sum) - lse[t]) / std::max(1.0, std::abs(double(lse[t])));
      worst_lse = std::max(worst_lse, lse_err);
      EXPECT_LE(lse_err, c.lse_tolerance) << "prompt " << i << " position " << t;
    }
    prompt_ids.push_back(ids);
  }
  // Greedy continuations, all prompts decoded together: identical up to the first step where the
  // reference's top two are within the tie margin (a near-tie may flip on rounding; after it the
  // texts legitimately diverge).
  const auto steps = static_cast<int64_t>(read_i32("p0.greedy_ids").size());
  int64_t pages = 8;
  for (const auto& ids : prompt_ids) pages += static_cast<int64_t>(ids.size()) + steps;
  PagePool pool(pages, 1);
  KvCache kv(backend, (*model)->kv_cache_shape(), pool.num_pages(), 1);
  GreedyOptions opt;
  opt.max_new_tokens = steps;
  opt.stop_at_eos = false;
  auto out = generate_greedy(**model, kv, pool, prompt_ids, opt);
  ASSERT_TRUE(out.ok()) << out.error().message;
  for (int i = 0; i < prompts; ++i) {
    const std::string p = "p" + std::to_string(i) + ".";
    const auto ref = read_i32(p + "greedy_ids");
    const auto margins = read_f32(p + "greedy_margins");
    const auto& ours = (*out)[static_cast<size_t>(i)];
    ASSERT_EQ(ours.size(), ref.size());
    total_steps += ref.size();
    for (size_t s = 0; s < ref.size(); ++s) {
      if (margins[s] <= c.tie_margin) break;
      EXPECT_EQ(ours[s], ref[s]) << "prompt " << i << " step " << s;
      if (ours[s] != ref[s]) break;
      ++compared_steps;
    }
  }
  // Most of the greedy decisions were compared, not skipped as near-ties.
  EXPECT_GE(static_cast<double>(compared_steps), c.min_compared * static_cast<double>(total_steps))
      << compared_steps << " of " << total_steps;
  std::printf("%s: worst top-20 logits error %.2e, log-sum-exp %.2e; %zu of %zu greedy steps\n",
              c.name.c_str(), worst_logits, worst_lse, compared_steps, total_steps);
}

INSTANTIATE_TEST_SUITE_P(
    Dtypes, SmolLM2Gguf,
    ::testing::Values(
        // float32: the dequantized weights exactly, as transformers; only summation order differs.
        GoldenCase{"float32", DType::kF32, 1e-3, 1e-3, 1e-2f, 0.8},
        // auto: the Q4_1/Q8_0 blocks multiplied as they are. Every linear on them rounds its
        // activations to int8 per 32 elements (as llama.cpp's q8_0/q8_1), prompts of any length
        // too (so a token's numbers do not depend on how many tokens share its forward):
        // each linear's input moves by up to amax/254 per element, an RMS of about amax/440, ~1 %
        // of the input for activations whose peak is ~4 sigma, more in blocks with an outlier;
        // through 30 layers and the head the logits move by a few percent (measured 2026-12-01:
        // worst top-20 relative L2 5.6e-2 with the rounding on decode steps only, 8.8e-2 with it on
        // whole prompts too; log-sum-exp 4.2e-2), i.e. ~1 logit, so a greedy step
        // may flip where the reference's top two are within 2 logits: the steps before the first
        // such near-tie (17 of 240) must match, and did; with the float32 margin of 1e-2, 107 steps
        // are compared and 6 prompts flip at a margin under 2.
        GoldenCase{"auto", std::nullopt, 1.2e-1, 6e-2, 2.0f, 0.05}),
    [](const auto& p) { return p.param.name; });

}  // namespace
}  // namespace sglang
