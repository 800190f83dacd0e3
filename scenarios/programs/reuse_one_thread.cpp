// Lock memory that is freed and reused must not inherit the old lock's edges.
//
// One thread, two rounds on the same addresses:
//   1. heap std::mutex pair: lock A then B; delete both; allocate two new mutexes, which
//      malloc hands back at the old addresses; lock them in the reversed address order
//      (the one at B's old address, then the one at A's).
//      std::mutex has a trivial destructor (no pthread_mutex_destroy): the only sign that
//      the lock is gone is the free.
//   2. pthread_mutex_t storage that is destroyed and initialized again in place: lock
//      A then B, pthread_mutex_destroy both, pthread_mutex_init both, lock B then A.
// Each round's two orders concern different locks that happen to share addresses, so
// there is no inversion. gilwatch must report zero findings.
//
// Prints one line saying whether the heap addresses really were reused (if malloc did
// not reuse them, the first round proves nothing; the integration test checks this line).
// The storage round reuses by construction.
#include <cstdio>
#include <mutex>

#include "scenario_threads.h"

SCENARIO_FRAME void lock_in_order(std::mutex& outer, std::mutex& inner) {
  std::lock_guard<std::mutex> hold_outer(outer);
  std::lock_guard<std::mutex> hold_inner(inner);
}

SCENARIO_FRAME void lock_in_order(pthread_mutex_t* outer, pthread_mutex_t* inner) {
  scenario_check(pthread_mutex_lock(outer), "lock outer");
  scenario_check(pthread_mutex_lock(inner), "lock inner");
  scenario_check(pthread_mutex_unlock(inner), "unlock inner");
  scenario_check(pthread_mutex_unlock(outer), "unlock outer");
}

// Returns whether the second pair really landed on the first pair's addresses.
SCENARIO_FRAME bool reuse_heap_std_mutexes() {
  auto* first_a = new std::mutex;
  auto* first_b = new std::mutex;
  lock_in_order(*first_a, *first_b);
  void* address_a = first_a;
  void* address_b = first_b;
  // glibc's per-thread cache is LIFO: free B then A, and the next two allocations of
  // this size come back as A's address, then B's.
  delete first_b;
  delete first_a;
  auto* at_old_a = new std::mutex;
  auto* at_old_b = new std::mutex;
  lock_in_order(*at_old_b, *at_old_a);  // reversed address order, different locks
  bool reused = static_cast<void*>(at_old_a) == address_a &&
                static_cast<void*>(at_old_b) == address_b;
  delete at_old_b;
  delete at_old_a;
  return reused;
}

SCENARIO_FRAME void reinit_pthread_mutex_storage() {
  static pthread_mutex_t storage[2];
  pthread_mutex_t* a = &storage[0];
  pthread_mutex_t* b = &storage[1];
  scenario_check(pthread_mutex_init(a, nullptr), "init A");
  scenario_check(pthread_mutex_init(b, nullptr), "init B");
  lock_in_order(a, b);
  scenario_check(pthread_mutex_destroy(a), "destroy A");
  scenario_check(pthread_mutex_destroy(b), "destroy B");
  // New mutexes in the same storage.
  scenario_check(pthread_mutex_init(a, nullptr), "init new A");
  scenario_check(pthread_mutex_init(b, nullptr), "init new B");
  lock_in_order(b, a);
  scenario_check(pthread_mutex_destroy(a), "destroy new A");
  scenario_check(pthread_mutex_destroy(b), "destroy new B");
}

int main() {
  bool heap_reused = reuse_heap_std_mutexes();
  reinit_pthread_mutex_storage();
  std::printf("heap std::mutex addresses reused: %s; pthread_mutex_t storage reused: yes\n",
              heap_reused ? "yes" : "no");
  return 0;
}
