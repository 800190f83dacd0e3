// GIL family: the CPython calls with which extension code takes the GIL.
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

enum HookIndex {
  kEnsure,
  kRestoreThread,
  kAcquireThread,
  kAcquireLock,
  kPyMutexLock,  // 3.13+: an extension's PyMutex in its slow path (absent before: never resolved)
  kSaveThread,
  kRelease,
  kReleaseThread,
  kDlopen,  // last: only the interpreter's own dlopen is patched
  kHookCount
};

got::Hook g_hooks[kHookCount];

// Before extension code asks for the GIL: edges from every lock the thread holds to
// the GIL, the finalization check, and the wait record (a thread waiting for the GIL
// waits for its holder). Nothing when the thread already holds the GIL
// (PyGILState_Ensure is re-entrant: a nested call waits for nothing). Returns whether a
// wait was begun, for after_taking_gil.
// `tstate`: the thread state being attached (PyEval_RestoreThread, PyEval_AcquireThread),
// which says whose GIL is asked for; null for the main interpreter's (PyGILState_Ensure).
bool before_taking_gil(const char* api, uintptr_t pc, void* tstate = nullptr) {
  maybe_perturb(current_thread());
  PreloadThread* t = enter_hook();
  if (!t) return false;
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

int hook_PyGILState_Ensure() {
  uintptr_t pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  bool waited = before_taking_gil("PyGILState_Ensure", pc);
  uint64_t started = profile_clock();
  int state = reinterpret_cast<int (*)()>(g_hooks[kEnsure].original)();
  after_taking_gil(waited);
  profile_gil_call(current_thread(), GilApi::kEnsure, pc, started);
  return state;
}

void hook_PyEval_RestoreThread(void* tstate) {
  uintptr_t pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  bool waited = before_taking_gil("PyEval_RestoreThread", pc, tstate);
  uint64_t started = profile_clock();
  reinterpret_cast<void (*)(void*)>(g_hooks[kRestoreThread].original)(tstate);
  current_thread()->attached_tstate = tstate;
  after_taking_gil(waited);
  profile_gil_call(current_thread(), GilApi::kRestoreThread, pc, started);
}

void hook_PyEval_AcquireThread(void* tstate) {
  uintptr_t pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  bool waited = before_taking_gil("PyEval_AcquireThread", pc, tstate);
  uint64_t started = profile_clock();
  reinterpret_cast<void (*)(void*)>(g_hooks[kAcquireThread].original)(tstate);
  current_thread()->attached_tstate = tstate;
  after_taking_gil(waited);
  profile_gil_call(current_thread(), GilApi::kAcquireThread, pc, started);
}

void hook_PyEval_AcquireLock() {
  uintptr_t pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  bool waited = before_taking_gil("PyEval_AcquireLock", pc);
  uint64_t started = profile_clock();
  reinterpret_cast<void (*)()>(g_hooks[kAcquireLock].original)();
  after_taking_gil(waited);
  profile_gil_call(current_thread(), GilApi::kAcquireLock, pc, started);
}

// PyMutex_Lock is what an extension's inlined PyMutex_Lock calls when its compare-and-swap
// fails: a contended acquisition. CPython parks the thread with the GIL released, so it
// is a wait like a pthread mutex's (hang reports, the contention profile), never a wait
// with the GIL held. Uncontended acquisitions and releases never leave the extension.
void hook_PyMutex_Lock(void* mutex) {
  uintptr_t pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  bool waits = false;
  if (PreloadThread* t = enter_hook()) {
    waits = begin_wait(t, WaitKind::kPyMutex, reinterpret_cast<uintptr_t>(mutex), false, pc);
    leave_hook(t);
  }
  uint64_t started = profile_clock();
  reinterpret_cast<void (*)(void*)>(g_hooks[kPyMutexLock].original)(mutex);
  PreloadThread* t = current_thread();
  if (waits) end_wait(t);
  if (started) profile_acquired(t, mutex, LockKind::kPyMutex, pc, true, profile_clock() - started);
}

// The calls that drop the GIL are hooked for the GIL profile alone (they wait for
// nothing): the profile notes them before the real call, while the hold is still on.
void* hook_PyEval_SaveThread() {
  profile_gil_call(current_thread(), GilApi::kSaveThread, reinterpret_cast<uintptr_t>(__builtin_return_address(0)), 0);
  return reinterpret_cast<void* (*)()>(g_hooks[kSaveThread].original)();
}

void hook_PyGILState_Release(int state) {
  profile_gil_call(current_thread(), GilApi::kRelease, reinterpret_cast<uintptr_t>(__builtin_return_address(0)), 0);
  reinterpret_cast<void (*)(int)>(g_hooks[kRelease].original)(state);
}

void hook_PyEval_ReleaseThread(void* tstate) {
  profile_gil_call(current_thread(), GilApi::kReleaseThread, reinterpret_cast<uintptr_t>(__builtin_return_address(0)),
                   0);
  reinterpret_cast<void (*)(void*)>(g_hooks[kReleaseThread].original)(tstate);
}

// The interpreter imports extension modules with dlopen(full path) and calls their
// PyInit function right after; patching the new module here, before PyInit runs, is
// what makes its GIL calls visible. Only the interpreter's own dlopen is redirected:
// interposing dlopen process-wide would make every caller look like libgilwatch to the
// loader and break libraries that dlopen by name through their own RUNPATH.
void* hook_dlopen(const char* file, int mode) {
  void* handle = reinterpret_cast<void* (*)(const char*, int)>(g_hooks[kDlopen].original)(file, mode);
  if (handle) after_dlopen();
  return handle;
}

}  // namespace

