// The fix for lock_misuse.c: destroy after unlocking; unlock in the thread that locked.
// gilwatch must report nothing.
#include "scenario_threads.h"

pthread_mutex_t session_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t handoff_lock = PTHREAD_MUTEX_INITIALIZER;

SCENARIO_FRAME void close_session(void) {
  scenario_check(pthread_mutex_lock(&session_lock), "lock session");
  scenario_check(pthread_mutex_unlock(&session_lock), "unlock session");
  scenario_check(pthread_mutex_destroy(&session_lock), "destroy session");
}

static void* use_handoff(void* unused) {
  (void)unused;
  scenario_check(pthread_mutex_lock(&handoff_lock), "lock handoff");
  scenario_check(pthread_mutex_unlock(&handoff_lock), "unlock handoff");
  return NULL;
}

int main(void) {
  close_session();
  scenario_run_thread(use_handoff, NULL, "user");
  puts("lock_misuse_fixed: done");
  return 0;
}
