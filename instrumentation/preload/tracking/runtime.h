// runtime: the state libgilwatch.so keeps inside the process under test, shared by the
// hook families (pthread_hooks, gil_hooks, memory_hooks) — one engine, one options
// struct, per-thread state in initial-exec TLS. The hooked functions and their real
// functions come from the hook list (hooks.def, hooks.h).
//
// Every hook has the same shape: find the real function, enter_hook() (which refuses
// re-entry and works before/after initialization), tell the engine, call the real
// function, tell the engine again, leave_hook().
#pragma once

#include <pthread.h>

#include <cstdint>

#include "detector.h"
#include "hooks.h"
#include "stack_budget.h"
#include "gilwatch/options.h"
#include "python_api.h"
#include "wait_graph.h"

namespace gilwatch::preload {

// What a blocked thread publishes about its wait, for the deadlock check that another
// (or the same) blocked thread runs. Written only by the owning thread; `start_ns` is
// stored last when a wait begins and cleared first when it ends, so a reader that sees
// the same non-zero start before and after copying the fields has a consistent copy.
struct WaitRecord {
  std::atomic<uint64_t> start_ns;  // CLOCK_MONOTONIC; 0 while not waiting
  WaitKind kind;
  bool holds_gil;
  uintptr_t gil;         // the GIL held (holds_gil) or asked for (kGil): interpreters.h
  uintptr_t object;      // the mutex, rwlock, condition variable or futex word
  pthread_t join_target;
  uintptr_t pc;          // the call that waits
  bool timed;            // the call has its own deadline: it ends by itself (no deadlock)
  // The thread's own stack for this wait, captured once it has waited a little.
  uint64_t captured_for;  // start_ns the stacks belong to
  uint32_t native_stack;
  uint32_t python_stack;
  // Consecutive waits on the GIL's condition variable (the interpreter's own GIL
  // hand-off loop) count as one wait, from the first of them.
  uint64_t gil_series_start;
  uint64_t gil_series_end;
};

struct PreloadThread {
  ThreadState state;
  uint32_t tid;
  uint32_t parent_tid;
  int busy;  // inside a hook: nested calls (signal handlers, our own callouts) pass through
  WaitRecord wait;
  pthread_t self;       // pthread_self(), for joins
  int registry_slot;    // 1 + index in the thread registry; 0: not registered
  bool end_noted;       // the thread's end has been examined (abandoned locks)
  bool in_gil_request;  // inside PyGILState_Ensure / PyEval_RestoreThread / ... from extension code
  bool finalization_reported;  // one finalization-attach finding per thread is enough
  // The thread state this thread last attached through PyEval_RestoreThread or
  // PyEval_AcquireThread from extension code: it may not be the one PyGILState binds to
  // the thread (pybind11 and others create their own).
  void* attached_tstate;
  uint64_t perturb_state;  // the perturbation's random generator; 0 until first use
  // The finalization risk (lifecycle_checks): a thread the program started outside the
  // interpreter (`started_outside`; `start_stack`: its pthread_create) that attaches.
  // Its last attach: the call and its site, every time (two stores); the stack only
  // when the site changes (a thread attaching in a loop captures it once).
  bool started_outside;
  bool risk_reported;
  uint32_t start_stack;
  const char* last_attach_api;  // null: never attached
  uint32_t attaches;             // how many times it attached, up to kRecurringAttaches
  uintptr_t last_attach_pc;
  uintptr_t last_attach_stack_pc;  // the site `last_attach_stack` was captured at
  uint32_t last_attach_stack;
  // The GIL profile (profile option): the interpreter's critical section on the GIL's
  // mutex that this thread is in — when it began, whether the thread waited on the GIL
  // condition in it (a contended take), whether it signalled the condition (a drop).
  uint64_t gil_section_start_ns;
  bool gil_section_waited;
  bool gil_section_signalled;
  void* gil_profile;  // its GilThreadProfile, once claimed
  // The released section the thread is in (PyEval_SaveThread from extension code until
  // PyEval_RestoreThread): when it began, where, and what happened inside it.
  uint64_t released_since_ns;
  void* released_site;  // GilSiteProfile
  uint64_t section_takes;
  uint64_t section_capi_calls;
  uintptr_t hold_capi_pc;  // the extension code that last called the C API during this GIL hold
  // A Rust panic raised with the GIL released (panic_hooks): its evidence, reported if
  // one of the thread's next `pending_panic_calls_left` C API calls raises an exception.
  uint32_t pending_panic_calls_left;
  EventThread pending_panic;
  // A Rust panic on a thread the program started outside the interpreter that never
  // attached (native_panics.cpp): its exception object while it unwinds (null once the
  // free() of it shows where it was caught), the futex words the unwinding released,
  // and the threads that were waiting for them.
  struct NativePanic {
    void* exception;
    bool caught;
    uint32_t raise_stack;
    uint32_t catch_stack;
    uint8_t word_count;
    uintptr_t words[2];
    uint8_t waiter_count;
    struct Waiter {
      uint32_t tid;
      uint32_t stack;
      uintptr_t word;
    } waiters[4];
  };
  NativePanic native_panic;
  // Futex words this thread may hold: a wait on the word returned, and no wake of it by
  // this thread yet. The locks it took since are the words' outgoing edges, added to
  // the lock graph once the thread wakes the word (its release: proof that it held it).
  // blocking_hooks.cpp; docs/futex-locks.md.
  struct FutexHoldCandidate {
    uintptr_t word;
    uint8_t edge_count;
    Detector::DeferredEdge edges[4];
  };
  static constexpr int kFutexHoldCandidates = 2;
  FutexHoldCandidate futex_holds[kFutexHoldCandidates];
  uint8_t futex_hold_count;
  // The thread's own stack, recorded once (register_thread_stack); empty if not known.
  StackRange stack;
};

extern Options g_options;
extern Detector* g_detector;  // null until initialized (and if the engine failed)

// pthread_mutex_lock's way, read with one load: decided from the detector, the real
// functions, the perturb_us option and whether an interpreter with a GIL is loaded, and
// decided again (refresh_mutex_lock_way, pthread_hooks.cpp) whenever one of those
// changes. Until the first decision, the general path.
enum class MutexLockWay : uint8_t { kGeneral = 0, kFast, kFastAskingGil, kPerturbed };
extern std::atomic<MutexLockWay> g_mutex_lock_way;
void refresh_mutex_lock_way();

// Initial-exec TLS (the library is built with -ftls-model=initial-exec): one
// register-relative address, never a call that could allocate. Zeroed for each thread.
extern __thread PreloadThread t_thread;
inline PreloadThread* current_thread() { return &t_thread; }

// Returns the thread's state if the hook should do its work, or null (not initialized,
// or already inside a hook on this thread).
inline PreloadThread* enter_hook() {
  if (!g_detector) return nullptr;
  PreloadThread* t = current_thread();
  if (t->busy) return nullptr;
  t->busy = 1;
  return t;
}
inline void leave_hook(PreloadThread* t) { t->busy = 0; }

// Runs `update` on the thread's own state with `busy` set, so that a signal handler
// interrupting it (and taking locks itself) passes through instead of pushing onto a
// half-updated held stack. Returns false, doing nothing, if already inside a hook.
// The signal fences keep the compiler from moving the update outside the window.
template <class Update>
inline bool update_thread_state(PreloadThread* t, Update&& update) {
  if (t->busy) return false;
  t->busy = 1;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  update();
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t->busy = 0;
  return true;
}

// The perturb_us option: before some lock and GIL acquisitions, a random delay of up to
// perturb_us microseconds (or a yield), from a per-thread generator seeded by the seed
// option and the order in which threads first got here. It makes rare interleavings
// less rare; the seed makes a run's choices repeatable as far as scheduling allows.
// One acquisition in eight is delayed — every one when `always`.
void perturb_slow(PreloadThread* t, bool always = false);
inline void maybe_perturb(PreloadThread* t) {
  if (__builtin_expect(g_options.perturb_us != 0, 0)) perturb_slow(t);
}
// Before an attach: a thread the program started outside the interpreter is delayed at
// every attach. Such a thread may hold a Rust lock no hook saw it take (the seed's
// dispatcher: read lock, then attach); stretching that hold is what lets a thread that
// holds the GIL ask for the lock inside it (docs/stress.md, Perturbation).
inline void maybe_perturb_attach(PreloadThread* t) {
  if (__builtin_expect(g_options.perturb_us != 0, 0)) perturb_slow(t, t->started_outside);
}

// Does the calling thread hold the GIL right now? Asks the interpreter (when one is
// loaded) in a way that is correct before initialization and after finalization; see
// python_frames.cpp for why PyGILState_Check alone is not used.
bool thread_holds_gil_slow();
// On a free-threaded build there is no GIL: always false, which turns off every check
// built on it (free_threading.h) in one place.
inline bool thread_holds_gil() {
  return g_python.loaded.load(std::memory_order_acquire) && !g_python.free_threaded && thread_holds_gil_slow();
}

// A finding was recorded: print it and rewrite the results file.
void report_new_findings();
// The same from a hook, on the caller's stack: done now if the stack has room for it
// (kReportStackBudget), else left for the next hook that has room, or the exit.
void report_new_findings_from_hook(PreloadThread* t);
inline constexpr std::size_t kReportStackBudget = 32 * 1024;

// Stack bounds (stack_bounds.cpp; docs/design.md, "Stack budget"). Records the calling
// thread's own stack: at thread start for threads the library saw created, at start-up
// for the main thread.
void record_thread_stack(PreloadThread* t);
void record_main_thread_stack(PreloadThread* t);
// Whether the stack the caller runs on has `bytes` left: its thread's own stack, or the
// sigaltstack a signal handler runs on; false on a stack that is neither (not known).
bool stack_has_room(PreloadThread* t, std::size_t bytes);

// Captures the calling thread's evidence (tid, name, native stack, Python frames when
// `with_python` and the thread holds the GIL).
void capture_current(EvidenceCapture& out, bool with_python);

// The calling thread's kernel thread id (cached).
uint32_t current_tid(PreloadThread* t);

// A deadlock was reported: write the results and end the process with the
// deadlock_exitcode option (unless it is 0).
void finish_after_deadlock();

// Threads that ended (returned or pthread_exit) while still holding locks (thread_hooks).
uint64_t threads_exited_holding_locks();

// The preload's own fixed capacities that overflowed (the detector's are
// Detector::capacity_warnings): threads started without a start record (thread_hooks:
// their end goes unchecked) and threads the wait monitor could not register (their
// waits take no part in deadlock checks). Writes at most `max`; returns how many.
std::size_t preload_capacity_warnings(CapacityWarning* out, std::size_t max);
inline constexpr std::size_t kPreloadCapacityCount = 2;
// Their counts (thread_hooks.cpp, wait_monitor.cpp).
uint64_t threads_without_start_record();
uint64_t threads_not_watched();

// Text for the user on fd 2, written only while fd 2 is still the file it was when the
// library started (same device and inode): a program may close fd 2 and open a data
// file there, and the library's text must never land in the program's files. The
// findings still go into the results file. Raw write(2), retried when interrupted or
// short; no allocation.
void write_program_stderr(const char* text, std::size_t length);
// Records fd 2's identity (or that it was closed). Once, at start-up.
void note_startup_stderr();

// Called after dlopen: resolve the interpreter (if it just arrived) and patch the new
// objects' GOT entries.
void after_dlopen();

}  // namespace gilwatch::preload
