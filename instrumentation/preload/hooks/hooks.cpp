// hooks: the tables made from the hook list (hooks.def), and how a real libc function is
// found. See hooks.h.
#include "hooks.h"

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

}  // namespace gilwatch::preload
