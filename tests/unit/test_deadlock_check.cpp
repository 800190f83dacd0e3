#include <catch2/catch.hpp>

#include "deadlock_check.h"

using gilwatch::DeadlockRule;
using gilwatch::DeadlockVerdict;
using gilwatch::decide_deadlock;
using gilwatch::GilHeldWait;
using gilwatch::judge_gil_held_wait;
using gilwatch::PythonThreading;
using gilwatch::WaitEntry;
using gilwatch::WaitGraph;
using gilwatch::WaitKind;
using gilwatch::WaitSnapshot;

namespace {

constexpr uint64_t kMs = 1000000;
constexpr uint64_t kDeadlock = 500 * kMs;
constexpr uintptr_t kSubGil = 0x7f0000010000;

// Large: one of each, reused by every test.
WaitSnapshot g_snapshot;
WaitGraph g_graph;
DeadlockVerdict g_verdict;

WaitSnapshot& fresh() {
  g_snapshot.clear();
  return g_snapshot;
}

WaitEntry wait(uint32_t tid, WaitKind kind, uint64_t waited_ms, uint32_t owner = 0) {
  WaitEntry e;
  e.tid = tid;
  e.kind = kind;
  e.waited_ns = waited_ms * kMs;
  e.owner = owner;
  return e;
}

WaitEntry holding_gil(WaitEntry e, uintptr_t gil = 0) {
  e.holds_gil = true;
  e.gil = gil;
  return e;
}

WaitEntry joining(uint32_t tid, uint32_t target, uint64_t waited_ms) {
  WaitEntry e = wait(tid, WaitKind::kJoin, waited_ms);
  e.holders[e.holder_count++] = target;
  return e;
}

const DeadlockVerdict& decide(uint64_t deadlock_ns = kDeadlock) {
  decide_deadlock(g_snapshot, deadlock_ns, g_graph, g_verdict);
  return g_verdict;
}

bool reject_all(const int*, int, void*) { return false; }
bool accept_all(const int*, int, void*) { return true; }

}  // namespace

TEST_CASE("deadlock check: two threads waiting for each other's mutex are a deadlock") {
  auto& s = fresh();
  s.add(wait(10, WaitKind::kMutex, 900, 11));
  s.add(wait(11, WaitKind::kMutex, 900, 10));
  const auto& v = decide();
  REQUIRE(v.rule == DeadlockRule::kCycle);
  REQUIRE(v.count == 2);
  CHECK(v.members[0] == 0);
  CHECK(v.members[1] == 1);
  CHECK(v.facts[0].waits_for_count == 1);
  CHECK(v.facts[0].waits_for[0] == 11);
  CHECK_FALSE(v.probable());
}

TEST_CASE("deadlock check: the same two threads, one of them blocked for less than deadlock_ms, are not yet") {
  auto& s = fresh();
  s.add(wait(10, WaitKind::kMutex, 900, 11));
  s.add(wait(11, WaitKind::kMutex, 100, 10));
  CHECK(decide().rule == DeadlockRule::kNone);
}

TEST_CASE("deadlock check: three threads in a ring are one cycle, in wait order") {
  auto& s = fresh();
  s.add(wait(1, WaitKind::kMutex, 900, 3));  // 1 -> 3
  s.add(wait(2, WaitKind::kMutex, 900, 1));  // 2 -> 1
  s.add(wait(3, WaitKind::kMutex, 900, 2));  // 3 -> 2
  const auto& v = decide();
  REQUIRE(v.rule == DeadlockRule::kCycle);
  REQUIRE(v.count == 3);
  CHECK(v.members[0] == 0);
  CHECK(v.members[1] == 2);
  CHECK(v.members[2] == 1);
}

TEST_CASE("deadlock check: three threads in a chain ending in a running thread are no deadlock") {
  auto& s = fresh();
  s.add(wait(1, WaitKind::kMutex, 900, 3));
  s.add(wait(2, WaitKind::kMutex, 900, 1));
  s.add(wait(3, WaitKind::kMutex, 900, 4));  // thread 4 runs: not in the snapshot, exists
  const auto& v = decide();
  CHECK(v.rule == DeadlockRule::kNone);
  CHECK_FALSE(v.facts[2].owner_ended);
}

