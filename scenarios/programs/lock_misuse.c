// Two misuses of a mutex that glibc lets pass silently: destroying a mutex its owner
// still holds (pthread_mutex_destroy returns EBUSY, which the code ignores), and a
// mutex locked by one thread and unlocked by another. gilwatch reports one
// abandoned-lock finding for each (details "destroyed-while-held" and
// "unlock-by-non-owner"). Twin: lock_misuse_fixed.c.
#include "scenario_threads.h"

pthread_mutex_t session_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t handoff_lock = PTHREAD_MUTEX_INITIALIZER;

SCENARIO_FRAME void close_session(void) {
  scenario_check(pthread_mutex_lock(&session_lock), "lock session");
  (void)pthread_mutex_destroy(&session_lock);  // still held: EBUSY, ignored
  scenario_check(pthread_mutex_unlock(&session_lock), "unlock session");
}

static void* release_handoff(void* unused) {
  (void)unused;
  pthread_mutex_unlock(&handoff_lock);  // locked by main, not by this thread
  return NULL;
}

int main(void) {
  close_session();
  scenario_check(pthread_mutex_lock(&handoff_lock), "lock handoff");
  scenario_run_thread(release_handoff, NULL, "releaser");
  puts("lock_misuse: done");
  return 0;
}
