#include "supervisor.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace gilwatch::harness {

namespace {

// Told to the supervisor when the gilwatch thread that forked it ends (with gilwatch).
constexpr int kParentDeathSignal = SIGUSR1;

enum MessageKind : int32_t { kStarted = 1, kEnded = 2, kSignal = 3 };

struct Message {
  int32_t kind = 0;
  int32_t a = 0;  // kStarted: CMD's pid; kEnded: its wait status; kSignal: the signal
  int32_t b = 0;  // kStarted: exec errno; kEnded: leftovers; kSignal: 1 = only to its catchers
};

// Everything the supervisor and CMD's child use, prepared before fork.
struct Plan {
  char** argv = nullptr;
  char** envp = nullptr;
  const char* working_directory = nullptr;
  const char* stdio[3] = {nullptr, nullptr, nullptr};
  bool own_process_group = false;
  sigset_t mask;
  sigset_t default_signals;
  long grace_ms = 0;
  pid_t parent = 0;
  pid_t parent_pgid = 0;
  int fd = -1;  // the supervisor's end of the socket
};

// ---- async-signal-safe helpers (the supervisor runs them in a fork of a threaded process)

bool send_message(int fd, const Message& m) {
  for (;;) {
    ssize_t n = send(fd, &m, sizeof(m), MSG_NOSIGNAL);
    if (n == ssize_t(sizeof(m))) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

// 1: a message; 0: the other end is closed; -1: nothing (non-blocking) or an error.
int receive_message(int fd, Message* m, int flags) {
  for (;;) {
    ssize_t n = recv(fd, m, sizeof(*m), flags);
    if (n == ssize_t(sizeof(*m))) return 1;
    if (n == 0) return 0;
    if (n < 0 && errno == EINTR) continue;
    return -1;
  }
}

long now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return long(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

char* append_number(char* out, long value) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = char('0' + value % 10);
    value /= 10;
  } while (value > 0);
  while (n > 0) *out++ = digits[--n];
  return out;
}

bool parse_number(const char** text, long* value) {
  const char* p = *text;
  bool negative = *p == '-';
  if (negative) ++p;
  if (*p < '0' || *p > '9') return false;
  long v = 0;
  while (*p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
  *value = negative ? -v : v;
  *text = p;
  return true;
}

struct ProcStat {
  char state = 0;
  pid_t ppid = 0;
  pid_t pgrp = 0;
};

// Reads /proc/PID/NAME into `text` (NUL-terminated, cut at `size` - 1 bytes).
template <std::size_t kSize>
bool read_proc_file(pid_t pid, const char* name, char (&text)[kSize]) {
  char path[40] = "/proc/";
  char* end = append_number(path + 6, pid);
  *end++ = '/';
  while (*name && end < path + sizeof(path) - 1) *end++ = *name++;
  *end = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, text, kSize - 1);
  close(fd);
  if (n <= 0) return false;
  text[n] = 0;
  return true;
}

// /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
bool read_stat(pid_t pid, ProcStat* stat) {
  char line[512];
  if (!read_proc_file(pid, "stat", line)) return false;
  const char* close_paren = nullptr;
  for (const char* p = line; *p; ++p)
    if (*p == ')') close_paren = p;
  if (!close_paren || close_paren[1] != ' ') return false;
  const char* p = close_paren + 2;
  stat->state = *p++;
  long ppid = 0, pgrp = 0;
  if (*p++ != ' ' || !parse_number(&p, &ppid) || *p++ != ' ' || !parse_number(&p, &pgrp)) return false;
  stat->ppid = pid_t(ppid);
  stat->pgrp = pid_t(pgrp);
  return true;
}

// Has PID a handler installed for `sig`? /proc/PID/status's "SigCgt:" line, in hex.
bool catches_signal(pid_t pid, int sig) {
  char text[4096];
  if (!read_proc_file(pid, "status", text)) return false;
  const char key[] = "\nSigCgt:";
  for (const char* p = text; *p; ++p) {
    const char* k = key;
    const char* q = p;
    while (*k && *q == *k) ++q, ++k;
    if (*k) continue;
    while (*q == ' ' || *q == '\t') ++q;
    unsigned long long mask = 0;
    for (; (*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f'); ++q)
      mask = (mask << 4) | unsigned(*q <= '9' ? *q - '0' : *q - 'a' + 10);
    return sig >= 1 && sig <= 64 && (mask >> (sig - 1)) & 1;
  }
  return false;
}

bool descends_from(pid_t ancestor, pid_t parent) {
  for (int depth = 0; depth < 256; ++depth) {
    if (parent == ancestor) return true;
    if (parent <= 1) return false;
    ProcStat stat;
    if (!read_stat(parent, &stat)) return false;
    parent = stat.ppid;
  }
  return false;
}

struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];
};

// Calls visit(pid) for every numeric entry of the directory (/proc, /proc/self/fd).
template <typename Visit>
void for_each_number(const char* directory, Visit visit) {
  int dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  alignas(8) char buffer[8192];
  for (;;) {
    long n = syscall(SYS_getdents64, dir, buffer, sizeof(buffer));
    if (n <= 0) break;
    for (long offset = 0; offset < n;) {
      auto* entry = reinterpret_cast<LinuxDirent64*>(buffer + offset);
      offset += entry->d_reclen;
      const char* name = entry->d_name;
      long number = 0;
      if (parse_number(&name, &number) && *name == 0 && number >= 0) visit(int(number), dir);
    }
  }
  close(dir);
}

// Calls visit(pid, stat) for every live (not zombie) descendant of `self`.
template <typename Visit>
void for_each_descendant(pid_t self, Visit visit) {
  for_each_number("/proc", [&](int pid, int) {
    if (pid == self || pid <= 1) return;
    ProcStat stat;
    if (!read_stat(pid, &stat) || stat.state == 'Z') return;
    if (descends_from(self, stat.ppid)) visit(pid_t(pid), stat);
  });
}

// Reaps every child that has ended; records CMD's status. Returns false when no child is left.
bool reap(pid_t command, int* command_status, bool* command_done) {
  for (;;) {
    int status = 0;
    pid_t reaped = waitpid(-1, &status, WNOHANG | __WALL);
    if (reaped > 0) {
      if (reaped == command) {
        *command_status = status;
        *command_done = true;
      }
      continue;
    }
    if (reaped < 0 && errno == EINTR) continue;
    return !(reaped < 0 && errno == ECHILD);
  }
}

void drain(int signal_fd) {
  signalfd_siginfo info[8];
  while (read(signal_fd, info, sizeof(info)) > 0) {
  }
}

// SIGKILLs every descendant until none is left. Orphans come back to us (we are their
// subreaper), so a process that escaped one pass is found by the next.
// Once CMD has ended, every live descendant has a child of ours among its ancestors, so
// without children there is nothing left, and /proc need not be read at all.
void kill_everything(pid_t self, int signal_fd, pid_t command, int* command_status, bool* command_done) {
  while (reap(command, command_status, command_done)) {
    for_each_descendant(self, [](pid_t pid, const ProcStat&) { kill(pid, SIGKILL); });
    pollfd fds = {signal_fd, POLLIN, 0};
    poll(&fds, 1, 100);
    drain(signal_fd);
  }
}

// Closes what the supervisor inherited from gilwatch and CMD would not (close-on-exec
// descriptors: other runs' sockets, gilwatch's own files), keeping `keep`. Descriptors
// CMD is meant to inherit stay open, for it.
void close_inherited(int keep) {
  for (bool closed = true; closed;) {
    closed = false;
    for_each_number("/proc/self/fd", [&](int fd, int dir) {
      if (fd == keep || fd == dir || fd <= 2) return;
      int flags = fcntl(fd, F_GETFD);
      if (flags >= 0 && (flags & FD_CLOEXEC)) {
        close(fd);
        closed = true;
      }
    });
  }
}

[[noreturn]] void fail_exec(int report_fd) {
  int error = errno;
  ssize_t ignored = write(report_fd, &error, sizeof(error));
  (void)ignored;
  _exit(127);
}

// CMD's child of the supervisor, from fork to exec.
[[noreturn]] void exec_command(const Plan& plan, pid_t supervisor, int report_fd) {
  if (plan.own_process_group)
    setpgid(0, 0);
  else
    setpgid(0, plan.parent_pgid);
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid() != supervisor) _exit(127);
  static const int kFlags[3] = {O_RDONLY, O_WRONLY | O_CREAT | O_TRUNC, O_WRONLY | O_CREAT | O_TRUNC};
  for (int target = 0; target < 3; ++target) {
    if (!plan.stdio[target]) continue;
    int fd = open(plan.stdio[target], kFlags[target] | O_CLOEXEC, 0644);
    if (fd < 0) fail_exec(report_fd);
    if (fd == target) {  // the slot was free: keep it, across exec
      fcntl(fd, F_SETFD, 0);
      continue;
    }
    if (dup2(fd, target) < 0) fail_exec(report_fd);
    close(fd);
  }
  if (plan.working_directory && chdir(plan.working_directory) != 0) fail_exec(report_fd);
  // Handlers would not survive exec anyway; resetting them first means a signal pending
  // now, delivered when the mask is set, acts on CMD as it would after exec.
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction current;
    if (sigaction(sig, nullptr, &current) != 0) continue;
    bool handled = (current.sa_flags & SA_SIGINFO) ||
                   (current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN);
    if (handled || sigismember(&plan.default_signals, sig) == 1) {
      struct sigaction default_action = {};
      default_action.sa_handler = SIG_DFL;
      sigemptyset(&default_action.sa_mask);
      sigaction(sig, &default_action, nullptr);
    }
  }
  sigprocmask(SIG_SETMASK, &plan.mask, nullptr);
  execvpe(plan.argv[0], plan.argv, plan.envp);
  fail_exec(report_fd);
}

