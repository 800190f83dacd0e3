#include "crash_report.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "hang_report.h"
#include "python_api.h"
#include "runtime.h"
#include "spin_lock.h"
#include "wait_monitor.h"

namespace gilwatch::preload {

namespace {

constexpr int kCrashSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS};
constexpr int kSignalCount = sizeof(kCrashSignals) / sizeof(kCrashSignals[0]);

struct sigaction g_previous[kSignalCount];
// The thread that reports (0: none yet). One report per process: a second crash, or a
// fault inside the report, goes straight on to the previous disposition.
std::atomic<uint32_t> g_crashing{0};
// Set while this thread reads Python frames in the handler: a fault there jumps back.
thread_local sigjmp_buf* t_frames_guard = nullptr;

int index_of(int sig) {
  for (int i = 0; i < kSignalCount; ++i)
    if (kCrashSignals[i] == sig) return i;
  return -1;
}

// The crashing thread's Python frames, interned; 0 when it holds no GIL or reading them
// faulted.
uint32_t guarded_python_stack() {
  if (!g_options.python_frames || !thread_holds_gil()) return 0;
  ScratchCapture scratch(*g_detector);
  EvidenceCapture* capture = scratch.get();
  if (!capture) return 0;
  capture->tid = uint32_t(syscall(SYS_gettid));
  capture->native_count = 0;
  capture->python_count = 0;
  sigjmp_buf guard;
  if (sigsetjmp(guard, 1) != 0) {
    t_frames_guard = nullptr;
    return 0;
  }
  t_frames_guard = &guard;
  capture_python_frames(*capture);
  t_frames_guard = nullptr;
  if (capture->python_count == 0) return 0;
  uint32_t native = 0, python = 0;
  g_detector->intern_capture(*capture, &native, &python);
  return python;
}

bool has_fault_address(int sig, const siginfo_t* info) {
  // si_addr means the faulting address only for a fault the kernel raised (si_code > 0).
  return info && info->si_code > 0 && (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL);
}

// Hands the signal on as if this handler had never been installed.
void chain(int sig, siginfo_t* info, void* context) {
  int i = index_of(sig);
  struct sigaction previous = g_previous[i];
  sigaction(sig, &previous, nullptr);
  bool with_info = previous.sa_flags & SA_SIGINFO;
  if (with_info && previous.sa_sigaction) {
    previous.sa_sigaction(sig, info, context);
    return;
  }
  if (!with_info && previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
    return;
  }
  // The default action: raised again, it ends the process as the first delivery would
  // have (this handler runs with SA_NODEFER, so the signal is not blocked here).
  raise(sig);
}

// Under `gilwatch run`, the one process whose crashes are reported: CMD itself. A child
// CMD forks without exec inherits the handler and stays quiet (its crash is its parent's
// to judge: a process pool's worker that dies on purpose, in CPython's own tests).
pid_t g_reporting_pid = 0;

void on_crash_signal(int sig, siginfo_t* info, void* context) {
  int saved_errno = errno;
  if (sigjmp_buf* guard = t_frames_guard) {  // a fault while reading the Python frames
    t_frames_guard = nullptr;
    siglongjmp(*guard, 1);
  }
  uint32_t expected = 0;
  uint32_t tid = uint32_t(syscall(SYS_gettid));
  bool reports_here = g_reporting_pid == 0 || pid_t(syscall(SYS_getpid)) == g_reporting_pid;
  if (reports_here && g_detector && spin_lock_state::t_held == 0 &&
      g_crashing.compare_exchange_strong(expected, tid)) {
    CrashNote note{};
    note.signal = sig;
    note.has_address = has_fault_address(sig, info);
    note.address = note.has_address ? reinterpret_cast<uintptr_t>(info->si_addr) : 0;
    note.python_stack = guarded_python_stack();
    report_crash(note);
  }
  errno = saved_errno;
  chain(sig, info, context);
}

}  // namespace

namespace {

// The parent of process `pid` (/proc/PID/stat's fourth field), or -1.
long parent_of(long pid) {
  char path[64], text[512];
  TextBuilder(path, sizeof(path)).add("/proc/").dec(uint64_t(pid)).add("/stat");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, text, sizeof(text) - 1);
  close(fd);
  if (n <= 0) return -1;
  text[n] = 0;
  const char* p = strrchr(text, ')');  // the command name may hold spaces and parentheses
  if (!p || p[1] != ' ' || !p[2] || p[3] != ' ') return -1;
  return strtol(p + 4, nullptr, 10);
}

}  // namespace

void install_crash_report() {
  if (!g_options.crash_report) return;
  // Under `gilwatch run`: only CMD itself (gilwatch run -> supervisor -> CMD).
  if (g_options.crash_report_run_pid > 0) {
    if (parent_of(getppid()) != g_options.crash_report_run_pid) return;
    g_reporting_pid = getpid();
  }
  for (int i = 0; i < kSignalCount; ++i) {
    struct sigaction current;
    if (sigaction(kCrashSignals[i], nullptr, &current) != 0) continue;
    bool ignored = !(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_IGN;
    if (ignored) continue;
    struct sigaction action;
    std::memset(&action, 0, sizeof(action));
    action.sa_sigaction = on_crash_signal;
    // SA_ONSTACK: a thread with an alternate stack (faulthandler gives the main thread
    // one) can report a stack overflow. SA_NODEFER: a fault while reading Python frames
    // re-enters the handler, which jumps back out of the read.
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    if (sigaction(kCrashSignals[i], &action, &g_previous[i]) == 0) note_signal_restorer(kCrashSignals[i]);
  }
}

}  // namespace gilwatch::preload
