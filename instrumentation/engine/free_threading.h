// free_threading: which interpreter build the process runs (with a GIL, or free-threaded:
// 3.13t and later, built with Py_GIL_DISABLED), and which checks apply to it.
//
// The preload decides from what it can read without calling Python: from 3.13 _PyRuntime
// begins with _Py_DebugOffsets { char cookie[8] = "xdebugpy"; uint64_t version;
// uint64_t free_threaded; ... }, and `free_threaded` is _Py_Debug_Free_Threaded, 1
// exactly when Py_GIL_DISABLED was defined (internal/pycore_runtime.h in 3.13,
// internal/pycore_debug_offsets.h in 3.14 and 3.15). Before 3.13 there is no
// free-threaded build; without the cookie the build is taken to have a GIL, as before.
//
// On a free-threaded build there is no GIL to hold, wait for or take in an order: the
// checks built on "the thread holds the GIL" are off (they would report a lock that is
// not there). Every check about native locks, threads, fork and teardown stays on.
// The GIL may be switched back on at run time (PYTHON_GIL=1, or an extension module
// that does not declare Py_mod_gil); the checks stay off then too: missed findings,
// never false ones. docs/design.md, "Free-threaded builds".
#pragma once

#include <cstddef>
#include <cstdint>

#include "wait_graph.h"

namespace gilwatch {

enum class PythonThreading : uint8_t {
  kGil,           // a GIL build, or nothing says otherwise
  kFreeThreaded,  // _Py_DebugOffsets.free_threaded == 1
};

// Bytes of _PyRuntime that python_threading may read.
inline constexpr std::size_t kDebugOffsetsHeaderBytes = 24;

// The build of Python `major`.`minor` whose _PyRuntime starts with `runtime` (at least
// kDebugOffsetsHeaderBytes readable bytes, or null when the symbol is not found).
PythonThreading python_threading(int major, int minor, const unsigned char* runtime);

// The checks whose applicability depends on the build.
enum class Check : uint8_t {
  // On for every build.
  kNativeLockOrder,      // lock-order-inversion between pthread locks and futex words
  kDeadlock,             // deadlock: wait-for cycles of threads blocked on native locks and joins
  kAbandonedLock,        // abandoned-lock
  kFork,                 // fork-with-lock-held
  kLeaks,                // thread-leak, fd-leak
  kContentionProfile,    // the native locks' contention profile (profile=1)
  kFinalizationAttach,   // a thread attaching during finalization: free-threaded builds attach too
  kRustPanic,            // rust-panic (its "with the GIL held" form needs kGilHeldBlocking's question)
  // Off on a free-threaded build: each assumes a GIL that a thread holds or waits for.
  kGilLockOrder,         // the GIL as a node of the lock-order graph (GIL -> lock, lock -> GIL)
  kGilHeldBlocking,      // gil-held-blocking
  kCapiWithoutGil,       // capi-without-gil (the C API trampolines)
  kGilWaitFor,           // a GIL waiter waiting for the GIL's holder in the wait-for graph
  kGilProfile,           // the GIL's hand-offs and holds in the contention profile
  kCount
};

// Does `check` apply to an interpreter of build `threading`?
bool check_applies(Check check, PythonThreading threading);

// The name the results file and findings.json use for `check` ("gil-held-blocking").
const char* check_name(Check check);

// The runtime model of a free-threaded build (unit-tested here; not yet fed by the
// preload, which has no free-threaded interpreter to be tested on: docs/design.md).
//
// Without a GIL, a thread that runs Python is "attached" to the interpreter, and some
// operations (garbage collection, fork, some sys calls) stop the world: the thread that
// asks waits until every attached thread has detached or parked, then runs alone while
// the others cannot attach. Attached threads are the shared holders of a "runtime"
// pseudo-lock and a stop-the-world request is its exclusive side. So:
// - a thread blocked on a native lock while attached stalls every pause: the pausing
//   thread waits for it ("blocked while attached" takes the place of "blocked with the
//   GIL held");
// - a thread that attaches while the world is stopped (or about to be) waits for the
//   pausing thread, which may itself be blocked on a native lock: a deadlock when that
//   lock's owner is the attaching thread, or waits for it.
enum class RuntimeRole : uint8_t {
  kDetached,        // not attached: takes no part in pauses
  kAttached,        // attached (runs Python, or native code called from it)
  kAttaching,       // waits to attach because a pause is requested or under way
  kStopRequested,   // asked for a pause; waits for the attached threads to park
  kWorldStopped,    // the pause is under way: it runs alone (and may block on a native lock)
};

const char* runtime_role_name(RuntimeRole role);

// Adds the runtime's waits to `graph`, whose nodes are the blocked threads (node i's
// role is roles[i]; their native waits are already edges): each kStopRequested thread
// waits for every blocked kAttached one, and each kAttaching thread for every thread
// that requested or holds a pause. Returns the number of edges added, or -1 when the
// graph is full.
int add_runtime_edges(WaitGraph& graph, const RuntimeRole* roles);

}  // namespace gilwatch
