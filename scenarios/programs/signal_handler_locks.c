// Locks taken inside a signal handler while the interrupted thread is in the middle of
// its own lock operations (and so, under gilwatch, possibly inside a hook). Not good
// practice, but real programs do it; the preload must neither deadlock, crash nor report
// anything: the handler's lock is always taken alone, and the main loop always takes A
// then B.
#include <signal.h>
#include <sys/time.h>

#include "scenario_threads.h"

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t handler_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t signals_handled;

static void on_alarm(int sig) {
  (void)sig;
  pthread_mutex_lock(&handler_lock);
  pthread_mutex_unlock(&handler_lock);
  ++signals_handled;
}

int main(void) {
  struct sigaction action;
  memset(&action, 0, sizeof(action));
  action.sa_handler = on_alarm;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  if (sigaction(SIGALRM, &action, NULL) != 0) return 2;
  struct itimerval every_100us = {{0, 100}, {0, 100}};
  if (setitimer(ITIMER_REAL, &every_100us, NULL) != 0) return 2;
  for (long i = 0; signals_handled < 200 && i < 50000000; ++i) {
    scenario_check(pthread_mutex_lock(&lock_a), "lock a");
    scenario_check(pthread_mutex_lock(&lock_b), "lock b");
    scenario_check(pthread_mutex_unlock(&lock_b), "unlock b");
    scenario_check(pthread_mutex_unlock(&lock_a), "unlock a");
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  if (signals_handled < 200) {
    fprintf(stderr, "only %d signals arrived\n", (int)signals_handled);
    return 3;
  }
  return 0;
}
