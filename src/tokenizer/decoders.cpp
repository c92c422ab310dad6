// Decoders of tokenizer.json: ByteLevel, WordPiece, Metaspace, ByteFallback, Fuse, Strip, Replace,
// Sequence. Each works token by token (HF's decode_chain) except where it says otherwise.
#include <nlohmann/json.hpp>

#include "tokenizer/components.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace sglang::tok {

Result<std::shared_ptr<const Regex>> compile_pattern(const nlohmann::json& p);  // normalizers.cpp

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

// SentencePiece byte pieces "<0xXX>" become bytes. A run of consecutive byte pieces becomes its
// text when the bytes are valid UTF-8, else one U+FFFD per byte (HF's ByteFallback: not per
// maximal invalid subsequence). Other tokens pass through.
class ByteFallbackDecoder final : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    std::string run;
    size_t run_bytes = 0;
    auto flush = [&] {
      if (run_bytes == 0) return;
      if (is_valid_utf8(run)) {
        out.push_back(run);
      } else {
        for (size_t k = 0; k < run_bytes; ++k) out.emplace_back("\xef\xbf\xbd");
      }
      run.clear();
      run_bytes = 0;
    };
    for (auto& t : tokens) {
      const int byte = parse_byte(t);
      if (byte >= 0) {
        run.push_back(static_cast<char>(byte));
        ++run_bytes;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    return out;
  }

 private:
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  // "<0xXX>" -> XX; -1 otherwise. Like Rust's u8::from_str_radix(.., 16), which HF uses, either
  // case is accepted and so is a '+' before a single digit.
  static int parse_byte(const std::string& t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
    if (t[3] == '+') return hex(t[4]);
    const int hi = hex(t[3]), lo = hex(t[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
  }
};

// All tokens into one.
class FuseDecoder final : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    return {std::move(all)};
  }
};

// Removes up to `start` leading and `stop` trailing `content` characters from each token.
class StripDecoder final : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop)
      : content_(content), start_(start), stop_(stop) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (auto& t : tokens) {
      std::vector<size_t> bounds;  // byte offset of each character, plus the end
      std::vector<char32_t> chars;
      for (size_t i = 0; i < t.size();) {
        bounds.push_back(i);
        chars.push_back(next_code_point(t, i));
      }
      bounds.push_back(t.size());
      size_t begin = 0, end = chars.size();
      while (begin < start_ && begin < chars.size() && chars[begin] == content_) ++begin;
      // (HF panics when a token is shorter than `stop` or the cuts cross; here they just meet.)
      for (size_t k = 0; k < stop_ && end > begin && chars[end - 1] == content_; ++k) --end;
      t = t.substr(bounds[begin], bounds[end] - bounds[begin]);
    }
    return tokens;
  }

 private:
  char32_t content_;
  size_t start_, stop_;
};

// Every match of the pattern (literal or regex) in each token becomes `content`.
class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(std::shared_ptr<const Regex> re, std::string content)
      : re_(std::move(re)), content_(std::move(content)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (auto& t : tokens) {
      std::string out;
      size_t last = 0;
      for (auto [b, e] : re_->find_all(t)) {
        out.append(t, last, b - last);
        out += content_;
        last = e;
      }
      out.append(t, last, std::string::npos);
      t = std::move(out);
    }
    return tokens;
  }

 private:
  std::shared_ptr<const Regex> re_;
  std::string content_;
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
  if (type == "ByteFallback") return std::unique_ptr<Decoder>(new ByteFallbackDecoder());
  if (type == "Fuse") return std::unique_ptr<Decoder>(new FuseDecoder());
  if (type == "Strip") {
    const std::string content = j.value("content", " ");
    size_t i = 0;
    if (content.empty() || !is_valid_utf8(content) ||
        (next_code_point(content, i), i) != content.size())
      return make_error(ErrorCode::kCorrupt, "Strip decoder content must be one character");
    i = 0;
    return std::unique_ptr<Decoder>(new StripDecoder(
        next_code_point(content, i), j.value("start", size_t{0}), j.value("stop", size_t{0})));
  }
  if (type == "Replace") {
    SGLANG_ASSIGN_OR_RETURN(auto re, compile_pattern(j.value("pattern", json())));
    return std::unique_ptr<Decoder>(new ReplaceDecoder(std::move(re), j.value("content", "")));
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
