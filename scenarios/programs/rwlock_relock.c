// One thread asks for a rwlock it already holds. Argument (the variant):
//   write-while-writing   wrlock, then wrlock again: glibc answers EDEADLK.
//   read-while-writing    wrlock, then rdlock: EDEADLK as well.
//   recursive-read        a writer-preferring (PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP)
//                         rwlock read twice: it succeeds here (no writer waits), but a
//                         writer coming between would queue the second read behind it
//                         while it waits for the first.
// Their fixed twins, which must get zero findings:
//   recursive-read-reader-preferring  the same two reads on glibc's default rwlock;
//   write-then-read       wrlock, unlock, then rdlock.
// Each prints what the calls returned and exits 0.
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "scenario_threads.h"

pthread_rwlock_t registry;

static const char* name(int rc) { return rc == 0 ? "0" : rc == EDEADLK ? "EDEADLK" : "other"; }

SCENARIO_FRAME int relock(const char* variant) {
  if (strcmp(variant, "write-while-writing") == 0 || strcmp(variant, "read-while-writing") == 0) {
    scenario_check(pthread_rwlock_wrlock(&registry), "wrlock");
    int rc = variant[0] == 'w' ? pthread_rwlock_wrlock(&registry) : pthread_rwlock_rdlock(&registry);
    printf("rwlock_relock (%s): second call %s\n", variant, name(rc));
    if (rc == 0) scenario_check(pthread_rwlock_unlock(&registry), "unlock second");
    scenario_check(pthread_rwlock_unlock(&registry), "unlock");
    return 0;
  }
  if (strcmp(variant, "recursive-read") == 0 || strcmp(variant, "recursive-read-reader-preferring") == 0) {
    scenario_check(pthread_rwlock_rdlock(&registry), "rdlock");
    int rc = pthread_rwlock_rdlock(&registry);
    printf("rwlock_relock (%s): second call %s\n", variant, name(rc));
    if (rc == 0) scenario_check(pthread_rwlock_unlock(&registry), "unlock second");
    scenario_check(pthread_rwlock_unlock(&registry), "unlock");
    return 0;
  }
  if (strcmp(variant, "write-then-read") == 0) {
    scenario_check(pthread_rwlock_wrlock(&registry), "wrlock");
    scenario_check(pthread_rwlock_unlock(&registry), "unlock");
    int rc = pthread_rwlock_rdlock(&registry);
    printf("rwlock_relock (%s): second call %s\n", variant, name(rc));
    scenario_check(pthread_rwlock_unlock(&registry), "unlock read");
    return 0;
  }
  return 2;
}

static void* worker(void* arg) {
  if (relock((const char*)arg) != 0) fprintf(stderr, "rwlock_relock: unknown variant\n");
  return NULL;
}

int main(int argc, char** argv) {
  const char* variant = argc > 1 ? argv[1] : "";
  pthread_rwlockattr_t attr;
  scenario_check(pthread_rwlockattr_init(&attr), "rwlockattr_init");
  if (strcmp(variant, "recursive-read") == 0)
    scenario_check(pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP), "setkind");
  scenario_check(pthread_rwlock_init(&registry, &attr), "rwlock_init");
  scenario_run_thread(worker, (void*)variant, "relocker");
  scenario_check(pthread_rwlock_destroy(&registry), "rwlock_destroy");
  return 0;
}
