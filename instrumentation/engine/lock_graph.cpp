// lock_graph: Pearce–Kelly incremental topological ordering over a fixed-capacity graph.
//
// Every node slot owns a rank; the ranks of all slots ever handed out form a permutation
// and, restricted to live nodes, a topological order (every edge goes from a lower rank
// to a higher one). Inserting x->y with rank[x] < rank[y] therefore cannot close a cycle
// and costs O(1). Otherwise only nodes ranked between y and x can lie on a path y ~> x:
// a forward search from y (ranks below rank[x]) either reaches x, which is a cycle, or
// yields the set F; a backward search from x (ranks above rank[y]) yields B. Giving B
// the smallest of the ranks held by B and F and F the rest, each side keeping its
// relative order, restores the invariant with only the affected region touched.
//
// Storage is a single anonymous mapping made in the constructor: the Impl header, the
// node slots, the edge pool, the edge hash and the search scratch. Nothing is allocated
// afterwards and nothing recurses, so the graph is safe inside the process under test
// and on arbitrarily deep graphs.
#include "lock_graph.h"

#include <algorithm>
#include <new>

#include "mapped_memory.h"

namespace gilwatch {

namespace {

constexpr uint32_t kNoSlot = 0xffffffffu;  // end of a slot list
constexpr uint32_t kNoEdge = 0;            // edge index 0 is never handed out

// Larger capacities would overflow the 32-bit indexes (and no process has that many
// locks); such a graph reports !ok() rather than misbehaving.
constexpr uint32_t kMaxCapacity = 1u << 30;

// The hash starts small and doubles as edges arrive: a hash spreads even a handful of
// entries over every page of its table, so sizing it for the capacity up front would make
// the whole reservation resident. Growth stays inside the one reserved mapping.
constexpr std::size_t kInitialHashSize = 1024;

struct Node {
  uint32_t generation;  // of the current occupant, or of the next one while the slot is free
  uint32_t rank;        // position in the topological order; unique across all slots
  uint32_t out_head;    // first edge leaving this node
  uint32_t in_head;     // first edge entering this node
  uint32_t stamp;       // == Impl::epoch when visited by the current search
  uint32_t next_free;   // free-slot list link while the slot is free
  uint32_t bfs_parent;  // predecessor on the shortest path during find_path
  uint32_t live;
};

// An edge sits on two intrusive doubly-linked lists: its source's out-list and its
// target's in-list, so removing a node unlinks each of its edges in O(1).
struct Edge {
  uint32_t from;  // slot, or kNoSlot while the record is on the free list
  uint32_t to;
  uint32_t payload;
  uint32_t next_out, prev_out;  // next_out doubles as the free-list link
  uint32_t next_in, prev_in;
};

// Open addressing with linear probing and backward-shift deletion: no tombstones, so
// lookups stay short no matter how many edges come and go.
struct HashEntry {
  uint64_t key;   // from slot << 32 | to slot
  uint32_t edge;  // kNoEdge marks an empty entry
  uint32_t unused;
};

std::size_t align_up(std::size_t n) { return (n + 63) & ~std::size_t(63); }

uint64_t edge_key(uint32_t from, uint32_t to) { return (uint64_t(from) << 32) | to; }

}  // namespace

struct LockGraph::Impl {
  std::size_t mapping_bytes;
  uint32_t max_nodes;
  uint32_t max_edges;

  Node* nodes;
  uint32_t slots_used;  // slots [0, slots_used) have been handed out at least once
  uint32_t free_slots;  // head of the free-slot list
  uint32_t live_nodes;

  Edge* edges;         // indexes 1..max_edges
  uint32_t edges_used;  // records [1, edges_used] have been handed out at least once
  uint32_t free_edges;  // head of the free-edge list
  uint32_t live_edges;

  // Edge hash keyed by (from slot, to slot). Keying by slot is as precise as keying by
  // handle: every caller checks the handles' generations first, and a node's edges leave
  // the hash when the node is removed, so an entry always belongs to the slots' current
  // occupants.
  HashEntry* hash;
  std::size_t hash_mask;      // size in use - 1 (a power of two)
  std::size_t hash_reserved;  // entries mapped; the table may grow up to this

