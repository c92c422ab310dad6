#pragma once
// The input of one model forward: a batch of sequences, each adding some new tokens after a prefix
// already in the KV cache. A prefill is many new tokens (prefix 0, or a cached/earlier-chunk
// prefix); a decode is one. Sequences of both kinds mix freely in one batch, as SGLang's
// ForwardBatch in mixed-chunk mode. Host-side; the model uploads what the backend needs once per
// forward.
#include <cstdint>
#include <span>
#include <vector>

namespace sglang {

enum class LogitsMode : uint8_t {
  kNone,  // no logits (a prefill chunk that is not the last)
  kLast,  // the last new token's logits (next-token sampling)
  kAll,   // every new token's logits (input logprobs)
};

struct ForwardSequence {
  int64_t prefix_len = 0;  // tokens of this sequence already in the KV cache
  int64_t num_new_tokens = 0;
  int64_t first_token = 0;       // index of its first new token in ForwardBatch::token_ids
  int64_t page_table_begin = 0;  // its pages are page_table[begin, begin + num_pages)
  int64_t num_pages = 0;
  LogitsMode logits = LogitsMode::kLast;
};

struct ForwardBatch {
  std::vector<int32_t> token_ids;
  // Segment of each token (BERT-style token_type_ids, e.g. 0 for a query and 1 for its document),
  // parallel to token_ids; empty: all 0. Only encoders read it.
  std::vector<int32_t> token_type_ids;
  std::vector<ForwardSequence> seqs;
  std::vector<int32_t> page_table;

  // `pages` must cover prefix_len + new_tokens.size() tokens.
  void add(std::span<const int32_t> new_tokens, int64_t prefix_len, std::span<const int32_t> pages,
           LogitsMode logits = LogitsMode::kLast) {
    ForwardSequence s;
    s.prefix_len = prefix_len;
    s.num_new_tokens = static_cast<int64_t>(new_tokens.size());
    s.first_token = static_cast<int64_t>(token_ids.size());
    s.page_table_begin = static_cast<int64_t>(page_table.size());
    s.num_pages = static_cast<int64_t>(pages.size());
    s.logits = logits;
    token_ids.insert(token_ids.end(), new_tokens.begin(), new_tokens.end());
    page_table.insert(page_table.end(), pages.begin(), pages.end());
    seqs.push_back(s);
  }

  int64_t num_tokens() const { return static_cast<int64_t>(token_ids.size()); }
  // Rows of the logits the forward returns, in sequence order.
  int64_t num_logit_rows() const {
    int64_t n = 0;
    for (const auto& s : seqs) {
      n +=
          s.logits == LogitsMode::kAll ? s.num_new_tokens : (s.logits == LogitsMode::kLast ? 1 : 0);
    }
    return n;
  }
};

}  // namespace sglang
