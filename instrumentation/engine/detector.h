// detector: turns lock events into lock-order edges and lock-order-inversion findings.
//
// The preload's hooks call it around every lock operation; the unit tests drive it
// directly with hand-made ThreadStates. It knows nothing about hooks, Python or stacks:
// evidence (native stack, thread name, Python frames) comes from a CaptureSource, asked
// only when an edge is new.
//
// Cost model (the reason for the shape):
// - acquire with nothing held and without the GIL: push onto the thread's held stack;
// - acquire with locks held: per held lock, one probe of the thread's edge cache; the
//   lock's address is resolved to a graph node through a per-thread cache, validated
//   against the node's current address and generation (lock-free);
// - new edge: engine lock, graph insertion (Pearce–Kelly), evidence captured outside the
//   engine lock; a cycle becomes a Finding.
// - release: pop from the held stack.
//
// Threading: every method may be called from any thread; ThreadState belongs to one
// thread. Findings and statistics are read under lock() by the results writer.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "content_store.h"
#include "lock_graph.h"
#include "lock_table.h"
#include "mapped_memory.h"
#include "spin_lock.h"

namespace gilwatch {

// kFutex: a futex word waited on through syscall(SYS_futex) — Rust's std and parking_lot
// locks among them. Only its waits are seen, never an uncontended acquisition.
// kPyMutex: CPython 3.13's PyMutex, seen when an extension's lock call takes the slow
// path (the fast path is an inlined compare-and-swap).
enum class LockKind : uint8_t { kGil = 0, kMutex = 1, kRwlock = 2, kFutex = 3, kPyMutex = 4 };
enum class LockMode : uint8_t { kRead = 0, kWrite = 1 };
enum class FindingKind : uint8_t {
  kLockOrderInversion = 0,
  kDeadlock,
  kGilHeldBlocking,
  kCapiWithoutGil,
  kFinalizationAttach,
  kAbandonedLock,
  kForkWithLockHeld,
  kHang,  // the process was asked for a report of all its threads (hang_signal)
  kThreadLeak,  // threads left after teardown, as pyhooks found them (with their stacks)
  kRustPanic,   // a Rust panic with the GIL held, or one that reached Python (panic_hooks)
  kCrash,       // the process got a fatal signal (crash_report): the faulting thread and the others
};

const char* lock_kind_name(LockKind kind);
const char* lock_mode_name(LockMode mode);
const char* finding_kind_name(FindingKind kind);

// One Python frame, fixed-size so stacks can be interned by content. Unused bytes must be
// zero (capture code memsets the record first).
struct PyFrameRecord {
  char function[64];
  char file[176];
  int32_t line;
  int32_t entry;     // FrameEntry (python_layout.h): whether a new call of the eval loop began it
  uint64_t loop_pc;  // 3.12+: the native frame (its pc) of the eval-loop call that runs it; 0: unknown
};

// The deepest native stack kept (stack_depth's limit): a Rust extension's frame can sit
// under dozens of tokio/PyO3/std frames. Records live in the engine, not on the caller's stack.
inline constexpr int kMaxNativeFrames = 128;
inline constexpr int kMaxPyFrames = 16;
// A cycle is reported whole up to kMaxCycleLocks locks; a longer one (up to kMaxCycleSearch)
// with its first kMaxCycleLocks, marked cut (Finding::cycle_length); longer ones counted only.
inline constexpr int kMaxCycleLocks = 64;
inline constexpr int kMaxCycleSearch = 4096;

// What the runtime captures for a new edge.
struct EvidenceCapture {
  uint32_t tid = 0;
  char thread_name[16] = {};
  uint32_t native_count = 0;
  uintptr_t native[kMaxNativeFrames];
  uintptr_t native_cfa[kMaxNativeFrames];  // with Python frames only: where each frame's locals end
  uint32_t python_count = 0;
  PyFrameRecord python[kMaxPyFrames];
};

class CaptureSource {
 public:
  // Fills `out` for the calling thread. `with_python`: the thread holds the GIL and
  // Python frames are wanted. Called without the engine lock held.
  virtual void capture(EvidenceCapture& out, bool with_python) = 0;
  // Whether the calling thread's stack has at least `bytes` left below the caller.
  // Asked only before a new edge's heavy path (capture and graph insertion).
  virtual bool stack_has_room(std::size_t bytes) { return true; }

