#include "detector.h"

#include "gilwatch/result_format.h"

#include <cstring>

#include "mapped_memory.h"

namespace gilwatch {

const char* lock_kind_name(LockKind kind) {
  switch (kind) {
    case LockKind::kGil: return "gil";
    case LockKind::kMutex: return "mutex";
    case LockKind::kRwlock: return "rwlock";
    case LockKind::kFutex: return "futex";
    case LockKind::kPyMutex: return "pymutex";
  }
  return "unknown";
}

const char* lock_mode_name(LockMode mode) { return mode == LockMode::kRead ? "read" : "write"; }

const char* finding_kind_name(FindingKind kind) {
  switch (kind) {
    case FindingKind::kLockOrderInversion: return result_format::kLockOrderInversion;
    case FindingKind::kDeadlock: return result_format::kDeadlock;
    case FindingKind::kGilHeldBlocking: return result_format::kGilHeldBlocking;
    case FindingKind::kCapiWithoutGil: return result_format::kCapiWithoutGil;
    case FindingKind::kFinalizationAttach: return result_format::kFinalizationAttach;
    case FindingKind::kAbandonedLock: return result_format::kAbandonedLock;
    case FindingKind::kForkWithLockHeld: return result_format::kForkWithLockHeld;
    case FindingKind::kHang: return result_format::kHang;
    case FindingKind::kThreadLeak: return result_format::kThreadLeak;
    case FindingKind::kRustPanic: return result_format::kRustPanic;
    case FindingKind::kCrash: return result_format::kCrash;
  }
  return "unknown";
}

namespace {

uint8_t mode_bit(LockMode held, LockMode acquired) {
  return static_cast<uint8_t>(1u << (unsigned(held) * 2 + unsigned(acquired)));
}

// Modes in which `lock` was requested on the edge into it / held on the edge out of it.
bool acquired_in(uint8_t mask, LockMode m) {
  return (mask & mode_bit(LockMode::kRead, m)) || (mask & mode_bit(LockMode::kWrite, m));
}
bool held_in(uint8_t mask, LockMode m) {
  return (mask & mode_bit(m, LockMode::kRead)) || (mask & mode_bit(m, LockMode::kWrite));
}

// A thread requesting a lock in mode `want` blocks on a holder in mode `have` unless both
// are shared and the lock lets a new reader in beside readers even while a writer waits
// (reader preference: glibc's default). On a writer-preferring lock a read request waits
// behind a waiting writer, which waits for the read holders: every pair can block.
// A cycle is a potential deadlock only if every lock on it can block.
bool can_block(uint8_t in_mask, uint8_t out_mask, bool readers_wait_for_writers) {
  for (LockMode want : {LockMode::kRead, LockMode::kWrite}) {
    if (!acquired_in(in_mask, want)) continue;
    for (LockMode have : {LockMode::kRead, LockMode::kWrite}) {
      if (!held_in(out_mask, have)) continue;
      if (want == LockMode::kWrite || have == LockMode::kWrite || readers_wait_for_writers) return true;
    }
  }
  return false;
}

// Per-thread caches are small and direct-mapped; a multiplicative hash is plenty and
// costs one multiply on the hot path.
uint32_t edge_cache_index(uint64_t from, uint64_t to, uint32_t modes) {
  uint64_t h = (from ^ (to << 7) ^ (to >> 25) ^ modes) * 0x9e3779b97f4a7c15ULL;
  return static_cast<uint32_t>(h >> 58) % ThreadState::kEdgeCacheSize;
}

uint32_t node_cache_index(uintptr_t address) {
  return static_cast<uint32_t>((address * 0x9e3779b97f4a7c15ULL) >> 59) % ThreadState::kNodeCacheSize;
}

}  // namespace

Detector::Detector(CaptureSource* source)
    : source_(source),
      graph_(LockGraph::Capacity{kMaxNodes, kMaxEvidence}),
      table_(21),
      native_stacks_(1u << 18, 1u << 23),
      python_stacks_(1u << 15, 1u << 18) {
  infos_ = static_cast<LockInfo*>(map_zeroed(sizeof(LockInfo) * kMaxNodes));
  evidence_ = static_cast<Evidence*>(map_zeroed(sizeof(Evidence) * kMaxEvidence));
  findings_ = static_cast<Finding*>(map_zeroed(sizeof(Finding) * kMaxFindings));
  events_ = static_cast<EventFinding*>(map_zeroed(sizeof(EventFinding) * kMaxEvents));
  signatures_ = static_cast<uint64_t*>(map_zeroed(sizeof(uint64_t) * kMaxSignatures));
  scratch_ = static_cast<EvidenceCapture*>(map_zeroed(sizeof(EvidenceCapture) * kScratchRecords));
  cycle_path_ = static_cast<NodeHandle*>(map_zeroed(sizeof(NodeHandle) * kMaxCycleSearch));
  cycle_nodes_ = static_cast<NodeHandle*>(map_zeroed(sizeof(NodeHandle) * kMaxCycleSearch));
  cycle_evidence_ = static_cast<uint32_t*>(map_zeroed(sizeof(uint32_t) * kMaxCycleSearch));
  deep_blocks_ = static_cast<HeldLock*>(map_zeroed(sizeof(HeldLock) * ThreadState::kMaxDeepHeld * kDeepBlocks));
  known_acquisitions_ = static_cast<std::atomic<uint64_t>*>(map_zeroed(sizeof(uint64_t) * kKnownAcquisitions));
  evidence_used_ = 1;  // payload 0 is never handed out
  if (graph_.ok()) {
    gil_node_ = graph_.new_node();
    if (infos_ && gil_node_.valid()) {
      infos_[gil_node_.slot].kind = LockKind::kGil;
      infos_[gil_node_.slot].generation.store(gil_node_.generation, std::memory_order_release);
    }
  }
}

Detector::~Detector() {
  unmap(infos_, sizeof(LockInfo) * kMaxNodes);
  unmap(evidence_, sizeof(Evidence) * kMaxEvidence);
  unmap(findings_, sizeof(Finding) * kMaxFindings);
  unmap(events_, sizeof(EventFinding) * kMaxEvents);
  unmap(signatures_, sizeof(uint64_t) * kMaxSignatures);
  unmap(scratch_, sizeof(EvidenceCapture) * kScratchRecords);
  unmap(cycle_path_, sizeof(NodeHandle) * kMaxCycleSearch);
  unmap(cycle_nodes_, sizeof(NodeHandle) * kMaxCycleSearch);
  unmap(cycle_evidence_, sizeof(uint32_t) * kMaxCycleSearch);
  unmap(deep_blocks_, sizeof(HeldLock) * ThreadState::kMaxDeepHeld * kDeepBlocks);
  unmap(known_acquisitions_, sizeof(uint64_t) * kKnownAcquisitions);
}

bool Detector::ok() const {
  return graph_.ok() && table_.ok() && infos_ && evidence_ && findings_ && events_ && signatures_ && scratch_ &&
         cycle_path_ && cycle_nodes_ && cycle_evidence_ && deep_blocks_ && known_acquisitions_ && gil_node_.valid();
}

bool Detector::node_is_current(NodeHandle n, uintptr_t address) const {
  const LockInfo& info = infos_[n.slot];
  return info.generation.load(std::memory_order_acquire) == n.generation &&
         info.address.load(std::memory_order_relaxed) == address;
}

NodeHandle Detector::resolve(ThreadState& t, uintptr_t address, LockKind kind, uintptr_t pc) {
  ThreadState::NodeCacheEntry& cached = t.node_cache[node_cache_index(address)];
  if (cached.address == address && cached.node.valid() && node_is_current(cached.node, address))
    return cached.node;
  // A lock seen before, found without the engine lock: what the table returns is trusted
  // only if the node's own record names this address in its current generation.
  NodeHandle n = table_.find_unlocked(address);
  if (n.valid() && node_is_current(n, address)) {
    cached.address = address;
    cached.node = n;
    return n;
  }
  locked_lookups_.fetch_add(1, std::memory_order_relaxed);
  {
    SpinLockGuard guard(lock_);
    n = table_.find(address);
    if (!n.valid()) {
      n = graph_.new_node();
      if (!n.valid()) {
        locks_untracked_.fetch_add(1, std::memory_order_relaxed);
        return {};
      }
      if (!table_.insert(address, n)) {
        graph_.remove_node(n, nullptr, nullptr);
        locks_untracked_.fetch_add(1, std::memory_order_relaxed);
        table_untracked_.fetch_add(1, std::memory_order_relaxed);
        return {};
      }
      LockInfo& info = infos_[n.slot];
      info.kind = kind;
      info.first_pc = pc;
      for (auto& known : info.known_in) known.store(0, std::memory_order_relaxed);
      info.known_in_next = 0;
      info.readers_wait_for_writers.store(false, std::memory_order_relaxed);
      info.address.store(address, std::memory_order_relaxed);
      info.generation.store(n.generation, std::memory_order_release);
    }
  }
  cached.address = address;
  cached.node = n;
  return n;
}

NodeHandle Detector::resolve_held(ThreadState& t, HeldLock& h) {
  if (!h.node.valid()) h.node = resolve(t, h.address, h.kind, h.acquire_pc);
  return h.node;
}

bool Detector::before_blocking_acquire(ThreadState& t, uintptr_t address, LockKind kind,
                                       LockMode mode, bool gil_held, uintptr_t pc,
                                       bool readers_wait_for_writers) {
  if (t.depth == 0 && !gil_held) return false;
  uint64_t key = acquisition_key(t, address, mode, gil_held);
  uint64_t& seen = seen_slot(t, key);
  if (seen == key) return false;
  if (acquisition_known(address, key)) {
    seen = key;
    return false;
  }
  // Re-acquiring a lock this thread already holds (recursive mutex, nested read) adds
  // no ordering: it cannot wait for another thread that way.
  for (int i = t.held_count() - 1; i >= 0; --i) {
    if (t.held_at(i).address == address) {
      seen = key;
      return false;
    }
  }

  NodeHandle to = resolve(t, address, kind, pc);
  if (!to.valid()) return false;
  // Known before any edge into the lock, so before any cycle through its read requests.
  if (readers_wait_for_writers)
    infos_[to.slot].readers_wait_for_writers.store(true, std::memory_order_relaxed);
  bool found = false;
  // Whether the graph holds every edge of the acquisition: only then may other threads
  // skip it (a cycle-closing edge is not inserted, and each thread that makes it again
  // closes the cycle again, counted on its finding).
  bool all_in_graph = true;
  t.edge_skipped = false;
  if (gil_held) {
    NodeHandle gil = gil_node_for(t);
    if (gil.valid()) found |= add_edge(t, gil, LockMode::kWrite, to, mode, gil_held);
    all_in_graph = gil.valid() && edge_known(gil, to, mode_bit(LockMode::kWrite, mode));
  }
  for (int i = 0, n = t.held_count(); i < n; ++i) {
    HeldLock& h = t.held_at(i);
    NodeHandle from = resolve_held(t, h);
    if (from.valid()) found |= add_edge(t, from, h.mode, to, mode, gil_held);
    all_in_graph = all_in_graph && from.valid() && edge_known(from, to, mode_bit(h.mode, mode));
  }
  // An edge skipped for want of stack is not known: the same acquisition retries it.
  if (note_skipped_edges(t)) return found;
  seen = key;
  if (all_in_graph) publish_acquisition(address, key);
  return found;
}

NodeHandle Detector::gil_node_for(ThreadState& t) {
  return t.gil ? resolve(t, t.gil, LockKind::kGil, 0) : gil_node_;
}

bool Detector::before_gil_acquire(ThreadState& t) {
  bool found = false;
  NodeHandle gil = gil_node_for(t);
  if (!gil.valid()) return false;
  t.edge_skipped = false;
  for (int i = 0, n = t.held_count(); i < n; ++i) {
    HeldLock& h = t.held_at(i);
    NodeHandle from = resolve_held(t, h);
    if (from.valid()) found |= add_edge(t, from, h.mode, gil, LockMode::kWrite, false);
  }
  note_skipped_edges(t);
  return found;
}

bool Detector::note_skipped_edges(ThreadState& t) {
  if (!t.edge_skipped) return false;
  t.edge_skipped = false;
  untracked_low_stack_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool Detector::add_edge(ThreadState& t, NodeHandle from, LockMode held_mode, NodeHandle to,
                        LockMode acquired_mode, bool gil_held) {
  uint32_t modes = mode_bit(held_mode, acquired_mode);
  uint64_t f = from.packed(), k = to.packed();
  ThreadState::EdgeCacheEntry& cached = t.edge_cache[edge_cache_index(f, k, modes)];
  if (cached.from == f && cached.to == k && cached.modes == modes) return false;
  if (edge_known(from, to, modes)) {
    cached = {f, k, modes};
    return false;
  }
  return add_edge_slow(t, from, to, modes, gil_held);
}

// Kept out of line: the cached path stays a probe of the edge cache.
__attribute__((noinline)) bool Detector::add_edge_slow(ThreadState& t, NodeHandle from, NodeHandle to,
                                                       uint32_t modes, bool gil_held) {
  uint64_t f = from.packed(), k = to.packed();
  ThreadState::EdgeCacheEntry& cached = t.edge_cache[edge_cache_index(f, k, modes)];
  locked_lookups_.fetch_add(1, std::memory_order_relaxed);
  {
    SpinLockGuard guard(lock_);
    uint32_t payload = 0;
    if (graph_.edge_payload(from, to, &payload)) {
      evidence_[payload].mode_mask |= static_cast<uint8_t>(modes);
      note_known_edge_locked(from, to, evidence_[payload].mode_mask);
      cached = {f, k, modes};
      return false;
    }
    if (!graph_.is_live(from) || !graph_.is_live(to)) return false;
  }

  // A new edge: its heavy path runs only where the caller's stack has room for it.
  if (source_ && !source_->stack_has_room(kNewEdgeStackBudget)) {
    t.edge_skipped = true;
    return false;
  }
  // Its evidence is captured without the engine lock (unwinding and reading Python
  // frames take microseconds and may call into the interpreter), into a scratch record:
  // the record is kilobytes, too much for a caller's small stack. With every record in
  // use the edge is still recorded, without stacks.
  ScratchCapture scratch(*this);
  EvidenceCapture* capture = scratch.get();
  if (!capture) edges_without_stacks_.fetch_add(1, std::memory_order_relaxed);
  if (capture) {
    capture->tid = 0;
    std::memset(capture->thread_name, 0, sizeof(capture->thread_name));
    capture->native_count = 0;
    capture->python_count = 0;
    if (source_) source_->capture(*capture, gil_held);
  }

  SpinLockGuard guard(lock_);
  uint32_t payload = 0;
  if (graph_.edge_payload(from, to, &payload)) {  // another thread added it meanwhile
    evidence_[payload].mode_mask |= static_cast<uint8_t>(modes);
    note_known_edge_locked(from, to, evidence_[payload].mode_mask);
    cached = {f, k, modes};
    return false;
  }
  static constexpr char kNoName[16] = {};
  uint32_t native_stack = capture ? native_stacks_.intern(capture->native, capture->native_count) : 0;
  uint32_t python_stack = capture ? python_stacks_.intern(capture->python, capture->python_count) : 0;
  bool found = insert_edge_locked(from, to, modes, capture ? capture->tid : 0, capture ? capture->thread_name : kNoName,
                                  native_stack, python_stack);
  // Only an edge the graph holds is known to every thread: one that would close a cycle
  // is not inserted, and another thread that makes it closes the cycle again (counted).
  if (graph_.edge_payload(from, to, &payload)) note_known_edge_locked(from, to, evidence_[payload].mode_mask);
  cached = {f, k, modes};
  return found;
}

bool Detector::insert_edge_locked(NodeHandle from, NodeHandle to, uint32_t modes, uint32_t tid,
                                  const char* thread_name, uint32_t native_stack, uint32_t python_stack) {
  uint32_t index = alloc_evidence_locked();
  if (index == 0) {
    ++edges_untracked_;
    return false;
  }
  Evidence& e = evidence_[index];
  e.tid = tid;
  std::memcpy(e.thread_name, thread_name, sizeof(e.thread_name));
  e.native_stack = native_stack;
  e.python_stack = python_stack;
  e.mode_mask = static_cast<uint8_t>(modes);

  bool found = false;
  switch (graph_.insert_edge(from, to, index)) {
    case LockGraph::InsertResult::kInserted:
      break;
    case LockGraph::InsertResult::kWouldCycle:
      found = record_cycle_locked(from, to, index);
      free_evidence_locked(index);  // copied into the finding if one was made
      break;
    case LockGraph::InsertResult::kFull:
      ++edges_untracked_;
      free_evidence_locked(index);
      break;
    case LockGraph::InsertResult::kAlreadyPresent:
    case LockGraph::InsertResult::kStaleNode:
      free_evidence_locked(index);
      break;
  }
  return found;
}

bool Detector::add_deferred_edge(ThreadState& t, uintptr_t word, const DeferredEdge& edge) {
  NodeHandle from = resolve(t, word, LockKind::kFutex, 0);
  NodeHandle to = edge.to_kind == LockKind::kGil
                      ? (edge.to_gil ? resolve(t, edge.to_gil, LockKind::kGil, 0) : gil_node_)
                      : resolve(t, edge.to_address, edge.to_kind, edge.pc);
  if (!from.valid() || !to.valid() || from == to) return false;
  uint32_t modes = mode_bit(LockMode::kWrite, edge.to_mode);
  SpinLockGuard guard(lock_);
  if (edge.to_kind == LockKind::kGil && !word_holders_need_gil(word)) {
    if (gil_needing_word_count_ < kMaxGilNeedingWords)
      gil_needing_words_[gil_needing_word_count_++] = word;
    else
      ++gil_words_lost_;
  }
  uint32_t payload = 0;
  if (graph_.edge_payload(from, to, &payload)) {
    evidence_[payload].mode_mask |= static_cast<uint8_t>(modes);
    return false;
  }
  if (!graph_.is_live(from) || !graph_.is_live(to)) return false;
  return insert_edge_locked(from, to, modes, edge.tid, edge.thread_name, edge.native_stack, edge.python_stack);
}

bool Detector::word_holders_need_gil(uintptr_t word) const {
  for (std::size_t i = 0; i < gil_needing_word_count_; ++i)
    if (gil_needing_words_[i] == word) return true;
  return false;
}

bool Detector::record_cycle_locked(NodeHandle from, NodeHandle to, uint32_t new_evidence) {
  // The graph holds a path to -> ... -> from; with the new edge from -> to it is a cycle.
  // The buffers are the detector's (this runs under lock_): a hook's stack is too small.
  NodeHandle* path = cycle_path_;
  std::size_t n = graph_.find_path(to, from, path, kMaxCycleSearch);
  if (n == 0) {
    // Longer than we search (or a self-edge handled below); counted, not reported.
    if (from != to) {
      ++findings_dropped_;
      ++cycles_too_long_;
      return false;
    }
    path[0] = from;
    n = 1;
  }
  // Cycle locks in order: from, to, ..., (back to from). path = [to, ..., from].
  NodeHandle* cycle = cycle_nodes_;
  uint32_t* evidence = cycle_evidence_;
  std::size_t count = 0;
  cycle[count] = from;
  evidence[count] = new_evidence;
  ++count;
  for (std::size_t i = 0; i + 1 < n && count < std::size_t(kMaxCycleSearch); ++i) {
    cycle[count] = path[i];
    uint32_t payload = 0;
    graph_.edge_payload(path[i], path[i + 1], &payload);
    evidence[count] = payload;
    ++count;
  }
  if (from == to) count = 1;

  // Every lock on the cycle must be able to block its requester; shared-only holds
  // (read locks requested while others hold read locks) cannot deadlock on a
  // reader-preferring lock.
  for (std::size_t i = 0; i < count; ++i) {
    uint8_t in_mask = evidence_[evidence[(i + count - 1) % count]].mode_mask;
    uint8_t out_mask = evidence_[evidence[i]].mode_mask;
    bool readers_wait = infos_[cycle[i].slot].readers_wait_for_writers.load(std::memory_order_relaxed);
    if (!can_block(in_mask, out_mask, readers_wait)) {
      ++cycles_read_only_;
      return false;
    }
  }

  // One finding per distinct cycle, where "distinct" means distinct code: the signature
  // is order-independent over the edges' (native stack, lock kinds), so the same bug seen
  // again with fresh lock instances (one lock per object, objects churned) or closed from
  // another edge of the cycle is reported once. A cycle over kMaxCycleLocks is cut.
  std::size_t stored = count < std::size_t(kMaxCycleLocks) ? count : std::size_t(kMaxCycleLocks);
  uint64_t signature = count;
  for (std::size_t i = 0; i < count; ++i) {
    const Evidence& e = evidence_[evidence[i]];
    uint64_t kinds = (uint64_t(infos_[cycle[i].slot].kind) << 8) |
                     uint64_t(infos_[cycle[(i + 1) % count].slot].kind);
    signature ^= mix64((uint64_t(e.native_stack) << 32) ^ (uint64_t(e.python_stack) << 16) ^ kinds);
  }
  for (std::size_t i = 0; i < signature_count_; ++i)
    if (signatures_[i] == signature) {
      note_repeated_cycle_locked(signature, cycle, evidence, stored);
      return false;
    }
  if (signature_count_ < kMaxSignatures) signatures_[signature_count_++] = signature;
  else ++signatures_lost_;

  if (finding_count_ == kMaxFindings) {
    ++findings_dropped_;
    ++cycle_findings_dropped_;
    return false;
  }
  if (stored < count) ++cycles_cut_;
  Finding& f = findings_[finding_count_++];
  std::memset(&f, 0, sizeof(f));
  f.kind = FindingKind::kLockOrderInversion;
  f.lock_count = static_cast<uint32_t>(stored);
  f.cycle_length = static_cast<uint32_t>(count);
  f.signature = signature;
  f.count = 1;
  for (std::size_t i = 0; i < stored; ++i) {
    const LockInfo& info = infos_[cycle[i].slot];
    f.locks[i] = FindingLock{info.address.load(std::memory_order_relaxed), info.kind, info.first_pc};
    const Evidence& e = evidence_[evidence[i]];
    FindingEdge& edge = f.edges[i];
    edge.from = static_cast<uint8_t>(i);
    edge.to = static_cast<uint8_t>((i + 1) % stored);
    edge.mode_mask = e.mode_mask;
    edge.tid = e.tid;
    std::memcpy(edge.thread_name, e.thread_name, sizeof(edge.thread_name));
    edge.native_stack = e.native_stack;
    edge.python_stack = e.python_stack;
  }
  return true;
}

void Detector::note_repeated_cycle_locked(uint64_t signature, const NodeHandle* cycle, const uint32_t* evidence,
                                          std::size_t count) {
  for (std::size_t fi = 0; fi < finding_count_; ++fi) {
    Finding& f = findings_[fi];
    if (f.kind != FindingKind::kLockOrderInversion || f.signature != signature || f.lock_count != count) continue;
    ++f.count;
    if (f.instance_count == uint32_t(kMaxFindingInstances)) return;
    // The cycle may have closed from another edge: start at the finding's first edge's code.
    std::size_t start = 0;
    while (start + 1 < count && !(evidence_[evidence[start]].native_stack == f.edges[0].native_stack &&
                                  evidence_[evidence[start]].python_stack == f.edges[0].python_stack))
      ++start;
    FindingInstance& instance = f.instances[f.instance_count];
    for (std::size_t j = 0; j < count; ++j) {
      std::size_t k = (start + j) % count;
      instance.addresses[j] = infos_[cycle[k].slot].address.load(std::memory_order_relaxed);
      instance.tids[j] = evidence_[evidence[k]].tid;
    }
    // The same locks again (the cycle closed once more by the same threads) add no instance.
    for (uint32_t i = 0; i < f.instance_count; ++i)
      if (std::memcmp(f.instances[i].addresses, instance.addresses, sizeof(uintptr_t) * count) == 0) return;
    for (std::size_t j = 0; j < count; ++j)
      if (instance.addresses[j] != f.locks[j].address) return void(++f.instance_count);
    return;  // the finding's own locks: counted, not listed again
  }
}

uint32_t Detector::alloc_evidence_locked() {
  if (evidence_free_) {
    uint32_t index = evidence_free_;
    evidence_free_ = evidence_[index].next_free;
    std::memset(&evidence_[index], 0, sizeof(Evidence));
    return index;
  }
  if (evidence_used_ == kMaxEvidence) return 0;
  return evidence_used_++;
}

void Detector::free_evidence_locked(uint32_t index) {
  if (index == 0) return;
  evidence_[index].next_free = evidence_free_;
  evidence_free_ = index;
}

void Detector::on_graph_edge_removed(void* self, uint32_t payload) {
  static_cast<Detector*>(self)->free_evidence_locked(payload);
}

void Detector::remove_node_locked(NodeHandle n) {
  LockInfo& info = infos_[n.slot];
  // Invalidate per-thread caches first: a cached handle is only trusted while the slot's
  // generation still matches.
  info.generation.store(0, std::memory_order_release);
  info.address.store(0, std::memory_order_relaxed);
  removals_.fetch_add(1, std::memory_order_release);
  graph_.remove_node(n, &Detector::on_graph_edge_removed, this);
}

void Detector::on_lock_destroyed(uintptr_t address) {
  SpinLockGuard guard(lock_);
  NodeHandle n = table_.find(address);
  if (!n.valid()) return;
  table_.erase(address);
  remove_node_locked(n);
}

void Detector::on_memory_released(uintptr_t begin, uintptr_t end) {
  if (!table_.may_overlap(begin, end)) return;
  SpinLockGuard guard(lock_);
  // Collect in batches: the table must not change while it is being walked.
  for (;;) {
    uintptr_t batch[64];
    std::size_t count = 0;
    table_.for_each_in_range(begin, end, [&](uintptr_t address, NodeHandle) {
      if (count < 64) batch[count++] = address;
    });
    for (std::size_t i = 0; i < count; ++i) {
      NodeHandle n = table_.find(batch[i]);
      table_.erase(batch[i]);
      if (n.valid()) remove_node_locked(n);
    }
    if (count < 64) break;
  }
}

void Detector::child_after_fork() {
  lock_.reset_after_fork();
  finding_count_ = 0;
  event_count_ = 0;
  findings_dropped_ = 0;
}

}  // namespace gilwatch
