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
#include <sys/single_threaded.h>

#include "glibc_mutex.h"
#include "lifecycle_checks.h"
#include "interpreters.h"
#include "lock_profiling.h"
#include "runtime.h"
#include "rwlock_rules.h"
#include "wait_monitor.h"

using gilwatch::LockKind;
using gilwatch::WaitKind;
using gilwatch::ThreadState;
using gilwatch::LockMode;
using gilwatch::HeldLock;
using namespace gilwatch::preload;

namespace {

inline uintptr_t addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

// A successful acquisition: EOWNERDEAD on a robust mutex also hands over the lock.
inline bool acquired(int rc) { return rc == 0 || rc == EOWNERDEAD; }

// The contention profile's line between a timed lock call that got its lock at once and
// one that slept for it.
constexpr uint64_t kTimedCallContendedNs = 2000;

// Default and adaptive mutexes (not error-checking, recursive, robust, priority-
// inheriting or -protecting) have no failure mode in pthread_mutex_lock: the call returns
// 0 once it owns the lock. For those the held stack can be updated before the call.
// glibc's mutex type lives in the public __data.__kind field; the low bits are the type,
// higher ones the robust/PI/PP flags, and the elision hint (256) does not matter.
inline bool cannot_fail(const pthread_mutex_t* m) {
  int kind = m->__data.__kind & 0x7f;
  return kind == PTHREAD_MUTEX_TIMED_NP || kind == PTHREAD_MUTEX_ADAPTIVE_NP;
}

// A contended acquisition: published as a wait (for the deadlock check), made in
// slices, and timed for gil-held-blocking. `timed(deadline)` is the CLOCK_MONOTONIC
// variant of the lock call.
template <class Timed>
int contended_wait(PreloadThread* t, const void* lock, WaitKind kind, bool gil_held, uintptr_t pc,
                   const char* primitive, Timed&& timed) {
  t->busy = 1;
  check_inherited_lock(t, lock, pc);
  t->busy = 0;
  bool mine = begin_wait(t, kind, addr(lock), gil_held, pc);
  int rc = wait_in_slices(t, timed);
  if (mine) {
    uint64_t waited = end_wait(t);
    if (gil_held) note_gil_held_wait(t, primitive, addr(lock), pc, waited);
  }
  return rc;
}

// A wait with the caller's own deadline: published (as one that ends by itself: never
// part of a deadlock) and timed, not sliced.
template <class Call>
int deadline_wait(PreloadThread* t, const void* lock, WaitKind kind, bool gil_held, uintptr_t pc,
                  const char* primitive, Call&& call) {
  bool mine = begin_wait(t, kind, addr(lock), gil_held, pc, 0, 0, true);
  int rc = call();
  if (mine) {
    uint64_t waited = end_wait(t);
    if (gil_held) note_gil_held_wait(t, primitive, addr(lock), pc, waited);
  }
  return rc;
}

// `gil_known`: -1 when the caller has not asked the interpreter yet, else its answer
// (the mutex fast path has, and must not pay for the question twice).
// `attempt()` tries without blocking (EBUSY: contended); `blocking()` is the plain call,
// for when the hooks are off; `wait(t, gil_held)` waits for a contended lock.
template <class Attempt, class Blocking, class Wait>
int blocking_acquire(const void* lock, LockKind kind, LockMode mode, uintptr_t pc, Attempt&& attempt,
                     Blocking&& blocking, Wait&& wait, int gil_known = -1, bool readers_wait_for_writers = false) {
  PreloadThread* t = current_thread();
  if (!g_detector || t->busy) return blocking();
  // Ordering edges exist only when something is held (the GIL counts); the common case
  // of a lock taken with nothing held goes straight to the real call.
  bool gil_held = gil_known >= 0 ? gil_known != 0 : thread_holds_gil();
  note_ordering_before_acquire(t, addr(lock), kind, mode, gil_held, pc, readers_wait_for_writers);
  int rc = attempt();
  bool contended = rc == EBUSY;
  uint64_t wait_start = contended ? profile_clock() : 0;
  if (contended) rc = wait(t, gil_held);
  if (acquired(rc)) {
    update_thread_state(t, [&] { g_detector->after_acquire(t->state, addr(lock), kind, mode, pc); });
    profile_acquired(t, lock, kind, pc, contended, wait_start ? monotonic_ns() - wait_start : 0);
  }
  return rc;
}

// The same for a call with the caller's own deadline: no attempt first, no slices.
template <class Call>
int timed_acquire(const void* lock, LockKind kind, LockMode mode, WaitKind wait_kind, uintptr_t pc,
                  const char* primitive, Call&& call, bool readers_wait_for_writers = false) {
  PreloadThread* t = current_thread();
  if (!g_detector || t->busy) return call();
  bool gil_held = thread_holds_gil();
  note_ordering_before_acquire(t, addr(lock), kind, mode, gil_held, pc, readers_wait_for_writers);
  uint64_t start = profile_clock();
  int rc = deadline_wait(t, lock, wait_kind, gil_held, pc, primitive, call);
  if (acquired(rc)) {
    update_thread_state(t, [&] { g_detector->after_acquire(t->state, addr(lock), kind, mode, pc); });
    // A timed call has no try first: it counts as contended when it slept (an
    // uncontended lock returns in well under a microsecond).
    uint64_t waited = start ? monotonic_ns() - start : 0;
    profile_acquired(t, lock, kind, pc, waited >= kTimedCallContendedNs, waited);
  }
  return rc;
}

template <class Call>
int try_acquire(const void* lock, LockKind kind, LockMode mode, uintptr_t pc, Call&& call) {
  int rc = call();
  PreloadThread* t = current_thread();
  if (acquired(rc) && g_detector) {
    update_thread_state(t, [&] { g_detector->after_acquire(t->state, addr(lock), kind, mode, pc); });
    profile_acquired(t, lock, kind, pc, false, 0);
  }
  return rc;
}

// Pushing and popping the held stack touch only this thread's state; the guard keeps a
// signal handler that takes locks from interleaving with a half-done update.
inline void release(const void* lock) {
  PreloadThread* t = current_thread();
  if (g_detector)
    update_thread_state(t, [&] {
      profile_releasing(t, lock);
      g_detector->on_release(t->state, addr(lock));
    });
}

bool in_held_stack(const PreloadThread* t, const void* lock) {
  for (int i = 0, n = t->state.held_count(); i < n; ++i)
    if (t->state.held_at(i).address == addr(lock)) return true;
  return false;
}

// An unlock by a thread that does not hold the lock. `owner` is what the lock itself
// says (glibc records the owner's thread id); the held stack covers what glibc cannot
// know, such as a fork child's inherited copy of its own parent thread's locks.
__attribute__((noinline)) void unlock_by_non_owner(const void* lock, LockKind kind, uint32_t owner, uintptr_t pc) {
  PreloadThread* t = current_thread();
  if (t->state.held_overflow || t->state.untracked_depth > 0 || in_held_stack(t, lock)) return;
  if (PreloadThread* h = enter_hook()) {
    check_unlock_by_non_owner(h, lock, kind, owner, pc);
    leave_hook(h);
  }
}

inline void destroyed(const void* lock) {
  if (PreloadThread* t = enter_hook()) {
    g_detector->on_lock_destroyed(addr(lock));
    leave_hook(t);
  }
}

void destroying(const void* lock, LockKind kind, bool locked, uintptr_t pc) {
  if (!locked) return;
  if (PreloadThread* t = enter_hook()) {
    check_lock_destroy(t, lock, kind, true, pc);
    leave_hook(t);
  }
}

// A condition wait: an unlock of the mutex, a wait (published, not sliced: see
// wait_monitor.h), and a re-lock. A timed wait the interpreter makes while a thread asks
// for the GIL is the GIL's own hand-off: such waits are published as waiting for the GIL.
template <class Wait>
int condition_wait(pthread_cond_t* c, pthread_mutex_t* m, uintptr_t pc, bool timed, const char* primitive,
                   Wait&& wait) {
  PreloadThread* t = enter_hook();
  if (!t) return wait();
  bool gil_held = thread_holds_gil();
  WaitKind kind = WaitKind::kCondition;
  if (!gil_held && timed && !g_python.free_threaded && !is_gil_condition(addr(c)) &&
      (t->in_gil_request || interpreter_contains(pc)))
    learn_gil_condition(addr(c), addr(m));
  profile_wait_releasing(t, m);
  g_detector->on_release(t->state, addr(m));
  // The interpreter's own wait for a GIL: which one, its condition does not say once
  // interpreters with their own GIL exist.
  uintptr_t gil = 0;
  if (!gil_held && is_gil_condition(addr(c))) {
    kind = WaitKind::kGil;
    gil = g_own_gil_interpreters.load(std::memory_order_relaxed) ? gilwatch::WaitGraph::kUnknownGil : 0;
  }
  // A timed wait of the program's own ends by itself: no deadlock, probable or not. (The
  // interpreter's GIL hand-off is timed too, but repeated until it gets the GIL.)
  bool mine = begin_wait(t, kind, addr(c), gil_held, pc, 0, gil, timed && kind == WaitKind::kCondition);
  // Nobody else will capture this thread's stack while it waits holding the GIL.
  if (mine && gil_held) capture_wait_now(t);
  leave_hook(t);
  int rc = wait();
  // wait_progress runs while the wait still counts (for the GIL loop, the next short
  // wait continues it) and also for waits nested in a GIL request.
  wait_progress(t);
  if (mine) {
    uint64_t waited = end_wait(t);
    if (gil_held) note_gil_held_wait(t, primitive, addr(c), pc, waited);
  }
  // The mutex is held again whatever the wait returned (0, ETIMEDOUT, EINTR...).
  if ((t = enter_hook())) {
    t->state.gil = gil_held ? current_gil() : 0;
    bool found = g_detector->before_blocking_acquire(t->state, addr(m), LockKind::kMutex,
                                                     LockMode::kWrite, gil_held, pc);
    if (found) report_new_findings_from_hook(t);
    g_detector->after_acquire(t->state, addr(m), LockKind::kMutex, LockMode::kWrite, pc);
    leave_hook(t);
    // Re-taken inside the wait: an acquisition whose contention the wait hides.
    profile_wait_reacquired(t, m, pc);
  }
  return rc;
}

__attribute__((noinline)) int mutex_lock_general(pthread_mutex_t* m, uintptr_t pc, int gil_known) {
  auto real = real::pthread_mutex_lock();
  auto trylock = real::pthread_mutex_trylock();
  auto clocklock = real::pthread_mutex_clocklock();
  if (!trylock || !clocklock) return real(m);
  // Priority-inheriting and -protecting mutexes are waited for with the plain call:
  // their timed forms depend on what the kernel supports for each clock.
  // (glibc's internal __kind flags, nptl/pthreadP.h: 32 inherit, 64 protect.)
  constexpr int kPriorityInherit = 32, kPriorityProtect = 64;
  if (m->__data.__kind & (kPriorityInherit | kPriorityProtect))
    return blocking_acquire(
        m, LockKind::kMutex, LockMode::kWrite, pc, [&] { return real(m); }, [&] { return real(m); },
        [&](PreloadThread*, bool) { return real(m); }, gil_known);
  return blocking_acquire(
      m, LockKind::kMutex, LockMode::kWrite, pc, [&] { return trylock(m); }, [&] { return real(m); },
      [&](PreloadThread* t, bool gil_held) {
        return contended_wait(t, m, WaitKind::kMutex, gil_held, pc, "pthread_mutex_lock",
                              [&](const struct timespec* ts) { return clocklock(m, CLOCK_MONOTONIC, ts); });
      },
      gil_known);
}

// The mutex fast path's rare ends, out of line; both read the lock and the call site
// from the held stack's top entry, which the fast path pushed.
__attribute__((noinline)) void mutex_lock_profiled() {
  PreloadThread* t = current_thread();
  HeldLock& h = t->state.held[t->state.depth - 1];
  profile_acquired_slow(t, h.address, LockKind::kMutex, h.acquire_pc, false, 0, false, &h);
}

// The unlock fast path with the profile on, out of line (the usual path keeps nothing
// across a call): ends the hold of the thread's top entry, pops it, unlocks.
__attribute__((noinline)) int mutex_unlock_profiled(pthread_mutex_t* m) {
  PreloadThread* t = current_thread();
  ThreadState& s = t->state;
  update_thread_state(t, [&] {
    profile_releasing_slow(t, addr(m), false, &s.held[s.depth - 1]);
    s.depth = s.depth - 1;
  });
  return g_real.pthread_mutex_unlock(m);
}

// The trylock lost a race for a lock that looked free: pop, and take the general path
// (which asks about the GIL again, and waits in slices).
__attribute__((noinline)) int mutex_lock_lost_race() {
  PreloadThread* t = current_thread();
  ThreadState& s = t->state;
  auto* m = reinterpret_cast<pthread_mutex_t*>(s.held[s.depth - 1].address);
  uintptr_t pc = s.held[s.depth - 1].acquire_pc;
  update_thread_state(t, [&] { g_detector->on_release(s, addr(m)); });
  return mutex_lock_general(m, pc, -1);
}

// Every unlock of a mutex but the usual one (pthread_mutex_unlock). glibc records the
// owner of every mutex it locks; for the two types that do not check it themselves, an
// unlock by another thread is reported. Then the pop, before the real unlock.
__attribute__((noinline)) int mutex_unlock_general(pthread_mutex_t* m, uintptr_t pc) {
  auto real = real::pthread_mutex_unlock();
  if (g_detector && cannot_fail(m)) {
    PreloadThread* t = current_thread();
    uint32_t owner = uint32_t(m->__data.__owner);
    if (!t->busy && owner != current_tid(t)) unlock_by_non_owner(m, LockKind::kMutex, owner, pc);
  }
  release(m);
  return real(m);
}

// The hottest path in most processes: a mutex that cannot fail (no failure to undo),
// free, and taken with nothing held or exactly as it was taken before. Everything else
// goes through the general path, out of line.
// `kAskGil`: an interpreter with a GIL is loaded, so whether this thread holds it is
// asked (without one, thread_holds_gil() is false). Laid out so that nothing but the
// trylock's result lives across a call: the hook then saves no registers.
template <bool kAskGil>
__attribute__((always_inline)) inline int mutex_lock_fast(pthread_mutex_t* m, uintptr_t pc) {
  // The caller saw g_mutex_lock_way say the detector and both real functions are ready.
  PreloadThread* t = current_thread();
  int gil_known = -1;
  if (__builtin_expect(!t->busy && cannot_fail(m), 1)) {
    bool gil_held = kAskGil && thread_holds_gil();
    gil_known = gil_held;
    ThreadState& s = t->state;
    // Free right now (glibc's lock word is 0), and no new edge is possible: try it and
    // push. A mutex that is held goes through the general path, which waits in slices
    // (wait_monitor.h). The look at the lock word races with other threads: a thread
    // that loses the race must not block in an unpublished wait (a deadlock formed there
    // would go unseen), so the take is a trylock, and a lost race takes the general path
    // (popping first what it pushed, if anything). "Taken before" is this thread's memo,
    // or another thread's record when this one holds no futex word (whose evidence the
    // general path keeps). A full TLS part of the held stack (or a folded one) is
    // after_acquire's deep path.
    if (__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) == 0 &&
        ((s.depth == 0 && !gil_held) ||
         g_detector->acquisition_recorded(s, addr(m), LockMode::kWrite, gil_held, t->futex_hold_count == 0)) &&
        __builtin_expect(s.depth < ThreadState::kMaxHeld, 1)) {
      // update_thread_state's window, opened here: `busy` was seen clear above.
      t->busy = 1;
      std::atomic_signal_fence(std::memory_order_seq_cst);
      if (is_default_mutex(m) && t->tid != 0) {
        // A default mutex is taken first, inline, as glibc's trylock takes it
        // (glibc_mutex.h: no call, and no atomic instruction while the process has one
        // thread), then pushed: a locked instruction waits for every store before it,
        // so the push's stores come after. Until the push, a signal handler passes
        // through untracked (`busy`), as in the general path between its attempt and
        // its push. A lost race has pushed nothing. The thread id is cached by the
        // first unlock (0 until then).
        if (trylock_default_mutex(m, t->tid) != 0) {
          t->busy = 0;
          return mutex_lock_general(m, pc, gil_known);
        }
        g_detector->push_new(s, addr(m), LockKind::kMutex, LockMode::kWrite, pc);
        std::atomic_signal_fence(std::memory_order_seq_cst);
        t->busy = 0;
      } else {
        // Other kinds: the push, then glibc's call (only its result lives across it).
        // With one thread in the process the plain call cannot block (no other thread
        // can take the lock after the look) and has no atomic instruction; a signal
        // handler that took it in between and kept it would make it a self-deadlock.
        g_detector->push_new(s, addr(m), LockKind::kMutex, LockMode::kWrite, pc);
        std::atomic_signal_fence(std::memory_order_seq_cst);
        t->busy = 0;
        int rc = __libc_single_threaded ? g_real.pthread_mutex_lock(m) : g_real.pthread_mutex_trylock(m);
        if (__builtin_expect(rc != 0, 0)) return mutex_lock_lost_race();
      }
      // The lock and the call site are read back from the entry just pushed (still on
      // top: a signal handler's locks come and go above it).
      if (__builtin_expect(g_profiler != nullptr, 0)) mutex_lock_profiled();
      return 0;
    }
  }
  return mutex_lock_general(m, pc, gil_known);
}

