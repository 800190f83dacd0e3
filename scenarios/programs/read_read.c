// Two threads take two rwlocks in opposite orders, but only ever for reading. A reader
// never waits for a reader, and glibc's default rwlock prefers readers (a waiting writer
// does not hold new readers back), so no interleaving of these two threads can deadlock.
// gilwatch must report zero findings (and the program exits 0). A checker that ignores
// lock modes reports a false inversion here.
#include "scenario_threads.h"

pthread_rwlock_t rwlock_a = PTHREAD_RWLOCK_INITIALIZER;
pthread_rwlock_t rwlock_b = PTHREAD_RWLOCK_INITIALIZER;

SCENARIO_FRAME void read_a_then_read_b(void) {
  scenario_check(pthread_rwlock_rdlock(&rwlock_a), "rdlock A");
  scenario_check(pthread_rwlock_rdlock(&rwlock_b), "rdlock B holding A");
  scenario_check(pthread_rwlock_unlock(&rwlock_b), "unlock B");
  scenario_check(pthread_rwlock_unlock(&rwlock_a), "unlock A");
}

SCENARIO_FRAME void read_b_then_read_a(void) {
  scenario_check(pthread_rwlock_rdlock(&rwlock_b), "rdlock B");
  scenario_check(pthread_rwlock_rdlock(&rwlock_a), "rdlock A holding B");
  scenario_check(pthread_rwlock_unlock(&rwlock_a), "unlock A");
  scenario_check(pthread_rwlock_unlock(&rwlock_b), "unlock B");
}

static void* first_thread(void* unused) {
  read_a_then_read_b();
  return NULL;
}

static void* second_thread(void* unused) {
  read_b_then_read_a();
  return NULL;
}

int main(void) {
  scenario_run_thread(first_thread, NULL, "read-a-then-b");
  scenario_run_thread(second_thread, NULL, "read-b-then-a");
  return 0;
}
