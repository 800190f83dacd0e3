// LockGraph against a naive model, plus the cases the detector depends on: inversions of
// two and three locks, slot reuse, very deep graphs, long-running churn and exhaustion.
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <deque>
#include <random>
#include <tuple>
#include <vector>

#include "lock_graph.h"

namespace {

using gilwatch::LockGraph;
using gilwatch::NodeHandle;
using Result = LockGraph::InsertResult;

// The obvious implementation: an adjacency matrix over positions, reachability by
// breadth-first search. Positions are the model's own and unrelated to graph slots.
class NaiveGraph {
 public:
  explicit NaiveGraph(int max_nodes)
      : max_nodes_(max_nodes),
        handles_(max_nodes),
        live_(max_nodes, false),
        edge_(max_nodes * max_nodes, false),
        payload_(max_nodes * max_nodes, 0) {}

  int live_count() const { return live_count_; }
  int edge_count() const { return edge_count_; }
  int max_nodes() const { return max_nodes_; }

  // Position of a live handle, or -1.
  int find(NodeHandle h) const {
    for (int i = 0; i < max_nodes_; ++i)
      if (live_[i] && handles_[i] == h) return i;
    return -1;
  }
  int add(NodeHandle h) {
    for (int i = 0; i < max_nodes_; ++i) {
      if (!live_[i]) {
        live_[i] = true;
        handles_[i] = h;
        ++live_count_;
        return i;
      }
    }
    return -1;
  }
  void remove(int p) {
    for (int i = 0; i < max_nodes_; ++i) {
      if (edge_[at(p, i)]) set_edge(p, i, false);
      if (edge_[at(i, p)]) set_edge(i, p, false);
    }
    live_[p] = false;
    --live_count_;
  }
  bool live(int p) const { return live_[p]; }
  NodeHandle handle(int p) const { return handles_[p]; }
  bool has_edge(int a, int b) const { return edge_[at(a, b)]; }
  uint32_t payload(int a, int b) const { return payload_[at(a, b)]; }
  void add_edge(int a, int b, uint32_t payload) {
    set_edge(a, b, true);
    payload_[at(a, b)] = payload;
  }

  // Number of nodes on a shortest path a -> ... -> b (1 when a == b), 0 if none.
  int shortest_path(int a, int b) const {
    if (a == b) return 1;
    std::vector<int> dist(max_nodes_, 0);
    std::deque<int> queue{a};
    dist[a] = 1;
    while (!queue.empty()) {
      int n = queue.front();
      queue.pop_front();
      for (int w = 0; w < max_nodes_; ++w) {
        if (!edge_[at(n, w)] || dist[w]) continue;
        dist[w] = dist[n] + 1;
        if (w == b) return dist[w];
        queue.push_back(w);
      }
    }
    return 0;
  }

 private:
  int at(int a, int b) const { return a * max_nodes_ + b; }
  void set_edge(int a, int b, bool on) {
    edge_count_ += on ? 1 : -1;
    edge_[at(a, b)] = on;
  }

  int max_nodes_;
  std::vector<NodeHandle> handles_;
  std::vector<bool> live_;
  std::vector<bool> edge_;
  std::vector<uint32_t> payload_;
  int live_count_ = 0;
  int edge_count_ = 0;
};

// A path returned by LockGraph::find_path is real if it starts and ends where asked and
// every step is an edge the model knows.
bool is_model_path(const NaiveGraph& model, const std::vector<NodeHandle>& path,
                   NodeHandle from, NodeHandle to) {
  if (path.empty() || path.front() != from || path.back() != to) return false;
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    int a = model.find(path[i]), b = model.find(path[i + 1]);
    if (a < 0 || b < 0 || !model.has_edge(a, b)) return false;
  }
  return true;
}

std::vector<NodeHandle> path_of(LockGraph& g, NodeHandle from, NodeHandle to,
                                std::size_t capacity) {
  std::vector<NodeHandle> out(capacity);
  out.resize(g.find_path(from, to, out.data(), capacity));
  return out;
}

std::size_t resident_bytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return std::size_t(resident) * std::size_t(sysconf(_SC_PAGESIZE));
}

}  // namespace

