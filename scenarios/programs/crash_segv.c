// A crash: a worker thread waits on a condition variable nobody signals, and the main
// thread writes through a null pointer in write_through_null(). Under gilwatch run the
// process writes a `crash` finding — the main thread first, its stack through
// write_through_null, the waiting worker after it — and still dies of SIGSEGV.
// Its twin segv_recover installs its own SIGSEGV handler and recovers.
#include <unistd.h>

#include "scenario_threads.h"

pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t never_signalled = PTHREAD_COND_INITIALIZER;

static void* wait_for_nothing(void* unused) {
  (void)unused;
  scenario_check(pthread_mutex_lock(&mutex), "lock");
  for (;;) pthread_cond_wait(&never_signalled, &mutex);
  return NULL;
}

SCENARIO_FRAME void write_through_null(volatile int* where) {
  *where = 42;
}

int main(void) {
  pthread_t worker;
  scenario_check(pthread_create(&worker, NULL, wait_for_nothing, NULL), "pthread_create");
  pthread_setname_np(worker, "waiter");
  usleep(200 * 1000);  // the worker is waiting by now
  write_through_null((volatile int*)0);
  printf("not reached\n");
  return 0;
}
