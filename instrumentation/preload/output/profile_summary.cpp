// profile_summary: the profile in a few lines on the program's stderr at exit, when the
// library reports there itself (preloaded by hand with profile=1; `gilwatch run` prints a
// symbolized one instead): the GIL's totals and the lock waited for longest. Names code
// with dladdr only (the library does not symbolize). The full profile is profile_json.cpp's.
#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "lock_profiling.h"
#include "python_api.h"
#include "results_parts.h"
#include "runtime.h"
#include "stderr_text.h"

namespace gilwatch::preload {

namespace {

// "registry_update+0x15 in contended_registry", or the address, for the stderr summary
// (the library does not symbolize; dladdr names exported and dynamic symbols only).
void add_code_location(StderrText& t, uintptr_t pc) {
  Dl_info info;
  if (pc && dladdr(reinterpret_cast<void*>(pc), &info) && info.dli_sname) {
    t.add(info.dli_sname);
    t.add("+");
    t.add_hex(pc - reinterpret_cast<uintptr_t>(info.dli_saddr));
  } else {
    t.add_hex(pc);
  }
  if (pc && dladdr(reinterpret_cast<void*>(pc), &info) && info.dli_fname) {
    const char* base = std::strrchr(info.dli_fname, '/');
    t.add(" in ");
    t.add(base ? base + 1 : info.dli_fname);
  }
}

void add_ms(StderrText& t, uint64_t ns) {
  t.add_dec(ns / 1000000);
  t.add(".");
  uint64_t tenths = (ns / 100000) % 10;
  t.add_dec(tenths);
  t.add(" ms");
}

}  // namespace

// The profile in a few lines, when the library reports on stderr itself (preloaded by
// hand with profile=1; `gilwatch run` prints a symbolized one instead).
void print_profile_summary() {
  if (!g_profiler) return;
  StderrText t;
  const GilProfile& gil = g_profiler->gil();
  // No interpreter, or a free-threaded one: no GIL to speak of.
  bool has_gil = g_python.loaded.load(std::memory_order_acquire) && !g_python.free_threaded;
  if (has_gil) {
    t.add("==");
    t.add_dec(uint64_t(::getpid()));
    t.add("==gilwatch profile: the GIL ");
  }
  if (!has_gil) {
  } else if (is_gil_mutex_known()) {
    t.add("taken ");
    t.add_dec(gil.takes.load(std::memory_order_relaxed));
    t.add(" times (");
    t.add_dec(gil.contended_takes.load(std::memory_order_relaxed));
    t.add(" after a wait), held ");
    add_ms(t, gil.held_ns.load(std::memory_order_relaxed));
    t.add(", waited for ");
    add_ms(t, gil.waited_ns.load(std::memory_order_relaxed));
    t.add("\n");
  } else {
    t.add("was never waited for\n");
  }
  const LockProfile* top = nullptr;
  g_profiler->for_each([&](const LockProfile& p) {
    if (is_gil_mutex(p.address.load(std::memory_order_relaxed))) return;
    uint64_t wait = p.wait_total_ns.load(std::memory_order_relaxed);
    uint64_t top_wait = top ? top->wait_total_ns.load(std::memory_order_relaxed) : 0;
    if (!top || wait > top_wait ||
        (wait == top_wait && p.acquisitions.load(std::memory_order_relaxed) > top->acquisitions.load(std::memory_order_relaxed)))
      top = &p;
  });
  if (top && top->acquisitions.load(std::memory_order_relaxed)) {
    t.add("==");
    t.add_dec(uint64_t(::getpid()));
    t.add(top->contended.load(std::memory_order_relaxed) ? "==gilwatch profile: the lock waited for longest: "
                                                          : "==gilwatch profile: no lock was waited for; the most taken: ");
    t.add(lock_kind_name(top->kind));
    t.add(" ");
    t.add_hex(top->address.load(std::memory_order_relaxed));
    t.add(" first taken at ");
    add_code_location(t, top->first_pc.load(std::memory_order_relaxed));
    t.add(": ");
    t.add_dec(top->acquisitions.load(std::memory_order_relaxed));
    t.add(" acquisitions, ");
    t.add_dec(top->contended.load(std::memory_order_relaxed));
    t.add(" contended, waited ");
    add_ms(t, top->wait_total_ns.load(std::memory_order_relaxed));
    t.add(" in all\n");
  }
  t.add("==");
  t.add_dec(uint64_t(::getpid()));
  t.add("==gilwatch profile: all of it in ");
  t.add(results_path()[0] ? results_path() : "the results file (set out_dir)");
  t.add("; `gilwatch report` symbolizes it\n");
  t.flush_to_stderr();
}

}  // namespace gilwatch::preload
