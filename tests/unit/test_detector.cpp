// The detector driven directly, one ThreadState per simulated thread: no hooks, no
// real threads needed (acquisitions are sequenced, as a lucky run would be).
#include <catch2/catch.hpp>

#include <cstring>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <vector>

#include "detector.h"
#include "stack_budget.h"

using namespace gilwatch;

namespace {

// Gives each call site a distinct one-frame "stack" so findings can be told apart.
class FakeCapture final : public CaptureSource {
 public:
  uintptr_t next_site = 0x1000;
  uint32_t tid = 1;
  bool python_requested = false;
  int captures = 0;
  bool room = true;  // what stack_has_room answers
  int room_asked = 0;
  bool stack_has_room(std::size_t bytes) override {
    ++room_asked;
    return room && bytes > 0;
  }
  void capture(EvidenceCapture& out, bool with_python) override {
    ++captures;
    out.tid = tid;
    std::strcpy(out.thread_name, "worker");
    out.native[0] = next_site;
    out.native_count = 1;
    python_requested = with_python;
    if (with_python) {
      std::memset(&out.python[0], 0, sizeof(PyFrameRecord));
      std::strcpy(out.python[0].function, "register_tasks");
      std::strcpy(out.python[0].file, "drive.py");
      out.python[0].line = 12;
      out.python_count = 1;
    }
  }
};

struct Sim {
  FakeCapture capture;
  std::unique_ptr<Detector> detector = std::make_unique<Detector>(&capture);
  std::unique_ptr<ThreadState> t1 = std::make_unique<ThreadState>();
  std::unique_ptr<ThreadState> t2 = std::make_unique<ThreadState>();
  std::unique_ptr<ThreadState> t3 = std::make_unique<ThreadState>();

  // make_unique value-initializes: every ThreadState starts zeroed, as TLS does.
  bool lock(ThreadState& t, uintptr_t a, LockKind kind = LockKind::kMutex,
            LockMode mode = LockMode::kWrite, bool gil = false) {
    capture.next_site += 0x10;
    bool found = detector->before_blocking_acquire(t, a, kind, mode, gil, capture.next_site);
    detector->after_acquire(t, a, kind, mode, capture.next_site);
    return found;
  }
  void trylock(ThreadState& t, uintptr_t a) {
    detector->after_acquire(t, a, LockKind::kMutex, LockMode::kWrite, 0x42);
  }
  void unlock(ThreadState& t, uintptr_t a) { detector->on_release(t, a); }
  // Takes the locks in the given order, then releases them in reverse. Returns whether
  // any acquisition produced a finding.
  bool nest(ThreadState& t, std::initializer_list<uintptr_t> order, LockKind kind = LockKind::kMutex,
            LockMode mode = LockMode::kWrite) {
    bool found = false;
    for (uintptr_t a : order) found |= lock(t, a, kind, mode);
    for (auto it = std::rbegin(order); it != std::rend(order); ++it) unlock(t, *it);
    return found;
  }
  std::size_t findings() {
    SpinLockGuard g(detector->lock());
    return detector->finding_count();
  }
  Finding finding(std::size_t i) {
    SpinLockGuard g(detector->lock());
    return detector->finding(i);
  }
};

constexpr uintptr_t A = 0x10000, B = 0x20000, C = 0x30000;

}  // namespace

TEST_CASE("two threads taking two mutexes in opposite orders are an inversion", "[detector]") {
  Sim s;
  REQUIRE(s.detector->ok());
  CHECK_FALSE(s.lock(*s.t1, A));
  CHECK_FALSE(s.lock(*s.t1, B));
  s.unlock(*s.t1, B);
  s.unlock(*s.t1, A);
  s.capture.tid = 2;
  CHECK_FALSE(s.lock(*s.t2, B));
  CHECK(s.lock(*s.t2, A));
  REQUIRE(s.findings() == 1);
  Finding f = s.finding(0);
  CHECK(f.kind == FindingKind::kLockOrderInversion);
  REQUIRE(f.lock_count == 2);
  // The cycle starts at the lock held by the thread that closed it.
  CHECK(f.locks[0].address == B);
  CHECK(f.locks[1].address == A);
  CHECK(f.edges[0].tid == 2);
  CHECK(f.edges[1].tid == 1);
  CHECK(f.locks[0].kind == LockKind::kMutex);
}

