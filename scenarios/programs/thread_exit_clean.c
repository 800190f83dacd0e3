// The fix for thread_exit_holding_lock.c: every path releases what it took before the
// thread ends. gilwatch must report nothing.
#include "scenario_threads.h"

pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_rwlock_t registry_lock = PTHREAD_RWLOCK_INITIALIZER;

SCENARIO_FRAME void update_stats(void) {
  scenario_check(pthread_mutex_lock(&stats_lock), "lock stats");
  scenario_check(pthread_mutex_unlock(&stats_lock), "unlock stats");
}

static void* stats_worker(void* unused) {
  (void)unused;
  update_stats();
  return NULL;
}

SCENARIO_FRAME void register_entry_or_bail_out(int valid) {
  scenario_check(pthread_rwlock_wrlock(&registry_lock), "write-lock registry");
  if (!valid) {
    scenario_check(pthread_rwlock_unlock(&registry_lock), "unlock registry");
    pthread_exit(NULL);
  }
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
  scenario_check(pthread_mutex_trylock(&stats_lock), "trylock stats");
  scenario_check(pthread_rwlock_trywrlock(&registry_lock), "trywrlock registry");
  puts("thread_exit_clean: both locks free");
  return 0;
}
