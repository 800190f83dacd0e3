#include "wait_graph.h"

namespace gilwatch {

const char* wait_kind_name(WaitKind kind) {
  switch (kind) {
    case WaitKind::kNone: return "none";
    case WaitKind::kMutex: return "mutex";
    case WaitKind::kRwlockRead: return "rwlock-read";
    case WaitKind::kRwlockWrite: return "rwlock-write";
    case WaitKind::kCondition: return "condition";
    case WaitKind::kJoin: return "join";
    case WaitKind::kGil: return "gil";
    case WaitKind::kFutex: return "futex";
    case WaitKind::kPyMutex: return "pymutex";
  }
  return "unknown";
}

int WaitGraph::add_node(const Node& node) {
  if (node_count_ == kMaxNodes) return -1;
  nodes_[node_count_] = node;
  return node_count_++;
}

bool WaitGraph::add_edge(int u, int v) {
  if (u < 0 || v < 0 || u >= node_count_ || v >= node_count_) return false;
  for (int i = 0; i < edge_count_; ++i)
    if (edges_[i].from == u && edges_[i].to == v) return true;
  if (edge_count_ == kMaxEdges) return false;
  edges_[edge_count_++] = Edge{int16_t(u), int16_t(v)};
  return true;
}

int WaitGraph::find_node(uint32_t tid) const {
  for (int i = 0; i < node_count_; ++i)
    if (nodes_[i].tid == tid) return i;
  return -1;
}

int WaitGraph::gil_holder(uintptr_t gil) const {
  if (gil == kUnknownGil) return -1;
  for (int i = 0; i < node_count_; ++i)
    if (nodes_[i].holds_gil && nodes_[i].gil == gil) return i;
  return -1;
}

int WaitGraph::find_cycle(uint64_t min_waited_ns, int* cycle, int max_length) const {
  // Iterative DFS from each eligible start node, in index order; a back edge to the
  // start closes a cycle whose smallest index is the start (earlier starts were fully
  // explored without finding one through them).
  auto eligible = [&](int i) { return !nodes_[i].timed && nodes_[i].waited_ns >= min_waited_ns; };
  int path[kMaxNodes];
  int next_edge[kMaxNodes];
  bool visited[kMaxNodes];
  for (int start = 0; start < node_count_; ++start) {
    if (!eligible(start)) continue;
    for (int i = 0; i < node_count_; ++i) visited[i] = false;
    int depth = 0;
    path[0] = start;
    next_edge[0] = 0;
    visited[start] = true;
    while (depth >= 0) {
      int u = path[depth];
      bool advanced = false;
      for (int e = next_edge[depth]; e < edge_count_; ++e) {
        if (edges_[e].from != u) continue;
        int v = edges_[e].to;
        next_edge[depth] = e + 1;
        if (v == start) {
          int length = depth + 1;
          if (length > max_length) continue;
          for (int i = 0; i < length; ++i) cycle[i] = path[i];
          return length;
        }
        if (v < start || visited[v] || !eligible(v) || depth + 1 >= kMaxNodes) continue;
        visited[v] = true;
        path[++depth] = v;
        next_edge[depth] = 0;
        advanced = true;
        break;
      }
      if (!advanced) --depth;
    }
  }
  return 0;
}

}  // namespace gilwatch