TEST_CASE("LockGraph agrees with a naive reachability model under random operations",
          "[lock_graph]") {
  // (seed, node capacity, edge capacity): generous edge pools check ordering and cycle
  // detection; tight ones make kFull part of the expected behaviour.
  auto [seed, max_nodes, max_edges] = GENERATE(table<uint32_t, int, int>({
      {1, 8, 64},
      {2, 16, 256},
      {3, 40, 1600},
      {4, 40, 40},
      {5, 12, 10},
      {6, 24, 600},
      {7, 40, 800},
  }));
  CAPTURE(seed, max_nodes, max_edges);

  LockGraph graph(LockGraph::Capacity{uint32_t(max_nodes), uint32_t(max_edges)});
  REQUIRE(graph.ok());
  NaiveGraph model(max_nodes);
  std::vector<NodeHandle> retired;  // handles of removed nodes, to probe staleness
  std::mt19937 rng(seed);
  auto chance = [&](int percent) { return int(rng() % 100) < percent; };
  // Mostly live handles; now and then a retired one.
  auto pick = [&]() -> NodeHandle {
    if (!retired.empty() && chance(5)) return retired[rng() % retired.size()];
    if (model.live_count() == 0) return NodeHandle{};
    for (;;) {
      int p = int(rng() % model.max_nodes());
      if (model.live(p)) return model.handle(p);
    }
  };
  bool expect_overflow = false;
  int cycles = 0, inserted = 0, full = 0, paths = 0;

  for (int step = 0; step < 6000; ++step) {
    CAPTURE(step);
    int op = int(rng() % 100);
    if (op < 12 || model.live_count() < 2) {
      NodeHandle h = graph.new_node();
      if (model.live_count() == max_nodes) {
        REQUIRE_FALSE(h.valid());
        expect_overflow = true;
      } else {
        REQUIRE(h.valid());
        REQUIRE(graph.is_live(h));
        REQUIRE(model.find(h) < 0);
        model.add(h);
      }
    } else if (op < 20) {
      NodeHandle h = pick();
      int p = model.find(h);
      graph.remove_node(h);  // a retired handle must be ignored
      if (p >= 0) {
        model.remove(p);
        retired.push_back(h);
      }
      REQUIRE_FALSE(graph.is_live(h));
    } else if (op < 65) {
      NodeHandle from = pick(), to = chance(3) ? from : pick();
      int a = model.find(from), b = model.find(to);
      uint32_t payload = rng();
      Result r = graph.insert_edge(from, to, payload);
      if (a < 0 || b < 0) {
        REQUIRE(r == Result::kStaleNode);
      } else if (model.has_edge(a, b)) {
        REQUIRE(r == Result::kAlreadyPresent);
      } else if (int back = model.shortest_path(b, a)) {
        // The graph reports exactly the cycles the model sees, leaves the edge out and
        // shows the shortest existing path to -> from.
        REQUIRE(r == Result::kWouldCycle);
        REQUIRE_FALSE(graph.has_edge(from, to));
        std::vector<NodeHandle> path = path_of(graph, to, from, max_nodes);
        REQUIRE(int(path.size()) == back);
        REQUIRE(is_model_path(model, path, to, from));
        ++cycles;
      } else if (model.edge_count() == max_edges) {
        REQUIRE(r == Result::kFull);
        REQUIRE_FALSE(graph.has_edge(from, to));
        expect_overflow = true;
        ++full;
      } else {
        REQUIRE(r == Result::kInserted);
        model.add_edge(a, b, payload);
        ++inserted;
      }
    } else if (op < 80) {
      NodeHandle from = pick(), to = pick();
      int a = model.find(from), b = model.find(to);
      bool expected = a >= 0 && b >= 0 && model.has_edge(a, b);
      REQUIRE(graph.has_edge(from, to) == expected);
      uint32_t payload = 0;
      REQUIRE(graph.edge_payload(from, to, &payload) == expected);
      if (expected) REQUIRE(payload == model.payload(a, b));
    } else {
      NodeHandle from = pick(), to = pick();
      int a = model.find(from), b = model.find(to);
      std::size_t capacity = 1 + rng() % (max_nodes + 1);
      int shortest = a >= 0 && b >= 0 ? model.shortest_path(a, b) : 0;
      std::vector<NodeHandle> path = path_of(graph, from, to, capacity);
      if (shortest == 0 || std::size_t(shortest) > capacity) {
        REQUIRE(path.empty());
      } else {
        REQUIRE(int(path.size()) == shortest);
        REQUIRE(is_model_path(model, path, from, to));
        ++paths;
      }
    }
    REQUIRE(graph.node_count() == std::size_t(model.live_count()));
    REQUIRE(graph.edge_count() == std::size_t(model.edge_count()));
    REQUIRE(graph.overflowed() == expect_overflow);
  }
  // The run must actually have exercised the interesting outcomes.
  CHECK(cycles > 20);
  CHECK(inserted > 20);
  CHECK(paths > 20);
  if (max_edges < max_nodes) CHECK(full > 0);
}

