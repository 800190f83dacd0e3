#include "hang_report.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "runtime.h"
#include "spin_lock.h"
#include "stack_capture.h"
#include "wait_monitor.h"

namespace gilwatch::preload {

namespace {

constexpr int kMaxAnswers = 64;
// Frames a thread's answer can hold: the stack_depth option's limit, plus room for the
// signal handler's frames and trampolines that are dropped (`kHandlerFrames`).
constexpr int kHandlerFrames = 8;
constexpr int kStackCapacity = kMaxNativeFrames + kHandlerFrames;
constexpr uint64_t kAnswerWaitNs = 300ull * 1000 * 1000;

// One thread's answer: filled by that thread's handler, read by the coordinator.
struct Answer {
  std::atomic<uint32_t> tid;      // who is asked (set by the coordinator)
  std::atomic<uint32_t> serial;   // the request answered (set last by the thread)
  uint32_t count;
  uintptr_t stack[kStackCapacity];  // captured here (not on the handler's stack), then shifted
};

// What the coordinator copies from a registered thread while the registry is locked
// (the thread may end, and its state go, once the lock is released).
struct Subject {
  uint32_t tid;
  WaitKind wait_kind;
  bool holds_gil;
  uintptr_t object;
  uint64_t wait_start;
  uint32_t wait_native_stack, wait_python_stack;
  int held_count;
  HeldLock held[4];
};

Answer g_answers[kMaxAnswers];
Subject g_subjects[kMaxAnswers];
int g_subject_count;
std::atomic<uint32_t> g_serial{0};
std::atomic<bool> g_reporting{false};
int g_signal = 0;
uintptr_t g_restorer = 0;  // the signal trampoline glibc installs with our handler

// Answers a request for the calling thread's stack, if one is pending: its tid is in the
// table and its entry has not answered request `serial` yet. Returns whether it was
// asked. An entry stays until the next collection, so a request that arrives after its
// collector stopped waiting is still recognised as one (and not taken for a new hang
// report); the answer then goes unread.
bool answer_if_asked(uint32_t serial) {
  uint32_t tid = static_cast<uint32_t>(syscall(SYS_gettid));
  for (Answer& a : g_answers)
    if (a.tid.load(std::memory_order_acquire) == tid && a.serial.load(std::memory_order_acquire) != serial) {
      // Captured inside the handler: what matters starts after the outermost signal
      // trampoline (__restore_rt). There can be two: faulthandler, registered for the
      // same signal by the Python driver, chains to this handler by raising it again.
      // Into the answer itself, which only this thread writes: as deep as every other
      // capture (stack_depth) without a buffer on the handler's stack.
      uint32_t depth = uint32_t(g_options.stack_depth);
      uint32_t n = capture_native_stack(a.stack, depth + kHandlerFrames);
      // Outside a handler (the collector's own stack) there is no trampoline.
      uint32_t first = 0;
      for (uint32_t i = 0; i < n; ++i)
        if (g_restorer && a.stack[i] >= g_restorer && a.stack[i] < g_restorer + 16) first = i + 1;
      a.count = n - first < depth ? n - first : depth;
      std::memmove(a.stack, a.stack + first, sizeof(uintptr_t) * a.count);
      // The interrupted frame's address is where the signal came (the faulting
      // instruction itself, for a crash), not a return address: the symbolizer looks up
      // each address minus one, so give it one more.
      if (first > 0 && a.count > 0) a.stack[0] += 1;
      a.serial.store(serial, std::memory_order_release);
      return true;
    }
  return false;
}

void copy_subject(PreloadThread* t, void* context) {
  (void)context;
  if (g_subject_count >= kMaxAnswers || !t->tid) return;
  Subject& s = g_subjects[g_subject_count++];
  s = Subject{};
  s.tid = t->tid;
  s.wait_start = t->wait.start_ns.load(std::memory_order_acquire);
  if (s.wait_start) {
    s.wait_kind = t->wait.kind;
    s.holds_gil = t->wait.holds_gil;
    s.object = t->wait.object;
    if (t->wait.captured_for == s.wait_start) {
      s.wait_native_stack = t->wait.native_stack;
      s.wait_python_stack = t->wait.python_stack;
    }
  }
  int depth = t->state.depth < ThreadState::kMaxHeld ? t->state.depth : ThreadState::kMaxHeld;
  for (int i = 0; i < depth && s.held_count < 4; ++i)
    if (t->state.held[i].kind != LockKind::kGil) s.held[s.held_count++] = t->state.held[i];
}

void sleep_briefly() {
  struct timespec ts = {0, 2 * 1000 * 1000};
  syscall(SYS_nanosleep, &ts, nullptr);
}

const char* wait_words(WaitKind kind) {
  switch (kind) {
    case WaitKind::kMutex: return "waits for mutex ";
    case WaitKind::kRwlockRead: return "waits to read-lock rwlock ";
    case WaitKind::kRwlockWrite: return "waits to write-lock rwlock ";
    case WaitKind::kCondition: return "waits on condition variable ";
    case WaitKind::kJoin: return "joins a thread";
    case WaitKind::kGil: return "waits for the GIL";
    case WaitKind::kFutex: return "waits on futex word ";
    case WaitKind::kPyMutex: return "waits for PyMutex ";
    case WaitKind::kNone: break;
  }
  return "";
}

// Asks the threads `tids` (at most kMaxAnswers; answers land in g_answers[i]) for their
// stacks with a thread-directed copy of the signal, captures the calling thread's own
// when it is one of them, and waits up to kAnswerWaitNs for the others. The caller holds
// g_reporting and has set g_serial to `serial`.
void collect_stacks(const uint32_t* tids, int count, uint32_t serial, uint32_t self_tid) {
  for (Answer& a : g_answers) {
    a.tid.store(0, std::memory_order_relaxed);
    a.serial.store(0, std::memory_order_relaxed);
  }
  for (int i = 0; i < count; ++i) g_answers[i].tid.store(tids[i], std::memory_order_release);
  if (g_signal <= 0) {  // no hang signal to ask the others with (a crash report without one)
    for (int i = 0; i < count; ++i)
      if (tids[i] == self_tid) answer_if_asked(serial);
    return;
  }
  pid_t pid = getpid();
  for (int i = 0; i < count; ++i)
    if (tids[i] == self_tid)
      answer_if_asked(serial);
    else
      syscall(SYS_tgkill, pid, pid_t(tids[i]), g_signal);
  uint64_t deadline = monotonic_ns() + kAnswerWaitNs;
  for (;;) {
    int answered = 0;
    for (int i = 0; i < count; ++i)
      if (g_answers[i].serial.load(std::memory_order_acquire) == serial) ++answered;
    if (answered == count || monotonic_ns() >= deadline) break;
    sleep_briefly();
  }
}

// Interns thread i's answer, if it came, as an event thread's native stack.
void use_answer(int i, uint32_t serial, uint32_t tid, EventThread& t) {
  if (g_answers[i].serial.load(std::memory_order_acquire) != serial) return;
  ScratchCapture scratch(*g_detector);
  EvidenceCapture* capture = scratch.get();
  if (!capture) return;
  capture->tid = tid;
  capture->native_count = g_answers[i].count;
  capture->python_count = 0;
  std::memcpy(capture->native, g_answers[i].stack, sizeof(uintptr_t) * g_answers[i].count);
  g_detector->intern_capture(*capture, &t.native_stack, &t.python_stack);
}

const char* signal_text(int sig) {
  const char* name = sigabbrev_np(sig);
  return name ? name : "?";
}

// The coordinator's work, in normal context or in the handler of a thread that holds
// no engine lock. With `crash`, the calling thread is the one that crashed.
void report_threads(const CrashNote* crash) {
  PreloadThread* self = current_thread();
  uint32_t serial = g_serial.fetch_add(1) + 1;
  uint32_t self_tid = current_tid(self);

  // Who is there: this thread first, then every other registered one.
  g_subject_count = 0;
  copy_subject(self, nullptr);
  if (!g_subject_count) {  // not registered yet: describe it anyway
    g_subjects[0] = Subject{};
    g_subjects[0].tid = self_tid;
    g_subject_count = 1;
  }
  for_each_other_thread(self, copy_subject, nullptr);
  uint32_t tids[kMaxAnswers];
  for (int i = 0; i < g_subject_count; ++i) tids[i] = g_subjects[i].tid;
  collect_stacks(tids, g_subject_count, serial, self_tid);

  EventFinding e{};
  e.kind = crash ? FindingKind::kCrash : FindingKind::kHang;
  e.key = crash ? mix_key(uint64_t(FindingKind::kCrash), uint64_t(crash->signal))
                : mix_key(uint64_t(FindingKind::kHang), serial);
  e.count = 1;
  int waiting = 0;
  for (int i = 0; i < g_subject_count; ++i)
    if (g_subjects[i].wait_start) ++waiting;
  TextBuilder summary(e.summary, sizeof(e.summary));
  if (crash) {
    summary.add("crash: SIG").add(signal_text(crash->signal)).add(" (").add(sigdescr_np(crash->signal) ? sigdescr_np(crash->signal) : "?").add(")");
    if (crash->has_address) summary.add(" at address ").hex(crash->address);
    summary.add(" in thread ").dec(self_tid).add("; ");
  } else {
    summary.add("hang: asked for a report, ");
  }
  summary.dec(uint64_t(g_subject_count)).add(" thread")
      .add(g_subject_count == 1 ? "" : "s").add(" (").dec(uint64_t(waiting)).add(" blocked in waits gilwatch sees)");
  if (g_subject_count > kMaxEventThreads)
    summary.add("; the ").dec(kMaxEventThreads).add(" shown first are the blocked ones");
  if (crash)
    TextBuilder(e.detail, sizeof(e.detail)).add("crash report: SIG").add(signal_text(crash->signal));
  else
    TextBuilder(e.detail, sizeof(e.detail)).add("hang report");

  // The crashing thread first, then the blocked threads: they are the diagnosis.
  uint64_t now = monotonic_ns();
  for (int pass = crash ? -1 : 0; pass < 2; ++pass)
    for (int i = 0; i < g_subject_count && e.thread_count < kMaxEventThreads; ++i) {
      const Subject& s = g_subjects[i];
      bool crashed = crash && i == 0;  // the subjects start with this thread
      if (pass == -1 ? !crashed : (crashed || (pass == 0) != (s.wait_start != 0))) continue;
      EventThread& t = e.threads[e.thread_count++];
      t.tid = s.tid;
      thread_name_of(s.tid, t.name, sizeof(t.name));
      TextBuilder role(t.role, sizeof(t.role));
      if (crashed) {
        role.add("crashed on SIG").add(signal_text(crash->signal));
        if (crash->has_address) role.add(" at address ").hex(crash->address);
      } else if (s.wait_start) {
        role.add(wait_words(s.wait_kind));
        // A join's object is the thread, which the record keeps as a pthread_t, not a tid.
        if (s.wait_kind != WaitKind::kGil && s.wait_kind != WaitKind::kJoin) role.hex(s.object);
        role.add(" for ").dec((now - s.wait_start) / 1000000).add(" ms");
        if (s.holds_gil) role.add(" holding the GIL");
      } else {
        role.add("running, or blocked in a call gilwatch does not wrap");
      }
      for (int h = 0; h < s.held_count; ++h)
        role.add(h ? ", " : "; holds ").add(lock_kind_name(s.held[h].kind)).add(" ").hex(s.held[h].address);
      t.native_stack = s.wait_native_stack;
      use_answer(i, serial, s.tid, t);
      // Python frames come from the wait's own capture (taken with the GIL held), or the
      // crash handler's.
      if (s.wait_python_stack) t.python_stack = s.wait_python_stack;
      if (crashed && crash->python_stack) t.python_stack = crash->python_stack;
      for (int h = 0; h < s.held_count && e.lock_count < kMaxEventLocks; ++h)
        e.locks[e.lock_count++] = EventLock{s.held[h].address, s.held[h].kind, s.held[h].acquire_pc};
    }
  if (crash) {
    // The process is about to die: write now, whatever the stack budget says.
    if (g_detector->record_event(e) == EventResult::kNew) report_new_findings();
  } else {
    record_and_report(e);
  }
  g_reporting.store(false);
}

void report_hang() { report_threads(nullptr); }

void on_hang_signal(int sig, siginfo_t* info, void*) {
  int saved_errno = errno;
  uint32_t serial = g_serial.load(std::memory_order_acquire);
  // A request for this thread's stack comes from this process (tgkill, or faulthandler
  // raising it again when it chains to this handler); anything else asks for a report.
  bool from_self = info && info->si_code == SI_TKILL && info->si_pid == getpid();
  if (from_self && answer_if_asked(serial)) {
    // answered
  } else if (!g_reporting.exchange(true)) {
    if (!g_detector) {
      g_reporting.store(false);
    } else if (spin_lock_state::t_held > 0) {
      spin_lock_state::t_deferred = true;  // run when this thread's engine locks are released
    } else {
      report_hang();
    }
  }
  (void)sig;
  errno = saved_errno;
}

}  // namespace

void install_hang_report() {
  if (g_options.hang_signal <= 0) return;
  g_signal = g_options.hang_signal;
  spin_lock_state::g_deferred_work = report_hang;
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_sigaction = on_hang_signal;
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(g_signal, &action, nullptr);
  note_signal_restorer(g_signal);
}

void note_signal_restorer(int sig) {
  struct sigaction installed;
  if (!g_restorer && sigaction(sig, nullptr, &installed) == 0)
    g_restorer = reinterpret_cast<uintptr_t>(installed.sa_restorer);
}

bool report_crash(const CrashNote& note) {
  if (!g_detector || spin_lock_state::t_held > 0 || g_reporting.exchange(true)) return false;
  report_threads(&note);
  return true;
}

}  // namespace gilwatch::preload