 protected:
  ~CaptureSource() = default;
};

struct HeldLock {
  uintptr_t address;
  NodeHandle node;  // resolved lazily, the first time an edge needs it
  uintptr_t acquire_pc;
  LockKind kind;
  LockMode mode;
  uint16_t recursion;  // extra acquisitions by the holder (recursive mutex, nested reads)
  uint32_t profile_slot;  // LockProfiler::slot_of the lock's record while its hold is timed, else 0
  uint64_t prefix_hash;  // of (address, mode) of this entry and every entry below it
  uint64_t acquired_ns;  // CLOCK_MONOTONIC when taken, for the contention profile; 0 if not timed
};

inline uint64_t held_prefix_hash(uint64_t below, uintptr_t address, LockMode mode) {
  return ((below ^ address) + unsigned(mode)) * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
}

// Per-thread state. Lives in the preload's initial-exec TLS (zero-initialized for every
// new thread), or on the stack in tests.
//
// Held locks: the first kMaxHeld sit here (static TLS is carved from each thread's stack,
// so it stays small); a thread that holds more claims a block of kMaxDeepHeld more from
// the detector (Detector::kDeepBlocks of them, shared by the process) until it is back
// to kMaxHeld. `depth` never exceeds kMaxHeld, so the hot paths read `held` exactly as
// without a block; while `deep_depth` entries sit in the block, held[kMaxHeld - 1] is
// folded: its recursion carries kDeepMark (the release fast path then defers to
// release_slow) and its prefix_hash is the whole stack's (the acquisition key covers
// the deep entries), its own kept in deep_base_hash. Entry i of the whole stack is
// held_at(i), i < held_count(). Readers on other threads look at `held` only.
struct ThreadState {
  static constexpr int kMaxHeld = 48;
  static constexpr int kMaxDeepHeld = 464;
  static constexpr int kHeldCapacity = kMaxHeld + kMaxDeepHeld;
  static constexpr uint16_t kDeepMark = 0x8000;  // on held[kMaxHeld - 1].recursion while folded
  static constexpr int kEdgeCacheSize = 64;
  static constexpr int kNodeCacheSize = 32;
  static constexpr int kSeenSetSize = 16;

  struct EdgeCacheEntry {
    uint64_t from;
    uint64_t to;
    uint32_t modes;
  };
  struct NodeCacheEntry {
    uintptr_t address;
    NodeHandle node;
  };

  HeldLock held[kMaxHeld];
  HeldLock* deep;  // entries kMaxHeld.. of the stack, while there are any; else null
  int deep_depth;   // how many
  class Detector* deep_owner;  // whose block `deep` is
  uint64_t deep_base_hash;  // held[kMaxHeld - 1]'s own prefix hash, while folded
  // Acquisitions whose every edge is known: (lock node, held set, GIL) hashed. A loop
  // that takes the same lock under the same locks costs one probe, however many it holds.
  uint64_t seen_sets[kSeenSetSize];
  int depth;
  bool held_overflow;  // more than it could track at once: the excess is not tracked
  int untracked_depth;
  bool edge_skipped;  // a new edge of the current acquisition was skipped: low stack
  EdgeCacheEntry edge_cache[kEdgeCacheSize];
  NodeCacheEntry node_cache[kNodeCacheSize];
  // Which GIL `gil_held` (or a GIL request) means: 0 for the main interpreter's, shared
  // by every interpreter without a GIL of its own; else the address of the interpreter
  // (3.12+) that has its own. The caller sets it before each call that passes the GIL.
  uintptr_t gil;

