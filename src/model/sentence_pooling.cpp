#include "model/sentence_pooling.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

namespace sglang {
namespace {

using nlohmann::json;

Result<json> read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return make_error(ErrorCode::kCorrupt, path + " is not valid JSON");
  return j;
}

// The module class after the last dot: "sentence_transformers.models.Pooling" -> "Pooling".
std::string module_class(const std::string& type) {
  const size_t dot = type.rfind('.');
  return dot == std::string::npos ? type : type.substr(dot + 1);
}

// 1_Pooling/config.json, as sentence_transformers.models.Pooling saves it: one boolean per mode
// (several true would concatenate the poolings), or the newer single "pooling_mode" string.
Result<PoolingType> parse_pooling_config(const json& j, const std::string& source) {
  if (!j.is_object()) return make_error(ErrorCode::kCorrupt, source + " must be an object");
  auto unsupported = [&](const std::string& what) {
    return make_error(ErrorCode::kUnsupported, "unsupported sentence-transformers pooling " + what +
                                                   " in " + source +
                                                   " (supported: one of cls, mean, lasttoken)");
  };
  if (j.contains("pooling_mode") && j.at("pooling_mode").is_string()) {
    const std::string m = j.at("pooling_mode").get<std::string>();
    if (m == "cls") return PoolingType::kCls;
    if (m == "mean") return PoolingType::kMean;
    if (m == "lasttoken") return PoolingType::kLast;
    return unsupported("'" + m + "'");
  }
  struct Mode {
    const char* key;
    std::optional<PoolingType> type;  // none: not supported here
  };
  const Mode modes[] = {
      {"pooling_mode_cls_token", PoolingType::kCls},
      {"pooling_mode_mean_tokens", PoolingType::kMean},
      {"pooling_mode_lasttoken", PoolingType::kLast},
      {"pooling_mode_max_tokens", std::nullopt},
      {"pooling_mode_mean_sqrt_len_tokens", std::nullopt},
      {"pooling_mode_weightedmean_tokens", std::nullopt},
  };
  std::vector<const Mode*> on;
  for (const Mode& m : modes) {
    if (j.contains(m.key) && j.at(m.key).is_boolean() && j.at(m.key).get<bool>()) {
      on.push_back(&m);
    }
  }
  if (on.empty()) return unsupported("(no pooling mode is set)");
  if (on.size() > 1) {
    std::string names;
    for (const Mode* m : on) names += (names.empty() ? "" : " + ") + std::string(m->key);
    return unsupported("'" + names + "' (a concatenation of poolings)");
  }
  if (!on[0]->type) return unsupported("'" + std::string(on[0]->key) + "'");
  return *on[0]->type;
}

}  // namespace

const char* pooling_type_name(PoolingType t) {
  switch (t) {
    case PoolingType::kCls:
      return "cls";
    case PoolingType::kMean:
      return "mean";
    case PoolingType::kLast:
      return "last";
  }
  return "?";
}

Result<SentencePooling> read_sentence_pooling(const std::string& dir,
                                              const SentencePooling& fallback) {
  namespace fs = std::filesystem;
  const std::string modules_path = dir + "/modules.json";
  std::error_code ec;
  if (!fs::is_regular_file(modules_path, ec)) return fallback;
  SGLANG_ASSIGN_OR_RETURN(json modules, read_json(modules_path));
  if (!modules.is_array()) {
    return make_error(ErrorCode::kCorrupt, modules_path + " must be a list of modules");
  }
  SentencePooling p = fallback;
  p.normalize = false;  // sentence-transformers normalises only with a Normalize module
  p.source = modules_path;
  bool pooled = false;
  for (const json& m : modules) {
    if (!m.is_object() || !m.contains("type") || !m.at("type").is_string()) {
      return make_error(ErrorCode::kCorrupt, "a module without a 'type' in " + modules_path);
    }
    const std::string type = m.at("type").get<std::string>();
    const std::string cls = module_class(type);
    if (cls == "Transformer") continue;
    if (cls == "Normalize") {
      p.normalize = true;
      continue;
    }
    if (cls == "Pooling") {
      const std::string sub =
          m.contains("path") && m.at("path").is_string() ? m.at("path").get<std::string>() : "";
      const std::string cfg_path = dir + "/" + (sub.empty() ? "" : sub + "/") + "config.json";
      SGLANG_ASSIGN_OR_RETURN(json cfg, read_json(cfg_path));
      SGLANG_ASSIGN_OR_RETURN(p.type, parse_pooling_config(cfg, cfg_path));
      pooled = true;
      continue;
    }
    // Dense, LayerNorm, WordEmbeddings, ...: they change the vector, and serving it without them
    // would answer different embeddings than the model's users expect.
    return make_error(ErrorCode::kUnsupported, "unsupported sentence-transformers module '" + type +
                                                   "' in " + modules_path +
                                                   " (supported: Transformer, Pooling, Normalize)");
  }
  if (!pooled) p.type = fallback.type;
  return p;
}

std::vector<float> pool_sentences(const float* hidden, int64_t width,
                                  std::span<const int64_t> starts, std::span<const int64_t> lengths,
                                  const SentencePooling& pooling) {
  const size_t n = starts.size();
  const auto w = static_cast<size_t>(width);
  std::vector<float> out(n * w);
  std::vector<double> acc(w);
  for (size_t i = 0; i < n; ++i) {
    float* dst = out.data() + i * w;
    const int64_t len = lengths[i];
    if (len <= 0) continue;
    const float* first = hidden + static_cast<size_t>(starts[i]) * w;
    switch (pooling.type) {
      case PoolingType::kCls:
        std::copy(first, first + w, dst);
        break;
      case PoolingType::kLast:
        std::copy(first + static_cast<size_t>(len - 1) * w, first + static_cast<size_t>(len) * w,
                  dst);
        break;
      case PoolingType::kMean: {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t t = 0; t < len; ++t) {
          const float* row = first + static_cast<size_t>(t) * w;
          for (size_t c = 0; c < w; ++c) acc[c] += row[c];
        }
        for (size_t c = 0; c < w; ++c)
          dst[c] = static_cast<float>(acc[c] / static_cast<double>(len));
        break;
      }
    }
    if (pooling.normalize) {
      double norm = 0;
      for (size_t c = 0; c < w; ++c) norm += static_cast<double>(dst[c]) * dst[c];
      const double inv = 1.0 / std::max(std::sqrt(norm), 1e-12);
      for (size_t c = 0; c < w; ++c) dst[c] = static_cast<float>(dst[c] * inv);
    }
  }
  return out;
}

}  // namespace sglang
