// child_process: runs the command under test for `gilwatch run` and waits for it, passing
// on the signals gilwatch receives so that stopping gilwatch stops the command (and
// gilwatch still writes the report afterwards), and ending what the command leaves
// behind, so that nothing gilwatch started outlives it (supervisor.h).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace gilwatch::harness {

struct ChildOutcome {
  bool started = false;  // false: exec failed, see exec_errno
  int exec_errno = 0;
  int wait_status = 0;   // as waitpid returned it, when started
  int leftovers = 0;     // processes still running when the command ended, which were ended
};

// How long processes the command left running get after SIGTERM before SIGKILL.
inline constexpr std::chrono::milliseconds kLeftoverGrace{2000};

// Runs argv (argv[0] searched in PATH, as a shell would) with exactly `environment`
// (NAME=value strings) under a supervisor, in gilwatch's process group, and waits for it
// to end and for what it left to be ended (SIGTERM, kLeftoverGrace, SIGKILL).
//
// While it runs, SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to gilwatch are sent on to the
// command's process group (the processes of it that gilwatch started). Signals a terminal
// sends to its foreground process group (Ctrl-C, Ctrl-\) are not repeated: the command
// received its own copy, and a second one would interrupt its clean-up. If gilwatch is
// killed, the supervisor kills everything. Dispositions are restored before returning.
ChildOutcome run_and_wait(const std::vector<std::string>& argv, const std::vector<std::string>& environment);

// The shell's convention: the exit code, or 128 + N for a child killed by signal N.
int exit_status_of(int wait_status);

}  // namespace gilwatch::harness