  // Search scratch, each with room for every node; no search visits a node twice.
  uint32_t* stack;     // DFS stack; BFS queue in find_path
  uint32_t* forward;   // F: reached from y, ranked below x
  uint32_t* backward;  // B: reaching x, ranked above y
  uint32_t* ranks;     // the ranks of B and F, merged in ascending order
  uint32_t epoch;

  bool overflowed;

  bool live(NodeHandle h) const {
    return h.generation != 0 && h.slot < slots_used && nodes[h.slot].live &&
           nodes[h.slot].generation == h.generation;
  }

  // --- searches -------------------------------------------------------------------

  // A fresh mark for one search; stamps from older searches never equal it.
  uint32_t next_epoch() {
    if (++epoch == 0) {
      for (uint32_t i = 0; i < slots_used; ++i) nodes[i].stamp = 0;
      epoch = 1;
    }
    return epoch;
  }

  // Collects into `forward` every node reachable from y whose rank is below `bound`
  // (the rank of x). Returns false if x itself is reachable: the edge would close a cycle.
  bool search_forward(uint32_t y, uint32_t bound, uint32_t mark, uint32_t* count) {
    uint32_t depth = 0, found = 0;
    nodes[y].stamp = mark;
    stack[depth++] = y;
    while (depth) {
      uint32_t n = stack[--depth];
      forward[found++] = n;
      for (uint32_t e = nodes[n].out_head; e != kNoEdge; e = edges[e].next_out) {
        Node& w = nodes[edges[e].to];
        if (w.rank == bound) return false;
        if (w.stamp != mark && w.rank < bound) {
          w.stamp = mark;
          stack[depth++] = edges[e].to;
        }
      }
    }
    *count = found;
    return true;
  }

  // Collects into `backward` every node that reaches x and is ranked above `bound` (the
  // rank of y). Runs only after search_forward found no cycle, so the two sets are
  // disjoint and may share one mark.
  uint32_t search_backward(uint32_t x, uint32_t bound, uint32_t mark) {
    uint32_t depth = 0, found = 0;
    nodes[x].stamp = mark;
    stack[depth++] = x;
    while (depth) {
      uint32_t n = stack[--depth];
      backward[found++] = n;
      for (uint32_t e = nodes[n].in_head; e != kNoEdge; e = edges[e].next_in) {
        Node& w = nodes[edges[e].from];
        if (w.stamp != mark && w.rank > bound) {
          w.stamp = mark;
          stack[depth++] = edges[e].from;
        }
      }
    }
    return found;
  }

  // B must precede F. Both keep their internal order; together they reuse exactly the
  // ranks they held, so no node outside the region moves.
  void reorder(uint32_t f_count, uint32_t b_count) {
    auto by_rank = [this](uint32_t a, uint32_t b) { return nodes[a].rank < nodes[b].rank; };
    std::sort(forward, forward + f_count, by_rank);
    std::sort(backward, backward + b_count, by_rank);
    uint32_t i = 0, j = 0, k = 0;
    while (i < b_count && j < f_count) {
      uint32_t rb = nodes[backward[i]].rank, rf = nodes[forward[j]].rank;
      if (rb < rf) {
        ranks[k++] = rb;
        ++i;
      } else {
        ranks[k++] = rf;
        ++j;
      }
    }
    while (i < b_count) ranks[k++] = nodes[backward[i++]].rank;
    while (j < f_count) ranks[k++] = nodes[forward[j++]].rank;
    for (i = 0; i < b_count; ++i) nodes[backward[i]].rank = ranks[i];
    for (j = 0; j < f_count; ++j) nodes[forward[j]].rank = ranks[b_count + j];
  }

  // --- edge hash --------------------------------------------------------------------

  std::size_t home(uint64_t key) const { return static_cast<std::size_t>(mix64(key)) & hash_mask; }

  uint32_t find_edge(uint32_t from, uint32_t to) const {
    uint64_t key = edge_key(from, to);
    for (std::size_t i = home(key);; i = (i + 1) & hash_mask) {
      const HashEntry& h = hash[i];
      if (h.edge == kNoEdge) return kNoEdge;
      if (h.key == key) return h.edge;
    }
  }

