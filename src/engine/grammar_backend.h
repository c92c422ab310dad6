#pragma once
// Compiles the grammars of constrained requests off the scheduler thread, once per distinct
// grammar, as SGLang's BaseGrammarBackend (srt/constrained/base_grammar_backend.py) with its
// xgrammar dispatch (xgrammar_backend.py): a request's key is (kind, string) — json_schema, regex,
// ebnf or structural_tag; "$$ANY$$" as a json_schema is any JSON value (response_format json_object
// in SGLang's builtin-grammar path). The scheduler keeps such a request in its grammar queue until
// the key's compilation is done (SGLang's grammar_queue), then gives it a GrammarMatcher of its
// own. Compiled grammars (and failures, SGLang's INVALID_GRAMMAR_OBJ) stay cached until
// flush_cache.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "sampling/grammar/grammar_matcher.h"
#include "sampling/grammar/vocabulary.h"
#include "sampling/sampling_params.h"
#include "util/status.h"

namespace sglang {

enum class GrammarKind { kJsonSchema, kRegex, kEbnf, kStructuralTag };

struct GrammarKey {
  GrammarKind kind = GrammarKind::kJsonSchema;
  std::string value;
  auto operator<=>(const GrammarKey&) const = default;
};

// The request's constraint, if it has one (verify() has checked there is at most one).
std::optional<GrammarKey> grammar_key_of(const SamplingParams& params);
// SGLang's key repr in its messages: ('json', '{...}') with Python's string repr.
std::string grammar_key_repr(const GrammarKey& key);

struct GrammarBackendOptions {
  // SGLang: any_whitespace = not --constrained-json-disable-any-whitespace.
  bool any_whitespace = true;
};

using CompiledGrammarPtr = std::shared_ptr<const grammar::CompiledGrammar>;
using GrammarFuture = std::shared_future<Result<CompiledGrammarPtr>>;

class GrammarBackend {
 public:
  // `make_vocabulary` runs on the worker thread before the first compilation, so that building the
  // vocabulary's byte strings and trie does not delay the server's start.
  using VocabularyFactory = std::function<std::shared_ptr<const grammar::Vocabulary>()>;
  GrammarBackend(VocabularyFactory make_vocabulary, GrammarBackendOptions options);
  ~GrammarBackend();
  GrammarBackend(const GrammarBackend&) = delete;
  GrammarBackend& operator=(const GrammarBackend&) = delete;

  // The key's compilation: cached (ready or in progress) or queued now. Thread-safe.
  GrammarFuture get(const GrammarKey& key);
  // Called on the worker thread after each compilation (the scheduler wakes up to admit).
  void set_on_ready(std::function<void()> fn);
  // SGLang's reset() on flush_cache: forgets every compiled grammar.
  void reset();

 private:
  struct Job {
    GrammarKey key;
    std::promise<Result<CompiledGrammarPtr>> promise;
  };
  Result<CompiledGrammarPtr> compile(const GrammarKey& key) const;
  void work();

  VocabularyFactory make_vocabulary_;
  std::shared_ptr<const grammar::Vocabulary> vocab_;  // the worker's, once built
  GrammarBackendOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<GrammarKey, GrammarFuture> cache_;
  std::deque<Job> jobs_;
  std::function<void()> on_ready_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace sglang
