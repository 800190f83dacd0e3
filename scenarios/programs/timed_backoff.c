// Two threads each hold one lock and ask for the other's with a deadline: the classic
// lock-order inversion, papered over by the timeout. Both ask at once (a barrier), so
// the two waits form a cycle; teller-2's deadline (2 s) passes first, it backs off and
// releases its lock, and teller-1 (deadline 10 s) gets what it waited for. Without
// gilwatch the program finishes and exits 0; under it, too — the waits can still time
// out, so they are no deadlock — with the inversion reported.
//
//   timed_backoff mutex|mutex-clock|rwlock|rwlock-clock
//
// mutex: pthread_mutex_timedlock (CLOCK_REALTIME deadline); mutex-clock:
// pthread_mutex_clocklock (CLOCK_MONOTONIC); rwlock: pthread_rwlock_timedwrlock;
// rwlock-clock: pthread_rwlock_clockwrlock. Prints one line at the end.
#include <time.h>

#include "scenario_threads.h"

enum variant { kMutex, kMutexClock, kRwlock, kRwlockClock };
static enum variant chosen;

static pthread_mutex_t mutex_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mutex_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rwlock_a = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t rwlock_b = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t both_hold_their_first;
static int backed_off;

static int is_rwlock(void) { return chosen == kRwlock || chosen == kRwlockClock; }

static void take(int which) {
  if (is_rwlock())
    scenario_check(pthread_rwlock_wrlock(which ? &rwlock_b : &rwlock_a), "wrlock");
  else
    scenario_check(pthread_mutex_lock(which ? &mutex_b : &mutex_a), "lock");
}

static void drop(int which) {
  if (is_rwlock())
    scenario_check(pthread_rwlock_unlock(which ? &rwlock_b : &rwlock_a), "rwlock unlock");
  else
    scenario_check(pthread_mutex_unlock(which ? &mutex_b : &mutex_a), "unlock");
}

// Takes lock `which` or gives up after `seconds`: 0 or ETIMEDOUT.
static int take_within(int which, int seconds) {
  int clock_based = chosen == kMutexClock || chosen == kRwlockClock;
  struct timespec deadline;
  clock_gettime(clock_based ? CLOCK_MONOTONIC : CLOCK_REALTIME, &deadline);
  deadline.tv_sec += seconds;
  switch (chosen) {
    case kMutex: return pthread_mutex_timedlock(which ? &mutex_b : &mutex_a, &deadline);
    case kMutexClock: return pthread_mutex_clocklock(which ? &mutex_b : &mutex_a, CLOCK_MONOTONIC, &deadline);
    case kRwlock: return pthread_rwlock_timedwrlock(which ? &rwlock_b : &rwlock_a, &deadline);
    case kRwlockClock: return pthread_rwlock_clockwrlock(which ? &rwlock_b : &rwlock_a, CLOCK_MONOTONIC, &deadline);
  }
  return EINVAL;
}

// Holds `first`, then asks for `second` for at most `seconds`; backs off on timeout.
SCENARIO_FRAME static void transfer(int first, int second, int seconds) {
  take(first);
  pthread_barrier_wait(&both_hold_their_first);
  int rc = take_within(second, seconds);
  if (rc == ETIMEDOUT) {
    __atomic_add_fetch(&backed_off, 1, __ATOMIC_RELAXED);
  } else {
    scenario_check(rc, "timed lock");
    drop(second);
  }
  drop(first);
}

static void* teller_one(void* unused) {
  (void)unused;
  transfer(0, 1, 10);
  return NULL;
}

static void* teller_two(void* unused) {
  (void)unused;
  transfer(1, 0, 2);
  return NULL;
}

int main(int argc, char** argv) {
  static const char* const names[] = {"mutex", "mutex-clock", "rwlock", "rwlock-clock"};
  int found = 0;
  for (int i = 0; argc == 2 && i < 4; ++i)
    if (strcmp(argv[1], names[i]) == 0) chosen = (enum variant)i, found = 1;
  if (!found) {
    fprintf(stderr, "usage: timed_backoff mutex|mutex-clock|rwlock|rwlock-clock\n");
    return 2;
  }
  scenario_check(pthread_barrier_init(&both_hold_their_first, NULL, 2), "pthread_barrier_init");
  pthread_t one = scenario_start_thread(teller_one, NULL, "teller-1");
  pthread_t two = scenario_start_thread(teller_two, NULL, "teller-2");
  scenario_join_thread(one);
  scenario_join_thread(two);
  printf("timed_backoff (%s): %d transfer backed off after its deadline; done\n", names[chosen], backed_off);
  return 0;
}