// Exported for pyhooks: records a thread-leak finding for the threads `tids` of this
// process, each with the stack it is parked in (asked for with the hang signal, which
// must be configured: `gilwatch stress` sets it). `summary` and `detail` come from the
// caller (detail identifies the leak across runs). Returns 1 when recorded, 0 when it
// could not be (no hang signal, a report already in progress, bad arguments): the caller
// then reports the leak itself, without stacks.
extern "C" __attribute__((visibility("default"))) int gilwatch_report_leaked_threads(const int* tids, int count,
                                                                                    const char* summary,
                                                                                    const char* detail) {
  using namespace gilwatch;
  using namespace gilwatch::preload;
  if (!g_detector || g_signal <= 0 || !tids || count <= 0 || !summary || !detail) return 0;
  PreloadThread* self = current_thread();
  if (self->busy || spin_lock_state::t_held > 0 || g_reporting.exchange(true)) return 0;
  int n = count < kMaxEventThreads ? count : kMaxEventThreads;
  uint32_t asked[kMaxEventThreads];
  for (int i = 0; i < n; ++i) asked[i] = uint32_t(tids[i]);
  uint32_t serial = g_serial.fetch_add(1) + 1;
  collect_stacks(asked, n, serial, current_tid(self));

  EventFinding e{};
  e.kind = FindingKind::kThreadLeak;
  e.count = 1;
  uint64_t key = uint64_t(FindingKind::kThreadLeak);
  for (const char* c = detail; *c; ++c) key = mix_key(key, uint64_t(static_cast<unsigned char>(*c)));
  e.key = key;
  TextBuilder(e.summary, sizeof(e.summary)).add(summary);
  TextBuilder(e.detail, sizeof(e.detail)).add(detail);
  for (int i = 0; i < n; ++i) {
    EventThread& t = e.threads[e.thread_count++];
    t.tid = asked[i];
    thread_name_of(asked[i], t.name, sizeof(t.name));
    TextBuilder(t.role, sizeof(t.role)).add("still running after teardown");
    use_answer(i, serial, asked[i], t);
  }
  record_and_report(e);
  g_reporting.store(false);
  return 1;
}
