// wait_monitor: deadlocks as they happen, and waits with the GIL held.
//
// There is no watchdog thread (an extra thread would change what the program sees: its
// thread count, fork()'s "process is multi-threaded" warning, thread-leak checks).
// Instead the blocked threads watch each other. Every wait the preload wraps publishes a
// WaitRecord (what, since when, with or without the GIL), and the waits that could last
// forever are cut into slices: a mutex, rwlock, join or futex wait is made with a
// deadline a fraction of a second away and simply repeated when it passes. Between two
// slices the waiting thread captures its own stack once and, at most every
// kCheckInterval for the whole process, builds the wait-for graph of all blocked
// threads. The interpreter's own GIL hand-off is a timed condition wait, so threads
// waiting for the GIL take part too. This file gathers: it reads every thread's wait
// record, and each waited-on lock's owner, into a snapshot. What the snapshot means is
// decided in engine/deadlock_check.h (unit-tested): a cycle that every member has been
// in for `deadlock_ms` is a deadlock, unless one of them waits with the program's own
// deadline (pthread_mutex_timedlock and friends), and the rules after it. This file
// then writes the finding and ends the run.
//
// Repeating a timed wait is exactly as good as one long wait for mutexes, rwlocks and
// joins (nothing is lost between two attempts), and for futex words too (FUTEX_WAIT
// re-checks the word). Condition variables are not sliced: returning early would be a
// spurious wake-up that some callers do not expect, and waiting again could lose a
// signal. A thread blocked on one is seen by the others.
#pragma once

#include <pthread.h>

#include <cstdint>

#include "runtime.h"

