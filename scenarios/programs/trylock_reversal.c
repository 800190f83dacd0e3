// One thread takes A then B; another, holding B, only *tries* A. A trylock never waits,
// so the reversed order cannot deadlock: trylock must add no ordering edge. Covered for
// mutexes (pthread_mutex_trylock) and rwlocks (pthread_rwlock_trywrlock/tryrdlock), with
// the try succeeding (A free) and failing (A held by a third thread).
// gilwatch must report zero findings (and the program exits 0).
#include <errno.h>

#include "scenario_threads.h"

pthread_mutex_t mutex_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t mutex_b = PTHREAD_MUTEX_INITIALIZER;
pthread_rwlock_t rwlock_a = PTHREAD_RWLOCK_INITIALIZER;
pthread_rwlock_t rwlock_b = PTHREAD_RWLOCK_INITIALIZER;

// Lets a holder of A keep it while another thread tries A. Barriers are not pthread
// mutexes, so they add nothing to the lock graph.
static pthread_barrier_t a_is_held, try_is_done;

SCENARIO_FRAME void lock_a_then_b(void) {
  scenario_check(pthread_mutex_lock(&mutex_a), "lock A");
  scenario_check(pthread_mutex_lock(&mutex_b), "lock B holding A");
  scenario_check(pthread_mutex_unlock(&mutex_b), "unlock B");
  scenario_check(pthread_mutex_unlock(&mutex_a), "unlock A");
  scenario_check(pthread_rwlock_wrlock(&rwlock_a), "wrlock A");
  scenario_check(pthread_rwlock_wrlock(&rwlock_b), "wrlock B holding A");
  scenario_check(pthread_rwlock_unlock(&rwlock_b), "unlock B");
  scenario_check(pthread_rwlock_unlock(&rwlock_a), "unlock A");
}

// Holds B, tries A; `expected` is 0 (A is free) or EBUSY (a third thread holds A).
SCENARIO_FRAME void hold_b_try_a(int expected) {
  scenario_check(pthread_mutex_lock(&mutex_b), "lock B");
  int rc = pthread_mutex_trylock(&mutex_a);
  if (rc != expected) scenario_check(rc ? rc : EINVAL, "mutex trylock A: unexpected result");
  if (rc == 0) scenario_check(pthread_mutex_unlock(&mutex_a), "unlock A");
  scenario_check(pthread_mutex_unlock(&mutex_b), "unlock B");

  scenario_check(pthread_rwlock_wrlock(&rwlock_b), "wrlock B");
  rc = pthread_rwlock_trywrlock(&rwlock_a);
  if (rc != expected) scenario_check(rc ? rc : EINVAL, "rwlock trywrlock A: unexpected result");
  if (rc == 0) scenario_check(pthread_rwlock_unlock(&rwlock_a), "unlock A");
  rc = pthread_rwlock_tryrdlock(&rwlock_a);
  if (rc != expected) scenario_check(rc ? rc : EINVAL, "rwlock tryrdlock A: unexpected result");
  if (rc == 0) scenario_check(pthread_rwlock_unlock(&rwlock_a), "unlock A");
  scenario_check(pthread_rwlock_unlock(&rwlock_b), "unlock B");
}

static void* a_then_b_thread(void* unused) {
  lock_a_then_b();
  return NULL;
}

static void* try_succeeds_thread(void* unused) {
  hold_b_try_a(0);
  return NULL;
}

static void* try_fails_thread(void* unused) {
  pthread_barrier_wait(&a_is_held);
  hold_b_try_a(EBUSY);
  pthread_barrier_wait(&try_is_done);
  return NULL;
}

// Holds A (both kinds, write mode) without taking anything else while it is held.
static void* a_holder_thread(void* unused) {
  scenario_check(pthread_mutex_lock(&mutex_a), "lock A");
  scenario_check(pthread_rwlock_wrlock(&rwlock_a), "wrlock A");
  pthread_barrier_wait(&a_is_held);
  pthread_barrier_wait(&try_is_done);
  scenario_check(pthread_rwlock_unlock(&rwlock_a), "unlock A");
  scenario_check(pthread_mutex_unlock(&mutex_a), "unlock A");
  return NULL;
}

int main(void) {
  scenario_check(pthread_barrier_init(&a_is_held, NULL, 2), "barrier init");
  scenario_check(pthread_barrier_init(&try_is_done, NULL, 2), "barrier init");

  scenario_run_thread(a_then_b_thread, NULL, "try-a-then-b");
  scenario_run_thread(try_succeeds_thread, NULL, "try-succeeds");

  pthread_t holder = scenario_start_thread(a_holder_thread, NULL, "try-holds-a");
  pthread_t trier = scenario_start_thread(try_fails_thread, NULL, "try-fails");
  scenario_join_thread(trier);
  scenario_join_thread(holder);

  pthread_barrier_destroy(&a_is_held);
  pthread_barrier_destroy(&try_is_done);
  return 0;
}
