// pthread lock family: mutexes, rwlocks, condition variables, lock destruction.
// Interposed by LD_PRELOAD: every object in the process calls these through its PLT
// (the interpreter too), and libc is searched after us.
//
// Shape of every wrapper (compiler-rt's deadlock detector uses the same): before the
// real call the engine records ordering edges (blocking and timed acquisitions only — a
// trylock cannot wait, so it orders nothing); after a successful call it pushes the lock
// on the thread's held stack; unlock pops it; a condition wait is an unlock followed by a
// re-lock of the mutex.
#include <errno.h>
#include <pthread.h>

#include "runtime.h"

using gilwatch::LockKind;
using gilwatch::ThreadState;
using gilwatch::LockMode;
using namespace gilwatch::preload;

#define GW_REAL(field, name, version) \
  (g_real.field ? g_real.field        \
                : (g_real.field = reinterpret_cast<decltype(g_real.field)>(resolve_real(name, version))))

namespace {

inline uintptr_t addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

// A successful acquisition: EOWNERDEAD on a robust mutex also hands over the lock.
inline bool acquired(int rc) { return rc == 0 || rc == EOWNERDEAD; }

// Default and adaptive mutexes (not error-checking, recursive, robust, priority-
// inheriting or -protecting) have no failure mode in pthread_mutex_lock: the call returns
// 0 once it owns the lock. For those the held stack can be updated before the call.
// glibc's mutex type lives in the public __data.__kind field; the low bits are the type,
// higher ones the robust/PI/PP flags, and the elision hint (256) does not matter.
inline bool cannot_fail(const pthread_mutex_t* m) {
  int kind = m->__data.__kind & 0x7f;
  return kind == PTHREAD_MUTEX_TIMED_NP || kind == PTHREAD_MUTEX_ADAPTIVE_NP;
}

// `gil_known`: -1 when the caller has not asked the interpreter yet, else its answer
// (the mutex fast path has, and must not pay for the question twice).
template <class Call>
int blocking_acquire(const void* lock, LockKind kind, LockMode mode, uintptr_t pc, Call&& call,
                     int gil_known = -1) {
  PreloadThread* t = current_thread();
  if (!g_detector || t->busy) return call();
  // Ordering edges exist only when something is held (the GIL counts); the common case
  // of a lock taken with nothing held goes straight to the real call.
  bool gil_held = gil_known >= 0 ? gil_known != 0 : thread_holds_gil();
  if (t->state.depth > 0 || gil_held) {
    t->busy = 1;
    bool found = g_detector->before_blocking_acquire(t->state, addr(lock), kind, mode, gil_held, pc);
    if (found) report_new_findings();
    t->busy = 0;
  }
  int rc = call();
  if (acquired(rc))
    update_thread_state(t, [&] { g_detector->after_acquire(t->state, addr(lock), kind, mode, pc); });
  return rc;
}

template <class Call>
int try_acquire(const void* lock, LockKind kind, LockMode mode, uintptr_t pc, Call&& call) {
  int rc = call();
  PreloadThread* t = current_thread();
  if (acquired(rc) && g_detector)
    update_thread_state(t, [&] { g_detector->after_acquire(t->state, addr(lock), kind, mode, pc); });
  return rc;
}

// Pushing and popping the held stack touch only this thread's state; the guard keeps a
// signal handler that takes locks from interleaving with a half-done update.
inline void release(const void* lock) {
  PreloadThread* t = current_thread();
  if (g_detector) update_thread_state(t, [&] { g_detector->on_release(t->state, addr(lock)); });
}

inline void destroyed(const void* lock) {
  if (PreloadThread* t = enter_hook()) {
    g_detector->on_lock_destroyed(addr(lock));
    leave_hook(t);
  }
}

template <class Wait>
int condition_wait(pthread_mutex_t* m, uintptr_t pc, Wait&& wait) {
  PreloadThread* t = enter_hook();
  if (!t) return wait();
  g_detector->on_release(t->state, addr(m));
  leave_hook(t);
  int rc = wait();
  // The mutex is held again whatever the wait returned (0, ETIMEDOUT, EINTR...).
  if ((t = enter_hook())) {
    bool found = g_detector->before_blocking_acquire(t->state, addr(m), LockKind::kMutex,
                                                     LockMode::kWrite, thread_holds_gil(), pc);
    if (found) report_new_findings();
    g_detector->after_acquire(t->state, addr(m), LockKind::kMutex, LockMode::kWrite, pc);
    leave_hook(t);
  }
  return rc;
}

__attribute__((noinline)) int mutex_lock_general(pthread_mutex_t* m, uintptr_t pc, int gil_known) {
  auto real = GW_REAL(mutex_lock, "pthread_mutex_lock", nullptr);
  return blocking_acquire(m, LockKind::kMutex, LockMode::kWrite, pc, [&] { return real(m); }, gil_known);
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int pthread_mutex_lock(pthread_mutex_t* m) {
  auto real = g_real.mutex_lock;
  uintptr_t pc = addr(__builtin_return_address(0));
  PreloadThread* t = current_thread();
  // The hottest path in most processes: a mutex that cannot fail (so the held stack can
  // be updated before the call), taken with nothing held or exactly as it was taken
  // before (no new edge possible). Push, then tail-call the real lock: this wrapper adds
  // no frame of its own. Everything else goes through the general path, out of line.
  int gil_known = -1;
  if (real && g_detector && !t->busy && cannot_fail(m)) {
    bool gil_held = thread_holds_gil();
    gil_known = gil_held;
    ThreadState& s = t->state;
    bool pushed = false;
    update_thread_state(t, [&] {
      pushed = ((s.depth == 0 && !gil_held) ||
                g_detector->already_recorded(s, addr(m), LockMode::kWrite, gil_held)) &&
               g_detector->push_new(s, addr(m), LockKind::kMutex, LockMode::kWrite, pc);
    });
    if (pushed) return real(m);
  }
  return mutex_lock_general(m, pc, gil_known);
}

__attribute__((visibility("default"))) int pthread_mutex_trylock(pthread_mutex_t* m) {
  auto real = GW_REAL(mutex_trylock, "pthread_mutex_trylock", nullptr);
  return try_acquire(m, LockKind::kMutex, LockMode::kWrite, addr(__builtin_return_address(0)),
                     [&] { return real(m); });
}

__attribute__((visibility("default"))) int pthread_mutex_timedlock(pthread_mutex_t* m,
                                                                   const struct timespec* ts) {
  auto real = GW_REAL(mutex_timedlock, "pthread_mutex_timedlock", nullptr);
  return blocking_acquire(m, LockKind::kMutex, LockMode::kWrite,
                          addr(__builtin_return_address(0)), [&] { return real(m, ts); });
}

__attribute__((visibility("default"))) int pthread_mutex_clocklock(pthread_mutex_t* m, clockid_t c,
                                                                   const struct timespec* ts) {
  auto real = GW_REAL(mutex_clocklock, "pthread_mutex_clocklock", nullptr);
  return blocking_acquire(m, LockKind::kMutex, LockMode::kWrite,
                          addr(__builtin_return_address(0)), [&] { return real(m, c, ts); });
}

__attribute__((visibility("default"))) int pthread_mutex_unlock(pthread_mutex_t* m) {
  auto real = GW_REAL(mutex_unlock, "pthread_mutex_unlock", nullptr);
  // Pop before the real unlock: once it returns another thread may own the lock.
  release(m);
  return real(m);
}

__attribute__((visibility("default"))) int pthread_mutex_destroy(pthread_mutex_t* m) {
  auto real = GW_REAL(mutex_destroy, "pthread_mutex_destroy", nullptr);
  int rc = real(m);
  if (rc == 0) destroyed(m);
  return rc;
}

__attribute__((visibility("default"))) int pthread_rwlock_rdlock(pthread_rwlock_t* l) {
  auto real = GW_REAL(rwlock_rdlock, "pthread_rwlock_rdlock", nullptr);
  return blocking_acquire(l, LockKind::kRwlock, LockMode::kRead,
                          addr(__builtin_return_address(0)), [&] { return real(l); });
}

__attribute__((visibility("default"))) int pthread_rwlock_tryrdlock(pthread_rwlock_t* l) {
  auto real = GW_REAL(rwlock_tryrdlock, "pthread_rwlock_tryrdlock", nullptr);
  return try_acquire(l, LockKind::kRwlock, LockMode::kRead, addr(__builtin_return_address(0)),
                     [&] { return real(l); });
}

__attribute__((visibility("default"))) int pthread_rwlock_timedrdlock(pthread_rwlock_t* l,
                                                                      const struct timespec* ts) {
  auto real = GW_REAL(rwlock_timedrdlock, "pthread_rwlock_timedrdlock", nullptr);
  return blocking_acquire(l, LockKind::kRwlock, LockMode::kRead,
                          addr(__builtin_return_address(0)), [&] { return real(l, ts); });
}

__attribute__((visibility("default"))) int pthread_rwlock_clockrdlock(pthread_rwlock_t* l, clockid_t c,
                                                                      const struct timespec* ts) {
  auto real = GW_REAL(rwlock_clockrdlock, "pthread_rwlock_clockrdlock", nullptr);
  return blocking_acquire(l, LockKind::kRwlock, LockMode::kRead,
                          addr(__builtin_return_address(0)), [&] { return real(l, c, ts); });
}

__attribute__((visibility("default"))) int pthread_rwlock_wrlock(pthread_rwlock_t* l) {
  auto real = GW_REAL(rwlock_wrlock, "pthread_rwlock_wrlock", nullptr);
  return blocking_acquire(l, LockKind::kRwlock, LockMode::kWrite,
                          addr(__builtin_return_address(0)), [&] { return real(l); });
}

__attribute__((visibility("default"))) int pthread_rwlock_trywrlock(pthread_rwlock_t* l) {
  auto real = GW_REAL(rwlock_trywrlock, "pthread_rwlock_trywrlock", nullptr);
  return try_acquire(l, LockKind::kRwlock, LockMode::kWrite, addr(__builtin_return_address(0)),
                     [&] { return real(l); });
}

__attribute__((visibility("default"))) int pthread_rwlock_timedwrlock(pthread_rwlock_t* l,
                                                                      const struct timespec* ts) {
  auto real = GW_REAL(rwlock_timedwrlock, "pthread_rwlock_timedwrlock", nullptr);
  return blocking_acquire(l, LockKind::kRwlock, LockMode::kWrite,
                          addr(__builtin_return_address(0)), [&] { return real(l, ts); });
}

__attribute__((visibility("default"))) int pthread_rwlock_clockwrlock(pthread_rwlock_t* l, clockid_t c,
                                                                      const struct timespec* ts) {
  auto real = GW_REAL(rwlock_clockwrlock, "pthread_rwlock_clockwrlock", nullptr);
  return blocking_acquire(l, LockKind::kRwlock, LockMode::kWrite,
                          addr(__builtin_return_address(0)), [&] { return real(l, c, ts); });
}

__attribute__((visibility("default"))) int pthread_rwlock_unlock(pthread_rwlock_t* l) {
  auto real = GW_REAL(rwlock_unlock, "pthread_rwlock_unlock", nullptr);
  release(l);
  return real(l);
}

__attribute__((visibility("default"))) int pthread_rwlock_destroy(pthread_rwlock_t* l) {
  auto real = GW_REAL(rwlock_destroy, "pthread_rwlock_destroy", nullptr);
  int rc = real(l);
  if (rc == 0) destroyed(l);
  return rc;
}

// glibc keeps an old pthread_cond_* ABI as the unversioned default for dlsym(RTLD_NEXT);
// the current one is GLIBC_2.3.2. Resolving the wrong one corrupts condition variables.
__attribute__((visibility("default"))) int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m) {
  auto real = GW_REAL(cond_wait, "pthread_cond_wait", "GLIBC_2.3.2");
  return condition_wait(m, addr(__builtin_return_address(0)), [&] { return real(c, m); });
}

__attribute__((visibility("default"))) int pthread_cond_timedwait(pthread_cond_t* c, pthread_mutex_t* m,
                                                                  const struct timespec* ts) {
  auto real = GW_REAL(cond_timedwait, "pthread_cond_timedwait", "GLIBC_2.3.2");
  return condition_wait(m, addr(__builtin_return_address(0)), [&] { return real(c, m, ts); });
}

__attribute__((visibility("default"))) int pthread_cond_clockwait(pthread_cond_t* c, pthread_mutex_t* m,
                                                                  clockid_t clock,
                                                                  const struct timespec* ts) {
  auto real = GW_REAL(cond_clockwait, "pthread_cond_clockwait", nullptr);
  return condition_wait(m, addr(__builtin_return_address(0)), [&] { return real(c, m, clock, ts); });
}

}  // extern "C"
