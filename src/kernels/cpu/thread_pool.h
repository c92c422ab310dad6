#pragma once
// A persistent worker pool for the CPU kernels' small, frequent parallel loops (a batch-1 decode
// step is ~150 of them: every matvec and attention call). Why not an OpenMP team: at the end of a
// parallel region the calling thread waits for every team member, so a worker the OS has not
// scheduled (two cores shared with other processes, or with the server's own threads) stalls the
// whole step for a time slice. Here work is split into chunks that threads claim one at a time:
// the calling thread claims chunks too and only ever waits for a chunk a worker has already begun,
// never for a worker that has not shown up (it then runs every chunk itself).
//
// Workers spin briefly after a job (the next matvec of a step follows within microseconds), then
// sleep on a futex: pure spinning is ruinous when the host is oversubscribed.
//
// The team size is the calling thread's OpenMP setting (omp_get_max_threads(), which CpuBackend
// sets per thread), so a backend built for N threads uses N here too. Threads that call at the
// same time (data-parallel replicas, one scheduler thread each) get pools of their own. Called
// from inside an OpenMP parallel region or from inside a chunk, the loop runs on the calling
// thread alone.
#include <cstdint>
#include <type_traits>
#include <utility>

namespace sglang::cpu {

using ChunkFn = void (*)(void* ctx, int64_t begin, int64_t end);

// Runs fn(ctx, begin, end) over consecutive ranges covering [0, n), each `grain` long (the last
// may be shorter), across the calling thread and the pool; returns when every range has run. The
// ranges may run in any order and on any thread.
void parallel_chunks(int64_t n, int64_t grain, ChunkFn fn, void* ctx);

template <typename F>
void parallel_for(int64_t n, int64_t grain, F&& body) {
  using Body = std::remove_reference_t<F>;
  parallel_chunks(
      n, grain,
      [](void* ctx, int64_t begin, int64_t end) { (*static_cast<Body*>(ctx))(begin, end); },
      const_cast<void*>(static_cast<const void*>(&body)));
}

// The team size parallel_chunks uses on this thread (its OpenMP setting, see above).
int pool_threads();

// [0, n) in one contiguous range per thread of the team (OpenMP's schedule(static)), on the pool
// when `parallel`, else on the calling thread: the forward's element-wise, attention and GEMM
// loops all run on this one team. A second team (OpenMP's) beside the pool spins at its barriers
// while the pool's workers run the next matmul, taking the cores they need: on two cores that
// cost ~35 % of prefill and ~15 % of a batch-32 decode step (bench/RESULTS.md, stop 24).
template <typename F>
void parallel_static(int64_t n, bool parallel, F&& body) {
  if (n <= 0) return;
  const int64_t threads = parallel ? pool_threads() : 1;
  if (threads <= 1) {
    body(int64_t{0}, n);
    return;
  }
  parallel_for(n, (n + threads - 1) / threads, body);
}

// Jobs the pool has dispatched to more than one thread since the process started (for profiles:
// each is one hand-off between threads).
int64_t pool_jobs();

}  // namespace sglang::cpu
