// Long lock-order cycles and deep nesting (lock_ring MODE [N]). Threads run one after
// the other, so nothing hangs; each prints one line and exits 0.
//   ring N        N threads, thread i takes lock i then lock (i+1) % N: one cycle over
//                 all N locks (no pair of threads shows it alone).
//   consistent N  the same pairs, but the last thread takes lock 0 then lock N-1: one
//                 consistent order, no cycle.
//   deep N        thread 1 holds N locks of its own and takes A then B; thread 2 holds N
//                 others and takes B then A: an inversion between A and B taken deep.
//   deep-consistent N  both threads take A then B under their N locks: no cycle.
//   overflow      a ring of 70 locks (longer than the library lists whole) and a thread
//                 holding 520 locks at once (more than it tracks): one inversion,
//                 reported cut, and two capacity warnings.
#include <stdlib.h>
#include <string.h>

#include "scenario_threads.h"

enum { kMaxLocks = 1200 };
static pthread_mutex_t locks[kMaxLocks];
static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;

struct pair_step {
  int first, second;
};

SCENARIO_FRAME static void take_pair(int first, int second) {
  scenario_check(pthread_mutex_lock(&locks[first]), "lock first");
  scenario_check(pthread_mutex_lock(&locks[second]), "lock second");
  scenario_check(pthread_mutex_unlock(&locks[second]), "unlock second");
  scenario_check(pthread_mutex_unlock(&locks[first]), "unlock first");
}

static void* run_pair(void* arg) {
  const struct pair_step* step = (const struct pair_step*)arg;
  take_pair(step->first, step->second);
  return NULL;
}

// Lock pairs i -> i+1 for i < n-1, then the closing pair n-1 -> 0, or 0 -> n-1.
static void ring(int n, int close) {
  static struct pair_step steps[kMaxLocks];
  for (int i = 0; i < n; ++i) {
    steps[i].first = i;
    steps[i].second = (i + 1) % n;
    if (i == n - 1 && !close) {
      steps[i].first = 0;
      steps[i].second = n - 1;
    }
    char name[16];
    snprintf(name, sizeof name, "ring-%d", i);
    scenario_run_thread(run_pair, &steps[i], name);
  }
}

struct deep_step {
  int base, count;
  pthread_mutex_t *outer, *inner;
};

SCENARIO_FRAME static void take_inner_pair(pthread_mutex_t* outer, pthread_mutex_t* inner) {
  scenario_check(pthread_mutex_lock(outer), "lock outer");
  scenario_check(pthread_mutex_lock(inner), "lock inner");
  scenario_check(pthread_mutex_unlock(inner), "unlock inner");
  scenario_check(pthread_mutex_unlock(outer), "unlock outer");
}

SCENARIO_FRAME static void hold_many(int base, int count) {
  for (int i = 0; i < count; ++i) scenario_check(pthread_mutex_lock(&locks[base + i]), "lock held");
}

SCENARIO_FRAME static void release_many(int base, int count) {
  for (int i = count; i-- > 0;) scenario_check(pthread_mutex_unlock(&locks[base + i]), "unlock held");
}

static void* run_deep(void* arg) {
  const struct deep_step* step = (const struct deep_step*)arg;
  hold_many(step->base, step->count);
  if (step->outer) take_inner_pair(step->outer, step->inner);
  release_many(step->base, step->count);
  return NULL;
}

static int count_argument(int argc, char** argv, int fallback) {
  int n = argc > 2 ? atoi(argv[2]) : fallback;
  if (n < 2 || n > kMaxLocks / 2) {
    fprintf(stderr, "lock_ring: N must be 2..%d\n", kMaxLocks / 2);
    exit(2);
  }
  return n;
}

int main(int argc, char** argv) {
  for (int i = 0; i < kMaxLocks; ++i) scenario_check(pthread_mutex_init(&locks[i], NULL), "init");
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "ring") == 0 || strcmp(mode, "consistent") == 0) {
    int n = count_argument(argc, argv, 30);
    ring(n, strcmp(mode, "ring") == 0);
    printf("lock_ring %s: %d locks\n", mode, n);
  } else if (strcmp(mode, "deep") == 0 || strcmp(mode, "deep-consistent") == 0) {
    int n = count_argument(argc, argv, 60);
    int reversed = strcmp(mode, "deep") == 0;
    struct deep_step first = {0, n, &lock_a, &lock_b};
    struct deep_step second = {n, n, reversed ? &lock_b : &lock_a, reversed ? &lock_a : &lock_b};
    scenario_run_thread(run_deep, &first, "deep-1");
    scenario_run_thread(run_deep, &second, "deep-2");
    printf("lock_ring %s: %d locks held\n", mode, n);
  } else if (strcmp(mode, "overflow") == 0) {
    ring(70, 1);
    struct deep_step many = {100, 520, NULL, NULL};
    scenario_run_thread(run_deep, &many, "hold-520");
    printf("lock_ring overflow: a ring of 70, 520 locks held\n");
  } else {
    fprintf(stderr, "usage: lock_ring ring|consistent|deep|deep-consistent [N] | overflow\n");
    return 2;
  }
  return 0;
}