struct CommandStart {
  const Plan* plan;
  pid_t supervisor;
  int exec_pipe[2];
};

int command_main(void* argument) {
  auto* start = static_cast<const CommandStart*>(argument);
  close(start->exec_pipe[0]);
  exec_command(*start->plan, start->supervisor, start->exec_pipe[1]);
}

// Starts CMD's process as posix_spawn does: sharing the supervisor's memory on a stack of
// its own (CLONE_VM), the supervisor suspended until it has exec'd or failed
// (CLONE_VFORK), so no page table is copied and the new process runs at once, with no
// hand-off to the scheduler in between. Until exec it only makes system calls on memory
// prepared before (exec_command). Falls back to fork when no stack can be mapped.
pid_t start_command(const Plan& plan, pid_t self, const int exec_pipe[2]) {
  constexpr std::size_t kStackSize = 256 * 1024;
  CommandStart start{&plan, self, {exec_pipe[0], exec_pipe[1]}};
  void* stack = mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    pid_t command = fork();
    if (command == 0) command_main(&start);
    return command;
  }
  pid_t command = clone(command_main, static_cast<char*>(stack) + kStackSize, CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
  int saved_errno = errno;
  munmap(stack, kStackSize);
  errno = saved_errno;
  return command;
}

[[noreturn]] void supervise(const Plan& plan) {
  pid_t self = getpid();
  setpgid(0, 0);
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  prctl(PR_SET_PDEATHSIG, kParentDeathSignal, 0, 0, 0);
  close_inherited(plan.fd);
  sigset_t watched;
  sigemptyset(&watched);
  sigaddset(&watched, SIGCHLD);
  sigaddset(&watched, kParentDeathSignal);
  int signal_fd = signalfd(-1, &watched, SFD_CLOEXEC | SFD_NONBLOCK);

  int exec_pipe[2] = {-1, -1};
  int exec_errno = 0;
  pid_t command = -1;
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) {
    exec_errno = errno;
  } else {
    command = start_command(plan, self, exec_pipe);
    if (command < 0) exec_errno = errno;
    close(exec_pipe[1]);
    if (command > 0) {
      // Also here, so that CMD is in its group before anything is sent to it.
      setpgid(command, plan.own_process_group ? command : plan.parent_pgid);
      int child_errno = 0;
      ssize_t n;
      do {
        n = read(exec_pipe[0], &child_errno, sizeof(child_errno));
      } while (n < 0 && errno == EINTR);
      if (n == ssize_t(sizeof(child_errno))) exec_errno = child_errno;
    }
    close(exec_pipe[0]);
  }
  send_message(plan.fd, {kStarted, command > 0 ? int32_t(command) : 0, exec_errno});

  pid_t command_group = command > 0 ? getpgid(command) : 0;
  int status = 0;
  bool command_done = command <= 0;
  bool parent_gone = getppid() != plan.parent;
  while (!command_done && !parent_gone) {
    pollfd fds[2] = {{signal_fd, POLLIN, 0}, {plan.fd, POLLIN, 0}};
    // Without a signalfd (it cannot fail short of a descriptor limit), look now and then.
    poll(fds, 2, signal_fd >= 0 ? -1 : 100);
    drain(signal_fd);
    reap(command, &status, &command_done);
    if (getppid() != plan.parent) parent_gone = true;
    if (fds[1].revents) {
      Message request;
      int got = receive_message(plan.fd, &request, MSG_DONTWAIT);
      if (got == 0) parent_gone = true;
      if (got == 1 && request.kind == kSignal && !command_done) {
        int sig = request.a;
        if (request.b == 1)
          for_each_descendant(self, [&](pid_t pid, const ProcStat&) {
            if (catches_signal(pid, sig)) kill(pid, sig);
          });
        else if (plan.own_process_group)
          killpg(command_group, sig);  // CMD is not reaped: its group id is still its own
        else
          for_each_descendant(self, [&](pid_t pid, const ProcStat& stat) {
            if (stat.pgrp == command_group) kill(pid, sig);
          });
      }
    }
  }
  if (parent_gone) {
    kill_everything(self, signal_fd, command, &status, &command_done);
    _exit(0);
  }

  int leftovers = 0;
  if (reap(command, &status, &command_done))
    for_each_descendant(self, [&](pid_t pid, const ProcStat&) {
      ++leftovers;
      kill(pid, plan.grace_ms > 0 ? SIGTERM : SIGKILL);
    });
  if (leftovers > 0 && plan.grace_ms > 0) {
    long deadline = now_ms() + plan.grace_ms;
    while (reap(command, &status, &command_done) && getppid() == plan.parent) {
      long left = deadline - now_ms();
      if (left <= 0) break;
      pollfd fds = {signal_fd, POLLIN, 0};
      poll(&fds, 1, int(left));
      drain(signal_fd);
    }
  }
  kill_everything(self, signal_fd, command, &status, &command_done);
  send_message(plan.fd, {kEnded, status, leftovers});
  _exit(0);
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

