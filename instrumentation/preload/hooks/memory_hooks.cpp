// free/realloc: lock memory released without pthread_*_destroy (std::mutex never calls
// it; C structs are just freed) must take its lock-order edges with it, or a new lock at
// the same address would inherit them and a correct program would see a false inversion.
//
// The common case must cost almost nothing: one malloc_usable_size and a bloom-filter
// probe per page of the block; the engine lock is taken only when the filter says a
// tracked lock may live there.
#include <malloc.h>

#include <cstdint>

#include "native_panics.h"
#include "runtime.h"

using namespace gilwatch::preload;

namespace {

inline void forget_locks_in(void* p) {
  if (!p || !g_detector) return;
  PreloadThread* t = enter_hook();
  if (!t) return;
  // Rust's panic runtime frees the exception object where the panic is caught.
  if (is_unwinding_native_panic(t, p)) native_panic_caught(t);
  uintptr_t begin = reinterpret_cast<uintptr_t>(p);
  g_detector->on_memory_released(begin, begin + malloc_usable_size(p));
  leave_hook(t);
}

// dlsym itself may call free (and calloc) while we look up the real free; a block freed
// during that window is leaked rather than passed to a function we do not have yet.
thread_local bool t_resolving_free = false;

}  // namespace

extern "C" {

__attribute__((visibility("default"))) void free(void* p) {
  if (!g_real.free) {
    if (t_resolving_free) return;
    t_resolving_free = true;
    real::free();
    t_resolving_free = false;
    if (!g_real.free) return;
  }
  forget_locks_in(p);
  g_real.free(p);
}

__attribute__((visibility("default"))) void* realloc(void* p, size_t size) {
  if (!g_real.realloc) {
    if (!real::realloc()) return nullptr;
  }
  // Locks inside a block that realloc moves (or frees, for size 0) are gone either way;
  // a block resized in place keeps its address and its locks, but realloc'ing memory
  // that holds a live lock is undefined behaviour for pthread locks anyway.
  forget_locks_in(p);
  return g_real.realloc(p, size);
}

}  // extern "C"