TEST_CASE("deadlock check: a cycle through a timed wait is never a definite deadlock") {
  auto& s = fresh();
  s.add(wait(10, WaitKind::kMutex, 5000, 11));
  WaitEntry timed = wait(11, WaitKind::kMutex, 5000, 10);
  timed.timed = true;
  s.add(timed);
  CHECK(decide().rule == DeadlockRule::kNone);
}

TEST_CASE("deadlock check: a thread re-locking the mutex it holds waits for itself") {
  auto& s = fresh();
  s.add(wait(7, WaitKind::kMutex, 900, 7));
  const auto& v = decide();
  REQUIRE(v.rule == DeadlockRule::kCycle);
  CHECK(v.count == 1);
}

TEST_CASE("deadlock check: the threshold is inclusive, one nanosecond short is not enough") {
  auto& s = fresh();
  WaitEntry a = wait(10, WaitKind::kMutex, 0, 11);
  WaitEntry b = wait(11, WaitKind::kMutex, 0, 10);
  a.waited_ns = b.waited_ns = kDeadlock;
  s.add(a);
  s.add(b);
  CHECK(decide(kDeadlock).rule == DeadlockRule::kCycle);
  CHECK(decide(kDeadlock + 1).rule == DeadlockRule::kNone);
}

TEST_CASE("deadlock check: a join with the GIL held, the joined thread waiting for the GIL, is a deadlock") {
  auto& s = fresh();
  s.add(holding_gil(joining(100, 101, 700)));
  s.add(wait(101, WaitKind::kGil, 700));
  const auto& v = decide();
  REQUIRE(v.rule == DeadlockRule::kCycle);
  CHECK(v.count == 2);
  CHECK(v.facts[1].waits_for[0] == 100);
}

TEST_CASE("deadlock check: a join of a thread that is not blocked is no deadlock") {
  auto& s = fresh();
  s.add(holding_gil(joining(100, 102, 700)));
  s.add(wait(101, WaitKind::kGil, 700));
  CHECK(decide().rule == DeadlockRule::kNone);
}

TEST_CASE("deadlock check: a rwlock writer waits for the readers the gatherer names") {
  auto& s = fresh();
  WaitEntry writer = wait(1, WaitKind::kRwlockWrite, 900);
  writer.holders[writer.holder_count++] = 2;
  s.add(writer);
  s.add(wait(2, WaitKind::kMutex, 900, 1));
  CHECK(decide().rule == DeadlockRule::kCycle);

  s.entries[0].holder_count = 0;  // no reader named: nothing to wait for
  CHECK(decide().rule == DeadlockRule::kNone);
}

TEST_CASE("deadlock check: a GIL holder blocked on a condition while others wait for the GIL is a probable deadlock") {
  auto& s = fresh();
  s.add(holding_gil(wait(1, WaitKind::kCondition, 1100)));
  s.add(wait(2, WaitKind::kGil, 1100));
  s.add(wait(3, WaitKind::kGil, 1100));
  const auto& v = decide();
  REQUIRE(v.rule == DeadlockRule::kProbable);
  CHECK(v.probable());
  REQUIRE(v.count == 3);
  CHECK(v.members[0] == 0);
  CHECK(v.members[1] == 1);
  CHECK(v.members[2] == 2);
}

