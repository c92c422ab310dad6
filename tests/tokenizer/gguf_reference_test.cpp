// GGUF tokenizers against llama.cpp itself: the reference (gguf_reference.bin, written by
// tools/make_gguf_tokenizer_reference.py with llama-cpp-python 0.3.36) holds llama.cpp's ids and
// detokenized text for the tokenizer corpus (tests/tokenizer/corpus.py, dumped at test time by
// dump_corpus.py as a CTest fixture) with the real SmolLM2-135M-Instruct GGUF, its vocabulary under
// other pre-tokenizers, Qwen3's and Llama 3's vocabularies as GGUF tokenizers, and two
// SentencePiece ("llama") vocabularies made from the XLM-R-format assets. Every id and every byte
// must be equal. The SmolLM2 cases need the model file (scripts/fetch_model.sh) and are skipped
// without it; the others need the assets.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <sstream>

#include "model/gguf.h"
#include "test_support.h"
#include "tokenizer/components.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/incremental_detokenizer.h"
#include "tokenizer/llama_pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace sglang {
namespace {

std::string smollm2_path() {
  return std::string(SGLANG_SOURCE_DIR) +
         "/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The unsigned LEB128 varints of the reference file.
class Reader {
 public:
  explicit Reader(std::string data, size_t pos) : data_(std::move(data)), pos_(pos) {}
  uint64_t uint() {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      if (pos_ >= data_.size() || shift > 56) throw std::runtime_error("bad reference file");
      const auto b = static_cast<uint8_t>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  }
  std::vector<int32_t> ids() {
    std::vector<int32_t> out(uint());
    for (auto& i : out) i = static_cast<int32_t>(uint());
    return out;
  }
  std::string bytes() {
    const size_t n = uint();
    if (pos_ + n > data_.size()) throw std::runtime_error("reference file ends early");
    std::string s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  // `base` with the edits that follow applied.
  std::string edited(const std::string& base) {
    std::string out;
    size_t at = 0;
    for (size_t n = uint(); n > 0; --n) {
      const size_t keep = uint(), removed = uint();
      if (at + keep + removed > base.size()) throw std::runtime_error("bad edit in the reference");
      out.append(base, at, keep);
      at += keep + removed;
      out += bytes();
    }
    return out + base.substr(at);
  }
  bool at_end() const { return pos_ == data_.size(); }

 private:
  std::string data_;
  size_t pos_;
};

// The corpus as dump_corpus.py wrote it.
const std::vector<std::string>& corpus() {
  static const std::vector<std::string> texts = [] {
    const char* env = std::getenv("SGLANG_TOKENIZER_CORPUS");
    const std::string data = read_file(env ? env : SGLANG_TOKENIZER_CORPUS);
    std::vector<std::string> out;
    for (size_t pos = 0; pos + 4 <= data.size();) {
      uint32_t n = 0;
      std::memcpy(&n, data.data() + pos, 4);
      out.push_back(data.substr(pos + 4, n));
      pos += 4 + n;
    }
    return out;
  }();
  return texts;
}

struct CaseData {
  nlohmann::json header;
  std::vector<std::vector<int32_t>> ids;
  std::map<size_t, std::vector<int32_t>> ids_plain;     // parse_special = false, where different
  std::map<size_t, std::string> decoded, decoded_skip;  // where different from the text
  std::map<int32_t, uint32_t> attrs;                    // tokens that are not normal
  struct Decode {
    std::vector<int32_t> ids;
    std::string text, text_skip;
  };
  std::vector<Decode> decodes;
};

struct Reference {
  nlohmann::json header;
  std::map<std::string, CaseData> cases;
};

const Reference& reference() {
  static const Reference ref = [] {
    Reference r;
    const std::string data =
        read_file(std::string(SGLANG_SOURCE_DIR) + "/tests/tokenizer/gguf_reference.bin");
    if (data.size() < 12 || data.compare(0, 8, "SGGGUFRF") != 0)
      throw std::runtime_error("no tests/tokenizer/gguf_reference.bin");
    uint32_t head = 0;
    std::memcpy(&head, data.data() + 8, 4);
    r.header = nlohmann::json::parse(data.substr(12, head));
    Reader in(data, 12 + head);
    for (const auto& c : r.header["cases"]) {
      CaseData& d = r.cases[c["name"].get<std::string>()];
      d.header = c;
      d.ids.resize(in.uint());
      for (auto& ids : d.ids) ids = in.ids();
      for (size_t n = in.uint(); n > 0; --n) {
        const size_t i = in.uint();
        d.ids_plain[i] = in.ids();
      }
      for (auto* m : {&d.decoded, &d.decoded_skip}) {
        for (size_t n = in.uint(); n > 0; --n) {
          const size_t i = in.uint();
          if (i >= corpus().size()) throw std::runtime_error("reference index out of the corpus");
          (*m)[i] = in.edited(corpus()[i]);
        }
      }
      for (size_t n = in.uint(); n > 0; --n) {
        const auto id = static_cast<int32_t>(in.uint());
        d.attrs[id] = static_cast<uint32_t>(in.uint());
      }
      d.decodes.resize(in.uint());
      for (auto& x : d.decodes) {
        x.ids = in.ids();
        x.text = in.bytes();
        x.text_skip = in.edited(x.text);
      }
    }
    if (!in.at_end()) throw std::runtime_error("trailing bytes in the reference file");
    return r;
  }();
  return ref;
}

uint64_t fnv1a64(uint64_t h, std::string_view bytes) {
  for (char c : bytes) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}
constexpr uint64_t kFnvStart = 0xcbf29ce484222325ull;

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// A GGUF vocabulary from a byte-level BPE tokenizer.json, as the reference tool converts it.
GgufVocab vocab_from_tokenizer_json(const std::string& path) {
  const auto j = nlohmann::json::parse(read_file(path));
  std::map<int64_t, std::pair<std::string, int32_t>> by_id;
  for (const auto& [token, id] : j["model"]["vocab"].items()) by_id[id.get<int64_t>()] = {token, 1};
  for (const auto& a : j["added_tokens"])
    by_id[a["id"].get<int64_t>()] = {a["content"].get<std::string>(),
                                     a.value("special", false) ? 3 : 4};
  GgufVocab v;
  v.model = "gpt2";
  for (const auto& [id, t] : by_id) {
    EXPECT_EQ(id, static_cast<int64_t>(v.tokens.size())) << "ids are not contiguous";
    v.tokens.push_back(t.first);
    v.token_types.push_back(t.second);
  }
  for (const auto& m : j["model"]["merges"]) {
    v.merges.push_back(m.is_string() ? m.get<std::string>()
                                     : m[0].get<std::string>() + " " + m[1].get<std::string>());
  }
  return v;
}

// A "llama" (SentencePiece) GGUF vocabulary from a Unigram tokenizer.json, as the reference tool
// makes it: the pieces and scores ("<s>" "<pad>" "</s>" "<mask>" control, unk unknown), then the
// 256 byte tokens "<0x00>".."<0xFF>".
GgufVocab vocab_from_unigram_json(const std::string& path) {
  const auto j = nlohmann::json::parse(read_file(path));
  const int64_t unk = j["model"]["unk_id"];
  GgufVocab v;
  v.model = "llama";
  for (const auto& p : j["model"]["vocab"]) {
    const std::string piece = p[0];
    v.token_types.push_back(
        static_cast<int64_t>(v.tokens.size()) == unk                                   ? 2
        : (piece == "<s>" || piece == "<pad>" || piece == "</s>" || piece == "<mask>") ? 3
                                                                                       : 1);
    v.tokens.push_back(piece);
    v.scores.push_back(static_cast<float>(p[1].get<double>()));
  }
  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "<0x%02X>", b);
    v.tokens.push_back(hex);
    v.token_types.push_back(6);
    v.scores.push_back(0.0f);
  }
  return v;
}

std::string vocab_fnv(const GgufVocab& v) {
  uint64_t h = kFnvStart;
  for (const auto& t : v.tokens) h = fnv1a64(fnv1a64(h, t), std::string_view("\0", 1));
  for (int32_t t : v.token_types) h = fnv1a64(h, std::to_string(t) + ",");
  for (const auto& m : v.merges) h = fnv1a64(fnv1a64(h, m), std::string_view("\0", 1));
  for (float x : v.scores) {
    char le[4];
    std::memcpy(le, &x, 4);  // little-endian hosts only, as the rest of the project
    h = fnv1a64(h, std::string_view(le, 4));
  }
  return hex64(h);
}

std::string show(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}
std::string show(const std::vector<int32_t>& ids) {
  return nlohmann::json(ids).dump();
}

class GgufReference : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_NO_THROW(reference());
    ASSERT_TRUE(reference().cases.count(GetParam())) << "no case " << GetParam();
    data_ = &reference().cases.at(GetParam());
    const nlohmann::json& c = data_->header;
    const std::string source = c["source"];
    if (source == "gguf") {
      if (!std::filesystem::exists(smollm2_path()))
        GTEST_SKIP() << smollm2_path() << " is absent (scripts/fetch_model.sh fetches it)";
      auto file = GgufFile::open(smollm2_path());
      ASSERT_TRUE(file.ok()) << file.error().message;
      auto v = read_gguf_vocab(**file);
      ASSERT_TRUE(v.ok()) << v.error().message;
      vocab_ = std::move(*v);
      if (GetParam() != "smollm2") {
        vocab_.special_ids.clear();
        vocab_.add_bos.reset();
      }
    } else if (c["format"] == "spm") {
      vocab_ = vocab_from_unigram_json(testing::asset_path(source + "/tokenizer.json"));
    } else {
      vocab_ = vocab_from_tokenizer_json(testing::asset_path(source + "/tokenizer.json"));
    }
    if (GetParam() != "smollm2") {
      vocab_.pre = c["pre"].is_null() ? "" : c["pre"].get<std::string>();
      for (const auto& [k, id] : c["special_ids"].items())
        vocab_.special_ids[k] = id.get<int64_t>();
      if (!c["add_bos"].is_null()) vocab_.add_bos = c["add_bos"].get<bool>();
    }
    ASSERT_EQ(vocab_fnv(vocab_), c["vocab_fnv1a64"].get<std::string>())
        << "the vocabulary differs from the one the reference was made with";
    auto t = tokenizer_from_gguf_vocab(vocab_);
    ASSERT_TRUE(t.ok()) << t.error().message;
    loaded_ = std::move(*t);
    // The corpus must be the one the reference was made from.
    const auto& texts = corpus();
    ASSERT_EQ(texts.size(), reference().header["n_corpus"].get<size_t>());
    uint64_t h = kFnvStart;
    for (const auto& s : texts) h = fnv1a64(fnv1a64(h, s), "\xff");
    ASSERT_EQ(hex64(h), reference().header["corpus_fnv1a64"].get<std::string>());
  }

  const CaseData* data_ = nullptr;
  GgufVocab vocab_;
  LoadedTokenizer loaded_;
};

