// Three threads close a cycle no pair of them shows alone: A->B, B->C, C->A. Each pair
// of orders is consistent; only the three together can deadlock. The threads run one
// after the other, so nothing hangs.
// gilwatch must report exactly one lock-order-inversion with three mutexes and three
// threads (take_a_then_b, take_b_then_c, take_c_then_a in the native stacks).
#include "scenario_threads.h"

pthread_mutex_t mutex_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t mutex_b = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t mutex_c = PTHREAD_MUTEX_INITIALIZER;

static inline __attribute__((always_inline)) void lock_pair(pthread_mutex_t* outer, pthread_mutex_t* inner) {
  scenario_check(pthread_mutex_lock(outer), "lock outer");
  scenario_check(pthread_mutex_lock(inner), "lock inner");
  scenario_check(pthread_mutex_unlock(inner), "unlock inner");
  scenario_check(pthread_mutex_unlock(outer), "unlock outer");
}

// Each of these is the frame that takes the second lock (lock_pair is inlined into it).
SCENARIO_FRAME void take_a_then_b(void) { lock_pair(&mutex_a, &mutex_b); }
SCENARIO_FRAME void take_b_then_c(void) { lock_pair(&mutex_b, &mutex_c); }
SCENARIO_FRAME void take_c_then_a(void) { lock_pair(&mutex_c, &mutex_a); }

struct cycle_step {
  void (*take_pair)(void);
  const char* thread_name;
};

static const struct cycle_step cycle_steps[] = {
    {take_a_then_b, "cycle-a-then-b"},
    {take_b_then_c, "cycle-b-then-c"},
    {take_c_then_a, "cycle-c-then-a"},
};

static void* run_step(void* step) {
  ((const struct cycle_step*)step)->take_pair();
  return NULL;
}

int main(void) {
  for (size_t i = 0; i < sizeof cycle_steps / sizeof cycle_steps[0]; ++i)
    scenario_run_thread(run_step, (void*)&cycle_steps[i], cycle_steps[i].thread_name);
  return 0;
}