TEST_CASE("deadlock check: a probable deadlock needs twice deadlock_ms, no deadline, and a waiter for that GIL") {
  SECTION("blocked only deadlock_ms") {
    auto& s = fresh();
    s.add(holding_gil(wait(1, WaitKind::kCondition, 600)));
    s.add(wait(2, WaitKind::kGil, 600));
    CHECK(decide().rule == DeadlockRule::kNone);
  }
  SECTION("the holder's condition wait is timed") {
    auto& s = fresh();
    WaitEntry holder = holding_gil(wait(1, WaitKind::kCondition, 1100));
    holder.timed = true;
    s.add(holder);
    s.add(wait(2, WaitKind::kGil, 1100));
    CHECK(decide().rule == DeadlockRule::kNone);
  }
  SECTION("the waiter waits for another interpreter's GIL") {
    auto& s = fresh();
    s.add(holding_gil(wait(1, WaitKind::kCondition, 1100)));
    WaitEntry waiter = wait(2, WaitKind::kGil, 1100);
    waiter.gil = kSubGil;
    s.add(waiter);
    CHECK(decide().rule == DeadlockRule::kNone);
  }
  SECTION("nobody waits for the GIL") {
    auto& s = fresh();
    s.add(holding_gil(wait(1, WaitKind::kFutex, 1100)));
    CHECK(decide().rule == DeadlockRule::kNone);
  }
  SECTION("the holder waits for a mutex (an owner the graph follows), not an ownerless object") {
    auto& s = fresh();
    s.add(holding_gil(wait(1, WaitKind::kMutex, 1100, 9)));
    s.add(wait(2, WaitKind::kGil, 1100));
    CHECK(decide().rule == DeadlockRule::kNone);
  }
}

TEST_CASE("deadlock check: a GIL holder blocked on a futex word counts like a condition") {
  auto& s = fresh();
  s.add(holding_gil(wait(1, WaitKind::kFutex, 1100)));
  s.add(wait(2, WaitKind::kGil, 1100));
  CHECK(decide().rule == DeadlockRule::kProbable);
}

TEST_CASE("deadlock check: on a free-threaded build the GIL rules are off, the native ones on") {
  SECTION("no probable deadlock") {
    auto& s = fresh();
    s.threading = PythonThreading::kFreeThreaded;
    s.add(holding_gil(wait(1, WaitKind::kCondition, 1100)));
    s.add(wait(2, WaitKind::kGil, 1100));
    CHECK(decide().rule == DeadlockRule::kNone);
  }
  SECTION("no cycle through a GIL edge") {
    auto& s = fresh();
    s.threading = PythonThreading::kFreeThreaded;
    s.add(holding_gil(joining(100, 101, 700)));
    s.add(wait(101, WaitKind::kGil, 700));
    const auto& v = decide();
    CHECK(v.rule == DeadlockRule::kNone);
    CHECK(v.facts[1].waits_for_count == 0);
  }
  SECTION("a mutex cycle is still a deadlock") {
    auto& s = fresh();
    s.threading = PythonThreading::kFreeThreaded;
    s.add(wait(10, WaitKind::kMutex, 900, 11));
    s.add(wait(11, WaitKind::kMutex, 900, 10));
    CHECK(decide().rule == DeadlockRule::kCycle);
  }
}

TEST_CASE("deadlock check: with runtime roles known, a paused world blocked on a lock whose owner waits to attach is a deadlock") {
  auto& s = fresh();
  s.threading = PythonThreading::kFreeThreaded;
  s.runtime_roles_known = true;
  WaitEntry attaching = wait(1, WaitKind::kFutex, 900);
  attaching.role = gilwatch::RuntimeRole::kAttaching;
  WaitEntry pauser = wait(2, WaitKind::kMutex, 900, 1);
  pauser.role = gilwatch::RuntimeRole::kWorldStopped;
  s.add(attaching);
  s.add(pauser);
  const auto& v = decide();
  REQUIRE(v.rule == DeadlockRule::kCycle);
  CHECK(v.count == 2);

  s.runtime_roles_known = false;  // the same waits without the runtime's: a chain
  CHECK(decide().rule == DeadlockRule::kNone);
}

TEST_CASE("deadlock check: a thread waiting for a lock whose owner has ended waits forever") {
  auto& s = fresh();
  WaitEntry e = wait(5, WaitKind::kMutex, 900, 77);
  e.owner_exists = false;
  s.add(e);
  const auto& v = decide();
  REQUIRE(v.rule == DeadlockRule::kOwnerEnded);
  CHECK(v.count == 1);
  CHECK(v.members[0] == 0);
  CHECK(v.facts[0].owner_ended);
}