TEST_CASE("Two locks taken in opposite orders (ABBA) close a cycle", "[lock_graph]") {
  LockGraph graph;
  REQUIRE(graph.ok());
  NodeHandle a = graph.new_node(), b = graph.new_node();
  REQUIRE(graph.insert_edge(a, b, 7) == Result::kInserted);
  REQUIRE(graph.insert_edge(b, a, 8) == Result::kWouldCycle);
  REQUIRE_FALSE(graph.has_edge(b, a));
  REQUIRE(graph.edge_count() == 1);
  // The cycle is b->a (refused) plus the recorded path a->b.
  NodeHandle path[4];
  REQUIRE(graph.find_path(a, b, path, 4) == 2);
  REQUIRE(path[0] == a);
  REQUIRE(path[1] == b);
  uint32_t payload = 0;
  REQUIRE(graph.edge_payload(a, b, &payload));
  REQUIRE(payload == 7);
  REQUIRE_FALSE(graph.overflowed());
}

TEST_CASE("Three locks taken around a circle report the whole cycle", "[lock_graph]") {
  LockGraph graph;
  NodeHandle a = graph.new_node(), b = graph.new_node(), c = graph.new_node();
  REQUIRE(graph.insert_edge(a, b, 1) == Result::kInserted);
  REQUIRE(graph.insert_edge(b, c, 2) == Result::kInserted);
  REQUIRE(graph.insert_edge(c, a, 3) == Result::kWouldCycle);
  NodeHandle path[3];
  REQUIRE(graph.find_path(a, c, path, 3) == 3);
  REQUIRE(path[0] == a);
  REQUIRE(path[1] == b);
  REQUIRE(path[2] == c);
  SECTION("a path that does not fit the caller's buffer is not reported") {
    REQUIRE(graph.find_path(a, c, path, 2) == 0);
  }
  SECTION("a shortcut makes the reported cycle the shortest one") {
    REQUIRE(graph.insert_edge(a, c, 4) == Result::kInserted);
    REQUIRE(graph.find_path(a, c, path, 3) == 2);
    REQUIRE(path[0] == a);
    REQUIRE(path[1] == c);
    REQUIRE(graph.find_path(a, c, path, 2) == 2);
  }
}

TEST_CASE("Edges inserted against the current order are reordered, not refused",
          "[lock_graph]") {
  // Creation order gives a < b < c < d; every edge below runs against it.
  LockGraph graph;
  NodeHandle a = graph.new_node(), b = graph.new_node(), c = graph.new_node(),
             d = graph.new_node();
  REQUIRE(graph.insert_edge(d, c, 0) == Result::kInserted);
  REQUIRE(graph.insert_edge(c, b, 0) == Result::kInserted);
  REQUIRE(graph.insert_edge(b, a, 0) == Result::kInserted);
  REQUIRE(graph.insert_edge(d, a, 0) == Result::kInserted);
  REQUIRE(graph.insert_edge(a, d, 0) == Result::kWouldCycle);
  REQUIRE(graph.insert_edge(a, c, 0) == Result::kWouldCycle);
  REQUIRE(graph.insert_edge(b, d, 0) == Result::kWouldCycle);
  NodeHandle path[4];
  REQUIRE(graph.find_path(d, a, path, 4) == 2);
  REQUIRE(graph.find_path(c, a, path, 4) == 3);
  REQUIRE(graph.find_path(a, d, path, 4) == 0);
}

TEST_CASE("A self edge is a cycle of one lock", "[lock_graph]") {
  LockGraph graph;
  NodeHandle a = graph.new_node();
  REQUIRE(graph.insert_edge(a, a, 0) == Result::kWouldCycle);
  REQUIRE_FALSE(graph.has_edge(a, a));
  NodeHandle path[2];
  REQUIRE(graph.find_path(a, a, path, 2) == 1);
  REQUIRE(path[0] == a);
  REQUIRE(graph.edge_count() == 0);
}