TEST_CASE("a consistent order across threads is silent", "[detector]") {
  Sim s;
  for (int round = 0; round < 3; ++round) {
    for (ThreadState* t : {s.t1.get(), s.t2.get(), s.t3.get()}) {
      s.lock(*t, A);
      s.lock(*t, B);
      s.lock(*t, C);
      s.unlock(*t, C);
      s.unlock(*t, B);
      s.unlock(*t, A);
    }
  }
  CHECK(s.findings() == 0);
}

TEST_CASE("three locks in a ring across three threads form one three-lock cycle", "[detector]") {
  Sim s;
  s.nest(*s.t1, {A, B});
  s.nest(*s.t2, {B, C});
  s.lock(*s.t3, C);
  CHECK(s.lock(*s.t3, A));
  REQUIRE(s.findings() == 1);
  CHECK(s.finding(0).lock_count == 3);
}

TEST_CASE("a trylock in the reverse order adds no edge", "[detector]") {
  Sim s;
  s.nest(*s.t1, {A, B});
  s.lock(*s.t2, B);
  s.trylock(*s.t2, A);
  s.unlock(*s.t2, A);
  s.unlock(*s.t2, B);
  CHECK(s.findings() == 0);
}

TEST_CASE("re-locking a held recursive mutex orders nothing and unlocks pair up", "[detector]") {
  Sim s;
  s.lock(*s.t1, A);
  s.lock(*s.t1, A);
  CHECK(s.t1->depth == 1);
  s.unlock(*s.t1, A);
  CHECK(s.t1->depth == 1);
  s.unlock(*s.t1, A);
  CHECK(s.t1->depth == 0);
  CHECK(s.findings() == 0);
}

TEST_CASE("read holds on both sides of a cycle cannot deadlock and are not reported", "[detector]") {
  Sim s;
  s.lock(*s.t1, A, LockKind::kRwlock, LockMode::kRead);
  s.lock(*s.t1, B, LockKind::kRwlock, LockMode::kRead);
  s.unlock(*s.t1, B);
  s.unlock(*s.t1, A);
  s.lock(*s.t2, B, LockKind::kRwlock, LockMode::kRead);
  CHECK_FALSE(s.lock(*s.t2, A, LockKind::kRwlock, LockMode::kRead));
  CHECK(s.findings() == 0);
  CHECK(s.detector->stats().cycles_read_only == 1);
}

TEST_CASE("read holds with write requests across a cycle are an inversion", "[detector]") {
  Sim s;
  s.lock(*s.t1, A, LockKind::kRwlock, LockMode::kRead);
  s.lock(*s.t1, B, LockKind::kRwlock, LockMode::kWrite);
  s.unlock(*s.t1, B);
  s.unlock(*s.t1, A);
  s.lock(*s.t2, B, LockKind::kRwlock, LockMode::kRead);
  CHECK(s.lock(*s.t2, A, LockKind::kRwlock, LockMode::kWrite));
  REQUIRE(s.findings() == 1);
  CHECK(s.finding(0).locks[0].kind == LockKind::kRwlock);
}

