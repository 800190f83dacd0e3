// hooks: the tables made from the hook list (hooks.def), how a real libc function is
// found, and which way pthread_mutex_lock takes (runtime.h). See hooks.h.
#include "hooks.h"

#include "python_api.h"
#include "runtime.h"

namespace gilwatch::preload {

RealFunctions g_real;
got::Hook g_got_hooks[kGotHookCount];

void* resolve_real(const char* name, const char* version) {
  void* fn = version ? dlvsym(RTLD_NEXT, name, version) : nullptr;
  if (!fn) fn = dlsym(RTLD_NEXT, name);
  return fn;
}

// Filled at run time rather than by a static initializer: a function's address cast to
// void* is not a constant expression, and a dynamic initializer could run after the
// constructor that installs the hooks.
void init_got_hooks() {
  if (g_got_hooks[0].symbol) return;
#define GW_GOT(family, name, ret, params)                 \
  g_got_hooks[int(GotHook::name)].symbol = #name;         \
  g_got_hooks[int(GotHook::name)].replacement = reinterpret_cast<void*>(&hooks::name);
#include "hooks.def"
}

std::atomic<MutexLockWay> g_mutex_lock_way{MutexLockWay::kGeneral};

void refresh_mutex_lock_way() {
  // Resolved here, ahead of the first lock, so that the fast path never has to.
  bool ready = g_detector && real::pthread_mutex_lock() && real::pthread_mutex_trylock();
  MutexLockWay way = MutexLockWay::kGeneral;
  if (ready && g_options.perturb_us != 0)
    way = MutexLockWay::kPerturbed;
  else if (ready && g_python.loaded.load(std::memory_order_acquire) && !g_python.free_threaded)
    way = MutexLockWay::kFastAskingGil;
  else if (ready)
    way = MutexLockWay::kFast;
  g_mutex_lock_way.store(way, std::memory_order_release);
}

}  // namespace gilwatch::preload