  int held_count() const { return depth + deep_depth; }
  HeldLock& held_at(int i) { return i < kMaxHeld ? held[i] : deep[i - kMaxHeld]; }
  const HeldLock& held_at(int i) const { return i < kMaxHeld ? held[i] : deep[i - kMaxHeld]; }
  // The prefix hash of the whole held stack (0 when nothing is held).
  uint64_t top_prefix_hash() const { return depth ? held[depth - 1].prefix_hash : 0; }
};

// How many extra acquisitions an entry counts (without the fold mark).
inline uint16_t held_recursion(const HeldLock& h) { return uint16_t(h.recursion & ~ThreadState::kDeepMark); }

struct FindingLock {
  uintptr_t address;  // 0 for the GIL
  LockKind kind;
  uintptr_t first_pc;  // the call that first took it (when it became a graph node)
};

struct FindingEdge {
  uint8_t from;  // indices into Finding::locks
  uint8_t to;
  uint8_t mode_mask;  // bit (held_mode * 2 + acquired_mode) for every combination seen
  uint32_t tid;
  char thread_name[16];
  uint32_t native_stack;  // id in Detector::native_stacks()
  uint32_t python_stack;  // id in Detector::python_stacks(), 0 if none
};

// The same cycle closed again on other lock instances (by the same code: the same
// signature): their addresses in the order of Finding::locks, and each edge's thread.
inline constexpr int kMaxFindingInstances = 24;
struct FindingInstance {
  uintptr_t addresses[kMaxCycleLocks];
  uint32_t tids[kMaxCycleLocks];
};

struct Finding {
  FindingKind kind;
  uint32_t lock_count;  // locks[i] -> locks[(i+1) % lock_count] is edges[i]
  // The cycle's true length: lock_count, or more when the cycle was longer than
  // kMaxCycleLocks and is reported cut (its first lock_count locks and their edges; the
  // last stored edge then leads to the first lock left out, not back to locks[0]).
  uint32_t cycle_length;
  FindingLock locks[kMaxCycleLocks];
  FindingEdge edges[kMaxCycleLocks];
  uint64_t signature;       // the code of the cycle (record_cycle_locked)
  uint32_t count;           // times a cycle of this signature closed (1 + repeats)
  uint32_t instance_count;  // further instances listed (at most kMaxFindingInstances)
  FindingInstance instances[kMaxFindingInstances];
};

// A finding that is not a lock-order cycle: a deadlock seen as it happened, a blocking
// wait with the GIL held, a C API call without the GIL, a lock abandoned... The runtime
// fills it (it knows threads, stacks and timing); the detector stores, deduplicates and
// counts it. Repeats with the same `key` (the runtime derives it from the kind and the
// call site) only raise `count` and `longest_ns`.
inline constexpr int kMaxEventThreads = 8;
inline constexpr int kMaxEventLocks = 8;

struct EventThread {
  uint32_t tid;
  char name[16];
  char role[160];          // what this thread was doing, in words ("waits for ...")
  uint32_t native_stack;   // id in Detector::native_stacks(), 0 if none
  uint32_t python_stack;   // id in Detector::python_stacks(), 0 if none
  // The wait-for graph in structured form (for pictures; `role` says it in words):
  // 1 + the index in EventFinding::locks of what the thread waits for (0: none), and a
  // bit per index of the locks it holds.
  uint8_t waits_for_plus1;
  uint8_t holds_mask;
  uint8_t owner_unknown;  // waits for something whose owner cannot be known (a futex word)
  uint32_t blocked_ms;    // how long its wait had lasted when reported (0: not a wait)
};

// How a gil-held-blocking wait on a futex word compares with gil_blocking_ms.
enum class FutexWaitLength : uint8_t { kNone, kShort, kLong };

struct EventLock {
  uintptr_t address;  // 0 for the GIL
  LockKind kind;
  uintptr_t site_pc;  // where it was taken, when known
};

struct EventFinding {
  FindingKind kind;
  bool probable;        // inferred (e.g. a futex wait), not proven
  uint64_t key;         // deduplication key: same key, same finding
  uint32_t count;       // occurrences
  uint64_t longest_ns;  // longest wait, for timed kinds
  char summary[224];
  char detail[64];      // kind-specific: the C API function, the wait primitive...
  FutexWaitLength futex_wait;  // gil-held-blocking on a futex word: short or long
  uint8_t thread_count;
  EventThread threads[kMaxEventThreads];
  uint8_t lock_count;
  EventLock locks[kMaxEventLocks];
};

enum class EventResult : uint8_t { kNew, kRepeated, kDropped };

// A fixed capacity that overflowed: its name (result_format.h's capacity names), its
// limit, and how many of what `lost_what` says were lost to it.
struct CapacityWarning {
  const char* name;
  uint64_t limit;
  uint64_t lost;
  const char* lost_what;
};

struct DetectorStats {
  std::size_t locks_tracked;
  std::size_t graph_nodes;
  std::size_t graph_edges;
  std::size_t findings;
  std::size_t events;
  uint64_t findings_dropped;       // beyond the findings capacity
  uint64_t cycles_read_only;       // cycles dismissed: shared (read) holds cannot block
                                   // (reader-preferring locks only)
  uint64_t held_overflows;         // threads that held more locks than they could track
  uint64_t untracked_low_stack;    // acquisitions whose new edges were skipped: low stack
  uint64_t locked_lookups;         // lookups that took the engine lock: a lock or an edge
                                   // not known without it (new to every thread's view)
  bool graph_full, table_full, stacks_full;
};

class Detector {
 public:
  static constexpr std::size_t kMaxFindings = 256;
  static constexpr std::size_t kMaxEvents = 256;