TEST_CASE("a read-read cycle through a writer-preferring rwlock is an inversion", "[detector][rwlock]") {
  // T1: rdlock(rw) then M. T2: M then rdlock(rw). With a writer waiting for T1's read,
  // T2's read queues behind it on a writer-preferring lock: T1 waits for M, T2 for rw.
  Sim s;
  auto rd = [&](ThreadState& t, uintptr_t a, bool writer_preferring) {
    s.capture.next_site += 0x10;
    bool found = s.detector->before_blocking_acquire(t, a, LockKind::kRwlock, LockMode::kRead, false,
                                                     s.capture.next_site, writer_preferring);
    s.detector->after_acquire(t, a, LockKind::kRwlock, LockMode::kRead, s.capture.next_site);
    return found;
  };
  rd(*s.t1, A, true);
  s.lock(*s.t1, B);
  s.unlock(*s.t1, B);
  s.unlock(*s.t1, A);
  s.lock(*s.t2, B);
  CHECK(rd(*s.t2, A, true));
  REQUIRE(s.findings() == 1);
  CHECK(s.detector->stats().cycles_read_only == 0);
  Finding f = s.finding(0);
  REQUIRE(f.lock_count == 2);
  CHECK((f.locks[0].kind == LockKind::kRwlock || f.locks[1].kind == LockKind::kRwlock));
}

TEST_CASE("the same read-read cycle through a reader-preferring rwlock is silent", "[detector][rwlock]") {
  Sim s;
  s.lock(*s.t1, A, LockKind::kRwlock, LockMode::kRead);
  s.lock(*s.t1, B);
  s.unlock(*s.t1, B);
  s.unlock(*s.t1, A);
  s.lock(*s.t2, B);
  CHECK_FALSE(s.lock(*s.t2, A, LockKind::kRwlock, LockMode::kRead));
  // A third thread writing the lock alone adds no edge: reader preference lets T2's read
  // in past a waiting writer, so the cycle still cannot close.
  s.lock(*s.t3, A, LockKind::kRwlock, LockMode::kWrite);
  s.unlock(*s.t3, A);
  CHECK(s.findings() == 0);
  CHECK(s.detector->stats().cycles_read_only == 1);
}

TEST_CASE("a cycle closing through a write request on a reader-preferring rwlock is an inversion",
          "[detector][rwlock]") {
  // T1: rdlock(rw) then M. T2: M then wrlock(rw): T2's write waits for T1's read.
  Sim s;
  s.lock(*s.t1, A, LockKind::kRwlock, LockMode::kRead);
  s.lock(*s.t1, B);
  s.unlock(*s.t1, B);
  s.unlock(*s.t1, A);
  s.lock(*s.t2, B);
  CHECK(s.lock(*s.t2, A, LockKind::kRwlock, LockMode::kWrite));
  CHECK(s.findings() == 1);
}

TEST_CASE("the GIL is a lock: GIL then rwlock against rwlock then Ensure", "[detector][gil]") {
  Sim s;
  // Python thread: holds the GIL, takes the registry's write lock.
  CHECK_FALSE(s.lock(*s.t1, A, LockKind::kRwlock, LockMode::kWrite, /*gil=*/true));
  CHECK(s.capture.python_requested);
  s.unlock(*s.t1, A);
  // Native worker: holds the read lock, asks for the GIL.
  s.capture.tid = 2;
  s.lock(*s.t2, A, LockKind::kRwlock, LockMode::kRead);
  CHECK(s.detector->before_gil_acquire(*s.t2));
  REQUIRE(s.findings() == 1);
  Finding f = s.finding(0);
  REQUIRE(f.lock_count == 2);
  bool has_gil = f.locks[0].kind == LockKind::kGil || f.locks[1].kind == LockKind::kGil;
  CHECK(has_gil);
  // The Python thread's edge carries its Python frames.
  const PyFrameRecord* frames = nullptr;
  bool python_seen = false;
  for (uint32_t i = 0; i < f.lock_count; ++i) {
    SpinLockGuard g(s.detector->lock());
    if (s.detector->python_stacks().get(f.edges[i].python_stack, &frames) == 1)
      python_seen = std::strcmp(frames[0].function, "register_tasks") == 0;
  }
  CHECK(python_seen);
}

