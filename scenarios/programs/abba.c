// Two threads take two mutexes in opposite orders: thread 1 A then B, thread 2 B then A.
// The threads run one after the other, so the program never hangs, but had they
// overlapped each could hold its first lock and wait forever for the other's.
// gilwatch must report exactly one lock-order-inversion: two mutexes, two threads, with
// take_a_then_b and take_b_then_a in the native stacks.
#include "scenario_threads.h"

pthread_mutex_t mutex_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t mutex_b = PTHREAD_MUTEX_INITIALIZER;

SCENARIO_FRAME void take_a_then_b(void) {
  scenario_check(pthread_mutex_lock(&mutex_a), "lock A");
  scenario_check(pthread_mutex_lock(&mutex_b), "lock B holding A");
  scenario_check(pthread_mutex_unlock(&mutex_b), "unlock B");
  scenario_check(pthread_mutex_unlock(&mutex_a), "unlock A");
}

SCENARIO_FRAME void take_b_then_a(void) {
  scenario_check(pthread_mutex_lock(&mutex_b), "lock B");
  scenario_check(pthread_mutex_lock(&mutex_a), "lock A holding B");
  scenario_check(pthread_mutex_unlock(&mutex_a), "unlock A");
  scenario_check(pthread_mutex_unlock(&mutex_b), "unlock B");
}

static void* first_thread(void* unused) {
  take_a_then_b();
  return NULL;
}

static void* second_thread(void* unused) {
  take_b_then_a();
  return NULL;
}

int main(void) {
  scenario_run_thread(first_thread, NULL, "abba-a-then-b");
  scenario_run_thread(second_thread, NULL, "abba-b-then-a");
  return 0;
}
