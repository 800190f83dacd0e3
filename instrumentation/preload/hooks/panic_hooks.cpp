#include "panic_hooks.h"

#include <dlfcn.h>
#include <errno.h>

#include <cstring>

#include "capi_hooks.h"
#include "hooks.h"
#include "native_panics.h"
#include "panic_rules.h"
#include "python_api.h"
#include "runtime.h"
#include "spin_lock.h"
#include "wait_monitor.h"

namespace gilwatch::preload {

namespace {

// Rust's exception class (library/panic_unwind/src/gcc.rs): the bytes "MOZ\0RUST" in
// memory (u64::from_ne_bytes), the first field of the _Unwind_Exception.
constexpr char kRustExceptionClass[8] = {'M', 'O', 'Z', '\0', 'R', 'U', 'S', 'T'};

// How many C API calls after a detached panic may still be PyO3 raising PanicException
// for it: the trampoline builds the message (a string, a tuple) and raises.
constexpr uint32_t kPendingPanicCalls = 64;


// The C API functions with which PyO3 (and hand-written bindings) set the exception a
// caught panic becomes (trampoline indices, hooks.def).
constexpr int kRaiseCalls[] = {int(CapiFunction::PyErr_SetObject), int(CapiFunction::PyErr_SetRaisedException),
                               int(CapiFunction::PyErr_Restore), int(CapiFunction::PyErr_SetString)};

bool holds_tracked_lock(const ThreadState& s) {
  int depth = s.depth < ThreadState::kMaxHeld ? s.depth : ThreadState::kMaxHeld;
  for (int i = 0; i < depth; ++i)
    if (s.held[i].kind != LockKind::kGil) return true;
  return false;
}

SpinLock g_event_lock;
EventFinding g_event;

void report_panic_now(PreloadThread* t, bool gil_held) {
  SpinLockGuard guard(g_event_lock);
  EventFinding& e = g_event;
  std::memset(&e, 0, sizeof(e));
  e.count = 1;
  char role[160];
  TextBuilder r(role, sizeof(role));
  TextBuilder summary(e.summary, sizeof(e.summary));
  if (holds_tracked_lock(t->state)) {
    e.kind = FindingKind::kAbandonedLock;
    TextBuilder(e.detail, sizeof(e.detail)).add("rust-panic");
    summary.add("Rust panic in thread ").dec(current_tid(t)).add(" while it holds ");
    r.add("panicked while holding ");
    char held[120];
    TextBuilder h(held, sizeof(held));
    describe_held_locks(h, t->state);
    summary.add(held);
    r.add(held);
    if (gil_held) {
      summary.add(" and the GIL");
      r.add(" and the GIL");
    }
    add_held_locks(e, t->state);
  } else {
    e.kind = FindingKind::kRustPanic;
    TextBuilder(e.detail, sizeof(e.detail)).add("gil-held");
    summary.add("Rust panic in thread ").dec(current_tid(t)).add(" while it holds the GIL");
    r.add("panicked while holding the GIL");
  }
  if (gil_held) e.locks[e.lock_count++] = EventLock{0, LockKind::kGil, 0};
  describe_current_thread(e.threads[0], role, gil_held);
  e.thread_count = 1;
  // One finding per panicking stack: the same panic site repeated only counts.
  e.key = mix_key(uint64_t(e.kind) << 56, mix_key(0x9a41c, e.threads[0].native_stack));
  record_and_report(e);
}

// A panic raised with neither the GIL nor a tracked lock: its stack now, its report
// later (note_capi_call_after_panic), if it reaches Python.
void keep_pending_panic(PreloadThread* t) {
  EventThread& p = t->pending_panic;
  std::memset(&p, 0, sizeof(p));
  // A free-threaded build has no GIL to have released.
  describe_current_thread(p,
                          g_python.free_threaded ? "panicked; the panic reached Python as an exception"
                                                 : "panicked with the GIL released; the panic reached Python as an exception",
                          false);
  t->pending_panic_calls_left = kPendingPanicCalls;
}

void on_rust_panic(void* exception) {
  PreloadThread* t = enter_hook();
  if (!t) return;
  int saved_errno = errno;
  bool gil_held = thread_holds_gil();
  PanicFacts facts{gil_held, holds_tracked_lock(t->state), t->started_outside, t->last_attach_api != nullptr};
  switch (classify_panic(facts)) {
    case PanicReport::kAbandonedLock:
    case PanicReport::kGilHeld:
      t->pending_panic_calls_left = 0;
      report_panic_now(t, gil_held);
      break;
    case PanicReport::kNativeThread:
      t->pending_panic_calls_left = 0;
      native_panic_raised(t, exception);
      break;
    case PanicReport::kPendingException:
      keep_pending_panic(t);
      break;
  }
  errno = saved_errno;
  leave_hook(t);
}

bool is_raise_call(int api_index) {
  for (int index : kRaiseCalls)
    if (index == api_index) return true;
  return false;
}

}  // namespace

// The wrapper (hooks.def: the rust_panic family).
int hooks::_Unwind_RaiseException(void* exception) {
  if (exception && std::memcmp(exception, kRustExceptionClass, sizeof(kRustExceptionClass)) == 0 && g_detector)
    on_rust_panic(exception);
  return original::_Unwind_RaiseException()(exception);
}

void install_panic_hooks() {
  init_got_hooks();
  got::Hook* hook = got_hooks(GotFamily::rust_panic);
  if (!hook->original) {
    // The unwinder is libgcc_s, which Python loads as a dependency of an extension with
    // RTLD_LOCAL: dlsym(RTLD_DEFAULT) does not see it there. Ask the library itself,
    // if loaded (and keep the handle: the pointer must stay valid).
    if (void* libgcc = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NOLOAD)) {
      hook->original = dlsym(libgcc, hook->symbol);
      if (!hook->original) dlclose(libgcc);
    }
    if (!hook->original) return;  // no unwinder loaded, so no Rust code either
  }
  static const void* self = reinterpret_cast<const void*>(&install_panic_hooks);
  got::patch_loaded_objects(hook, std::size_t(got_hook_count(GotFamily::rust_panic)), self);
}

void note_capi_call_after_panic(PreloadThread* t, int api_index) {
  if (!is_raise_call(api_index)) {
    --t->pending_panic_calls_left;
    return;
  }
  t->pending_panic_calls_left = 0;
  SpinLockGuard guard(g_event_lock);
  EventFinding& e = g_event;
  std::memset(&e, 0, sizeof(e));
  e.kind = FindingKind::kRustPanic;
  e.count = 1;
  TextBuilder(e.detail, sizeof(e.detail)).add("panic-exception");
  TextBuilder(e.summary, sizeof(e.summary))
      .add("Rust panic in thread ").dec(current_tid(t)).add(" reached Python as an exception");
  e.threads[0] = t->pending_panic;
  e.thread_count = 1;
  e.key = mix_key(uint64_t(e.kind) << 56, mix_key(0x9a41d, e.threads[0].native_stack));
  record_and_report(e);
}

}  // namespace gilwatch::preload
