// The per-process results file: written by libgilwatch.so inside the process under test,
// read by the `gilwatch` command (harness/results/results_reader). This header is the one place
// that defines the format; both sides use these names.
//
// Every key below is a constant of namespace `key` (GILWATCH_RESULT_KEYS), every finding
// kind a row of GILWATCH_FINDING_KINDS with who writes it; tests/unit/test_results_round_trip
// runs each writer (the library's, the harness's, pyhooks/gilwatch/results.py) into the
// reader for every kind and refuses a key or a kind that is not listed here.
//
// File: <out_dir>/gilwatch.<pid>.<start-ns>.json — one per process image (a fork child
// gets its own; an exec'd image starts a new one). The library rewrites the whole file
// (write to "<name>.tmp", then rename) whenever it reports a new finding and at exit, so
// a process that hangs and is killed still leaves what it found.
//
// Version 1, UTF-8 JSON. Addresses are strings "0x..." (they exceed 2^53). Strings that
// came from the process under test (paths, names, Python reprs) are JSON-escaped by the
// writer and must be treated as untrusted by every renderer.
//
// {
//   "format": "gilwatch-process-results",
//   "version": 1,
//   "reporter": "library",                    // optional: "library" (default), "pyhooks"
//                                             // (gilwatch.<pid>.pyhooks|pytest.json: leak and
//                                             // speed-up findings) or "harness" (gilwatch.<pid>.
//                                             // harness.json: a stress run's crash or hang)
//   "pid": 1234, "ppid": 1200,
//   "argv": ["python3", "drive.py"],
//   "exe": "/usr/bin/python3.11",
//   "state": "running" | "exited",          // "running": snapshot written at a finding
//   "exit_status": 0,                         // only when state == "exited"
//   "python": {"loaded": true, "version": "3.11.2 (main, ...)",
//              "tested": true,                // version and the rest: when an interpreter
//                                             // was found; tested: among the versions
//                                             // docs/support.md lists as tested
//              "free_threaded": false,        // a free-threaded build (3.13t+): no GIL
//              "checks_off": []},             // checks that do not apply to this build
//                                             // ("gil-held-blocking", ...; free_threading.h)
//   "untracked_low_stack": 0,                  // lock acquisitions whose new lock-order
//                                              // edges were not recorded: too little
//                                              // stack left (docs/design.md)
//   "capacity_warnings": [                     // fixed capacities that overflowed (absent
//     {"capacity": "held_locks_per_thread",    // or empty: none); names: kCapacity* below
//      "limit": 512, "lost": 3,
//      "lost_what": "lock acquisitions not tracked"}],
//   "modules": [                              // for symbolizing native frames later
//     {"path": "/usr/lib/x86_64-linux-gnu/libc.so.6", "load_bias": "0x7f00...",
//      "segments": [["0x7f00...", "0x7f01..."]]}   // executable PT_LOAD ranges
//   ],
//   "findings": [
//     {
//       "kind": "lock-order-inversion",
//       "summary": "lock-order inversion between the GIL and rwlock 0x55...",
//       "cycle_length": 70,                       // only when the cycle was longer than the
//                                                 // locks listed (cut; the last edge leads
//                                                 // to the first lock left out)
//       "locks": [
//         {"id": 0, "name": "GIL", "kind": "gil", "address": "0x0",
//          "first_site": ["0x..."]},              // raw return addresses, innermost first
//         {"id": 1, "name": "", "kind": "rwlock", "address": "0x55...",
//          "first_site": ["0x..."]}
//       ],
//       "edges": [                                  // the cycle, in order: from -> to
//         {"from": 0, "to": 1,                      // ids from "locks"
//          "held_mode": "write", "acquired_mode": "write",
//          "thread": {"tid": 1235, "name": "python3"},
//          "stack": ["0x...", ...],                 // where "to" was taken holding "from"
//          "python_frames": [{"function": "register", "file": "drive.py", "line": 12}]}
//       ],
//       "count": 3,                                 // optional: times this cycle closed
//                                                   // (the same code, other lock instances)
//       "instances": [                              // optional: those other instances (the
//         {"addresses": ["0x0", "0x55..."],         // first 24): each lock's address, in the
//          "tids": [1235, 1236]}                    // order of "locks", and each edge's thread
//       ]
//     },
//     {                                             // every other kind: no "edges"
//       "kind": "deadlock",
//       "summary": "deadlock: 2 threads wait for each other: ...",
//       "probable": false,                          // inferred (condvar/futex), not proven
//       "count": 1,                                 // occurrences in this process
//       "longest_wait_ms": 250,                     // timed kinds only
//       "detail": "join,gil",                       // kind-specific, optional
//       "futex_wait": "short",                      // gil-held-blocking on a futex word
//                                                   // (its lock of kind "futex"): "short"
//                                                   // (under gil_blocking_ms) or "long"
//       "holders_need_gil": false,                  // with futex_wait: a thread was seen to
//                                                   // hold the word while it asked for the
//                                                   // GIL (it woke the word afterwards)
//       "context": "tests/test_x.py::test_y",       // optional: what the process was doing
//                                                   // (gilwatch_set_context) when reported
//       "locks": [ ...as above... ],
//       "threads": [
//         {"tid": 1235, "name": "python3", "role": "joins thread 1236 while holding the GIL",
//          "waits_for": 1,                          // optional: id of the lock it waits for
//          "holds": [0],                            // optional: ids of the locks it holds
//          "blocked_ms": 250,                       // optional: how long its wait had lasted
//          "owner_known": false,                    // optional: false for a futex word's
//                                                   // waiter (a word has no owner to name)
//          "stack": ["0x...", ...], "python_frames": [...]}
//       ]
//     }
//   ],
//   "profiles": {                                 // only with the profile option
//     "locks": [        // per kind and first site; the 64 waited for longest, then most taken
//       {"kind": "mutex", "first_site": ["0x..."], "locks": 64,   // locks grouped here
//        "acquisitions": 80000, "contended": 4935,  // contended: had to wait
//        "wait_total_ns": 268729702, "wait_max_ns": 3704480,
//        "holds": 80000, "hold_total_ns": 90013487, "hold_max_ns": 249973,
//        "wait_histogram": [[bucket, count], ...],  // buckets: gilwatch/duration_buckets.h
//        "hold_histogram": [[bucket, count], ...],
//        "waiters": [{"tid": 1236, "name": "worker", "wait_ns": 3704480, "stack": ["0x...", ...]}]}
//     ],
//     "locks_not_listed": 0,                      // locks of the entries beyond the 64 listed
//     "locks_not_profiled": 0,                    // locks the profile table had no room for
//     "gil": {"observed": true,                   // the GIL's hand-offs were seen
//             "wall_ns": 531000000, "takes": 99, "contended_takes": 98,
//             "held_ns": 496000000, "waited_ns": 503000000,
//             "hold_histogram": [[bucket, count], ...], "wait_histogram": [...],
//             "threads": [{"tid": 4251, "name": "worker-0", "takes": 48, "contended_takes": 48,
//                          "held_ns": 247000000, "waited_ns": 247000000,
//                          "longest_hold_ns": 10200000, "longest_wait_ns": 10300000}],
//             "threads_not_profiled": 0,
//             "sites": [{"api": "PyEval_SaveThread", "site": ["0x..."], "calls": 200,
//                        "wait_total_ns": 0, "wait_max_ns": 0,          // takes
//                        "holds_timed": 200, "held_total_ns": 155454, "held_max_ns": 12028,  // drops
//                        "sections": 200, "released_total_ns": 645787576, "released_max_ns": 19346305,
//                        "takes_inside": 40000, "capi_calls_inside": 80000,
//                        "capi_inside": ["PyLong_FromUnsignedLongLong", "_Py_Dealloc"]}],
//             "sites_not_profiled": 0,
//             "long_holds": [{"site": ["0x..."], "holds": 50,  // site []: no extension call seen
//                             "held_total_ns": 261000000, "held_max_ns": 5280000}]}
//   },
//   "stats": {"locks_tracked": 12, "edges": 30, "overflow": []}
// }
#pragma once

