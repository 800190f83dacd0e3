// hooks: what is made from the hook list (hooks.def) for the wrappers to use. It decides
// how each family's real function is found (one way per family, the list's comment says
// which); what a wrapper does with a call is its family file's business.
//
// - real::name(): the real libc function of a GW_INTERPOSE or GW_NEXT entry, resolved on
//   first use (a hook can run before the library's constructor) and kept in g_real.
// - hooks::name: the wrapper of a GW_GOT entry, declared here with the list's type and
//   defined in its family's file; original::name(): its real function.
// - got_hooks(family), got_hook_count(family): a GOT family's table, for
//   got::patch_loaded_objects. The tables are filled by init_got_hooks().
// - CapiFunction::name: a GW_CAPI entry's index (the trampoline's, capi_hooks.h).
#pragma once

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cstddef>

#include "got_patcher.h"

namespace gilwatch::preload {

// ---- interposed libc functions (GW_INTERPOSE, GW_NEXT) ----

// The real functions, each of the type of its libc declaration.
struct RealFunctions {
#define GW_INTERPOSE(name, version) decltype(&::name) name;
#define GW_NEXT(name, version) decltype(&::name) name;
#include "hooks.def"
};

extern RealFunctions g_real;

// dlvsym(RTLD_NEXT, name, version) when a version is given and found, else
// dlsym(RTLD_NEXT, name).
void* resolve_real(const char* name, const char* version);

namespace real {
#define GW_REAL_ACCESSOR(name, version)                                               \
  inline decltype(&::name) name() {                                                   \
    if (__builtin_expect(g_real.name == nullptr, 0))                                  \
      g_real.name = reinterpret_cast<decltype(&::name)>(resolve_real(#name, version)); \
    return g_real.name;                                                               \
  }
#define GW_INTERPOSE(name, version) GW_REAL_ACCESSOR(name, version)
#define GW_NEXT(name, version) GW_REAL_ACCESSOR(name, version)
#include "hooks.def"
#undef GW_REAL_ACCESSOR
}  // namespace real

// ---- GOT-patched functions (GW_GOT) ----

// PyStatus (cpython/initconfig.h), returned by value by Py_NewInterpreterFromConfig;
// defined in interpreters.cpp.
struct PyStatusValue;

namespace hooks {
#define GW_GOT(family, name, ret, params) ret name params;
#include "hooks.def"
}  // namespace hooks

enum class GotFamily { gil_take, gil_drop, interpreter_dlopen, library_dlsym, subinterpreter, subinterpreter_xi, rust_panic };

// Every GOT hook's index in g_got_hooks, in the list's order.
enum class GotHook {
#define GW_GOT(family, name, ret, params) name,
#include "hooks.def"
  kCount
};
inline constexpr int kGotHookCount = int(GotHook::kCount);

inline constexpr GotFamily kGotHookFamily[kGotHookCount] = {
#define GW_GOT(family, name, ret, params) GotFamily::family,
#include "hooks.def"
};

extern got::Hook g_got_hooks[kGotHookCount];

// Fills g_got_hooks with each entry's name and wrapper (the originals stay as they are).
// Idempotent; called by each family's install function before it patches.
void init_got_hooks();

constexpr int got_family_first(GotFamily family) {
  for (int i = 0; i < kGotHookCount; ++i)
    if (kGotHookFamily[i] == family) return i;
  return kGotHookCount;
}
constexpr int got_hook_count(GotFamily family) {
  int count = 0;
  for (int i = 0; i < kGotHookCount; ++i) count += kGotHookFamily[i] == family;
  return count;
}
// A family is one table: its entries are contiguous in the list.
constexpr bool got_families_contiguous() {
  for (int i = 0; i < kGotHookCount; ++i)
    if (i < got_family_first(kGotHookFamily[i]) ||
        i >= got_family_first(kGotHookFamily[i]) + got_hook_count(kGotHookFamily[i]))
      return false;
  return true;
}
static_assert(got_families_contiguous(), "hooks.def: a GW_GOT family's lines must be together");

inline got::Hook* got_hooks(GotFamily family) { return &g_got_hooks[got_family_first(family)]; }

namespace original {
#define GW_GOT(family, name, ret, params)                                                   \
  inline decltype(&hooks::name) name() {                                                    \
    return reinterpret_cast<decltype(&hooks::name)>(g_got_hooks[int(GotHook::name)].original); \
  }
#include "hooks.def"
}  // namespace original

// ---- C API functions checked for the GIL (GW_CAPI) ----

enum class CapiFunction {
#define GW_CAPI(name) name,
#include "hooks.def"
  kCount
};
inline constexpr int kCapiFunctionCount = int(CapiFunction::kCount);

}  // namespace gilwatch::preload
