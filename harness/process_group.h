// process_group: runs one stress run's command in a process group of its own, with its
// output in files, under a timeout — and leaves nothing behind.
//
// The run starts under a supervisor (supervisor.h), a child subreaper that ends what the
// run leaves behind and everything when gilwatch itself is killed. At the timeout the
// group is first sent the library's hang signal (each process under libgilwatch.so then
// writes a `hang` finding with the stacks of all its threads), given a moment to write
// it, then killed with SIGKILL as a group: a grandchild that ignores SIGTERM goes too.
// After every run, also one that ended by itself, whatever is left of it — in its group
// or not (setsid, double fork) — is killed and reaped, so a daemon a run started does not
// outlive it. sweep_orphans() is the last net, for a supervisor that was killed itself.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

namespace gilwatch::harness {

struct GroupCommand {
  std::vector<std::string> argv;         // argv[0] is searched in PATH
  std::vector<std::string> environment;  // NAME=value, exactly the child's environment
  std::string working_directory;         // empty: gilwatch's own
  std::string stdout_path, stderr_path;  // created or truncated
};

struct GroupLimits {
  std::chrono::milliseconds timeout{60000};
  int hang_signal = 0;                          // 0: kill without asking for a report
  std::chrono::milliseconds hang_grace{1000};   // how long the report may take
  // Set (and `stop_fd` made readable) to abandon the run: its group is killed at once.
  const std::atomic<bool>* stop = nullptr;
  int stop_fd = -1;
};

struct GroupOutcome {
  bool started = false;
  int spawn_errno = 0;       // when not started
  pid_t pid = 0;             // also the process group id
  int wait_status = 0;       // as waitpid returned it
  bool timed_out = false;
  bool interrupted = false;  // stopped through GroupLimits::stop
  std::chrono::milliseconds duration{0};
};

GroupOutcome run_in_group(const GroupCommand& command, const GroupLimits& limits);

// Makes this process the subreaper of its descendants (prctl PR_SET_CHILD_SUBREAPER).
void become_subreaper();

// Kills (SIGKILL) and reaps every remaining child of this process. Call only when no
// run is in progress: it reaps any child. Returns how many it killed.
int sweep_orphans();

}  // namespace gilwatch::harness