TEST_P(GgufReference, TokenAttributesAndEndOfGeneration) {
  auto state = gguf_vocab_state(vocab_);
  ASSERT_TRUE(state.ok()) << state.error().message;
  size_t differ = 0;
  for (size_t id = 0; id < state->attrs.size(); ++id) {
    auto it = data_->attrs.find(static_cast<int32_t>(id));
    const uint32_t want = it == data_->attrs.end() ? gguf_attr::kNormal : it->second;
    if (state->attrs[id] != want && ++differ <= 5)
      ADD_FAILURE() << "token " << id << " " << show(state->tokens[id]) << ": attr "
                    << state->attrs[id] << ", llama.cpp " << want;
  }
  EXPECT_EQ(differ, 0u);
  EXPECT_EQ(nlohmann::json(state->eog_ids), data_->header["eog"]);
  EXPECT_EQ(state->bos_id, data_->header["bos"].get<int32_t>());
  EXPECT_EQ(state->eos_id, data_->header["eos"].get<int32_t>());
  EXPECT_EQ(loaded_.config.add_bos_token.value_or(false), data_->header["bos_added"].get<bool>());
  EXPECT_EQ(loaded_.config.add_eos_token.value_or(false), data_->header["eos_added"].get<bool>());
}

TEST_P(GgufReference, EncodeLikeLlamaCpp) {
  const Tokenizer& tok = *loaded_.tokenizer;
  const auto& texts = corpus();
  const bool bos = data_->header["bos_added"], eos = data_->header["eos_added"];
  const int32_t bos_id = data_->header["bos"], eos_id = data_->header["eos"];
  size_t checked = 0, wrong = 0;
  auto expect = [&](const std::vector<int32_t>& got, const std::vector<int32_t>& want, size_t i,
                    const char* what) {
    ++checked;
    if (got == want) return;
    if (++wrong <= 8)
      ADD_FAILURE() << what << " of corpus string " << i << " " << show(texts[i]) << "\n  got  "
                    << show(got) << "\n  want " << show(want);
  };
  for (size_t i = 0; i < data_->ids.size(); ++i) {
    const auto& want = data_->ids[i];
    expect(tok.encode(texts[i], false), want, i, "encode");
    auto plain = data_->ids_plain.find(i);
    expect(tok.encode(texts[i], false, /*split_special_tokens=*/true),
           plain == data_->ids_plain.end() ? want : plain->second, i,
           "encode with split_special_tokens");
    std::vector<int32_t> with = want;
    if (bos) with.insert(with.begin(), bos_id);
    if (eos) with.push_back(eos_id);
    expect(tok.encode(texts[i], true), with, i, "encode with add_special_tokens");
  }
  EXPECT_EQ(wrong, 0u) << "of " << checked;
  std::printf("[ %s ] %zu encodes, %zu differ from llama.cpp\n", GetParam().c_str(), checked,
              wrong);
}

