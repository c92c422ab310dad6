// Decoders of tokenizer.json. Implemented: ByteLevel, Sequence. (Metaspace, WordPiece,
// ByteFallback, Fuse, Strip and Replace come with the other models.)
#include <nlohmann/json.hpp>

#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace sglang::tok {
namespace {

using nlohmann::json;

class ByteLevelDecoder final : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    // Tokens whose every character stands for a byte become those bytes; any other token (an added
    // token such as "<|im_start|>") is kept as its own UTF-8. Invalid UTF-8 becomes U+FFFD.
    std::string bytes;
    for (const auto& t : tokens) {
      std::string mapped;
      bool all = true;
      for (size_t i = 0; i < t.size() && all;) {
        const int b = unicode_to_byte(next_code_point(t, i));
        if (b < 0) {
          all = false;
        } else {
          mapped.push_back(static_cast<char>(b));
        }
      }
      bytes += all ? mapped : t;
    }
    return {utf8_lossy(bytes)};
  }
};

// "##" pieces join the previous token, others are preceded by a space; with cleanup, the spaces
// BERT puts before punctuation and contractions are removed (per token, as HF does).
class WordPieceDecoder final : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup)
      : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      if (i > 0) {
        if (t.rfind(prefix_, 0) == 0) {
          t.erase(0, prefix_.size());
        } else {
          t.insert(t.begin(), ' ');
        }
      }
      if (cleanup_) t = clean_up(t);
    }
    return tokens;
  }

  static std::string clean_up(std::string s) {
    static const std::pair<const char*, const char*> kRules[] = {
        {" .", "."},   {" ?", "?"},     {" !", "!"},    {" ,", ","},
        {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},  {" do not", " don't"},
        {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (const auto& [from, to] : kRules) {
      const std::string f = from, t = to;
      for (size_t pos = 0; (pos = s.find(f, pos)) != std::string::npos; pos += t.size())
        s.replace(pos, f.size(), t);
    }
    return s;
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

// U+2581 back to spaces; the first token loses its leading space (unless prepend_scheme is never).
class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(std::string rep, bool strip_first)
      : rep_(std::move(rep)), strip_first_(strip_first) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      std::string out;
      for (size_t pos = 0; pos < t.size();) {
        if (t.compare(pos, rep_.size(), rep_) == 0) {
          out.push_back(' ');
          pos += rep_.size();
        } else {
          out.push_back(t[pos++]);
        }
      }
      if (i == 0 && strip_first_ && !out.empty() && out[0] == ' ') out.erase(0, 1);
      t = std::move(out);
    }
    return tokens;
  }

 private:
  std::string rep_;
  bool strip_first_;
};

class DecoderSequence final : public Decoder {
 public:
  explicit DecoderSequence(std::vector<std::unique_ptr<Decoder>> s) : steps_(std::move(s)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (const auto& s : steps_) tokens = s->decode_chain(std::move(tokens));
    return tokens;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

}  // namespace

Result<std::unique_ptr<Decoder>> make_decoder(const json& j) {
  const std::string type = j.value("type", "");
  if (type == "ByteLevel") return std::unique_ptr<Decoder>(new ByteLevelDecoder());
  if (type == "Metaspace") {
    std::string scheme = j.value("prepend_scheme", "");
    if (scheme.empty()) scheme = j.value("add_prefix_space", true) ? "always" : "never";
    return std::unique_ptr<Decoder>(
        new MetaspaceDecoder(j.value("replacement", "\u2581"), scheme != "never"));
  }
  if (type == "WordPiece") {
    return std::unique_ptr<Decoder>(
        new WordPieceDecoder(j.value("prefix", "##"), j.value("cleanup", true)));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> steps;
    for (const auto& s : j.value("decoders", json::array())) {
      SGLANG_ASSIGN_OR_RETURN(auto d, make_decoder(s));
      steps.push_back(std::move(d));
    }
    return std::unique_ptr<Decoder>(new DecoderSequence(std::move(steps)));
  }
  return make_error(ErrorCode::kUnsupported, "unsupported decoder type '" + type + "'");
}

}  // namespace sglang::tok
