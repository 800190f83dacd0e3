// stack_bounds: where the calling thread's stack ends, so that the hooks' heavy paths
// (a new lock-order edge, writing results) run only where they fit. See
// docs/design.md, "Stack budget".
//
// - A thread the library saw created records its own stack once, as it starts
//   (pthread_getattr_np: glibc reads it from the thread descriptor; its only allocation
//   is a small CPU-set buffer, made there, outside every hook).
// - The main thread's is recorded at start-up without reading /proc: its top is the page
//   above the executable's name string (AT_EXECFN, the highest thing the kernel puts on
//   that stack) and it may grow down to RLIMIT_STACK below that.
// - A signal handler on a sigaltstack: asked of the kernel (sigaltstack) only when the
//   stack pointer is outside the thread's own stack, which is rare.
// - Anything else (a coroutine's stack, makecontext, a thread created before the library
//   started) is not known, and gets no heavy path.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>

#include "runtime.h"

namespace gilwatch::preload {

namespace {

inline uintptr_t stack_pointer() { return reinterpret_cast<uintptr_t>(__builtin_frame_address(0)); }

}  // namespace

void record_thread_stack(PreloadThread* t) {
  int saved_errno = errno;
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* low = nullptr;
    size_t size = 0;
    if (pthread_attr_getstack(&attr, &low, &size) == 0 && low && size) {
      StackRange range{reinterpret_cast<uintptr_t>(low), reinterpret_cast<uintptr_t>(low) + size};
      if (range.contains(stack_pointer())) t->stack = range;
    }
    pthread_attr_destroy(&attr);
  }
  errno = saved_errno;
}

void record_main_thread_stack(PreloadThread* t) {
  auto name = reinterpret_cast<const char*>(getauxval(AT_EXECFN));
  struct rlimit limit;
  if (!name || getrlimit(RLIMIT_STACK, &limit) != 0) return;
  uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  uintptr_t top = (reinterpret_cast<uintptr_t>(name) + std::strlen(name) + 1 + page - 1) & ~(page - 1);
  // An unlimited stack still ends somewhere: count on the usual 8 MiB only.
  uintptr_t size = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > (uintptr_t(1) << 30)
                       ? uintptr_t(8) << 20
                       : uintptr_t(limit.rlim_cur);
  StackRange range{top > size ? top - size : 0, top};
  if (range.contains(stack_pointer())) t->stack = range;
}

bool stack_has_room(PreloadThread* t, std::size_t bytes) {
  uintptr_t sp = stack_pointer();
  if (t->stack.contains(sp)) return sp - t->stack.low >= bytes;
  StackRange candidates[1];
  int saved_errno = errno;
  stack_t alt;
  if (sigaltstack(nullptr, &alt) == 0 && (alt.ss_flags & SS_ONSTACK) && alt.ss_sp)
    candidates[0] = StackRange{reinterpret_cast<uintptr_t>(alt.ss_sp), reinterpret_cast<uintptr_t>(alt.ss_sp) + alt.ss_size};
  errno = saved_errno;
  return stack_room_at_least(sp, bytes, candidates, 1);
}

}  // namespace gilwatch::preload