TEST_CASE("per-interpreter GILs: orders under two different GILs are no cycle", "[detector][gil]") {
  constexpr uintptr_t kSubinterpreter = 0x7f0000010000;
  Sim s;
  // A thread of a subinterpreter with its own GIL takes the lock holding that GIL.
  s.t1->gil = kSubinterpreter;
  CHECK_FALSE(s.lock(*s.t1, A, LockKind::kMutex, LockMode::kWrite, /*gil=*/true));
  s.unlock(*s.t1, A);
  // A native thread holds the lock and asks for the main interpreter's GIL.
  s.capture.tid = 2;
  s.lock(*s.t2, A, LockKind::kMutex, LockMode::kWrite);
  s.t2->gil = 0;
  CHECK_FALSE(s.detector->before_gil_acquire(*s.t2));
  CHECK(s.findings() == 0);
  SECTION("the same GIL asked for closes the cycle, on that interpreter's GIL") {
    s.t2->gil = kSubinterpreter;
    CHECK(s.detector->before_gil_acquire(*s.t2));
    REQUIRE(s.findings() == 1);
    Finding f = s.finding(0);
    REQUIRE(f.lock_count == 2);
    const FindingLock& gil = f.locks[0].kind == LockKind::kGil ? f.locks[0] : f.locks[1];
    CHECK(gil.kind == LockKind::kGil);
    CHECK(gil.address == kSubinterpreter);
  }
}

TEST_CASE("the fixed registry order (no GIL while locked) is silent", "[detector][gil]") {
  Sim s;
  s.lock(*s.t1, A, LockKind::kRwlock, LockMode::kWrite, /*gil=*/false);
  s.unlock(*s.t1, A);
  s.lock(*s.t2, A, LockKind::kRwlock, LockMode::kRead);
  s.unlock(*s.t2, A);
  CHECK_FALSE(s.detector->before_gil_acquire(*s.t2));
  CHECK(s.findings() == 0);
}

TEST_CASE("a destroyed lock's edges die with it: reuse of its address in the other order is silent",
          "[detector][reuse]") {
  Sim s;
  s.nest(*s.t1, {A, B});
  s.detector->on_lock_destroyed(A);
  s.detector->on_lock_destroyed(B);
  s.nest(*s.t1, {B, A});
  CHECK(s.findings() == 0);
}

TEST_CASE("freed memory takes its locks' edges with it", "[detector][reuse]") {
  Sim s;
  s.nest(*s.t1, {A, B});
  s.detector->on_memory_released(A - 16, A + 48);  // a block holding A
  s.lock(*s.t2, B);
  CHECK_FALSE(s.lock(*s.t2, A));
  CHECK(s.findings() == 0);
  CHECK(s.detector->stats().locks_tracked == 2);
}

TEST_CASE("freeing unrelated memory keeps the edges", "[detector][reuse]") {
  Sim s;
  s.nest(*s.t1, {A, B});
  s.detector->on_memory_released(C, C + 64);
  s.lock(*s.t2, B);
  CHECK(s.lock(*s.t2, A));
  CHECK(s.findings() == 1);
}

TEST_CASE("the same inversion seen again is reported once and known edges skip capture",
          "[detector]") {
  Sim s;
  s.capture.next_site = 0x5000;
  auto abba = [&](ThreadState& t, uintptr_t first, uintptr_t second) {
    s.detector->before_blocking_acquire(t, first, LockKind::kMutex, LockMode::kWrite, false, 0x1);
    s.detector->after_acquire(t, first, LockKind::kMutex, LockMode::kWrite, 0x1);
    s.detector->before_blocking_acquire(t, second, LockKind::kMutex, LockMode::kWrite, false, 0x2);
    s.detector->after_acquire(t, second, LockKind::kMutex, LockMode::kWrite, 0x2);
    s.unlock(t, second);
    s.unlock(t, first);
  };
  abba(*s.t1, A, B);
  abba(*s.t2, B, A);
  int captures = s.capture.captures;
  abba(*s.t2, B, A);
  abba(*s.t1, A, B);
  CHECK(s.findings() == 1);
  CHECK(s.capture.captures == captures);  // the per-thread edge cache answered
}

