#pragma once
// A compiled PCRE2 pattern with Python `re` semantics for the patterns SGLang's detectors use
// (UTF, Unicode \w \s, and DOTALL where they pass re.DOTALL). The tokenizer has its own regex
// wrapper, but chat/ may not depend on tokenizer/.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sglang::chat {

class Pattern {
 public:
  // A pattern written in this repository: compiling it cannot fail at run time, so a failure
  // aborts (the tests compile every pattern).
  explicit Pattern(std::string_view pattern, bool dotall = true);
  ~Pattern();
  Pattern(const Pattern&) = delete;
  Pattern& operator=(const Pattern&) = delete;

  // re.search from byte `start`: the groups' [begin, end) byte ranges, group 0 the whole match;
  // an unset group is npos, npos. The subject must be valid UTF-8.
  using Groups = std::vector<std::pair<size_t, size_t>>;
  std::optional<Groups> search(std::string_view subject, size_t start = 0) const;
  // re.findall's group-0 (or group-1 when the pattern has one) texts, left to right.
  std::vector<std::string_view> find_all(std::string_view subject) const;

 private:
  struct Code;
  std::unique_ptr<Code> code_;
};

}  // namespace sglang::chat
