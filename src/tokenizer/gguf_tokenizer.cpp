#include "tokenizer/gguf_tokenizer.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "model/gguf.h"
#include "tokenizer/gguf_components.h"
#include "tokenizer/llama_pre_tokenizer.h"

namespace sglang {
namespace {

using namespace gguf_attr;

// The ids llama.cpp reads from tokenizer.ggml.<name>_token_id, in its order (a deprecated FIM key
// read later overrides the current one, as there).
constexpr const char* kSpecialIdKeys[] = {
    "bos",     "eos",     "eot",     "eom",     "unknown", "seperator",
    "padding", "mask",    "fim_pre", "fim_suf", "fim_mid", "fim_pad",
    "fim_rep", "fim_sep", "prefix",  "suffix",  "middle",
};

Result<std::vector<std::string>> string_array(const GgufFile& f, const std::string& key,
                                              bool required) {
  const GgufValue* v = f.find(key);
  if (!v) {
    if (!required) return std::vector<std::string>();
    return make_error(ErrorCode::kNotFound, "GGUF file " + f.path() + " has no " + key);
  }
  if (!v->is_array() || v->element_type != GgufValue::Type::kString) {
    return make_error(ErrorCode::kCorrupt, key + " in " + f.path() + " is not an array of strings");
  }
  return v->strings;
}

// Token text -> id, for the text-based fix-ups.
using TextIds = std::unordered_map<std::string_view, int32_t>;

// Text-based fix-ups of llama.cpp's loader: tokens that end a turn, and the FIM tokens, are found
// by their text where the file gives no id, and become control tokens. llama.cpp takes the first
// such text in its hash map's order; here the first of each list that the vocabulary has (they
// differ only for a vocabulary with two spellings of one kind).
void detect_by_text(const TextIds& ids, std::vector<uint32_t>& attrs,
                    std::initializer_list<const char*> texts, int32_t& id) {
  if (id >= 0) return;
  for (const char* t : texts) {
    if (auto it = ids.find(t); it != ids.end()) {
      id = it->second;
      attrs[static_cast<size_t>(id)] |= kControl;
      return;
    }
  }
}

std::vector<tok::GgufPiece> pieces_of(const std::vector<uint32_t>& attrs) {
  std::vector<tok::GgufPiece> out(attrs.size());
  for (size_t i = 0; i < attrs.size(); ++i) {
    const uint32_t a = attrs[i];
    out[i] = (a & (kUnknown | kControl | kUserDefined)) ? tok::GgufPiece::kVerbatim
             : (a & kNormal)                            ? tok::GgufPiece::kText
             : (a & kByte)                              ? tok::GgufPiece::kByte
                                                        : tok::GgufPiece::kNothing;
  }
  return out;
}

}  // namespace

Result<GgufVocab> read_gguf_vocab(const GgufFile& f) {
  GgufVocab v;
  SGLANG_ASSIGN_OR_RETURN(auto model, f.get_string("tokenizer.ggml.model"));
  if (!model) {
    return make_error(ErrorCode::kNotFound,
                      "GGUF file " + f.path() + " has no tokenizer (tokenizer.ggml.model)");
  }
  v.model = *model;
  SGLANG_ASSIGN_OR_RETURN(auto pre, f.get_string("tokenizer.ggml.pre"));
  v.pre = pre.value_or("");
  SGLANG_ASSIGN_OR_RETURN(v.tokens, string_array(f, "tokenizer.ggml.tokens", true));
  SGLANG_ASSIGN_OR_RETURN(v.merges, string_array(f, "tokenizer.ggml.merges", false));
  if (const GgufValue* t = f.find("tokenizer.ggml.token_type")) {
    if (!t->is_array() || t->element_type != GgufValue::Type::kI32) {
      return make_error(ErrorCode::kCorrupt,
                        "tokenizer.ggml.token_type in " + f.path() + " is not an array of int32");
    }
    if (t->ints.size() < v.tokens.size()) {
      return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.token_type in " + f.path() +
                                                 " has fewer entries than tokenizer.ggml.tokens");
    }
    v.token_types.assign(t->ints.begin(), t->ints.end());
  }
  if (const GgufValue* s = f.find("tokenizer.ggml.scores")) {
    const bool floats = s->element_type == GgufValue::Type::kF32;
    if (!s->is_array() || (!floats && s->element_type != GgufValue::Type::kI32)) {
      return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.scores in " + f.path() +
                                                 " is not an array of float32 or int32");
    }
    if (s->floats.size() + s->ints.size() < v.tokens.size()) {
      return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.scores in " + f.path() +
                                                 " has fewer entries than tokenizer.ggml.tokens");
    }
    if (floats) {
      v.scores.assign(s->floats.begin(), s->floats.end());
    } else {
      v.scores.assign(s->ints.begin(), s->ints.end());
    }
  }
  for (const char* name : kSpecialIdKeys) {
    SGLANG_ASSIGN_OR_RETURN(auto id,
                            f.get_int(std::string("tokenizer.ggml.") + name + "_token_id"));
    if (id) v.special_ids[name] = *id;
  }
  SGLANG_ASSIGN_OR_RETURN(v.add_bos, f.get_bool("tokenizer.ggml.add_bos_token"));
  SGLANG_ASSIGN_OR_RETURN(v.add_eos, f.get_bool("tokenizer.ggml.add_eos_token"));
  SGLANG_ASSIGN_OR_RETURN(v.add_sep, f.get_bool("tokenizer.ggml.add_sep_token"));
  SGLANG_ASSIGN_OR_RETURN(v.add_space_prefix, f.get_bool("tokenizer.ggml.add_space_prefix"));
  SGLANG_ASSIGN_OR_RETURN(auto name, f.get_string("general.name"));
  v.name = name.value_or("");
  return v;
}

