// The detector with more distinct locks than a thread's own caches hold (a lock per
// object): what one thread recorded, another finds without the engine lock, and no
// finding is lost for it. Counted with the detector's own counters, not timed.
#include <catch2/catch.hpp>

#include <cstring>
#include <memory>

#include "detector.h"

using namespace gilwatch;

namespace {

class CountingCapture final : public CaptureSource {
 public:
  int captures = 0;
  void capture(EvidenceCapture& out, bool) override {
    ++captures;
    out.tid = 1;
    out.native[0] = 0x1234;
    out.native_count = 1;
  }
};

struct Chain {
  CountingCapture capture;
  std::unique_ptr<Detector> detector = std::make_unique<Detector>(&capture);

  // Nested pairs along a chain of `count` locks from `base`, `stride` bytes apart.
  void walk(ThreadState& t, uintptr_t base, int count, uintptr_t stride = 40) {
    for (int i = 0; i + 1 < count; ++i) {
      uintptr_t outer = base + uintptr_t(i) * stride, inner = outer + stride;
      pair(t, outer, inner);
    }
  }
  bool pair(ThreadState& t, uintptr_t first, uintptr_t second, uintptr_t first_pc = 0x1, uintptr_t second_pc = 0x2) {
    bool found = detector->before_blocking_acquire(t, first, LockKind::kMutex, LockMode::kWrite, false, first_pc);
    detector->after_acquire(t, first, LockKind::kMutex, LockMode::kWrite, first_pc);
    found |= detector->before_blocking_acquire(t, second, LockKind::kMutex, LockMode::kWrite, false, second_pc);
    detector->after_acquire(t, second, LockKind::kMutex, LockMode::kWrite, second_pc);
    detector->on_release(t, second);
    detector->on_release(t, first);
    return found;
  }
  uint64_t locked() const { return detector->stats().locked_lookups; }
  std::size_t findings() {
    SpinLockGuard g(detector->lock());
    return detector->finding_count();
  }
};

// Far more than ThreadState's node, edge and acquisition caches hold.
constexpr int kLocks = 2000;
constexpr uintptr_t kBase = 0x10000000;

}  // namespace

TEST_CASE("nested pairs over many locks: another thread finds every lock and edge without the engine lock",
          "[detector][scale]") {
  Chain c;
  auto t1 = std::make_unique<ThreadState>(), t2 = std::make_unique<ThreadState>();
  c.walk(*t1, kBase, kLocks);
  CHECK(c.detector->stats().graph_edges == std::size_t(kLocks - 1));
  CHECK(c.capture.captures == kLocks - 1);
  uint64_t locked = c.locked();
  CHECK(locked >= uint64_t(kLocks - 1));

  c.walk(*t2, kBase, kLocks);  // a fresh thread
  c.walk(*t1, kBase, kLocks);  // the same thread, its caches long overwritten
  CHECK(c.locked() == locked);
  CHECK(c.capture.captures == kLocks - 1);
  CHECK(c.findings() == 0);

  SECTION("a chain of new locks still records each new lock and edge under the engine lock") {
    c.walk(*t2, kBase + 0x1000000, kLocks);
    CHECK(c.locked() >= locked + 2 * uint64_t(kLocks - 1));
    CHECK(c.capture.captures == 2 * (kLocks - 1));
    CHECK(c.detector->stats().graph_edges == 2 * std::size_t(kLocks - 1));
  }

  SECTION("a destroyed lock re-created at its address gets its edges again, from any thread") {
    uintptr_t middle = kBase + 40 * 700;
    c.detector->on_lock_destroyed(middle);
    CHECK(c.detector->stats().graph_edges == std::size_t(kLocks - 3));
    auto t3 = std::make_unique<ThreadState>();
    c.walk(*t3, kBase, kLocks);
    CHECK(c.capture.captures == kLocks - 1 + 2);  // into and out of the new lock
    CHECK(c.detector->stats().graph_edges == std::size_t(kLocks - 1));
  }

  SECTION("the reverse order on any pair is still an inversion") {
    auto t3 = std::make_unique<ThreadState>();
    uintptr_t a = kBase + 40 * 1200, b = a + 40;
    CHECK(c.pair(*t3, b, a));
    CHECK(c.findings() == 1);
  }
}

TEST_CASE("an inversion closed again by another thread counts again: its closing edge is known to no thread",
          "[detector][scale]") {
  Chain c;
  auto t1 = std::make_unique<ThreadState>(), t2 = std::make_unique<ThreadState>(),
       t3 = std::make_unique<ThreadState>();
  constexpr uintptr_t a = 0x10000, b = 0x20000;
  CHECK_FALSE(c.pair(*t1, a, b));
  CHECK(c.pair(*t2, b, a, 0x3, 0x4));
  REQUIRE(c.findings() == 1);
  c.pair(*t3, b, a, 0x3, 0x4);
  c.pair(*t2, b, a, 0x3, 0x4);  // the same thread again: its own cache answers, as before
  REQUIRE(c.findings() == 1);
  SpinLockGuard g(c.detector->lock());
  CHECK(c.detector->finding(0).count == 2);
}

TEST_CASE("the mutex fast path's one question: this thread's memo, then every thread's records",
          "[detector][scale]") {
  Chain c;
  auto t1 = std::make_unique<ThreadState>(), t2 = std::make_unique<ThreadState>();
  c.walk(*t1, kBase, kLocks);
  // Each pair's inner lock with its outer one held, asked by the thread that walked the
  // chain and by one that never did.
  for (ThreadState* t : {t1.get(), t2.get()}) {
    int by_memo = 0, by_any = 0;
    for (int i = 0; i + 1 < kLocks; ++i) {
      uintptr_t outer = kBase + uintptr_t(i) * 40, inner = outer + 40;
      c.detector->after_acquire(*t, outer, LockKind::kMutex, LockMode::kWrite, 0x1);
      by_memo += c.detector->acquisition_recorded(*t, inner, LockMode::kWrite, false, false);
      by_any += c.detector->acquisition_recorded(*t, inner, LockMode::kWrite, false, true);
      // Not recorded: the pair under the GIL, and the reverse order.
      CHECK_FALSE(c.detector->acquisition_recorded(*t, inner, LockMode::kWrite, true, true));
      c.detector->on_release(*t, outer);
      c.detector->after_acquire(*t, inner, LockKind::kMutex, LockMode::kWrite, 0x1);
      CHECK_FALSE(c.detector->acquisition_recorded(*t, outer, LockMode::kWrite, false, true));
      c.detector->on_release(*t, inner);
    }
    // Every pair is in the shared records; a thread's own memo holds a few at most (the
    // walker's last ones), a fresh thread's none.
    CHECK(by_any == kLocks - 1);
    CHECK(by_memo <= ThreadState::kSeenSetSize);
    if (t == t2.get()) CHECK(by_memo == 0);
  }
  // A lock destroyed since voids every record of it: asked again, the pair is not known.
  uintptr_t outer = kBase + 40 * 700, inner = outer + 40;
  c.detector->on_lock_destroyed(inner);
  c.detector->after_acquire(*t2, outer, LockKind::kMutex, LockMode::kWrite, 0x1);
  CHECK_FALSE(c.detector->acquisition_recorded(*t2, inner, LockMode::kWrite, false, true));
  c.detector->on_release(*t2, outer);
}