TEST_CASE("An edge that is already present keeps its first payload", "[lock_graph]") {
  LockGraph graph;
  NodeHandle a = graph.new_node(), b = graph.new_node();
  REQUIRE(graph.insert_edge(b, a, 11) == Result::kInserted);
  REQUIRE(graph.insert_edge(b, a, 12) == Result::kAlreadyPresent);
  uint32_t payload = 0;
  REQUIRE(graph.edge_payload(b, a, &payload));
  REQUIRE(payload == 11);
  REQUIRE_FALSE(graph.edge_payload(a, b, &payload));
  REQUIRE(graph.edge_count() == 1);
}

TEST_CASE("A reused slot starts without the old node's edges and the old handle is stale",
          "[lock_graph]") {
  // Three slots only, so the fourth node must reuse the removed node's slot.
  LockGraph graph(LockGraph::Capacity{3, 16});
  NodeHandle a = graph.new_node(), b = graph.new_node(), c = graph.new_node();
  REQUIRE(graph.insert_edge(a, b, 1) == Result::kInserted);
  REQUIRE(graph.insert_edge(b, c, 2) == Result::kInserted);
  graph.remove_node(b);
  REQUIRE(graph.node_count() == 2);
  REQUIRE(graph.edge_count() == 0);

  NodeHandle d = graph.new_node();
  REQUIRE(d.valid());
  REQUIRE(d.slot == b.slot);
  REQUIRE(d.generation != b.generation);
  REQUIRE(graph.is_live(d));
  REQUIRE_FALSE(graph.is_live(b));
  REQUIRE_FALSE(graph.has_edge(a, d));
  REQUIRE_FALSE(graph.has_edge(d, c));
  REQUIRE_FALSE(graph.has_edge(a, b));
  REQUIRE(graph.insert_edge(a, b, 3) == Result::kStaleNode);
  REQUIRE(graph.insert_edge(b, c, 3) == Result::kStaleNode);
  NodeHandle path[3];
  REQUIRE(graph.find_path(a, c, path, 3) == 0);  // the path ran through b
  REQUIRE(graph.find_path(b, b, path, 3) == 0);
  // The old order a < b < c no longer binds anything.
  REQUIRE(graph.insert_edge(c, a, 4) == Result::kInserted);
  REQUIRE(graph.insert_edge(d, c, 5) == Result::kInserted);
  REQUIRE(graph.insert_edge(a, d, 6) == Result::kWouldCycle);
  graph.remove_node(b);  // removing a stale handle changes nothing
  REQUIRE(graph.node_count() == 3);
  REQUIRE(graph.edge_count() == 2);
  REQUIRE(graph.is_live(d));
}

TEST_CASE("Removing a node hands the payload of each of its edges to the callback",
          "[lock_graph]") {
  LockGraph graph;
  NodeHandle a = graph.new_node(), b = graph.new_node(), c = graph.new_node(),
             d = graph.new_node();
  REQUIRE(graph.insert_edge(a, b, 10) == Result::kInserted);
  REQUIRE(graph.insert_edge(b, c, 20) == Result::kInserted);
  REQUIRE(graph.insert_edge(d, b, 30) == Result::kInserted);
  REQUIRE(graph.insert_edge(a, c, 40) == Result::kInserted);
  std::vector<uint32_t> removed;
  auto collect = [](void* context, uint32_t payload) {
    static_cast<std::vector<uint32_t>*>(context)->push_back(payload);
  };
  graph.remove_node(b, collect, &removed);
  std::sort(removed.begin(), removed.end());
  REQUIRE(removed == std::vector<uint32_t>{10, 20, 30});
  REQUIRE(graph.edge_count() == 1);
  REQUIRE(graph.has_edge(a, c));
  removed.clear();
  graph.remove_node(b, collect, &removed);  // stale: nothing happens
  graph.remove_node(d, collect, &removed);  // no edges left
  REQUIRE(removed.empty());
}

