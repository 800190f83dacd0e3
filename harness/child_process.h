// child_process: runs the command under test as a child of `gilwatch run` and waits for
// it, passing on the signals gilwatch receives so that stopping gilwatch stops the
// command (and gilwatch still writes the report afterwards).
#pragma once

#include <string>
#include <vector>

namespace gilwatch::harness {

struct ChildOutcome {
  bool started = false;  // false: exec failed, see exec_errno
  int exec_errno = 0;
  int wait_status = 0;   // as waitpid returned it, when started
};

// Runs argv (argv[0] searched in PATH, as a shell would) with exactly `environment`
// (NAME=value strings), and waits for it to end.
//
// While it runs, SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to gilwatch are sent on to the
// child. Signals a terminal sends to its foreground process group (Ctrl-C, Ctrl-\) are not
// repeated when the child is in gilwatch's process group: it received its own copy, and
// a second one would interrupt its clean-up. Dispositions are restored before returning.
ChildOutcome run_and_wait(const std::vector<std::string>& argv, const std::vector<std::string>& environment);

// The shell's convention: the exit code, or 128 + N for a child killed by signal N.
int exit_status_of(int wait_status);

}  // namespace gilwatch::harness
