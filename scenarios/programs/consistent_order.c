// Many threads, running at the same time and contending, always take the locks in one
// global order A -> B -> C (sometimes skipping one: A -> C, B -> C). Contention is real
// but no order is ever reversed, so there is nothing to report.
// gilwatch must report zero findings (and the program exits 0).
#include "scenario_threads.h"

enum { kThreads = 16, kIterations = 20000 };

pthread_mutex_t mutex_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t mutex_b = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t mutex_c = PTHREAD_MUTEX_INITIALIZER;
static long shared_counter;  // guarded by mutex_c

static void lock(pthread_mutex_t* m) { scenario_check(pthread_mutex_lock(m), "lock"); }
static void unlock(pthread_mutex_t* m) { scenario_check(pthread_mutex_unlock(m), "unlock"); }

SCENARIO_FRAME void take_in_global_order(int iteration) {
  switch (iteration % 3) {
    case 0:  // A -> B -> C
      lock(&mutex_a);
      lock(&mutex_b);
      lock(&mutex_c);
      ++shared_counter;
      unlock(&mutex_c);
      unlock(&mutex_b);
      unlock(&mutex_a);
      break;
    case 1:  // A -> C
      lock(&mutex_a);
      lock(&mutex_c);
      ++shared_counter;
      unlock(&mutex_c);
      unlock(&mutex_a);
      break;
    default:  // B -> C
      lock(&mutex_b);
      lock(&mutex_c);
      ++shared_counter;
      unlock(&mutex_c);
      unlock(&mutex_b);
      break;
  }
}

static void* ordered_worker(void* unused) {
  for (int i = 0; i < kIterations; ++i) take_in_global_order(i);
  return NULL;
}

int main(void) {
  pthread_t threads[kThreads];
  for (int i = 0; i < kThreads; ++i) threads[i] = scenario_start_thread(ordered_worker, NULL, "ordered");
  for (int i = 0; i < kThreads; ++i) scenario_join_thread(threads[i]);
  if (shared_counter != (long)kThreads * kIterations) {
    fprintf(stderr, "fixture error: counter %ld, expected %ld\n", shared_counter,
            (long)kThreads * kIterations);
    return 2;
  }
  return 0;
}
