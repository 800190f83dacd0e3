// The fix for fork_with_lock_held.c: pthread_atfork handlers take the mutex before the
// fork and release it in parent and child, so no other thread can hold it across the
// fork. The child takes the mutex and exits 0; gilwatch must report nothing.
#include <sys/wait.h>
#include <unistd.h>

#include "scenario_threads.h"

pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_barrier_t cache_lock_held;

static void before_fork(void) { pthread_mutex_lock(&cache_lock); }
static void after_fork(void) { pthread_mutex_unlock(&cache_lock); }

static void* cache_refresher(void* unused) {
  (void)unused;
  scenario_check(pthread_mutex_lock(&cache_lock), "lock cache");
  pthread_barrier_wait(&cache_lock_held);
  usleep(100 * 1000);
  scenario_check(pthread_mutex_unlock(&cache_lock), "unlock cache");
  return NULL;
}

SCENARIO_FRAME void child_reads_cache(void) {
  pthread_mutex_lock(&cache_lock);
  pthread_mutex_unlock(&cache_lock);
}

int main(void) {
  scenario_check(pthread_atfork(before_fork, after_fork, after_fork), "pthread_atfork");
  scenario_check(pthread_barrier_init(&cache_lock_held, NULL, 2), "pthread_barrier_init");
  pthread_t refresher = scenario_start_thread(cache_refresher, NULL, "refresher");
  pthread_barrier_wait(&cache_lock_held);
  pid_t child = fork();  // waits in before_fork until the refresher lets go
  if (child < 0) scenario_check(errno, "fork");
  if (child == 0) {
    child_reads_cache();
    _exit(0);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  scenario_join_thread(refresher);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