TEST_CASE("deadlock check: an ended owner is no deadlock while the owner exists, or the wait is timed or short") {
  SECTION("the owner still exists") {
    auto& s = fresh();
    s.add(wait(5, WaitKind::kMutex, 900, 77));
    CHECK(decide().rule == DeadlockRule::kNone);
  }
  SECTION("timed") {
    auto& s = fresh();
    WaitEntry e = wait(5, WaitKind::kMutex, 900, 77);
    e.owner_exists = false;
    e.timed = true;
    s.add(e);
    CHECK(decide().rule == DeadlockRule::kNone);
  }
  SECTION("short") {
    auto& s = fresh();
    WaitEntry e = wait(5, WaitKind::kMutex, 100, 77);
    e.owner_exists = false;
    s.add(e);
    CHECK(decide().rule == DeadlockRule::kNone);
  }
}

TEST_CASE("deadlock check: a lock held by a thread parked in a GIL request during finalization is a deadlock at exit") {
  auto& s = fresh();
  s.gil_requests_never_return = true;
  s.add(wait(1, WaitKind::kMutex, 900, 2));
  s.add(wait(2, WaitKind::kGil, 900));
  const auto& v = decide();
  REQUIRE(v.rule == DeadlockRule::kOwnerParked);
  REQUIRE(v.count == 2);
  CHECK(v.members[0] == 0);
  CHECK(v.members[1] == 1);
  CHECK(v.facts[1].parked);
  CHECK(v.facts[0].owner_parked == 1);
}

TEST_CASE("deadlock check: the same waits before finalization are no deadlock") {
  auto& s = fresh();
  s.add(wait(1, WaitKind::kMutex, 900, 2));
  s.add(wait(2, WaitKind::kGil, 900));
  const auto& v = decide();
  CHECK(v.rule == DeadlockRule::kNone);
  CHECK_FALSE(v.facts[1].parked);
  CHECK(v.facts[0].owner_parked == -1);
}

TEST_CASE("deadlock check: a set the gatherer no longer confirms is no deadlock") {
  auto& s = fresh();
  s.add(wait(10, WaitKind::kMutex, 900, 11));
  s.add(wait(11, WaitKind::kMutex, 900, 10));
  decide_deadlock(s, kDeadlock, g_graph, g_verdict, reject_all);
  CHECK(g_verdict.rule == DeadlockRule::kNone);
  decide_deadlock(s, kDeadlock, g_graph, g_verdict, accept_all);
  CHECK(g_verdict.rule == DeadlockRule::kCycle);
}

TEST_CASE("gil-held wait: a wait with the GIL held as long as gil_blocking_ms is a finding") {
  CHECK(judge_gil_held_wait(100 * kMs, 100, false, false, PythonThreading::kGil) == GilHeldWait::kFinding);
  CHECK(judge_gil_held_wait(100 * kMs, 100, true, false, PythonThreading::kGil) == GilHeldWait::kFinding);
}

TEST_CASE("gil-held wait: a shorter one is none, except a futex wait, kept for the command to judge") {
  CHECK(judge_gil_held_wait(100 * kMs - 1, 100, false, false, PythonThreading::kGil) == GilHeldWait::kNoFinding);
  CHECK(judge_gil_held_wait(1 * kMs, 100, true, false, PythonThreading::kGil) == GilHeldWait::kShortFutexWait);
}

TEST_CASE("gil-held wait: the interpreter's own waits and free-threaded builds give none") {
  CHECK(judge_gil_held_wait(900 * kMs, 100, false, true, PythonThreading::kGil) == GilHeldWait::kNoFinding);
  CHECK(judge_gil_held_wait(900 * kMs, 100, false, false, PythonThreading::kFreeThreaded) == GilHeldWait::kNoFinding);
  CHECK(judge_gil_held_wait(1 * kMs, 100, true, false, PythonThreading::kFreeThreaded) == GilHeldWait::kNoFinding);
}

TEST_CASE("short futex wait: a finding only for a Rust lock whose holders need the GIL", "[futex]") {
  CHECK(gilwatch::short_futex_wait_is_finding(true, true));
  // std's stdout lock, PyO3's reference pool: holders never ask for the GIL.
  CHECK_FALSE(gilwatch::short_futex_wait_is_finding(true, false));
  // A parked thread, a channel: not a lock, whoever wakes it.
  CHECK_FALSE(gilwatch::short_futex_wait_is_finding(false, true));
  CHECK_FALSE(gilwatch::short_futex_wait_is_finding(false, false));
}
