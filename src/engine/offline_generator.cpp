#include "engine/offline_generator.h"

#include <algorithm>

#include "engine/model_runner.h"

namespace sglang {

int32_t argmax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<int32_t>(best);
}

Result<std::vector<std::vector<int32_t>>> generate_greedy(
    CausalLM& model, KvCache& kv, PagePool& pool, const std::vector<std::vector<int32_t>>& prompts,
    const GreedyOptions& opt) {
  const ModelConfig& cfg = model.config();
  ModelRunner runner(model);
  const int64_t vocab = cfg.vocab_size;
  struct Seq {
    std::vector<int32_t> tokens;  // prompt + generated
    std::vector<int32_t> pages;
    int64_t cached = 0;  // tokens whose K/V are in the cache
    std::vector<int32_t> output;
    bool done = false;
  };
  std::vector<Seq> seqs(prompts.size());
  auto release = [&] {
    for (auto& s : seqs) {
      pool.free(s.pages);
      s.pages.clear();
    }
  };
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty()) return make_error(ErrorCode::kInvalidArgument, "empty prompt");
    seqs[i].tokens = prompts[i];
    const int64_t needed =
        pool.pages_for(static_cast<int64_t>(prompts[i].size()) + opt.max_new_tokens);
    auto pages = pool.allocate(needed);
    if (!pages) {
      release();
      return make_error(ErrorCode::kResourceExhausted, "KV cache too small for the prompts");
    }
    seqs[i].pages = std::move(*pages);
  }
  std::vector<float> logits;
  while (true) {
    // One step: every unfinished sequence contributes its uncached tokens (a chunk of its prompt
    // while prefilling, one token while decoding).
    ForwardBatch batch;
    std::vector<size_t> producing;  // sequences whose last-token logits this step yields
    for (size_t i = 0; i < seqs.size(); ++i) {
      Seq& s = seqs[i];
      if (s.done) continue;
      int64_t n = static_cast<int64_t>(s.tokens.size()) - s.cached;
      const bool chunked = opt.prefill_chunk > 0 && n > opt.prefill_chunk;
      if (chunked) n = opt.prefill_chunk;
      batch.add(std::span<const int32_t>(s.tokens).subspan(static_cast<size_t>(s.cached),
                                                           static_cast<size_t>(n)),
                s.cached, s.pages, chunked ? LogitsMode::kNone : LogitsMode::kLast);
      s.cached += n;
      if (!chunked) producing.push_back(i);
    }
    if (batch.seqs.empty()) break;
    auto out = runner.forward(batch, kv);
    if (!out.ok()) {
      release();
      return out.error();
    }
    logits.resize(static_cast<size_t>(out->numel()));
    // Logits come back to the host once per step, whatever the backend.
    model.backend().copy_to_host(*out, logits.data());
    for (size_t r = 0; r < producing.size(); ++r) {
      Seq& s = seqs[producing[r]];
      const int32_t next = argmax(logits.data() + r * static_cast<size_t>(vocab), vocab);
      s.output.push_back(next);
      s.tokens.push_back(next);
      const bool eos =
          opt.stop_at_eos && std::find(cfg.eos_token_ids.begin(), cfg.eos_token_ids.end(),
                                       static_cast<int64_t>(next)) != cfg.eos_token_ids.end();
      if (eos || static_cast<int64_t>(s.output.size()) >= opt.max_new_tokens) s.done = true;
    }
  }
  release();
  std::vector<std::vector<int32_t>> outputs;
  for (auto& s : seqs) outputs.push_back(std::move(s.output));
  return outputs;
}

}  // namespace sglang
