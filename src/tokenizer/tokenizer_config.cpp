#include "tokenizer/tokenizer_config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace sglang {
namespace {

using nlohmann::json;

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<json> read_json(const std::string& path) {
  SGLANG_ASSIGN_OR_RETURN(std::string text, read_text(path));
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return make_error(ErrorCode::kCorrupt, path + " is not valid JSON");
  return j;
}

// "<s>" or {"__type": "AddedToken", "content": "<s>", ...}.
std::optional<std::string> token_string(const json& j, const char* key) {
  if (!j.contains(key)) return std::nullopt;
  const json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return std::nullopt;
}

std::optional<bool> optional_bool(const json& j, const char* key) {
  if (j.contains(key) && j[key].is_boolean()) return j[key].get<bool>();
  return std::nullopt;
}

}  // namespace

Result<TokenizerConfig> TokenizerConfig::parse(const json& j, const std::string& source) {
  if (!j.is_object()) return make_error(ErrorCode::kCorrupt, source + " is not a JSON object");
  TokenizerConfig c;
  c.bos_token = token_string(j, "bos_token");
  c.eos_token = token_string(j, "eos_token");
  c.pad_token = token_string(j, "pad_token");
  c.unk_token = token_string(j, "unk_token");
  c.add_bos_token = optional_bool(j, "add_bos_token");
  c.add_eos_token = optional_bool(j, "add_eos_token");
  c.add_prefix_space = optional_bool(j, "add_prefix_space");
  c.clean_up_tokenization_spaces = j.value("clean_up_tokenization_spaces", false);
  if (j.contains("tokenizer_class") && j["tokenizer_class"].is_string())
    c.tokenizer_class = j["tokenizer_class"].get<std::string>();
  if (j.contains("model_max_length") && j["model_max_length"].is_number()) {
    const double v = j["model_max_length"].get<double>();
    if (v > 0 && v < 1e18) c.model_max_length = static_cast<int64_t>(v);
  }
  if (j.contains("chat_template")) {
    const json& t = j["chat_template"];
    if (t.is_string()) {
      c.chat_template = t.get<std::string>();
    } else if (t.is_array()) {
      for (const auto& e : t) {
        if (!e.is_object() || !e.contains("template") || !e["template"].is_string()) continue;
        const std::string name = e.value("name", "");
        if (name == "default") c.chat_template = e["template"].get<std::string>();
        if (name == "tool_use") c.tool_use_chat_template = e["template"].get<std::string>();
      }
    }
  }
  if (j.contains("added_tokens_decoder") && j["added_tokens_decoder"].is_object()) {
    for (const auto& [key, v] : j["added_tokens_decoder"].items()) {
      AddedToken a;
      try {
        a.id = std::stoi(key);
      } catch (...) {
        return make_error(ErrorCode::kCorrupt,
                          "added_tokens_decoder key '" + key + "' is no id in " + source);
      }
      if (!v.is_object() || !v.contains("content") || !v["content"].is_string() ||
          v["content"].get<std::string>().empty())
        return make_error(ErrorCode::kCorrupt,
                          "bad added_tokens_decoder entry " + key + " in " + source);
      a.content = v["content"].get<std::string>();
      a.special = v.value("special", false);
      a.lstrip = v.value("lstrip", false);
      a.rstrip = v.value("rstrip", false);
      a.single_word = v.value("single_word", false);
      a.normalized = v.value("normalized", !a.special);
      c.added_tokens_decoder.push_back(std::move(a));
    }
    std::sort(c.added_tokens_decoder.begin(), c.added_tokens_decoder.end(),
              [](const AddedToken& x, const AddedToken& y) { return x.id < y.id; });
  }
  return c;
}

Result<TokenizerConfig> TokenizerConfig::from_file(const std::string& path) {
  SGLANG_ASSIGN_OR_RETURN(json j, read_json(path));
  return parse(j, path);
}

Result<LoadedTokenizer> load_tokenizer_from_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path d(dir);
  LoadedTokenizer out;
  if (fs::exists(d / "tokenizer_config.json")) {
    SGLANG_ASSIGN_OR_RETURN(out.config,
                            TokenizerConfig::from_file((d / "tokenizer_config.json").string()));
  }
  if (out.config.chat_template.empty() && fs::exists(d / "chat_template.jinja")) {
    SGLANG_ASSIGN_OR_RETURN(out.config.chat_template,
                            read_text((d / "chat_template.jinja").string()));
  }
  if (fs::exists(d / "tokenizer.json")) {
    SGLANG_ASSIGN_OR_RETURN(out.tokenizer, Tokenizer::from_file((d / "tokenizer.json").string()));
  } else if (fs::exists(d / "vocab.json") && fs::exists(d / "merges.txt")) {
    // GPT-2-style byte-level BPE, as transformers' GPT2Converter builds it.
    SGLANG_ASSIGN_OR_RETURN(json vocab, read_json((d / "vocab.json").string()));
    SGLANG_ASSIGN_OR_RETURN(std::string merges_text, read_text((d / "merges.txt").string()));
    json merges = json::array();
    std::istringstream lines(merges_text);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line.rfind("#version", 0) == 0) continue;
      merges.push_back(line);
    }
    json t = {
        {"model", {{"type", "BPE"}, {"vocab", std::move(vocab)}, {"merges", std::move(merges)}}},
        {"pre_tokenizer",
         {{"type", "ByteLevel"},
          {"add_prefix_space", out.config.add_prefix_space.value_or(false)},
          {"use_regex", true}}},
        {"decoder", {{"type", "ByteLevel"}}},
        {"post_processor", {{"type", "ByteLevel"}}},
    };
    SGLANG_ASSIGN_OR_RETURN(out.tokenizer,
                            Tokenizer::from_json_value(t, (d / "vocab.json").string()));
  } else {
    return make_error(ErrorCode::kNotFound,
                      "no tokenizer.json, nor vocab.json + merges.txt, in " + dir);
  }
  out.tokenizer->add_tokens(out.config.added_tokens_decoder);
  if (out.config.add_bos_token || out.config.add_eos_token) {
    auto id_of = [&](bool add, const std::optional<std::string>& token) {
      return add && token ? out.tokenizer->token_to_id(*token) : -1;
    };
    out.tokenizer->set_post_processor(tok::make_bos_eos_template(
        id_of(out.config.add_bos_token.value_or(false), out.config.bos_token),
        id_of(out.config.add_eos_token.value_or(false), out.config.eos_token)));
  }
  return out;
}

}  // namespace sglang
