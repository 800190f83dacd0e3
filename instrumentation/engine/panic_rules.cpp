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

bool is_catch_frame(const char* function) {
  // std::panicking::catch_unwind::cleanup (std::panicking::try::cleanup before 1.87, as
  // the module path moves between releases) and panic_unwind's __rust_panic_cleanup.
  return function && (std::strstr(function, "std::panicking::catch_unwind") != nullptr ||
                      std::strstr(function, "std::panicking::try") != nullptr ||
                      std::strstr(function, "__rust_panic_cleanup") != nullptr);
}

bool native_panic_is_finding(bool named, bool inside_thread_function) { return named && !inside_thread_function; }

}  // namespace gilwatch
