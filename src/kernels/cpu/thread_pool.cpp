#include "kernels/cpu/thread_pool.h"

#include <omp.h>
#include <strings.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace sglang::cpu {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// How long an idle worker spins for the next job before it sleeps. A decode step's jobs are a few
// microseconds apart (the serial norms and quantizations between matvecs); between steps the
// server samples and streams, and a sleeping worker is woken then (the caller does not wait for
// it: it starts on the chunks itself).
// Under OMP_WAIT_POLICY=passive (as the tests run) they sleep at once, as OpenMP's would.
constexpr auto kSpin = std::chrono::microseconds(100);

std::chrono::microseconds spin_time() {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  return policy != nullptr && strcasecmp(policy, "passive") == 0 ? std::chrono::microseconds(0)
                                                                 : kSpin;
}
// The most chunks one job may have (the claim word's field width).
constexpr int64_t kMaxChunks = 4095;
// Callers that can each have a team at the same time (beyond, a caller runs its loop alone).
constexpr int kSlots = 8;

// The claim word: epoch (32 bits) | helpers allowed (8) | chunks (12) | next unclaimed chunk (12).
// Claiming is one compare-and-swap on it, so a worker that wakes late, with an old epoch in hand,
// can never claim a chunk of a newer job.
constexpr uint64_t pack(uint32_t epoch, uint64_t helpers, uint64_t chunks, uint64_t next) {
  return uint64_t{epoch} << 32 | helpers << 24 | chunks << 12 | next;
}

class WorkerPool {
 public:
  // Never destroyed: the workers sleep on a futex until the process exits (joining them at exit
  // would hang in a forked child, which has none of them). One pool per concurrent caller, so
  // data-parallel replicas (one scheduler thread each) do not share one team.
  static WorkerPool* slots() {
    static WorkerPool* const pools = new WorkerPool[kSlots];
    return pools;
  }
  static bool in_chunk() { return in_chunk_; }

  // Runs the job here if this pool is free, else returns false at once.
  bool try_run(int threads, int64_t n, int64_t grain, ChunkFn fn, void* ctx) {
    bool idle = false;
    if (!busy_.compare_exchange_strong(idle, true, std::memory_order_acquire)) return false;
    const int64_t chunks = (n + grain - 1) / grain;
    // Enough chunks for the claim word; then each range is whole grains.
    if (chunks > kMaxChunks) grain = (n + kMaxChunks - 1) / kMaxChunks;
    const int64_t nchunks = (n + grain - 1) / grain;
    const int helpers = std::min(threads - 1, 255);
    ensure_workers(helpers);
    // No chunk of the previous job can be claimed any more and all have finished (done_ reached
    // their count): the job fields are ours to write.
    job_ = {fn, ctx, n, grain};
    done_.store(0, std::memory_order_relaxed);
    const uint32_t epoch = epoch_.load(std::memory_order_relaxed) + 1;
    claim_.store(pack(epoch, static_cast<uint64_t>(helpers), static_cast<uint64_t>(nchunks), 0),
                 std::memory_order_release);
    epoch_.store(epoch, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) epoch_.notify_all();
    jobs_.fetch_add(1, std::memory_order_relaxed);

    // Whatever chunk runs an OpenMP construct runs it on this thread alone (a worker is set up so
    // too): the pool is the team here.
    const int omp_threads = omp_get_max_threads();
    omp_set_num_threads(1);
    in_chunk_ = true;
    work(epoch, -1);
    in_chunk_ = false;
    omp_set_num_threads(omp_threads);
    // Only chunks a worker has already claimed are left: they are running now.
    for (int spins = 0; done_.load(std::memory_order_acquire) != nchunks; ++spins) {
      if (spins < 4096) {
        cpu_relax();
      } else {
        std::this_thread::yield();  // its thread may be waiting for this core
      }
    }
    busy_.store(false, std::memory_order_release);
    return true;
  }

  int64_t jobs() const { return jobs_.load(std::memory_order_relaxed); }

