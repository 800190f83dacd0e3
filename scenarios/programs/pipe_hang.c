// A hang that is no wait-for cycle: a worker reads a pipe nobody writes to, and the main
// thread joins it. Without a timeout it waits for ever. `gilwatch run --timeout` makes it
// write a `hang` finding (the worker's stack through read_from_silent_pipe, the main
// thread's join) and ends it.
#include <unistd.h>

#include "scenario_threads.h"

static int pipe_fds[2];

SCENARIO_FRAME void read_from_silent_pipe(void) {
  char byte;
  ssize_t n = read(pipe_fds[0], &byte, 1);
  printf("read returned %zd\n", n);
}

static void* reader(void* unused) {
  (void)unused;
  read_from_silent_pipe();
  return NULL;
}

int main(void) {
  if (pipe(pipe_fds) != 0) return 2;
  pthread_t worker;
  scenario_check(pthread_create(&worker, NULL, reader, NULL), "pthread_create");
  pthread_setname_np(worker, "pipe-reader");
  printf("waiting\n");
  fflush(stdout);
  scenario_check(pthread_join(worker, NULL), "pthread_join");
  return 0;
}
