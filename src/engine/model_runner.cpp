#include "engine/model_runner.h"

#include <algorithm>
#include <string>
#include <vector>

namespace sglang {

Status ModelRunner::validate(const ForwardBatch& batch, const KvCache& kv) const {
  auto bad = [](const std::string& m) { return make_error(ErrorCode::kInvalidArgument, m); };
  if (batch.seqs.empty() || batch.token_ids.empty()) return bad("empty forward batch");
  const int64_t vocab = model_->config().vocab_size;
  for (int32_t id : batch.token_ids) {
    if (id < 0 || id >= vocab) {
      return bad("token id " + std::to_string(id) + " is out of range for vocab size " +
                 std::to_string(vocab));
    }
  }
  int64_t next_token = 0;
  for (const auto& s : batch.seqs) {
    if (s.num_new_tokens <= 0 || s.first_token != next_token || s.prefix_len < 0 ||
        s.num_pages < 0 || s.page_table_begin < 0) {
      return bad("malformed forward batch sequence");
    }
    next_token += s.num_new_tokens;
    const int64_t total = s.prefix_len + s.num_new_tokens;
    if (s.num_pages * kv.page_size() < total ||
        s.page_table_begin + s.num_pages > static_cast<int64_t>(batch.page_table.size())) {
      return bad("sequence pages do not cover its tokens");
    }
    for (int64_t i = 0; i < s.num_pages; ++i) {
      const int32_t page = batch.page_table[static_cast<size_t>(s.page_table_begin + i)];
      if (page < 0 || page >= kv.num_pages()) {
        return bad("page id " + std::to_string(page) + " out of range");
      }
    }
  }
  if (next_token != batch.num_tokens()) {
    return bad("forward batch tokens do not match its sequences");
  }
  return model_->check_batch(batch);
}

ModelInput ModelRunner::prepare(const ForwardBatch& batch, const KvCache& kv) const {
  Backend& be = model_->backend();
  const int64_t T = batch.num_tokens();
  const int64_t page_size = kv.page_size();
  ModelInput in;
  in.batch = &batch;
  in.num_tokens = T;

  // Per-token and per-sequence metadata, built on the host and uploaded once per forward.
  std::vector<int32_t> positions(static_cast<size_t>(T)), slots(static_cast<size_t>(T));
  std::vector<int32_t> seq_info;
  seq_info.reserve(batch.seqs.size() * 4);
  int64_t max_kv_len = 0;
  for (const auto& s : batch.seqs) {
    const int32_t* pages = batch.page_table.data() + s.page_table_begin;
    for (int64_t j = 0; j < s.num_new_tokens; ++j) {
      const int64_t pos = s.prefix_len + j;
      positions[static_cast<size_t>(s.first_token + j)] = static_cast<int32_t>(pos);
      slots[static_cast<size_t>(s.first_token + j)] =
          static_cast<int32_t>(pages[pos / page_size] * page_size + pos % page_size);
    }
    const int64_t kv_len = s.prefix_len + s.num_new_tokens;
    max_kv_len = std::max(max_kv_len, kv_len);
    seq_info.insert(seq_info.end(),
                    {static_cast<int32_t>(s.first_token), static_cast<int32_t>(s.num_new_tokens),
                     static_cast<int32_t>(kv_len), static_cast<int32_t>(s.page_table_begin)});
    if (s.logits == LogitsMode::kAll) {
      for (int64_t j = 0; j < s.num_new_tokens; ++j)
        in.logit_rows.push_back(static_cast<int32_t>(s.first_token + j));
    } else if (s.logits == LogitsMode::kLast) {
      in.logit_rows.push_back(static_cast<int32_t>(s.first_token + s.num_new_tokens - 1));
    }
  }
  const auto num_seqs = static_cast<int64_t>(batch.seqs.size());
  in.token_ids = be.from_host(batch.token_ids.data(), DType::kI32, {T});
  in.positions = be.from_host(positions.data(), DType::kI32, {T});
  AttentionMetadata& meta = in.attention;
  meta.seq_info = be.from_host(seq_info.data(), DType::kI32, {num_seqs, 4});
  meta.page_table =
      be.from_host(batch.page_table.data(), DType::kI32,
                   {std::max<int64_t>(1, static_cast<int64_t>(batch.page_table.size()))});
  meta.slot_mapping = be.from_host(slots.data(), DType::kI32, {T});
  meta.num_seqs = num_seqs;
  meta.num_tokens = T;
  meta.max_kv_len = max_kv_len;
  meta.page_size = page_size;
  return in;
}

Result<Tensor> ModelRunner::forward(const ForwardBatch& batch, KvCache& kv) {
  SGLANG_RETURN_IF_ERROR(validate(batch, kv));
  const ModelInput in = prepare(batch, kv);
  return model_->forward(in, kv);
}

Result<Tensor> ModelRunner::forward_hidden(const ForwardBatch& batch, KvCache& kv) {
  SGLANG_RETURN_IF_ERROR(validate(batch, kv));
  const ModelInput in = prepare(batch, kv);
  return model_->forward_hidden(in, kv);
}

}  // namespace sglang