// Every key of the file, X(constant, "key"). A key means the same wherever it appears
// ("locks": a finding's locks, or a profile entry's count of locks grouped in it).
#define GILWATCH_RESULT_KEYS(X) \
  X(kFormat, "format") \
  X(kVersion, "version") \
  X(kReporter, "reporter") \
  X(kPid, "pid") \
  X(kPpid, "ppid") \
  X(kArgv, "argv") \
  X(kExe, "exe") \
  X(kState, "state") \
  X(kExitStatus, "exit_status") \
  X(kPython, "python") \
  X(kLoaded, "loaded") \
  X(kTested, "tested") \
  X(kFreeThreaded, "free_threaded") \
  X(kChecksOff, "checks_off") \
  X(kUntrackedLowStack, "untracked_low_stack") \
  X(kCapacityWarnings, "capacity_warnings") \
  X(kCapacity, "capacity") \
  X(kLimit, "limit") \
  X(kLost, "lost") \
  X(kLostWhat, "lost_what") \
  X(kCycleLength, "cycle_length") \
  X(kModules, "modules") \
  X(kPath, "path") \
  X(kLoadBias, "load_bias") \
  X(kSegments, "segments") \
  X(kFindings, "findings") \
  X(kKind, "kind") \
  X(kSummary, "summary") \
  X(kLocks, "locks") \
  X(kId, "id") \
  X(kName, "name") \
  X(kAddress, "address") \
  X(kFirstSite, "first_site") \
  X(kEdges, "edges") \
  X(kInstances, "instances") \
  X(kAddresses, "addresses") \
  X(kTids, "tids") \
  X(kFrom, "from") \
  X(kTo, "to") \
  X(kHeldMode, "held_mode") \
  X(kAcquiredMode, "acquired_mode") \
  X(kThread, "thread") \
  X(kTid, "tid") \
  X(kStack, "stack") \
  X(kPythonFrames, "python_frames") \
  X(kFunction, "function") \
  X(kFile, "file") \
  X(kLine, "line") \
  X(kEnteredFromC, "entered_from_c") \
  X(kLoopPc, "loop_pc") \
  X(kProbable, "probable") \
  X(kCount, "count") \
  X(kLongestWaitMs, "longest_wait_ms") \
  X(kDetail, "detail") \
  X(kContext, "context") \
  X(kThreads, "threads") \
  X(kRole, "role") \
  X(kWaitsFor, "waits_for") \
  X(kHolds, "holds") \
  X(kBlockedMs, "blocked_ms") \
  X(kOwnerKnown, "owner_known") \
  X(kFutexWait, "futex_wait") \
  X(kHoldersNeedGil, "holders_need_gil") \
  X(kProfiles, "profiles") \
  X(kAcquisitions, "acquisitions") \
  X(kContended, "contended") \
  X(kWaitTotalNs, "wait_total_ns") \
  X(kWaitMaxNs, "wait_max_ns") \
  X(kHoldTotalNs, "hold_total_ns") \
  X(kHoldMaxNs, "hold_max_ns") \
  X(kWaitHistogram, "wait_histogram") \
  X(kHoldHistogram, "hold_histogram") \
  X(kWaiters, "waiters") \
  X(kWaitNs, "wait_ns") \
  X(kLocksNotListed, "locks_not_listed") \
  X(kLocksNotProfiled, "locks_not_profiled") \
  X(kGil, "gil") \
  X(kObserved, "observed") \
  X(kWallNs, "wall_ns") \
  X(kTakes, "takes") \
  X(kContendedTakes, "contended_takes") \
  X(kHeldNs, "held_ns") \
  X(kWaitedNs, "waited_ns") \
  X(kLongestHoldNs, "longest_hold_ns") \
  X(kLongestWaitNs, "longest_wait_ns") \
  X(kThreadsNotProfiled, "threads_not_profiled") \
  X(kSites, "sites") \
  X(kApi, "api") \
  X(kSite, "site") \
  X(kCalls, "calls") \
  X(kHoldsTimed, "holds_timed") \
  X(kHeldTotalNs, "held_total_ns") \
  X(kHeldMaxNs, "held_max_ns") \
  X(kSections, "sections") \
  X(kReleasedTotalNs, "released_total_ns") \
  X(kReleasedMaxNs, "released_max_ns") \
  X(kTakesInside, "takes_inside") \
  X(kCapiCallsInside, "capi_calls_inside") \
  X(kCapiInside, "capi_inside") \
  X(kSitesNotProfiled, "sites_not_profiled") \
  X(kLongHolds, "long_holds") \
  X(kStats, "stats") \
  X(kLocksTracked, "locks_tracked") \
  X(kFindingsDropped, "findings_dropped") \
  X(kReadOnlyCyclesDismissed, "read_only_cycles_dismissed") \
  X(kThreadsExitedHoldingLocks, "threads_exited_holding_locks") \
  X(kOverflow, "overflow")