TEST_CASE("a thread holding more locks than it can track degrades without losing pairing",
          "[detector]") {
  Sim s;
  for (uintptr_t i = 1; i <= ThreadState::kHeldCapacity + 5; ++i) s.lock(*s.t1, i * 0x100);
  CHECK(s.t1->held_count() == ThreadState::kHeldCapacity);
  CHECK(s.t1->held_overflow);
  for (uintptr_t i = ThreadState::kHeldCapacity + 5; i >= 1; --i) s.unlock(*s.t1, i * 0x100);
  CHECK(s.t1->depth == 0);
  CHECK(s.t1->deep == nullptr);
  CHECK(s.detector->stats().held_overflows == 1);
}

TEST_CASE("a lock re-created at the same address under the same held locks gets its edges again",
          "[detector][reuse]") {
  Sim s;
  // Iteration 1: A then B, A destroyed afterwards.
  s.nest(*s.t1, {A, B});
  s.detector->on_lock_destroyed(B);
  // Iteration 2: a new B at the same address, taken under the same A: a new edge.
  s.nest(*s.t1, {A, B});
  // Another thread now takes them the other way round: the new B's edge must be there.
  s.lock(*s.t2, B);
  CHECK(s.lock(*s.t2, A));
  CHECK(s.findings() == 1);
}

TEST_CASE("events with the same key are one finding with a count and the longest wait", "[detector]") {
  Sim sim;
  auto event = std::make_unique<EventFinding>();
  std::memset(event.get(), 0, sizeof(EventFinding));
  event->kind = FindingKind::kGilHeldBlocking;
  event->key = 0xabc;
  event->longest_ns = 150;
  std::strcpy(event->summary, "blocked with the GIL held");
  CHECK(sim.detector->record_event(*event) == EventResult::kNew);
  CHECK(sim.detector->repeat_event(0xabc, 400));
  CHECK_FALSE(sim.detector->repeat_event(0xdef, 400));
  event->longest_ns = 200;
  CHECK(sim.detector->record_event(*event) == EventResult::kRepeated);
  event->key = 0xdef;
  CHECK(sim.detector->record_event(*event) == EventResult::kNew);
  REQUIRE(sim.detector->event_count() == 2);
  const EventFinding& first = sim.detector->event(0);
  CHECK(first.count == 3);
  CHECK(first.longest_ns == 400);
  CHECK(std::strcmp(first.summary, "blocked with the GIL held") == 0);
  CHECK(sim.detector->stats().events == 2);
  // A lock-order finding count is unaffected by events.
  CHECK(sim.detector->finding_count() == 0);
}

TEST_CASE("event storage is bounded: extra distinct events are counted as dropped", "[detector]") {
  Sim sim;
  auto event = std::make_unique<EventFinding>();
  std::memset(event.get(), 0, sizeof(EventFinding));
  event->kind = FindingKind::kCapiWithoutGil;
  for (std::size_t i = 0; i < Detector::kMaxEvents + 5; ++i) {
    event->key = i + 1;
    sim.detector->record_event(*event);
  }
  CHECK(sim.detector->event_count() == Detector::kMaxEvents);
  CHECK(sim.detector->stats().findings_dropped == 5);
}

TEST_CASE("a new edge where the stack has no room is skipped, counted, and recorded once there is room",
          "[detector][stack]") {
  Sim sim;
  sim.capture.room = false;
  CHECK_FALSE(sim.nest(*sim.t1, {A, B}));
  CHECK_FALSE(sim.nest(*sim.t2, {B, A}));
  CHECK(sim.findings() == 0);
  CHECK(sim.capture.captures == 0);  // no unwinding on a stack without room
  CHECK(sim.detector->stats().untracked_low_stack == 2);
  CHECK(sim.detector->stats().graph_edges == 0);
  // The same acquisitions again, with room: the skipped edges were not remembered as
  // known, so they are recorded now and the inversion is found.
  sim.capture.room = true;
  CHECK_FALSE(sim.nest(*sim.t1, {A, B}));
  CHECK(sim.nest(*sim.t2, {B, A}));
  CHECK(sim.findings() == 1);
  CHECK(sim.detector->stats().untracked_low_stack == 2);
}

