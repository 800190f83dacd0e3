// lock_loop HELD ITERATIONS [mutex|rwlock] [THREADS]: takes HELD mutexes, then locks and
// unlocks one more mutex (or read-locks an rwlock) ITERATIONS times. With THREADS > 1
// (default 1) each of that many threads does the same with its own locks, so the loop
// runs in a multi-threaded process. Used by instructions_per_lock.sh to count
// instructions per operation under callgrind, which, unlike time, is repeatable on a
// shared machine.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int held_count;
static long iterations;
static int use_rwlock;

static void* loop(void* unused) {
  (void)unused;
  pthread_mutex_t held[8];
  pthread_mutex_t measured = PTHREAD_MUTEX_INITIALIZER;
  pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
  for (int i = 0; i < held_count; ++i) {
    pthread_mutex_init(&held[i], NULL);
    pthread_mutex_lock(&held[i]);
  }
  for (long i = 0; i < iterations; ++i) {
    if (use_rwlock) {
      pthread_rwlock_rdlock(&rwlock);
      pthread_rwlock_unlock(&rwlock);
    } else {
      pthread_mutex_lock(&measured);
      pthread_mutex_unlock(&measured);
    }
  }
  for (int i = held_count - 1; i >= 0; --i) pthread_mutex_unlock(&held[i]);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s HELD ITERATIONS [mutex|rwlock] [THREADS]\n", argv[0]);
    return 2;
  }
  held_count = atoi(argv[1]);
  iterations = atol(argv[2]);
  use_rwlock = argc > 3 && strcmp(argv[3], "rwlock") == 0;
  int threads = argc > 4 ? atoi(argv[4]) : 1;
  if (held_count < 0 || held_count > 8 || threads < 1 || threads > 64) return 2;
  if (threads == 1) {
    loop(NULL);
    return 0;
  }
  pthread_t ids[64];
  for (int i = 0; i < threads; ++i) pthread_create(&ids[i], NULL, loop, NULL);
  for (int i = 0; i < threads; ++i) pthread_join(ids[i], NULL);
  return 0;
}
