// Contention profile fixture: a registry whose one rwlock every update takes for
// writing, next to 64 per-entry mutexes (made and first taken at one site; with up to 4
// threads each thread has its own 16, so they are never contended) and a config mutex
// only main takes.
//
//   contended_registry THREADS
//
// With 4 threads the registry lock is the contended one: the profile must put it on top
// with its waiters' stacks (in registry_update). With 1 thread nothing is contended: the
// same rows, no waits. Prints one line and exits 0.
#include <stdint.h>

#include "scenario_threads.h"

#define ENTRIES 64
#define ROUNDS 20000

static pthread_rwlock_t registry_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t entry_locks[ENTRIES];
static volatile uint64_t registry_version;
static volatile uint64_t entry_hits[ENTRIES];

// Holds the registry lock long enough (a few microseconds) that 4 threads collide.
SCENARIO_FRAME static void registry_update(void) {
  scenario_check(pthread_rwlock_wrlock(&registry_lock), "wrlock");
  for (int i = 0; i < 400; ++i) registry_version = registry_version + 1;
  scenario_check(pthread_rwlock_unlock(&registry_lock), "unlock");
}

SCENARIO_FRAME static void entry_touch(int index) {
  scenario_check(pthread_mutex_lock(&entry_locks[index]), "entry lock");
  entry_hits[index] = entry_hits[index] + 1;
  scenario_check(pthread_mutex_unlock(&entry_locks[index]), "entry unlock");
}

static void* updater(void* arg) {
  int seed = (int)(intptr_t)arg;
  for (int i = 0; i < ROUNDS; ++i) {
    registry_update();
    entry_touch((seed % 4) * 16 + i % 16);
  }
  return NULL;
}

SCENARIO_FRAME static void read_config(void) {
  scenario_check(pthread_mutex_lock(&config_lock), "config lock");
  scenario_check(pthread_mutex_unlock(&config_lock), "config unlock");
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 4;
  if (threads < 1 || threads > 16) {
    fprintf(stderr, "usage: contended_registry THREADS (1..16)\n");
    return 2;
  }
  for (int i = 0; i < ENTRIES; ++i) scenario_check(pthread_mutex_init(&entry_locks[i], NULL), "entry init");
  pthread_t workers[16];
  for (int i = 0; i < threads; ++i)
    scenario_check(pthread_create(&workers[i], NULL, updater, (void*)(intptr_t)i), "create");
  for (int i = 0; i < 100; ++i) read_config();
  for (int i = 0; i < threads; ++i) scenario_check(pthread_join(workers[i], NULL), "join");
  printf("contended_registry: %d threads, version %llu\n", threads, (unsigned long long)registry_version);
  return 0;
}
