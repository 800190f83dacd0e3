// supervisor: starts a command under a small process of gilwatch's own, so that nothing
// the command starts outlives gilwatch, whichever way gilwatch ends.
//
//   gilwatch ── supervisor (a fork of gilwatch, no exec; its own process group; a child
//                │           subreaper; PR_SET_PDEATHSIG tells it when gilwatch dies)
//                └── CMD (started as posix_spawn does, CLONE_VM | CLONE_VFORK;
//                     │     PR_SET_PDEATHSIG(SIGKILL): ends if the supervisor is killed)
//                     └── children, grandchildren, double-forked daemons ...
//
// Because the supervisor is a subreaper, every process CMD leaves behind (orphaned,
// double-forked, setsid'd into a session of its own) is reparented to it, so it can always
// find what is left: its descendants, read from /proc. It
// - passes on what gilwatch asks (signal_supervised): to CMD's process group;
// - when CMD has ended, ends what is left: SIGTERM, up to `leftover_grace`, then SIGKILL
//   (at once with a grace of 0), reaps it all, reports CMD's status and the count;
// - when gilwatch dies (even by SIGKILL), SIGKILLs every descendant and exits.
//
// The supervisor never execs: it may be forked from a multi-threaded gilwatch (stress), so
// everything it does is a system call on memory prepared before the fork (no malloc, no
// locks, no stdio).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace gilwatch::harness {

struct SupervisedCommand {
  std::vector<std::string> argv;         // argv[0] is searched in PATH
  std::vector<std::string> environment;  // NAME=value, exactly the command's environment
  std::string working_directory;         // empty: gilwatch's own
  // Empty: inherited from gilwatch. stdout/stderr are created or truncated.
  std::string stdin_path, stdout_path, stderr_path;
  // true: CMD leads a process group of its own (killed as one). false: CMD stays in
  // gilwatch's process group, so that a terminal's Ctrl-C and its input reach it as
  // without gilwatch.
  bool own_process_group = false;
  // CMD's signal mask (null: nothing blocked) and the signals it gets with their default
  // disposition even when gilwatch ignored them. Signals gilwatch handles are always reset.
  const sigset_t* mask = nullptr;
  const sigset_t* default_signals = nullptr;
  // How long processes still running when CMD ends get after SIGTERM before SIGKILL.
  std::chrono::milliseconds leftover_grace{0};
};

struct Supervised {
  pid_t supervisor = -1;
  pid_t pid = 0;       // CMD (also its process group id when own_process_group)
  int exec_errno = 0;  // non-zero: CMD could not be started (fork, chdir, open or exec)
  // A socket to the supervisor: gilwatch's requests go out on it; it becomes readable
  // once CMD has ended and everything it left is gone (or the supervisor died).
  int fd = -1;
};

// Forks the supervisor, which starts CMD. Returns false (with *error an errno) when the
// supervisor could not be started; otherwise `out` is set, with exec_errno when CMD
// could not be (finish_supervised() must still be called).
bool start_supervised(const SupervisedCommand& command, Supervised* out, int* error);

// Asks the supervisor to send `sig` to CMD's process group (those of its members that
// gilwatch started), unless CMD has already ended. Async-signal-safe.
void signal_supervised(const Supervised& supervised, int sig);
// Asks the supervisor to send the library's hang signal to every process it started that
// catches `sig` (its handler is installed: /proc/PID/status SigCgt), and to no other: a
// process without the library (a shell, a static binary, one that cleared LD_PRELOAD)
// would be ended by a real-time signal's default action. Async-signal-safe.
void ask_for_hang_reports(const Supervised& supervised, int sig);

struct SupervisedEnd {
  int wait_status = 0;  // CMD's, as waitpid returned it
  int leftovers = 0;    // processes still running when CMD ended, ended by the supervisor
};

// Waits until CMD has ended and everything it left is gone, reaps the supervisor and
// closes the descriptors. If the supervisor itself was killed, its wait status stands for CMD's.
SupervisedEnd finish_supervised(Supervised* supervised);

// Makes this process the subreaper of its descendants (prctl PR_SET_CHILD_SUBREAPER): a
// supervisor killed on its own leaves its orphans to gilwatch, not to init.
void become_subreaper();

// Kills (SIGKILL) and reaps every remaining child of this process. Call only when no
// command is in progress: it reaps any child. Returns how many it killed.
int sweep_orphans();

}  // namespace gilwatch::harness
