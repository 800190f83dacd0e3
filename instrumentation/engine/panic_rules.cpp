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

bool is_thread_main_frame(const char* function) {
  // std::thread::lifecycle::spawn_unchecked::{closure#1} (1.95; Builder::spawn_unchecked_
  // before), inlined into core::ops::function::FnOnce::call_once{{vtable.shim}} — the one
  // name left when the binary has symbols but no debug information.
  return function && (std::strstr(function, "spawn_unchecked") != nullptr ||
                      std::strstr(function, "FnOnce::call_once{{vtable.shim}}") != nullptr);
}

bool native_panic_is_finding(bool named, bool inside_thread_function, bool caught_by_thread_main) {
  return named && !inside_thread_function && caught_by_thread_main;
}

}  // namespace gilwatch
