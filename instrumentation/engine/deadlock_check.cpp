#include "deadlock_check.h"

namespace gilwatch {

namespace {

void add_waits_for(WaitFacts& f, uint32_t tid) {
  for (int i = 0; i < f.waits_for_count; ++i)
    if (f.waits_for[i] == tid) return;
  if (f.waits_for_count < 4) f.waits_for[f.waits_for_count++] = tid;
}

// u waits for the thread its lock names as owner.
void connect_to_owner(const WaitSnapshot& s, WaitGraph& graph, DeadlockVerdict& verdict, int u) {
  const WaitEntry& n = s.entries[u];
  WaitFacts& f = verdict.facts[u];
  add_waits_for(f, n.owner);
  int v = graph.find_node(n.owner);
  if (v >= 0) {
    graph.add_edge(u, v);
    if (verdict.facts[v].parked) f.owner_parked = v;
  } else if (!n.owner_exists) {
    f.owner_ended = true;
  }
}

// u waits for each of the other threads its wait names (a rwlock's readers, a joined thread).
void connect_to_holders(const WaitSnapshot& s, WaitGraph& graph, DeadlockVerdict& verdict, int u) {
  const WaitEntry& n = s.entries[u];
  for (int i = 0; i < n.holder_count && i < WaitEntry::kMaxHolders; ++i) {
    add_waits_for(verdict.facts[u], n.holders[i]);
    int v = graph.find_node(n.holders[i]);
    if (v >= 0) graph.add_edge(u, v);
  }
}

void build_graph(const WaitSnapshot& s, WaitGraph& graph, DeadlockVerdict& verdict) {
  graph.clear();
  const bool gil_edges = check_applies(Check::kGilWaitFor, s.threading);
  int count = s.count < WaitGraph::kMaxNodes ? s.count : WaitGraph::kMaxNodes;
  for (int u = 0; u < count; ++u) {
    const WaitEntry& e = s.entries[u];
    graph.add_node(WaitGraph::Node{e.tid, e.kind, e.holds_gil, e.waited_ns, e.gil, e.timed});
    verdict.facts[u] = WaitFacts{{}, 0, false, -1, s.gil_requests_never_return && e.kind == WaitKind::kGil};
  }
  for (int u = 0; u < count; ++u) {
    const WaitEntry& n = s.entries[u];
    switch (n.kind) {
      case WaitKind::kMutex:
        if (n.owner) connect_to_owner(s, graph, verdict, u);
        break;
      case WaitKind::kRwlockRead:
      case WaitKind::kRwlockWrite:
        if (n.owner)
          connect_to_owner(s, graph, verdict, u);
        else if (n.kind == WaitKind::kRwlockWrite)
          connect_to_holders(s, graph, verdict, u);
        break;
      case WaitKind::kJoin:
        connect_to_holders(s, graph, verdict, u);
        break;
      case WaitKind::kGil:
        if (!gil_edges) break;
        if (int holder = graph.gil_holder(n.gil); holder >= 0 && holder != u) {
          add_waits_for(verdict.facts[u], s.entries[holder].tid);
          graph.add_edge(u, holder);
        }
        break;
      default:
        break;
    }
  }
  if (s.runtime_roles_known) {
    RuntimeRole roles[WaitGraph::kMaxNodes];
    for (int u = 0; u < count; ++u) roles[u] = s.entries[u].role;
    add_runtime_edges(graph, roles);
  }
}

bool confirmed(StillWaiting still_waiting, void* context, const int* members, int count) {
  return !still_waiting || still_waiting(members, count, context);
}

}  // namespace

void decide_deadlock(const WaitSnapshot& s, uint64_t deadlock_ns, WaitGraph& graph, DeadlockVerdict& verdict,
                     StillWaiting still_waiting, void* context) {
  const uint64_t certain_ns = deadlock_ns;
  const uint64_t probable_ns = 2 * deadlock_ns;
  verdict.rule = DeadlockRule::kNone;
  verdict.count = 0;
  build_graph(s, graph, verdict);
  int* members = verdict.members;
  int count = graph.find_cycle(certain_ns, members, kMaxEventThreads);
  if (count && !confirmed(still_waiting, context, members, count)) count = 0;
  if (count) {
    verdict.rule = DeadlockRule::kCycle;
    verdict.count = count;
    return;
  }
  // A thread waiting for a lock whose owner has ended waits forever...
  for (int u = 0; u < graph.node_count(); ++u) {
    if (verdict.facts[u].owner_ended && !s.entries[u].timed && graph.node(u).waited_ns >= certain_ns) {
      members[0] = u;
      verdict.rule = DeadlockRule::kOwnerEnded;
      verdict.count = 1;
      return;
    }
  }
  // ...and so does one waiting for a lock whose owner asked for the GIL while the
  // interpreter finalizes (3.14+ park such a thread forever, holding its locks).
  for (int u = 0; u < graph.node_count(); ++u) {
    if (verdict.facts[u].owner_parked >= 0 && graph.node(u).waited_ns >= certain_ns) {
      members[0] = u;
      members[1] = verdict.facts[u].owner_parked;
      if (confirmed(still_waiting, context, members, 2)) {
        verdict.rule = DeadlockRule::kOwnerParked;
        verdict.count = 2;
        return;
      }
    }
  }
  if (!check_applies(Check::kGilWaitFor, s.threading)) return;
  // Probable: the GIL holder is blocked on something without an owner (a condition
  // variable, a futex word) and others have been waiting for the GIL all along. Each
  // GIL on its own: with per-interpreter GILs, a waiter for one GIL does not wait for
  // another's holder.
  for (int holder = 0; holder < graph.node_count(); ++holder) {
    const WaitGraph::Node& h = graph.node(holder);
    if (!h.holds_gil || h.timed || h.waited_ns < probable_ns ||
        (h.kind != WaitKind::kCondition && h.kind != WaitKind::kFutex))
      continue;
    count = 0;
    members[count++] = holder;
    for (int u = 0; u < graph.node_count() && count < kMaxEventThreads; ++u)
      if (graph.node(u).kind == WaitKind::kGil && graph.node(u).gil == h.gil && graph.node(u).waited_ns >= probable_ns)
        members[count++] = u;
    if (count >= 2 && confirmed(still_waiting, context, members, count)) {
      verdict.rule = DeadlockRule::kProbable;
      verdict.count = count;
      return;
    }
  }
}

GilHeldWait judge_gil_held_wait(uint64_t duration_ns, uint32_t gil_blocking_ms, bool futex_word,
                                bool interpreter_call, PythonThreading threading) {
  if (!check_applies(Check::kGilHeldBlocking, threading) || interpreter_call) return GilHeldWait::kNoFinding;
  bool long_enough = duration_ns >= uint64_t(gil_blocking_ms) * 1000000ull;
  if (long_enough) return GilHeldWait::kFinding;
  return futex_word ? GilHeldWait::kShortFutexWait : GilHeldWait::kNoFinding;
}

bool short_futex_wait_is_finding(bool rust_lock, bool holders_need_gil) { return rust_lock && holders_need_gil; }

}  // namespace gilwatch
