#include "interpreters.h"

#include "got_patcher.h"
#include "python_api.h"

namespace gilwatch::preload {

std::atomic<int> g_own_gil_interpreters{0};

namespace {

// PyStatus (cpython/initconfig.h): returned by value, so the wrapper must return the
// same 32-byte structure for the call to follow the same convention.
struct Status {
  int type;  // 0: ok
  const char* func;
  const char* err_msg;
  int exitcode;
};
static_assert(sizeof(Status) == 32, "PyStatus is 32 bytes on x86_64");

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

enum HookIndex { kNewFromConfig, kEndInterpreter, kXiNew, kXiEnd, kHookCount };
got::Hook g_hooks[kHookCount];

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

Status hook_Py_NewInterpreterFromConfig(void** tstate_p, const int* config) {
  Status status = reinterpret_cast<Status (*)(void**, const int*)>(g_hooks[kNewFromConfig].original)(tstate_p, config);
  if (status.type == 0 && tstate_p && own_gil(config)) remember_own_gil(interpreter_of(*tstate_p));
  return status;
}

void hook_Py_EndInterpreter(void* tstate) {
  forget(interpreter_of(tstate));
  reinterpret_cast<void (*)(void*)>(g_hooks[kEndInterpreter].original)(tstate);
}

void* hook_PyXI_NewInterpreter(int* config, long* maybe_whence, void** tstate_p, void** save_p) {
  void* interp = reinterpret_cast<void* (*)(int*, long*, void**, void**)>(g_hooks[kXiNew].original)(
      config, maybe_whence, tstate_p, save_p);
  if (interp && own_gil(config)) remember_own_gil(reinterpret_cast<uintptr_t>(interp));
  return interp;
}

void hook_PyXI_EndInterpreter(void* interp, void* tstate, void** save_p) {
  forget(reinterpret_cast<uintptr_t>(interp));
  reinterpret_cast<void (*)(void*, void*, void**)>(g_hooks[kXiEnd].original)(interp, tstate, save_p);
}

}  // namespace

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
  if (!g_hooks[kNewFromConfig].symbol) {
    g_hooks[kNewFromConfig] = {"Py_NewInterpreterFromConfig",
                               reinterpret_cast<void*>(&hook_Py_NewInterpreterFromConfig), nullptr};
    g_hooks[kEndInterpreter] = {"Py_EndInterpreter", reinterpret_cast<void*>(&hook_Py_EndInterpreter), nullptr};
    g_hooks[kXiNew] = {"_PyXI_NewInterpreter", reinterpret_cast<void*>(&hook_PyXI_NewInterpreter), nullptr};
    g_hooks[kXiEnd] = {"_PyXI_EndInterpreter", reinterpret_cast<void*>(&hook_PyXI_EndInterpreter), nullptr};
  }
  static const void* self = reinterpret_cast<const void*>(&install_interpreter_hooks);
  got::patch_loaded_objects(g_hooks, g_python.minor >= 13 ? std::size_t(kHookCount) : std::size_t(kXiNew), self);
}

}  // namespace gilwatch::preload
