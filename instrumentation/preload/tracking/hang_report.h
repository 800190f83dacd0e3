// hang_report: on the hang_signal option's signal, the process reports what every
// thread is doing — a `hang` finding with each thread's stack, what it waits for (when
// it waits in a call the preload wraps), since when, and what it holds. `gilwatch
// stress` sends the signal to a run's process group at its timeout, just before
// killing it, so a hang comes with a diagnosis instead of a bare "timed out".
//
// The signal arrives at one thread (the coordinator); it asks every registered thread
// for its stack with a thread-directed copy of the same signal, each answers from its
// handler into a global table, and the coordinator records the finding and rewrites
// the results file. Stack capture is all a handler does on the other threads. The
// coordinator needs engine locks: if its own thread holds one (the signal interrupted
// the engine), the work is deferred until that thread's last engine lock is released
// (spin_lock.h), so it never waits for itself.
//
// A crash report (crash_report.cpp) is the same report made by the thread that crashed,
// from its fatal signal's handler: the crashing thread comes first, with its stack from
// the faulting frame outwards and its Python frames; the others as in a hang report
// (their stacks asked for with the hang signal when it is configured, else the stacks
// of the waits they are in).
#pragma once

#include <cstdint>

namespace gilwatch::preload {

// Installs the handler when g_options.hang_signal is set. Call once at start-up.
void install_hang_report();

// What the crash handler knows of the crash, for report_crash.
struct CrashNote {
  int signal;
  bool has_address;        // a fault with an address (si_addr)
  uintptr_t address;
  uint32_t python_stack;   // the crashing thread's Python frames, interned (0: none)
};

// On the crashing thread, from its signal handler, with no engine lock held by it:
// records the `crash` finding and rewrites the results file. Returns false when it could
// not (no detector, or another report in progress).
bool report_crash(const CrashNote& note);

// Notes the signal trampoline installed with the handler of `sig` (glibc's __restore_rt),
// so that a stack captured inside a handler starts at the interrupted frame.
void note_signal_restorer(int sig);

}  // namespace gilwatch::preload
