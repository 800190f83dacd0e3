#include "panic_rules.h"

#include <cstring>

namespace gilwatch {

PanicReport classify_panic(const PanicFacts& facts) {
  if (facts.holds_tracked_lock) return PanicReport::kAbandonedLock;
  if (facts.gil_held) return PanicReport::kGilHeld;
  if (facts.started_outside && !facts.ever_attached) return PanicReport::kNativeThread;
  return PanicReport::kPendingException;
}

bool is_thread_function_frame(const char* function) {
  return function && std::strstr(function, "__rust_begin_short_backtrace") != nullptr;
}

bool is_thread_start_frame(const char* function) {
  // std::sys::thread::unix::Thread::new::thread_start (the path moves between releases;
  // the function's name has not).
  return function && std::strstr(function, "Thread::new::thread_start") != nullptr;
}

bool native_panic_is_finding(bool named, bool inside_thread_function) { return named && !inside_thread_function; }

}  // namespace gilwatch
