// crash_report: a process that gets a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
// SIGABRT, SIGTRAP, SIGSYS) records a `crash` finding before it dies, as the sanitizers
// do: the faulting thread's native stack (from the faulting frame outwards) and Python
// frames, and what every other thread waits for (hang_report.h does the work).
//
// Chaining, so that the program behaves as without gilwatch:
// - installed at start-up, before the program runs, for each of those signals whose
//   disposition is not SIG_IGN; a handler the program installs later replaces this one
//   (gilwatch does not hook sigaction). A program that recovers from the signal in its
//   own handler (siglongjmp) then gets no finding; one that chains to the handler it
//   found (Python's faulthandler does) reaches this one after its own work;
// - the handler records the finding once, puts back the disposition it found at start-up,
//   and hands the signal on: to that handler if it was one (same siginfo and context),
//   else raises it again with the default action, so the process ends exactly as it
//   would have (same signal, same core dump, same exit status).
// Reading the Python frames of a crashed interpreter may fault again: that read is
// guarded (a second fault there abandons the frames, not the report).
#pragma once

namespace gilwatch::preload {

// Installs the handlers when g_options.crash_report is set. Call once at start-up,
// after the detector exists.
void install_crash_report();

}  // namespace gilwatch::preload