TEST_CASE("an acquisition counts once however many of its edges were skipped", "[detector][stack]") {
  Sim sim;
  sim.capture.room = false;
  sim.lock(*sim.t1, A);
  sim.lock(*sim.t1, B);
  sim.lock(*sim.t1, C);  // two new edges: A -> C and B -> C
  CHECK(sim.detector->stats().untracked_low_stack == 2);  // B once, C once
  // Into the GIL with locks held, no room: counted too.
  CHECK_FALSE(sim.detector->before_gil_acquire(*sim.t1));
  CHECK(sim.detector->stats().untracked_low_stack == 3);
}

TEST_CASE("known edges need no stack: the cached path never asks", "[detector][stack]") {
  Sim sim;
  CHECK_FALSE(sim.nest(*sim.t1, {A, B}));
  int asked = sim.capture.room_asked;
  CHECK(asked == 1);
  sim.capture.room = false;
  CHECK_FALSE(sim.nest(*sim.t1, {A, B}));
  CHECK_FALSE(sim.nest(*sim.t2, {A, B}));  // another thread: its own caches miss, the graph has it
  CHECK(sim.detector->stats().untracked_low_stack == 0);
  CHECK(sim.capture.room_asked == asked);
}

TEST_CASE("scratch evidence records: distinct, bounded, reusable", "[detector][stack]") {
  Sim sim;
  std::vector<EvidenceCapture*> claimed;
  for (std::size_t i = 0; i < Detector::kScratchRecords; ++i) {
    EvidenceCapture* r = sim.detector->claim_scratch();
    REQUIRE(r != nullptr);
    for (EvidenceCapture* other : claimed) CHECK(other != r);
    claimed.push_back(r);
  }
  CHECK(sim.detector->claim_scratch() == nullptr);
  sim.detector->release_scratch(claimed[5]);
  CHECK(sim.detector->claim_scratch() == claimed[5]);
  for (EvidenceCapture* r : claimed) sim.detector->release_scratch(r);
  {
    ScratchCapture scoped(*sim.detector);
    CHECK(scoped.get() != nullptr);
  }
  CHECK(sim.detector->claim_scratch() != nullptr);
}

TEST_CASE("with every scratch record in use a new edge is still recorded, without a stack", "[detector][stack]") {
  Sim sim;
  std::vector<EvidenceCapture*> claimed;
  while (EvidenceCapture* r = sim.detector->claim_scratch()) claimed.push_back(r);
  CHECK_FALSE(sim.nest(*sim.t1, {A, B}));
  CHECK(sim.nest(*sim.t2, {B, A}));
  CHECK(sim.capture.captures == 0);
  REQUIRE(sim.findings() == 1);
  Finding f = sim.finding(0);
  SpinLockGuard g(sim.detector->lock());
  for (uint32_t i = 0; i < f.lock_count; ++i) {
    const uintptr_t* frames = nullptr;
    CHECK(sim.detector->native_stacks().get(f.edges[i].native_stack, &frames) == 0);
  }
}

TEST_CASE("stack room: on a known stack the bytes below the pointer, elsewhere none", "[stack]") {
  StackRange thread{0x10000, 0x20000}, alt{0x40000, 0x42000};
  StackRange both[] = {thread, alt};
  CHECK(stack_room_at_least(0x1f000, 0xf000, both, 2));
  CHECK_FALSE(stack_room_at_least(0x1f000, 0xf001, both, 2));
  CHECK(stack_room_at_least(0x41800, 0x1800, both, 2));      // on the sigaltstack
  CHECK_FALSE(stack_room_at_least(0x41800, 0x1801, both, 2));
  CHECK_FALSE(stack_room_at_least(0x30000, 1, both, 2));      // a coroutine's stack: unknown
  CHECK_FALSE(stack_room_at_least(0x20000, 1, both, 2));      // one past the top
  StackRange unknown[] = {StackRange{}};
  CHECK_FALSE(stack_room_at_least(0x1f000, 1, unknown, 1));
  CHECK_FALSE(StackRange{}.known());
}

