// lock_profiling: feeds the contention profile (engine/lock_profile.h) from the pthread
// hooks when the profile option is on. Off, every entry point is one load and branch.
#pragma once

#include <cstdint>

#include "lock_profile.h"
#include "runtime.h"
#include "wait_monitor.h"

namespace gilwatch::preload {

extern LockProfiler* g_profiler;  // null unless profile=1

// Creates the profiler when the option asks for it (at initialization).
void init_lock_profiling();

// `entry`: the lock's held-stack entry when the caller knows it (else it is looked up).
void profile_acquired_slow(PreloadThread* t, uintptr_t lock, LockKind kind, uintptr_t pc, bool contended,
                           uint64_t wait_ns, bool in_condition_wait, HeldLock* entry = nullptr);
void profile_releasing_slow(PreloadThread* t, uintptr_t lock, bool in_condition_wait, HeldLock* entry = nullptr);
void profile_gil_signal_slow(uintptr_t cond);

// The GIL's hand-offs, as the interpreter makes them on the GIL's own mutex and
// condition (CPython 3.9-3.15 alike; 3.14's and 3.15's struct _gil_runtime_state is
// 3.13's): take_gil locks the mutex, waits on the condition
// while another thread holds the GIL, and unlocks it holding the GIL; drop_gil locks it,
// signals the condition and unlocks it. So a critical section on the GIL mutex in which
// the thread signalled the condition is a drop, any other one a take (contended when it
// waited). Only the interpreter's structure is assumed, never a struct layout; the mutex
// and condition are learned from the first wait for the GIL (wait_monitor.h).
inline void profile_gil_signal(const void* cond) {
  if (__builtin_expect(g_profiler != nullptr, 0)) profile_gil_signal_slow(reinterpret_cast<uintptr_t>(cond));
}

// A condition wait releases its mutex and takes it again inside the wait: the hold is
// timed anew, and inside the GIL mutex's critical section the wait makes a contended take.
inline void profile_wait_releasing(PreloadThread* t, const void* mutex) {
  if (__builtin_expect(g_profiler != nullptr, 0)) profile_releasing_slow(t, reinterpret_cast<uintptr_t>(mutex), true);
}
inline void profile_wait_reacquired(PreloadThread* t, const void* mutex, uintptr_t pc) {
  if (__builtin_expect(g_profiler != nullptr, 0))
    profile_acquired_slow(t, reinterpret_cast<uintptr_t>(mutex), LockKind::kMutex, pc, false, 0, true);
}

// After a successful acquisition (its held-stack entry already pushed): counts it, and
// times the hold from now. `wait_ns`: how long a contended acquisition waited.
inline void profile_acquired(PreloadThread* t, const void* lock, LockKind kind, uintptr_t pc, bool contended,
                             uint64_t wait_ns) {
  if (__builtin_expect(g_profiler != nullptr, 0))
    profile_acquired_slow(t, reinterpret_cast<uintptr_t>(lock), kind, pc, contended, wait_ns, false);
}

// A wait on a futex word through syscall(): a contended acquisition of a lock whose
// uncontended ones are invisible (Rust's std and parking_lot locks). Only the wait is
// known: no hold is timed.
inline void profile_futex_wait(PreloadThread* t, uintptr_t word, uintptr_t pc, uint64_t wait_ns) {
  if (__builtin_expect(g_profiler != nullptr, 0)) profile_acquired_slow(t, word, LockKind::kFutex, pc, true, wait_ns, false);
}

// Before a release pops the held stack: ends the timed hold.
inline void profile_releasing(PreloadThread* t, const void* lock) {
  if (__builtin_expect(g_profiler != nullptr, 0)) profile_releasing_slow(t, reinterpret_cast<uintptr_t>(lock), false);
}

// Extension calls that take or drop the GIL (gil_hooks.cpp), for the GIL profile's
// per-call-site rows: `started_ns` is profile_clock() before the real call.
void profile_gil_call_slow(PreloadThread* t, GilApi api, uintptr_t pc, uint64_t started_ns);
inline void profile_gil_call(PreloadThread* t, GilApi api, uintptr_t pc, uint64_t started_ns) {
  if (__builtin_expect(g_profiler != nullptr, 0)) profile_gil_call_slow(t, api, pc, started_ns);
}
// A C API call from extension code (capi_hooks): counted when inside a released section.
// It also marks, for the GIL profile's long holds, which extension code ran holding it.
void profile_capi_call_slow(PreloadThread* t, int capi_index);
inline void profile_capi_call(PreloadThread* t, int capi_index, uintptr_t caller_pc) {
  if (__builtin_expect(g_profiler != nullptr, 0)) {
    t->hold_capi_pc = caller_pc;
    if (t->released_since_ns) profile_capi_call_slow(t, capi_index);
  }
}

// The thread is ending: its GIL profile keeps the name it has now (threads are often
// named after they first took the GIL).
void profile_thread_ending_slow(PreloadThread* t);
inline void profile_thread_ending(PreloadThread* t) {
  if (__builtin_expect(g_profiler != nullptr, 0) && t->gil_profile) profile_thread_ending_slow(t);
}

// A clock read only when profiling: the hooks time contended waits with it.
inline uint64_t profile_clock() { return g_profiler ? monotonic_ns() : 0; }

}  // namespace gilwatch::preload
