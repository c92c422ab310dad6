#pragma once
// A one-line progress bar on stderr for start-up work (loading weights), as SGLang's tqdm bars:
// redrawn in place while stderr is a terminal, a single final line otherwise (logs, CI).
#include <chrono>
#include <cstddef>
#include <string>

namespace sglang {

class ProgressBar {
 public:
  // `unit` names what is counted ("tensors").
  ProgressBar(std::string label, std::string unit);
  // Shows `done` of `total`; redraws at most ~10 times a second, and always at the end.
  void update(size_t done, size_t total);
  // Ends the line (draws the final state once if nothing was drawn).
  void finish();

 private:
  // The line for a state, e.g. "Loading weights: 50% |#####     | 136/272 tensors [0.4 s]".
  std::string render(size_t done, size_t total, double seconds) const;

  std::string label_, unit_;
  bool tty_;
  bool finished_ = false;
  size_t total_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace sglang