TEST_CASE("a futex word's holders need the GIL once a holder woke it after asking for the GIL", "[futex]") {
  Sim s;
  const uintptr_t word = 0x7f0010, other_word = 0x7f0020, mutex = 0x5000;
  Detector::DeferredEdge to_gil{};
  to_gil.to_kind = LockKind::kGil;
  to_gil.tid = 2;
  Detector::DeferredEdge to_mutex{};
  to_mutex.to_address = mutex;
  to_mutex.to_kind = LockKind::kMutex;
  to_mutex.tid = 2;
  s.detector->add_deferred_edge(*s.t2, other_word, to_mutex);
  {
    SpinLockGuard g(s.detector->lock());
    CHECK_FALSE(s.detector->word_holders_need_gil(word));
    CHECK_FALSE(s.detector->word_holders_need_gil(other_word));  // a holder that took a mutex only
  }
  s.detector->add_deferred_edge(*s.t2, word, to_gil);
  SpinLockGuard g(s.detector->lock());
  CHECK(s.detector->word_holders_need_gil(word));
  CHECK_FALSE(s.detector->word_holders_need_gil(other_word));
}

TEST_CASE("the same cycle closed again on other lock instances is counted, its instances listed", "[detector]") {
  // A lock per object, one shared lock, the same two sites each time: one bug.
  Sim s;
  auto take_at = [&](ThreadState& t, uintptr_t lock, uintptr_t site) {
    s.capture.next_site = site - 0x10;  // lock() moves to the next site first
    s.lock(t, lock);
  };
  const uintptr_t shared = 0x9000;
  constexpr int kObjects = 5;
  for (int i = 0; i < kObjects; ++i) {
    uintptr_t object = 0x10000 + uintptr_t(i) * 0x100;
    s.capture.tid = 1;
    take_at(*s.t1, object, 0x2000);
    take_at(*s.t1, shared, 0x2010);
    s.unlock(*s.t1, shared);
    s.unlock(*s.t1, object);
    s.capture.tid = 2;
    take_at(*s.t2, shared, 0x3000);
    take_at(*s.t2, object, 0x3010);
    s.unlock(*s.t2, object);
    s.unlock(*s.t2, shared);
  }
  REQUIRE(s.findings() == 1);
  Finding f = s.finding(0);
  CHECK(f.count == kObjects);
  REQUIRE(f.instance_count == kObjects - 1);
  int shared_at = f.locks[0].address == shared ? 0 : 1;
  CHECK(f.locks[shared_at].address == shared);
  CHECK(f.locks[1 - shared_at].address == 0x10000);
  for (uint32_t k = 0; k < f.instance_count; ++k) {
    INFO("instance " << k);
    // In the finding's order: the shared lock where the finding has it, each edge's thread.
    CHECK(f.instances[k].addresses[shared_at] == shared);
    CHECK(f.instances[k].addresses[1 - shared_at] == 0x10000 + (k + 1) * 0x100);
    CHECK(f.instances[k].tids[0] == f.edges[0].tid);
    CHECK(f.instances[k].tids[1] == f.edges[1].tid);
  }

  SECTION("a cycle at other sites is another finding") {
    s.capture.tid = 1;
    take_at(*s.t1, 0x20000, 0x4000);
    take_at(*s.t1, shared, 0x4010);
    s.unlock(*s.t1, shared);
    s.unlock(*s.t1, 0x20000);
    s.capture.tid = 2;
    take_at(*s.t2, shared, 0x5000);
    take_at(*s.t2, 0x20000, 0x5010);
    s.unlock(*s.t2, 0x20000);
    s.unlock(*s.t2, shared);
    REQUIRE(s.findings() == 2);
    CHECK(s.finding(1).count == 1);
    CHECK(s.finding(1).instance_count == 0);
    CHECK(s.finding(0).count == kObjects);
  }
}
