// The engine lock: serializes the rare slow paths (a lock seen for the first time, a new
// lock-order edge, freed lock memory). It cannot be a pthread mutex: the preload wraps
// those, and a hook must never recurse into itself. Contention is rare and short, so a
// test-and-test-and-set loop that yields the CPU is enough.
#pragma once

#include <sched.h>

#include <atomic>

namespace gilwatch {

// How many engine locks the calling thread holds, and work a signal handler deferred
// until it holds none. A handler that needs engine locks (the hang report) must not
// run while its own thread holds one — it would wait for itself — so it leaves its
// work here and the last unlock runs it, outside the handler.
namespace spin_lock_state {
inline thread_local int t_held = 0;
inline thread_local bool t_deferred = false;
inline void (*g_deferred_work)() = nullptr;
}  // namespace spin_lock_state

class SpinLock {
 public:
  void lock() {
    for (int spins = 0;; ++spins) {
      if (!locked_.load(std::memory_order_relaxed) &&
          !locked_.exchange(true, std::memory_order_acquire)) {
        ++spin_lock_state::t_held;
        return;
      }
      if (spins > 64) sched_yield();
    }
  }
  bool try_lock() {
    bool taken = !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
    if (taken) ++spin_lock_state::t_held;
    return taken;
  }
  void unlock() {
    locked_.store(false, std::memory_order_release);
    if (--spin_lock_state::t_held == 0 && spin_lock_state::t_deferred) {
      spin_lock_state::t_deferred = false;
      if (spin_lock_state::g_deferred_work) spin_lock_state::g_deferred_work();
    }
  }
  // After fork(): the child has one thread, so whoever held the lock is gone.
  // The caller also sets spin_lock_state::t_held to 0 once every lock is reset.
  void reset_after_fork() { locked_.store(false, std::memory_order_relaxed); }

 private:
  std::atomic<bool> locked_{false};
};

class SpinLockGuard {
 public:
  explicit SpinLockGuard(SpinLock& l) : lock_(l) { lock_.lock(); }
  ~SpinLockGuard() { lock_.unlock(); }
  SpinLockGuard(const SpinLockGuard&) = delete;
  SpinLockGuard& operator=(const SpinLockGuard&) = delete;

 private:
  SpinLock& lock_;
};

}  // namespace gilwatch