namespace gilwatch::preload {

inline constexpr uint64_t kWaitSliceNs = 100ull * 1000 * 1000;
// Threads the monitor registers (watches for deadlocks) at once.
inline constexpr int kMaxWatchedThreads = 16384;
inline constexpr uint64_t kCheckIntervalNs = 100ull * 1000 * 1000;

uint64_t monotonic_ns();

// The thread registry: every thread the preload knows of, so a check can read the wait
// records and held locks of the others. Threads register when they start (through the
// pthread_create trampoline), the main thread at start-up, any other one at its first
// wait; they leave from a thread-specific-data destructor, the last code a thread runs.
void register_thread(PreloadThread* t);
void init_thread_registry();
// In a fork child: only the forking thread exists; the others' records are left behind.
void registry_after_fork(PreloadThread* self);
// Visits every registered thread other than `self` under the registry lock (they cannot
// exit meanwhile). `visit(PreloadThread*)`; keep it short and allocation-free.
void for_each_other_thread(PreloadThread* self, void (*visit)(PreloadThread*, void*), void* context);

// Begins a wait. Returns false, doing nothing, when the thread is already inside a wait
// the preload tracks (the interpreter's GIL loop runs inside PyGILState_Ensure): the
// outer wait is the one that means something.
// `gil`, for a wait for the GIL: which one (interpreters.h; WaitGraph::kUnknownGil when
// it cannot be told). A wait with the GIL held records the GIL held itself.
// `timed`: the call has the caller's own deadline (pthread_mutex_timedlock and
// friends): it times out by itself, so no cycle through it is a deadlock.
bool begin_wait(PreloadThread* t, WaitKind kind, uintptr_t object, bool holds_gil, uintptr_t pc,
                pthread_t join_target = 0, uintptr_t gil = 0, bool timed = false);
// Ends the wait begun by a successful begin_wait; returns how long it lasted.
uint64_t end_wait(PreloadThread* t);
// Called from inside a wait (between slices, or when an inner wait returns): captures
// the thread's stack once it has waited a while, and runs the deadlock check when due.
void wait_progress(PreloadThread* t);
// Captures the thread's stack for the current wait now (a wait that is not sliced, such
// as a condition wait with the GIL held, where no later moment is sure to come).
void capture_wait_now(PreloadThread* t);

// A wait with the GIL held ended after `duration_ns`: a gil-held-blocking finding when
// it reached the gil_blocking_ms option (gil_held_waits.cpp; the rule is
// engine/deadlock_check's judge_gil_held_wait). `primitive` names the call ("pthread_join").
void note_gil_held_wait(PreloadThread* t, const char* primitive, uintptr_t object, uintptr_t pc,
                        uint64_t duration_ns);
// The same for a wait on a futex word (Rust's std and parking_lot locks, absl, channels,
// parked threads). One that reaches gil_blocking_ms is a finding like any other wait. A
// shorter one is recorded too, with detail result_format::kDetailShortFutexWait and not
// printed: the lock graph never sees a futex lock held, so for Rust's Mutex and RwLock every contended
// acquisition with the GIL held is the GIL -> lock order of the seed, while for other
// futex users a short wait for a holder that never needs the GIL is harmless. Which it
// is shows only in the symbolized stack, so `gilwatch` keeps such a finding when the
// waiter was in a Rust lock, and drops it otherwise (harness/results/merge.cpp). The call into
// the kernel is made from inside the lock implementation (one `pc` for every std lock),
// so the finding is keyed by the whole stack rather than by the caller.
void note_gil_held_futex_wait(PreloadThread* t, uintptr_t word, uint64_t duration_ns);

// The thread takes (or asks for) a lock while it may hold futex words
// (PreloadThread::futex_holds): the evidence of each word's edge to it, kept until the
// thread wakes the word. `gil` names the GIL when `kind` is kGil. No-op without candidates.
void note_acquisition_under_futex_words_slow(PreloadThread* t, uintptr_t address, LockKind kind, LockMode mode,
                                             uintptr_t gil, uintptr_t pc);
inline void note_acquisition_under_futex_words(PreloadThread* t, uintptr_t address, LockKind kind, LockMode mode,
                                               uintptr_t gil, uintptr_t pc) {
  // The usual case, a retry on the one word the thread may hold, changes nothing.
  if (__builtin_expect(t->futex_hold_count != 0, 0) &&
      !(t->futex_hold_count == 1 && t->futex_holds[0].word == address))
    note_acquisition_under_futex_words_slow(t, address, kind, mode, gil, pc);
}

// Before a blocking acquisition of `address` (a pthread lock, or a futex word being
// waited for) by a thread outside any hook: the lock-graph edges from what it holds —
// the GIL among them, whose identity (interpreters.h) is set first — and the deferred
// edges from futex words it may hold. Nothing when it holds nothing.
// `readers_wait_for_writers`: a writer-preferring rwlock (rwlock_rules.h).
void note_ordering_before_acquire_slow(PreloadThread* t, uintptr_t address, LockKind kind, LockMode mode, bool gil_held,
                                       uintptr_t pc, bool readers_wait_for_writers);
inline void note_ordering_before_acquire(PreloadThread* t, uintptr_t address, LockKind kind, LockMode mode,
                                         bool gil_held, uintptr_t pc, bool readers_wait_for_writers = false) {
  if (t->state.depth > 0 || gil_held || t->futex_hold_count)
    note_ordering_before_acquire_slow(t, address, kind, mode, gil_held, pc, readers_wait_for_writers);
}

// Runs `timed(deadline)` with successive CLOCK_MONOTONIC deadlines one slice apart until
// it returns something other than ETIMEDOUT, calling wait_progress between slices.
template <class Timed>
int wait_in_slices(PreloadThread* t, Timed&& timed);

// The GIL's condition variables, learned from the waits the interpreter makes while a
// thread asks for the GIL.
bool is_gil_condition(uintptr_t cond);
// `mutex`: the one the interpreter waits on the condition with (the GIL's own mutex).
void learn_gil_condition(uintptr_t cond, uintptr_t mutex);
// Is `mutex` the mutex of a GIL condition learned so far? Has any been learned?
bool is_gil_mutex(uintptr_t mutex);
bool is_gil_mutex_known();

// Evidence helpers shared by the detectors that report events (event_evidence.cpp).
// Fills `out` for the calling thread: tid, name, `role`, its native stack and, when
// `with_python`, its Python frames (the caller must hold the GIL).
void describe_current_thread(EventThread& out, const char* role, bool with_python);
// Appends the calling thread's held locks (not the GIL) to `e.locks`.
void add_held_locks(EventFinding& e, const ThreadState& s);
// Adds one lock to `e.locks` (once); returns its index, or -1 when the event is full.
int add_event_lock(EventFinding& e, uintptr_t address, LockKind kind, uintptr_t site);
// Records `e` and reports it when it is new. Returns true when it was new.
bool record_and_report(const EventFinding& e);
// Small helpers for composing summaries without stdio.
struct TextBuilder {
  char* buf;
  std::size_t size;
  std::size_t len = 0;
  TextBuilder(char* b, std::size_t n) : buf(b), size(n) { if (n) b[0] = '\0'; }
  TextBuilder& add(const char* s);
  TextBuilder& dec(uint64_t v);
  TextBuilder& hex(uintptr_t v);
};
// The calling thread's held locks (not the GIL), in words: "mutex 0x..., rwlock 0x...",
// or "nothing".
void describe_held_locks(TextBuilder& text, const ThreadState& s);
uint64_t mix_key(uint64_t a, uint64_t b);

// The kernel's name for a thread of this process (/proc/self/task/TID/comm), without stdio.
void thread_name_of(uint32_t tid, char* out, std::size_t size);

// ---- implementation of the templates ----

template <class Timed>
int wait_in_slices(PreloadThread* t, Timed&& timed) {
  for (;;) {
    uint64_t deadline = monotonic_ns() + kWaitSliceNs;
    struct timespec ts;
    ts.tv_sec = time_t(deadline / 1000000000ull);
    ts.tv_nsec = long(deadline % 1000000000ull);
    int rc = timed(&ts);
    if (rc != ETIMEDOUT) return rc;
    wait_progress(t);
  }
}

}  // namespace gilwatch::preload
