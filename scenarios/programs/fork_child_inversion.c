// fork() under gilwatch: the parent takes A then B (with a helper thread running, so the
// fork happens in a multi-threaded process), then forks. The child keeps working: it
// takes B then A — an inversion against the order it inherited from its parent — and
// then execs /bin/true, which must start cleanly under the preload too.
// gilwatch must report exactly one inversion, from the child's process, and the parent's
// results must show none.
#include <sys/wait.h>
#include <unistd.h>

#include "scenario_threads.h"

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;

SCENARIO_FRAME static void parent_takes_a_then_b(void) {
  scenario_check(pthread_mutex_lock(&lock_a), "lock a");
  scenario_check(pthread_mutex_lock(&lock_b), "lock b");
  scenario_check(pthread_mutex_unlock(&lock_b), "unlock b");
  scenario_check(pthread_mutex_unlock(&lock_a), "unlock a");
}

SCENARIO_FRAME static void child_takes_b_then_a(void) {
  scenario_check(pthread_mutex_lock(&lock_b), "lock b");
  scenario_check(pthread_mutex_lock(&lock_a), "lock a");
  scenario_check(pthread_mutex_unlock(&lock_a), "unlock a");
  scenario_check(pthread_mutex_unlock(&lock_b), "unlock b");
}

static void* idle_helper(void* arg) {
  (void)arg;
  parent_takes_a_then_b();
  return NULL;
}

int main(void) {
  pthread_t helper = scenario_start_thread(idle_helper, NULL, "fork-helper");
  scenario_join_thread(helper);
  parent_takes_a_then_b();
  pid_t child = fork();
  if (child < 0) {
    perror("fork");
    return 2;
  }
  if (child == 0) {
    child_takes_b_then_a();
    execl("/bin/true", "true", (char*)NULL);
    _exit(3);
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child) return 2;
  // The child's exec'd image exits 0; the child itself reported before exec.
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 4;
}
