// panic_verdict: whether a native thread's Rust panic (rust-panic, detail
// "native-thread") stands, from the symbolized stack of the thread entry where the
// library saw it caught; the rule is the engine's (engine/panic_rules.h). Pure,
// unit-tested (tests/unit/test_panic_rules.cpp).
#pragma once

#include <vector>

#include "model.h"

namespace gilwatch::harness {

// True when `f` is to be kept: its catch stack's Rust frames are named, std's thread
// main caught the panic, and the catch was outside the thread's function (the panic
// ended the thread). A catch_unwind inside the worker or in a start routine of the
// program's own, or a stack that could not be named, drops it.
bool native_thread_panic_stands(const report::Finding& f);
// What `gilwatch` calls the catch entry (result_format::kRoleNativePanicCaught) in a
// finding it keeps.
inline constexpr const char* kRoleNativePanicCaughtByWrapper =
    "std's thread wrapper caught the panic here, outside the thread's function: the thread ended (its JoinHandle gets Err)";
// For a finding that stands: the catch entry's role in those words.
void word_native_thread_panic(report::Finding& f);

}  // namespace gilwatch::harness
