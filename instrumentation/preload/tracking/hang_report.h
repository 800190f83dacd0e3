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
#pragma once

namespace gilwatch::preload {

// Installs the handler when g_options.hang_signal is set. Call once at start-up.
void install_hang_report();

}  // namespace gilwatch::preload