namespace {

struct ChainResult {
  bool built = false;
  Result closing = Result::kFull;
  std::size_t cycle_path = 0;
  std::size_t cycle_path_too_small = 0;
  Result against_order = Result::kFull;
  Result closing_through_tail = Result::kFull;
  std::size_t tail_path = 0;
  bool path_ordered = false;
};

constexpr uint32_t kChainLength = 50000;

// Runs on a thread with a small stack: 50,000 nested frames of a recursive search would
// need megabytes, so recursion anywhere in the graph crashes this test.
void* build_chain(void* arg) {
  auto* result = static_cast<ChainResult*>(arg);
  LockGraph graph(LockGraph::Capacity{kChainLength + 1, kChainLength + 2});
  if (!graph.ok()) return nullptr;
  NodeHandle tail = graph.new_node();  // created first, so it starts at the front
  std::vector<NodeHandle> chain(kChainLength);
  for (auto& n : chain) n = graph.new_node();
  bool built = true;
  for (uint32_t i = 0; i + 1 < kChainLength; ++i)
    built &= graph.insert_edge(chain[i], chain[i + 1], i) == Result::kInserted;
  result->built = built;

  // Closing edge: a forward search through the whole chain.
  result->closing = graph.insert_edge(chain.back(), chain.front(), 0);
  std::vector<NodeHandle> path(kChainLength + 1);
  result->cycle_path = graph.find_path(chain.front(), chain.back(), path.data(), path.size());
  bool ordered = result->cycle_path == kChainLength;
  for (uint32_t i = 0; ordered && i < kChainLength; ++i) ordered = path[i] == chain[i];
  result->path_ordered = ordered;
  result->cycle_path_too_small =
      graph.find_path(chain.front(), chain.back(), path.data(), kChainLength - 1);

  // chain.back() -> tail runs against the order: a backward search through the whole
  // chain, then every chain node is re-ranked ahead of tail.
  result->against_order = graph.insert_edge(chain.back(), tail, 0);
  result->closing_through_tail = graph.insert_edge(tail, chain.front(), 0);
  result->tail_path = graph.find_path(chain.front(), tail, path.data(), path.size());
  return nullptr;
}

}  // namespace

TEST_CASE("A 50,000-lock chain is searched without recursion and its cycle found",
          "[lock_graph]") {
  ChainResult result;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t thread;
  REQUIRE(pthread_create(&thread, &attr, build_chain, &result) == 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);

  REQUIRE(result.built);
  REQUIRE(result.closing == Result::kWouldCycle);
  REQUIRE(result.cycle_path == kChainLength);
  REQUIRE(result.path_ordered);
  REQUIRE(result.cycle_path_too_small == 0);
  REQUIRE(result.against_order == Result::kInserted);
  REQUIRE(result.closing_through_tail == Result::kWouldCycle);
  REQUIRE(result.tail_path == kChainLength + 1);
}

TEST_CASE("Millions of short-lived locks churn through a bounded graph", "[lock_graph]") {
  // Models a process that keeps ~100k locks alive while creating and destroying two
  // million over time: a few long-lived hub locks (the GIL, module locks) are held while
  // every other lock is taken, and "outer" object locks are held while "inner" ones are.
  constexpr uint32_t kLive = 100000;
  constexpr uint32_t kTotal = 2000000;
  constexpr int kHubs = 4;
  LockGraph graph(LockGraph::Capacity{1u << 17, 1u << 19});
  REQUIRE(graph.ok());
  NodeHandle hubs[kHubs];
  for (auto& h : hubs) h = graph.new_node();

  std::vector<NodeHandle> ring(kLive);  // live non-hub nodes, oldest overwritten first
  std::vector<uint32_t> inner_of(kLive, kTotal);  // creation index of the node it nests
  std::mt19937 rng(42);
  uint64_t bad_new = 0, bad_hub = 0, bad_repeat = 0, bad_nested = 0, bad_reverse = 0;
  uint64_t nested = 0;
  std::size_t resident_warm = 0;
  for (uint32_t i = 0; i < kTotal; ++i) {
    NodeHandle& victim = ring[i % kLive];
    if (victim.valid()) graph.remove_node(victim);

    NodeHandle n = graph.new_node();
    victim = n;
    inner_of[i % kLive] = kTotal;
    if (!n.valid()) {
      ++bad_new;
      continue;
    }
    NodeHandle hub = hubs[i % kHubs];
    bad_hub += graph.insert_edge(hub, n, i) != Result::kInserted;
    bad_repeat += graph.insert_edge(hub, n, i) != Result::kAlreadyPresent;

    // Outer locks (even i) nest a recent inner lock (odd i); inner locks hold nothing,
    // so the only cycle possible is the reversed pair itself.
    if (i % 2 == 0 && i > 64) {
      uint32_t back = 1 + 2 * (rng() % 32);
      NodeHandle inner = ring[(i - back) % kLive];
      bad_nested += graph.insert_edge(n, inner, i) != Result::kInserted;
      bad_reverse += graph.insert_edge(inner, n, i) != Result::kWouldCycle;
      inner_of[i % kLive] = i - back;
      ++nested;
    }
    if (i == kTotal / 4) resident_warm = resident_bytes();
  }
  std::size_t resident_end = resident_bytes();

  REQUIRE(bad_new == 0);
  REQUIRE(bad_hub == 0);
  REQUIRE(bad_repeat == 0);
  REQUIRE(bad_nested == 0);
  REQUIRE(bad_reverse == 0);
  REQUIRE(nested > kTotal / 3);
  REQUIRE_FALSE(graph.overflowed());
  REQUIRE(graph.node_count() == kLive + kHubs);
  // One hub edge per node, plus the nested edges whose inner lock is still alive (the
  // oldest outer locks lost theirs when their inner lock was retired).
  std::size_t nested_live = 0;
  for (uint32_t inner : inner_of) nested_live += inner < kTotal && inner >= kTotal - kLive;
  REQUIRE(nested_live > kLive / 2 - 64);
  REQUIRE(graph.edge_count() == kLive + nested_live);
  // Once the ring is full, slots, edge records and the hash are all reused: three
  // quarters of the run add no resident memory.
  CHECK(resident_end <= resident_warm + (4u << 20));

  for (NodeHandle n : ring) graph.remove_node(n);
  for (NodeHandle h : hubs) graph.remove_node(h);
  REQUIRE(graph.node_count() == 0);
  REQUIRE(graph.edge_count() == 0);
  // Every slot comes back: the free list survived the churn intact.
  uint32_t fresh = 0;
  while (graph.new_node().valid()) ++fresh;
  REQUIRE(fresh == (1u << 17));
  REQUIRE(graph.overflowed());
}

