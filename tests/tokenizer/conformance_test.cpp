// Our tokenizer against Hugging Face `tokenizers` on the reference corpus (tests/tokenizer/:
// curated multilingual text plus 20 000 seeded random strings), produced at test time by
// make_reference.py with the pinned package: encode with and without special tokens, decode with
// and without skipping special tokens, and the incremental detokenizer's stream. 100 % identical or
// the test fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "test_support.h"
#include "tokenizer/incremental_detokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace sglang {
namespace {

struct Case {
  std::string name;   // reference file stem
  std::string asset;  // folder under the assets
};

std::string reference_dir() {
  const char* dir = std::getenv("SGLANG_TOKENIZER_REF_DIR");
  return dir ? dir : SGLANG_TOKENIZER_REF_DIR;
}

class Conformance : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    auto t = Tokenizer::from_file(testing::asset_path(GetParam().asset + "/tokenizer.json"));
    ASSERT_TRUE(t.ok()) << t.error().message;
    tokenizer_ = std::move(*t);
    std::ifstream in(reference_dir() + "/" + GetParam().name + ".jsonl");
    ASSERT_TRUE(in) << "no reference " << reference_dir() << "/" << GetParam().name << ".jsonl";
    std::string line;
    while (std::getline(in, line)) lines_.push_back(nlohmann::json::parse(line));
    ASSERT_GT(lines_.size(), 20000u);
  }
  std::unique_ptr<Tokenizer> tokenizer_;
  std::vector<nlohmann::json> lines_;
};

TEST_P(Conformance, EncodeAndDecodeEqualTokenizers) {
  size_t bad = 0, shown = 0;
  for (const auto& l : lines_) {
    const std::string text = l["text"].get<std::string>();
    const auto ids = tokenizer_->encode(text, true);
    const auto ids_ns = tokenizer_->encode(text, false);
    const auto want = l["ids"].get<std::vector<int32_t>>();
    const auto want_ns = l["ids_nospecial"].get<std::vector<int32_t>>();
    const std::string dec = tokenizer_->decode(want, false),
                      dec_skip = tokenizer_->decode(want, true);
    const bool ok = ids == want && ids_ns == want_ns && dec == l["decoded"].get<std::string>() &&
                    dec_skip == l["decoded_skip"].get<std::string>();
    if (!ok) {
      ++bad;
      if (shown++ < 5) {
        ADD_FAILURE() << "text " << l["text"].dump() << "\n ours  " << nlohmann::json(ids).dump()
                      << "\n theirs " << l["ids"].dump() << "\n decoded ours "
                      << nlohmann::json(dec).dump() << " theirs " << l["decoded"].dump();
      }
    }
  }
  EXPECT_EQ(bad, 0u) << "of " << lines_.size() << " strings";
}

TEST_P(Conformance, IncrementalDetokenizerStreamsTheFullDecode) {
  size_t bad = 0;
  for (const auto& l : lines_) {
    const auto ids = l["ids"].get<std::vector<int32_t>>();
    for (bool skip : {false, true}) {
      IncrementalDetokenizer detok(*tokenizer_, skip);
      std::string stream;
      bool valid = true;
      for (int32_t id : ids) {
        const std::string piece = detok.push(std::span<const int32_t>(&id, 1));
        valid = valid && tok::is_valid_utf8(piece);
        stream += piece;
      }
      stream += detok.finish();
      if (!valid || stream != tokenizer_->decode(ids, skip)) {
        if (bad++ < 5)
          ADD_FAILURE() << "stream differs for " << l["text"].dump() << " skip=" << skip;
      }
    }
  }
  EXPECT_EQ(bad, 0u);
}

TEST_P(Conformance, PairsEqualTokenizers) {
  // Text pairs (cross-encoder input) where the reference has them: ids and segment ids.
  std::ifstream in(reference_dir() + "/" + GetParam().name + ".pairs.jsonl");
  if (!in)
    GTEST_SKIP() << "the reference has no pairs for " << GetParam().name
                 << " (decoder-only tokenizer)";
  size_t n = 0, bad = 0;
  for (std::string line; std::getline(in, line); ++n) {
    const auto l = nlohmann::json::parse(line);
    std::vector<int32_t> types;
    const auto ids =
        tokenizer_->encode_pair(l["a"].get<std::string>(), l["b"].get<std::string>(), true, &types);
    if (ids != l["ids"].get<std::vector<int32_t>>() ||
        types != l["type_ids"].get<std::vector<int32_t>>()) {
      if (bad++ < 3) ADD_FAILURE() << "pair " << l["a"].dump() << " / " << l["b"].dump();
    }
  }
  EXPECT_EQ(n, 500u);
  EXPECT_EQ(bad, 0u);
}

TEST_P(Conformance, ConcurrentEncodeIsThreadSafe) {
  // Four threads encode interleaved shares of the corpus at once (the server tokenizes in many
  // threads); every result must still equal the reference.
  std::atomic<size_t> bad{0};
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < lines_.size(); i += 4) {
        const auto& l = lines_[i];
        if (tokenizer_->encode(l["text"].get<std::string>(), true) !=
            l["ids"].get<std::vector<int32_t>>())
          ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, Conformance,
                         ::testing::Values(Case{"qwen3", "qwen3-tokenizer"},
                                           Case{"llama3", "llama3-tokenizer"},
                                           Case{"minilm", "minilm-l6-v2"},
                                           Case{"xlmr-unigram-en", "xlmr-format-unigram-en"},
                                           Case{"xlmr-unigram-ja", "xlmr-format-unigram-ja"}),
                         [](const auto& param_info) {
                           std::string n = param_info.param.name;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace sglang
