// stderr_text: findings as sanitizer-style text on the program's stderr ("==PID==WARNING:
// gilwatch: ..."), each with its threads' raw stacks (placed in their objects) and Python
// frames, and the one-line count at exit. Every line goes through StderrText
// (stderr_text.h). It decides only the wording; what is a finding is the detector's, and
// the symbolized report is the command's.
#include <unistd.h>

#include <cstring>

#include "results_json.h"
#include "gilwatch/result_format.h"
#include "results_parts.h"
#include "results_writer.h"
#include "runtime.h"
#include "spin_lock.h"
#include "stderr_text.h"

namespace gilwatch::preload {

namespace {

// Findings whose verdict `gilwatch` gives once it has named their frames: a short futex
// wait with the GIL held (wait_monitor.h) and a native thread's panic (native_panics.h).
bool left_to_command(const EventFinding& e) {
  return std::strcmp(e.detail, result_format::kDetailShortFutexWait) == 0 ||
         (e.kind == FindingKind::kRustPanic && std::strcmp(e.detail, result_format::kDetailNativeThreadPanic) == 0);
}

void print_stack(StderrText& t, uint32_t native_stack, uint32_t python_stack) {
  const uintptr_t* pcs = nullptr;
  uint32_t n;
  {
    SpinLockGuard guard(g_detector->lock());
    n = g_detector->native_stacks().get(native_stack, &pcs);
  }
  for (uint32_t j = 0; j < n && j < 12; ++j) {
    t.add("    #");
    t.add_dec(j);
    t.add(" ");
    t.add_hex(pcs[j]);
    const char* module = nullptr;
    uintptr_t load_bias = 0;
    if (module_of_address(pcs[j], &module, &load_bias)) {
      t.add(" (");
      t.add(module);
      t.add("+");
      t.add_hex(pcs[j] - load_bias);
      t.add(")");
    }
    t.add("\n");
  }
  const PyFrameRecord* frames = nullptr;
  uint32_t np;
  {
    SpinLockGuard guard(g_detector->lock());
    np = g_detector->python_stacks().get(python_stack, &frames);
  }
  for (uint32_t j = 0; j < np && j < 8; ++j) {
    t.add("    py ");
    t.add(frames[j].file);
    t.add(":");
    t.add_dec(uint64_t(frames[j].line > 0 ? frames[j].line : 0));
    t.add(" in ");
    t.add(frames[j].function);
    t.add("\n");
  }
}

// The last line of every printed finding: where the full, symbolizable record is.
void print_results_path(StderrText& t) {
  if (results_path()[0]) {
    t.add("  results: ");
    t.add(results_path());
    t.add(" (symbolized by `gilwatch run` / `gilwatch report`)\n");
  }
  t.flush_to_stderr();
}

// "  thread TID (NAME) "
void print_thread_header(StderrText& t, uint32_t tid, const char* name, std::size_t name_size) {
  t.add("  thread ");
  t.add_dec(tid);
  t.add(" (");
  t.add(name, strnlen(name, name_size));
  t.add(") ");
}

}  // namespace

void print_findings(std::size_t first, std::size_t count) {
  if (!g_options.report_stderr || !g_detector) return;
  static SpinLock printing;  // guards `f`: a finding is kilobytes, too much for a hook's stack
  static Finding f;
  SpinLockGuard printing_guard(printing);
  StderrText t;
  for (std::size_t i = first; i < count; ++i) {
    {
      SpinLockGuard guard(g_detector->lock());
      if (i >= g_detector->finding_count()) return;
      f = g_detector->finding(i);
    }
    t.add("==");
    t.add_dec(uint64_t(::getpid()));
    t.add("==WARNING: gilwatch: lock-order-inversion (potential deadlock)\n  cycle: ");
    describe_cycle(t, f);
    t.add("\n");
    t.flush_to_stderr();
    uint32_t edge_count = f.cycle_length > f.lock_count ? f.lock_count - 1 : f.lock_count;
    for (uint32_t k = 0; k < edge_count; ++k) {
      const FindingEdge& e = f.edges[k];
      print_thread_header(t, e.tid, e.thread_name, sizeof(e.thread_name));
      t.add("took ");
      describe_lock(t, f.locks[e.to]);
      t.add(" while holding ");
      describe_lock(t, f.locks[e.from]);
      t.add(":\n");
      print_stack(t, e.native_stack, e.python_stack);
      t.flush_to_stderr();
    }
    print_results_path(t);
  }
}

void print_events(std::size_t first, std::size_t count) {
  if (!g_options.report_stderr || !g_detector) return;
  static EventFinding e;  // large; printing is serialized by the report lock
  StderrText t;
  for (std::size_t i = first; i < count; ++i) {
    {
      SpinLockGuard guard(g_detector->lock());
      if (i >= g_detector->event_count()) return;
      e = g_detector->event(i);
    }
    // The command decides about these, once it can name the lock (wait_monitor.h).
    if (left_to_command(e)) continue;
    t.add("==");
    t.add_dec(uint64_t(::getpid()));
    t.add("==WARNING: gilwatch: ");
    t.add(finding_kind_name(e.kind));
    if (e.probable) t.add(" (probable)");
    t.add("\n  ");
    t.add(e.summary, strnlen(e.summary, sizeof(e.summary)));
    t.add("\n");
    t.flush_to_stderr();
    for (uint32_t k = 0; k < e.thread_count && k < uint32_t(kMaxEventThreads); ++k) {
      const EventThread& th = e.threads[k];
      print_thread_header(t, th.tid, th.name, sizeof(th.name));
      t.add(th.role, strnlen(th.role, sizeof(th.role)));
      t.add(":\n");
      print_stack(t, th.native_stack, th.python_stack);
      t.flush_to_stderr();
    }
    print_results_path(t);
  }
}

std::size_t reported_finding_count() {
  SpinLockGuard guard(g_detector->lock());
  std::size_t count = g_detector->finding_count();
  for (std::size_t i = 0; i < g_detector->event_count(); ++i)
    if (!left_to_command(g_detector->event(i))) ++count;
  return count;
}

void print_exit_summary() {
  if (!g_detector || !g_options.report_stderr) return;
  print_profile_summary();
  StderrText t;
  // Every fixed capacity that overflowed, whether or not there are findings: some may be
  // missing because of it.
  CapacityWarning warnings[Detector::kCapacityCount + kPreloadCapacityCount];
  std::size_t n = g_detector->capacity_warnings(warnings, Detector::kCapacityCount);
  n += preload_capacity_warnings(warnings + n, kPreloadCapacityCount);
  for (std::size_t i = 0; i < n; ++i) {
    t.add("==");
    t.add_dec(uint64_t(::getpid()));
    t.add("==WARNING: gilwatch: capacity ");
    t.add(warnings[i].name);
    t.add(" (");
    t.add_dec(warnings[i].limit);
    t.add(") overflowed: ");
    t.add_dec(warnings[i].lost);
    t.add(" ");
    t.add(warnings[i].lost_what);
    t.add("\n");
    t.flush_to_stderr();
  }
  std::size_t count = reported_finding_count();
  if (count == 0) return;
  t.add("==");
  t.add_dec(uint64_t(::getpid()));
  t.add("==gilwatch: ");
  t.add_dec(count);
  t.add(count == 1 ? " finding" : " findings");
  t.add(" in this process\n");
  t.flush_to_stderr();
}


}  // namespace gilwatch::preload
