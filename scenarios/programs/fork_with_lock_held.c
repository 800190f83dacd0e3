// fork() while another thread holds a mutex, and a child that then takes it: the child
// inherits the mutex locked by a thread that does not exist in it, and waits forever.
// gilwatch reports fork-with-lock-held in the child, then the child's deadlock (a lock
// whose owner is gone); the child ends with 67 and the parent exits with the child's
// status. Twin: fork_with_atfork.c.
#include <sys/wait.h>
#include <unistd.h>

#include "scenario_threads.h"

pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_barrier_t cache_lock_held;

static void* cache_refresher(void* unused) {
  (void)unused;
  scenario_check(pthread_mutex_lock(&cache_lock), "lock cache");
  pthread_barrier_wait(&cache_lock_held);
  usleep(300 * 1000);  // the fork happens meanwhile
  scenario_check(pthread_mutex_unlock(&cache_lock), "unlock cache");
  return NULL;
}

SCENARIO_FRAME void child_reads_cache(void) {
  pthread_mutex_lock(&cache_lock);  // inherited locked: never returns without gilwatch
  pthread_mutex_unlock(&cache_lock);
}

int main(void) {
  scenario_check(pthread_barrier_init(&cache_lock_held, NULL, 2), "pthread_barrier_init");
  pthread_t refresher = scenario_start_thread(cache_refresher, NULL, "refresher");
  pthread_barrier_wait(&cache_lock_held);
  pid_t child = fork();
  if (child < 0) scenario_check(errno, "fork");
  if (child == 0) {
    child_reads_cache();
    _exit(0);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  scenario_join_thread(refresher);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}
