#include "process_group.h"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "supervisor.h"

namespace gilwatch::harness {

namespace {

using Clock = std::chrono::steady_clock;

enum class WaitResult { kEnded, kTimedOut, kStopped };

// Waits until the run has ended (its supervisor's socket is readable), `deadline` passes
// or the stop flag is set.
WaitResult wait_for_end(const Supervised& run, Clock::time_point deadline, const GroupLimits& limits) {
  for (;;) {
    pollfd ended = {run.fd, POLLIN, 0};
    if (poll(&ended, 1, 0) > 0) return WaitResult::kEnded;
    if (limits.stop && limits.stop->load()) return WaitResult::kStopped;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return WaitResult::kTimedOut;
    pollfd fds[2] = {{run.fd, POLLIN, 0}, {limits.stop_fd, POLLIN, 0}};
    // The stop descriptor is never drained: once readable it wakes every waiter.
    poll(fds, limits.stop_fd >= 0 ? 2 : 1, int(std::min<long>(left, 1000)));
  }
}

}  // namespace

GroupOutcome run_in_group(const GroupCommand& command, const GroupLimits& limits) {
  GroupOutcome outcome;
  SupervisedCommand supervised;
  supervised.argv = command.argv;
  supervised.environment = command.environment;
  supervised.working_directory = command.working_directory;
  supervised.stdin_path = "/dev/null";
  supervised.stdout_path = command.stdout_path;
  supervised.stderr_path = command.stderr_path;
  // Its own group (so it can be killed as one, and a terminal's Ctrl-C reaches only
  // gilwatch), default dispositions for what gilwatch catches, nothing blocked.
  supervised.own_process_group = true;
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD}) sigaddset(&defaults, s);
  supervised.default_signals = &defaults;
  supervised.leftover_grace = std::chrono::milliseconds(0);

  Clock::time_point start = Clock::now();
  Supervised run;
  int error = 0;
  if (!start_supervised(supervised, &run, &error)) {
    outcome.spawn_errno = error;
    return outcome;
  }
  if (run.exec_errno != 0) {
    outcome.spawn_errno = run.exec_errno;
    finish_supervised(&run);
    return outcome;
  }
  outcome.started = true;
  outcome.pid = run.pid;

  WaitResult result = wait_for_end(run, start + limits.timeout, limits);
  if (result == WaitResult::kTimedOut) {
    outcome.timed_out = true;
    if (limits.hang_signal > 0) {
      signal_supervised(run, limits.hang_signal);
      // Ends early when the run ends (or when the user stops everything).
      result = wait_for_end(run, Clock::now() + limits.hang_grace, limits);
    }
  } else if (result == WaitResult::kStopped) {
    outcome.interrupted = true;
  }
  // Whatever is left of the group goes at once; the supervisor then ends what left the
  // group, and reaps it all.
  if (result != WaitResult::kEnded) signal_supervised(run, SIGKILL);
  outcome.wait_status = finish_supervised(&run).wait_status;
  outcome.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return outcome;
}

void become_subreaper() { prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

int sweep_orphans() {
  int killed = 0;
  pid_t self = getpid();
  siginfo_t any{};
  if (waitid(P_ALL, 0, &any, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD) return 0;
  // Children are found in /proc (their stat's ppid field); kill them all, then reap.
  if (DIR* proc = opendir("/proc")) {
    while (dirent* entry = readdir(proc)) {
      char* end = nullptr;
      long pid = std::strtol(entry->d_name, &end, 10);
      if (pid <= 0 || *end) continue;
      char path[64];
      std::snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
      FILE* stat = std::fopen(path, "re");
      if (!stat) continue;
      char line[512] = {};
      bool read = std::fgets(line, sizeof(line), stat) != nullptr;
      std::fclose(stat);
      if (!read) continue;
      // "pid (comm) state ppid ...": comm may contain spaces and parentheses.
      const char* after_comm = std::strrchr(line, ')');
      char state = 0;
      long ppid = 0;
      if (!after_comm || std::sscanf(after_comm + 1, " %c %ld", &state, &ppid) != 2 || ppid != self) continue;
      if (state != 'Z') {
        kill(pid_t(pid), SIGKILL);
        ++killed;
      }
    }
    closedir(proc);
  }
  int status;
  while (waitpid(-1, &status, killed ? 0 : WNOHANG) > 0) {
  }
  return killed;
}

}  // namespace gilwatch::harness