TEST_CASE("Exhausted capacity reports kFull and an invalid handle, never a crash",
          "[lock_graph]") {
  SECTION("node slots") {
    LockGraph graph(LockGraph::Capacity{4, 8});
    NodeHandle n[4];
    for (auto& h : n) {
      h = graph.new_node();
      REQUIRE(h.valid());
    }
    REQUIRE_FALSE(graph.overflowed());
    REQUIRE_FALSE(graph.new_node().valid());
    REQUIRE(graph.overflowed());
    REQUIRE(graph.node_count() == 4);
    graph.remove_node(n[2]);
    NodeHandle again = graph.new_node();
    REQUIRE(again.valid());
    REQUIRE(graph.insert_edge(n[0], again, 0) == Result::kInserted);
  }
  SECTION("edge records") {
    LockGraph graph(LockGraph::Capacity{8, 3});
    NodeHandle a = graph.new_node(), b = graph.new_node(), c = graph.new_node(),
               d = graph.new_node();
    REQUIRE(graph.insert_edge(a, b, 0) == Result::kInserted);
    REQUIRE(graph.insert_edge(b, c, 0) == Result::kInserted);
    REQUIRE(graph.insert_edge(c, d, 0) == Result::kInserted);
    REQUIRE_FALSE(graph.overflowed());
    // In order and against order: both need a record.
    REQUIRE(graph.insert_edge(a, d, 0) == Result::kFull);
    REQUIRE(graph.overflowed());
    NodeHandle e = graph.new_node();  // ranked after d: e -> a runs against the order
    REQUIRE(graph.insert_edge(e, a, 0) == Result::kFull);
    REQUIRE_FALSE(graph.has_edge(a, d));
    // A cycle needs no record, so a full graph still reports it.
    REQUIRE(graph.insert_edge(d, a, 0) == Result::kWouldCycle);
    REQUIRE(graph.insert_edge(a, b, 0) == Result::kAlreadyPresent);
    REQUIRE(graph.edge_count() == 3);
    // Removing a node returns its records to the pool.
    graph.remove_node(c);
    REQUIRE(graph.edge_count() == 1);
    REQUIRE(graph.insert_edge(a, d, 0) == Result::kInserted);
    REQUIRE(graph.insert_edge(d, b, 0) == Result::kInserted);
    REQUIRE(graph.insert_edge(b, a, 0) == Result::kWouldCycle);
  }
  SECTION("a graph with no capacity at all") {
    LockGraph graph(LockGraph::Capacity{0, 0});
    REQUIRE_FALSE(graph.new_node().valid());
    REQUIRE(graph.overflowed());
    REQUIRE(graph.insert_edge(NodeHandle{0, 1}, NodeHandle{1, 1}, 0) == Result::kStaleNode);
    REQUIRE(graph.node_count() == 0);
  }
}
