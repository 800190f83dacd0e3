#include "capi_hooks.h"

#include <dlfcn.h>

#include "hooks.h"
#include "python_api.h"
#include "runtime.h"

namespace {

// The C API functions checked (hooks.def, GW_CAPI): a function is there when the CPython
// documentation requires an attached thread state (the GIL) to call it; functions that
// are documented as callable without it are left out (docs/capi-functions.md). Names a
// given version lacks are skipped. Index i is trampoline i's (capi_stubs.S).
constexpr const char* kCheckedFunctions[] = {
#define GW_CAPI(name) #name,
#include "hooks.def"
};

constexpr int kFunctionCount = int(sizeof(kCheckedFunctions) / sizeof(kCheckedFunctions[0]));
static_assert(kFunctionCount == gilwatch::preload::kCapiFunctionCount);

gilwatch::got::Hook g_hooks[kFunctionCount];
int g_hook_count = 0;  // resolved hooks, compacted at the front of g_hooks
bool g_resolved = false;

}  // namespace

extern "C" {
// The real function of each stub index; read by the stubs (capi_stubs.S). Every entry
// is set before any slot points to its stub.
__attribute__((visibility("hidden"))) void* gilwatch_capi_originals[kFunctionCount];
extern void* gilwatch_capi_stub_table[kFunctionCount];

__attribute__((visibility("hidden"))) void gilwatch_capi_check(uint32_t index, uintptr_t caller_pc) {
  gilwatch::preload::on_capi_call(int(index), caller_pc);
}
}

namespace gilwatch::preload {

int capi_function_count() { return kFunctionCount; }

const char* capi_function_name(int index) {
  return index >= 0 && index < kFunctionCount ? kCheckedFunctions[index] : "?";
}

void install_capi_hooks() {
#if defined(__x86_64__)
  if (!g_options.capi_checks || !g_python.loaded.load(std::memory_order_acquire)) return;
  if (!g_resolved) {
    // Resolve every original before any slot is patched: a stub must never find its
    // original missing. Only resolved names are handed to the patcher.
    for (int i = 0; i < kFunctionCount; ++i) {
      void* original = dlsym(RTLD_DEFAULT, kCheckedFunctions[i]);
      if (!original) continue;
      gilwatch_capi_originals[i] = original;
      g_hooks[g_hook_count++] = got::Hook{kCheckedFunctions[i], gilwatch_capi_stub_table[i], original};
    }
    g_resolved = true;
  }
  static const void* self = reinterpret_cast<const void*>(&install_capi_hooks);
  got::patch_loaded_objects(g_hooks, std::size_t(g_hook_count), self);
#endif
}

}  // namespace gilwatch::preload
