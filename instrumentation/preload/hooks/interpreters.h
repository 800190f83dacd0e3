// interpreters: which GIL a thread holds or asks for, once interpreters with a GIL of
// their own exist (CPython 3.12+, PEP 684). Until then every thread state belongs to the
// one GIL of the main interpreter, and everything here costs one relaxed load.
//
// An interpreter has its own GIL when it was created with PyInterpreterConfig.gil ==
// PyInterpreterConfig_OWN_GIL (2). The config is public API (cpython/pylifecycle.h, the
// same seven ints in 3.12-3.15), so it is read, not guessed: the creating calls are
// redirected by GOT patching —
//   Py_NewInterpreterFromConfig(tstate_p, config)   3.12+, from extensions and from
//                                                   3.12's _xxsubinterpreters
//   _PyXI_NewInterpreter(config, whence, tstate_p, save_p)  3.13-3.15 (the same
//                                                   signature in each), from _interpreters
//                                                   (3.14's concurrent.interpreters)
// and the interpreter recorded (PyThreadState_GetInterpreter of the new state) until
// Py_EndInterpreter / _PyXI_EndInterpreter. Interpreters created inside libpython by a
// path that calls neither from another module are not seen: they count as sharing the
// main GIL (docs/support.md).
#pragma once

#include <atomic>
#include <cstdint>

namespace gilwatch::preload {

extern std::atomic<int> g_own_gil_interpreters;  // how many are alive

// Patches the creating and ending calls in every loaded module (after each dlopen).
void install_interpreter_hooks();

// The GIL of the interpreter `tstate` belongs to: 0 for the main interpreter's (shared by
// every interpreter without its own), else that interpreter's address.
uintptr_t gil_of_thread_state_slow(void* tstate);
inline uintptr_t gil_of_thread_state(void* tstate) {
  return g_own_gil_interpreters.load(std::memory_order_relaxed) ? gil_of_thread_state_slow(tstate) : 0;
}

// The GIL the calling thread holds (call only when it holds one).
uintptr_t current_gil_slow();
inline uintptr_t current_gil() {
  return g_own_gil_interpreters.load(std::memory_order_relaxed) ? current_gil_slow() : 0;
}

}  // namespace gilwatch::preload
