// The worker pool of the CPU kernels (kernels/cpu/thread_pool.h): every index runs exactly once
// whatever the team size and grain, nested and concurrent callers run inline and finish, and the
// quantized matvec it splits gives the same bits on any number of threads.
#include "kernels/cpu/thread_pool.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "util/half.h"

namespace sglang {
namespace {

// Restores the calling thread's OpenMP team size (the pool's) when a test changes it.
class TeamSize {
 public:
  explicit TeamSize(int n) : saved_(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~TeamSize() { omp_set_num_threads(saved_); }
  TeamSize(const TeamSize&) = delete;
  TeamSize& operator=(const TeamSize&) = delete;

 private:
  int saved_;
};

TEST(ThreadPoolTest, RunsEveryIndexOnce) {
  for (int threads : {1, 2, 4}) {
    TeamSize team(threads);
    for (const auto& [n, grain] : std::vector<std::pair<int64_t, int64_t>>{
             {1, 1}, {7, 3}, {1000, 1}, {100000, 7}, {5, 100}, {20000, 1}}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      for (int rep = 0; rep < 3; ++rep) {
        cpu::parallel_for(n, grain, [&](int64_t begin, int64_t end) {
          EXPECT_LT(begin, end);
          for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
        });
      }
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 3)
            << "threads " << threads << " n " << n << " grain " << grain << " index " << i;
      }
    }
  }
}

TEST(ThreadPoolTest, NestedCallsRunInline) {
  TeamSize team(2);
  std::atomic<int64_t> sum{0};
  cpu::parallel_for(8, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      cpu::parallel_for(100, 10, [&](int64_t b, int64_t e) {
        for (int64_t j = b; j < e; ++j) sum.fetch_add(j);
      });
    }
  });
  EXPECT_EQ(sum.load(), 8 * 4950);
}

TEST(ThreadPoolTest, ConcurrentCallersBothFinish) {
  // Two threads at once: each gets a pool of its own (data-parallel replicas do this).
  std::vector<int64_t> totals(2);
  std::vector<std::thread> callers;
  for (int c = 0; c < 2; ++c) {
    callers.emplace_back([&totals, c] {
      omp_set_num_threads(2);
      int64_t total = 0;
      for (int rep = 0; rep < 200; ++rep) {
        std::vector<int64_t> part(64);
        cpu::parallel_for(64, 4, [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) part[static_cast<size_t>(i)] = i;
        });
        for (int64_t v : part) total += v;
      }
      totals[static_cast<size_t>(c)] = total;
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(totals[0], 200 * 2016);
  EXPECT_EQ(totals[1], 200 * 2016);
}

// Q4_1 blocks (the default model's): random nibbles, moderate f16 scales and minimums.
std::vector<uint8_t> random_q4_1(int64_t n, int64_t k, std::mt19937& rng) {
  std::vector<uint8_t> bytes(dtype_row_bytes(DType::kQ4_1, k) * static_cast<size_t>(n));
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> scale(0.001f, 0.02f), minimum(-0.1f, 0.0f);
  for (size_t off = 0; off < bytes.size(); off += dtype_block_bytes(DType::kQ4_1)) {
    const uint16_t d = f32_to_f16(scale(rng)), m = f32_to_f16(minimum(rng));
    std::memcpy(&bytes[off], &d, 2);
    std::memcpy(&bytes[off + 2], &m, 2);
  }
  return bytes;
}

TEST(ThreadPoolTest, QuantizedLinearIsTheSameOnAnyTeam) {
  const TeamSize team(omp_get_max_threads());  // the backends below set it
  std::mt19937 rng(5);
  const int64_t n = 3072, k = 576;  // SmolLM2-135M's gate_up
  const auto bytes = random_q4_1(n, k, rng);
  const HostTensor w{DType::kQ4_1, {n, k}, bytes.data()};
  std::vector<float> x(static_cast<size_t>(5 * k));
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (auto& v : x) v = dist(rng);
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2, 3}) {
    CpuBackend be(threads);
    be.bind_calling_thread();
    const Tensor weight = be.load_matmul_weight({w});
    for (int64_t tokens : {1, 5}) {
      const Tensor out = be.empty(DType::kF32, {tokens, n});
      be.linear(be.from_host(x.data(), DType::kF32, {tokens, k}), weight, nullptr, out);
      results.emplace_back(static_cast<size_t>(tokens * n));
      be.copy_to_host(out, results.back().data());
    }
  }
  for (size_t i = 2; i < results.size(); ++i) {
    EXPECT_EQ(std::memcmp(results[i].data(), results[i % 2].data(), results[i].size() * 4), 0)
        << "result " << i;
  }
}

}  // namespace
}  // namespace sglang
