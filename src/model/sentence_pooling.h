#pragma once
// How an encoder embedding model (BertModel, XLMRobertaModel, RobertaModel) turns its final hidden
// states into one sentence vector: the sentence-transformers modules its folder declares
// (modules.json: Transformer → Pooling (1_Pooling/config.json) → optional Normalize), as
// sentence-transformers and vLLM's get_pooling_config read them. Without a modules.json, SGLang's
// own choice for the architecture (python/sglang/srt/models/bert.py: BertModel pools the last
// token; roberta.py: XLMRobertaModel the first; both L2-normalised).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "util/status.h"

namespace sglang {

enum class PoolingType {
  kLast,  // the last token (sentence-transformers "lasttoken", SGLang's PoolingType.LAST)
  kCls,   // the first token ([CLS] / <s>)
  kMean,  // the mean over the sequence's tokens (all of them: one unpadded sequence)
};

struct SentencePooling {
  PoolingType type = PoolingType::kLast;
  bool normalize = true;  // torch.nn.functional.normalize(p=2): x / max(||x||, 1e-12)
  std::string source;     // where it came from ("modules.json", or SGLang's default), for logs
};

// "cls", "mean", "last".
const char* pooling_type_name(PoolingType t);

// The pooling of the model folder `dir`: modules.json and the Pooling module's config.json when
// present (a Pooling mode other than cls / mean / lasttoken, a prompt-excluding pooling, or a
// module that changes the vector (Dense, ...) is an error naming it), else `fallback`.
Result<SentencePooling> read_sentence_pooling(const std::string& dir,
                                              const SentencePooling& fallback);

// One sentence vector per sequence: `hidden` is [num_tokens, width] row-major, sequence i's tokens
// are rows [starts[i], starts[i] + lengths[i]). Mean accumulates in double (SGLang's MEAN: float32
// index_add), then the optional L2 normalisation. Returns [starts.size(), width].
std::vector<float> pool_sentences(const float* hidden, int64_t width,
                                  std::span<const int64_t> starts, std::span<const int64_t> lengths,
                                  const SentencePooling& pooling);

}  // namespace sglang
