// lock_graph: the lock-order graph, kept acyclic incrementally (Pearce–Kelly).
//
// Contract
// - Nodes are locks. A NodeHandle is (slot, generation): when a node is removed its slot
//   may be reused, with a higher generation, so a handle to the old node can never see
//   the new node's edges and a reused lock address never inherits old edges.
// - insert_edge(a, b) records "b was taken while a was held". If the edge would close a
//   cycle it is NOT inserted and kWouldCycle is returned; find_path(b, a) then yields
//   the existing path that, with a->b, forms the cycle. The graph therefore stays a DAG,
//   and each cycle is reported by the insertion that would have closed it.
// - An already-present edge costs one hash lookup (no graph search); a new edge whose
//   endpoints are already in topological order costs O(1); otherwise the search is
//   bounded by the affected region (Pearce–Kelly), not the whole graph.
// - No calls into malloc: all storage is mmap'd once at construction with fixed
//   capacities (MAP_NORESERVE, so untouched capacity costs no memory). When a capacity
//   is exhausted, new_node()/insert_edge() report kFull and overflowed() turns true.
// - Not thread-safe: the caller serializes every call (the preload library holds its
//   engine lock). Const members may not be called concurrently with mutators either.
// - Each edge carries a 32-bit payload chosen by the caller (the preload stores the index
//   of the edge's evidence record); it is set on insertion and read with edge_payload().
#pragma once

#include <cstddef>
#include <cstdint>

namespace gilwatch {

struct NodeHandle {
  uint32_t slot = 0;
  uint32_t generation = 0;  // 0 never names a live node
  bool valid() const { return generation != 0; }
  uint64_t packed() const { return (uint64_t(generation) << 32) | slot; }
  friend bool operator==(NodeHandle a, NodeHandle b) {
    return a.slot == b.slot && a.generation == b.generation;
  }
  friend bool operator!=(NodeHandle a, NodeHandle b) { return !(a == b); }
};

class LockGraph {
 public:
  struct Capacity {
    uint32_t max_nodes = 1u << 20;
    uint32_t max_edges = 1u << 22;
  };
  enum class InsertResult { kInserted, kAlreadyPresent, kWouldCycle, kStaleNode, kFull };

  explicit LockGraph(Capacity capacity);
  LockGraph() : LockGraph(Capacity{}) {}
  ~LockGraph();
  LockGraph(const LockGraph&) = delete;
  LockGraph& operator=(const LockGraph&) = delete;

  // False if the storage could not be mapped; every other call is then a no-op.
  bool ok() const;

  // A fresh node with no edges, or an invalid handle when full.
  NodeHandle new_node();
  // Removes the node and all edges into and out of it. Stale handles are ignored.
  // on_edge_removed (optional) is called with the payload of every edge removed, so the
  // caller can recycle what the payload names.
  using EdgeRemovedFn = void (*)(void* context, uint32_t payload);
  void remove_node(NodeHandle node, EdgeRemovedFn on_edge_removed = nullptr, void* context = nullptr);
  bool is_live(NodeHandle node) const;

  // Self-edges (a == b) are cycles of length one: kWouldCycle, find_path(a, a) == [a].
  InsertResult insert_edge(NodeHandle from, NodeHandle to, uint32_t payload);
  bool has_edge(NodeHandle from, NodeHandle to) const;
  // Payload of an existing edge; false if there is no such edge.
  bool edge_payload(NodeHandle from, NodeHandle to, uint32_t* payload) const;

  // Writes a path from -> ... -> to (both included) into out and returns its length;
  // 0 if `to` is not reachable from `from` or the path is longer than `capacity`.
  // Prefers short paths (breadth-first) so reported cycles are minimal.
  std::size_t find_path(NodeHandle from, NodeHandle to, NodeHandle* out, std::size_t capacity);

  std::size_t node_count() const;
  std::size_t edge_count() const;
  bool overflowed() const;

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace gilwatch
