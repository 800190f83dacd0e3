// GIL family: the CPython calls with which extension code takes and drops the GIL, and
// the interpreter's dlopen (hooks.def: gil_take, gil_drop, interpreter_dlopen). This
// file decides what each call tells the engine and which of the families are patched;
// the list of functions and their tables come from hooks.def.
//
// These are installed by GOT patching (got_patcher), not by LD_PRELOAD: in an
// interpreter with libpython linked into the executable (Debian's python3.11) the
// executable's own definitions win over any preloaded one, so only rewriting each
// extension module's relocation slots sees its calls. The interpreter's own internal
// calls are not rewritten: they are not extension code.
//
// A thread that holds native locks and asks for the GIL adds lock -> GIL edges; the
// opposite direction (GIL -> lock) is seen by the pthread hooks, which ask the
// interpreter whether the locking thread holds the GIL.
#include <dlfcn.h>

#include "gil_hooks.h"

#include "capi_hooks.h"
#include "interpreters.h"
#include "lifecycle_checks.h"
#include "lock_profiling.h"
#include "python_api.h"
#include "runtime.h"
#include "wait_monitor.h"

namespace gilwatch::preload {

namespace {

// Before extension code asks for the GIL: edges from every lock the thread holds to
// the GIL, the finalization check, and the wait record (a thread waiting for the GIL
// waits for its holder). Nothing when the thread already holds the GIL
// (PyGILState_Ensure is re-entrant: a nested call waits for nothing). Returns whether a
// wait was begun, for after_taking_gil.
// `tstate`: the thread state being attached (PyEval_RestoreThread, PyEval_AcquireThread),
// which says whose GIL is asked for; null for the main interpreter's (PyGILState_Ensure).
bool before_taking_gil(const char* api, uintptr_t pc, void* tstate = nullptr) {
  maybe_perturb_attach(current_thread());
  PreloadThread* t = enter_hook();
  if (!t) return false;
  note_attach(t, api, pc);
  bool waits = false;
  if (g_python.free_threaded) {
    // No GIL to order, wait for or hand off: attaching still counts during finalization
    // (and a thread the runtime ends inside its request, check_exit_in_gil_request).
    // An attached thread's nested PyGILState_Ensure attaches nothing.
    if (!g_python.current_unchecked || !g_python.current_unchecked()) {
      check_gil_request(t, api, pc, tstate);
      t->in_gil_request = true;
    }
  } else if (!thread_holds_gil()) {
    t->state.gil = gil_of_thread_state(tstate);
    if (t->state.depth > 0 && g_detector->before_gil_acquire(t->state)) report_new_findings_from_hook(t);
    note_acquisition_under_futex_words(t, 0, LockKind::kGil, LockMode::kWrite, t->state.gil, pc);
    check_gil_request(t, api, pc, tstate);
    waits = begin_wait(t, WaitKind::kGil, 0, false, pc, 0, t->state.gil);
    t->in_gil_request = true;
  }
  leave_hook(t);
  return waits;
}

void after_taking_gil(bool waited) {
  PreloadThread* t = current_thread();
  t->in_gil_request = false;
  if (waited) end_wait(t);
}

}  // namespace

// The wrappers (hooks.def: the gil_take, gil_drop and interpreter_dlopen families).

int hooks::PyGILState_Ensure() {
  uintptr_t pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  bool waited = before_taking_gil("PyGILState_Ensure", pc);
  uint64_t started = profile_clock();
  int state = original::PyGILState_Ensure()();
  after_taking_gil(waited);
  profile_gil_call(current_thread(), GilApi::kEnsure, pc, started);
  return state;
}

void hooks::PyEval_RestoreThread(void* tstate) {
  uintptr_t pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  bool waited = before_taking_gil("PyEval_RestoreThread", pc, tstate);
  uint64_t started = profile_clock();
  original::PyEval_RestoreThread()(tstate);
  current_thread()->attached_tstate = tstate;
  after_taking_gil(waited);
  profile_gil_call(current_thread(), GilApi::kRestoreThread, pc, started);
}

void hooks::PyEval_AcquireThread(void* tstate) {
  uintptr_t pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  bool waited = before_taking_gil("PyEval_AcquireThread", pc, tstate);
  uint64_t started = profile_clock();
  original::PyEval_AcquireThread()(tstate);
  current_thread()->attached_tstate = tstate;
  after_taking_gil(waited);
  profile_gil_call(current_thread(), GilApi::kAcquireThread, pc, started);
}

void hooks::PyEval_AcquireLock() {
  uintptr_t pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  bool waited = before_taking_gil("PyEval_AcquireLock", pc);
  uint64_t started = profile_clock();
  original::PyEval_AcquireLock()();
  after_taking_gil(waited);
  profile_gil_call(current_thread(), GilApi::kAcquireLock, pc, started);
}

// PyMutex_Lock is what an extension's inlined PyMutex_Lock calls when its compare-and-swap
// fails: a contended acquisition. CPython parks the thread with the GIL released, so it
// is a wait like a pthread mutex's (hang reports, the contention profile), never a wait
// with the GIL held. Uncontended acquisitions and releases never leave the extension.
void hooks::PyMutex_Lock(void* mutex) {
  uintptr_t pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  bool waits = false;
  if (PreloadThread* t = enter_hook()) {
    waits = begin_wait(t, WaitKind::kPyMutex, reinterpret_cast<uintptr_t>(mutex), false, pc);
    leave_hook(t);
  }
  uint64_t started = profile_clock();
  original::PyMutex_Lock()(mutex);
  PreloadThread* t = current_thread();
  if (waits) end_wait(t);
  if (started) profile_acquired(t, mutex, LockKind::kPyMutex, pc, true, profile_clock() - started);
}

// The calls that drop the GIL are hooked for the GIL profile alone (they wait for
// nothing): the profile notes them before the real call, while the hold is still on.
void* hooks::PyEval_SaveThread() {
  profile_gil_call(current_thread(), GilApi::kSaveThread, reinterpret_cast<uintptr_t>(__builtin_return_address(0)), 0);
  return original::PyEval_SaveThread()();
}

void hooks::PyGILState_Release(int state) {
  profile_gil_call(current_thread(), GilApi::kRelease, reinterpret_cast<uintptr_t>(__builtin_return_address(0)), 0);
  original::PyGILState_Release()(state);
}

void hooks::PyEval_ReleaseThread(void* tstate) {
  profile_gil_call(current_thread(), GilApi::kReleaseThread, reinterpret_cast<uintptr_t>(__builtin_return_address(0)),
                   0);
  original::PyEval_ReleaseThread()(tstate);
}

// The interpreter imports extension modules with dlopen(full path) and calls their
// PyInit function right after; patching the new module here, before PyInit runs, is
// what makes its GIL calls visible. Only the interpreter's own dlopen is redirected:
// interposing dlopen process-wide would make every caller look like libgilwatch to the
// loader and break libraries that dlopen by name through their own RUNPATH.
void* hooks::dlopen(const char* file, int mode) {
  void* handle = original::dlopen()(file, mode);
  if (handle) after_dlopen();
  return handle;
}

}  // namespace gilwatch::preload

