// lock_loop HELD ITERATIONS [rwlock]: takes HELD mutexes, then locks and unlocks one more
// mutex (or read-locks an rwlock) ITERATIONS times. Used by instructions_per_lock.sh to
// count instructions per operation under callgrind, which, unlike time, is repeatable on
// a shared machine.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s HELD ITERATIONS [rwlock]\n", argv[0]);
    return 2;
  }
  int held_count = atoi(argv[1]);
  long iterations = atol(argv[2]);
  int use_rwlock = argc > 3 && strcmp(argv[3], "rwlock") == 0;
  pthread_mutex_t held[8];
  pthread_mutex_t measured = PTHREAD_MUTEX_INITIALIZER;
  pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
  if (held_count < 0 || held_count > 8) return 2;
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
  return 0;
}