  void hash_put(uint64_t key, uint32_t edge) {
    std::size_t i = home(key);
    while (hash[i].edge != kNoEdge) i = (i + 1) & hash_mask;
    hash[i].key = key;
    hash[i].edge = edge;
  }

  // Keeps the load at or below one half. The table never needs more than hash_reserved
  // entries because live edges never exceed max_edges.
  void grow_hash_if_needed() {
    std::size_t size = hash_mask + 1;
    if ((std::size_t(live_edges) + 1) * 2 <= size || size >= hash_reserved) return;
    size = std::min(size * 2, hash_reserved);
    hash_mask = size - 1;
    for (std::size_t i = 0; i < size; ++i) hash[i] = HashEntry{};
    for (uint32_t e = 1; e <= edges_used; ++e)
      if (edges[e].from != kNoSlot) hash_put(edge_key(edges[e].from, edges[e].to), e);
  }

  void hash_erase(uint32_t from, uint32_t to) {
    uint64_t key = edge_key(from, to);
    std::size_t i = home(key);
    for (;; i = (i + 1) & hash_mask) {
      if (hash[i].edge == kNoEdge) return;
      if (hash[i].key == key) break;
    }
    // Backward shift: pull later members of the probe run into the hole unless that
    // would move one before its home position.
    std::size_t hole = i;
    for (std::size_t j = (hole + 1) & hash_mask; hash[j].edge != kNoEdge; j = (j + 1) & hash_mask) {
      std::size_t h = home(hash[j].key);
      bool home_in_run = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
      if (!home_in_run) {
        hash[hole] = hash[j];
        hole = j;
      }
    }
    hash[hole] = HashEntry{};
  }

  // --- edge records -----------------------------------------------------------------

  bool edge_available() const { return free_edges != kNoEdge || edges_used < max_edges; }

  void add_edge(uint32_t from, uint32_t to, uint32_t payload) {
    // Grow first: the rehash walks the edge records and must not meet a half-built one.
    grow_hash_if_needed();
    uint32_t e;
    if (free_edges != kNoEdge) {
      e = free_edges;
      free_edges = edges[e].next_out;
    } else {
      e = ++edges_used;
    }
    Edge& r = edges[e];
    r.from = from;
    r.to = to;
    r.payload = payload;
    r.prev_out = kNoEdge;
    r.next_out = nodes[from].out_head;
    if (r.next_out != kNoEdge) edges[r.next_out].prev_out = e;
    nodes[from].out_head = e;
    r.prev_in = kNoEdge;
    r.next_in = nodes[to].in_head;
    if (r.next_in != kNoEdge) edges[r.next_in].prev_in = e;
    nodes[to].in_head = e;
    hash_put(edge_key(from, to), e);
    ++live_edges;
  }

