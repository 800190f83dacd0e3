#include "wait_monitor.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "deadlock_check.h"
#include "gilwatch/result_format.h"
#include "interpreters.h"
#include "lifecycle_checks.h"
#include "lock_profiling.h"
#include "python_api.h"
#include "spin_lock.h"

namespace gilwatch::preload {

// ---- small helpers ----

uint64_t monotonic_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

namespace {

bool thread_alive(uint32_t tid) {
  return syscall(SYS_tgkill, ::getpid(), pid_t(tid), 0) == 0 || errno != ESRCH;
}

// ---- the registry ----

constexpr int kMaxRegistered = kMaxWatchedThreads;
std::atomic<uint64_t> g_threads_not_watched{0};
PreloadThread* g_registry[kMaxRegistered];
int g_registry_high = 0;  // slots [0, high) may be in use
SpinLock g_registry_lock;
pthread_key_t g_exit_key;
bool g_exit_key_ok = false;

void unregister_thread(PreloadThread* t) {
  if (!t->registry_slot) return;
  SpinLockGuard guard(g_registry_lock);
  g_registry[t->registry_slot - 1] = nullptr;
  t->registry_slot = 0;
}

// Runs as the thread's last code (after its function returned, pthread_exit, or
// cancellation). Thread-specific data destructors run after C++ thread_local ones.
void on_thread_exit_key(void*) {
  PreloadThread* t = current_thread();
  if (!t->end_noted && g_detector && !t->busy) {
    t->busy = 1;
    check_thread_end(t, "was cancelled or unwound", false);
    t->busy = 0;
  }
  t->end_noted = true;
  profile_thread_ending(t);
  unregister_thread(t);
}

// ---- GIL condition variables ----

constexpr int kMaxGilConditions = 8;
std::atomic<uintptr_t> g_gil_conditions[kMaxGilConditions];
std::atomic<uintptr_t> g_gil_mutexes[kMaxGilConditions];  // the mutex of each, same index

// ---- the check: the snapshot gathered here, decided in engine/deadlock_check ----

// What the check keeps of each blocked thread beside its snapshot entry, to confirm the
// verdict and to describe it.
struct WaitEvidence {
  PreloadThread* thread;
  uint64_t start;
  uintptr_t object;
  uint32_t native_stack, python_stack;
};

WaitSnapshot g_snapshot;
WaitEvidence g_evidence[WaitSnapshot::kMaxThreads];
WaitGraph g_graph;
DeadlockVerdict g_verdict;
SpinLock g_check_lock;
std::atomic<uint64_t> g_last_check{0};
EventFinding g_event;  // built under g_check_lock

uint32_t mutex_owner(uintptr_t m) {
  return uint32_t(__atomic_load_n(&reinterpret_cast<pthread_mutex_t*>(m)->__data.__owner, __ATOMIC_RELAXED));
}
uint32_t rwlock_writer(uintptr_t l) {
  return uint32_t(__atomic_load_n(&reinterpret_cast<pthread_rwlock_t*>(l)->__data.__cur_writer, __ATOMIC_RELAXED));
}

bool holds_lock(const PreloadThread* t, uintptr_t address) {
  int depth = __atomic_load_n(&t->state.depth, __ATOMIC_RELAXED);
  if (depth > ThreadState::kMaxHeld) depth = ThreadState::kMaxHeld;
  for (int i = 0; i < depth; ++i)
    if (t->state.held[i].address == address) return true;
  return false;
}

// A request for the GIL made or still waiting once the runtime finalizes never returns:
// 3.9-3.13 end the thread inside it (pthread_exit), 3.14+ park it forever
// (PyThread_hang_thread). Py_IsInitialized() is false from the start of finalization
// on, also after Py_FinalizeEx returned (its Py_AtExit callbacks, C atexit handlers).
bool gil_requests_never_return() {
  if (!g_python.loaded.load(std::memory_order_acquire)) return false;
  if (g_python.is_finalizing && g_python.is_finalizing()) return true;
  return g_python.is_initialized && !g_python.is_initialized();
}

void add_holder(WaitEntry& e, uint32_t tid) {
  if (e.holder_count < WaitEntry::kMaxHolders) e.holders[e.holder_count++] = tid;
}

// The other threads a wait names: a rwlock's readers (write waits on a rwlock that
// names no writer), the thread being joined. Registry locked. Holders that are blocked
// themselves go first: only they can close a wait-for cycle, so the snapshot's
// kMaxHolders places never crowd one out with readers that are running.
void find_holders(WaitEntry& e, PreloadThread* self, uintptr_t object, pthread_t join_target) {
  for (bool blocked_pass : {true, false}) {
    for (int i = 0; i < g_registry_high; ++i) {
      PreloadThread* t = g_registry[i];
      if (!t) continue;
      bool blocked = t->wait.start_ns.load(std::memory_order_acquire) != 0;
      if (blocked != blocked_pass) continue;
      if (e.kind == WaitKind::kJoin ? pthread_equal(t->self, join_target) : t != self && holds_lock(t, object))
        add_holder(e, t->tid);
    }
  }
}

// Reads every registered thread's wait record and what its waited-on object says about
// its owner into g_snapshot. Registry locked.
void gather_snapshot(uint64_t now) {
  WaitSnapshot& s = g_snapshot;
  s.clear();
  s.threading = g_python.free_threaded ? PythonThreading::kFreeThreaded : PythonThreading::kGil;
  for (int i = 0; i < g_registry_high; ++i) {
    PreloadThread* t = g_registry[i];
    if (!t) continue;
    uint64_t start = t->wait.start_ns.load(std::memory_order_acquire);
    if (!start) continue;
    WaitEntry e;
    e.tid = t->tid;
    e.kind = t->wait.kind;
    e.holds_gil = t->wait.holds_gil;
    e.timed = t->wait.timed;
    e.gil = t->wait.gil;
    e.waited_ns = now > start ? now - start : 0;
    WaitEvidence evidence{t, start, t->wait.object, 0, 0};
    pthread_t join_target = t->wait.join_target;
    if (t->wait.captured_for == start) {
      evidence.native_stack = t->wait.native_stack;
      evidence.python_stack = t->wait.python_stack;
    }
    if (t->wait.start_ns.load(std::memory_order_acquire) != start) continue;  // changed meanwhile
    if (e.kind == WaitKind::kMutex) {
      e.owner = mutex_owner(evidence.object);
    } else if (e.kind == WaitKind::kRwlockRead || e.kind == WaitKind::kRwlockWrite) {
      e.owner = rwlock_writer(evidence.object);
      if (!e.owner && e.kind == WaitKind::kRwlockWrite) find_holders(e, t, evidence.object, 0);
    } else if (e.kind == WaitKind::kJoin) {
      find_holders(e, t, 0, join_target);
    }
    int index = s.add(e);
    if (index < 0) break;
    g_evidence[index] = evidence;
  }
  s.gil_requests_never_return = gil_requests_never_return();
  // An owner that is not blocked: is it still a thread?
  for (int u = 0; u < s.count; ++u) {
    WaitEntry& e = s.entries[u];
    if (!e.owner) continue;
    bool blocked = false;
    for (int v = 0; v < s.count && !blocked; ++v) blocked = s.entries[v].tid == e.owner;
    if (!blocked) e.owner_exists = thread_alive(e.owner);
  }
}

bool still_waiting(const int* members, int count, void*) {
  for (int i = 0; i < count; ++i) {
    const WaitEvidence& n = g_evidence[members[i]];
    if (n.thread->wait.start_ns.load(std::memory_order_acquire) != n.start) return false;
  }
  return true;
}

void describe_wait(TextBuilder& b, int u) {
  const WaitEntry& n = g_snapshot.entries[u];
  const WaitFacts& f = g_verdict.facts[u];
  uintptr_t object = g_evidence[u].object;
  auto owners = [&] {
    for (int i = 0; i < f.waits_for_count; ++i) b.add(i ? ", " : "").add("thread ").dec(f.waits_for[i]);
  };
  switch (n.kind) {
    case WaitKind::kMutex:
      b.add("waits for mutex ").hex(object);
      if (f.waits_for_count) b.add(" held by "), owners();
      if (f.owner_ended) b.add(", which has ended");
      if (f.owner_parked >= 0) b.add(", which is parked forever");
      break;
    case WaitKind::kRwlockRead:
    case WaitKind::kRwlockWrite:
      b.add(n.kind == WaitKind::kRwlockRead ? "waits to read-lock rwlock " : "waits to write-lock rwlock ")
          .hex(object);
      if (f.waits_for_count) b.add(" held by "), owners();
      if (f.owner_ended) b.add(", which has ended");
      if (f.owner_parked >= 0) b.add(", which is parked forever");
      break;
    case WaitKind::kJoin:
      b.add("joins ");
      if (f.waits_for_count) owners(); else b.add("a thread");
      break;
    case WaitKind::kGil:
      b.add("waits for the GIL");
      if (n.gil && n.gil != WaitGraph::kUnknownGil) b.add(" of interpreter ").hex(n.gil);
      if (f.waits_for_count) b.add(" held by "), owners();
      if (f.parked) b.add(" while the interpreter finalizes: parked forever (or ended) by the runtime");
      break;
    case WaitKind::kCondition:
      b.add("waits on condition variable ").hex(object);
      break;
    case WaitKind::kFutex:
      b.add("waits on futex word ").hex(object).add(" ").add(result_format::kUnnamedFutexWord);
      break;
    case WaitKind::kPyMutex:
      b.add("waits for PyMutex ").hex(object).add(g_python.free_threaded ? " (parked, detached)" : " (parked, the GIL released)");
      break;
    case WaitKind::kNone:
      break;
  }
  if (n.holds_gil) b.add(" while holding the GIL");
  if (n.holds_gil && n.gil) b.add(" of interpreter ").hex(n.gil);
}

void note_held(EventThread& t, int index) {
  if (index >= 0) t.holds_mask |= uint8_t(1u << index);
}
void note_waited(EventThread& t, int index) {
  if (index >= 0) t.waits_for_plus1 = uint8_t(index + 1);
}

void add_member_to_event(EventFinding& e, int u, uint64_t now) {
  if (e.thread_count >= kMaxEventThreads) return;
  const WaitEntry& n = g_snapshot.entries[u];
  const WaitEvidence& evidence = g_evidence[u];
  EventThread& t = e.threads[e.thread_count++];
  t.tid = n.tid;
  thread_name_of(t.tid, t.name, sizeof(t.name));
  TextBuilder role(t.role, sizeof(t.role));
  describe_wait(role, u);
  role.add(" (blocked ").dec((now - evidence.start) / 1000000).add(" ms)");
  t.blocked_ms = uint32_t((now - evidence.start) / 1000000);
  t.owner_unknown = n.kind == WaitKind::kFutex;
  // What else it holds: the locks its held stack names.
  const ThreadState& s = evidence.thread->state;
  int depth = s.depth < ThreadState::kMaxHeld ? s.depth : ThreadState::kMaxHeld;
  int listed = 0;
  for (int i = 0; i < depth; ++i) {
    const HeldLock& h = s.held[i];
    if (h.address == 0 || h.kind == LockKind::kGil) continue;
    role.add(listed++ ? ", " : "; holds ").add(lock_kind_name(h.kind)).add(" ").hex(h.address);
    note_held(t, add_event_lock(e, h.address, h.kind, h.acquire_pc));
  }
  t.native_stack = evidence.native_stack;
  t.python_stack = evidence.python_stack;
  switch (n.kind) {
    case WaitKind::kMutex: note_waited(t, add_event_lock(e, evidence.object, LockKind::kMutex, 0)); break;
    case WaitKind::kRwlockRead:
    case WaitKind::kRwlockWrite: note_waited(t, add_event_lock(e, evidence.object, LockKind::kRwlock, 0)); break;
    case WaitKind::kGil:
      note_waited(t, add_event_lock(e, n.gil == WaitGraph::kUnknownGil ? 0 : n.gil, LockKind::kGil, 0));
      break;
    case WaitKind::kFutex: note_waited(t, add_event_lock(e, evidence.object, LockKind::kFutex, 0)); break;
    case WaitKind::kPyMutex: note_waited(t, add_event_lock(e, evidence.object, LockKind::kPyMutex, 0)); break;
    default: break;
  }
  if (n.holds_gil) note_held(t, add_event_lock(e, n.gil, LockKind::kGil, 0));
}

// Builds the finding for g_verdict (a cycle, a thread waiting for an owner that is gone
// or parked, or a probable deadlock) into g_event. Registry locked.
void build_deadlock_event(uint64_t now) {
  const int* members = g_verdict.members;
  const int count = g_verdict.count;
  const bool probable = g_verdict.probable();
  auto tid = [](int u) { return g_snapshot.entries[u].tid; };
  const WaitFacts& first = g_verdict.facts[members[0]];
  EventFinding& e = g_event;
  std::memset(&e, 0, sizeof(e));
  e.kind = FindingKind::kDeadlock;
  e.probable = probable;
  e.count = 1;
  uint64_t key = probable ? 0x5052 : 0x4445;
  for (int i = 0; i < count; ++i) key = mix_key(key, mix_key(tid(members[i]), g_evidence[members[i]].start));
  e.key = key;
  TextBuilder summary(e.summary, sizeof(e.summary));
  if (probable) {
    summary.add("probable deadlock: thread ").dec(tid(members[0]))
        .add(" holds the GIL while blocked on ").add(result_format::kOwnerlessObject).add(", and ").dec(count - 1)
        .add(count == 2 ? " thread waits" : " threads wait").add(" for the GIL");
  } else if (count == 1 && first.owner_ended) {
    summary.add("deadlock: thread ").dec(tid(members[0]))
        .add(" waits for a lock whose owner, thread ").dec(g_snapshot.entries[members[0]].owner)
        .add(", has ended");
  } else if (count == 2 && first.owner_parked == members[1]) {
    summary.add("deadlock at exit: thread ").dec(tid(members[0]))
        .add(" waits for a lock held by thread ").dec(tid(members[1]))
        .add(", which asked for the GIL while the interpreter finalizes and never returns from it");
  } else {
    summary.add("deadlock: ").dec(count).add(count == 1 ? " thread waits for itself" : " threads wait for each other");
    for (int i = 0; i < count; ++i) {
      summary.add(i ? "; thread " : ": thread ").dec(tid(members[i])).add(" ");
      TextBuilder tmp(summary.buf + summary.len, summary.size - summary.len);
      describe_wait(tmp, members[i]);
      summary.len += tmp.len;
    }
  }
  TextBuilder detail(e.detail, sizeof(e.detail));
  for (int i = 0; i < count; ++i) detail.add(i ? "," : "").add(wait_kind_name(g_snapshot.entries[members[i]].kind));
  for (int i = 0; i < count; ++i) add_member_to_event(e, members[i], now);
}

// Returns true when a deadlock was recorded (new).
bool run_check(uint64_t now) {
  {
    SpinLockGuard guard(g_registry_lock);
    gather_snapshot(now);
    decide_deadlock(g_snapshot, uint64_t(g_options.deadlock_ms) * 1000000ull, g_graph, g_verdict, still_waiting);
    if (g_verdict.rule == DeadlockRule::kNone) return false;
    build_deadlock_event(now);
  }
  return record_and_report(g_event);
}

void maybe_run_check(PreloadThread* t, uint64_t now) {
  uint64_t last = g_last_check.load(std::memory_order_relaxed);
  if (now - last < kCheckIntervalNs) return;
  // The check builds the wait-for graph and may write results: on a small stack it is
  // left to the next waiting thread with room (or this one, later).
  if (!stack_has_room(t, kReportStackBudget)) return;
  if (!g_last_check.compare_exchange_strong(last, now, std::memory_order_acq_rel)) return;
  if (!g_check_lock.try_lock()) return;
  bool found = run_check(now);
  g_check_lock.unlock();
  if (found) finish_after_deadlock();
}

void capture_for_wait(PreloadThread* t, uint64_t start) {
  // Into a scratch record, and only where the unwinder fits: a wait on a small stack
  // goes without its stack in a finding.
  ScratchCapture scratch(*g_detector);
  EvidenceCapture* capture = scratch.get();
  if (!capture || !stack_has_room(t, Detector::kNewEdgeStackBudget)) return;
  bool with_python = t->wait.holds_gil && !interpreter_contains(t->wait.pc);
  capture_current(*capture, with_python);
  uint32_t native = 0, python = 0;
  g_detector->intern_capture(*capture, &native, &python);
  t->wait.native_stack = native;
  t->wait.python_stack = python;
  __atomic_store_n(&t->wait.captured_for, start, __ATOMIC_RELEASE);
}

}  // namespace

void init_thread_registry() {
  g_exit_key_ok = pthread_key_create(&g_exit_key, on_thread_exit_key) == 0;
  register_thread(current_thread());
}

void register_thread(PreloadThread* t) {
  if (t->registry_slot) return;
  t->self = pthread_self();
  current_tid(t);
  {
    SpinLockGuard guard(g_registry_lock);
    int slot = -1;
    for (int i = 0; i < g_registry_high; ++i)
      if (!g_registry[i]) {
        slot = i;
        break;
      }
    if (slot < 0 && g_registry_high < kMaxRegistered) slot = g_registry_high++;
    if (slot < 0) {  // full: this thread is not watched
      g_threads_not_watched.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    g_registry[slot] = t;
    t->registry_slot = slot + 1;
  }
  // The key's value only has to be non-null for its destructor to run.
  if (g_exit_key_ok) pthread_setspecific(g_exit_key, t);
}

void registry_after_fork(PreloadThread* self) {
  g_registry_lock.reset_after_fork();
  g_check_lock.reset_after_fork();
  for (int i = 0; i < g_registry_high; ++i)
    if (g_registry[i] != self) g_registry[i] = nullptr;
  self->tid = 0;
  current_tid(self);
  self->self = pthread_self();
}

void for_each_other_thread(PreloadThread* self, void (*visit)(PreloadThread*, void*), void* context) {
  SpinLockGuard guard(g_registry_lock);
  for (int i = 0; i < g_registry_high; ++i)
    if (g_registry[i] && g_registry[i] != self) visit(g_registry[i], context);
}

bool begin_wait(PreloadThread* t, WaitKind kind, uintptr_t object, bool holds_gil, uintptr_t pc,
                pthread_t join_target, uintptr_t gil, bool timed) {
  if (t->wait.start_ns.load(std::memory_order_relaxed)) return false;
  if (!t->registry_slot) register_thread(t);
  uint64_t now = monotonic_ns();
  uint64_t start = now;
  if (kind == WaitKind::kGil) {
    // The interpreter waits for the GIL in short timed waits; a new one right after the
    // previous continues the same wait.
    if (t->wait.gil_series_end && now - t->wait.gil_series_end < 2000000ull && t->wait.gil_series_start)
      start = t->wait.gil_series_start;
    t->wait.gil_series_start = start;
  }
  t->wait.kind = kind;
  t->wait.holds_gil = holds_gil;
  t->wait.gil = holds_gil ? current_gil() : gil;
  t->wait.object = object;
  t->wait.join_target = join_target;
  t->wait.pc = pc;
  t->wait.timed = timed;
  t->wait.start_ns.store(start, std::memory_order_release);
  return true;
}

uint64_t end_wait(PreloadThread* t) {
  uint64_t start = t->wait.start_ns.load(std::memory_order_relaxed);
  t->wait.start_ns.store(0, std::memory_order_release);
  uint64_t now = monotonic_ns();
  if (t->wait.kind == WaitKind::kGil) t->wait.gil_series_end = now;
  return start && now > start ? now - start : 0;
}

void wait_progress(PreloadThread* t) {
  if (!g_detector) return;
  uint64_t start = t->wait.start_ns.load(std::memory_order_relaxed);
  if (!start) return;
  int was_busy = t->busy;
  t->busy = 1;
  uint64_t now = monotonic_ns();
  // A GIL request during finalization may never return (the process exits, or the
  // runtime ends the thread): its stack is wanted at once.
  bool urgent = t->in_gil_request && python_finalizing();
  if (t->wait.captured_for != start && (urgent || now - start >= kWaitSliceNs)) capture_for_wait(t, start);
  maybe_run_check(t, now);
  t->busy = was_busy;
}

void capture_wait_now(PreloadThread* t) {
  uint64_t start = t->wait.start_ns.load(std::memory_order_relaxed);
  if (start && t->wait.captured_for != start) capture_for_wait(t, start);
}

namespace {

// Whether candidate `c` has room for, and not yet, an edge to this lock.
bool wants_edge(const PreloadThread::FutexHoldCandidate& c, uintptr_t address, LockKind kind, uintptr_t gil) {
  if (c.word == address || c.edge_count == sizeof(c.edges) / sizeof(c.edges[0])) return false;
  for (int e = 0; e < c.edge_count; ++e)
    if (c.edges[e].to_address == address && c.edges[e].to_kind == kind && c.edges[e].to_gil == gil) return false;
  return true;
}

}  // namespace

void note_ordering_before_acquire_slow(PreloadThread* t, uintptr_t address, LockKind kind, LockMode mode, bool gil_held,
                                       uintptr_t pc, bool readers_wait_for_writers) {
  t->busy = 1;
  if (t->state.depth > 0 || gil_held) {
    t->state.gil = gil_held ? current_gil() : 0;
    if (g_detector->before_blocking_acquire(t->state, address, kind, mode, gil_held, pc, readers_wait_for_writers))
      report_new_findings_from_hook(t);
  }
  note_acquisition_under_futex_words(t, address, kind, mode, 0, pc);
  t->busy = 0;
}

void note_acquisition_under_futex_words_slow(PreloadThread* t, uintptr_t address, LockKind kind, LockMode mode,
                                             uintptr_t gil, uintptr_t pc) {
  if (!g_detector) return;
  bool wanted = false;
  for (int i = 0; i < t->futex_hold_count; ++i) wanted |= wants_edge(t->futex_holds[i], address, kind, gil);
  if (!wanted) return;
  // One capture serves every candidate: the stack of this acquisition. Off the caller's
  // stack, and only where the unwinder fits.
  ScratchCapture scratch(*g_detector);
  if (!scratch.get() || !stack_has_room(t, Detector::kNewEdgeStackBudget)) return;
  EvidenceCapture& capture = *scratch.get();
  capture_current(capture, thread_holds_gil());
  Detector::DeferredEdge edge{};
  edge.to_address = address;
  edge.to_kind = kind;
  edge.to_mode = mode;
  edge.to_gil = gil;
  edge.pc = pc;
  edge.tid = capture.tid;
  std::memcpy(edge.thread_name, capture.thread_name, sizeof(edge.thread_name));
  g_detector->intern_capture(capture, &edge.native_stack, &edge.python_stack);
  for (int i = 0; i < t->futex_hold_count; ++i) {
    PreloadThread::FutexHoldCandidate& c = t->futex_holds[i];
    if (wants_edge(c, address, kind, gil)) c.edges[c.edge_count++] = edge;
  }
}

// Learned addresses fill their array from the front; the first 0 ends the search.
bool learned(const std::atomic<uintptr_t> (&set)[kMaxGilConditions], uintptr_t address) {
  for (auto& entry : set) {
    uintptr_t v = entry.load(std::memory_order_acquire);
    if (v == address) return true;
    if (!v) return false;
  }
  return false;
}

bool is_gil_condition(uintptr_t cond) { return learned(g_gil_conditions, cond); }

void learn_gil_condition(uintptr_t cond, uintptr_t mutex) {
  for (int i = 0; i < kMaxGilConditions; ++i) {
    std::atomic<uintptr_t>& c = g_gil_conditions[i];
    uintptr_t v = c.load(std::memory_order_relaxed);
    if (v == cond) return;
    if (!v && c.compare_exchange_strong(v, cond)) {
      g_gil_mutexes[i].store(mutex, std::memory_order_release);
      return;
    }
    if (v == cond) return;
  }
}

bool is_gil_mutex_known() { return g_gil_mutexes[0].load(std::memory_order_acquire) != 0; }

bool is_gil_mutex(uintptr_t mutex) { return learned(g_gil_mutexes, mutex); }

uint64_t threads_not_watched() { return g_threads_not_watched.load(std::memory_order_relaxed); }

}  // namespace gilwatch::preload
