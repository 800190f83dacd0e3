// The detector's held stacks beyond their TLS part, and what it tells of its capacities
// (detector.h: ThreadState, Detector::capacity_warnings, Detector::stats).
#include "detector.h"

#include "gilwatch/result_format.h"

namespace gilwatch {

void Detector::note_held_overflow(ThreadState& t) {
  if (!t.held_overflow) held_overflows_.fetch_add(1, std::memory_order_relaxed);
  t.held_overflow = true;
  ++t.untracked_depth;
}

HeldLock* Detector::claim_deep_block() {
  static_assert(kDeepBlocks <= 64, "one bit per block");
  uint64_t used = deep_in_use_.load(std::memory_order_relaxed);
  for (;;) {
    uint64_t free_bits = ~used;
    if (free_bits == 0) return nullptr;
    unsigned index = unsigned(__builtin_ctzll(free_bits));
    if (deep_in_use_.compare_exchange_weak(used, used | (uint64_t(1) << index), std::memory_order_acquire,
                                           std::memory_order_relaxed))
      return deep_blocks_ + std::size_t(index) * ThreadState::kMaxDeepHeld;
  }
}

void Detector::release_deep_block(ThreadState& t) {
  if (!t.deep) return;
  Detector* owner = t.deep_owner;
  auto index = static_cast<unsigned>((t.deep - owner->deep_blocks_) / ThreadState::kMaxDeepHeld);
  t.deep = nullptr;
  t.deep_owner = nullptr;
  owner->deep_in_use_.fetch_and(~(uint64_t(1) << index), std::memory_order_release);
}

void Detector::on_thread_exit(ThreadState& t) {
  unfold_deep(t);
  t.deep_depth = 0;  // what sat in the block is forgotten with the thread
  release_deep_block(t);
}

void Detector::unfold_deep(ThreadState& t) {
  if (t.deep_depth == 0) return;
  HeldLock& base = t.held[ThreadState::kMaxHeld - 1];
  base.recursion = held_recursion(base);
  base.prefix_hash = t.deep_base_hash;
}

void Detector::fold_deep(ThreadState& t) {
  if (t.deep_depth == 0) {
    release_deep_block(t);
    return;
  }
  HeldLock& base = t.held[ThreadState::kMaxHeld - 1];
  t.deep_base_hash = base.prefix_hash;
  base.prefix_hash = t.deep[t.deep_depth - 1].prefix_hash;
  base.recursion = uint16_t(base.recursion | ThreadState::kDeepMark);
}

// Out of line: only a thread that already holds kMaxHeld locks comes here.
bool Detector::push_deep(ThreadState& t, uintptr_t address, LockKind kind, LockMode mode, uintptr_t pc) {
  if (t.deep_depth >= ThreadState::kMaxDeepHeld) {
    held_untracked_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (!t.deep) {
    t.deep = claim_deep_block();
    t.deep_owner = this;
    if (!t.deep) {
      deep_untracked_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  }
  uint64_t below = t.held[ThreadState::kMaxHeld - 1].prefix_hash;  // the whole stack's, folded or not
  unfold_deep(t);
  t.deep[t.deep_depth++] = HeldLock{address, NodeHandle{}, pc, kind, mode, 0, 0, held_prefix_hash(below, address, mode), 0};
  fold_deep(t);
  return true;
}

void Detector::after_acquire_deep(ThreadState& t, uintptr_t address, LockKind kind, LockMode mode, uintptr_t pc) {
  for (int i = t.deep_depth - 1; i >= 0; --i) {
    if (t.deep[i].address == address) {
      ++t.deep[i].recursion;
      return;
    }
  }
  if (!push_deep(t, address, kind, mode, pc)) note_held_overflow(t);
}

void Detector::release_slow(ThreadState& t, uintptr_t address) {
  int count = t.held_count();
  for (int i = count - 1; i >= 0; --i) {
    HeldLock& h = t.held_at(i);
    if (h.address != address) continue;
    if (held_recursion(h)) {
      --h.recursion;
      return;
    }
    // Locks may be released in any order: close the gap, and rehash what sat above it.
    unfold_deep(t);
    for (int j = i; j + 1 < count; ++j) {
      HeldLock& slot = t.held_at(j);
      slot = t.held_at(j + 1);
      uint64_t below = j ? t.held_at(j - 1).prefix_hash : 0;
      slot.prefix_hash = held_prefix_hash(below, slot.address, slot.mode);
    }
    if (t.deep_depth > 0)
      --t.deep_depth;
    else
      --t.depth;
    fold_deep(t);
    return;
  }
  // Not found: taken before tracking began, by another thread (legal for some lock
  // types), or one of the untracked excess locks.
  if (t.untracked_depth > 0) --t.untracked_depth;
}

std::size_t Detector::capacity_warnings(CapacityWarning* out, std::size_t max) const {
  const CapacityWarning all[] = {
      {result_format::kCapacityHeldLocks, uint64_t(ThreadState::kHeldCapacity),
       held_untracked_.load(std::memory_order_relaxed), "lock acquisitions not tracked"},
      {result_format::kCapacityDeepHeldBlocks, uint64_t(kDeepBlocks), deep_untracked_.load(std::memory_order_relaxed),
       "lock acquisitions not tracked"},
      {result_format::kCapacityCycleLocks, uint64_t(kMaxCycleLocks), cycles_cut_, "cycles reported cut"},
      {result_format::kCapacityCycleSearch, uint64_t(kMaxCycleSearch), cycles_too_long_, "cycles not reported"},
      {result_format::kCapacityCycleFindings, uint64_t(kMaxFindings), cycle_findings_dropped_, "findings not reported"},
      {result_format::kCapacityEventFindings, uint64_t(kMaxEvents), event_findings_dropped_, "findings not reported"},
      {result_format::kCapacityCycleSignatures, uint64_t(kMaxSignatures), signatures_lost_,
       "cycles that may be reported again"},
      {result_format::kCapacityLockGraphNodes, uint64_t(kMaxNodes),
       locks_untracked_.load(std::memory_order_relaxed) - table_untracked_.load(std::memory_order_relaxed),
       "locks not tracked"},
      {result_format::kCapacityLockTable, uint64_t(table_.capacity()), table_untracked_.load(std::memory_order_relaxed),
       "locks not tracked"},
      {result_format::kCapacityLockGraphEdges, uint64_t(kMaxEvidence) - 1, edges_untracked_, "lock-order edges not recorded"},
      {result_format::kCapacityNativeStacks, uint64_t(native_stacks_.max_arrays()), native_stacks_.lost(),
       "stacks not stored"},
      {result_format::kCapacityPythonStacks, uint64_t(python_stacks_.max_arrays()), python_stacks_.lost(),
       "stacks not stored"},
      {result_format::kCapacityScratchRecords, uint64_t(kScratchRecords), edges_without_stacks_.load(std::memory_order_relaxed),
       "lock-order edges recorded without stacks"},
      {result_format::kCapacityGilWords, uint64_t(kMaxGilNeedingWords), gil_words_lost_, "futex words not remembered"},
  };
  static_assert(sizeof(all) / sizeof(all[0]) == kCapacityCount, "kCapacityCount counts them");
  std::size_t n = 0;
  for (const CapacityWarning& w : all)
    if (w.lost && n < max) out[n++] = w;
  return n;
}

DetectorStats Detector::stats() const {
  DetectorStats s{};
  s.locks_tracked = table_.size();
  s.graph_nodes = graph_.node_count();
  s.graph_edges = graph_.edge_count();
  s.findings = finding_count_;
  s.events = event_count_;
  s.findings_dropped = findings_dropped_;
  s.cycles_read_only = cycles_read_only_;
  s.held_overflows = held_overflows_.load(std::memory_order_relaxed);
  s.untracked_low_stack = untracked_low_stack_.load(std::memory_order_relaxed);
  s.locked_lookups = locked_lookups_.load(std::memory_order_relaxed);
  s.graph_full = graph_.overflowed();
  s.table_full = table_.overflowed();
  s.stacks_full = native_stacks_.overflowed() || python_stacks_.overflowed();
  return s;
}

}  // namespace gilwatch
