// A rwlock and a mutex in opposite orders across three threads, the rwlock's side taken
// for reading. Argument (the variant):
//   writer-preferring  the rwlock is PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP.
//                      "reader" holds it for reading and takes the mutex; "lister" holds
//                      the mutex and reads it; "writer" writes it. Had "writer" come
//                      between, "lister"'s read would queue behind it while it waits for
//                      "reader": a deadlock. gilwatch must report one lock-order-inversion
//                      (a mutex and a rwlock).
//   reader-preferring  the same with glibc's default rwlock: a new reader gets in beside
//                      a reader even while a writer waits, so the read-read cycle cannot
//                      deadlock. Zero findings.
//   write-closing      the default rwlock, but "lister" writes it holding the mutex: its
//                      write waits for "reader"'s read whatever the preference. One
//                      lock-order-inversion.
// The threads run one after the other, so nothing hangs; the program prints one line.
#include <stdio.h>
#include <string.h>

#include "scenario_threads.h"

pthread_rwlock_t registry;
pthread_mutex_t jobs = PTHREAD_MUTEX_INITIALIZER;
static int g_lister_writes = 0;

SCENARIO_FRAME void read_registry_then_lock_jobs(void) {
  scenario_check(pthread_rwlock_rdlock(&registry), "rdlock registry");
  scenario_check(pthread_mutex_lock(&jobs), "lock jobs holding registry");
  scenario_check(pthread_mutex_unlock(&jobs), "unlock jobs");
  scenario_check(pthread_rwlock_unlock(&registry), "unlock registry");
}

SCENARIO_FRAME void lock_jobs_then_take_registry(void) {
  scenario_check(pthread_mutex_lock(&jobs), "lock jobs");
  if (g_lister_writes)
    scenario_check(pthread_rwlock_wrlock(&registry), "wrlock registry holding jobs");
  else
    scenario_check(pthread_rwlock_rdlock(&registry), "rdlock registry holding jobs");
  scenario_check(pthread_rwlock_unlock(&registry), "unlock registry");
  scenario_check(pthread_mutex_unlock(&jobs), "unlock jobs");
}

SCENARIO_FRAME void write_registry(void) {
  scenario_check(pthread_rwlock_wrlock(&registry), "wrlock registry");
  scenario_check(pthread_rwlock_unlock(&registry), "unlock registry");
}

static void* reader(void* unused) {
  read_registry_then_lock_jobs();
  return NULL;
}

static void* lister(void* unused) {
  lock_jobs_then_take_registry();
  return NULL;
}

static void* writer(void* unused) {
  write_registry();
  return NULL;
}

int main(int argc, char** argv) {
  const char* variant = argc > 1 ? argv[1] : "";
  pthread_rwlockattr_t attr;
  scenario_check(pthread_rwlockattr_init(&attr), "rwlockattr_init");
  if (strcmp(variant, "writer-preferring") == 0) {
    scenario_check(pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP), "setkind");
  } else if (strcmp(variant, "write-closing") == 0) {
    g_lister_writes = 1;
  } else if (strcmp(variant, "reader-preferring") != 0) {
    fprintf(stderr, "usage: rwlock_preference writer-preferring|reader-preferring|write-closing\n");
    return 2;
  }
  scenario_check(pthread_rwlock_init(&registry, &attr), "rwlock_init");
  scenario_run_thread(reader, NULL, "reader");
  scenario_run_thread(lister, NULL, "lister");
  scenario_run_thread(writer, NULL, "writer");
  scenario_check(pthread_rwlock_destroy(&registry), "rwlock_destroy");
  printf("rwlock_preference (%s): done\n", variant);
  return 0;
}
