// panic_rules: what a Rust panic is, from the facts the panic hook gathers at the raise
// (preload/hooks/panic_hooks.cpp), and whether a panic on a native thread stands once
// `gilwatch` has symbolized where it was caught (harness/results/merge.cpp).
//
// A panic is reported by what its thread held and what the thread is:
//   abandoned-lock (detail "rust-panic")  it holds a tracked (pthread) lock
//   rust-panic "gil-held"                 it holds the GIL
//   rust-panic "native-thread"            a thread the program started outside the
//                                          interpreter that never attached to it: the
//                                          panic can reach no Python caller
//   rust-panic "panic-exception"          otherwise (py.detach): reported if it then
//                                          reaches Python as an exception
//
// A native thread's panic is "not caught and handled as a value" when it ends the
// thread: std's thread wrapper catches it outside the thread's function (the thread
// ends, its JoinHandle gets Err). A `catch_unwind` inside the worker catches it within
// the thread's function, which std runs inside `__rust_begin_short_backtrace` (an
// `#[inline(never)]` frame of every spawned thread): that frame is on the stack where
// the panic was caught (as a real frame, or an inlined level of one: `gilwatch` lists
// both). The library records the catch's stack when the thread ends after a caught
// panic; `gilwatch` names its frames and asks here. A stack it cannot name (a stripped
// binary) is left out: no finding rather than a false one.
//
// Pure: no I/O, no allocation. Unit-tested in tests/unit/test_panic_rules.cpp.
#pragma once

#include <cstddef>

namespace gilwatch {

enum class PanicReport : unsigned char {
  kAbandonedLock,     // abandoned-lock, detail "rust-panic"
  kGilHeld,           // rust-panic, detail "gil-held"
  kNativeThread,      // rust-panic, detail "native-thread" (judged when the thread ends)
  kPendingException,  // rust-panic, detail "panic-exception", if it reaches Python
};

struct PanicFacts {
  bool gil_held;            // the raising thread holds the GIL
  bool holds_tracked_lock;  // ...or a lock the detector tracks (not the GIL)
  bool started_outside;     // the program started it outside the interpreter (pthread_create)
  bool ever_attached;       // it has attached to the interpreter (a GIL request) at some time
};

PanicReport classify_panic(const PanicFacts& facts);

// Frame names of the stack where a native thread's panic was caught (innermost first).
// `inside_thread_function`: a frame is std's `__rust_begin_short_backtrace` (the caught
// panic did not leave the thread's function). `named`: a frame is the catch itself —
// std's `catch_unwind` cleanup or the panic runtime's `__rust_panic_cleanup`, which free
// the exception — proof that the stack's Rust frames were named.
// `caught_by_thread_main`: the function that caught it (the frame after the catch's own,
// with its inlined levels) is std's thread main — the closure `spawn_unchecked` makes,
// called through a `FnOnce` vtable shim — and not a function of the program's (a thread
// the program started with pthread_create itself, catching in its own start routine).
bool is_thread_function_frame(const char* function);
bool is_catch_frame(const char* function);
bool is_thread_main_frame(const char* function);
// The verdict: a finding when the catch stack is named and std's thread main caught the
// panic outside the thread's function.
bool native_panic_is_finding(bool named, bool inside_thread_function, bool caught_by_thread_main);

}  // namespace gilwatch
