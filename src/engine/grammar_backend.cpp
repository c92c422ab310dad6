#include "engine/grammar_backend.h"

#include <chrono>

#include "sampling/grammar/compiled_grammar.h"
#include "sampling/grammar/json_schema_converter.h"
#include "sampling/grammar/regex_converter.h"
#include "sampling/grammar/structural_tag_converter.h"
#include "util/logging.h"
#include "util/python_repr.h"

namespace sglang {
namespace {

// Compiled grammars kept at most; past it, finished entries are dropped oldest first, so a client
// sending ever new schemas cannot grow the cache without bound.
constexpr size_t kMaxCachedGrammars = 512;

const char* kind_name(GrammarKind k) {
  switch (k) {
    case GrammarKind::kJsonSchema:
      return "json";
    case GrammarKind::kRegex:
      return "regex";
    case GrammarKind::kEbnf:
      return "ebnf";
    case GrammarKind::kStructuralTag:
      return "structural_tag";
  }
  return "";
}

}  // namespace

std::optional<GrammarKey> grammar_key_of(const SamplingParams& p) {
  // SGLang's order in handle_generate_request: json_schema, regex, ebnf, structural_tag.
  if (p.json_schema) return GrammarKey{GrammarKind::kJsonSchema, *p.json_schema};
  if (p.regex) return GrammarKey{GrammarKind::kRegex, *p.regex};
  if (p.ebnf) return GrammarKey{GrammarKind::kEbnf, *p.ebnf};
  if (p.structural_tag && !p.structural_tag->empty()) {
    return GrammarKey{GrammarKind::kStructuralTag, *p.structural_tag};
  }
  return std::nullopt;
}

std::string grammar_key_repr(const GrammarKey& key) {
  return "('" + std::string(kind_name(key.kind)) + "', " + python_str_repr(key.value) + ")";
}

GrammarBackend::GrammarBackend(VocabularyFactory make_vocabulary, GrammarBackendOptions options)
    : make_vocabulary_(std::move(make_vocabulary)), options_(options) {
  worker_ = std::thread([this] { work(); });
}

GrammarBackend::~GrammarBackend() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
  // Requests still waiting on a queued compilation see it fail rather than wait forever.
  for (Job& job : jobs_) {
    job.promise.set_value(make_error(ErrorCode::kInternal, "The server is shutting down."));
  }
}

void GrammarBackend::set_on_ready(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  on_ready_ = std::move(fn);
}

GrammarFuture GrammarBackend::get(const GrammarKey& key) {
  std::lock_guard lock(mu_);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  if (cache_.size() >= kMaxCachedGrammars) {
    for (auto it = cache_.begin(); it != cache_.end() && cache_.size() >= kMaxCachedGrammars;) {
      const bool done = it->second.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
      it = done ? cache_.erase(it) : std::next(it);
    }
  }
  Job job{key, {}};
  GrammarFuture fut = job.promise.get_future().share();
  cache_.emplace(key, fut);
  jobs_.push_back(std::move(job));
  cv_.notify_one();
  return fut;
}

void GrammarBackend::reset() {
  std::lock_guard lock(mu_);
  cache_.clear();
}

Result<CompiledGrammarPtr> GrammarBackend::compile(const GrammarKey& key) const {
  Result<std::string> ebnf = std::string();
  switch (key.kind) {
    case GrammarKind::kJsonSchema: {
      // As SGLang's xgrammar backend: "$$ANY$$" (response_format json_object) is xgrammar's
      // builtin JSON grammar; a schema compiles with any_whitespace from the server flag.
      grammar::JsonSchemaOptions options;
      options.any_whitespace = options_.any_whitespace;
      ebnf = key.value == "$$ANY$$"
                 ? Result<std::string>(grammar::builtin_json_ebnf(options_.any_whitespace))
                 : grammar::json_schema_to_ebnf(key.value, options);
      break;
    }
    case GrammarKind::kRegex:
      ebnf = grammar::regex_to_ebnf(key.value);
      break;
    case GrammarKind::kEbnf:
      ebnf = key.value;
      break;
    case GrammarKind::kStructuralTag:
      ebnf = grammar::structural_tag_to_ebnf(key.value);
      break;
  }
  if (!ebnf.ok()) return ebnf.error();
  return grammar::compile_ebnf(*ebnf, vocab_);
}

void GrammarBackend::work() {
  while (true) {
    Job job;
    std::function<void()> notify;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    const auto start = std::chrono::steady_clock::now();
    Result<CompiledGrammarPtr> result = make_error(ErrorCode::kInternal, "not compiled");
    try {
      if (!vocab_) vocab_ = make_vocabulary_();
      result = compile(job.key);
    } catch (const std::exception& e) {
      // A bug in a compiler must fail this grammar, not the server.
      result =
          make_error(ErrorCode::kInternal, std::string("grammar compilation failed: ") + e.what());
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (result.ok()) {
      SGLANG_LOG_DEBUG("compiled {} grammar in {:.1f} ms", kind_name(job.key.kind), ms);
    } else {
      SGLANG_LOG_WARN("Hit invalid {}: {}", kind_name(job.key.kind), result.error().message);
    }
    job.promise.set_value(std::move(result));
    {
      std::lock_guard lock(mu_);
      notify = on_ready_;
    }
    if (notify) notify();
  }
}

}  // namespace sglang