const char* c_string_or_null(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

}  // namespace

bool start_supervised(const SupervisedCommand& command, Supervised* out, int* error) {
  *out = Supervised{};
  if (command.argv.empty()) {
    *error = ENOENT;
    return false;
  }
  std::vector<char*> argv = c_strings(command.argv);
  std::vector<char*> envp = c_strings(command.environment);
  Plan plan;
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.working_directory = c_string_or_null(command.working_directory);
  plan.stdio[0] = c_string_or_null(command.stdin_path);
  plan.stdio[1] = c_string_or_null(command.stdout_path);
  plan.stdio[2] = c_string_or_null(command.stderr_path);
  plan.own_process_group = command.own_process_group;
  sigemptyset(&plan.mask);
  if (command.mask) plan.mask = *command.mask;
  sigemptyset(&plan.default_signals);
  if (command.default_signals) plan.default_signals = *command.default_signals;
  plan.grace_ms = long(command.leftover_grace.count());
  plan.parent = getpid();
  plan.parent_pgid = getpgrp();

  int sockets[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) {
    *error = errno;
    return false;
  }
  plan.fd = sockets[1];
  // The supervisor starts with every signal blocked: it takes the ones it wants from a
  // signalfd, and no handler of gilwatch's ever runs in it.
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  pid_t pid = fork();
  if (pid == 0) {
    close(sockets[0]);
    supervise(plan);
  }
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  close(sockets[1]);
  if (pid < 0) {
    close(sockets[0]);
    *error = fork_errno;
    return false;
  }
  out->supervisor = pid;
  out->fd = sockets[0];
  Message started;
  if (receive_message(out->fd, &started, 0) == 1 && started.kind == kStarted) {
    out->pid = started.a;
    out->exec_errno = started.b;
  } else {
    out->exec_errno = ECHILD;  // the supervisor died before starting CMD
  }
  return true;
}