  void drop_edge(uint32_t e) {
    Edge& r = edges[e];
    if (r.prev_out != kNoEdge) edges[r.prev_out].next_out = r.next_out;
    else nodes[r.from].out_head = r.next_out;
    if (r.next_out != kNoEdge) edges[r.next_out].prev_out = r.prev_out;
    if (r.prev_in != kNoEdge) edges[r.prev_in].next_in = r.next_in;
    else nodes[r.to].in_head = r.next_in;
    if (r.next_in != kNoEdge) edges[r.next_in].prev_in = r.prev_in;
    hash_erase(r.from, r.to);
    r.from = r.to = kNoSlot;
    r.next_out = free_edges;
    free_edges = e;
    --live_edges;
  }
};

LockGraph::LockGraph(Capacity capacity) : impl_(nullptr) {
  if (capacity.max_nodes > kMaxCapacity || capacity.max_edges > kMaxCapacity) return;
  std::size_t nodes = capacity.max_nodes, edges = capacity.max_edges;
  std::size_t hash_entries = kInitialHashSize;
  while (hash_entries < 2 * edges) hash_entries *= 2;

  // One mapping, carved into 64-byte aligned regions.
  std::size_t off_nodes = align_up(sizeof(Impl));
  std::size_t off_edges = off_nodes + align_up(nodes * sizeof(Node));
  std::size_t off_hash = off_edges + align_up((edges + 1) * sizeof(Edge));
  std::size_t off_scratch = off_hash + align_up(hash_entries * sizeof(HashEntry));
  std::size_t scratch = align_up(nodes * sizeof(uint32_t));
  std::size_t total = off_scratch + 4 * scratch;

  char* base = static_cast<char*>(map_zeroed(total));
  if (!base) return;
  // Placement new constructs the header inside the mapping; nothing is allocated.
  Impl* g = new (base) Impl{};
  g->mapping_bytes = total;
  g->max_nodes = capacity.max_nodes;
  g->max_edges = capacity.max_edges;
  g->nodes = reinterpret_cast<Node*>(base + off_nodes);
  g->slots_used = 0;
  g->free_slots = kNoSlot;
  g->live_nodes = 0;
  g->edges = reinterpret_cast<Edge*>(base + off_edges);
  g->edges_used = 0;
  g->free_edges = kNoEdge;
  g->live_edges = 0;
  g->hash = reinterpret_cast<HashEntry*>(base + off_hash);
  g->hash_mask = std::min(kInitialHashSize, hash_entries) - 1;
  g->hash_reserved = hash_entries;
  g->stack = reinterpret_cast<uint32_t*>(base + off_scratch);
  g->forward = reinterpret_cast<uint32_t*>(base + off_scratch + scratch);
  g->backward = reinterpret_cast<uint32_t*>(base + off_scratch + 2 * scratch);
  g->ranks = reinterpret_cast<uint32_t*>(base + off_scratch + 3 * scratch);
  g->epoch = 0;
  g->overflowed = false;
  impl_ = g;
}

LockGraph::~LockGraph() {
  if (!impl_) return;
  std::size_t bytes = impl_->mapping_bytes;
  impl_->~Impl();
  unmap(impl_, bytes);
}

bool LockGraph::ok() const { return impl_ != nullptr; }

NodeHandle LockGraph::new_node() {
  Impl* g = impl_;
  if (!g) return {};
  uint32_t slot;
  if (g->free_slots != kNoSlot) {
    slot = g->free_slots;
    g->free_slots = g->nodes[slot].next_free;
  } else if (g->slots_used < g->max_nodes) {
    // A never-used slot: its rank is its index, which keeps all ranks distinct. A reused
    // slot keeps its rank; with no edges, any rank is consistent.
    slot = g->slots_used++;
    g->nodes[slot].generation = 1;
    g->nodes[slot].rank = slot;
  } else {
    g->overflowed = true;
    return {};
  }
  Node& n = g->nodes[slot];
  n.out_head = n.in_head = kNoEdge;
  n.next_free = kNoSlot;
  n.live = 1;
  ++g->live_nodes;
  return NodeHandle{slot, n.generation};
}

void LockGraph::remove_node(NodeHandle node, EdgeRemovedFn on_edge_removed, void* context) {
  Impl* g = impl_;
  if (!g || !g->live(node)) return;
  Node& n = g->nodes[node.slot];
  // Each callback runs after its edge is gone, so the graph is consistent at that point.
  for (uint32_t* head : {&n.out_head, &n.in_head}) {
    while (*head != kNoEdge) {
      uint32_t payload = g->edges[*head].payload;
      g->drop_edge(*head);
      if (on_edge_removed) on_edge_removed(context, payload);
    }
  }
  n.live = 0;
  // Retire the handle; 0 never names a node, so skip it when the counter wraps.
  if (++n.generation == 0) n.generation = 1;
  n.next_free = g->free_slots;
  g->free_slots = node.slot;
  --g->live_nodes;
}

bool LockGraph::is_live(NodeHandle node) const { return impl_ && impl_->live(node); }

LockGraph::InsertResult LockGraph::insert_edge(NodeHandle from, NodeHandle to, uint32_t payload) {
  Impl* g = impl_;
  if (!g) return InsertResult::kFull;
  if (!g->live(from) || !g->live(to)) return InsertResult::kStaleNode;
  if (from.slot == to.slot) return InsertResult::kWouldCycle;
  if (g->find_edge(from.slot, to.slot) != kNoEdge) return InsertResult::kAlreadyPresent;

  uint32_t x = from.slot, y = to.slot;
  uint32_t rank_x = g->nodes[x].rank, rank_y = g->nodes[y].rank;
  if (rank_x > rank_y) {
    // A cycle needs no storage to report, so the search runs even when the pool is
    // exhausted: a full graph still recognizes the inversions it can see.
    uint32_t mark = g->next_epoch();
    uint32_t f_count = 0;
    if (!g->search_forward(y, rank_x, mark, &f_count)) return InsertResult::kWouldCycle;
    if (!g->edge_available()) {
      g->overflowed = true;
      return InsertResult::kFull;
    }
    uint32_t b_count = g->search_backward(x, rank_y, mark);
    g->reorder(f_count, b_count);
  } else if (!g->edge_available()) {
    g->overflowed = true;
    return InsertResult::kFull;
  }
  g->add_edge(x, y, payload);
  return InsertResult::kInserted;
}

bool LockGraph::has_edge(NodeHandle from, NodeHandle to) const {
  const Impl* g = impl_;
  return g && g->live(from) && g->live(to) && g->find_edge(from.slot, to.slot) != kNoEdge;
}

bool LockGraph::edge_payload(NodeHandle from, NodeHandle to, uint32_t* payload) const {
  const Impl* g = impl_;
  if (!g || !g->live(from) || !g->live(to)) return false;
  uint32_t e = g->find_edge(from.slot, to.slot);
  if (e == kNoEdge) return false;
  if (payload) *payload = g->edges[e].payload;
  return true;
}

std::size_t LockGraph::find_path(NodeHandle from, NodeHandle to, NodeHandle* out,
                                 std::size_t capacity) {
  Impl* g = impl_;
  if (!g || !out || capacity == 0 || !g->live(from) || !g->live(to)) return 0;
  if (from == to) {
    out[0] = from;
    return 1;
  }
  // Every node on a path from -> to is ranked between the two, so a target ranked below
  // the source is unreachable and nodes ranked above the target need no visit.
  uint32_t target_rank = g->nodes[to.slot].rank;
  if (g->nodes[from.slot].rank > target_rank) return 0;

  // Breadth-first, one level at a time, so the first arrival is a shortest path and the
  // search stops once paths would exceed `capacity` nodes.
  uint32_t mark = g->next_epoch();
  uint32_t* queue = g->stack;
  uint32_t head = 0, tail = 0;
  g->nodes[from.slot].stamp = mark;
  queue[tail++] = from.slot;
  bool found = false;
  for (std::size_t length = 1; !found && head < tail && length < capacity; ++length) {
    uint32_t level_end = tail;  // nodes at distance `length` (counted in nodes)
    while (!found && head < level_end) {
      uint32_t n = queue[head++];
      for (uint32_t e = g->nodes[n].out_head; e != kNoEdge; e = g->edges[e].next_out) {
        uint32_t w = g->edges[e].to;
        Node& wn = g->nodes[w];
        if (wn.stamp == mark || wn.rank > target_rank) continue;
        wn.stamp = mark;
        wn.bfs_parent = n;
        if (w == to.slot) {
          found = true;
          break;
        }
        queue[tail++] = w;
      }
    }
  }
  if (!found) return 0;

  std::size_t length = 1;
  for (uint32_t n = to.slot; n != from.slot; n = g->nodes[n].bfs_parent) ++length;
  std::size_t i = length;
  for (uint32_t n = to.slot;; n = g->nodes[n].bfs_parent) {
    out[--i] = NodeHandle{n, g->nodes[n].generation};
    if (n == from.slot) break;
  }
  return length;
}

std::size_t LockGraph::node_count() const { return impl_ ? impl_->live_nodes : 0; }

std::size_t LockGraph::edge_count() const { return impl_ ? impl_->live_edges : 0; }

bool LockGraph::overflowed() const { return impl_ && impl_->overflowed; }

}  // namespace gilwatch
