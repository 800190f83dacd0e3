// The inversion with reader-writer locks: thread 1 holds A for reading and takes B for
// writing; thread 2 holds B for reading and takes A for writing. A writer waits for
// every reader, so had the threads overlapped both would wait forever. They run one
// after the other, so nothing hangs.
// gilwatch must report exactly one lock-order-inversion whose two locks are rwlocks.
#include "scenario_threads.h"

pthread_rwlock_t rwlock_a = PTHREAD_RWLOCK_INITIALIZER;
pthread_rwlock_t rwlock_b = PTHREAD_RWLOCK_INITIALIZER;

SCENARIO_FRAME void read_a_then_write_b(void) {
  scenario_check(pthread_rwlock_rdlock(&rwlock_a), "rdlock A");
  scenario_check(pthread_rwlock_wrlock(&rwlock_b), "wrlock B holding A");
  scenario_check(pthread_rwlock_unlock(&rwlock_b), "unlock B");
  scenario_check(pthread_rwlock_unlock(&rwlock_a), "unlock A");
}

SCENARIO_FRAME void read_b_then_write_a(void) {
  scenario_check(pthread_rwlock_rdlock(&rwlock_b), "rdlock B");
  scenario_check(pthread_rwlock_wrlock(&rwlock_a), "wrlock A holding B");
  scenario_check(pthread_rwlock_unlock(&rwlock_a), "unlock A");
  scenario_check(pthread_rwlock_unlock(&rwlock_b), "unlock B");
}

static void* first_thread(void* unused) {
  read_a_then_write_b();
  return NULL;
}

static void* second_thread(void* unused) {
  read_b_then_write_a();
  return NULL;
}

int main(void) {
  scenario_run_thread(first_thread, NULL, "rw-read-a");
  scenario_run_thread(second_thread, NULL, "rw-read-b");
  return 0;
}
