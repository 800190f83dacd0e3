// Many distinct lock-order inversions taken through one helper, after ThreadSanitizer's
// mutex stress test: every lock is taken by lock_pair(a, b), so the function that takes
// the locks is the same everywhere and only the call one frame up says which pair it is.
//
//   many_cycles inverted     a "forward" thread runs forward_0..forward_9, each
//                            lock_pair(&pairs[i][0], &pairs[i][1]); then a "backward"
//                            thread runs backward_0..backward_9, each the same pair the
//                            other way round: 10 distinct cycles over 10 distinct pairs of
//                            locks at distinct sites, 10 findings.
//   many_cycles consistent   the twin: both threads take every pair in the same order
//                            (forward_i): no finding.
//   many_cycles one-thread   one thread runs forward_0 and then backward_0: it takes both
//                            orders itself, one finding, worded as one thread's.
//
// The phases are joined one after the other, so nothing can hang; prints one line and
// exits 0.
#include "scenario_threads.h"

#define PAIRS 10

pthread_mutex_t pairs[PAIRS][2];

SCENARIO_FRAME void lock_pair(pthread_mutex_t* a, pthread_mutex_t* b) {
  scenario_check(pthread_mutex_lock(a), "lock a");
  scenario_check(pthread_mutex_lock(b), "lock b");
  scenario_check(pthread_mutex_unlock(b), "unlock b");
  scenario_check(pthread_mutex_unlock(a), "unlock a");
}

// Calls made, counted after each call so that the call stays a call (a tail call would
// leave the caller out of the stack).
volatile int pair_calls;

// One caller per pair and order: the sites that tell the cycles apart.
#define PAIR_CALLERS(i)                          \
  SCENARIO_FRAME void forward_##i(void) {        \
    lock_pair(&pairs[i][0], &pairs[i][1]);       \
    ++pair_calls;                                \
  }                                              \
  SCENARIO_FRAME void backward_##i(void) {       \
    lock_pair(&pairs[i][1], &pairs[i][0]);       \
    ++pair_calls;                                \
  }
PAIR_CALLERS(0)
PAIR_CALLERS(1)
PAIR_CALLERS(2)
PAIR_CALLERS(3)
PAIR_CALLERS(4)
PAIR_CALLERS(5)
PAIR_CALLERS(6)
PAIR_CALLERS(7)
PAIR_CALLERS(8)
PAIR_CALLERS(9)

typedef void (*pair_call)(void);
static const pair_call forward[PAIRS] = {forward_0, forward_1, forward_2, forward_3, forward_4,
                                         forward_5, forward_6, forward_7, forward_8, forward_9};
static const pair_call backward[PAIRS] = {backward_0, backward_1, backward_2, backward_3, backward_4,
                                          backward_5, backward_6, backward_7, backward_8, backward_9};

static void* run_calls(void* arg) {
  const pair_call* calls = (const pair_call*)arg;
  for (int i = 0; i < PAIRS; ++i) calls[i]();
  return NULL;
}

static void* one_thread_both_orders(void* unused) {
  (void)unused;
  forward_0();
  backward_0();
  return NULL;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  for (int i = 0; i < PAIRS; ++i)
    for (int j = 0; j < 2; ++j) scenario_check(pthread_mutex_init(&pairs[i][j], NULL), "pthread_mutex_init");
  if (strcmp(mode, "inverted") == 0) {
    scenario_run_thread(run_calls, (void*)forward, "forward");
    scenario_run_thread(run_calls, (void*)backward, "backward");
  } else if (strcmp(mode, "consistent") == 0) {
    scenario_run_thread(run_calls, (void*)forward, "forward");
    scenario_run_thread(run_calls, (void*)forward, "forward-again");
  } else if (strcmp(mode, "one-thread") == 0) {
    scenario_run_thread(one_thread_both_orders, NULL, "both-orders");
  } else {
    fprintf(stderr, "usage: many_cycles inverted|consistent|one-thread\n");
    return 2;
  }
  printf("many_cycles (%s): done\n", mode);
  return 0;
}
