#include "wait_monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "gilwatch/result_format.h"
#include "interpreters.h"
#include "lifecycle_checks.h"
#include "number_format.h"
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

TextBuilder& TextBuilder::add(const char* s) {
  while (*s && len + 1 < size) buf[len++] = *s++;
  if (size) buf[len] = '\0';
  return *this;
}

TextBuilder& TextBuilder::dec(uint64_t v) {
  char digits[24];
  std::size_t n = format_decimal(v, digits);
  digits[n] = '\0';
  return add(digits);
}

TextBuilder& TextBuilder::hex(uintptr_t v) {
  char digits[24];
  std::size_t n = format_hex(v, digits);
  digits[n] = '\0';
  return add("0x").add(digits);
}

uint64_t mix_key(uint64_t a, uint64_t b) {
  uint64_t h = (a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2))) * 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 31);
}

void thread_name_of(uint32_t tid, char* out, std::size_t size) {
  std::memset(out, 0, size);
  char path[64];
  TextBuilder p(path, sizeof(path));
  p.add("/proc/self/task/").dec(tid).add("/comm");
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = ::read(fd, out, size - 1);
  ::close(fd);
  if (n <= 0) {
    out[0] = '\0';
    return;
  }
  if (out[n - 1] == '\n') out[n - 1] = '\0';
}