// dlsym_stub.S: the real dlsym it jumps to, and the pass it runs first (a library that
// Python code or an extension loaded itself is reached through dlsym before its code
// runs). Reentrant lookups (from a pass) are left to enter_hook, which refuses them.
extern "C" {
__attribute__((visibility("hidden"))) void* gilwatch_real_dlsym = reinterpret_cast<void*>(&::dlsym);
}
extern "C" __attribute__((visibility("hidden"))) void gilwatch_library_lookup() { gilwatch::preload::after_dlopen(); }

namespace gilwatch::preload {

void install_gil_hooks() {
  init_got_hooks();
  if (!g_python.loaded.load(std::memory_order_acquire)) return;
  static const void* self = reinterpret_cast<const void*>(&install_gil_hooks);
  // The calls that drop the GIL matter only to the GIL profile: without it (or without a
  // GIL), they stay as they were. The drops follow the takes in the list: one table.
  static_assert(got_family_first(GotFamily::gil_drop) ==
                got_family_first(GotFamily::gil_take) + got_hook_count(GotFamily::gil_take));
  bool gil_profile = g_options.profile && python_check_applies(Check::kGilProfile);
  got::patch_loaded_objects(got_hooks(GotFamily::gil_take),
                            std::size_t(got_hook_count(GotFamily::gil_take) +
                                        (gil_profile ? got_hook_count(GotFamily::gil_drop) : 0)),
                            self);
  got::patch_object_containing(g_python.interpreter_address, got_hooks(GotFamily::interpreter_dlopen),
                               std::size_t(got_hook_count(GotFamily::interpreter_dlopen)));
  // dlsym everywhere else (not in libgilwatch, nor in libc, which defines it): libraries
  // loaded by ctypes, cffi or a plugin loader are followed from their first lookup.
  got::Hook* dlsym_hook = got_hooks(GotFamily::library_dlsym);
  dlsym_hook->original = gilwatch_real_dlsym;
  got::patch_loaded_objects(dlsym_hook, std::size_t(got_hook_count(GotFamily::library_dlsym)), self);
  install_capi_hooks();
}

}  // namespace gilwatch::preload
