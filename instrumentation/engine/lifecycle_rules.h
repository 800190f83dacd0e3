// lifecycle_rules: the rules behind the findings about where a lock or the GIL is in a
// thread's or the process's life, rather than about order or waiting:
//   abandoned-lock       a thread ends holding a lock of the program's own
//   fork-with-lock-held  the child of a fork() waits for a lock another thread of the
//                        parent held at the fork
//   finalization-attach  extension code asks for the GIL (attaches) once finalization
//                        has begun, unless it is the thread that finalizes; and the
//                        risk of it (detail "risk"): a thread the program started
//                        outside the interpreter, that has attached, still running when
//                        finalization begins
//   capi-without-gil     extension code calls the C API without holding the GIL
//
// It decides from plain inputs; it does not gather, build or record a finding. The
// preload (preload/tracking/lifecycle_checks.cpp) reads the facts — a thread's held stack, the
// interpreter's code ranges and state, what fork() left behind — asks here, and writes
// the finding. Unit-tested in tests/unit/test_lifecycle_rules.cpp.
//
// Locks the interpreter takes itself (the GIL, and any lock whose acquisition site is in
// the interpreter's own code: it re-creates them after fork and releases them at exit)
// are never the program's to report.
#pragma once

#include <cstdint>

#include "detector.h"
#include "free_threading.h"
#include "wait_graph.h"

namespace gilwatch {

// The interpreter's executable code: [begin, end) address ranges.
struct CodeRanges {
  const uintptr_t (*ranges)[2] = nullptr;
  int count = 0;
  bool contains(uintptr_t pc) const {
    for (int i = 0; i < count; ++i)
      if (pc >= ranges[i][0] && pc < ranges[i][1]) return true;
    return false;
  }
};

// ---- abandoned-lock ----

bool is_interpreter_lock(const HeldLock& h, const CodeRanges& interpreter);
// A thread ending with held stack `s` abandons a lock of the program's.
bool thread_end_abandons_lock(const ThreadState& s, const CodeRanges& interpreter);

// ---- fork-with-lock-held ----

struct InheritedLock {
  uintptr_t address;
  LockKind kind;
  uint32_t holder_tid;
  uintptr_t acquire_pc;
};

// At fork, in the parent: appends to `out` (count `*count`, room for `capacity`) the
// locks on another thread's held stack `s` that its child inherits locked.
void collect_inherited_locks(const ThreadState& s, uint32_t holder_tid, const CodeRanges& interpreter,
                             InheritedLock* out, int* count, int capacity);
// In the child, before it waits for `lock`: the inherited entry it would wait for
// forever (the last one for that address), or null.
const InheritedLock* waits_for_inherited_lock(const InheritedLock* inherited, int count, uintptr_t lock);

// ---- finalization-attach ----

// A GIL request (an attach, on a free-threaded build) by a thread: a finding when
// finalization has begun, unless the thread is the one that finalizes (it may release
// and take the GIL again while it tears objects down), or it already had one.
bool is_finalization_attach(bool finalizing, bool requester_finalizes, bool already_reported);
// A thread ended by the runtime inside its GIL request: a finding when finalization has
// begun, unless it already had one.
bool is_ended_in_gil_request(bool in_gil_request, bool finalizing, bool already_reported);
// At process exit: has the interpreter finalized (or begun to)? `initialized`: what
// Py_IsInitialized says, when it can be asked (`can_ask_initialized`).
bool interpreter_finalized(bool python_loaded, bool finalizing, bool can_ask_initialized, bool initialized);
// ...and then each thread still inside a GIL request without a finding yet is one.
bool waited_through_finalization(bool in_gil_request, bool already_reported);

// The risk, reported whether or not the race happens. A thread counts when the program
// started it outside the interpreter: its pthread_create was called from `create_pc`,
// not in the interpreter's own code (threading/_thread start theirs there, and Python's
// own semantics join them or make them daemons: a different matter).
bool started_outside_interpreter(uintptr_t create_pc, const CodeRanges& interpreter);
// Such a thread that attaches again and again (PyGILState_Ensure, PyEval_RestoreThread...:
// kRecurringAttaches times or more) and was still running when finalization began
// (alive at exit once the interpreter finalized, or ending after finalization began): a
// finding, once. A thread that never attached cannot attach during finalization through
// the C API; one that ended before finalization began is gone. One that attached once
// and is past it is a one-shot thread on its way out (it handed its result back, as a
// callback thread that sends on a channel and returns does: it may still be returning
// when the interpreter finalizes, a matter of microseconds, and reporting it would
// depend on that race). One parked waiting for work (see below) when the process exits
// is left out: it attaches only if another thread hands it work, as a thread pool's idle
// worker (tokio's blocking pool) does.
inline constexpr uint32_t kRecurringAttaches = 2;
bool is_finalization_risk(bool started_outside, uint32_t attaches, bool running_when_finalizing, bool parked,
                          bool already_reported);
// Such a thread attaching during finalization: the race happened, whatever it did before.
bool is_finalization_risk_proved(bool started_outside, bool already_reported);
// A thread blocked in this wait is parked waiting for another thread to hand it work: a
// condition variable or a futex word (Rust's Condvar and thread parking), timed or not.
// A thread asking for a lock or the GIL, joining, or sleeping goes on by itself.
bool parked_waiting_for_work(WaitKind wait);

// ---- capi-without-gil ----

// Is the check on at all (the capi_checks option, a build with a GIL)?
bool capi_check_on(bool capi_checks_option, PythonThreading threading);
// A C API call by a thread that does not hold the GIL, into an initialized interpreter.
bool is_capi_without_gil(bool holds_gil, bool interpreter_initialized);

}  // namespace gilwatch
