// Scale without a bug: 1000 threads created over time (in waves of 25 that run
// together), 100,000 mutexes, and some nesting, always in one global order.
//
// Mutexes 0..63 are shared "buckets"; the rest are split among the threads, 99 each
// (the 936 left over are initialized and destroyed but never locked). A thread
// locks each of its own mutexes once; every 8th it also takes a bucket while holding it,
// and then the next bucket up (own -> bucket[b] -> bucket[b+1]); every 16th it holds the
// next own mutex too (own[j] -> own[j+1]). Every edge goes from a lower rank to a higher
// one (own before bucket, lower index before higher), so there is no cycle.
// gilwatch must report zero findings and finish quickly (the point: thread-exit cleanup,
// a lock table with 100k entries, and a graph that grows without cycle checks blowing
// up). The program exits 0 and prints nothing.
#include "scenario_threads.h"

enum {
  kThreadCount = 1000,
  kThreadsPerWave = 25,
  kMutexCount = 100000,
  kBucketCount = 64,
  kOwnPerThread = (kMutexCount - kBucketCount) / kThreadCount,
};

static pthread_mutex_t* mutexes;  // [0, kBucketCount) buckets, then per-thread slices
static long bucket_visits[kBucketCount];  // bucket_visits[b] guarded by mutexes[b]

static void lock(pthread_mutex_t* m) { scenario_check(pthread_mutex_lock(m), "lock"); }
static void unlock(pthread_mutex_t* m) { scenario_check(pthread_mutex_unlock(m), "unlock"); }

SCENARIO_FRAME void visit_own_mutexes(long thread_index) {
  pthread_mutex_t* own = mutexes + kBucketCount + thread_index * kOwnPerThread;
  for (int j = 0; j < kOwnPerThread; ++j) {
    lock(&own[j]);
    if (j % 8 == 0) {
      int b = (int)((thread_index * 7 + j) % (kBucketCount - 1));
      lock(&mutexes[b]);
      lock(&mutexes[b + 1]);
      ++bucket_visits[b + 1];
      unlock(&mutexes[b + 1]);
      ++bucket_visits[b];
      unlock(&mutexes[b]);
    }
    if (j % 16 == 0 && j + 1 < kOwnPerThread) {
      lock(&own[j + 1]);
      unlock(&own[j + 1]);
    }
    unlock(&own[j]);
  }
}

static void* wave_thread(void* index) {
  visit_own_mutexes((long)index);
  return NULL;
}

int main(void) {
  mutexes = calloc(kMutexCount, sizeof *mutexes);
  if (mutexes == NULL) {
    fprintf(stderr, "fixture error: out of memory\n");
    return 2;
  }
  for (int i = 0; i < kMutexCount; ++i) scenario_check(pthread_mutex_init(&mutexes[i], NULL), "init");

  for (long first = 0; first < kThreadCount; first += kThreadsPerWave) {
    pthread_t wave[kThreadsPerWave];
    for (long i = 0; i < kThreadsPerWave; ++i)
      wave[i] = scenario_start_thread(wave_thread, (void*)(first + i), "wave");
    for (long i = 0; i < kThreadsPerWave; ++i) scenario_join_thread(wave[i]);
  }

  long visits = 0;
  for (int b = 0; b < kBucketCount; ++b) visits += bucket_visits[b];
  long expected = 2L * kThreadCount * ((kOwnPerThread + 7) / 8);
  if (visits != expected) {
    fprintf(stderr, "fixture error: %ld bucket visits, expected %ld\n", visits, expected);
    return 2;
  }
  for (int i = 0; i < kMutexCount; ++i) scenario_check(pthread_mutex_destroy(&mutexes[i]), "destroy");
  free(mutexes);
  return 0;
}
