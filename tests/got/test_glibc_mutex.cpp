// The mutex hook's own take of a free default mutex (instrumentation/preload/hooks/
// glibc_mutex.h) against glibc's: the same bytes as glibc's trylock, in a process with
// one thread and with several, and glibc's unlock, lock and trylock working on a mutex
// taken here as if glibc had taken it, waking a waiter included; the release made here
// with one thread, the same bytes as glibc's, and none made with several. Its twin:
// every other kind of mutex is glibc's.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "glibc_mutex.h"

using gilwatch::preload::is_default_mutex;
using gilwatch::preload::trylock_default_mutex;
using gilwatch::preload::unlock_default_mutex_single_threaded;

namespace {

uint32_t kernel_tid() { return uint32_t(syscall(SYS_gettid)); }

bool same_bytes(const pthread_mutex_t& a, const pthread_mutex_t& b) { return std::memcmp(&a, &b, sizeof(a)) == 0; }

// Both takes on fresh twins, then glibc's view of the result.
void check_take_matches_glibc() {
  pthread_mutex_t ours = PTHREAD_MUTEX_INITIALIZER, glibcs = PTHREAD_MUTEX_INITIALIZER;
  REQUIRE(trylock_default_mutex(&ours, kernel_tid()) == 0);
  REQUIRE(pthread_mutex_trylock(&glibcs) == 0);
  CHECK(same_bytes(ours, glibcs));
  CHECK(ours.__data.__lock == 1);
  CHECK(uint32_t(ours.__data.__owner) == kernel_tid());
  CHECK(ours.__data.__nusers == 1);
  // Held: neither take gets it again, and a failed take changes nothing.
  pthread_mutex_t before = ours;
  CHECK(trylock_default_mutex(&ours, kernel_tid()) == EBUSY);
  CHECK(same_bytes(ours, before));
  CHECK(pthread_mutex_trylock(&ours) == EBUSY);
  // glibc's unlock leaves it as fresh, and glibc takes it again.
  REQUIRE(pthread_mutex_unlock(&ours) == 0);
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  CHECK(same_bytes(ours, fresh));
  CHECK(pthread_mutex_lock(&ours) == 0);
  CHECK(pthread_mutex_unlock(&ours) == 0);
  CHECK(pthread_mutex_unlock(&glibcs) == 0);
}

}  // namespace

TEST_CASE("a default mutex taken in a single-threaded process is glibc's bytes", "[glibc_mutex]") {
  // Catch2 runs test cases in the order declared: the single-threaded ones come first,
  // before any test creates a thread.
  REQUIRE(__libc_single_threaded);
  check_take_matches_glibc();
}

TEST_CASE("a default mutex released in a single-threaded process is glibc's bytes", "[glibc_mutex]") {
  REQUIRE(__libc_single_threaded);
  pthread_mutex_t ours = PTHREAD_MUTEX_INITIALIZER, glibcs = PTHREAD_MUTEX_INITIALIZER;
  REQUIRE(pthread_mutex_lock(&ours) == 0);
  REQUIRE(pthread_mutex_lock(&glibcs) == 0);
  CHECK(unlock_default_mutex_single_threaded(&ours));
  REQUIRE(pthread_mutex_unlock(&glibcs) == 0);
  CHECK(same_bytes(ours, glibcs));
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  CHECK(same_bytes(ours, fresh));
  // Taken here and released here, then glibc's again.
  REQUIRE(trylock_default_mutex(&ours, kernel_tid()) == 0);
  CHECK(unlock_default_mutex_single_threaded(&ours));
  CHECK(same_bytes(ours, fresh));
  CHECK(pthread_mutex_trylock(&ours) == 0);
  CHECK(pthread_mutex_unlock(&ours) == 0);
}

TEST_CASE("a default mutex taken in a multi-threaded process is glibc's bytes", "[glibc_mutex]") {
  std::thread([] {}).join();
  REQUIRE_FALSE(__libc_single_threaded);
  check_take_matches_glibc();
}

TEST_CASE("with several threads a default mutex is left to glibc's unlock, untouched", "[glibc_mutex]") {
  std::thread([] {}).join();
  REQUIRE_FALSE(__libc_single_threaded);
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  REQUIRE(pthread_mutex_lock(&m) == 0);
  pthread_mutex_t before = m;
  CHECK_FALSE(unlock_default_mutex_single_threaded(&m));
  CHECK(same_bytes(m, before));
  CHECK(pthread_mutex_trylock(&m) == EBUSY);
  CHECK(pthread_mutex_unlock(&m) == 0);
}

TEST_CASE("a thread blocked in glibc's lock is woken by glibc's unlock of a mutex taken here", "[glibc_mutex]") {
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  REQUIRE(trylock_default_mutex(&m, kernel_tid()) == 0);
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    pthread_mutex_lock(&m);
    got = true;
    pthread_mutex_unlock(&m);
  });
  // The waiter marks the word contended (2) before it sleeps in the kernel.
  while (__atomic_load_n(&m.__data.__lock, __ATOMIC_RELAXED) != 2) std::this_thread::yield();
  CHECK_FALSE(got);
  REQUIRE(pthread_mutex_unlock(&m) == 0);
  waiter.join();
  CHECK(got);
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  CHECK(same_bytes(m, fresh));
}

TEST_CASE("takes here and glibc's locks exclude each other under contention", "[glibc_mutex]") {
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  long counter = 0;
  constexpr int kRounds = 200000;
  auto worker = [&](bool ours) {
    uint32_t tid = kernel_tid();
    for (int i = 0; i < kRounds; ++i) {
      if (!ours || trylock_default_mutex(&m, tid) != 0) pthread_mutex_lock(&m);
      long seen = counter;
      counter = seen + 1;
      pthread_mutex_unlock(&m);
    }
  };
  std::thread a(worker, true), b(worker, true), c(worker, false);
  a.join();
  b.join();
  c.join();
  CHECK(counter == 3L * kRounds);
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  CHECK(same_bytes(m, fresh));
}

TEST_CASE("every mutex but a default one is left to glibc", "[glibc_mutex]") {
  pthread_mutex_t plain = PTHREAD_MUTEX_INITIALIZER;
  CHECK(is_default_mutex(&plain));
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutex_t with_default_attr;
  pthread_mutex_init(&with_default_attr, &attr);
  CHECK(is_default_mutex(&with_default_attr));
  pthread_mutex_destroy(&with_default_attr);
  pthread_mutexattr_destroy(&attr);

  auto is_default_with = [](auto&& configure) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    configure(a);
    pthread_mutex_t m;
    pthread_mutex_init(&m, &a);
    bool result = is_default_mutex(&m);
    pthread_mutex_destroy(&m);
    pthread_mutexattr_destroy(&a);
    return result;
  };
  CHECK_FALSE(is_default_with([](auto& a) { pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE); }));
  CHECK_FALSE(is_default_with([](auto& a) { pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK); }));
  CHECK_FALSE(is_default_with([](auto& a) { pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP); }));
  CHECK_FALSE(is_default_with([](auto& a) { pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED); }));
  CHECK_FALSE(is_default_with([](auto& a) { pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST); }));
  CHECK_FALSE(is_default_with([](auto& a) { pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT); }));
  pthread_mutex_t recursive = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
  CHECK_FALSE(is_default_mutex(&recursive));
}