namespace {
// Sends a kSignal request to the supervisor; async-signal-safe (errno kept).
void request_signal(const Supervised& supervised, int sig, int32_t only_catchers) {
  if (supervised.fd < 0) return;
  Message request{kSignal, sig, only_catchers};
  int saved_errno = errno;
  ssize_t ignored = send(supervised.fd, &request, sizeof(request), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)ignored;
  errno = saved_errno;
}
}  // namespace

void ask_for_hang_reports(const Supervised& supervised, int sig) { request_signal(supervised, sig, 1); }

void signal_supervised(const Supervised& supervised, int sig) { request_signal(supervised, sig, 0); }

SupervisedEnd finish_supervised(Supervised* supervised) {
  SupervisedEnd end;
  bool ended = false;
  Message m;
  while (supervised->fd >= 0) {
    int got = receive_message(supervised->fd, &m, 0);
    if (got != 1) break;
    if (m.kind == kEnded) {
      end.wait_status = m.a;
      end.leftovers = m.b;
      ended = true;
      break;
    }
  }
  if (supervised->fd >= 0) close(supervised->fd);
  supervised->fd = -1;
  if (supervised->supervisor > 0) {
    int status = 0;
    while (waitpid(supervised->supervisor, &status, 0) < 0 && errno == EINTR) {
    }
    if (!ended) end.wait_status = status;
  }
  supervised->supervisor = -1;
  return end;
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
