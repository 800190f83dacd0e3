// A deadlock that really happens: two threads each take their first mutex, meet at a
// barrier, then each asks for the other's mutex. Without gilwatch the program hangs
// forever; under it the deadlock is reported (both threads, both mutexes, who waits for
// whom) and the process ends with the deadlock exit status (67).
#include "scenario_threads.h"

pthread_mutex_t account_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t account_b = PTHREAD_MUTEX_INITIALIZER;
pthread_barrier_t both_hold_their_first;

SCENARIO_FRAME void transfer_a_to_b(void) {
  scenario_check(pthread_mutex_lock(&account_a), "lock A");
  pthread_barrier_wait(&both_hold_their_first);
  scenario_check(pthread_mutex_lock(&account_b), "lock B holding A");
  scenario_check(pthread_mutex_unlock(&account_b), "unlock B");
  scenario_check(pthread_mutex_unlock(&account_a), "unlock A");
}

SCENARIO_FRAME void transfer_b_to_a(void) {
  scenario_check(pthread_mutex_lock(&account_b), "lock B");
  pthread_barrier_wait(&both_hold_their_first);
  scenario_check(pthread_mutex_lock(&account_a), "lock A holding B");
  scenario_check(pthread_mutex_unlock(&account_a), "unlock A");
  scenario_check(pthread_mutex_unlock(&account_b), "unlock B");
}

static void* teller_one(void* unused) {
  (void)unused;
  transfer_a_to_b();
  return NULL;
}

static void* teller_two(void* unused) {
  (void)unused;
  transfer_b_to_a();
  return NULL;
}

int main(void) {
  scenario_check(pthread_barrier_init(&both_hold_their_first, NULL, 2), "pthread_barrier_init");
  pthread_t one = scenario_start_thread(teller_one, NULL, "teller-1");
  pthread_t two = scenario_start_thread(teller_two, NULL, "teller-2");
  scenario_join_thread(one);
  scenario_join_thread(two);
  puts("abba_hang: no deadlock (this should not happen)");
  return 1;
}