  // The stack a new edge's heavy path (unwinder, graph insertion) may use below the
  // caller, measured with scenarios/programs/small_stack (design.md, "Stack budget").
  static constexpr std::size_t kNewEdgeStackBudget = 4096;
  // Evidence records for captures in progress (one per thread at a time).
  static constexpr std::size_t kScratchRecords = 64;
  // Blocks of deep held entries (ThreadState::kMaxDeepHeld each), one per thread that
  // holds more than ThreadState::kMaxHeld locks at once.
  static constexpr std::size_t kDeepBlocks = 64;
  // Acquisitions recorded by any thread, remembered for all (acquisition_known).
  static constexpr std::size_t kKnownAcquisitions = std::size_t(1) << 20;
  // Kinds of CapacityWarning capacity_warnings() may return.
  static constexpr std::size_t kCapacityCount = 14;

  explicit Detector(CaptureSource* source);
  ~Detector();
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;

  bool ok() const;

  // Before a blocking (or timed) acquisition: records edges from every lock held — and
  // from the GIL when `gil_held` — to this one. Trylocks skip this (they cannot block,
  // so they order nothing). Returns true if a new finding was recorded.
  // `readers_wait_for_writers`: the lock queues a new reader behind a waiting writer
  // (glibc's PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP): a cycle through its read
  // holds and read requests can deadlock once a writer waits (rwlock_rules.h).
  bool before_blocking_acquire(ThreadState& t, uintptr_t address, LockKind kind, LockMode mode,
                               bool gil_held, uintptr_t pc, bool readers_wait_for_writers = false);
  // After any successful acquisition (blocking, timed or try); inline: every lock operation.
  void after_acquire(ThreadState& t, uintptr_t address, LockKind kind, LockMode mode,
                     uintptr_t pc) {
    for (int i = t.depth - 1; i >= 0; --i) {
      if (t.held[i].address == address) {
        ++t.held[i].recursion;
        return;
      }
    }
    if (t.depth == ThreadState::kMaxHeld) {
      after_acquire_deep(t, address, kind, mode, pc);
      return;
    }
    uint64_t below = t.depth ? t.held[t.depth - 1].prefix_hash : 0;
    t.held[t.depth] = HeldLock{address, NodeHandle{}, pc, kind, mode, 0, 0, held_prefix_hash(below, address, mode), 0};
    ++t.depth;
  }
  // Has this exact acquisition (lock address, mode, GIL, the locks held below it) been
  // fully recorded already? Then it can add no new edge. Addresses stand for nodes here:
  // a lock destroyed and re-created at the same address is a new node, so any node
  // removal since an entry was made (the removal counter is part of the key) voids it.
  uint64_t acquisition_key(const ThreadState& t, uintptr_t address, LockMode mode, bool gil_held) const {
    uint64_t held_set = t.depth ? t.held[t.depth - 1].prefix_hash : 0;
    held_set ^= removals_.load(std::memory_order_acquire) << 1;
    return held_prefix_hash(held_set ^ (gil_held ? 0x5bd1e995ULL ^ t.gil : 0), address, mode) | 1;
  }
  static uint64_t& seen_slot(ThreadState& t, uint64_t key) {
    return t.seen_sets[(key >> 40) % ThreadState::kSeenSetSize];
  }
  // The same, for acquisitions any thread recorded whose every edge the graph holds: a
  // thread that walks more distinct locks than its own caches hold learns it here. A
  // two-way set-associative table of keys, read and written without the engine lock; a
  // key that finds both ways taken evicts one (its acquisition then takes the long path
  // once more). The set is chosen by the acquired lock's address, page by page as in
  // the lock table, so walking an array of locks walks the table in order.
  bool acquisition_known(uintptr_t address, uint64_t key) const {
    const std::atomic<uint64_t>* set = known_acquisitions_ + known_acquisition_index(address);
    return set[0].load(std::memory_order_relaxed) == key || set[1].load(std::memory_order_relaxed) == key;
  }
  void publish_acquisition(uintptr_t address, uint64_t key);
  static std::size_t known_acquisition_index(uintptr_t address) {
    return (mix64(address >> 12) + (address & 4095) / 4) & (kKnownAcquisitions - 2);
  }
  // Whether this exact acquisition was fully recorded: in this thread's memo or, when
  // `ask_every_thread`, in every thread's records (the mutex hook's fast path), one key.
  bool acquisition_recorded(ThreadState& t, uintptr_t address, LockMode mode, bool gil_held,
                            bool ask_every_thread) const {
    uint64_t key = acquisition_key(t, address, mode, gil_held);
    return seen_slot(t, key) == key || (ask_every_thread && acquisition_known(address, key));
  }
  // Pushes a lock the thread cannot already hold (a non-recursive mutex: re-locking it
  // would self-deadlock). Returns false when the TLS part of the held stack is full: the
  // caller then takes the general path (before_blocking_acquire, after_acquire).
  bool push_new(ThreadState& t, uintptr_t address, LockKind kind, LockMode mode, uintptr_t pc) {
    if (t.depth == ThreadState::kMaxHeld) return false;  // full, or folded: after_acquire's deep path
    uint64_t below = t.depth ? t.held[t.depth - 1].prefix_hash : 0;
    t.held[t.depth] = HeldLock{address, NodeHandle{}, pc, kind, mode, 0, 0, held_prefix_hash(below, address, mode), 0};
    ++t.depth;
    return true;
  }

