// The detector's fixed capacities: cycles longer than the old 16-lock limit, held stacks
// deeper than the in-TLS part, and the warnings every overflow leaves
// (Detector::capacity_warnings, findings.json's "capacity_warnings").
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "detector.h"
#include "gilwatch/result_format.h"
#include "results_json.h"

using namespace gilwatch;

namespace {

class SiteCapture final : public CaptureSource {
 public:
  uintptr_t site = 0x1000;
  void capture(EvidenceCapture& out, bool) override {
    out.tid = 7;
    std::strcpy(out.thread_name, "ring");
    out.native[0] = site;
    out.native_count = 1;
  }
};

struct Rig {
  SiteCapture capture;
  std::unique_ptr<Detector> detector = std::make_unique<Detector>(&capture);
  std::vector<std::unique_ptr<ThreadState>> threads;

  ThreadState& thread(std::size_t i) {
    while (threads.size() <= i) threads.push_back(std::make_unique<ThreadState>());
    return *threads[i];
  }
  bool lock(ThreadState& t, uintptr_t a) {
    capture.site += 0x10;
    bool found = detector->before_blocking_acquire(t, a, LockKind::kMutex, LockMode::kWrite, false, capture.site);
    detector->after_acquire(t, a, LockKind::kMutex, LockMode::kWrite, capture.site);
    return found;
  }
  void unlock(ThreadState& t, uintptr_t a) { detector->on_release(t, a); }
  // Thread i takes lock i then lock (i + 1) % n: a ring of n locks when `close`, else
  // the last pair is taken the other way round (a consistent order: no cycle).
  bool ring(std::size_t n, bool close) {
    bool found = false;
    for (std::size_t i = 0; i < n; ++i) {
      uintptr_t first = address(i), second = address((i + 1) % n);
      if (i + 1 == n && !close) std::swap(first, second);
      ThreadState& t = thread(i);
      found |= lock(t, first);
      found |= lock(t, second);
      unlock(t, second);
      unlock(t, first);
    }
    return found;
  }
  static uintptr_t address(std::size_t i) { return 0x100000 + i * 0x40; }
  std::size_t findings() {
    SpinLockGuard g(detector->lock());
    return detector->finding_count();
  }
  Finding finding(std::size_t i) {
    SpinLockGuard g(detector->lock());
    return detector->finding(i);
  }
  std::vector<CapacityWarning> warnings() {
    CapacityWarning out[Detector::kCapacityCount];
    std::size_t n = detector->capacity_warnings(out, Detector::kCapacityCount);
    return {out, out + n};
  }
  const CapacityWarning* warning(const char* name) {
    static CapacityWarning found;
    for (const CapacityWarning& w : warnings())
      if (std::string(w.name) == name) return &(found = w);
    return nullptr;
  }
};

std::vector<uintptr_t> cycle_addresses(const Finding& f) {
  std::vector<uintptr_t> out;
  for (uint32_t i = 0; i < f.lock_count; ++i) out.push_back(f.locks[i].address);
  return out;
}

}  // namespace

TEST_CASE("a ring of 20 and one of 30 locks are each one inversion naming every lock", "[detector][capacity]") {
  for (std::size_t n : {std::size_t(20), std::size_t(30)}) {
    Rig r;
    REQUIRE(r.detector->ok());
    CHECK(r.ring(n, true));
    REQUIRE(r.findings() == 1);
    Finding f = r.finding(0);
    CHECK(f.lock_count == n);
    CHECK(f.cycle_length == n);
    std::vector<uintptr_t> addresses = cycle_addresses(f);
    std::sort(addresses.begin(), addresses.end());
    for (std::size_t i = 0; i < n; ++i) CHECK(addresses[i] == Rig::address(i));
    for (uint32_t i = 0; i < f.lock_count; ++i) CHECK(f.edges[i].to == (i + 1) % n);
    CHECK(r.warnings().empty());
  }
}

TEST_CASE("the same 30 locks in one consistent order are silent", "[detector][capacity]") {
  Rig r;
  CHECK_FALSE(r.ring(30, false));
  CHECK(r.findings() == 0);
  CHECK(r.warnings().empty());
}

TEST_CASE("a cycle longer than kMaxCycleLocks is reported cut, and says so", "[detector][capacity]") {
  Rig r;
  std::size_t n = kMaxCycleLocks + 6;
  CHECK(r.ring(n, true));
  REQUIRE(r.findings() == 1);
  Finding f = r.finding(0);
  CHECK(f.lock_count == uint32_t(kMaxCycleLocks));
  CHECK(f.cycle_length == n);
  TextBuffer text;
  describe_cycle(text, f);
  std::string said(text.buf, text.len);
  CHECK(said.find("cycle cut: 6 more locks of " + std::to_string(n) + " not listed") != std::string::npos);
  const CapacityWarning* w = r.warning(result_format::kCapacityCycleLocks);
  REQUIRE(w);
  CHECK(w->limit == uint64_t(kMaxCycleLocks));
  CHECK(w->lost == 1);
}

