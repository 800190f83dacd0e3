// Threads that end holding a lock: one returns from its function with a mutex locked,
// another leaves through pthread_exit on an error path with a rwlock write-locked. Every
// later attempt to take either lock would wait forever (main only tries, so this
// program does not hang). gilwatch reports two abandoned-lock findings (detail
// "thread-ended"). Twin: thread_exit_clean.c.
#include "scenario_threads.h"

pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_rwlock_t registry_lock = PTHREAD_RWLOCK_INITIALIZER;

SCENARIO_FRAME void update_stats_and_forget_to_unlock(void) {
  scenario_check(pthread_mutex_lock(&stats_lock), "lock stats");
}

static void* stats_worker(void* unused) {
  (void)unused;
  update_stats_and_forget_to_unlock();
  return NULL;
}

SCENARIO_FRAME void register_entry_or_bail_out(int valid) {
  scenario_check(pthread_rwlock_wrlock(&registry_lock), "write-lock registry");
  if (!valid) pthread_exit(NULL);  // error path: the lock stays held
  scenario_check(pthread_rwlock_unlock(&registry_lock), "unlock registry");
}

static void* registry_worker(void* unused) {
  (void)unused;
  register_entry_or_bail_out(0);
  return NULL;
}

int main(void) {
  scenario_run_thread(stats_worker, NULL, "stats");
  scenario_run_thread(registry_worker, NULL, "registry");
  int stats_taken = pthread_mutex_trylock(&stats_lock) == 0;
  int registry_taken = pthread_rwlock_trywrlock(&registry_lock) == 0;
  printf("thread_exit_holding_lock: stats lock %s, registry lock %s\n", stats_taken ? "free" : "abandoned",
         registry_taken ? "free" : "abandoned");
  return 0;
}
