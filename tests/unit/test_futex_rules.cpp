// futex_rules: the verdicts on futex words and the sentences composed from the
// library's fields (harness/results/futex_rules.h).
#include <catch2/catch.hpp>

#include "futex_rules.h"
#include "gilwatch/result_format.h"

using namespace gilwatch;
namespace fr = gilwatch::harness::futex_rules;
namespace rf = gilwatch::result_format;

namespace {

report::NativeFrame frame(const std::string& function) {
  report::NativeFrame f;
  f.function = function;
  f.module = "/ext/rs_registry.abi3.so";
  return f;
}

const char* kRwLockWrite = "std::sys::sync::rwlock::futex::RwLock::write_contended";
const char* kMutexSlow = "std::sys::sync::mutex::futex::Mutex::lock_contended";
const char* kPark = "std::sys::pal::unix::thread_parking::Parker::park";

report::Lock lock(int id, const char* kind, uint64_t address) {
  report::Lock l;
  l.id = id;
  l.kind = kind;
  l.address = address;
  return l;
}

// A gil-held-blocking finding as the library writes it for a futex wait.
report::Finding gil_held_futex_wait(const char* waiter_function) {
  report::Finding f;
  f.kind = rf::kGilHeldBlocking;
  f.summary = "blocking call futex wait while holding the GIL";
  f.locks = {lock(0, rf::kLockKindGil, 0), lock(1, rf::kLockKindFutex, 0x7f0010)};
  report::Thread t;
  t.tid = 42;
  t.role = "held the GIL while blocked in futex wait on 0x7f0010 for 3 ms";
  t.owner_known = false;
  t.blocked_ms = 3;
  t.native_frames = {frame("syscall"), frame(waiter_function), frame("rs_registry::register_holding_gil")};
  f.threads.push_back(t);
  return f;
}

}  // namespace

TEST_CASE("a gil-held futex wait is worded from its fields and the waiter's frames", "[futex]") {
  report::Finding f = gil_held_futex_wait(kRwLockWrite);
  fr::name_futex_waits(f);
  CHECK(f.threads[0].role == "held the GIL while blocked in futex wait on 0x7f0010 (std::sync::RwLock, write) for 3 ms");
  CHECK(f.summary == "blocking call futex wait (std::sync::RwLock, write) while holding the GIL");
  CHECK(f.locks[1].name == "std::sync::RwLock, write");
  CHECK(f.locks[0].name.empty());
}

TEST_CASE("a futex wait no frame names keeps the library's words", "[futex]") {
  report::Finding f = gil_held_futex_wait("some_function");
  fr::name_futex_waits(f);
  CHECK(f.threads[0].role == "held the GIL while blocked in futex wait on 0x7f0010 for 3 ms");
  CHECK(f.summary == "blocking call futex wait while holding the GIL");
  CHECK(f.locks[1].name.empty());
}

TEST_CASE("a thread whose owner is known is not a futex waiter", "[futex]") {
  report::Finding f = gil_held_futex_wait(kRwLockWrite);
  f.threads[0].owner_known = true;
  CHECK(fr::futex_word_of(f, f.threads[0]) == nullptr);
  fr::name_futex_waits(f);
  CHECK(f.summary == "blocking call futex wait while holding the GIL");
}

TEST_CASE("a probable deadlock on a futex word names it in the role and the summary", "[futex]") {
  report::Finding f;
  f.kind = rf::kDeadlock;
  f.probable = true;
  f.summary = std::string("probable deadlock: thread 7 holds the GIL while blocked on ") + rf::kOwnerlessObject +
              ", and 1 thread waits for the GIL";
  f.locks = {lock(0, rf::kLockKindFutex, 0x7f0010), lock(1, rf::kLockKindGil, 0x9000), lock(2, rf::kLockKindMutex, 0x5000)};
  report::Thread holder;
  holder.tid = 7;
  holder.owner_known = false;
  holder.waits_for = 0;
  holder.holds = {1, 2};
  holder.blocked_ms = 1200;
  holder.native_frames = {frame("syscall"), frame(kMutexSlow)};
  report::Thread waiter;
  waiter.tid = 8;
  waiter.role = "waits for the GIL held by thread 7 (blocked 1100 ms)";
  waiter.waits_for = 1;
  f.threads = {holder, waiter};
  fr::name_futex_waits(f);
  CHECK(f.threads[0].role ==
        "waits on futex word 0x7f0010 (std::sync::Mutex) while holding the GIL of interpreter 0x9000 (blocked 1200 ms); "
        "holds mutex 0x5000");
  CHECK(f.threads[1].role == "waits for the GIL held by thread 7 (blocked 1100 ms)");
  CHECK(f.summary ==
        "probable deadlock: thread 7 holds the GIL while blocked on a futex word (std::sync::Mutex) whose owner cannot "
        "be known, and 1 thread waits for the GIL");
  CHECK(f.locks[0].name == "std::sync::Mutex");
}

TEST_CASE("the sentences without a name are the library's", "[futex]") {
  CHECK(fr::probable_futex_deadlock_summary(7, "", 2) ==
        std::string("probable deadlock: thread 7 holds the GIL while blocked on ") + rf::kOwnerlessObject +
            ", and 2 threads wait for the GIL");
  CHECK(fr::deadlock_futex_role(0x10, "", nullptr, 5, {}) ==
        std::string("waits on futex word 0x10 ") + rf::kUnnamedFutexWord + " (blocked 5 ms)");
  CHECK(fr::gil_held_futex_summary("") == "blocking call futex wait while holding the GIL");
}

TEST_CASE("a short futex wait is reported for a Rust lock whose holders need the GIL only", "[futex]") {
  CHECK(fr::judge_short_futex_wait("std::sync::RwLock, write", true) == fr::ShortWait::kReport);
  CHECK(fr::judge_short_futex_wait("parking_lot::Mutex", true) == fr::ShortWait::kReport);
  // std's stdout lock and PyO3's reference pool are std Mutexes no holder needs the GIL under.
  CHECK(fr::judge_short_futex_wait("std::sync::Mutex", false) == fr::ShortWait::kLeaveOut);
  CHECK(fr::judge_short_futex_wait("std::thread::park", true) == fr::ShortWait::kLeaveOut);
  CHECK(fr::judge_short_futex_wait("std::sync::mpsc channel", false) == fr::ShortWait::kLeaveOut);
  CHECK(fr::judge_short_futex_wait("", true) == fr::ShortWait::kLeaveOut);
}

TEST_CASE("a cycle through a futex word stands only when a waiter shows a Rust lock", "[futex]") {
  report::Finding f;
  f.kind = rf::kLockOrderInversion;
  f.locks = {lock(0, rf::kLockKindGil, 0), lock(1, rf::kLockKindFutex, 0x7f0010)};
  report::Thread into_word;
  into_word.native_frames = {frame("syscall"), frame(kMutexSlow), frame("rs_registry::register_holding_gil")};
  report::Thread into_gil;
  into_gil.native_frames = {frame("PyGILState_Ensure")};
  f.threads = {into_word, into_gil};
  f.edges = {{0, 1, "write", "write", 0}, {1, 0, "write", "write", 1}};
  CHECK(fr::futex_cycle_stands(f));
  CHECK(f.locks[1].name == "std::sync::Mutex");

  f.locks[1].name.clear();
  f.threads[0].native_frames = {frame("syscall"), frame(kPark)};
  CHECK_FALSE(fr::futex_cycle_stands(f));
}
