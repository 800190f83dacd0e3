// wait_graph: the wait-for graph of the threads that are blocked right now, and the
// search for a cycle in it (a deadlock as it happens, not a potential one).
//
// The runtime builds one WaitGraph per check from what blocked threads published about
// themselves (what they wait on, since when, whether they hold the GIL) and what the
// waited-on objects say about their owners; this file only decides. Nodes are the
// blocked threads; an edge u -> v says "u cannot go on until v does something", and v
// is itself blocked, so a cycle can never resolve itself.
//
// Edges come from: a mutex's owner, a rwlock's writer (or its readers), a joined
// thread, the GIL's holder. Condition variables and futex words name no owner: a thread
// blocked on one has no outgoing edge, and the probable-deadlock rule (a GIL holder
// blocked on such an object while another thread waits for the GIL) covers the case the
// seeds care about.
//
// Allocation-free: fixed-capacity arrays, sized for one check.
#pragma once

#include <cstdint>

namespace gilwatch {

enum class WaitKind : uint8_t {
  kNone = 0,
  kMutex,
  kRwlockRead,
  kRwlockWrite,
  kCondition,  // a condition variable that is not the GIL's
  kJoin,
  kGil,        // asking for the GIL
  kFutex,      // a raw futex word (Rust std / parking_lot locks, absl...)
  kPyMutex,    // CPython 3.13's PyMutex, in its slow path (the thread detaches while parked)
};

const char* wait_kind_name(WaitKind kind);

class WaitGraph {
 public:
  static constexpr int kMaxNodes = 512;
  static constexpr int kMaxEdges = 2048;

  struct Node {
    uint32_t tid;
    WaitKind kind;
    bool holds_gil;
    uint64_t waited_ns;   // how long it has been blocked in this wait
    // Which GIL it holds (holds_gil) or waits for (kGil): 0 the main interpreter's, an
    // interpreter's address for one with its own GIL, kUnknownGil when a GIL wait could
    // not be told apart (then it is linked to no holder).
    uintptr_t gil = 0;
    // Its wait has a deadline (pthread_mutex_timedlock, pthread_rwlock_clockwrlock, ...):
    // it ends by itself, so a cycle through it is no deadlock. (The order it took is
    // still a lock-order edge: the inversion that the timeout papers over.)
    bool timed = false;
  };
  static constexpr uintptr_t kUnknownGil = ~uintptr_t(0);

  void clear() { node_count_ = edge_count_ = 0; }
  // Returns the node's index, or -1 when full.
  int add_node(const Node& node);
  // u waits for v. Duplicate edges are ignored; returns false when full.
  bool add_edge(int u, int v);

  int node_count() const { return node_count_; }
  const Node& node(int i) const { return nodes_[i]; }
  int find_node(uint32_t tid) const;
  // The one blocked thread that holds the GIL, or -1.
  int gil_holder(uintptr_t gil = 0) const;

  // Finds a cycle among nodes that have each been blocked for at least `min_waited_ns`
  // and wait without a deadline (a timed node is on no cycle).
  // Writes its node indices in wait order (cycle[i] waits for cycle[i+1], the last for
  // the first) and returns its length, or 0. A node waiting for itself (a thread
  // re-locking a mutex it holds) is a cycle of length 1. The smallest node index on a
  // cycle comes first, so the same cycle is reported the same way by every check.
  int find_cycle(uint64_t min_waited_ns, int* cycle, int max_length) const;

 private:
  Node nodes_[kMaxNodes];
  int node_count_ = 0;
  struct Edge {
    int16_t from, to;
  };
  Edge edges_[kMaxEdges];
  int edge_count_ = 0;
};

}  // namespace gilwatch
