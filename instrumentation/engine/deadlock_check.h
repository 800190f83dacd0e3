// deadlock_check: given a snapshot of the threads blocked right now, decides which of
// them are deadlocked (definitely, or probably), and whether one finished wait with the
// GIL held is a gil-held-blocking finding.
//
// It decides; it does not gather or report. The preload (preload/tracking/wait_monitor.cpp)
// reads every thread's published wait record into a WaitSnapshot — what each waits
// for, since when, with its own deadline or not, which threads the waited-on object
// names as its holders, whether it holds the GIL — calls decide_deadlock, and turns the
// verdict into a finding (its text, its stacks) and the exit. Nothing here reads a lock,
// a clock or another thread; everything here is unit-tested (tests/unit/
// test_deadlock_check.cpp).
//
// The rules, in the order they are tried (the first that finds something wins):
//  1. cycle:        a cycle in the wait-for graph (wait_graph.h) whose members have each
//                   waited deadlock_ns without a deadline of their own;
//  2. owner-ended:  a thread waits (untimed, deadlock_ns) for a lock whose owner, named
//                   by the lock, is no thread any more;
//  3. owner-parked: a thread waits (deadlock_ns) for a lock whose owner asked for the
//                   GIL while the interpreter finalizes: such a request never returns;
//  4. probable:     a GIL holder blocked (untimed) on an object that names no owner (a
//                   condition variable, a futex word) for 2 x deadlock_ns, while other
//                   threads have waited as long for that same GIL.
// On a free-threaded build (free_threading.h, Check::kGilWaitFor) there is no GIL to
// wait for: no GIL edges and no rule 4. When the snapshot knows the threads' runtime
// roles, the waits of the runtime's pauses are edges too (add_runtime_edges).
//
// Allocation-free: the snapshot, the verdict and the graph are caller-provided, fixed
// capacity (the preload keeps one of each in static storage).
#pragma once

#include <cstdint>

#include "detector.h"
#include "free_threading.h"
#include "wait_graph.h"

namespace gilwatch {

// One blocked thread, as its wait record and the waited-on object show it.
struct WaitEntry {
  static constexpr int kMaxHolders = 16;

  uint32_t tid = 0;
  WaitKind kind = WaitKind::kNone;
  bool holds_gil = false;
  // Which GIL it holds (holds_gil) or waits for (kGil): WaitGraph::Node::gil.
  uintptr_t gil = 0;
  // The wait has the program's own deadline: it ends by itself.
  bool timed = false;
  uint64_t waited_ns = 0;
  // A mutex's owner or a rwlock's writer, as the lock names it (0: none). When that
  // thread is not in the snapshot, `owner_exists` says whether it is still a thread.
  uint32_t owner = 0;
  bool owner_exists = true;
  // Other threads the wait is for: the readers of a rwlock waited on for writing (when
  // it names no writer), the thread being joined. In the order they were found.
  uint32_t holders[kMaxHolders] = {};
  int holder_count = 0;
  // Its part in a free-threaded runtime's pauses (free_threading.h), read only when the
  // snapshot says roles are known.
  RuntimeRole role = RuntimeRole::kDetached;
};

struct WaitSnapshot {
  static constexpr int kMaxThreads = WaitGraph::kMaxNodes;

  WaitEntry entries[kMaxThreads];
  int count = 0;
  // Requests for the GIL no longer return (the runtime finalizes): every kGil waiter is
  // parked forever, and so are the locks it holds.
  bool gil_requests_never_return = false;
  PythonThreading threading = PythonThreading::kGil;
  // The entries' runtime roles are known: the waits the runtime's pauses add
  // (add_runtime_edges) join the graph. The preload does not gather roles yet.
  bool runtime_roles_known = false;

  void clear() {
    count = 0;
    gil_requests_never_return = false;
    threading = PythonThreading::kGil;
    runtime_roles_known = false;
  }
  // Returns the new entry's index, or -1 when full.
  int add(const WaitEntry& e) {
    if (count == kMaxThreads) return -1;
    entries[count] = e;
    return count++;
  }
};

enum class DeadlockRule : uint8_t {
  kNone = 0,
  kCycle,        // members[] in wait order, each waiting for the next, the last for the first
  kOwnerEnded,   // members[0] waits for a lock whose owner has ended
  kOwnerParked,  // members[0] waits for a lock held by members[1], parked forever
  kProbable,     // members[0] holds the GIL blocked on an ownerless object; the rest wait for that GIL
};

// What the check learned about one entry, for describing it.
struct WaitFacts {
  uint32_t waits_for[4];   // the threads it waits for (at most four), by tid
  int waits_for_count;
  bool owner_ended;        // the owner its lock names is no thread any more
  int owner_parked;        // the entry of that owner when it is parked forever, else -1
  bool parked;             // a GIL request that never returns
};

struct DeadlockVerdict {
  DeadlockRule rule = DeadlockRule::kNone;
  int members[kMaxEventThreads];  // entry indices
  int count = 0;
  WaitFacts facts[WaitSnapshot::kMaxThreads];  // one per snapshot entry
  bool probable() const { return rule == DeadlockRule::kProbable; }
};

// The gatherer's confirmation that `members` are still in the waits the snapshot
// recorded (a thread may have woken since). A set it rejects is no deadlock, and the
// next rule is tried. Null: they are.
using StillWaiting = bool (*)(const int* members, int count, void* context);

// Decides over `snapshot` with the deadlock threshold `deadlock_ns` (probable: twice
// that). `graph` is scratch space; afterwards it holds the snapshot's wait-for graph.
void decide_deadlock(const WaitSnapshot& snapshot, uint64_t deadlock_ns, WaitGraph& graph, DeadlockVerdict& verdict,
                     StillWaiting still_waiting = nullptr, void* context = nullptr);

// A wait made with the GIL held has ended after `duration_ns`.
enum class GilHeldWait : uint8_t {
  kNoFinding,      // too short, the interpreter's own wait, or a build without a GIL
  kShortFutexWait, // a futex wait shorter than the threshold: recorded for the command to judge
  kFinding,        // gil-held-blocking
};
// `futex_word`: the wait was on a raw futex word. `interpreter_call`: the waiting call
// was made by the interpreter itself (not the extension's to fix).
GilHeldWait judge_gil_held_wait(uint64_t duration_ns, uint32_t gil_blocking_ms, bool futex_word,
                                bool interpreter_call, PythonThreading threading);

// A kShortFutexWait, judged once the waiter's symbolized frames have named the word
// (`gilwatch`, harness/results/futex_rules): a finding only when the word is a Rust Mutex or
// RwLock (`rust_lock`) whose holders need the GIL while they hold it
// (`holders_need_gil`, Detector::word_holders_need_gil). A short wait for a lock whose
// holders never ask for the GIL (std's stdout lock, PyO3's reference pool) cannot
// deadlock and is left out; the profile still counts it.
bool short_futex_wait_is_finding(bool rust_lock, bool holders_need_gil);

}  // namespace gilwatch
