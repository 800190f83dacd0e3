// Blocking calls that are not lock acquisitions: joins, futex waits, sleeps.
//
// - pthread_join: a wait for another thread (a wait-for edge to it), made in slices
//   with pthread_clockjoin_np.
// - syscall(SYS_futex, FUTEX_WAIT...): how Rust's std and parking_lot locks, absl and
//   other hand-made locks wait. The lock has no owner the preload could name, but a
//   thread that waits on one while holding the GIL is the seeds' PyO3 bug. Waits
//   without a timeout are made in slices (FUTEX_WAIT re-checks the word, so repeating it
//   loses nothing). glibc's own futex use does not go through syscall() and is not seen.
// - sleep, usleep, nanosleep, clock_nanosleep: only timed, for gil-held-blocking.
//
// All of these are LD_PRELOAD interpositions: libc defines them, nobody else does, so
// the interpreter and every extension reach these wrappers.
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lock_profiling.h"
#include "native_panics.h"
#include "runtime.h"
#include "wait_monitor.h"

using namespace gilwatch::preload;
using gilwatch::LockKind;
using gilwatch::LockMode;
using gilwatch::WaitKind;

namespace {

using SyscallFn = decltype(&::syscall);

inline uintptr_t addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

// Times a call made by a thread that holds the GIL (sleeps only count then).
template <class Call>
auto timed_if_gil_held(const char* primitive, uintptr_t pc, Call&& call) -> decltype(call()) {
  PreloadThread* t = current_thread();
  if (!g_detector || t->busy || !thread_holds_gil()) return call();
  uint64_t start = monotonic_ns();
  auto result = call();
  note_gil_held_wait(t, primitive, 0, pc, monotonic_ns() - start);
  return result;
}

bool futex_wait_op(long op) {
  int cmd = int(op) & FUTEX_CMD_MASK;
  return cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET;
}

bool futex_wake_op(long op) {
  int cmd = int(op) & FUTEX_CMD_MASK;
  return cmd == FUTEX_WAKE || cmd == FUTEX_WAKE_BITSET;
}

// ---- futex words as locks (docs/futex-locks.md) ----
// A thread that waited on a word and was let go has probably acquired the lock the word
// is; if it later wakes the word (a release with waiters), it certainly held it until
// then, and every lock it took in between was taken under it.

void futex_wait_returned(PreloadThread* t, uintptr_t word) {
  if (t->futex_hold_count == 1 && t->futex_holds[0].word == word) {  // the common retry
    t->futex_holds[0].edge_count = 0;
    return;
  }
  for (int i = 0; i < t->futex_hold_count; ++i) {
    if (t->futex_holds[i].word == word) {  // waited again: the earlier wait was no hold
      t->futex_holds[i].edge_count = 0;
      return;
    }
  }
  if (t->futex_hold_count == PreloadThread::kFutexHoldCandidates) {
    // The oldest candidate was never released with a wake (no waiters, or not a lock).
    for (int i = 1; i < t->futex_hold_count; ++i) t->futex_holds[i - 1] = t->futex_holds[i];
    --t->futex_hold_count;
  }
  PreloadThread::FutexHoldCandidate& c = t->futex_holds[t->futex_hold_count++];
  c.word = word;
  c.edge_count = 0;
}

// The thread wakes `word`: a candidate's deferred edges become graph edges.
void futex_woken_by(PreloadThread* t, uintptr_t word) {
  for (int i = 0; i < t->futex_hold_count; ++i) {
    if (t->futex_holds[i].word != word) continue;
    bool found = false;
    PreloadThread::FutexHoldCandidate c = t->futex_holds[i];
    for (int j = i + 1; j < t->futex_hold_count; ++j) t->futex_holds[j - 1] = t->futex_holds[j];
    --t->futex_hold_count;
    for (int e = 0; e < c.edge_count; ++e) found |= g_detector->add_deferred_edge(t->state, word, c.edges[e]);
    if (found) report_new_findings_from_hook(t);
    return;
  }
}

// A futex wait with no timeout of its own, made in slices. FUTEX_WAIT takes a relative
// timeout; FUTEX_WAIT_BITSET an absolute one on CLOCK_MONOTONIC, or CLOCK_REALTIME
// with FUTEX_CLOCK_REALTIME.
long sliced_futex_wait(PreloadThread* t, SyscallFn sys, long uaddr, long op, long val, long a5, long a6) {
  bool bitset = (int(op) & FUTEX_CMD_MASK) == FUTEX_WAIT_BITSET;
  bool realtime = (int(op) & FUTEX_CLOCK_REALTIME) != 0;
  for (;;) {
    struct timespec ts;
    if (bitset) {
      clock_gettime(realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
      ts.tv_nsec += long(kWaitSliceNs % 1000000000ull);
      ts.tv_sec += time_t(kWaitSliceNs / 1000000000ull);
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_nsec -= 1000000000L;
        ++ts.tv_sec;
      }
    } else {
      ts.tv_sec = time_t(kWaitSliceNs / 1000000000ull);
      ts.tv_nsec = long(kWaitSliceNs % 1000000000ull);
    }
    long rc = sys(SYS_futex, uaddr, op, val, reinterpret_cast<long>(&ts), a5, a6);
    if (rc == 0 || errno != ETIMEDOUT) return rc;
    wait_progress(t);
  }
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int pthread_join(pthread_t thread, void** result) {
  auto join = real::pthread_join();
  auto clockjoin = real::pthread_clockjoin_np();
  PreloadThread* t = current_thread();
  if (!g_detector || t->busy || !clockjoin) return join(thread, result);
  uintptr_t pc = addr(__builtin_return_address(0));
  bool gil_held = thread_holds_gil();
  bool mine = begin_wait(t, WaitKind::kJoin, 0, gil_held, pc, thread);
  int rc = wait_in_slices(t, [&](const struct timespec* ts) {
    return clockjoin(thread, result, CLOCK_MONOTONIC, ts);
  });
  if (mine) {
    uint64_t waited = end_wait(t);
    if (gil_held) note_gil_held_wait(t, "pthread_join", 0, pc, waited);
  }
  return rc;
}

// Forwards every call unchanged but futex waits. Six argument registers are read
// whatever the call passed: the usual way to forward syscall(2), harmless on x86_64.
__attribute__((visibility("default"))) long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
  long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
  va_end(ap);
  SyscallFn sys = real::syscall();
  if (number != SYS_futex || !g_detector) return sys(number, a1, a2, a3, a4, a5, a6);
  PreloadThread* t = current_thread();
  if (!futex_wait_op(a2)) {
    if (native_panic_unwinding(t) && futex_wake_op(a2) && !t->busy) {
      // A guard dropped by a native thread's panic releases its lock (native_panics.h);
      // its waiters are read before the wake lets them go.
      t->busy = 1;
      native_panic_released_word(t, uintptr_t(a1));
      t->busy = 0;
    }
    long rc = sys(number, a1, a2, a3, a4, a5, a6);
    if (t->futex_hold_count && futex_wake_op(a2) && !t->busy) {
      int saved_errno = errno;
      t->busy = 1;
      futex_woken_by(t, uintptr_t(a1));
      t->busy = 0;
      errno = saved_errno;
    }
    return rc;
  }
  if (t->busy) return sys(number, a1, a2, a3, a4, a5, a6);
  uintptr_t pc = addr(__builtin_return_address(0));
  bool gil_held = thread_holds_gil();
  // Waiting for a word is acquiring it.
  note_ordering_before_acquire(t, uintptr_t(a1), LockKind::kFutex, LockMode::kWrite, gil_held, pc);
  // A wait with its own timeout ends by itself: no deadlock, probable or not.
  bool mine = begin_wait(t, WaitKind::kFutex, uintptr_t(a1), gil_held, pc, 0, 0, a4 != 0);
  uint64_t profile_started = profile_clock();
  long rc = a4 == 0 ? sliced_futex_wait(t, sys, a1, a2, a3, a5, a6) : sys(number, a1, a2, a3, a4, a5, a6);
  if (mine || profile_started) {
    int saved_errno = errno;
    if (profile_started) profile_futex_wait(t, uintptr_t(a1), pc, profile_clock() - profile_started);
    if (mine) {
      uint64_t waited = end_wait(t);
      if (gil_held && !interpreter_contains(pc)) note_gil_held_futex_wait(t, uintptr_t(a1), waited);
    }
    errno = saved_errno;
  }
  if (!interpreter_contains(pc)) futex_wait_returned(t, uintptr_t(a1));
  return rc;
}

__attribute__((visibility("default"))) int nanosleep(const struct timespec* request, struct timespec* remaining) {
  auto fn = real::nanosleep();
  return timed_if_gil_held("nanosleep", addr(__builtin_return_address(0)), [&] { return fn(request, remaining); });
}

__attribute__((visibility("default"))) int clock_nanosleep(clockid_t clock, int flags, const struct timespec* request,
                                                           struct timespec* remaining) {
  auto fn = real::clock_nanosleep();
  return timed_if_gil_held("clock_nanosleep", addr(__builtin_return_address(0)),
                           [&] { return fn(clock, flags, request, remaining); });
}

__attribute__((visibility("default"))) int usleep(useconds_t microseconds) {
  auto fn = real::usleep();
  return timed_if_gil_held("usleep", addr(__builtin_return_address(0)), [&] { return fn(microseconds); });
}

__attribute__((visibility("default"))) unsigned sleep(unsigned seconds) {
  auto fn = real::sleep();
  return timed_if_gil_held("sleep", addr(__builtin_return_address(0)), [&] { return fn(seconds); });
}

}  // extern "C"
