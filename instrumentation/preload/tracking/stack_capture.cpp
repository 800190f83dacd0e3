#include "stack_capture.h"

#include <dlfcn.h>
#include <link.h>
#include <unwind.h>

namespace gilwatch::preload {

namespace {

uintptr_t g_self_begin = 0, g_self_end = 0;

struct UnwindState {
  uintptr_t* out;
  uint32_t max;
  uint32_t count;
  uintptr_t* cfa;
};

_Unwind_Reason_Code collect(struct _Unwind_Context* context, void* arg) {
  auto* state = static_cast<UnwindState*>(arg);
  uintptr_t pc = _Unwind_GetIP(context);
  if (pc == 0) return _URC_END_OF_STACK;
  // Skip our own frames while they are the innermost ones.
  if (state->count == 0 && address_in_self(pc)) return _URC_NO_REASON;
  if (state->count >= state->max) return _URC_END_OF_STACK;
  if (state->cfa) state->cfa[state->count] = _Unwind_GetCFA(context);
  state->out[state->count++] = pc;
  return _URC_NO_REASON;
}

int find_self(struct dl_phdr_info* info, size_t, void* arg) {
  uintptr_t anchor = reinterpret_cast<uintptr_t>(arg);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uintptr_t begin = info->dlpi_addr + ph.p_vaddr, end = begin + ph.p_memsz;
    if (anchor >= begin && anchor < end) {
      // The whole object: from its lowest to its highest loaded address.
      uintptr_t lo = ~uintptr_t(0), hi = 0;
      for (int j = 0; j < info->dlpi_phnum; ++j) {
        const ElfW(Phdr)& p = info->dlpi_phdr[j];
        if (p.p_type != PT_LOAD) continue;
        uintptr_t b = info->dlpi_addr + p.p_vaddr;
        if (b < lo) lo = b;
        if (b + p.p_memsz > hi) hi = b + p.p_memsz;
      }
      g_self_begin = lo;
      g_self_end = hi;
      return 1;
    }
  }
  return 0;
}

}  // namespace

void init_stack_capture() {
  dl_iterate_phdr(find_self, reinterpret_cast<void*>(&init_stack_capture));
  uintptr_t warm[4];
  capture_native_stack(warm, 4);
}

bool address_in_self(uintptr_t pc) { return pc >= g_self_begin && pc < g_self_end; }

uint32_t capture_native_stack(uintptr_t* out, uint32_t max, uintptr_t* cfa) {
  UnwindState state{out, max, 0, cfa};
  _Unwind_Backtrace(collect, &state);
  return state.count;
}

}  // namespace gilwatch::preload
