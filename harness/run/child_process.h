// child_process: the one way `gilwatch run` and `gilwatch stress` start what they test and
// wait for it. The command (supervisor.h's SupervisedCommand: argv, environment, working
// directory, stdio, process group, signals) starts under a supervisor, so that nothing it
// starts outlives gilwatch; how long it may run and what gilwatch does meanwhile is
// SupervisionLimits.
//
// - `run`: no timeout; CMD stays in gilwatch's process group and inherits its stdio; the
//   signals gilwatch receives go on to it (forward_signals), so stopping gilwatch stops
//   the command and gilwatch still writes the report afterwards. With --timeout, as
//   stress does at its timeout; a SIGTERM sent to gilwatch first asks for a hang report
//   (report_on_terminate).
// - `stress`: each run in a process group of its own, its output in files, under a
//   timeout. At the timeout the group is first sent the library's hang signal (each
//   process under libgilwatch.so then writes a `hang` finding with the stacks of all its
//   threads), given a moment to write it, then killed with SIGKILL as a group: a
//   grandchild that ignores SIGTERM goes too. The stop flag abandons the run at once.
//
// After every run, also one that ended by itself, the supervisor ends whatever is left of
// it — in its group or not (setsid, double fork) — so a daemon a run started does not
// outlive it. sweep_orphans() (supervisor.h) is the last net, for a supervisor that was
// killed itself.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>

#include "supervisor.h"

namespace gilwatch::harness {

struct SupervisionLimits {
  // Zero: CMD may run as long as it likes.
  std::chrono::milliseconds timeout{0};
  int hang_signal = 0;                          // sent at the timeout (0: kill without asking for a report)
  std::chrono::milliseconds hang_grace{1000};   // how long the report may take
  // Set (and `stop_fd` made readable) to abandon the run: its group is killed at once.
  const std::atomic<bool>* stop = nullptr;
  int stop_fd = -1;
  // While CMD runs, SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to gilwatch are sent on to
  // CMD's process group (the processes of it that gilwatch started). Signals a terminal
  // sends to its foreground process group (Ctrl-C, Ctrl-\) are not repeated: CMD, in
  // that group too, received its own copy, and a second one would interrupt its clean-up.
  // Dispositions are restored before returning. Process-wide: for one run at a time.
  bool forward_signals = false;
  // With forward_signals and a hang_signal: a SIGTERM sent to gilwatch first asks CMD's
  // group for a hang report (hang_signal), waits up to hang_grace for CMD to end, then goes
  // on to the group as SIGTERM. A second SIGTERM goes on at once.
  bool report_on_terminate = false;
};

struct ChildOutcome {
  bool started = false;  // false: CMD could not be started, see exec_errno
  int exec_errno = 0;
  pid_t pid = 0;         // CMD (also its process group id when it has its own)
  int wait_status = 0;   // as waitpid returned it, when started
  int leftovers = 0;     // processes still running when CMD ended, which the supervisor ended
  bool timed_out = false;
  bool interrupted = false;  // stopped through SupervisionLimits::stop
  bool terminated = false;   // gilwatch was sent SIGTERM (report_on_terminate) while CMD ran
  std::chrono::milliseconds duration{0};
};

// Starts `command` under a supervisor and waits until it and everything it left are gone,
// within `limits`.
ChildOutcome run_supervised(const SupervisedCommand& command, const SupervisionLimits& limits);

// The shell's convention: the exit code, or 128 + N for a child killed by signal N.
int exit_status_of(int wait_status);

}  // namespace gilwatch::harness
