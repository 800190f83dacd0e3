// glibc_mutex: the mutex hooks' own take of a free default mutex, made exactly as
// glibc's pthread_mutex_trylock makes it, and release of one in a process with a single
// thread, made as glibc's pthread_mutex_unlock makes it, so the hot paths pay for no
// call into libc. (With several threads the release stays glibc's: done here it
// measured no faster, and it would have to wake waiters itself.)
//
// A default mutex (PTHREAD_MUTEX_INITIALIZER, or pthread_mutex_init with no attribute or
// a default one) has __data.__kind == PTHREAD_MUTEX_TIMED_NP (0): no type bits, private
// to the process, no robust/priority flags and no elision hint. For such a mutex glibc
// 2.34 and later (nptl/pthread_mutex_trylock.c) does three things: the lock word goes
// from 0 to 1 with an acquiring compare-and-swap, __owner gets the caller's kernel thread
// id, and __nusers counts one more user. glibc's own unlock, lock and trylock then see
// the mutex exactly as if glibc had taken it (tests/got/test_glibc_mutex.cpp compares
// the bytes). Any other kind is left to glibc: the caller checks
// is_default_mutex() first.
//
// With a single thread in the process (__libc_single_threaded) the lock word is written
// without an atomic instruction, as glibc's own lock does for a private mutex: no other
// thread can race for it. The word is looked at again right before the store, so a
// signal handler that took the mutex meanwhile and returned holding it makes this
// report EBUSY (the caller then waits for it the slow way) rather than take it twice.
#pragma once

#include <errno.h>
#include <pthread.h>
#include <sys/single_threaded.h>

#include <cstdint>

namespace gilwatch::preload {

inline bool is_default_mutex(const pthread_mutex_t* m) { return m->__data.__kind == PTHREAD_MUTEX_TIMED_NP; }

// `tid`: the calling thread's kernel thread id (gettid), never 0. Returns 0 when the
// mutex was free and is now the caller's, EBUSY when it is held.
inline int trylock_default_mutex(pthread_mutex_t* m, uint32_t tid) {
  int* word = &m->__data.__lock;
  if (__libc_single_threaded) {
    if (__atomic_load_n(word, __ATOMIC_RELAXED) != 0) return EBUSY;
    __atomic_store_n(word, 1, __ATOMIC_RELAXED);
  } else {
    int expected = 0;
    if (!__atomic_compare_exchange_n(word, &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return EBUSY;
  }
  m->__data.__owner = int(tid);
  ++m->__data.__nusers;
  return 0;
}

// The caller owns the default mutex `m`. With a single thread in the process, releases
// it as glibc does for a private mutex then (no waiter can exist: no other thread),
// with plain stores, and returns true; otherwise returns false, the mutex untouched,
// for glibc's unlock to release.
inline bool unlock_default_mutex_single_threaded(pthread_mutex_t* m) {
  if (!__libc_single_threaded) return false;
  m->__data.__owner = 0;
  --m->__data.__nusers;
  __atomic_store_n(&m->__data.__lock, 0, __ATOMIC_RELEASE);
  return true;
}

}  // namespace gilwatch::preload