__attribute__((noinline)) int mutex_lock_asking_gil(pthread_mutex_t* m, uintptr_t pc) {
  return mutex_lock_fast<true>(m, pc);
}

// The perturbation's delay first (perturb_us), then the same.
__attribute__((noinline)) int mutex_lock_perturbed(pthread_mutex_t* m, uintptr_t pc) {
  perturb_slow(current_thread());
  return mutex_lock_fast<true>(m, pc);
}

// A rwlock's preference: glibc keeps the kind set by pthread_rwlockattr_setkind_np (or a
// static initializer) in __data.__flags (engine/rwlock_rules.h).
inline bool readers_wait_for_writers(const pthread_rwlock_t* l) {
  return gilwatch::rwlock_readers_wait_for_writers(l->__data.__flags);
}

__attribute__((noinline)) void report_relock(const pthread_rwlock_t* l, gilwatch::Relock relock, uintptr_t pc) {
  if (PreloadThread* t = enter_hook()) {
    check_rwlock_relock(t, l, relock, pc);
    leave_hook(t);
  }
}

// A blocking or timed request for a rwlock the thread already holds: EDEADLK, a wait
// for itself, or a recursive read on a writer-preferring lock. Only a thread holding
// something pays for the look.
inline void check_relock(const pthread_rwlock_t* l, LockMode mode, bool readers_wait, uintptr_t pc) {
  PreloadThread* t = current_thread();
  if (!g_detector || t->busy || t->state.depth == 0) return;
  gilwatch::Relock relock = gilwatch::classify_relock(t->state, addr(l), mode, readers_wait);
  if (relock != gilwatch::Relock::kNone) report_relock(l, relock, pc);
}