TEST_CASE("an inversion taken while 60 other locks are held is reported", "[detector][capacity]") {
  Rig r;
  ThreadState& t1 = r.thread(0);
  ThreadState& t2 = r.thread(1);
  constexpr uintptr_t A = 0x900000, B = 0x900100;
  for (std::size_t i = 0; i < 60; ++i) r.lock(t1, Rig::address(i));
  CHECK(t1.held_count() == 60);
  CHECK(t1.deep != nullptr);
  r.lock(t1, A);
  r.lock(t1, B);
  r.unlock(t1, B);
  r.unlock(t1, A);
  for (std::size_t i = 60; i-- > 0;) r.unlock(t1, Rig::address(i));
  CHECK(t1.depth == 0);
  CHECK(t1.deep == nullptr);  // the block went back
  for (std::size_t i = 0; i < 60; ++i) r.lock(t2, Rig::address(100 + i));
  r.lock(t2, B);
  CHECK(r.lock(t2, A));
  REQUIRE(r.findings() == 1);
  Finding f = r.finding(0);
  REQUIRE(f.lock_count == 2);
  CHECK(f.locks[0].address == B);
  CHECK(f.locks[1].address == A);
  CHECK(r.warnings().empty());
}

TEST_CASE("60 locks held and a consistent order are silent", "[detector][capacity]") {
  Rig r;
  constexpr uintptr_t A = 0x900000, B = 0x900100;
  for (std::size_t k = 0; k < 2; ++k) {
    ThreadState& t = r.thread(k);
    for (std::size_t i = 0; i < 60; ++i) r.lock(t, Rig::address(k * 100 + i));
    r.lock(t, A);
    r.lock(t, B);
    r.unlock(t, A);  // out of order, from the deep part
    r.unlock(t, B);
    for (std::size_t i = 60; i-- > 0;) r.unlock(t, Rig::address(k * 100 + i));
    CHECK(t.depth == 0);
  }
  CHECK(r.findings() == 0);
  CHECK(r.warnings().empty());
}

TEST_CASE("deep held entries pair recursive re-acquisitions and out-of-order releases", "[detector][capacity]") {
  Rig r;
  ThreadState& t = r.thread(0);
  for (std::size_t i = 0; i < 55; ++i) r.lock(t, Rig::address(i));
  r.lock(t, Rig::address(50));  // recursive, in the deep part
  CHECK(t.held_count() == 55);
  r.unlock(t, Rig::address(50));
  CHECK(t.held_count() == 55);
  r.unlock(t, Rig::address(10));  // from the TLS part: the deep part moves down
  CHECK(t.held_count() == 54);
  CHECK(t.depth == ThreadState::kMaxHeld);
  CHECK(t.held_at(10).address == Rig::address(11));
  CHECK(t.held_at(53).address == Rig::address(54));
  uint64_t hash = 0;
  for (int i = 0; i < t.held_count(); ++i) hash = held_prefix_hash(hash, t.held_at(i).address, t.held_at(i).mode);
  CHECK(t.top_prefix_hash() == hash);
  for (std::size_t i = 55; i-- > 0;)
    if (i != 10) r.unlock(t, Rig::address(i));
  CHECK(t.depth == 0);
  CHECK(t.deep == nullptr);
}

TEST_CASE("held-stack and deep-block overflows are warnings with limit and count", "[detector][capacity]") {
  Rig r;
  ThreadState& t = r.thread(0);
  for (std::size_t i = 0; i < std::size_t(ThreadState::kHeldCapacity) + 3; ++i) r.lock(t, Rig::address(i));
  const CapacityWarning* w = r.warning(result_format::kCapacityHeldLocks);
  REQUIRE(w);
  CHECK(w->limit == uint64_t(ThreadState::kHeldCapacity));
  CHECK(w->lost == 3);
  CHECK(std::string(w->lost_what) == "lock acquisitions not tracked");
  for (std::size_t i = std::size_t(ThreadState::kHeldCapacity) + 3; i-- > 0;) r.unlock(t, Rig::address(i));
  CHECK(t.depth == 0);

  // Every deep block taken: the next thread past kMaxHeld is not tracked beyond it.
  Rig q;
  for (std::size_t k = 0; k <= Detector::kDeepBlocks; ++k) {
    ThreadState& u = q.thread(k);
    for (std::size_t i = 0; i <= std::size_t(ThreadState::kMaxHeld); ++i)
      q.detector->after_acquire(u, Rig::address(i), LockKind::kMutex, LockMode::kWrite, 1);
  }
  const CapacityWarning* d = q.warning(result_format::kCapacityDeepHeldBlocks);
  REQUIRE(d);
  CHECK(d->limit == Detector::kDeepBlocks);
  CHECK(d->lost == 1);
  CHECK(q.thread(Detector::kDeepBlocks).depth == ThreadState::kMaxHeld);
  CHECK(q.thread(Detector::kDeepBlocks).held_overflow);
  q.detector->on_thread_exit(q.thread(0));
  CHECK(q.thread(0).deep == nullptr);
  CHECK(q.thread(0).deep_depth == 0);
  CHECK(q.thread(0).depth == ThreadState::kMaxHeld);
}

TEST_CASE("findings beyond the findings capacity are a warning", "[detector][capacity]") {
  Rig r;
  std::size_t made = 0;
  for (std::size_t k = 0; k < Detector::kMaxFindings + 2; ++k) {
    ThreadState& t = r.thread(0);
    uintptr_t a = 0x4000000 + k * 0x100, b = a + 0x40;
    r.lock(t, a);
    r.lock(t, b);
    r.unlock(t, b);
    r.unlock(t, a);
    r.lock(t, b);
    made += r.lock(t, a);
    r.unlock(t, a);
    r.unlock(t, b);
  }
  CHECK(made == Detector::kMaxFindings);
  const CapacityWarning* w = r.warning(result_format::kCapacityCycleFindings);
  REQUIRE(w);
  CHECK(w->limit == Detector::kMaxFindings);
  CHECK(w->lost == 2);
}
