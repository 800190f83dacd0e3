// lifecycle_checks: findings about where a lock or the GIL is in a thread's or the
// process's life, rather than about order or waiting:
//   abandoned-lock       a thread ended holding a lock; a held lock destroyed; a lock
//                        unlocked by a thread that does not hold it
//   fork-with-lock-held  the child of a fork() waits for a lock that another thread of
//                        the parent held at the fork (it will never be released)
//   finalization-attach  extension code asks for the GIL once finalization has begun;
//                        the risk of it: a native thread that attaches, still running
//                        when finalization begins
//   capi-without-gil     extension code calls the C API without holding the GIL
//   deadlock             (only this case) a thread asks for a rwlock it already holds
//                        in a way that fails with EDEADLK, waits for itself, or does
//                        once a writer waits (engine/rwlock_rules)
// The rules are engine/lifecycle_rules (unit-tested); this file gathers their inputs
// (held stacks, the interpreter's state, what fork() left behind) and writes the
// findings.
#include <errno.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "capi_hooks.h"
#include "lifecycle_checks.h"
#include "lifecycle_rules.h"
#include "lock_profiling.h"
#include "panic_hooks.h"
#include "python_api.h"
#include "spin_lock.h"
#include "wait_monitor.h"

namespace gilwatch::preload {

namespace {

// Every event below is built in this one buffer (EventFinding is large for a stack).
SpinLock g_event_lock;
EventFinding g_event;

EventFinding& start_event(FindingKind kind, uint64_t key) {
  std::memset(&g_event, 0, sizeof(g_event));
  g_event.kind = kind;
  g_event.key = mix_key(uint64_t(kind) << 56, key);
  g_event.count = 1;
  return g_event;
}

uint64_t held_sites_key(const ThreadState& s) {
  uint64_t key = 0;
  int depth = s.depth < ThreadState::kMaxHeld ? s.depth : ThreadState::kMaxHeld;
  for (int i = 0; i < depth; ++i) key = mix_key(key, s.held[i].acquire_pc);
  return key;
}

// The interpreter's own code: locks taken there are not the program's to report.
CodeRanges interpreter_code() { return CodeRanges{g_python.interpreter_text, g_python.interpreter_text_count}; }

// ---- fork ----

constexpr int kMaxInherited = 64;
InheritedLock g_inherited[kMaxInherited];
int g_inherited_count = 0;  // set in the parent before fork; the child keeps its copy
uint32_t g_fork_stack = 0;  // the forking thread's stack, interned before fork
bool g_in_fork_child = false;

void collect_held(PreloadThread* other, void*) {
  collect_inherited_locks(other->state, other->tid, interpreter_code(), g_inherited, &g_inherited_count, kMaxInherited);
}

}  // namespace

void check_thread_end(PreloadThread* t, const char* how, bool capture_stack) {
  const ThreadState& s = t->state;
  if (!thread_end_abandons_lock(s, interpreter_code())) return;
  SpinLockGuard guard(g_event_lock);
  EventFinding& e = start_event(FindingKind::kAbandonedLock, held_sites_key(s));
  TextBuilder summary(e.summary, sizeof(e.summary));
  summary.add("thread ").dec(current_tid(t)).add(" ").add(how).add(" while holding ");
  describe_held_locks(summary, s);
  TextBuilder(e.detail, sizeof(e.detail)).add("thread-ended");
  char role[160];
  TextBuilder r(role, sizeof(role));
  r.add(how).add(" holding ");
  describe_held_locks(r, s);
  if (capture_stack) {
    describe_current_thread(e.threads[0], role, false);
  } else {
    e.threads[0].tid = current_tid(t);
    TextBuilder(e.threads[0].role, sizeof(e.threads[0].role)).add(role);
  }
  e.thread_count = 1;
  add_held_locks(e, s);
  record_and_report(e);
}

void check_lock_destroy(PreloadThread* t, const void* lock, LockKind kind, bool held_now, uintptr_t pc) {
  if (!held_now) return;
  SpinLockGuard guard(g_event_lock);
  EventFinding& e = start_event(FindingKind::kAbandonedLock, mix_key(pc, 0xde57));
  TextBuilder(e.summary, sizeof(e.summary))
      .add(lock_kind_name(kind)).add(" ").hex(uintptr_t(lock)).add(" destroyed while it is held");
  TextBuilder(e.detail, sizeof(e.detail)).add("destroyed-while-held");
  describe_current_thread(e.threads[0], "destroyed the lock while it was still locked", false);
  e.thread_count = 1;
  e.locks[e.lock_count++] = EventLock{uintptr_t(lock), kind, 0};
  (void)t;
  record_and_report(e);
}

void check_unlock_by_non_owner(PreloadThread* t, const void* lock, LockKind kind, uint32_t owner, uintptr_t pc) {
  SpinLockGuard guard(g_event_lock);
  EventFinding& e = start_event(FindingKind::kAbandonedLock, mix_key(pc, 0x0a11));
  TextBuilder summary(e.summary, sizeof(e.summary));
  summary.add(lock_kind_name(kind)).add(" ").hex(uintptr_t(lock));
  char role[160];
  TextBuilder r(role, sizeof(role));
  if (owner) {
    summary.add(" unlocked by thread ").dec(current_tid(t)).add(", but thread ").dec(owner).add(" holds it");
    r.add("unlocked a lock that thread ").dec(owner).add(" holds");
  } else {
    summary.add(" unlocked by thread ").dec(current_tid(t)).add(", but it is not locked");
    r.add("unlocked a lock that is not locked");
  }
  TextBuilder(e.detail, sizeof(e.detail)).add("unlock-by-non-owner");
  describe_current_thread(e.threads[0], role, false);
  e.thread_count = 1;
  e.locks[e.lock_count++] = EventLock{uintptr_t(lock), kind, 0};
  record_and_report(e);
}

void check_rwlock_relock(PreloadThread* t, const void* lock, Relock relock, uintptr_t pc) {
  if (relock == Relock::kNone) return;
  SpinLockGuard guard(g_event_lock);
  EventFinding& e = start_event(FindingKind::kDeadlock, mix_key(pc, 0x5e1f0000u + unsigned(relock)));
  e.probable = !relock_is_certain(relock);
  TextBuilder summary(e.summary, sizeof(e.summary));
  summary.add("deadlock: thread ").dec(current_tid(t)).add(" asks for rwlock ").hex(uintptr_t(lock));
  const char* role = "";
  switch (relock) {
    case Relock::kWriteWhileWriting:
      summary.add(" for writing while it holds it for writing (EDEADLK)");
      role = "asks to write a rwlock it holds for writing: pthread_rwlock_wrlock fails with EDEADLK";
      break;
    case Relock::kReadWhileWriting:
      summary.add(" for reading while it holds it for writing (EDEADLK)");
      role = "asks to read a rwlock it holds for writing: pthread_rwlock_rdlock fails with EDEADLK";
      break;
    case Relock::kWriteWhileReading:
      summary.add(" for writing while it holds it for reading: it waits for itself");
      role = "asks to write a rwlock it holds for reading: it waits for its own read lock forever";
      break;
    case Relock::kRecursiveRead:
      summary.add(" for reading again: the writer-preferring lock queues it behind any writer that waits");
      role = "reads a writer-preferring rwlock it already reads: a writer that comes between blocks both";
      break;
    case Relock::kNone: break;
  }
  TextBuilder(e.detail, sizeof(e.detail)).add(relock_detail(relock));
  describe_current_thread(e.threads[0], role, false);
  e.threads[0].waits_for_plus1 = 1;
  e.threads[0].holds_mask = 1;
  e.thread_count = 1;
  e.locks[e.lock_count++] = EventLock{uintptr_t(lock), LockKind::kRwlock, pc};
  record_and_report(e);
}

void fork_prepare(PreloadThread* self) {
  g_inherited_count = 0;
  g_fork_stack = 0;
  for_each_other_thread(self, collect_held, nullptr);
  if (!g_inherited_count) return;
  // Only the child can tell whether it matters (a child that execs at once never
  // touches the lock): keep the evidence for it.
  ScratchCapture scratch(*g_detector);
  if (!scratch.get() || !stack_has_room(self, Detector::kNewEdgeStackBudget)) return;
  capture_current(*scratch.get(), false);
  uint32_t python = 0;
  g_detector->intern_capture(*scratch.get(), &g_fork_stack, &python);
}

void fork_child() { g_in_fork_child = g_inherited_count > 0; }

void check_inherited_lock(PreloadThread* t, const void* lock, uintptr_t pc) {
  if (!g_in_fork_child) return;
  const InheritedLock* inherited = waits_for_inherited_lock(g_inherited, g_inherited_count, uintptr_t(lock));
  if (!inherited) return;
  SpinLockGuard guard(g_event_lock);
  EventFinding& e = start_event(FindingKind::kForkWithLockHeld, mix_key(pc, inherited->acquire_pc));
  TextBuilder(e.summary, sizeof(e.summary))
      .add("fork() while thread ").dec(inherited->holder_tid).add(" held ")
      .add(lock_kind_name(inherited->kind)).add(" ").hex(inherited->address)
      .add(": the child waits for it and nobody will release it");
  TextBuilder(e.detail, sizeof(e.detail)).add("child-waits");
  describe_current_thread(e.threads[0], "in the child, waits for the lock inherited locked", false);
  EventThread& forker = e.threads[1];
  forker.tid = current_tid(t);
  TextBuilder(forker.role, sizeof(forker.role)).add("called fork() in the parent");
  forker.native_stack = g_fork_stack;
  EventThread& holder = e.threads[2];
  holder.tid = inherited->holder_tid;
  TextBuilder(holder.role, sizeof(holder.role)).add("held the lock in the parent at the fork (taken at the lock's site)");
  e.thread_count = 3;
  e.locks[e.lock_count++] = EventLock{inherited->address, inherited->kind, inherited->acquire_pc};
  record_and_report(e);
}

namespace {
void report_finalization_risk(PreloadThread* other, const char* when);
bool risk_applies_now(const PreloadThread* t) {
  return is_finalization_risk_proved(t->started_outside, t->risk_reported);
}
}  // namespace

void check_gil_request(PreloadThread* t, const char* api, uintptr_t pc, const void* tstate) {
  // Which thread finalizes is asked only once finalization has begun.
  bool finalizing = !t->finalization_reported && python_finalizing();
  if (!is_finalization_attach(finalizing, finalizing && finalizing_thread(tstate), t->finalization_reported)) return;
  t->finalization_reported = true;
  {
    SpinLockGuard guard(g_event_lock);
    EventFinding& e = start_event(FindingKind::kFinalizationAttach, pc);
    TextBuilder summary(e.summary, sizeof(e.summary));
    summary.add("thread ").dec(current_tid(t)).add(" calls ").add(api).add(" while the interpreter is finalizing");
    if (t->state.depth > 0) {
      summary.add(", holding ");
      describe_held_locks(summary, t->state);
    }
    TextBuilder(e.detail, sizeof(e.detail)).add(api);
    char role[160];
    TextBuilder r(role, sizeof(role));
    // A free-threaded build has no GIL to ask for: the thread attaches.
    r.add(g_python.free_threaded ? "attached (" : "asked for the GIL (").add(api).add(") during finalization; holds ");
    describe_held_locks(r, t->state);
    describe_current_thread(e.threads[0], role, false);
    e.thread_count = 1;
    if (!g_python.free_threaded) e.locks[e.lock_count++] = EventLock{0, LockKind::kGil, 0};
    add_held_locks(e, t->state);
    record_and_report(e);
  }
  // The race happened: the risk is certain, and is reported now, since the attach may
  // crash the process before its exit.
  if (risk_applies_now(t)) report_finalization_risk(t, "began to finalize (it attached during finalization)");
}

void check_exit_in_gil_request(PreloadThread* t) {
  if (!t->in_gil_request) return;
  t->in_gil_request = false;  // the thread is leaving: the exit scan must not count it again
  if (!is_ended_in_gil_request(true, python_finalizing(), t->finalization_reported)) return;
  t->finalization_reported = true;
  SpinLockGuard guard(g_event_lock);
  EventFinding& e = start_event(FindingKind::kFinalizationAttach, 0xe817 ^ held_sites_key(t->state));
  TextBuilder summary(e.summary, sizeof(e.summary));
  summary.add("thread ").dec(current_tid(t))
      .add(g_python.free_threaded ? " was ended by the interpreter while it waited to attach during finalization, holding "
                                  : " was ended by the interpreter while it waited for the GIL during finalization, holding ");
  describe_held_locks(summary, t->state);
  TextBuilder(e.detail, sizeof(e.detail)).add("ended-while-waiting");
  describe_current_thread(e.threads[0],
                          g_python.free_threaded ? "ended by the runtime inside its attach"
                                                 : "ended by the runtime inside its request for the GIL",
                          false);
  e.thread_count = 1;
  if (!g_python.free_threaded) e.locks[e.lock_count++] = EventLock{0, LockKind::kGil, 0};
  add_held_locks(e, t->state);
  record_and_report(e);
}

uint32_t intern_native_stack(PreloadThread* t) {
  ScratchCapture scratch(*g_detector);
  if (!scratch.get() || !stack_has_room(t, Detector::kNewEdgeStackBudget)) return 0;
  capture_current(*scratch.get(), false);
  uint32_t native = 0, python = 0;
  g_detector->intern_capture(*scratch.get(), &native, &python);
  return native;
}

uint32_t thread_start_stack(PreloadThread* creator, uintptr_t create_pc) {
  if (!g_python.loaded.load(std::memory_order_acquire) ||
      !started_outside_interpreter(create_pc, interpreter_code()))
    return 0;
  return intern_native_stack(creator);
}

void note_attach(PreloadThread* t, const char* api, uintptr_t pc) {
  t->last_attach_api = api;
  t->last_attach_pc = pc;
  if (t->attaches < kRecurringAttaches) ++t->attaches;
  if (!t->started_outside || t->last_attach_stack_pc == pc) return;
  t->last_attach_stack_pc = pc;
  t->last_attach_stack = intern_native_stack(t);
}

namespace {

// `other`: the thread (this one, or another at exit); `when`: how it was seen running.
void report_finalization_risk(PreloadThread* other, const char* when) {
  other->risk_reported = true;
  uint32_t tid = other->tid;
  SpinLockGuard guard(g_event_lock);
  EventFinding& e = start_event(FindingKind::kFinalizationAttach,
                                mix_key(0x815c, mix_key(other->start_stack, other->last_attach_pc)));
  TextBuilder summary(e.summary, sizeof(e.summary));
  summary.add("native thread ").dec(tid)
      .add(" was still running when the interpreter ").add(when)
      .add("; it attaches to the interpreter (last: ").add(other->last_attach_api).add(")");
  TextBuilder(e.detail, sizeof(e.detail)).add("risk");
  EventThread& started = e.threads[0];
  started.tid = tid;
  thread_name_of(tid, started.name, sizeof(started.name));
  TextBuilder(started.role, sizeof(started.role))
      .add("started here (pthread_create) and not stopped before finalization; may attach during it and crash or be ended");
  started.native_stack = other->start_stack;
  EventThread& attached = e.threads[1];
  attached.tid = tid;
  std::memcpy(attached.name, started.name, sizeof(attached.name));
  TextBuilder(attached.role, sizeof(attached.role)).add("last attached here (").add(other->last_attach_api).add(")");
  attached.native_stack = other->last_attach_stack;
  e.thread_count = 2;
  record_and_report(e);
}

bool risk_applies(const PreloadThread* t, bool running_when_finalizing, bool parked) {
  return is_finalization_risk(t->started_outside, t->attaches, running_when_finalizing, parked,
                              t->risk_reported);
}

// Is `other` blocked right now in a wait for work? Its wait record is its own to write:
// the kind is stored before the start, so a start seen non-zero has its kind.
bool parked_now(const PreloadThread* other) {
  return other->wait.start_ns.load(std::memory_order_acquire) != 0 && parked_waiting_for_work(other->wait.kind);
}

// Gathered under the registry's lock, reported after it.
constexpr int kMaxRisksAtExit = 16;
PreloadThread* g_risks_at_exit[kMaxRisksAtExit];
int g_risks_at_exit_count;

void collect_risk(PreloadThread* other, void*) {
  if (!other->end_noted && risk_applies(other, true, parked_now(other)) && g_risks_at_exit_count < kMaxRisksAtExit)
    g_risks_at_exit[g_risks_at_exit_count++] = other;
}

}  // namespace

void check_finalization_risk_at_end(PreloadThread* t) {
  if (!t->started_outside || t->attaches < kRecurringAttaches || t->risk_reported) return;
  if (risk_applies(t, python_finalizing(), false))
    report_finalization_risk(t, "began to finalize (it ended during finalization)");
}

namespace {

struct WaitingAtExit {
  uint32_t tid;
  uint32_t native_stack, python_stack;
  int held_count;
  HeldLock held[8];
};
constexpr int kMaxWaitingAtExit = 8;
WaitingAtExit g_waiting_at_exit[kMaxWaitingAtExit];
int g_waiting_at_exit_count;

void collect_waiting_for_gil(PreloadThread* other, void*) {
  if (!waited_through_finalization(other->in_gil_request, other->finalization_reported) ||
      g_waiting_at_exit_count == kMaxWaitingAtExit)
    return;
  WaitingAtExit& w = g_waiting_at_exit[g_waiting_at_exit_count++];
  w.tid = other->tid;
  uint64_t start = other->wait.start_ns.load(std::memory_order_acquire);
  bool captured = start && other->wait.captured_for == start;
  w.native_stack = captured ? other->wait.native_stack : 0;
  w.python_stack = captured ? other->wait.python_stack : 0;
  w.held_count = 0;
  int depth = other->state.depth < ThreadState::kMaxHeld ? other->state.depth : ThreadState::kMaxHeld;
  for (int i = 0; i < depth && w.held_count < 8; ++i)
    if (!is_interpreter_lock(other->state.held[i], interpreter_code())) w.held[w.held_count++] = other->state.held[i];
}

}  // namespace

void check_threads_at_exit(PreloadThread* self) {
  if (!g_python.loaded.load(std::memory_order_acquire)) return;
  bool finalizing = python_finalizing();
  bool can_ask = !finalizing && g_python.is_initialized;  // asked only when it decides
  if (!interpreter_finalized(true, finalizing, can_ask, can_ask && g_python.is_initialized())) return;
  g_waiting_at_exit_count = 0;
  for_each_other_thread(self, collect_waiting_for_gil, nullptr);
  g_risks_at_exit_count = 0;
  for_each_other_thread(self, collect_risk, nullptr);
  for (int i = 0; i < g_risks_at_exit_count; ++i) report_finalization_risk(g_risks_at_exit[i], "finalized");
  for (int i = 0; i < g_waiting_at_exit_count; ++i) {
    const WaitingAtExit& w = g_waiting_at_exit[i];
    SpinLockGuard guard(g_event_lock);
    uint64_t key = 0xe817e817;
    for (int k = 0; k < w.held_count; ++k) key = mix_key(key, w.held[k].acquire_pc);
    EventFinding& e = start_event(FindingKind::kFinalizationAttach, mix_key(key, w.native_stack));
    TextBuilder summary(e.summary, sizeof(e.summary));
    summary.add("thread ").dec(w.tid).add(g_python.free_threaded ? " was still waiting to attach when the interpreter finalized"
                                                                  : " was still asking for the GIL when the interpreter finalized");
    EventThread& t = e.threads[0];
    t.tid = w.tid;
    TextBuilder role(t.role, sizeof(t.role));
    role.add(g_python.free_threaded ? "waited to attach through finalization; holds "
                                    : "waited for the GIL through finalization; holds ");
    if (!w.held_count) role.add("nothing");
    for (int k = 0; k < w.held_count; ++k) {
      role.add(k ? ", " : "").add(lock_kind_name(w.held[k].kind)).add(" ").hex(w.held[k].address);
      if (e.lock_count < kMaxEventLocks)
        e.locks[e.lock_count++] = EventLock{w.held[k].address, w.held[k].kind, w.held[k].acquire_pc};
    }
    if (w.held_count) summary.add(", holding ").dec(uint64_t(w.held_count)).add(w.held_count == 1 ? " lock" : " locks");
    t.native_stack = w.native_stack;
    t.python_stack = w.python_stack;
    e.thread_count = 1;
    TextBuilder(e.detail, sizeof(e.detail)).add("waiting-at-exit");
    record_and_report(e);
  }
}

}  // namespace gilwatch::preload
namespace gilwatch::preload {

// Called by every C API stub (capi_hooks) before the real function runs.
void on_capi_call(int api_index, uintptr_t caller_pc) {
  profile_capi_call(current_thread(), api_index, caller_pc);
  if (current_thread()->pending_panic_calls_left) {
    PreloadThread* t = enter_hook();
    if (t) {
      int saved_errno = errno;
      note_capi_call_after_panic(t, api_index);
      errno = saved_errno;
      leave_hook(t);
    }
  }
  if (!capi_check_on(g_options.capi_checks, g_python.free_threaded ? PythonThreading::kFreeThreaded
                                                                    : PythonThreading::kGil))
    return;
  PreloadThread* t = enter_hook();
  if (!t) return;
  bool holds_gil = thread_holds_gil();
  // Py_IsInitialized is asked only of a call without the GIL.
  if (is_capi_without_gil(holds_gil, !holds_gil && g_python.is_initialized && g_python.is_initialized())) {
    int saved_errno = errno;
    uint64_t key = mix_key(uint64_t(FindingKind::kCapiWithoutGil) << 56, mix_key(caller_pc, uint64_t(api_index)));
    if (!g_detector->repeat_event(key, 0)) {
      SpinLockGuard guard(g_event_lock);
      EventFinding& e = g_event;
      std::memset(&e, 0, sizeof(e));
      e.kind = FindingKind::kCapiWithoutGil;
      e.key = key;
      e.count = 1;
      const char* name = capi_function_name(api_index);
      TextBuilder(e.detail, sizeof(e.detail)).add(name);
      TextBuilder(e.summary, sizeof(e.summary)).add(name).add(" called without the GIL");
      char role[160];
      TextBuilder(role, sizeof(role)).add("called ").add(name).add(" without holding the GIL");
      describe_current_thread(e.threads[0], role, false);
      e.thread_count = 1;
      e.locks[e.lock_count++] = EventLock{0, LockKind::kGil, 0};
      record_and_report(e);
    }
    errno = saved_errno;
  }
  leave_hook(t);
}

}  // namespace gilwatch::preload