template <class Try, class Plain, class Clock>
int rwlock_acquire(pthread_rwlock_t* l, LockMode mode, uintptr_t pc, Try try_fn, Plain plain_fn, Clock clock_fn) {
  if (!try_fn || !clock_fn) return plain_fn(l);
  bool readers_wait = readers_wait_for_writers(l);
  check_relock(l, mode, readers_wait, pc);
  WaitKind kind = mode == LockMode::kRead ? WaitKind::kRwlockRead : WaitKind::kRwlockWrite;
  const char* primitive = mode == LockMode::kRead ? "pthread_rwlock_rdlock" : "pthread_rwlock_wrlock";
  // Always the try first: a plain call on a lock that looked free could lose a race and
  // block in an unpublished, unsliced wait — and a deadlock formed there would be missed
  // (readers of a busy registry come and go, so the race is not rare).
  return blocking_acquire(
      l, LockKind::kRwlock, mode, pc, [&] { return try_fn(l); },
      [&] { return plain_fn(l); },
      [&](PreloadThread* t, bool gil_held) {
        return contended_wait(t, l, kind, gil_held, pc, primitive,
                              [&](const struct timespec* ts) { return clock_fn(l, CLOCK_MONOTONIC, ts); });
      },
      -1, readers_wait);
}

template <class Call>
int rwlock_timed(pthread_rwlock_t* l, LockMode mode, uintptr_t pc, const char* primitive, Call&& call) {
  bool readers_wait = readers_wait_for_writers(l);
  check_relock(l, mode, readers_wait, pc);
  return timed_acquire(l, LockKind::kRwlock, mode, mode == LockMode::kRead ? WaitKind::kRwlockRead : WaitKind::kRwlockWrite,
                       pc, primitive, call, readers_wait);
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int pthread_mutex_lock(pthread_mutex_t* m) {
  uintptr_t pc = addr(__builtin_return_address(0));
  MutexLockWay way = g_mutex_lock_way.load(std::memory_order_acquire);
  if (__builtin_expect(way == MutexLockWay::kFast, 1)) return mutex_lock_fast<false>(m, pc);
  if (way == MutexLockWay::kFastAskingGil) return mutex_lock_asking_gil(m, pc);
  if (way == MutexLockWay::kPerturbed) return mutex_lock_perturbed(m, pc);
  return mutex_lock_general(m, pc, -1);
}

__attribute__((visibility("default"))) int pthread_mutex_trylock(pthread_mutex_t* m) {
  auto real = real::pthread_mutex_trylock();
  return try_acquire(m, LockKind::kMutex, LockMode::kWrite, addr(__builtin_return_address(0)),
                     [&] { return real(m); });
}

__attribute__((visibility("default"))) int pthread_mutex_timedlock(pthread_mutex_t* m,
                                                                   const struct timespec* ts) {
  auto real = real::pthread_mutex_timedlock();
  return timed_acquire(m, LockKind::kMutex, LockMode::kWrite, WaitKind::kMutex, addr(__builtin_return_address(0)),
                       "pthread_mutex_timedlock", [&] { return real(m, ts); });
}

__attribute__((visibility("default"))) int pthread_mutex_clocklock(pthread_mutex_t* m, clockid_t c,
                                                                   const struct timespec* ts) {
  auto real = real::pthread_mutex_clocklock();
  return timed_acquire(m, LockKind::kMutex, LockMode::kWrite, WaitKind::kMutex, addr(__builtin_return_address(0)),
                       "pthread_mutex_clocklock", [&] { return real(m, c, ts); });
}

__attribute__((visibility("default"))) int pthread_mutex_unlock(pthread_mutex_t* m) {
  auto real = g_real.pthread_mutex_unlock;  // null until resolved: the general path resolves it
  // The usual case, inline: the lock is this thread's last, taken once, and glibc says
  // this thread owns it (for the types that do not check it themselves); with the
  // profile on, its hold is ended first, out of line. A thread id not cached yet (0)
  // matches no owner: the general path caches it.
  PreloadThread* t = current_thread();
  if (__builtin_expect(real && g_detector != nullptr && !t->busy, 1)) {
    ThreadState& s = t->state;
    int top = s.depth - 1;
    if (top >= 0 && s.held[top].address == addr(m) && s.held[top].recursion == 0 &&
        (uint32_t(m->__data.__owner) == t->tid || !cannot_fail(m))) {
      if (__builtin_expect(g_profiler != nullptr, 0)) return mutex_unlock_profiled(m);
      // Pop before the real unlock: once it returns another thread may own the lock.
      t->busy = 1;
      std::atomic_signal_fence(std::memory_order_seq_cst);
      s.depth = top;
      std::atomic_signal_fence(std::memory_order_seq_cst);
      t->busy = 0;
      if (is_default_mutex(m) && unlock_default_mutex_single_threaded(m)) return 0;  // glibc_mutex.h
      return real(m);
    }
  }
  return mutex_unlock_general(m, addr(__builtin_return_address(0)));
}

__attribute__((visibility("default"))) int pthread_mutex_destroy(pthread_mutex_t* m) {
  auto real = real::pthread_mutex_destroy();
  if (g_detector) destroying(m, LockKind::kMutex, m->__data.__lock != 0, addr(__builtin_return_address(0)));
  int rc = real(m);
  if (rc == 0) destroyed(m);
  return rc;
}

__attribute__((visibility("default"))) int pthread_rwlock_rdlock(pthread_rwlock_t* l) {
  auto real = real::pthread_rwlock_rdlock();
  auto try_fn = real::pthread_rwlock_tryrdlock();
  auto clock_fn = real::pthread_rwlock_clockrdlock();
  maybe_perturb(current_thread());
  return rwlock_acquire(l, LockMode::kRead, addr(__builtin_return_address(0)), try_fn, real, clock_fn);
}

__attribute__((visibility("default"))) int pthread_rwlock_tryrdlock(pthread_rwlock_t* l) {
  auto real = real::pthread_rwlock_tryrdlock();
  return try_acquire(l, LockKind::kRwlock, LockMode::kRead, addr(__builtin_return_address(0)),
                     [&] { return real(l); });
}

__attribute__((visibility("default"))) int pthread_rwlock_timedrdlock(pthread_rwlock_t* l,
                                                                      const struct timespec* ts) {
  auto real = real::pthread_rwlock_timedrdlock();
  return rwlock_timed(l, LockMode::kRead, addr(__builtin_return_address(0)), "pthread_rwlock_timedrdlock",
                      [&] { return real(l, ts); });
}

__attribute__((visibility("default"))) int pthread_rwlock_clockrdlock(pthread_rwlock_t* l, clockid_t c,
                                                                      const struct timespec* ts) {
  auto real = real::pthread_rwlock_clockrdlock();
  return rwlock_timed(l, LockMode::kRead, addr(__builtin_return_address(0)), "pthread_rwlock_clockrdlock",
                      [&] { return real(l, c, ts); });
}

__attribute__((visibility("default"))) int pthread_rwlock_wrlock(pthread_rwlock_t* l) {
  auto real = real::pthread_rwlock_wrlock();
  auto try_fn = real::pthread_rwlock_trywrlock();
  auto clock_fn = real::pthread_rwlock_clockwrlock();
  maybe_perturb(current_thread());
  return rwlock_acquire(l, LockMode::kWrite, addr(__builtin_return_address(0)), try_fn, real, clock_fn);
}

__attribute__((visibility("default"))) int pthread_rwlock_trywrlock(pthread_rwlock_t* l) {
  auto real = real::pthread_rwlock_trywrlock();
  return try_acquire(l, LockKind::kRwlock, LockMode::kWrite, addr(__builtin_return_address(0)),
                     [&] { return real(l); });
}

__attribute__((visibility("default"))) int pthread_rwlock_timedwrlock(pthread_rwlock_t* l,
                                                                      const struct timespec* ts) {
  auto real = real::pthread_rwlock_timedwrlock();
  return rwlock_timed(l, LockMode::kWrite, addr(__builtin_return_address(0)), "pthread_rwlock_timedwrlock",
                      [&] { return real(l, ts); });
}

__attribute__((visibility("default"))) int pthread_rwlock_clockwrlock(pthread_rwlock_t* l, clockid_t c,
                                                                      const struct timespec* ts) {
  auto real = real::pthread_rwlock_clockwrlock();
  return rwlock_timed(l, LockMode::kWrite, addr(__builtin_return_address(0)), "pthread_rwlock_clockwrlock",
                      [&] { return real(l, c, ts); });
}

__attribute__((visibility("default"))) int pthread_rwlock_unlock(pthread_rwlock_t* l) {
  auto real = real::pthread_rwlock_unlock();
  if (g_detector) {
    PreloadThread* t = current_thread();
    uint32_t writer = uint32_t(l->__data.__cur_writer);
    if (!t->busy && writer != 0 && writer != current_tid(t))
      unlock_by_non_owner(l, LockKind::kRwlock, writer, addr(__builtin_return_address(0)));
  }
  release(l);
  return real(l);
}

__attribute__((visibility("default"))) int pthread_rwlock_destroy(pthread_rwlock_t* l) {
  auto real = real::pthread_rwlock_destroy();
  if (g_detector)
    destroying(l, LockKind::kRwlock, l->__data.__cur_writer != 0 || (l->__data.__readers >> 3) != 0,
               addr(__builtin_return_address(0)));
  int rc = real(l);
  if (rc == 0) destroyed(l);
  return rc;
}

// Seen only for the GIL profile: the interpreter signals the GIL's condition when it
// drops the GIL (lock_profiling.h).
__attribute__((visibility("default"))) int pthread_cond_signal(pthread_cond_t* c) {
  auto real = real::pthread_cond_signal();
  profile_gil_signal(c);
  return real(c);
}

// The real pthread_cond_* are the GLIBC_2.3.2 ABI's, not the old default (hooks.def).
__attribute__((visibility("default"))) int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m) {
  auto real = real::pthread_cond_wait();
  return condition_wait(c, m, addr(__builtin_return_address(0)), false, "pthread_cond_wait",
                        [&] { return real(c, m); });
}

__attribute__((visibility("default"))) int pthread_cond_timedwait(pthread_cond_t* c, pthread_mutex_t* m,
                                                                  const struct timespec* ts) {
  auto real = real::pthread_cond_timedwait();
  return condition_wait(c, m, addr(__builtin_return_address(0)), true, "pthread_cond_timedwait",
                        [&] { return real(c, m, ts); });
}

__attribute__((visibility("default"))) int pthread_cond_clockwait(pthread_cond_t* c, pthread_mutex_t* m,
                                                                  clockid_t clock,
                                                                  const struct timespec* ts) {
  auto real = real::pthread_cond_clockwait();
  return condition_wait(c, m, addr(__builtin_return_address(0)), true, "pthread_cond_clockwait",
                        [&] { return real(c, m, clock, ts); });
}

}  // extern "C"