namespace {

bool thread_alive(uint32_t tid) {
  return syscall(SYS_tgkill, ::getpid(), pid_t(tid), 0) == 0 || errno != ESRCH;
}

// ---- the registry ----

constexpr int kMaxRegistered = 16384;
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

// ---- the check ----

struct NodeInfo {
  PreloadThread* thread;
  uint64_t start;
  WaitKind kind;
  bool holds_gil;
  bool timed;
  uintptr_t gil;
  uintptr_t object;
  pthread_t join_target;
  uintptr_t pc;
  uint32_t native_stack, python_stack;
  uint32_t owner_tid;   // for mutex/rwlock waits: the owner the lock names, 0 if none
  bool owner_gone;      // that owner no longer exists
  int owner_parked;     // that owner's node when it waits forever for the GIL (parked), else -1
  bool parked;          // a wait for the GIL while the runtime finalizes: never returns
  uint32_t waits_for[4];  // tids, for the description
  int waits_for_count;
};

WaitGraph g_graph;
NodeInfo g_nodes[WaitGraph::kMaxNodes];
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

void add_waits_for(NodeInfo& n, uint32_t tid) {
  for (int i = 0; i < n.waits_for_count; ++i)
    if (n.waits_for[i] == tid) return;
  if (n.waits_for_count < 4) n.waits_for[n.waits_for_count++] = tid;
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

void connect_to_owner(int u, uint32_t owner) {
  NodeInfo& n = g_nodes[u];
  n.owner_tid = owner;
  add_waits_for(n, owner);
  int v = g_graph.find_node(owner);
  if (v >= 0) {
    g_graph.add_edge(u, v);
    if (g_nodes[v].parked) n.owner_parked = v;
  } else if (!thread_alive(owner)) {
    n.owner_gone = true;
  }
}

// Reads every registered thread's wait record; builds nodes and edges. Registry locked.
void build_graph(uint64_t now) {
  g_graph.clear();
  for (int i = 0; i < g_registry_high; ++i) {
    PreloadThread* t = g_registry[i];
    if (!t) continue;
    uint64_t start = t->wait.start_ns.load(std::memory_order_acquire);
    if (!start) continue;
    NodeInfo info{};
    info.owner_parked = -1;
    info.thread = t;
    info.start = start;
    info.kind = t->wait.kind;
    info.holds_gil = t->wait.holds_gil;
    info.timed = t->wait.timed;
    info.gil = t->wait.gil;
    info.object = t->wait.object;
    info.join_target = t->wait.join_target;
    info.pc = t->wait.pc;
    bool captured = t->wait.captured_for == start;
    info.native_stack = captured ? t->wait.native_stack : 0;
    info.python_stack = captured ? t->wait.python_stack : 0;
    if (t->wait.start_ns.load(std::memory_order_acquire) != start) continue;  // changed meanwhile
    int index =
        g_graph.add_node(WaitGraph::Node{t->tid, info.kind, info.holds_gil, now > start ? now - start : 0, info.gil,
                                         info.timed});
    if (index < 0) break;
    g_nodes[index] = info;
  }
  if (gil_requests_never_return())
    for (int u = 0; u < g_graph.node_count(); ++u)
      if (g_nodes[u].kind == WaitKind::kGil) g_nodes[u].parked = true;
  for (int u = 0; u < g_graph.node_count(); ++u) {
    NodeInfo& n = g_nodes[u];
    switch (n.kind) {
      case WaitKind::kMutex:
        if (uint32_t owner = mutex_owner(n.object)) connect_to_owner(u, owner);
        break;
      case WaitKind::kRwlockRead:
      case WaitKind::kRwlockWrite:
        if (uint32_t writer = rwlock_writer(n.object)) {
          connect_to_owner(u, writer);
        } else if (n.kind == WaitKind::kRwlockWrite) {
          // Readers: whoever has it on their held stack.
          for (int i = 0; i < g_registry_high; ++i) {
            PreloadThread* t = g_registry[i];
            if (!t || t == n.thread || !holds_lock(t, n.object)) continue;
            add_waits_for(n, t->tid);
            int v = g_graph.find_node(t->tid);
            if (v >= 0) g_graph.add_edge(u, v);
          }
        }
        break;
      case WaitKind::kJoin:
        for (int i = 0; i < g_registry_high; ++i) {
          PreloadThread* t = g_registry[i];
          if (!t || !pthread_equal(t->self, n.join_target)) continue;
          add_waits_for(n, t->tid);
          int v = g_graph.find_node(t->tid);
          if (v >= 0) g_graph.add_edge(u, v);
        }
        break;
      case WaitKind::kGil:
        if (int gil_holder = g_graph.gil_holder(n.gil); gil_holder >= 0 && gil_holder != u) {
          add_waits_for(n, g_nodes[gil_holder].thread->tid);
          g_graph.add_edge(u, gil_holder);
        }
        break;
      default:
        break;
    }
  }
}

void describe_wait(TextBuilder& b, const NodeInfo& n) {
  auto owners = [&] {
    for (int i = 0; i < n.waits_for_count; ++i) b.add(i ? ", " : "").add("thread ").dec(n.waits_for[i]);
  };
  switch (n.kind) {
    case WaitKind::kMutex:
      b.add("waits for mutex ").hex(n.object);
      if (n.waits_for_count) b.add(" held by "), owners();
      if (n.owner_gone) b.add(", which has ended");
      if (n.owner_parked >= 0) b.add(", which is parked forever");
      break;
    case WaitKind::kRwlockRead:
    case WaitKind::kRwlockWrite:
      b.add(n.kind == WaitKind::kRwlockRead ? "waits to read-lock rwlock " : "waits to write-lock rwlock ")
          .hex(n.object);
      if (n.waits_for_count) b.add(" held by "), owners();
      if (n.owner_gone) b.add(", which has ended");
      if (n.owner_parked >= 0) b.add(", which is parked forever");
      break;
    case WaitKind::kJoin:
      b.add("joins ");
      if (n.waits_for_count) owners(); else b.add("a thread");
      break;
    case WaitKind::kGil:
      b.add("waits for the GIL");
      if (n.gil && n.gil != WaitGraph::kUnknownGil) b.add(" of interpreter ").hex(n.gil);
      if (n.waits_for_count) b.add(" held by "), owners();
      if (n.parked) b.add(" while the interpreter finalizes: parked forever (or ended) by the runtime");
      break;
    case WaitKind::kCondition:
      b.add("waits on condition variable ").hex(n.object);
      break;
    case WaitKind::kFutex:
      b.add("waits on futex word ").hex(n.object).add(" ").add(result_format::kUnnamedFutexWord);
      break;
    case WaitKind::kPyMutex:
      b.add("waits for PyMutex ").hex(n.object).add(g_python.free_threaded ? " (parked, detached)" : " (parked, the GIL released)");
      break;
    case WaitKind::kNone:
      break;
  }
  if (n.holds_gil) b.add(" while holding the GIL");
  if (n.holds_gil && n.gil) b.add(" of interpreter ").hex(n.gil);
}

// Returns the lock's index in the event, or -1 when the event has no room for it.
int add_lock(EventFinding& e, uintptr_t address, LockKind kind, uintptr_t site) {
  for (uint32_t i = 0; i < e.lock_count; ++i)
    if (e.locks[i].address == address && e.locks[i].kind == kind) return int(i);
  if (e.lock_count >= kMaxEventLocks) return -1;
  e.locks[e.lock_count] = EventLock{address, kind, site};
  return int(e.lock_count++);
}

void note_held(EventThread& t, int index) {
  if (index >= 0) t.holds_mask |= uint8_t(1u << index);
}
void note_waited(EventThread& t, int index) {
  if (index >= 0) t.waits_for_plus1 = uint8_t(index + 1);
}

void add_node_to_event(EventFinding& e, const NodeInfo& n, uint64_t now) {
  if (e.thread_count >= kMaxEventThreads) return;
  EventThread& t = e.threads[e.thread_count++];
  t.tid = n.thread->tid;
  thread_name_of(t.tid, t.name, sizeof(t.name));
  TextBuilder role(t.role, sizeof(t.role));
  describe_wait(role, n);
  role.add(" (blocked ").dec((now - n.start) / 1000000).add(" ms)");
  // What else it holds: the locks its held stack names.
  const ThreadState& s = n.thread->state;
  int depth = s.depth < ThreadState::kMaxHeld ? s.depth : ThreadState::kMaxHeld;
  int listed = 0;
  for (int i = 0; i < depth; ++i) {
    const HeldLock& h = s.held[i];
    if (h.address == 0 || h.kind == LockKind::kGil) continue;
    role.add(listed++ ? ", " : "; holds ").add(lock_kind_name(h.kind)).add(" ").hex(h.address);
    note_held(t, add_lock(e, h.address, h.kind, h.acquire_pc));
  }
  t.native_stack = n.native_stack;
  t.python_stack = n.python_stack;
  switch (n.kind) {
    case WaitKind::kMutex: note_waited(t, add_lock(e, n.object, LockKind::kMutex, 0)); break;
    case WaitKind::kRwlockRead:
    case WaitKind::kRwlockWrite: note_waited(t, add_lock(e, n.object, LockKind::kRwlock, 0)); break;
    case WaitKind::kGil:
      note_waited(t, add_lock(e, n.gil == WaitGraph::kUnknownGil ? 0 : n.gil, LockKind::kGil, 0));
      break;
    case WaitKind::kFutex: note_waited(t, add_lock(e, n.object, LockKind::kFutex, 0)); break;
    case WaitKind::kPyMutex: note_waited(t, add_lock(e, n.object, LockKind::kPyMutex, 0)); break;
    default: break;
  }
  if (n.holds_gil) note_held(t, add_lock(e, n.gil, LockKind::kGil, 0));
}

// Builds the finding for a cycle (or a single thread waiting for an owner that is gone,
// or a probable deadlock) into g_event. Registry locked.
void build_deadlock_event(const int* members, int count, bool probable, uint64_t now) {
  EventFinding& e = g_event;
  std::memset(&e, 0, sizeof(e));
  e.kind = FindingKind::kDeadlock;
  e.probable = probable;
  e.count = 1;
  uint64_t key = probable ? 0x5052 : 0x4445;
  for (int i = 0; i < count; ++i) key = mix_key(key, mix_key(g_nodes[members[i]].thread->tid, g_nodes[members[i]].start));
  e.key = key;
  TextBuilder summary(e.summary, sizeof(e.summary));
  if (probable) {
    summary.add("probable deadlock: thread ").dec(g_nodes[members[0]].thread->tid)
        .add(" holds the GIL while blocked on ").add(result_format::kOwnerlessObject).add(", and ").dec(count - 1)
        .add(count == 2 ? " thread waits" : " threads wait").add(" for the GIL");
  } else if (count == 1 && g_nodes[members[0]].owner_gone) {
    summary.add("deadlock: thread ").dec(g_nodes[members[0]].thread->tid)
        .add(" waits for a lock whose owner, thread ").dec(g_nodes[members[0]].owner_tid)
        .add(", has ended");
  } else if (count == 2 && g_nodes[members[0]].owner_parked == members[1]) {
    summary.add("deadlock at exit: thread ").dec(g_nodes[members[0]].thread->tid)
        .add(" waits for a lock held by thread ").dec(g_nodes[members[1]].thread->tid)
        .add(", which asked for the GIL while the interpreter finalizes and never returns from it");
  } else {
    summary.add("deadlock: ").dec(count).add(count == 1 ? " thread waits for itself" : " threads wait for each other");
    for (int i = 0; i < count; ++i) {
      summary.add(i ? "; thread " : ": thread ").dec(g_nodes[members[i]].thread->tid).add(" ");
      TextBuilder tmp(summary.buf + summary.len, summary.size - summary.len);
      describe_wait(tmp, g_nodes[members[i]]);
      summary.len += tmp.len;
    }
  }
  TextBuilder detail(e.detail, sizeof(e.detail));
  for (int i = 0; i < count; ++i) detail.add(i ? "," : "").add(wait_kind_name(g_nodes[members[i]].kind));
  for (int i = 0; i < count; ++i) add_node_to_event(e, g_nodes[members[i]], now);
}

bool still_waiting(const int* members, int count) {
  for (int i = 0; i < count; ++i) {
    const NodeInfo& n = g_nodes[members[i]];
    if (n.thread->wait.start_ns.load(std::memory_order_acquire) != n.start) return false;
  }
  return true;
}

// Returns true when a deadlock was recorded (new).
bool run_check(uint64_t now) {
  const uint64_t certain_ns = uint64_t(g_options.deadlock_ms) * 1000000ull;
  const uint64_t probable_ns = 2 * certain_ns;
  int members[WaitGraph::kMaxNodes];
  int count = 0;
  bool probable = false;
  {
    SpinLockGuard guard(g_registry_lock);
    build_graph(now);
    count = g_graph.find_cycle(certain_ns, members, kMaxEventThreads);
    if (count && !still_waiting(members, count)) count = 0;
    if (!count) {
      // A thread waiting for a lock whose owner has ended waits forever.
      for (int u = 0; u < g_graph.node_count(); ++u) {
        if (g_nodes[u].owner_gone && !g_nodes[u].timed && g_graph.node(u).waited_ns >= certain_ns) {
          members[0] = u;
          count = 1;
          break;
        }
      }
    }
    if (!count) {
      // ...and so does one waiting for a lock whose owner asked for the GIL while the
      // interpreter finalizes (3.14+ park such a thread forever, holding its locks).
      for (int u = 0; u < g_graph.node_count(); ++u) {
        if (g_nodes[u].owner_parked >= 0 && g_graph.node(u).waited_ns >= certain_ns) {
          members[0] = u;
          members[1] = g_nodes[u].owner_parked;
          count = still_waiting(members, 2) ? 2 : 0;
          if (count) break;
        }
      }
    }
    if (!count) {
      // Probable: the GIL holder is blocked on something without an owner (a condition
      // variable, a futex word) and others have been waiting for the GIL all along.
      // Each GIL on its own: with per-interpreter GILs, a waiter for one GIL does not
      // wait for another's holder.
      for (int holder = 0; holder < g_graph.node_count() && !count; ++holder) {
        const WaitGraph::Node& h = g_graph.node(holder);
        if (!h.holds_gil || h.timed || h.waited_ns < probable_ns ||
            (g_nodes[holder].kind != WaitKind::kCondition && g_nodes[holder].kind != WaitKind::kFutex))
          continue;
        members[count++] = holder;
        for (int u = 0; u < g_graph.node_count() && count < kMaxEventThreads; ++u)
          if (g_nodes[u].kind == WaitKind::kGil && g_graph.node(u).gil == h.gil &&
              g_graph.node(u).waited_ns >= probable_ns)
            members[count++] = u;
        if (count < 2 || !still_waiting(members, count)) count = 0;
      }
      probable = count > 0;
    }
    if (!count) return false;
    build_deadlock_event(members, count, probable, now);
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
    if (slot < 0) return;  // full: this thread is not watched
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
                                       uintptr_t pc) {
  t->busy = 1;
  if (t->state.depth > 0 || gil_held) {
    t->state.gil = gil_held ? current_gil() : 0;
    if (g_detector->before_blocking_acquire(t->state, address, kind, mode, gil_held, pc))
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

namespace {

// Records one gil-held-blocking event. A wait is keyed by its caller `pc`, except a
// futex wait (`futex_word`): its call into the kernel is made inside the lock
// implementation, the same pc for every Rust lock, so it is keyed by the waiter's whole
// stack, which then has to be captured before the repeat check.
void record_gil_held_wait(PreloadThread* t, const char* primitive, const char* detail, uintptr_t object,
                          bool futex_word, uintptr_t pc, uint64_t duration_ns) {
  int was_busy = t->busy;
  t->busy = 1;
  uint64_t key = mix_key(uint64_t(FindingKind::kGilHeldBlocking) << 56, pc);
  if (futex_word || !g_detector->repeat_event(key, duration_ns)) {
    static EventFinding e;  // under the lock below
    static SpinLock lock;
    SpinLockGuard guard(lock);
    std::memset(&e, 0, sizeof(e));
    char role[160];
    TextBuilder r(role, sizeof(role));
    r.add("held the GIL while blocked in ").add(primitive);
    if (object) r.add(" on ").hex(object);
    r.add(" for ").dec(duration_ns / 1000000).add(" ms");
    describe_current_thread(e.threads[0], role, true);
    bool repeated = false;
    if (futex_word) {
      // Short and long waits of one stack are separate events: the command judges the
      // short ones (result_format.h).
      uint64_t kind_of_wait = std::strcmp(detail, result_format::kDetailShortFutexWait) == 0 ? 0xf07e9 : 0xf07e8;
      key = mix_key(uint64_t(FindingKind::kGilHeldBlocking) << 56, mix_key(kind_of_wait, e.threads[0].native_stack));
      repeated = g_detector->repeat_event(key, duration_ns);
    }
    if (!repeated) {
      e.kind = FindingKind::kGilHeldBlocking;
      e.key = key;
      e.count = 1;
      e.longest_ns = duration_ns;
      TextBuilder(e.detail, sizeof(e.detail)).add(detail);
      TextBuilder(e.summary, sizeof(e.summary)).add("blocking call ").add(primitive).add(" while holding the GIL");
      e.thread_count = 1;
      e.locks[e.lock_count++] = EventLock{0, LockKind::kGil, 0};
      if (futex_word) e.locks[e.lock_count++] = EventLock{object, LockKind::kFutex, 0};
      add_held_locks(e, t->state);
      record_and_report(e);
    }
  }
  t->busy = was_busy;
}

}  // namespace

void note_gil_held_futex_wait(PreloadThread* t, uintptr_t word, uint64_t duration_ns) {
  if (!g_detector) return;
  bool short_wait = duration_ns < uint64_t(g_options.gil_blocking_ms) * 1000000ull;
  record_gil_held_wait(t, "futex wait", short_wait ? result_format::kDetailShortFutexWait : "futex wait", word, true, 0,
                       duration_ns);
}

void note_gil_held_wait(PreloadThread* t, const char* primitive, uintptr_t object, uintptr_t pc,
                        uint64_t duration_ns) {
  if (!g_detector || duration_ns < uint64_t(g_options.gil_blocking_ms) * 1000000ull) return;
  // The interpreter's own waits are not the extension's to fix.
  if (interpreter_contains(pc)) return;
  record_gil_held_wait(t, primitive, primitive, object, false, pc, duration_ns);
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

void describe_current_thread(EventThread& out, const char* role, bool with_python) {
  TextBuilder(out.role, sizeof(out.role)).add(role);
  // The stack into a scratch record, where the unwinder fits; else the thread alone.
  ScratchCapture scratch(*g_detector);
  PreloadThread* t = current_thread();
  if (!scratch.get() || !stack_has_room(t, Detector::kNewEdgeStackBudget)) {
    out.tid = current_tid(t);
    return;
  }
  EvidenceCapture& capture = *scratch.get();
  capture_current(capture, with_python);
  out.tid = capture.tid;
  std::memcpy(out.name, capture.thread_name, sizeof(out.name));
  g_detector->intern_capture(capture, &out.native_stack, &out.python_stack);
}

void add_held_locks(EventFinding& e, const ThreadState& s) {
  int depth = s.depth < ThreadState::kMaxHeld ? s.depth : ThreadState::kMaxHeld;
  for (int i = 0; i < depth; ++i) {
    const HeldLock& h = s.held[i];
    if (h.kind == LockKind::kGil) continue;
    add_lock(e, h.address, h.kind, h.acquire_pc);
  }
}

void describe_held_locks(TextBuilder& b, const ThreadState& s) {
  int depth = s.depth < ThreadState::kMaxHeld ? s.depth : ThreadState::kMaxHeld;
  int listed = 0;
  for (int i = 0; i < depth; ++i) {
    const HeldLock& h = s.held[i];
    if (h.kind == LockKind::kGil) continue;
    b.add(listed++ ? ", " : "").add(lock_kind_name(h.kind)).add(" ").hex(h.address);
  }
  if (!listed) b.add("nothing");
}

bool record_and_report(const EventFinding& e) {
  if (g_detector->record_event(e) != EventResult::kNew) return false;
  report_new_findings_from_hook(current_thread());
  return true;
}

}  // namespace gilwatch::preload
