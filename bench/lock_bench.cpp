// Uncontended lock + unlock, the path every hooked pthread call takes: what does the
// preload cost when nothing is wrong? The variants with locks already held measure the
// per-acquisition work that grows with the held set (one known edge per held lock).
//
// Run plain and preloaded with bench/run_lock_bench.sh.
#include <benchmark/benchmark.h>
#include <pthread.h>

#include <array>
#include <cstdlib>

namespace {

void check(int rc) {
  if (rc != 0) std::abort();
}

// Locks `held_count` other mutexes (outside the timed loop), then times lock+unlock of
// one more. The held ones are always taken before the measured one: a consistent order.
void BM_MutexLockUnlock(benchmark::State& state) {
  const auto held_count = static_cast<std::size_t>(state.range(0));
  std::array<pthread_mutex_t, 8> held{};
  pthread_mutex_t measured = PTHREAD_MUTEX_INITIALIZER;
  for (auto& m : held) check(pthread_mutex_init(&m, nullptr));
  for (std::size_t i = 0; i < held_count; ++i) check(pthread_mutex_lock(&held[i]));

  for (auto _ : state) {
    check(pthread_mutex_lock(&measured));
    check(pthread_mutex_unlock(&measured));
  }

  for (std::size_t i = held_count; i-- > 0;) check(pthread_mutex_unlock(&held[i]));
  for (auto& m : held) check(pthread_mutex_destroy(&m));
  check(pthread_mutex_destroy(&measured));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MutexLockUnlock)->ArgName("held")->Arg(0)->Arg(2)->Arg(4);

void BM_RwlockRdlockUnlock(benchmark::State& state) {
  pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
  for (auto _ : state) {
    check(pthread_rwlock_rdlock(&lock));
    check(pthread_rwlock_unlock(&lock));
  }
  check(pthread_rwlock_destroy(&lock));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RwlockRdlockUnlock);

}  // namespace

BENCHMARK_MAIN();