  void on_release(ThreadState& t, uintptr_t address) {
    int top = t.depth - 1;
    if (top >= 0 && t.held[top].address == address && t.held[top].recursion == 0) {
      t.depth = top;  // the usual case: last in, first out
      return;
    }
    release_slow(t, address);
  }
  // Before the thread asks for the GIL (it does not hold it): edges held lock -> GIL.
  bool before_gil_acquire(ThreadState& t);

  // An ordering known only after the fact: a futex word's holder is seen to hold it
  // when it wakes the word's waiters on release, after it took other locks meanwhile
  // (docs/futex-locks.md). The evidence was captured when the later lock was taken.
  struct DeferredEdge {
    uintptr_t to_address;  // the lock taken while the word was held; the GIL: `to_gil`
    LockKind to_kind;
    LockMode to_mode;
    uintptr_t to_gil;      // for the GIL: whose (ThreadState::gil)
    uintptr_t pc;
    uint32_t tid;
    char thread_name[16];
    uint32_t native_stack;  // interned (intern_capture)
    uint32_t python_stack;
  };
  // Adds futex word `word` -> the edge's lock. Returns true if a new finding was recorded.
  // An edge to the GIL also proves that the word's holders need the GIL while they hold
  // it (word_holders_need_gil).
  bool add_deferred_edge(ThreadState& t, uintptr_t word, const DeferredEdge& edge);
  // True when a thread was seen to hold futex word `word` while it asked for the GIL:
  // a short wait for the word with the GIL held is then a risk (docs/futex-locks.md).
  // Call with lock() held.
  bool word_holders_need_gil(uintptr_t word) const;