 private:
  struct Job {
    ChunkFn fn = nullptr;
    void* ctx = nullptr;
    int64_t n = 0, grain = 1;
  };

  // Claims and runs chunks of job `epoch` until none is left; `index` < 0 is the caller, else a
  // worker, which helps only if the job allows that many helpers.
  void work(uint32_t epoch, int index) {
    uint64_t w = claim_.load(std::memory_order_acquire);
    for (;;) {
      if (static_cast<uint32_t>(w >> 32) != epoch) return;
      const uint64_t helpers = (w >> 24) & 0xFF, chunks = (w >> 12) & 0xFFF, next = w & 0xFFF;
      if (next >= chunks || (index >= 0 && static_cast<uint64_t>(index) >= helpers)) return;
      if (!claim_.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
        continue;
      }
      // The claim succeeded in this job's epoch, so the job is still this one: the caller writes
      // job_ only after every chunk of it has finished, this one included.
      const Job& j = job_;
      const int64_t begin = static_cast<int64_t>(next) * j.grain;
      j.fn(j.ctx, begin, std::min(j.n, begin + j.grain));
      done_.fetch_add(1, std::memory_order_release);
      w = claim_.load(std::memory_order_acquire);
    }
  }

  void ensure_workers(int count) {
    while (static_cast<int>(workers_.size()) < count) {
      const int index = static_cast<int>(workers_.size());
      std::thread([this, index] { worker_loop(index); }).detach();
      workers_.push_back(index);
    }
  }

  void worker_loop(int index) {
    omp_set_num_threads(1);  // an OpenMP construct inside a chunk must not start a team here
    in_chunk_ = true;        // and a parallel_for inside a chunk runs inline
    uint32_t seen = epoch_.load(std::memory_order_acquire);
    for (;;) {
      uint32_t now = epoch_.load(std::memory_order_acquire);
      if (now == seen && spin_.count() > 0) {
        const auto until = std::chrono::steady_clock::now() + spin_;
        for (int i = 0; now == seen; ++i) {
          cpu_relax();
          now = epoch_.load(std::memory_order_acquire);
          if ((i & 255) == 255 && std::chrono::steady_clock::now() > until) break;
        }
      }
      if (now == seen) {
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        epoch_.wait(seen, std::memory_order_seq_cst);
        sleepers_.fetch_sub(1, std::memory_order_seq_cst);
        now = epoch_.load(std::memory_order_acquire);
      }
      seen = now;
      work(now, index);
    }
  }

  // Alone on their cache lines: the claim word bounces between the threads of a job.
  alignas(64) std::atomic<uint64_t> claim_{0};
  alignas(64) std::atomic<int64_t> done_{0};
  alignas(64) std::atomic<uint32_t> epoch_{0};
  std::atomic<int> sleepers_{0};
  const std::chrono::microseconds spin_ = spin_time();
  alignas(64) std::atomic<bool> busy_{false};
  Job job_;
  std::atomic<int64_t> jobs_{0};
  std::vector<int> workers_;  // their indices; grown by the caller holding busy_
  static thread_local bool in_chunk_;
};

thread_local bool WorkerPool::in_chunk_ = false;

}  // namespace

int pool_threads() {
  return WorkerPool::in_chunk() || omp_in_parallel() ? 1 : omp_get_max_threads();
}

void parallel_chunks(int64_t n, int64_t grain, ChunkFn fn, void* ctx) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  if (n <= grain) {
    fn(ctx, 0, n);
    return;
  }
  const int threads = omp_get_max_threads();
  if (threads > 1 && !WorkerPool::in_chunk() && !omp_in_parallel()) {
    WorkerPool* pools = WorkerPool::slots();
    for (int i = 0; i < kSlots; ++i) {
      if (pools[i].try_run(threads, n, grain, fn, ctx)) return;
    }
  }
  fn(ctx, 0, n);
}

int64_t pool_jobs() {
  int64_t total = 0;
  for (int i = 0; i < kSlots; ++i) total += WorkerPool::slots()[i].jobs();
  return total;
}

}  // namespace sglang::cpu
