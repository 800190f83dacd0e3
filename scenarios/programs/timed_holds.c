// Contention profile fixture: holds whose length the program measures itself, next to
// read locks that many threads hold at once.
//
//   timed_holds
//
// `hold_for_a_while` takes a mutex 40 times and holds it for at least 1 ms each time
// (spinning on CLOCK_MONOTONIC, timed from just after the lock returns to just before
// the unlock), which spans the first 20 ms of the process in which the profile's hold
// clock calibrates itself. Then 4 threads each take one rwlock for reading 20,000 times
// in `read_shared` (their holds overlap). Prints `held_ns TOTAL` (the mutex holds as the
// program timed them) and exits 0. The profile's holds of the mutex must contain the
// program's: no shorter in all, and not much longer.
#include <stdint.h>
#include <time.h>

#include "scenario_threads.h"

#define HOLDS 40
#define HOLD_NS 1000000
#define READERS 4
#define READS 20000

static pthread_mutex_t timed_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t shared_lock = PTHREAD_RWLOCK_INITIALIZER;
static volatile uint64_t reads_seen;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

SCENARIO_FRAME static uint64_t hold_for_a_while(void) {
  scenario_check(pthread_mutex_lock(&timed_lock), "lock");
  uint64_t start = now_ns(), end = start;
  while (end - start < HOLD_NS) end = now_ns();
  scenario_check(pthread_mutex_unlock(&timed_lock), "unlock");
  return end - start;
}

SCENARIO_FRAME static void read_shared(void) {
  scenario_check(pthread_rwlock_rdlock(&shared_lock), "rdlock");
  reads_seen = reads_seen + 1;
  scenario_check(pthread_rwlock_unlock(&shared_lock), "unlock");
}

static void* reader(void* unused) {
  (void)unused;
  for (int i = 0; i < READS; ++i) read_shared();
  return NULL;
}

int main(void) {
  uint64_t held = 0;
  for (int i = 0; i < HOLDS; ++i) held += hold_for_a_while();
  pthread_t readers[READERS];
  for (int i = 0; i < READERS; ++i) scenario_check(pthread_create(&readers[i], NULL, reader, NULL), "create");
  for (int i = 0; i < READERS; ++i) scenario_check(pthread_join(readers[i], NULL), "join");
  printf("held_ns %llu\n", (unsigned long long)held);
  return 0;
}