  // The lock at `address` is destroyed, or memory [begin, end) was freed: the locks that
  // lived there leave the graph with all their edges.
  void on_lock_destroyed(uintptr_t address);
  void on_memory_released(uintptr_t begin, uintptr_t end);

  // fork(): in the child, the engine lock is free and the parent's findings are the
  // parent's to report (their signatures stay, so the child does not repeat them).
  void prepare_fork() { lock_.lock(); }
  void parent_after_fork() { lock_.unlock(); }
  void child_after_fork();
  // The thread is leaving: its block of deep held entries, if any, goes back.
  void on_thread_exit(ThreadState& t);

  // Non-cycle findings. record_event stores `event` (its count and longest_ns as given)
  // or, when its key was seen before, adds its count and keeps the longest wait.
  // repeat_event does the latter alone and returns false for an unknown key: callers
  // use it to skip capturing evidence for a finding that is already stored.
  EventResult record_event(const EventFinding& event);
  bool repeat_event(uint64_t key, uint64_t duration_ns);
  // A scratch evidence record off every thread's stack, for the capture in progress;
  // null when all are in use (kScratchRecords threads capturing at once). Give it back
  // with release_scratch. ScratchCapture does both.
  EvidenceCapture* claim_scratch();
  void release_scratch(EvidenceCapture* record);
  // Interns a captured stack for an event (ids for EventThread).
  void intern_capture(const EvidenceCapture& capture, uint32_t* native_stack, uint32_t* python_stack);

  // Readers: call with lock() held.
  SpinLock& lock() { return lock_; }
  std::size_t finding_count() const { return finding_count_; }
  const Finding& finding(std::size_t i) const { return findings_[i]; }
  std::size_t event_count() const { return event_count_; }
  const EventFinding& event(std::size_t i) const { return events_[i]; }
  const ContentStore<uintptr_t>& native_stacks() const { return native_stacks_; }
  const ContentStore<PyFrameRecord>& python_stacks() const { return python_stacks_; }
  DetectorStats stats() const;
  // The capacities that overflowed so far, at most `max`; returns how many were written.
  // May be called without lock() (the counts are then a moment's).
  std::size_t capacity_warnings(CapacityWarning* out, std::size_t max) const;

  NodeHandle gil_node() const { return gil_node_; }
  // The node of the GIL `t.gil` names: the main one, or an interpreter's own (a lock of
  // kind kGil at the interpreter's address, forgotten like any lock when that is freed).
  NodeHandle gil_node_for(ThreadState& t);

