#include "interpreters.h"

#include "hooks.h"
#include "python_api.h"

namespace gilwatch::preload {

std::atomic<int> g_own_gil_interpreters{0};

// PyStatus (cpython/initconfig.h): returned by value, so the wrapper must return the
// same 32-byte structure for the call to follow the same convention.
struct PyStatusValue {
  int type;  // 0: ok
  const char* func;
  const char* err_msg;
  int exitcode;
};
static_assert(sizeof(PyStatusValue) == 32, "PyStatus is 32 bytes on x86_64");

namespace {

// PyInterpreterConfig (cpython/pylifecycle.h, 3.12-3.15): seven ints, `gil` last;
// PyStatus (cpython/initconfig.h) is the same in all of them. _PyXI_NewInterpreter and
// _PyXI_EndInterpreter (internal/pycore_crossinterp.h) have the same signatures in
// 3.13, 3.14 and 3.15; 3.12 has neither (its _xxsubinterpreters calls
// Py_NewInterpreterFromConfig).
constexpr int kNewestReadMinor = 15;
constexpr int kConfigGilIndex = 6;
constexpr int kOwnGil = 2;  // PyInterpreterConfig_OWN_GIL

constexpr int kMaxInterpreters = 64;
std::atomic<uintptr_t> g_own[kMaxInterpreters];

uintptr_t interpreter_of(void* tstate) {
  if (!tstate || !g_python.thread_state_interpreter) return 0;
  return reinterpret_cast<uintptr_t>(g_python.thread_state_interpreter(tstate));
}

void remember_own_gil(uintptr_t interp) {
  if (!interp) return;
  for (auto& slot : g_own) {
    uintptr_t empty = 0;
    if (slot.compare_exchange_strong(empty, interp, std::memory_order_acq_rel)) {
      g_own_gil_interpreters.fetch_add(1, std::memory_order_acq_rel);
      return;
    }
  }
  // More than 64 at once: the rest count as sharing the main GIL.
}

void forget(uintptr_t interp) {
  if (!interp) return;
  for (auto& slot : g_own) {
    uintptr_t expected = interp;
    if (slot.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) {
      g_own_gil_interpreters.fetch_sub(1, std::memory_order_acq_rel);
      return;
    }
  }
}

bool own_gil(const int* config) { return config && config[kConfigGilIndex] == kOwnGil; }

}  // namespace

// The wrappers (hooks.def: the subinterpreter and subinterpreter_xi families).

PyStatusValue hooks::Py_NewInterpreterFromConfig(void** tstate_p, const int* config) {
  PyStatusValue status = original::Py_NewInterpreterFromConfig()(tstate_p, config);
  if (status.type == 0 && tstate_p && own_gil(config)) remember_own_gil(interpreter_of(*tstate_p));
  return status;
}

void hooks::Py_EndInterpreter(void* tstate) {
  forget(interpreter_of(tstate));
  original::Py_EndInterpreter()(tstate);
}

void* hooks::_PyXI_NewInterpreter(int* config, long* maybe_whence, void** tstate_p, void** save_p) {
  void* interp = original::_PyXI_NewInterpreter()(config, maybe_whence, tstate_p, save_p);
  if (interp && own_gil(config)) remember_own_gil(reinterpret_cast<uintptr_t>(interp));
  return interp;
}

void hooks::_PyXI_EndInterpreter(void* interp, void* tstate, void** save_p) {
  forget(reinterpret_cast<uintptr_t>(interp));
  original::_PyXI_EndInterpreter()(interp, tstate, save_p);
}

uintptr_t gil_of_thread_state_slow(void* tstate) {
  uintptr_t interp = interpreter_of(tstate);
  if (!interp) return 0;
  for (auto& slot : g_own)
    if (slot.load(std::memory_order_acquire) == interp) return interp;
  return 0;
}

uintptr_t current_gil_slow() {
  return g_python.current_unchecked ? gil_of_thread_state_slow(g_python.current_unchecked()) : 0;
}

void install_interpreter_hooks() {
  if (!g_python.loaded.load(std::memory_order_acquire)) return;
  // Per-interpreter GILs exist from 3.12 on. The config layout and _PyXI_NewInterpreter's
  // signature were read from the 3.12-3.15 headers (the same in all four: see
  // kNewestReadMinor); a later version is left alone rather than read with a guessed layout.
  if (g_python.major != 3 || g_python.minor < 12 || g_python.minor > kNewestReadMinor ||
      !g_python.thread_state_interpreter)
    return;
  init_got_hooks();
  static const void* self = reinterpret_cast<const void*>(&install_interpreter_hooks);
  // _PyXI_* (3.13+) follow the public calls in the list: one table.
  static_assert(got_family_first(GotFamily::subinterpreter_xi) ==
                got_family_first(GotFamily::subinterpreter) + got_hook_count(GotFamily::subinterpreter));
  int count = got_hook_count(GotFamily::subinterpreter);
  if (g_python.minor >= 13) count += got_hook_count(GotFamily::subinterpreter_xi);
  got::patch_loaded_objects(got_hooks(GotFamily::subinterpreter), std::size_t(count), self);
}

}  // namespace gilwatch::preload
