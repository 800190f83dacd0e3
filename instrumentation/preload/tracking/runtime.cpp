// runtime: start-up, shutdown, fork, and the glue between hooks and the engine.
#include "runtime.h"

#include <dlfcn.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

#include "gil_hooks.h"
#include "crash_report.h"
#include "hang_report.h"
#include "lifecycle_checks.h"
#include "lock_profiling.h"
#include "interpreters.h"
#include "panic_hooks.h"
#include "wait_monitor.h"
#include "python_api.h"
#include "results_writer.h"
#include "stack_capture.h"

namespace gilwatch::preload {

__thread PreloadThread t_thread{};
Options g_options;
Detector* g_detector = nullptr;

namespace {

class RuntimeCapture final : public CaptureSource {
 public:
  void capture(EvidenceCapture& out, bool with_python) override { capture_current(out, with_python); }
  bool stack_has_room(std::size_t bytes) override { return preload::stack_has_room(current_thread(), bytes); }
};

RuntimeCapture g_capture;
alignas(Detector) unsigned char g_detector_storage[sizeof(Detector)];
std::atomic<bool> g_report_pending{false};  // findings recorded where the stack was too small to report them
std::size_t g_findings_reported = 0;
std::size_t g_events_reported = 0;
SpinLock g_report_lock;

void write_stderr(const char* s) { write_program_stderr(s, std::strlen(s)); }

struct FileIdentity {
  bool open;
  dev_t device;
  ino_t inode;
};
FileIdentity g_startup_stderr;

FileIdentity identity_of_fd(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return FileIdentity{false, 0, 0};
  return FileIdentity{true, st.st_dev, st.st_ino};
}

void on_process_exit(int status, void*) {
  if (!g_detector) return;
  if (PreloadThread* t = enter_hook()) {
    check_threads_at_exit(t);
    leave_hook(t);
  }
  if (g_report_pending.exchange(false)) report_new_findings();
  write_results(true, status);
  std::size_t findings = reported_finding_count();
  print_exit_summary();
  if (findings && g_options.exitcode != 0 && status == 0) {
    // Like the sanitizers: a run with findings fails. Flush what the program buffered,
    // since _exit skips the rest of exit().
    std::fflush(nullptr);
    _exit(g_options.exitcode);
  }
}

void prepare_fork() {
  if (!g_detector) return;
  if (PreloadThread* t = enter_hook()) {
    fork_prepare(t);
    leave_hook(t);
  }
  g_detector->prepare_fork();
}
void parent_after_fork() {
  if (g_detector) g_detector->parent_after_fork();
}
void child_after_fork() {
  t_thread.tid = 0;  // the child's only thread has a new id
  got::reset_after_fork();  // another parent thread may have held the patcher's lock
  if (!g_detector) return;
  g_detector->child_after_fork();
  registry_after_fork(&t_thread);
  // Every engine lock is reset now, the one the forking thread took in prepare_fork too.
  spin_lock_state::t_held = 0;
  fork_child();
  g_findings_reported = 0;
  g_events_reported = 0;
  init_results_file();
}

__attribute__((constructor(101))) void initialize() {
  if (g_detector) return;
  note_startup_stderr();
  char error[256];
  if (!parse_options(getenv("GILWATCH_OPTIONS"), &g_options, error, sizeof(error))) {
    write_stderr("==gilwatch== ");
    write_stderr(error);
    write_stderr(" (the rest of GILWATCH_OPTIONS is ignored)\n");
  }
  auto* detector = new (g_detector_storage) Detector(&g_capture);
  if (!detector->ok()) {
    write_stderr("==gilwatch== could not reserve memory for the lock graph; not tracking locks\n");
    return;
  }
  init_stack_capture();
  record_main_thread_stack(&t_thread);
  snapshot_modules();
  init_results_file();
  // The context a parent passed down (the pytest plugin sets it to the running test), so
  // a subprocess started by a test names that test in its findings.
  if (const char* context = getenv("GILWATCH_CONTEXT"); context && *context) gilwatch_set_context(context);
  pthread_atfork(prepare_fork, parent_after_fork, child_after_fork);
  on_exit(on_process_exit, nullptr);
  resolve_python_api();
  init_thread_registry();
  init_lock_profiling();
  g_detector = detector;  // hooks start working from here on
  refresh_mutex_lock_way();
  install_gil_hooks();
  install_interpreter_hooks();
  install_panic_hooks();
  install_hang_report();
  install_crash_report();
  if (g_options.verbosity >= 1) {
    write_stderr("==gilwatch== tracking locks");
    if (g_python.loaded.load()) {
      write_stderr(" and the GIL (Python ");
      write_stderr(g_python.version);
      write_stderr(")");
    }
    write_stderr("\n");
  }
}

}  // namespace

void note_startup_stderr() { g_startup_stderr = identity_of_fd(2); }

void write_program_stderr(const char* text, std::size_t length) {
  if (!g_startup_stderr.open) return;
  FileIdentity now = identity_of_fd(2);
  if (!now.open || now.device != g_startup_stderr.device || now.inode != g_startup_stderr.inode) return;
  while (length) {
    ssize_t w = ::write(2, text, length);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    text += w;
    length -= std::size_t(w);
  }
}

void perturb_slow(PreloadThread* t, bool always) {
  if (t->busy) return;
  if (!t->perturb_state) {
    static std::atomic<uint64_t> threads_seen{0};
    uint64_t ordinal = threads_seen.fetch_add(1, std::memory_order_relaxed) + 1;
    t->perturb_state = mix_key(g_options.seed, ordinal) | 1;
  }
  uint64_t x = t->perturb_state;  // xorshift64
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  t->perturb_state = x;
  if (!always && (x & 7) != 0) return;  // one acquisition in eight
  uint64_t us = (x >> 16) % (uint64_t(g_options.perturb_us) + 1);
  if (us == 0) {
    sched_yield();
    return;
  }
  // The raw system call: the nanosleep wrapper would count this as a wait of the program.
  struct timespec ts = {0, long(us * 1000)};
  syscall(SYS_nanosleep, &ts, nullptr);
}

uint32_t current_tid(PreloadThread* t) {
  if (!t->tid) t->tid = static_cast<uint32_t>(syscall(SYS_gettid));
  return t->tid;
}

void capture_current(EvidenceCapture& out, bool with_python) {
  PreloadThread* t = current_thread();
  out.tid = current_tid(t);
  std::memset(out.thread_name, 0, sizeof(out.thread_name));
  prctl(PR_GET_NAME, out.thread_name, 0, 0, 0);
  bool python = with_python && g_options.python_frames;
  out.native_count = capture_native_stack(out.native, static_cast<uint32_t>(g_options.stack_depth),
                                          python ? out.native_cfa : nullptr);
  out.python_count = 0;
  if (python) capture_python_frames(out);
}

void finish_after_deadlock() {
  if (g_options.deadlock_exitcode == 0) return;
  int status = g_options.deadlock_exitcode;
  write_results(true, status);
  print_exit_summary();
  // The other threads are blocked for good: exit() would run atexit handlers and
  // destructors that may need their locks, and even fflush could wait for a stdio lock
  // that a deadlocked thread holds. Leave at once.
  _exit(status);
}

void report_new_findings() {
  std::size_t first, count, first_event, event_count;
  {
    SpinLockGuard guard(g_report_lock);
    {
      SpinLockGuard engine(g_detector->lock());
      count = g_detector->finding_count();
      event_count = g_detector->event_count();
    }
    first = g_findings_reported;
    first_event = g_events_reported;
    if (count <= first && event_count <= first_event) return;
    g_findings_reported = count;
    g_events_reported = event_count;
    note_context_of_new_findings(first, count, first_event, event_count);
  }
  if (count > first) print_findings(first, count);
  if (event_count > first_event) print_events(first_event, event_count);
  write_results(false, 0);
}

void report_new_findings_from_hook(PreloadThread* t) {
  if (!stack_has_room(t, kReportStackBudget)) {
    g_report_pending.store(true, std::memory_order_relaxed);
    return;
  }
  g_report_pending.store(false, std::memory_order_relaxed);
  report_new_findings();
}

void after_dlopen() {
  PreloadThread* t = enter_hook();
  if (!t) return;
  resolve_python_api();
  snapshot_modules();
  install_gil_hooks();
  install_interpreter_hooks();
  install_panic_hooks();
  leave_hook(t);
}

}  // namespace gilwatch::preload

// Exported for the pytest plugin, which calls them after each test phase (ctypes, GIL
// held): the count is one load under the engine's lock, so a test without findings costs
// one call; only when it grew does the plugin flush and read the results.

// Findings (and reported events) this process has recorded so far.
extern "C" __attribute__((visibility("default"))) unsigned long gilwatch_reported_finding_count() {
  using namespace gilwatch::preload;
  if (!g_detector) return 0;
  return static_cast<unsigned long>(reported_finding_count());
}

// Notes the current context on findings not reported yet and writes this process's
// results file now (state "running"); returns the finding count.
extern "C" __attribute__((visibility("default"))) unsigned long gilwatch_flush_results() {
  using namespace gilwatch::preload;
  if (!g_detector) return 0;
  PreloadThread* t = enter_hook();
  report_new_findings();
  write_results(false, 0);
  if (t) leave_hook(t);
  return static_cast<unsigned long>(reported_finding_count());
}
