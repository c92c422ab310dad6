// Memory read bandwidth with all cores: the ceiling for decode, which streams every weight once per
// step. Sums a 1 GiB float array (far beyond the caches) several times; prints GB/s of the best
// pass.
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  const size_t bytes = (argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1024) << 20;
  const size_t n = bytes / sizeof(float);
  std::vector<float> a(n);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) a[i] = static_cast<float>(i & 7);
  double best = 0, sink = 0;
  for (int pass = 0; pass < 5; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    double total = 0;
    // 16 independent partial sums per thread so the loop is bound by loads, not by add latency.
#pragma omp parallel reduction(+ : total)
    {
      float part[16] = {};
#pragma omp for schedule(static)
      for (size_t i = 0; i < n; i += 16) {
        for (int j = 0; j < 16; ++j) part[j] += a[i + j];
      }
      for (float p : part) total += p;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink += total;
    if (bytes / s > best) best = bytes / s;
  }
  std::printf("{\"read_gb_s\": %.2f, \"threads\": %d, \"checksum\": %.0f}\n", best / 1e9,
              omp_get_max_threads(), sink);
  return 0;
}
