// The contention profile's store: histogram buckets, percentiles, records per lock,
// the longest-waits list, and concurrent updates.
#include <catch2/catch.hpp>

#include <mutex>
#include <thread>
#include <vector>

#include "lock_profile.h"

using gilwatch::DurationHistogram;
using gilwatch::LockKind;
using gilwatch::LockProfile;
using gilwatch::LockProfiler;
using gilwatch::ProfileWaiter;

TEST_CASE("duration buckets tile the line: every value falls in its bucket's bounds", "[profile]") {
  for (uint64_t v : {0ull, 1ull, 3ull, 4ull, 5ull, 7ull, 8ull, 9ull, 100ull, 1000ull, 123456789ull, (1ull << 39) + 5}) {
    int b = DurationHistogram::bucket_of(v);
    CAPTURE(v, b);
    CHECK(DurationHistogram::bucket_low(b) <= v);
    CHECK(v < DurationHistogram::bucket_high(b));
  }
  for (int b = 0; b + 1 < DurationHistogram::kBuckets; ++b) {
    CAPTURE(b);
    CHECK(DurationHistogram::bucket_high(b) == DurationHistogram::bucket_low(b + 1));
    // Within 12.5% of any value in it (the exact buckets aside).
    if (b >= 4) CHECK(DurationHistogram::bucket_high(b) - DurationHistogram::bucket_low(b) <=
                      DurationHistogram::bucket_low(b) / 4);
  }
  CHECK(DurationHistogram::bucket_of(~0ull) == DurationHistogram::kBuckets - 1);
}

TEST_CASE("percentiles come from the histogram to within a bucket", "[profile]") {
  uint64_t counts[DurationHistogram::kBuckets] = {};
  CHECK(gilwatch::duration_buckets::percentile(counts, 0.5) == 0);
  // 90 samples of 1 us, 10 of 1 ms.
  counts[DurationHistogram::bucket_of(1000)] += 90;
  counts[DurationHistogram::bucket_of(1000000)] += 10;
  uint64_t p50 = gilwatch::duration_buckets::percentile(counts, 0.5);
  uint64_t p95 = gilwatch::duration_buckets::percentile(counts, 0.95);
  CHECK(p50 >= 900);
  CHECK(p50 <= 1125);
  CHECK(p95 >= 900000);
  CHECK(p95 <= 1125000);
  CHECK(gilwatch::duration_buckets::percentile(counts, 0.9) <= 1125);  // the 90th sample is still 1 us
}

TEST_CASE("a lock gets one record, with its first site, counting what happened to it", "[profile]") {
  LockProfiler profiler(4);
  REQUIRE(profiler.ok());
  LockProfile* p = profiler.find_or_insert(0x1000, LockKind::kMutex, 0xabc);
  REQUIRE(p != nullptr);
  CHECK(profiler.find_or_insert(0x1000, LockKind::kMutex, 0xdef) == p);
  CHECK(profiler.find(0x1000) == p);
  CHECK(profiler.find(0x2000) == nullptr);
  CHECK(p->first_pc.load() == 0xabc);
  LockProfiler::on_acquired(*p, false, 0);
  LockProfiler::on_acquired(*p, true, 5000);
  LockProfiler::on_acquired(*p, true, 1000);
  LockProfiler::on_released(*p, 200);
  LockProfiler::on_released(*p, 800);
  CHECK(p->acquisitions.load() == 3);
  CHECK(p->contended.load() == 2);
  CHECK(p->wait_total_ns.load() == 6000);
  CHECK(p->wait_max_ns.load() == 5000);
  CHECK(p->holds.load() == 2);
  CHECK(p->hold_total_ns.load() == 1000);
  CHECK(p->hold_max_ns.load() == 800);
  CHECK(p->wait_histogram.counts[DurationHistogram::bucket_of(5000)].load() == 1);
  CHECK(profiler.size() == 1);
}

TEST_CASE("a full profile table counts the locks it cannot take", "[profile]") {
  LockProfiler profiler(4);  // 16 slots, 12 usable
  int kept = 0;
  for (uintptr_t a = 1; a <= 20; ++a) kept += profiler.find_or_insert(a * 64, LockKind::kMutex, 1) ? 1 : 0;
  CHECK(kept == 12);
  CHECK(profiler.dropped() == 8);
  int seen = 0;
  profiler.for_each([&](const LockProfile&) { ++seen; });
  CHECK(seen == 12);
}

