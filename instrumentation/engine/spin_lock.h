// The engine lock: serializes the rare slow paths (a lock seen for the first time, a new
// lock-order edge, freed lock memory). It cannot be a pthread mutex: the preload wraps
// those, and a hook must never recurse into itself. Contention is rare and short, so a
// test-and-test-and-set loop that yields the CPU is enough.
#pragma once

#include <sched.h>

#include <atomic>

namespace gilwatch {

class SpinLock {
 public:
  void lock() {
    for (int spins = 0;; ++spins) {
      if (!locked_.load(std::memory_order_relaxed) &&
          !locked_.exchange(true, std::memory_order_acquire))
        return;
      if (spins > 64) sched_yield();
    }
  }
  bool try_lock() {
    return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() { locked_.store(false, std::memory_order_release); }
  // After fork(): the child has one thread, so whoever held the lock is gone.
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