TEST_P(GgufReference, DecodeLikeLlamaCpp) {
  const Tokenizer& tok = *loaded_.tokenizer;
  const auto& texts = corpus();
  size_t checked = 0, wrong = 0;
  auto expect = [&](const std::string& got, const std::string& want,
                    const std::vector<int32_t>& ids, const char* what) {
    ++checked;
    if (got == want) return;
    if (++wrong <= 8)
      ADD_FAILURE() << what << " of " << show(ids) << "\n  got  " << show(got) << "\n  want "
                    << show(want);
  };
  for (size_t i = 0; i < data_->ids.size(); ++i) {
    const auto& ids = data_->ids[i];
    auto d = data_->decoded.find(i);
    expect(tok.decode(ids, false), d == data_->decoded.end() ? texts[i] : d->second, ids, "decode");
    auto s = data_->decoded_skip.find(i);
    expect(tok.decode(ids, true), s == data_->decoded_skip.end() ? texts[i] : s->second, ids,
           "decode skipping special tokens");
  }
  for (const auto& x : data_->decodes) {
    expect(tok.decode(x.ids, false), x.text, x.ids, "decode");
    expect(tok.decode(x.ids, true), x.text_skip, x.ids, "decode skipping special tokens");
  }
  EXPECT_EQ(wrong, 0u) << "of " << checked;
  std::printf("[ %s ] %zu decodes, %zu differ from llama.cpp\n", GetParam().c_str(), checked,
              wrong);
}