TEST_CASE("a record's slot, kept by its holder, leads back to that record and no other", "[profile]") {
  LockProfiler profiler(6);
  REQUIRE(profiler.ok());
  CHECK(profiler.record_at(0) == nullptr);  // 0: no record kept
  std::vector<LockProfile*> records;
  for (uintptr_t lock = 0x1000; lock < 0x1000 + 40 * 64; lock += 64) {
    LockProfile* p = profiler.find_or_insert(lock, LockKind::kMutex, 0x77);
    REQUIRE(p != nullptr);
    records.push_back(p);
  }
  for (LockProfile* p : records) {
    uint32_t slot = profiler.slot_of(*p);
    CHECK(slot != 0);
    CHECK(profiler.record_at(slot) == p);
  }
  // Distinct records, distinct slots.
  CHECK(profiler.slot_of(*records[0]) != profiler.slot_of(*records[1]));
}

TEST_CASE("the longest waits are kept, longest first", "[profile]") {
  LockProfiler profiler(4);
  LockProfile* p = profiler.find_or_insert(0x40, LockKind::kRwlock, 1);
  REQUIRE(p != nullptr);
  for (uint64_t w : {30ull, 10ull, 50ull, 20ull, 40ull, 5ull}) {
    if (!LockProfiler::wants_waiter(*p, w)) continue;
    ProfileWaiter waiter{};
    waiter.wait_ns = w;
    waiter.tid = uint32_t(w);
    LockProfiler::add_waiter(*p, waiter);
  }
  REQUIRE(p->waiter_count == 4);
  CHECK(p->waiters[0].wait_ns == 50);
  CHECK(p->waiters[1].wait_ns == 40);
  CHECK(p->waiters[2].wait_ns == 30);
  CHECK(p->waiters[3].wait_ns == 20);
  CHECK_FALSE(LockProfiler::wants_waiter(*p, 20));
  CHECK(LockProfiler::wants_waiter(*p, 21));
}

TEST_CASE("threads updating the same and different locks lose no counts", "[profile]") {
  LockProfiler profiler(10);
  constexpr int kThreads = 4, kRounds = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        uintptr_t lock = (i % 2 == 0) ? 0x8000 : 0x10000 + uintptr_t(t) * 64;
        LockProfile* p = profiler.find_or_insert(lock, LockKind::kMutex, 7);
        LockProfiler::on_acquired(*p, i % 4 == 0, 100);
        LockProfiler::on_released(*p, 10);
      }
    });
  for (auto& th : threads) th.join();
  CHECK(profiler.size() == 1 + kThreads);
  CHECK(profiler.find(0x8000)->acquisitions.load() == uint64_t(kThreads) * kRounds / 2);
  CHECK(profiler.find(0x8000)->contended.load() == uint64_t(kThreads) * kRounds / 4);
  CHECK(profiler.find(0x10000)->holds.load() == uint64_t(kRounds) / 2);
}

TEST_CASE("updates by the lock's exclusive holder count what atomic updates count", "[profile]") {
  // The hooks pass exclusive=true while holding a mutex or write lock: the lock itself
  // serializes them. Here a std::mutex plays the lock, taken by 4 threads in turn.
  LockProfiler profiler(6);
  LockProfile* held = profiler.find_or_insert(0x4000, LockKind::kMutex, 1);
  LockProfile* shared = profiler.find_or_insert(0x5000, LockKind::kRwlock, 1);
  REQUIRE((held && shared));
  std::mutex lock;
  constexpr int kThreads = 4, kRounds = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        uint64_t wait = 100 + uint64_t(t), hold = 10 + uint64_t(i % 7);
        {
          std::lock_guard<std::mutex> guard(lock);
          LockProfiler::on_acquired(*held, i % 4 == 0, wait, true);
          LockProfiler::on_released(*held, hold, true);
        }
        LockProfiler::on_acquired(*shared, i % 4 == 0, wait, false);
        LockProfiler::on_released(*shared, hold, false);
      }
    });
  for (auto& th : threads) th.join();
  CHECK(held->acquisitions.load() == uint64_t(kThreads) * kRounds);
  CHECK(held->contended.load() == uint64_t(kThreads) * kRounds / 4);
  CHECK(held->holds.load() == uint64_t(kThreads) * kRounds);
  for (auto field : {&LockProfile::acquisitions, &LockProfile::contended, &LockProfile::wait_total_ns,
                     &LockProfile::wait_max_ns, &LockProfile::holds, &LockProfile::hold_total_ns,
                     &LockProfile::hold_max_ns})
    CHECK((held->*field).load() == (shared->*field).load());
  CHECK(held->wait_max_ns.load() == 103);
  CHECK(held->hold_max_ns.load() == 16);
  for (int b = 0; b < DurationHistogram::kBuckets; ++b) {
    CHECK(held->hold_histogram.counts[b].load() == shared->hold_histogram.counts[b].load());
    CHECK(held->wait_histogram.counts[b].load() == shared->wait_histogram.counts[b].load());
  }
}
