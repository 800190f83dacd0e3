#include <catch2/catch.hpp>

#include "wait_graph.h"

using gilwatch::WaitGraph;
using gilwatch::WaitKind;

namespace {

constexpr uint64_t kMs = 1000000;

int add(WaitGraph& g, uint32_t tid, WaitKind kind, uint64_t waited_ms, bool gil = false, uintptr_t which_gil = 0) {
  return g.add_node(WaitGraph::Node{tid, kind, gil, waited_ms * kMs, which_gil});
}

}  // namespace

TEST_CASE("wait graph: two threads waiting for each other's mutex form a cycle") {
  static WaitGraph g;
  g.clear();
  int a = add(g, 10, WaitKind::kMutex, 900);
  int b = add(g, 11, WaitKind::kMutex, 900);
  g.add_edge(a, b);
  g.add_edge(b, a);
  int cycle[8];
  REQUIRE(g.find_cycle(500 * kMs, cycle, 8) == 2);
  CHECK(cycle[0] == a);
  CHECK(cycle[1] == b);
}

TEST_CASE("wait graph: a chain that ends in a running thread is not a deadlock") {
  static WaitGraph g;
  g.clear();
  int a = add(g, 1, WaitKind::kJoin, 900, true);
  int b = add(g, 2, WaitKind::kMutex, 900);
  int c = add(g, 3, WaitKind::kGil, 900);
  g.add_edge(a, b);
  g.add_edge(b, c);
  int cycle[8];
  CHECK(g.find_cycle(500 * kMs, cycle, 8) == 0);
}

TEST_CASE("wait graph: each GIL has its own holder; an unknown GIL has none") {
  static WaitGraph g;
  g.clear();
  constexpr uintptr_t kSub = 0x7f0000010000;
  int main_holder = add(g, 1, WaitKind::kCondition, 900, true, 0);
  int sub_holder = add(g, 2, WaitKind::kCondition, 900, true, kSub);
  CHECK(g.gil_holder(0) == main_holder);
  CHECK(g.gil_holder(kSub) == sub_holder);
  CHECK(g.gil_holder(0x1234) == -1);
  CHECK(g.gil_holder(WaitGraph::kUnknownGil) == -1);
}

TEST_CASE("wait graph: join with the GIL held, joined thread waits for the GIL") {
  static WaitGraph g;
  g.clear();
  int joiner = add(g, 100, WaitKind::kJoin, 700, true);
  int worker = add(g, 101, WaitKind::kGil, 700);
  CHECK(g.gil_holder() == joiner);
  g.add_edge(joiner, worker);
  g.add_edge(worker, g.gil_holder());
  int cycle[8];
  REQUIRE(g.find_cycle(500 * kMs, cycle, 8) == 2);
  CHECK(g.node(cycle[0]).tid == 100);
  CHECK(g.node(cycle[1]).tid == 101);
}

TEST_CASE("wait graph: a cycle is reported only once every member waited long enough") {
  static WaitGraph g;
  g.clear();
  int a = add(g, 1, WaitKind::kMutex, 900);
  int b = add(g, 2, WaitKind::kMutex, 100);  // just started waiting: may be transient
  g.add_edge(a, b);
  g.add_edge(b, a);
  int cycle[8];
  CHECK(g.find_cycle(500 * kMs, cycle, 8) == 0);
  CHECK(g.find_cycle(50 * kMs, cycle, 8) == 2);
}

TEST_CASE("wait graph: a thread re-locking its own mutex is a cycle of one") {
  static WaitGraph g;
  g.clear();
  int a = add(g, 1, WaitKind::kMutex, 900);
  g.add_edge(a, a);
  int cycle[8];
  REQUIRE(g.find_cycle(500 * kMs, cycle, 8) == 1);
  CHECK(cycle[0] == a);
}

TEST_CASE("wait graph: three-thread cycle behind a branch (rwlock readers)") {
  static WaitGraph g;
  g.clear();
  int writer = add(g, 1, WaitKind::kRwlockWrite, 900, true);
  int reader_running = add(g, 2, WaitKind::kMutex, 900);
  int reader_stuck = add(g, 3, WaitKind::kMutex, 900);
  int owner = add(g, 4, WaitKind::kGil, 900);
  int bystander = add(g, 5, WaitKind::kCondition, 900);
  g.add_edge(writer, reader_running);
  g.add_edge(writer, reader_stuck);
  g.add_edge(reader_running, bystander);  // dead end
  g.add_edge(reader_stuck, owner);
  g.add_edge(owner, writer);  // the GIL holder
  int cycle[8];
  REQUIRE(g.find_cycle(500 * kMs, cycle, 8) == 3);
  CHECK(cycle[0] == writer);
  CHECK(cycle[1] == reader_stuck);
  CHECK(cycle[2] == owner);
}

TEST_CASE("wait graph: nodes that wait on objects without owners have no edges") {
  static WaitGraph g;
  g.clear();
  add(g, 1, WaitKind::kCondition, 5000, true);
  add(g, 2, WaitKind::kGil, 5000);
  int cycle[8];
  CHECK(g.find_cycle(0, cycle, 8) == 0);
  CHECK(g.find_node(2) == 1);
  CHECK(g.find_node(3) == -1);
}

TEST_CASE("wait graph: a cycle through a wait with a deadline is no deadlock; the same untimed one is") {
  static WaitGraph g;
  g.clear();
  bool timed = GENERATE(false, true);
  int a = g.add_node(WaitGraph::Node{10, WaitKind::kMutex, false, 900 * kMs, 0, false});
  int b = g.add_node(WaitGraph::Node{11, WaitKind::kMutex, false, 900 * kMs, 0, timed});
  g.add_edge(a, b);
  g.add_edge(b, a);
  int cycle[8];
  CHECK(g.find_cycle(500 * kMs, cycle, 8) == (timed ? 0 : 2));
}

TEST_CASE("wait graph: a timed waiter elsewhere does not hide an untimed cycle") {
  static WaitGraph g;
  g.clear();
  int timed = g.add_node(WaitGraph::Node{1, WaitKind::kRwlockWrite, false, 900 * kMs, 0, true});
  int a = add(g, 2, WaitKind::kMutex, 900);
  int b = add(g, 3, WaitKind::kMutex, 900);
  g.add_edge(timed, a);
  g.add_edge(a, b);
  g.add_edge(b, a);
  int cycle[8];
  REQUIRE(g.find_cycle(500 * kMs, cycle, 8) == 2);
  CHECK(cycle[0] == a);
  CHECK(cycle[1] == b);
}
