#include <algorithm>
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <iterator>

#include "free_threading.h"

using gilwatch::Check;
using gilwatch::check_applies;
using gilwatch::check_name;
using gilwatch::python_threading;
using gilwatch::PythonThreading;
using gilwatch::RuntimeRole;
using gilwatch::WaitGraph;
using gilwatch::WaitKind;

namespace {

// The start of a 3.13+ _PyRuntime: _Py_DebugOffsets' cookie, version, free_threaded.
struct DebugHeader {
  unsigned char bytes[gilwatch::kDebugOffsetsHeaderBytes] = {};
  DebugHeader(const char* cookie, uint64_t version, uint64_t free_threaded) {
    std::memcpy(bytes, cookie, 8);
    std::memcpy(bytes + 8, &version, 8);
    std::memcpy(bytes + 16, &free_threaded, 8);
  }
};

constexpr Check kGilChecks[] = {Check::kGilLockOrder, Check::kGilHeldBlocking, Check::kCapiWithoutGil,
                                Check::kGilWaitFor, Check::kGilProfile};
constexpr Check kEveryBuildChecks[] = {Check::kNativeLockOrder, Check::kDeadlock,          Check::kAbandonedLock,
                                       Check::kFork,            Check::kLeaks,             Check::kContentionProfile,
                                       Check::kFinalizationAttach, Check::kRustPanic};

}  // namespace

TEST_CASE("a free-threaded build is recognized by its runtime's debug offsets", "[free_threading]") {
  DebugHeader ft_313("xdebugpy", 0x030d00f0, 1);
  DebugHeader gil_314("xdebugpy", 0x030e08f0, 0);
  CHECK(python_threading(3, 13, ft_313.bytes) == PythonThreading::kFreeThreaded);
  CHECK(python_threading(3, 15, ft_313.bytes) == PythonThreading::kFreeThreaded);
  CHECK(python_threading(3, 14, gil_314.bytes) == PythonThreading::kGil);
}

TEST_CASE("without debug offsets, or before 3.13, the build is taken to have a GIL", "[free_threading]") {
  DebugHeader no_cookie("nodebug!", 0x030d00f0, 1);
  DebugHeader odd_value("xdebugpy", 0x030d00f0, 7);
  DebugHeader ft_flag("xdebugpy", 0x030c00f0, 1);
  CHECK(python_threading(3, 13, nullptr) == PythonThreading::kGil);
  CHECK(python_threading(3, 13, no_cookie.bytes) == PythonThreading::kGil);
  CHECK(python_threading(3, 13, odd_value.bytes) == PythonThreading::kGil);
  // 3.12 has no debug offsets and no free-threaded build: whatever the bytes say.
  CHECK(python_threading(3, 12, ft_flag.bytes) == PythonThreading::kGil);
  CHECK(python_threading(2, 7, ft_flag.bytes) == PythonThreading::kGil);
}

TEST_CASE("a GIL build keeps every check on", "[free_threading]") {
  for (int i = 0; i < int(Check::kCount); ++i) CHECK(check_applies(Check(i), PythonThreading::kGil));
}

TEST_CASE("a free-threaded build turns off the checks that assume a GIL, and only those", "[free_threading]") {
  for (Check c : kGilChecks) {
    INFO(check_name(c));
    CHECK_FALSE(check_applies(c, PythonThreading::kFreeThreaded));
  }
  for (Check c : kEveryBuildChecks) {
    INFO(check_name(c));
    CHECK(check_applies(c, PythonThreading::kFreeThreaded));
  }
  CHECK(std::size(kGilChecks) + std::size(kEveryBuildChecks) == std::size_t(Check::kCount));
  CHECK(std::strcmp(check_name(Check::kGilHeldBlocking), "gil-held-blocking") == 0);
  CHECK(std::strcmp(check_name(Check::kCapiWithoutGil), "capi-without-gil") == 0);
}

namespace {

WaitGraph::Node blocked(uint32_t tid, WaitKind kind) {
  return WaitGraph::Node{tid, kind, false, 5'000'000'000ull, 0, false};
}

}  // namespace

TEST_CASE("runtime model: an attach waiting for a pause whose thread waits for the attacher's lock is a deadlock",
          "[free_threading][runtime_model]") {
  // Thread 1 holds mutex M and attaches while the world is stopped; thread 2 stopped the
  // world (a collection) and a tp_traverse takes M.
  WaitGraph g;
  int attaching = g.add_node(blocked(1, WaitKind::kFutex));
  int pauser = g.add_node(blocked(2, WaitKind::kMutex));
  g.add_edge(pauser, attaching);  // M's owner
  RuntimeRole roles[] = {RuntimeRole::kAttaching, RuntimeRole::kWorldStopped};
  CHECK(gilwatch::add_runtime_edges(g, roles) == 1);
  int cycle[4];
  REQUIRE(g.find_cycle(0, cycle, 4) == 2);
  CHECK(cycle[0] == attaching);
  CHECK(cycle[1] == pauser);
}

TEST_CASE("runtime model: a thread blocked while attached stalls a pause, and the pause stalls the lock's owner",
          "[free_threading][runtime_model]") {
  // Thread 1 is attached and blocks on M; thread 2 owns M and, detached, asks to attach
  // while thread 3's stop-the-world request waits for thread 1 to park.
  WaitGraph g;
  int attached = g.add_node(blocked(1, WaitKind::kMutex));
  int owner = g.add_node(blocked(2, WaitKind::kFutex));
  int pauser = g.add_node(blocked(3, WaitKind::kFutex));
  g.add_edge(attached, owner);
  RuntimeRole roles[] = {RuntimeRole::kAttached, RuntimeRole::kAttaching, RuntimeRole::kStopRequested};
  CHECK(gilwatch::add_runtime_edges(g, roles) == 2);  // pauser -> attached, owner -> pauser
  int cycle[4];
  CHECK(g.find_cycle(0, cycle, 4) == 3);
  CHECK(std::count(cycle, cycle + 3, pauser) == 1);
}

TEST_CASE("runtime model: no pause, or only detached waiters, adds nothing", "[free_threading][runtime_model]") {
  WaitGraph g;
  int a = g.add_node(blocked(1, WaitKind::kMutex));
  int b = g.add_node(blocked(2, WaitKind::kMutex));
  g.add_edge(a, b);
  SECTION("attached threads wait for each other's locks only") {
    RuntimeRole roles[] = {RuntimeRole::kAttached, RuntimeRole::kAttached};
    CHECK(gilwatch::add_runtime_edges(g, roles) == 0);
  }
  SECTION("a pause requested while the blocked threads are detached waits for none of them") {
    int pauser = g.add_node(blocked(3, WaitKind::kFutex));
    RuntimeRole roles[] = {RuntimeRole::kDetached, RuntimeRole::kDetached, RuntimeRole::kStopRequested};
    CHECK(gilwatch::add_runtime_edges(g, roles) == 0);
    (void)pauser;
  }
  int cycle[4];
  CHECK(g.find_cycle(0, cycle, 4) == 0);
}
