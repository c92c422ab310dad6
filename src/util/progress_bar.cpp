#include "util/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace sglang {

ProgressBar::ProgressBar(std::string label, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      tty_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

std::string ProgressBar::render(size_t done, size_t total, double seconds) const {
  constexpr size_t kWidth = 20;
  const size_t shown = std::min(done, total);
  const size_t filled = total == 0 ? kWidth : shown * kWidth / total;
  const size_t percent = total == 0 ? 100 : shown * 100 / total;
  char tail[96];
  std::snprintf(tail, sizeof(tail), "| %zu/%zu %s [%.1f s]", shown, total, unit_.c_str(), seconds);
  return label_ + ": " + std::to_string(percent) + "% |" + std::string(filled, '#') +
         std::string(kWidth - filled, ' ') + tail;
}

void ProgressBar::update(size_t done, size_t total) {
  total_ = total;
  if (!tty_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double s = std::chrono::duration<double>(now - start_).count();
  std::fprintf(stderr, "\r%s", render(done, total, s).c_str());
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  // The count a model reads may stop short of the file's total (tied or unused tensors).
  std::fprintf(stderr, "%s%s\n", tty_ ? "\r" : "", render(total_, total_, s).c_str());
  std::fflush(stderr);
}

}  // namespace sglang
