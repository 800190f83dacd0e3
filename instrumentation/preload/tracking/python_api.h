// python_api: the few CPython functions the preload calls itself, found with dlsym once
// an interpreter is present (linked into the executable, or a shared libpython). The
// library never links libpython: one build serves every version.
#pragma once

#include <atomic>

#include "detector.h"
#include "free_threading.h"
#include "python_layout.h"

namespace gilwatch::preload {

struct PythonApi {
  std::atomic<bool> loaded{false};
  int major = 0, minor = 0;
  char version[96] = {};
  // Thread state bound to this OS thread (PyGILState), and the thread state currently
  // holding the GIL (through 3.11: one global; from 3.12: this thread's attached state).
  void* (*this_thread_state)() = nullptr;
  void* (*current_unchecked)() = nullptr;
  bool current_is_per_thread = false;
  // The interpreter a thread state belongs to (3.9+): which GIL, with per-interpreter GILs.
  void* (*thread_state_interpreter)(void*) = nullptr;
  // Frame walking (3.9+).
  void* (*get_frame)() = nullptr;
  void* (*frame_get_code)(void*) = nullptr;
  void* (*frame_get_back)(void*) = nullptr;
  int (*frame_get_line)(void*) = nullptr;
  void* (*getattr)(void*, const char*) = nullptr;
  const char* (*as_utf8)(void*) = nullptr;
  void (*decref)(void*) = nullptr;
  void (*err_fetch)(void**, void**, void**) = nullptr;
  void (*err_restore)(void*, void*, void*) = nullptr;
  void (*err_clear)() = nullptr;
  // Where the interpreter's code lives (to patch its dlopen and skip its own calls).
  const void* interpreter_address = nullptr;
  uintptr_t interpreter_text[4][2] = {};  // executable segments of that object
  int interpreter_text_count = 0;
  // Finalization: Py_IsFinalizing (3.13+) or _Py_IsFinalizing (3.7–3.12).
  int (*is_finalizing)() = nullptr;
  int (*is_initialized)() = nullptr;
  // The runtime's record of the thread state that runs finalization
  // (_PyRuntime._finalizing), or null where its place is not known for this version.
  void* const* finalizing_tstate = nullptr;
  // A free-threaded build (3.13t+, free_threading.h): set before `loaded`, never changed.
  // There the checks that assume a GIL are off; thread_holds_gil() is always false.
  bool free_threaded = false;
  // Where a Python frame records that C began it (python_layout.h): 3.11+ release builds.
  FrameEntryLayout frame_entry_layout;
};

extern PythonApi g_python;

// Looks for an interpreter in the global scope; cheap when already found or absent.
// Returns true when the interpreter was found by this call.
bool resolve_python_api();

// Does `check` apply to the interpreter found (every check before one is found)?
inline bool python_check_applies(Check check) {
  return check_applies(check, g_python.free_threaded ? PythonThreading::kFreeThreaded : PythonThreading::kGil);
}

// Is the interpreter found (major.minor parsed from Py_GetVersion) one of the versions
// gilwatch is tested with (docs/support.md)? False before one is found.
bool python_version_tested();

// Is `pc` inside the interpreter's own code (libpython, or the executable that links it)?
bool interpreter_contains(uintptr_t pc);

// Has interpreter finalization begun (the interpreter's own flag, or the atexit marker
// set through gilwatch_python_exit_begun)?
bool python_finalizing();

// Is the calling thread the one that runs interpreter finalization? It may release and
// take the GIL again while it tears objects down (an sqlite3 connection closed, a
// ResourceWarning printed): that is no finalization-attach. It is the thread that marked
// the exit boundary (atexit handlers run on the thread that calls Py_FinalizeEx), or the
// one whose thread state the runtime records as finalizing. `tstate`: the thread state
// the caller is attaching, when the call names one.
bool finalizing_thread(const void* tstate);

// Appends the calling thread's Python frames (innermost first). The caller holds the GIL.
void capture_python_frames(EvidenceCapture& out);

}  // namespace gilwatch::preload
