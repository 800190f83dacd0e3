// The twin of crash_segv: a program that handles SIGSEGV itself (its own handler,
// installed in main, after gilwatch's) and recovers with siglongjmp. It is no crash:
// under gilwatch it prints "recovered" and exits 0 with no finding, as without it.
#include <setjmp.h>
#include <signal.h>

#include "scenario_threads.h"

static sigjmp_buf recovery;

static void on_segv(int sig) {
  (void)sig;
  siglongjmp(recovery, 1);
}

SCENARIO_FRAME void write_through_null(volatile int* where) {
  *where = 42;
}

int main(void) {
  struct sigaction action;
  memset(&action, 0, sizeof(action));
  action.sa_handler = on_segv;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGSEGV, &action, NULL) != 0) return 2;
  if (sigsetjmp(recovery, 1) == 0) {
    write_through_null((volatile int*)0);
    printf("not reached\n");
    return 1;
  }
  printf("recovered\n");
  return 0;
}