 private:
  static constexpr int kKnownIn = 4;
  struct LockInfo {
    std::atomic<uintptr_t> address;
    std::atomic<uint32_t> generation;
    LockKind kind;
    uintptr_t first_pc;
    // Read requests wait behind a waiting writer (writer-preferring rwlock): read holds
    // and read requests on a cycle through it can block.
    std::atomic<bool> readers_wait_for_writers;
    // Edges into this lock that the graph holds (known_edge_key: `from` and the edge's
    // modes), read without the engine lock by threads whose own caches miss. Written
    // under the engine lock; a full list overwrites its entries in turn.
    std::atomic<uint64_t> known_in[kKnownIn];
    uint32_t known_in_next;
  };
  struct Evidence {
    uint32_t tid;
    char thread_name[16];
    uint32_t native_stack;
    uint32_t python_stack;
    uint8_t mode_mask;
    uint32_t next_free;
  };
  static constexpr uint32_t kMaxNodes = 1u << 20;
  static_assert(kMaxNodes <= (1u << 24), "known_edge_key keeps the modes above the slot");
  static uint64_t known_edge_key(NodeHandle from, uint32_t modes) { return from.packed() | (uint64_t(modes) << 24); }
  // Whether the graph holds from -> to with `modes` among its modes (lock-free; false
  // when not known here, which the caller then asks the graph).
  bool edge_known(NodeHandle from, NodeHandle to, uint32_t modes) const;
  // Under lock_: from -> to is in the graph with these modes (all of them so far).
  void note_known_edge_locked(NodeHandle from, NodeHandle to, uint32_t modes);
  static constexpr uint32_t kMaxEvidence = 1u << 22;
  static constexpr std::size_t kMaxSignatures = 4096;

  void note_held_overflow(ThreadState& t);
  // Out of line, so the hot paths keep their registers for the usual case (measured with
  // bench/instructions_per_lock.sh: marking after_acquire_deep cold costs the rwlock path).
  __attribute__((noinline)) void after_acquire_deep(ThreadState& t, uintptr_t address, LockKind kind, LockMode mode,
                                                    uintptr_t pc);
  __attribute__((cold, noinline)) bool push_deep(ThreadState& t, uintptr_t address, LockKind kind, LockMode mode,
                                                 uintptr_t pc);
  HeldLock* claim_deep_block();
  // Static, as release_slow: the release fast path then needs no detector.
  static void release_deep_block(ThreadState& t);
  // Unfolds held[kMaxHeld - 1] (its own recursion and hash back), and folds it again
  // over whatever sits in the block then (giving the block back when nothing does).
  static void unfold_deep(ThreadState& t);
  static void fold_deep(ThreadState& t);
  // Counts the acquisition if one of its edges was skipped (low stack); true if so.
  bool note_skipped_edges(ThreadState& t);
  static void release_slow(ThreadState& t, uintptr_t address);
  NodeHandle resolve(ThreadState& t, uintptr_t address, LockKind kind, uintptr_t pc);
  NodeHandle resolve_held(ThreadState& t, HeldLock& h);
  bool node_is_current(NodeHandle n, uintptr_t address) const;
  // Adds edge from -> to for this thread; returns true if it produced a finding.
  bool add_edge(ThreadState& t, NodeHandle from, LockMode held_mode, NodeHandle to,
                LockMode acquired_mode, bool gil_held);
  bool add_edge_slow(ThreadState& t, NodeHandle from, NodeHandle to, uint32_t modes, bool gil_held);
  // Under lock_: inserts from -> to with this evidence, recording a cycle it closes.
  bool insert_edge_locked(NodeHandle from, NodeHandle to, uint32_t modes, uint32_t tid, const char* thread_name,
                          uint32_t native_stack, uint32_t python_stack);
  bool record_cycle_locked(NodeHandle from, NodeHandle to, uint32_t new_evidence);
  // A cycle whose signature a finding has: counted, and its locks listed on that finding.
  void note_repeated_cycle_locked(uint64_t signature, const NodeHandle* cycle, const uint32_t* evidence,
                                  std::size_t count);
  void remove_node_locked(NodeHandle n);
  uint32_t alloc_evidence_locked();
  void free_evidence_locked(uint32_t index);
  static void on_graph_edge_removed(void* self, uint32_t payload);

