#include "model/model_registry.h"

#include <nlohmann/json.hpp>

#include "model/gemma.h"
#include "model/gte.h"
#include "model/llama.h"
#include "model/xlm_roberta.h"

namespace sglang {
namespace {

Result<std::unique_ptr<CausalLM>> load_llama(const ModelConfig& c, const WeightStore& w,
                                             Backend& be) {
  SGLANG_ASSIGN_OR_RETURN(auto model, LlamaModel::load(c, w, be));
  return std::unique_ptr<CausalLM>(std::move(model));
}

Result<std::unique_ptr<CausalLM>> load_gemma(const ModelConfig& c, const WeightStore& w,
                                             Backend& be) {
  SGLANG_ASSIGN_OR_RETURN(auto model, GemmaModel::load(c, w, be));
  return std::unique_ptr<CausalLM>(std::move(model));
}

Result<std::unique_ptr<CausalLM>> load_encoder(const ModelConfig& c, const WeightStore& w,
                                               Backend& be) {
  SGLANG_ASSIGN_OR_RETURN(auto model, XlmRobertaModel::load(c, w, be));
  return std::unique_ptr<CausalLM>(std::move(model));
}

Result<std::unique_ptr<CausalLM>> load_gte(const ModelConfig& c, const WeightStore& w,
                                           Backend& be) {
  SGLANG_ASSIGN_OR_RETURN(auto model, GteModel::load(c, w, be));
  return std::unique_ptr<CausalLM>(std::move(model));
}

Result<ModelConfig> parse_gte(const nlohmann::json& j, const std::string& source,
                              const ModelArchitecture&) {
  return parse_gte_config(j, source);
}

Result<ModelConfig> parse_decoder(const nlohmann::json& j, const std::string& source,
                                  const ModelArchitecture& a) {
  return parse_decoder_config(j, source, a.architecture, a.head);
}

Result<ModelConfig> parse_encoder(const nlohmann::json& j, const std::string& source,
                                  const ModelArchitecture&) {
  return parse_encoder_config(j, source);
}

constexpr Head kLm = Head::kLanguageModel;
constexpr Head kCls = Head::kSequenceClassification;
constexpr Head kEmb = Head::kEmbedding;

}  // namespace

const std::vector<ModelArchitecture>& model_architectures() {
  static const std::vector<ModelArchitecture> kTable = {
      // Decoders: one definition (model/llama.h) with per-architecture options.
      {"LlamaForCausalLM", Architecture::kLlama, kLm, parse_decoder, load_llama},
      {"LlamaForSequenceClassification", Architecture::kLlama, kCls, parse_decoder, load_llama},
      {"Qwen2ForCausalLM", Architecture::kQwen2, kLm, parse_decoder, load_llama},
      {"Qwen2ForSequenceClassification", Architecture::kQwen2, kCls, parse_decoder, load_llama},
      {"MistralForCausalLM", Architecture::kMistral, kLm, parse_decoder, load_llama},
      {"MistralForSequenceClassification", Architecture::kMistral, kCls, parse_decoder, load_llama},
      {"Qwen2MoeForCausalLM", Architecture::kQwen2Moe, kLm, parse_decoder, load_llama},
      {"Qwen2MoeForSequenceClassification", Architecture::kQwen2Moe, kCls, parse_decoder,
       load_llama},
      {"Qwen3ForCausalLM", Architecture::kQwen3, kLm, parse_decoder, load_llama},
      {"Qwen3MoeForCausalLM", Architecture::kQwen3Moe, kLm, parse_decoder, load_llama},
      {"Phi3ForCausalLM", Architecture::kPhi3, kLm, parse_decoder, load_llama},
      // Gemma's sandwich-norm layer (model/gemma.h).
      {"Gemma2ForCausalLM", Architecture::kGemma2, kLm, parse_decoder, load_gemma},
      {"Gemma3ForCausalLM", Architecture::kGemma3, kLm, parse_decoder, load_gemma},
      // Bidirectional encoders with a classification head (model/xlm_roberta.h).
      {"XLMRobertaForSequenceClassification", Architecture::kXlmRoberta, kCls, parse_encoder,
       load_encoder},
      {"RobertaForSequenceClassification", Architecture::kRoberta, kCls, parse_encoder,
       load_encoder},
      {"BertForSequenceClassification", Architecture::kBert, kCls, parse_encoder, load_encoder},
      // The same encoders without a head: embedding models, pooled as their sentence-transformers
      // modules declare (model/sentence_pooling.h).
      {"BertModel", Architecture::kBert, kEmb, parse_encoder, load_encoder},
      {"XLMRobertaModel", Architecture::kXlmRoberta, kEmb, parse_encoder, load_encoder},
      {"RobertaModel", Architecture::kRoberta, kEmb, parse_encoder, load_encoder},
      // Alibaba's GTE v1.5 encoders (trust_remote_code Alibaba-NLP/new-impl): model/gte.h.
      {"NewModel", Architecture::kGte, kEmb, parse_gte, load_gte},
  };
  return kTable;
}

const ModelArchitecture* find_model_architecture(std::string_view name) {
  for (const auto& a : model_architectures()) {
    if (name == a.name) return &a;
  }
  return nullptr;
}

std::string supported_architectures() {
  std::string out;
  for (const auto& a : model_architectures()) {
    if (!out.empty()) out += ", ";
    out += a.name;
  }
  return out;
}

}  // namespace sglang