Result<GgufVocabState> gguf_vocab_state(const GgufVocab& v) {
  GgufVocabState s;
  if (v.model == "gpt2") {
    if (v.merges.empty()) {
      return make_error(ErrorCode::kNotFound,
                        "GGUF tokenizer has no merges (tokenizer.ggml.merges)");
    }
    SGLANG_ASSIGN_OR_RETURN(tok::LlamaPreTokenizerSpec pre, tok::llama_pre_tokenizer_spec(v.pre));
    s.pre_regexes = pre.regexes;
    s.clean_spaces = pre.clean_spaces;
    s.ignore_merges = pre.ignore_merges;
    s.add_bos = pre.add_bos;
    // (tokenizer.ggml.add_sep_token has no effect on llama.cpp's BPE tokenization.)
  } else if (v.model == "llama") {
    // tokenizer.ggml.pre means nothing to a SentencePiece vocabulary.
    s.sentencepiece = true;
    s.add_space_prefix = true;
    s.add_bos = true;
  } else {
    return make_error(ErrorCode::kUnsupported,
                      "unsupported GGUF tokenizer model '" + v.model +
                          "' (tokenizer.ggml.model); supported: gpt2 (byte-level BPE), llama "
                          "(SentencePiece BPE)");
  }
  if (v.add_space_prefix) s.add_space_prefix = *v.add_space_prefix;

  const auto n = static_cast<int64_t>(v.tokens.size());
  if (n == 0) return make_error(ErrorCode::kCorrupt, "GGUF tokenizer has no tokens");
  // llama.cpp names an empty token "[EMPTY_<id>]".
  s.tokens = v.tokens;
  for (size_t i = 0; i < s.tokens.size(); ++i) {
    if (s.tokens[i].empty()) s.tokens[i] = "[EMPTY_" + std::to_string(i) + "]";
  }
  if (!v.token_types.empty() && v.token_types.size() < v.tokens.size()) {
    return make_error(
        ErrorCode::kCorrupt,
        "GGUF tokenizer has fewer token types than tokens (tokenizer.ggml.token_type)");
  }
  s.attrs.assign(v.tokens.size(), kNormal);
  if (!v.token_types.empty()) {
    for (size_t i = 0; i < v.tokens.size(); ++i) {
      switch (v.token_types[i]) {
        case 1:
          s.attrs[i] = kNormal;
          break;
        case 2:
          s.attrs[i] = kUnknown;
          break;
        case 3:
          s.attrs[i] = kControl;
          break;
        case 4:
          s.attrs[i] = kUserDefined;
          break;
        case 5:
          s.attrs[i] = kUnused;
          break;
        case 6:
          s.attrs[i] = kByte;
          break;
        default:
          s.attrs[i] = kUndefined;
          break;
      }
    }
  }
  TextIds ids;
  for (size_t i = 0; i < s.tokens.size(); ++i) {
    if (!ids.emplace(s.tokens[i], static_cast<int32_t>(i)).second) {
      return make_error(ErrorCode::kCorrupt,
                        "duplicate token '" + s.tokens[i] + "' in the GGUF vocabulary (ids " +
                            std::to_string(ids[s.tokens[i]]) + " and " + std::to_string(i) + ")");
    }
  }

  // Default special ids: BOS and EOS 11 for GPT-2-style vocabularies; BOS 1, EOS 2, UNK 0 for
  // SentencePiece ones. A file's id out of range is ignored (llama.cpp warns, keeps the default).
  int32_t fim_pre = -1, fim_suf = -1, fim_mid = -1, fim_pad = -1, fim_rep = -1, fim_sep = -1;
  auto in_range = [&](int32_t id) { return id < n ? id : -1; };
  if (s.sentencepiece) {
    s.bos_id = in_range(1);
    s.eos_id = in_range(2);
    s.unk_id = in_range(0);
  } else {
    s.bos_id = s.eos_id = in_range(11);
  }
  const std::pair<const char*, int32_t*> slots[] = {
      {"bos", &s.bos_id},     {"eos", &s.eos_id},     {"eot", &s.eot_id},
      {"eom", &s.eom_id},     {"unknown", &s.unk_id}, {"seperator", &s.sep_id},
      {"padding", &s.pad_id}, {"mask", &s.mask_id},   {"fim_pre", &fim_pre},
      {"fim_suf", &fim_suf},  {"fim_mid", &fim_mid},  {"fim_pad", &fim_pad},
      {"fim_rep", &fim_rep},  {"fim_sep", &fim_sep},  {"prefix", &fim_pre},
      {"suffix", &fim_suf},   {"middle", &fim_mid},
  };
  for (const auto& [key, slot] : slots) {
    auto it = v.special_ids.find(key);
    if (it != v.special_ids.end() && it->second >= 0 && it->second < n)
      *slot = static_cast<int32_t>(it->second);
  }
  if (v.add_bos) s.add_bos = *v.add_bos;
  if (v.add_eos) s.add_eos = *v.add_eos;
  if (s.add_bos && s.bos_id < 0) {
    return make_error(
        ErrorCode::kCorrupt,
        "tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id is not "
        "set");
  }
  if (s.add_eos && s.eos_id < 0) {
    return make_error(
        ErrorCode::kCorrupt,
        "tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id is not "
        "set");
  }

  detect_by_text(
      ids, s.attrs,
      {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
       "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"},
      s.eot_id);
  detect_by_text(ids, s.attrs, {"<|eom_id|>"}, s.eom_id);
  detect_by_text(ids, s.attrs,
                 {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>",
                  "▁<PRE>", "<|code_prefix|>", "<|prefix|>"},
                 fim_pre);
  detect_by_text(ids, s.attrs,
                 {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>",
                  "▁<SUF>", "<|code_suffix|>", "<|suffix|>"},
                 fim_suf);
  detect_by_text(ids, s.attrs,
                 {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>",
                  "▁<MID>", "<|code_middle|>", "<|middle|>"},
                 fim_mid);
  detect_by_text(ids, s.attrs, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"},
                 fim_pad);
  detect_by_text(ids, s.attrs,
                 {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"}, fim_rep);
  detect_by_text(ids, s.attrs, {"<|file_sep|>"}, fim_sep);

  // End-of-generation tokens: the FIM pad / repo / file separators, every token spelled like an
  // end of turn (made a control token), and EOS / EOT / EOM.
  std::set<int32_t> eog;
  for (int32_t id : {fim_pad, fim_rep, fim_sep}) {
    if (id >= 0) eog.insert(id);
  }
  for (const char* t : {"<|eot_id|>",
                        "<|im_end|>",
                        "<|end|>",
                        "<|return|>",
                        "<|call|>",
                        "<|flush|>",
                        "<|calls|>",
                        "<end_of_turn>",
                        "<|endoftext|>",
                        "</s>",
                        "<|eom_id|>",
                        "<EOT>",
                        "_<EOT>",
                        "[EOT]",
                        "[EOS]",
                        "<|end_of_text|>",
                        "<end_of_utterance>",
                        "<eos>",
                        "<turn|>",
                        "<|tool_response>",
                        "<｜end▁of▁sentence｜>",
                        "[e~["}) {
    if (auto it = ids.find(t); it != ids.end()) {
      eog.insert(it->second);
      s.attrs[static_cast<size_t>(it->second)] |= kControl;
    }
  }
  // gpt-oss: these are always rendered.
  for (const char* t : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
    if (auto it = ids.find(t); it != ids.end())
      s.attrs[static_cast<size_t>(it->second)] = kUserDefined;
  }
  for (int32_t id : {s.eos_id, s.eot_id, s.eom_id}) {
    if (id >= 0) eog.insert(id);
  }
  // o200k_harmony / solar-open: "<|end|>" does not end generation when "<|return|>" and
  // "<|call|>" (or "<|calls|>" and "<|flush|>") do.
  auto eog_has = [&](const char* t) {
    auto it = ids.find(t);
    return it != ids.end() && eog.count(it->second) > 0;
  };
  const bool has_call = eog_has("<|call|>") || eog_has("<|calls|>");
  if (eog_has("<|end|>") && has_call && (eog_has("<|return|>") || eog_has("<|flush|>"))) {
    const int32_t end = ids.at("<|end|>");
    eog.erase(end);
    s.attrs[static_cast<size_t>(end)] = kUserDefined;
  }
  // gemma4 / paddleocr: "</s>" is an ordinary token when "<|tool_response>" ends generation.
  if (eog_has("<|tool_response>") && eog_has("</s>")) {
    const int32_t end = ids.at("</s>");
    eog.erase(end);
    s.attrs[static_cast<size_t>(end)] = kNormal;
  }
  s.eog_ids.assign(eog.begin(), eog.end());

  // Attributes llama.cpp sets by tokenizer or model name.
  std::string lower_name = v.name;
  std::transform(lower_name.begin(), lower_name.end(), lower_name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto set_attr = [&](const char* t, uint32_t bit, bool on) {
    if (auto it = ids.find(t); it != ids.end()) {
      uint32_t& a = s.attrs[static_cast<size_t>(it->second)];
      a = on ? (a | bit) : (a & ~bit);
    }
  };
  if (v.pre.find("jina-v2-de") != std::string::npos ||
      v.pre.find("jina-v2-es") != std::string::npos ||
      v.pre.find("jina-v2-code") != std::string::npos) {
    set_attr("<mask>", kLstrip, true);
  } else if (lower_name.find("phi-3") != std::string::npos ||
             lower_name.find("phi3") != std::string::npos) {
    for (uint32_t& a : s.attrs) {
      if (a & (kControl | kUserDefined | kUnknown)) a |= kRstrip;
    }
    set_attr("</s>", kRstrip, true);
    for (const char* t : {"<unk>", "<s>", "<|endoftext|>"}) set_attr(t, kRstrip, false);
  } else if (lower_name.find("modern-bert") != std::string::npos) {
    set_attr("[MASK]", kLstrip, true);
  }
  return s;
}

Result<LoadedTokenizer> tokenizer_from_gguf_vocab(const GgufVocab& v) {
  SGLANG_ASSIGN_OR_RETURN(GgufVocabState s, gguf_vocab_state(v));
  const std::vector<std::string>& tokens = s.tokens;
  TokenizerParts parts;
  if (s.sentencepiece) {
    parts.pre_tokenizer = tok::make_gguf_spm_escape(s.add_space_prefix);
  } else {
    SGLANG_ASSIGN_OR_RETURN(parts.pre_tokenizer, tok::make_llama_pre_tokenizer(s.pre_regexes));
  }
  tok::GgufDecodeOptions decode;
  decode.sentencepiece = s.sentencepiece;
  decode.strip_first_space = s.add_space_prefix;
  decode.clean_spaces = s.clean_spaces;
  parts.decoder = tok::make_gguf_decoder(tokens, pieces_of(s.attrs), decode);
  parts.post_processor =
      tok::make_bos_eos_template(s.add_bos ? s.bos_id : -1, s.add_eos ? s.eos_id : -1);
  parts.matching = AddedTokenMatching::kLongestTokenFirst;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const uint32_t a = s.attrs[i];
    if (!(a & (kControl | kUserDefined | kUnknown))) continue;
    AddedToken t;
    t.id = static_cast<int32_t>(i);
    t.content = tokens[i];
    t.special = (a & (kControl | kUnknown)) != 0;
    t.lstrip = (a & kLstrip) != 0;
    t.rstrip = (a & kRstrip) != 0;
    parts.added_tokens.push_back(std::move(t));
  }
  LoadedTokenizer out;
  out.config.added_tokens_decoder = parts.added_tokens;
  auto text_of = [&](int32_t id) {
    return id >= 0 ? std::optional<std::string>(tokens[static_cast<size_t>(id)]) : std::nullopt;
  };
  out.config.bos_token = text_of(s.bos_id);
  out.config.eos_token = text_of(s.eos_id);
  out.config.pad_token = text_of(s.pad_id);
  out.config.unk_token = text_of(s.unk_id);
  out.config.add_bos_token = s.add_bos;
  out.config.add_eos_token = s.add_eos;
  if (s.sentencepiece) {
    parts.model = tok::make_gguf_spm(std::move(s.tokens), v.scores);
  } else {
    parts.model = tok::make_gguf_bpe(std::move(s.tokens), v.merges, s.ignore_merges);
  }
  SGLANG_ASSIGN_OR_RETURN(out.tokenizer, Tokenizer::from_parts(std::move(parts)));
  return out;
}

Result<LoadedTokenizer> tokenizer_from_gguf(const GgufFile& f) {
  SGLANG_ASSIGN_OR_RETURN(GgufVocab v, read_gguf_vocab(f));
  auto loaded = tokenizer_from_gguf_vocab(v);
  if (!loaded.ok()) {
    return make_error(loaded.error().code, loaded.error().message + " in " + f.path());
  }
  SGLANG_ASSIGN_OR_RETURN(auto tmpl, f.get_string("tokenizer.chat_template"));
  loaded->config.chat_template = tmpl.value_or("");
  SGLANG_ASSIGN_OR_RETURN(auto arch, f.get_string("general.architecture"));
  if (arch) {
    SGLANG_ASSIGN_OR_RETURN(auto ctx, f.get_int(*arch + ".context_length"));
    if (ctx && *ctx > 0) loaded->config.model_max_length = *ctx;
  }
  return loaded;
}

Result<LoadedTokenizer> load_tokenizer_from_gguf(const std::string& path) {
  SGLANG_ASSIGN_OR_RETURN(auto file, GgufFile::open(path));
  return tokenizer_from_gguf(*file);
}

}  // namespace sglang
