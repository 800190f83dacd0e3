// nested_pairs K PASSES: K distinct mutexes taken in nested pairs along a chain (m[i]
// held while m[i+1] is taken: K - 1 lock-order edges, each lock in two), PASSES times
// over the chain. The shape of per-object locking (a lock per connection, per tensor,
// per cache entry) at scale. Single-threaded.
//
// Prints the acquisitions made, the CPU time of the first pass (where every edge is new)
// and per acquisition of the later passes (every edge known), and the peak resident set,
// for bench/nested_pairs.sh.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static long long cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void walk(pthread_mutex_t* m, long k) {
  for (long i = 0; i + 1 < k; ++i) {
    pthread_mutex_lock(&m[i]);
    pthread_mutex_lock(&m[i + 1]);
    pthread_mutex_unlock(&m[i + 1]);
    pthread_mutex_unlock(&m[i]);
  }
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s K PASSES\n", argv[0]);
    return 2;
  }
  long k = atol(argv[1]), passes = atol(argv[2]);
  if (k < 2 || passes < 0) return 2;
  pthread_mutex_t* m = malloc(sizeof(pthread_mutex_t) * (size_t)k);
  if (!m) return 1;
  for (long i = 0; i < k; ++i) pthread_mutex_init(&m[i], NULL);
  long long start = cpu_ns(), first = 0, later = 0;
  for (long p = 0; p < passes; ++p) {
    walk(m, k);
    if (p == 0) first = cpu_ns();
  }
  later = cpu_ns();
  // Not destroyed or freed: the locks' history stays until exit, as in a long-lived
  // program, and the resident set below counts it.
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  long per_pass = 2 * (k - 1);
  printf("acquisitions %ld first_pass_ns %lld later_ns_per_acquisition %.2f maxrss_kb %ld\n", per_pass * passes,
         passes ? first - start : 0, passes > 1 ? (double)(later - first) / (double)(per_pass * (passes - 1)) : 0.0,
         usage.ru_maxrss);
  return 0;
}
