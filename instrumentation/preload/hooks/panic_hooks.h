// panic_hooks: Rust panics, seen where every unwinding panic starts — std's
// `__rust_start_panic` calls libgcc's _Unwind_RaiseException with an exception whose
// class is "MOZ\0RUST" (C++ throws pass through untouched: their class differs). The
// call is redirected by GOT patching in every loaded object but libgcc_s and this
// library, as the GIL hooks are; a panic=abort build never raises and is not seen.
//
// What is reported (docs/findings.md, rust-panic and abandoned-lock):
// - a panic raised while the thread holds the GIL (a #[pyfunction] body, code inside
//   Python::attach): rust-panic, with the Python frames of the call;
// - a panic raised while the thread holds a tracked lock: abandoned-lock (detail
//   "rust-panic"), the locks listed;
// - a panic raised with neither on a thread the program started outside the
//   interpreter that never attached to it: rust-panic "native-thread", written when the
//   thread ends after the panic was caught (tracking/native_panics.h);
// - a panic raised with neither otherwise (inside py.detach): kept as pending, and reported as
//   rust-panic once the same thread, within its next kPendingPanicCalls C API calls,
//   sets a Python exception — PyO3 turning the panic into PanicException.
// Which case applies is engine/panic_rules.h's classify_panic.
#pragma once

#include <cstdint>

namespace gilwatch::preload {

struct PreloadThread;

// Patches _Unwind_RaiseException in every loaded object. Cheap to repeat (after each
// dlopen).
void install_panic_hooks();

// From the C API check (on_capi_call): the thread `t` called C API function
// `api_index`; reports its pending panic if this call raises an exception.
void note_capi_call_after_panic(PreloadThread* t, int api_index);

}  // namespace gilwatch::preload
