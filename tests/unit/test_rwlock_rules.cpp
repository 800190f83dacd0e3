// rwlock_rules: a rwlock's preference and a thread's request for a rwlock it holds.
#include <catch2/catch.hpp>

#include <cstring>
#include <memory>

#include "detector.h"
#include "rwlock_rules.h"

using namespace gilwatch;

namespace {

constexpr uintptr_t RW = 0x10000, OTHER = 0x20000;

std::unique_ptr<ThreadState> holding(uintptr_t address, LockKind kind, LockMode mode) {
  auto t = std::make_unique<ThreadState>();
  t->held[0] = HeldLock{address, NodeHandle{}, 0x1, kind, mode, 0, 0, 0, 0};
  t->depth = 1;
  return t;
}

}  // namespace

TEST_CASE("glibc's writer-preferring nonrecursive kind alone makes readers wait for writers", "[rwlock]") {
  CHECK_FALSE(rwlock_readers_wait_for_writers(0));  // PTHREAD_RWLOCK_PREFER_READER_NP (default)
  CHECK_FALSE(rwlock_readers_wait_for_writers(1));  // PTHREAD_RWLOCK_PREFER_WRITER_NP: reader-preferring in glibc
  CHECK(rwlock_readers_wait_for_writers(2));        // PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
}

TEST_CASE("re-locking a rwlock held for writing is EDEADLK, for writing or reading", "[rwlock]") {
  auto t = holding(RW, LockKind::kRwlock, LockMode::kWrite);
  for (bool writer_preferring : {false, true}) {
    Relock w = classify_relock(*t, RW, LockMode::kWrite, writer_preferring);
    Relock r = classify_relock(*t, RW, LockMode::kRead, writer_preferring);
    CHECK(w == Relock::kWriteWhileWriting);
    CHECK(r == Relock::kReadWhileWriting);
    CHECK(relock_is_certain(w));
    CHECK(relock_is_certain(r));
    CHECK(std::strcmp(relock_detail(w), "rwlock-write-while-writing") == 0);
    CHECK(std::strcmp(relock_detail(r), "rwlock-read-while-writing") == 0);
  }
}

TEST_CASE("asking to write a rwlock held for reading waits for itself", "[rwlock]") {
  auto t = holding(RW, LockKind::kRwlock, LockMode::kRead);
  Relock r = classify_relock(*t, RW, LockMode::kWrite, false);
  CHECK(r == Relock::kWriteWhileReading);
  CHECK(relock_is_certain(r));
  CHECK(std::strcmp(relock_detail(r), "rwlock-write-while-reading") == 0);
}

TEST_CASE("a recursive read is a risk on a writer-preferring rwlock only", "[rwlock]") {
  auto t = holding(RW, LockKind::kRwlock, LockMode::kRead);
  Relock wp = classify_relock(*t, RW, LockMode::kRead, true);
  CHECK(wp == Relock::kRecursiveRead);
  CHECK_FALSE(relock_is_certain(wp));
  CHECK(std::strcmp(relock_detail(wp), "rwlock-recursive-read") == 0);
  CHECK(classify_relock(*t, RW, LockMode::kRead, false) == Relock::kNone);
}

TEST_CASE("a rwlock the thread does not hold is no re-lock", "[rwlock]") {
  auto t = holding(OTHER, LockKind::kRwlock, LockMode::kWrite);
  CHECK(classify_relock(*t, RW, LockMode::kWrite, true) == Relock::kNone);
  CHECK(classify_relock(*t, RW, LockMode::kRead, true) == Relock::kNone);
  auto empty = std::make_unique<ThreadState>();
  CHECK(classify_relock(*empty, RW, LockMode::kWrite, false) == Relock::kNone);
  // A mutex at the same address (memory reused) is not this rwlock.
  auto m = holding(RW, LockKind::kMutex, LockMode::kWrite);
  CHECK(classify_relock(*m, RW, LockMode::kWrite, false) == Relock::kNone);
}