// Every finding kind (DESIGN.md's table): X(constant, "kind", writers, meaning). `writers`:
// who writes findings of the kind (Writer below). The reader accepts every kind; a kind
// added here without a writer, or a writer without a row here, fails the round-trip test.
#define GILWATCH_FINDING_KINDS(X) \
  X(kLockOrderInversion, "lock-order-inversion", kLibrary, "two or more locks (the GIL counts as one) taken in conflicting orders: a potential deadlock") \
  X(kDeadlock, "deadlock", kLibrary, "threads that are blocked right now in a wait-for cycle, or a thread asking for a rwlock it holds") \
  X(kGilHeldBlocking, "gil-held-blocking", kLibrary, "a thread blocks (condvar, join, lock, futex, sleep) while holding the GIL") \
  X(kCapiWithoutGil, "capi-without-gil", kLibrary, "a Python C API call from a thread that does not hold the GIL") \
  X(kFinalizationAttach, "finalization-attach", kLibrary, "a native thread takes the GIL while the interpreter is finalizing, or one that attached is still running when finalization begins") \
  X(kAbandonedLock, "abandoned-lock", kLibrary, "a thread ended (or unwound) while holding a lock") \
  X(kRustPanic, "rust-panic", kLibrary, "a Rust panic with the GIL held, reaching Python, or on a native thread") \
  X(kForkWithLockHeld, "fork-with-lock-held", kLibrary, "fork() while another thread held a lock the child inherits locked") \
  X(kThreadLeak, "thread-leak", kLibrary | kPyhooks, "threads that remain after teardown") \
  X(kFdLeak, "fd-leak", kPyhooks, "fds that remain open after teardown") \
  X(kCrash, "crash", kLibrary | kHarness, "a process that died on a signal or a fatal error") \
  X(kHang, "hang", kLibrary | kPyhooks | kHarness, "a process that outlived its timeout, or a teardown over its time limit") \
  X(kLowSpeedup, "low-speedup", kPyhooks, "a parallel scenario scaled below its target")