  CaptureSource* source_;
  SpinLock lock_;
  LockGraph graph_;
  LockTable table_;
  ContentStore<uintptr_t> native_stacks_;
  ContentStore<PyFrameRecord> python_stacks_;
  LockInfo* infos_ = nullptr;       // indexed by node slot
  Evidence* evidence_ = nullptr;    // indexed by edge payload; 0 unused
  uint32_t evidence_used_ = 0;
  uint32_t evidence_free_ = 0;
  NodeHandle gil_node_;
  // Futex words whose holders asked for the GIL while holding them (the first ones).
  static constexpr std::size_t kMaxGilNeedingWords = 64;
  uintptr_t gil_needing_words_[kMaxGilNeedingWords] = {};
  std::size_t gil_needing_word_count_ = 0;
  Finding* findings_ = nullptr;
  std::size_t finding_count_ = 0;
  EventFinding* events_ = nullptr;
  std::size_t event_count_ = 0;
  uint64_t findings_dropped_ = 0;
  uint64_t* signatures_ = nullptr;
  std::size_t signature_count_ = 0;
  uint64_t cycles_read_only_ = 0;
  std::atomic<uint64_t> held_overflows_{0};
  std::atomic<uint64_t> held_untracked_{0};      // acquisitions beyond kHeldCapacity
  std::atomic<uint64_t> deep_untracked_{0};      // acquisitions beyond kMaxHeld, no block free
  std::atomic<uint64_t> locks_untracked_{0};     // locks with no graph node (graph or table full)
  std::atomic<uint64_t> table_untracked_{0};     // ... of them, for want of a table entry
  std::atomic<uint64_t> edges_without_stacks_{0};  // new edges recorded without evidence: scratch in use
  uint64_t edges_untracked_ = 0;       // new edges not recorded: graph or evidence full
  uint64_t cycles_too_long_ = 0;       // cycles longer than kMaxCycleSearch: not reported
  uint64_t cycles_cut_ = 0;            // cycles reported cut at kMaxCycleLocks
  uint64_t cycle_findings_dropped_ = 0;  // lock-order findings beyond kMaxFindings
  uint64_t event_findings_dropped_ = 0;  // other findings beyond kMaxEvents
  uint64_t signatures_lost_ = 0;       // cycles whose signature found no room (may repeat)
  uint64_t gil_words_lost_ = 0;        // futex words not remembered as needing the GIL
  // The cycle being recorded (under lock_): too large for a hook's stack.
  NodeHandle* cycle_path_ = nullptr;   // kMaxCycleSearch
  NodeHandle* cycle_nodes_ = nullptr;  // kMaxCycleSearch
  uint32_t* cycle_evidence_ = nullptr;  // kMaxCycleSearch
  HeldLock* deep_blocks_ = nullptr;    // kDeepBlocks * ThreadState::kMaxDeepHeld
  std::atomic<uint64_t> deep_in_use_{0};  // a bit per block
  std::atomic<uint64_t> untracked_low_stack_{0};
  std::atomic<uint64_t> locked_lookups_{0};
  EvidenceCapture* scratch_ = nullptr;          // kScratchRecords records
  std::atomic<uint64_t> scratch_in_use_{0};     // a bit per record
  std::atomic<uint64_t> removals_{0};  // nodes removed so far (invalidates seen_sets)
  std::atomic<uint64_t>* known_acquisitions_ = nullptr;  // kKnownAcquisitions keys, 0 empty
};

// A scratch record for the scope; null when none is free (the caller then does without
// evidence, or captures less).
class ScratchCapture {
 public:
  explicit ScratchCapture(Detector& d) : detector_(d), record_(d.claim_scratch()) {}
  ~ScratchCapture() {
    if (record_) detector_.release_scratch(record_);
  }
  ScratchCapture(const ScratchCapture&) = delete;
  ScratchCapture& operator=(const ScratchCapture&) = delete;
  EvidenceCapture* get() const { return record_; }

 private:
  Detector& detector_;
  EvidenceCapture* record_;
};

}  // namespace gilwatch