// Streaming: one id at a time, the pieces add up to the whole decode (what the server streams).
TEST_P(GgufReference, IncrementalDetokenizerAddsUpToDecode) {
  const Tokenizer& tok = *loaded_.tokenizer;
  size_t wrong = 0;
  for (size_t i = 0; i < data_->ids.size(); i += 7) {
    for (bool skip : {false, true}) {
      IncrementalDetokenizer inc(tok, skip);
      std::string streamed;
      for (int32_t id : data_->ids[i]) streamed += inc.push(std::span<const int32_t>(&id, 1));
      streamed += inc.finish();
      if (streamed != tok.decode(data_->ids[i], skip) && ++wrong <= 5)
        ADD_FAILURE() << "stream of " << show(data_->ids[i]) << ": " << show(streamed);
    }
  }
  EXPECT_EQ(wrong, 0u);
}

// SmolLM2 as Hugging Face ships it (tokenizer.json: Digits(individual) then ByteLevel, BPE, the 17
// special tokens), built from the GGUF's vocabulary and run through our Hugging Face pipeline (the
// conformance suite holds that to `tokenizers` exactly), must give llama.cpp's ids except where
// the two differ by design: characters the two Unicode tables class differently, and bytes whose
// GPT-2 character the vocabulary lacks (Hugging Face drops such a character before merging, so
// its neighbours may merge; llama.cpp drops it after). Those strings are counted.
TEST(GgufReferenceVsHuggingFace, SmolLM2DiffersOnlyByDesign) {
  if (!std::filesystem::exists(smollm2_path())) GTEST_SKIP() << smollm2_path() << " is absent";
  auto file = GgufFile::open(smollm2_path());
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto v = read_gguf_vocab(**file);
  ASSERT_TRUE(v.ok()) << v.error().message;
  nlohmann::json vocab = nlohmann::json::object(), added = nlohmann::json::array();
  for (size_t i = 0; i < v->tokens.size(); ++i) {
    vocab[v->tokens[i]] = i;
    if (v->token_types[i] == 3)
      added.push_back({{"id", i}, {"content", v->tokens[i]}, {"special", true}});
  }
  const nlohmann::json j = {
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", v->merges}}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Digits"}, {"individual_digits", true}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"post_processor", {{"type", "ByteLevel"}}},
      {"added_tokens", added},
  };
  auto hf = Tokenizer::from_json_value(j, "SmolLM2 tokenizer.json");
  ASSERT_TRUE(hf.ok()) << hf.error().message;
  const CaseData& ref = reference().cases.at("smollm2");
  const auto& texts = corpus();
  // A code point the two sides classify differently (letter, number or whitespace).
  auto tables_disagree = [](const std::string& s) {
    using namespace tok::llama_flags;
    for (size_t i = 0; i < s.size();) {
      const char32_t cp = tok::next_code_point(s, i);
      const uint16_t f = tok::llama_code_point_flags(cp);
      if (((f & kCategories) == kLetter) != tok::has_class(tok::CharClass::kLetter, cp) ||
          ((f & kCategories) == kNumber) != tok::has_class(tok::CharClass::kNumber, cp) ||
          ((f & kWhitespace) != 0) != tok::has_class(tok::CharClass::kSpace, cp))
        return true;
    }
    return false;
  };
  auto lacks_a_byte = [&](const std::string& s) {
    return std::any_of(s.begin(), s.end(), [&](char c) {
      return (*hf)->token_to_id(tok::byte_to_unicode(static_cast<uint8_t>(c))) < 0;
    });
  };
  size_t same = 0, by_tables = 0, by_bytes = 0, unexplained = 0;
  for (size_t i = 0; i < ref.ids.size(); ++i) {
    if ((*hf)->encode(texts[i], false) == ref.ids[i]) {
      ++same;
    } else if (tables_disagree(texts[i])) {
      ++by_tables;
    } else if (lacks_a_byte(texts[i])) {
      ++by_bytes;
    } else if (++unexplained <= 8) {
      ADD_FAILURE() << "corpus string " << i << " " << show(texts[i]) << "\n  Hugging Face "
                    << show((*hf)->encode(texts[i], false)) << "\n  llama.cpp    "
                    << show(ref.ids[i]);
    }
  }
  EXPECT_EQ(unexplained, 0u);
  std::printf(
      "[ smollm2 ] Hugging Face == llama.cpp on %zu of %zu corpus strings; of the others, "
      "%zu have characters the Unicode tables class differently, %zu bytes the "
      "vocabulary lacks\n",
      same, ref.ids.size(), by_tables, by_bytes);
}

INSTANTIATE_TEST_SUITE_P(Cases, GgufReference,
                         ::testing::Values("smollm2", "smollm2-gpt2", "smollm2-default",
                                           "qwen3-qwen2", "llama3-llama-bpe", "xlmr-en-spm",
                                           "xlmr-ja-spm"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace sglang