namespace gilwatch::result_format {

inline constexpr const char* kFormatName = "gilwatch-process-results";
inline constexpr int kVersion = 1;
inline constexpr const char* kFilePrefix = "gilwatch.";
inline constexpr const char* kFileSuffix = ".json";

// Who writes a results file ("reporter"), and who writes findings of a kind.
inline constexpr const char* kReporterLibrary = "library";  // the default when "reporter" is absent
inline constexpr const char* kReporterPyhooks = "pyhooks";
inline constexpr const char* kReporterHarness = "harness";
enum Writer : unsigned { kLibrary = 1, kPyhooks = 2, kHarness = 4 };

// Values of "state".
inline constexpr const char* kStateRunning = "running";
inline constexpr const char* kStateExited = "exited";

namespace key {
#define GILWATCH_RESULT_KEY_CONSTANT(constant, text) inline constexpr const char* constant = text;
GILWATCH_RESULT_KEYS(GILWATCH_RESULT_KEY_CONSTANT)
#undef GILWATCH_RESULT_KEY_CONSTANT
}  // namespace key

// Every key, for checks that a document uses no other.
inline constexpr const char* kAllKeys[] = {
#define GILWATCH_RESULT_KEY_TEXT(constant, text) text,
    GILWATCH_RESULT_KEYS(GILWATCH_RESULT_KEY_TEXT)
#undef GILWATCH_RESULT_KEY_TEXT
};

// Finding kinds, one constant each (kDeadlock == "deadlock"), and the list of them.
#define GILWATCH_FINDING_KIND_CONSTANT(constant, text, writers, meaning) inline constexpr const char* constant = text;
GILWATCH_FINDING_KINDS(GILWATCH_FINDING_KIND_CONSTANT)
#undef GILWATCH_FINDING_KIND_CONSTANT

struct FindingKindInfo {
  const char* name;
  unsigned writers;  // Writer bits
  const char* meaning;
};
inline constexpr FindingKindInfo kFindingKinds[] = {
#define GILWATCH_FINDING_KIND_ROW(constant, text, writers, meaning) {text, writers, meaning},
    GILWATCH_FINDING_KINDS(GILWATCH_FINDING_KIND_ROW)
#undef GILWATCH_FINDING_KIND_ROW
};

// A gil-held-blocking finding's detail for a futex wait shorter than gil_blocking_ms
// (its "futex_wait" is kFutexWaitShort): written by the library, judged by `gilwatch`
// once the symbolized stack names the lock (harness/results/futex_rules.h), never shown.
inline constexpr const char* kDetailShortFutexWait = "futex wait (short)";
inline constexpr const char* kDetailFutexWait = "futex wait";

// A rust-panic finding's detail for a panic on a thread Python never saw
// (engine/panic_rules.h). The library records it when the thread ends after a caught
// panic, with a thread entry whose role is kRoleNativePanicCaught and whose stack is
// where the panic was caught; `gilwatch` keeps it only when that stack shows std's thread
// wrapper caught it (panic_rules::native_panic_is_finding). The library does not print it.
inline constexpr const char* kDetailNativeThreadPanic = "native-thread";
inline constexpr const char* kRoleNativePanicCaught = "caught the panic here, outside or inside the thread's function";

// Values of "futex_wait".
inline constexpr const char* kFutexWaitShort = "short";
inline constexpr const char* kFutexWaitLong = "long";

// What a deadlock role says of a futex word in the library's words (the library's own
// stderr report); `gilwatch` composes the role from the thread's fields instead, naming
// the lock the waiter's symbolized stack shows ("(std::sync::RwLock, write)").
inline constexpr const char* kUnnamedFutexWord = "(a lock that is not a pthread lock)";
// ...and what a probable deadlock's summary says of the object its GIL holder waits on.
inline constexpr const char* kOwnerlessObject = "an object with no known owner";

// Fixed capacities of the library, as "capacity_warnings" names them (docs/findings-format.md).
inline constexpr const char* kCapacityHeldLocks = "held_locks_per_thread";
inline constexpr const char* kCapacityDeepHeldBlocks = "deep_held_blocks";
inline constexpr const char* kCapacityCycleLocks = "cycle_locks";
inline constexpr const char* kCapacityCycleSearch = "cycle_search";
inline constexpr const char* kCapacityCycleFindings = "cycle_findings";
inline constexpr const char* kCapacityEventFindings = "event_findings";
inline constexpr const char* kCapacityCycleSignatures = "cycle_signatures";
inline constexpr const char* kCapacityLockGraphNodes = "lock_graph_nodes";
inline constexpr const char* kCapacityLockTable = "lock_table";
inline constexpr const char* kCapacityLockGraphEdges = "lock_graph_edges";
inline constexpr const char* kCapacityNativeStacks = "native_stacks";
inline constexpr const char* kCapacityPythonStacks = "python_stacks";
inline constexpr const char* kCapacityScratchRecords = "scratch_records";
inline constexpr const char* kCapacityGilWords = "gil_needing_futex_words";
inline constexpr const char* kCapacityThreadStartRecords = "thread_start_records";
inline constexpr const char* kCapacityWatchedThreads = "watched_threads";

// Lock kinds.
inline constexpr const char* kLockKindGil = "gil";
inline constexpr const char* kLockKindMutex = "mutex";
inline constexpr const char* kLockKindRwlock = "rwlock";
inline constexpr const char* kLockKindFutex = "futex";

// Acquisition modes.
inline constexpr const char* kModeRead = "read";
inline constexpr const char* kModeWrite = "write";

}  // namespace gilwatch::result_format
