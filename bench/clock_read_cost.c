// clock_read_cost [ITERATIONS]: what a hold clock reading costs next to a lock's atomic
// instructions, on this machine. A lock+unlock is a compare-and-swap and an exchange on
// the lock word; --profile reads the clock after the first and before the second. Each
// line is the wall time per iteration of a loop doing just that (no lock library, no
// gilwatch), so the difference between lines is the clock readings' own cost in place:
// the floor under --profile's cost per lock operation while every hold is timed
// (docs/benchmarks.md, "The contention profile per lock operation"). x86-64 only.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int word;
static volatile unsigned long sink;

static void take(void) {
  int expected = 0;
  __atomic_compare_exchange_n(&word, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}
static void give(void) { __atomic_exchange_n(&word, 0, __ATOMIC_RELEASE); }

int main(int argc, char** argv) {
#if defined(__x86_64__)
  long n = argc > 1 ? atol(argv[1]) : 20000000;
  if (n <= 0) {
    fprintf(stderr, "usage: %s [ITERATIONS]\n", argv[0]);
    return 2;
  }
  unsigned long sum = 0;
  double start = now_ns();
  for (long i = 0; i < n; ++i) {
    take();
    give();
  }
  double atomics = (now_ns() - start) / n;
  start = now_ns();
  for (long i = 0; i < n; ++i) {
    take();
    unsigned long acquired = __rdtsc();
    sum += __rdtsc() - acquired;
    give();
  }
  double timed = (now_ns() - start) / n;
  start = now_ns();
  for (long i = 0; i < n; ++i) {
    take();
    give();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    sum += (unsigned long)ts.tv_nsec;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    sum += (unsigned long)ts.tv_nsec;
  }
  double vdso = (now_ns() - start) / n;
  sink = sum;
  printf("%-52s %7.2f ns\n", "compare-and-swap + exchange (a lock+unlock's atomics)", atomics);
  printf("%-52s %7.2f ns  (+%.2f)\n", "the same with two time-stamp counter reads between", timed, timed - atomics);
  printf("%-52s %7.2f ns  (+%.2f)\n", "the same with two clock_gettime(CLOCK_MONOTONIC)", vdso, vdso - atomics);
  return 0;
#else
  (void)argc;
  (void)argv;
  fprintf(stderr, "clock_read_cost: x86-64 only\n");
  return 1;
#endif
}
