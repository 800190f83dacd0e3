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

void profile_acquired_slow(PreloadThread* t, uintptr_t lock, LockKind kind, uintptr_t pc, bool contended,
                           uint64_t wait_ns);
void profile_releasing_slow(PreloadThread* t, uintptr_t lock);

// After a successful acquisition (its held-stack entry already pushed): counts it, and
// times the hold from now. `wait_ns`: how long a contended acquisition waited.
inline void profile_acquired(PreloadThread* t, const void* lock, LockKind kind, uintptr_t pc, bool contended,
                             uint64_t wait_ns) {
  if (__builtin_expect(g_profiler != nullptr, 0))
    profile_acquired_slow(t, reinterpret_cast<uintptr_t>(lock), kind, pc, contended, wait_ns);
}

// Before a release pops the held stack: ends the timed hold.
inline void profile_releasing(PreloadThread* t, const void* lock) {
  if (__builtin_expect(g_profiler != nullptr, 0)) profile_releasing_slow(t, reinterpret_cast<uintptr_t>(lock));
}

// A clock read only when profiling: the hooks time contended waits with it.
inline uint64_t profile_clock() { return g_profiler ? monotonic_ns() : 0; }

}  // namespace gilwatch::preload
