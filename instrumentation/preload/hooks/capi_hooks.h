// capi_hooks: the capi-without-gil detector's interception. Every extension module's
// calls to a table of Python C API functions that need the GIL (docs/capi-functions.md)
// are redirected, by GOT patching, to one assembly trampoline per function
// (capi_stubs.S), which asks on_capi_call whether the calling thread holds the GIL and
// then jumps to the real function.
#pragma once

#include <cstdint>

namespace gilwatch::preload {

// Installs the hooks in every loaded object but the interpreter and libgilwatch; cheap to
// repeat (after each dlopen). Nothing until an interpreter is loaded, nor when the
// capi_checks option is off.
void install_capi_hooks();

int capi_function_count();
const char* capi_function_name(int index);

// The check every trampoline runs before the real function (lifecycle_checks.cpp):
// reports a call from a thread that does not hold the GIL. Preserves errno.
void on_capi_call(int api_index, uintptr_t caller_pc);

}  // namespace gilwatch::preload
