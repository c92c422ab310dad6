// Chat-template parse and render time of our Jinja engine (ChatTemplate::parse / render), the
// C++ half of bench/chat_template.sh; bench/chat_template_jinja2.py times Python jinja2 the same
// way on the same files. Reads a template source and a context (the template's variables as one
// JSON object), writes the rendered text to --output (the script compares it with jinja2's) and
// prints one JSON line: per-call microseconds, median and minimum over --repeats timed loops.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "chat/chat_template.h"

using namespace sglang;

namespace {

// 2024-07-26 12:34:56 UTC, the instant tests/chat/make_template_reference.py renders strftime_now
// with, so both engines print the same date.
constexpr std::time_t kNow = 1721997296;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Calls `fn` in loops of n, n chosen so one loop lasts about `loop_s` (at least one call), and
// returns per-call microseconds of each of `repeats` loops, sorted. The same procedure as
// chat_template_jinja2.py's timed().
std::vector<double> timed(const std::function<void()>& fn, int repeats, double loop_s) {
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  fn();  // warm-up, and a first estimate of one call
  const double once = std::chrono::duration<double>(Clock::now() - t0).count();
  const int n = std::max(1, static_cast<int>(loop_s / std::max(once, 1e-9)));
  std::vector<double> us;
  for (int r = 0; r < repeats; ++r) {
    t0 = Clock::now();
    for (int i = 0; i < n; ++i) fn();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / n);
  }
  std::sort(us.begin(), us.end());
  return us;
}

nlohmann::json summary(const std::vector<double>& us) {
  return {{"median_us", us[us.size() / 2]}, {"min_us", us.front()}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sglang.cpp chat-template benchmark"};
  std::string template_path, context_path, output_path;
  int repeats = 7;
  double loop_s = 0.3;
  app.add_option("--template", template_path, "Jinja source file")->required();
  app.add_option("--context", context_path, "the template's variables, one JSON object")
      ->required();
  app.add_option("--output", output_path, "where to write the rendered text")->required();
  app.add_option("--repeats", repeats);
  app.add_option("--loop-seconds", loop_s);
  CLI11_PARSE(app, argc, argv);

  chat::set_clock_for_testing(kNow);
  const std::string source = read_file(template_path);
  const auto context = nlohmann::ordered_json::parse(read_file(context_path));
  auto parsed = chat::ChatTemplate::parse(source);
  if (!parsed.ok()) {
    std::fprintf(stderr, "parse: %s\n", parsed.error().message.c_str());
    return 1;
  }
  auto rendered = parsed->render(context);
  if (!rendered.ok()) {
    std::fprintf(stderr, "render: %s\n", rendered.error().message.c_str());
    return 1;
  }
  std::ofstream(output_path, std::ios::binary) << *rendered;

  // A failure inside the loops cannot happen after the calls above succeeded on the same input
  // (the engine is deterministic); the results are still consumed so nothing is optimized away.
  size_t sink = 0;
  const auto parse_us = timed(
      [&] {
        auto t = chat::ChatTemplate::parse(source);
        sink += t.ok() ? t->source().size() : 0;
      },
      repeats, loop_s);
  const auto render_us = timed(
      [&] {
        auto r = parsed->render(context);
        sink += r.ok() ? r->size() : 0;
      },
      repeats, loop_s);
  nlohmann::json out = {{"engine", "sglang.cpp"},
                        {"output_bytes", rendered->size()},
                        {"parse", summary(parse_us)},
                        {"render", summary(render_us)},
                        {"sink", sink}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
