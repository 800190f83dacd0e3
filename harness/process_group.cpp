#include "process_group.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace gilwatch::harness {

namespace {

using Clock = std::chrono::steady_clock;

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// A descriptor that becomes readable when `pid` ends (Linux 5.3+), or -1.
int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) {
    fcntl(int(fd), F_SETFD, FD_CLOEXEC);
    return int(fd);
  }
#endif
  return -1;
}

// Whether `pid` has ended (its zombie is still there for waitpid).
bool has_ended(pid_t pid) {
  siginfo_t info{};
  return waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

enum class WaitResult { kEnded, kTimedOut, kStopped };

// Waits until `pid` ends (without reaping it), `deadline` passes or the stop flag is set.
WaitResult wait_for_end(pid_t pid, int pidfd, Clock::time_point deadline, const GroupLimits& limits) {
  for (;;) {
    if (has_ended(pid)) return WaitResult::kEnded;
    if (limits.stop && limits.stop->load()) return WaitResult::kStopped;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return WaitResult::kTimedOut;
    if (pidfd >= 0) {
      pollfd fds[2] = {{pidfd, POLLIN, 0}, {limits.stop_fd, POLLIN, 0}};
      // The stop descriptor is never drained: once readable it wakes every waiter.
      poll(fds, limits.stop_fd >= 0 ? 2 : 1, int(std::min<long>(left, 1000)));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<long>(left, 5)));
    }
  }
}

// Kills what is left of the group and reaps the leader, then the members that were
// reparented to us. A member whose parent is still alive when it dies is that parent's
// to reap; the kernel then hands it to us and sweep_orphans() collects it.
int kill_and_reap(pid_t pid) {
  killpg(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  auto until = Clock::now() + std::chrono::seconds(2);
  while (Clock::now() < until) {
    int member_status;
    pid_t reaped = waitpid(-pid, &member_status, WNOHANG);
    if (reaped > 0) continue;
    if (reaped < 0 && errno == EINTR) continue;
    if (reaped < 0) break;  // ECHILD: none of our children is left in the group
    if (killpg(pid, 0) < 0) break;  // nothing of the group is alive any more
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return status;
}

}  // namespace

GroupOutcome run_in_group(const GroupCommand& command, const GroupLimits& limits) {
  GroupOutcome outcome;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, command.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, command.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (!command.working_directory.empty())
    posix_spawn_file_actions_addchdir_np(&actions, command.working_directory.c_str());
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Its own group (so it can be killed as one, and a terminal's Ctrl-C reaches only
  // gilwatch), default dispositions for what gilwatch catches, nothing blocked.
  sigset_t defaults, empty;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD}) sigaddset(&defaults, s);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setsigmask(&attributes, &empty);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> argv = c_strings(command.argv);
  std::vector<char*> envp = c_strings(command.environment);
  Clock::time_point start = Clock::now();
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], &actions, &attributes, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) {
    outcome.spawn_errno = rc;
    return outcome;
  }
  outcome.started = true;
  outcome.pid = pid;

  int pidfd = open_pidfd(pid);
  WaitResult result = wait_for_end(pid, pidfd, start + limits.timeout, limits);
  if (result == WaitResult::kTimedOut) {
    outcome.timed_out = true;
    if (limits.hang_signal > 0) {
      killpg(pid, limits.hang_signal);
      // Ends early when the run ends (or when the user stops everything).
      wait_for_end(pid, pidfd, Clock::now() + limits.hang_grace, limits);
    }
  } else if (result == WaitResult::kStopped) {
    outcome.interrupted = true;
  }
  if (pidfd >= 0) close(pidfd);
  outcome.wait_status = kill_and_reap(pid);
  outcome.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return outcome;
}

void become_subreaper() { prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

int sweep_orphans() {
  int killed = 0;
  pid_t self = getpid();
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