void install_gil_hooks() {
  if (!g_hooks[kEnsure].symbol) {
    g_hooks[kEnsure] = {"PyGILState_Ensure", reinterpret_cast<void*>(&hook_PyGILState_Ensure), nullptr};
    g_hooks[kRestoreThread] = {"PyEval_RestoreThread", reinterpret_cast<void*>(&hook_PyEval_RestoreThread), nullptr};
    g_hooks[kAcquireThread] = {"PyEval_AcquireThread", reinterpret_cast<void*>(&hook_PyEval_AcquireThread), nullptr};
    g_hooks[kAcquireLock] = {"PyEval_AcquireLock", reinterpret_cast<void*>(&hook_PyEval_AcquireLock), nullptr};
    g_hooks[kPyMutexLock] = {"PyMutex_Lock", reinterpret_cast<void*>(&hook_PyMutex_Lock), nullptr};
    g_hooks[kSaveThread] = {"PyEval_SaveThread", reinterpret_cast<void*>(&hook_PyEval_SaveThread), nullptr};
    g_hooks[kRelease] = {"PyGILState_Release", reinterpret_cast<void*>(&hook_PyGILState_Release), nullptr};
    g_hooks[kReleaseThread] = {"PyEval_ReleaseThread", reinterpret_cast<void*>(&hook_PyEval_ReleaseThread), nullptr};
    g_hooks[kDlopen] = {"dlopen", reinterpret_cast<void*>(&hook_dlopen), nullptr};
  }
  if (!g_python.loaded.load(std::memory_order_acquire)) return;
  static const void* self = reinterpret_cast<const void*>(&install_gil_hooks);
  // The calls that drop the GIL matter only to the GIL profile: without it (or without a
  // GIL), they stay as they were.
  bool gil_profile = g_options.profile && python_check_applies(Check::kGilProfile);
  got::patch_loaded_objects(g_hooks, gil_profile ? std::size_t(kDlopen) : std::size_t(kSaveThread), self);
  got::patch_object_containing(g_python.interpreter_address, &g_hooks[kDlopen], 1);
  install_capi_hooks();
}

}  // namespace gilwatch::preload
