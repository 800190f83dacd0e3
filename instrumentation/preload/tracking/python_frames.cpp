#include <dlfcn.h>
#include <pthread.h>
#include <link.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "python_api.h"
#include "python_layout.h"
#include "runtime.h"

namespace gilwatch::preload {

PythonApi g_python;

namespace {

template <class Fn>
void find(Fn& slot, const char* name) {
  slot = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, name));
}

void copy_string_attribute(void* object, const char* name, char* out, std::size_t size) {
  void* value = g_python.getattr(object, name);
  if (!value) {
    g_python.err_clear();
    return;
  }
  const char* utf8 = g_python.as_utf8(value);
  if (utf8) {
    std::strncpy(out, utf8, size - 1);
  } else {
    g_python.err_clear();
  }
  g_python.decref(value);
}

int find_interpreter_segments(struct dl_phdr_info* info, size_t, void* data) {
  auto base = reinterpret_cast<uintptr_t>(data);
  // dladdr's dli_fbase is the lowest mapped address: the first PT_LOAD's start.
  uintptr_t lowest = ~uintptr_t(0);
  for (int i = 0; i < info->dlpi_phnum; ++i)
    if (info->dlpi_phdr[i].p_type == PT_LOAD && info->dlpi_addr + info->dlpi_phdr[i].p_vaddr < lowest)
      lowest = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
  if ((lowest & ~uintptr_t(0xfff)) != (base & ~uintptr_t(0xfff))) return 0;
  for (int i = 0; i < info->dlpi_phnum && g_python.interpreter_text_count < 4; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    g_python.interpreter_text[g_python.interpreter_text_count][0] = info->dlpi_addr + ph.p_vaddr;
    g_python.interpreter_text[g_python.interpreter_text_count][1] = info->dlpi_addr + ph.p_vaddr + ph.p_memsz;
    ++g_python.interpreter_text_count;
  }
  return 1;
}

std::atomic<bool> g_exit_marker{false};
std::atomic<long> g_exit_marker_tid{0};

// Where _PyRuntime keeps the finalizing thread state (python_layout.h), or null.
void* const* find_finalizing_tstate(const unsigned char* runtime) {
  std::size_t offset = finalizing_tstate_offset(g_python.major, g_python.minor, runtime);
  return offset ? reinterpret_cast<void* const*>(runtime + offset) : nullptr;
}

// The versions docs/support.md lists as tested. Outside them what works anyway works
// (the calls used are all public API, found by name; what is assumed is how the version
// decides who holds the GIL, which a new version may change), and the results say so
// ("python": {"tested": false}); the program's stderr is left alone unless verbosity >= 1.
// 3.14 and 3.15: Debian forky's, in tests/integration/test_python314.py.
constexpr int kNewestTestedMinor = 15;
constexpr int kOldestTestedMinor = 9;

void warn_if_untested_version() {
  if (python_version_tested() || g_options.verbosity < 1) return;
  static std::atomic<bool> warned{false};  // resolution is retried after each dlopen
  if (warned.exchange(true)) return;
  char line[256];
  std::snprintf(line, sizeof(line),
                "==gilwatch== Python %d.%d is not among the versions gilwatch is tested with (3.%d-3.%d): native "
                "lock tracking works as ever; findings that involve the GIL may be wrong%s\n",
                g_python.major, g_python.minor, kOldestTestedMinor, kNewestTestedMinor,
                g_python.loaded.load(std::memory_order_relaxed) ? "" : " (and its thread-state API was not found: "
                                                                       "the GIL is not tracked)");
  write_program_stderr(line, std::strlen(line));
}

}  // namespace

bool python_version_tested() {
  return g_python.major == 3 && g_python.minor >= kOldestTestedMinor && g_python.minor <= kNewestTestedMinor;
}

bool interpreter_contains(uintptr_t pc) {
  for (int i = 0; i < g_python.interpreter_text_count; ++i)
    if (pc >= g_python.interpreter_text[i][0] && pc < g_python.interpreter_text[i][1]) return true;
  return false;
}

bool python_finalizing() {
  if (g_exit_marker.load(std::memory_order_acquire)) return true;
  return g_python.is_finalizing && g_python.is_finalizing() != 0;
}

bool finalizing_thread(const void* tstate) {
  long marker = g_exit_marker_tid.load(std::memory_order_acquire);
  if (marker && marker == syscall(SYS_gettid)) return true;
  if (!g_python.finalizing_tstate) return false;
  const void* finalizing = __atomic_load_n(g_python.finalizing_tstate, __ATOMIC_RELAXED);
  if (!finalizing) return false;
  if (tstate) return tstate == finalizing;
  return g_python.this_thread_state && g_python.this_thread_state() == finalizing;
}

bool resolve_python_api() {
  if (g_python.loaded.load(std::memory_order_acquire)) return false;
  const char* (*get_version)() = nullptr;
  find(get_version, "Py_GetVersion");
  if (!get_version) return false;

  const char* version = get_version();
  std::strncpy(g_python.version, version, sizeof(g_python.version) - 1);
  if (std::sscanf(version, "%d.%d", &g_python.major, &g_python.minor) != 2) return false;

  find(g_python.this_thread_state, "PyGILState_GetThisThreadState");
  // 3.13 renamed _PyThreadState_UncheckedGet to PyThreadState_GetUnchecked.
  find(g_python.current_unchecked, "PyThreadState_GetUnchecked");
  if (!g_python.current_unchecked) find(g_python.current_unchecked, "_PyThreadState_UncheckedGet");
  // Through 3.11 the "current" thread state is a process-wide variable naming the GIL
  // holder; from 3.12 it is thread-local and non-null exactly while the thread is attached.
  g_python.current_is_per_thread = g_python.major > 3 || (g_python.major == 3 && g_python.minor >= 12);

  find(g_python.thread_state_interpreter, "PyThreadState_GetInterpreter");
  find(g_python.get_frame, "PyEval_GetFrame");
  find(g_python.frame_get_code, "PyFrame_GetCode");
  find(g_python.frame_get_back, "PyFrame_GetBack");
  find(g_python.frame_get_line, "PyFrame_GetLineNumber");
  find(g_python.getattr, "PyObject_GetAttrString");
  find(g_python.as_utf8, "PyUnicode_AsUTF8");
  find(g_python.decref, "Py_DecRef");
  find(g_python.err_fetch, "PyErr_Fetch");
  find(g_python.err_restore, "PyErr_Restore");
  find(g_python.err_clear, "PyErr_Clear");

  find(g_python.is_finalizing, "Py_IsFinalizing");
  if (!g_python.is_finalizing) find(g_python.is_finalizing, "_Py_IsFinalizing");
  find(g_python.is_initialized, "Py_IsInitialized");
  // _PyRuntime: exported by every interpreter gilwatch supports (and by the stub
  // programs that stand in for a free-threaded one in the tests).
  auto* runtime = static_cast<const unsigned char*>(dlsym(RTLD_DEFAULT, "_PyRuntime"));
  g_python.finalizing_tstate = find_finalizing_tstate(runtime);
  g_python.free_threaded = python_threading(g_python.major, g_python.minor, runtime) == PythonThreading::kFreeThreaded;
  g_python.frame_entry_layout = frame_entry_layout(g_python.major, g_python.minor, g_python.free_threaded);

  void* anchor = dlsym(RTLD_DEFAULT, "PyGILState_Ensure");
  g_python.interpreter_address = anchor;
  Dl_info where;
  if (anchor && dladdr(anchor, &where) && where.dli_fbase)
    dl_iterate_phdr(find_interpreter_segments, where.dli_fbase);
  g_python.loaded.store(g_python.this_thread_state && g_python.current_unchecked,
                        std::memory_order_release);
  refresh_mutex_lock_way();
  warn_if_untested_version();
  return g_python.loaded.load(std::memory_order_relaxed);
}

// Why not PyGILState_Check(): it answers 1 before initialization, after finalization and
// forever once a subinterpreter exists, whatever the thread holds. Comparing the thread's
// own state with the GIL holder's is exact in all of those cases.
namespace {

// Through 3.11 a thread state records the OS thread it runs on (`thread_id`, the
// pthread_self() of its thread) at a version-specific offset. Rather than take the
// offset from a header, it is found in the interpreter itself: the one word of this
// thread's own PyGILState state that equals pthread_self(). -2: not looked for yet;
// -1: not found (or not unique): then only the comparisons below are used.
std::atomic<int> g_thread_id_offset{-2};
constexpr int kThreadIdSearchBytes = 512;

int thread_id_offset() {
  int offset = g_thread_id_offset.load(std::memory_order_acquire);
  if (offset != -2) return offset;
  void* mine = g_python.this_thread_state();
  if (!mine) return -2;  // ask again from a thread that has one
  uintptr_t self = reinterpret_cast<uintptr_t>(pthread_self());
  int found = -1, matches = 0;
  for (int at = 0; at < kThreadIdSearchBytes; at += int(sizeof(uintptr_t))) {
    uintptr_t word;
    std::memcpy(&word, static_cast<const char*>(mine) + at, sizeof(word));
    if (word == self) {
      found = at;
      ++matches;
    }
  }
  offset = matches == 1 ? found : -1;
  g_thread_id_offset.store(offset, std::memory_order_release);
  return offset;
}

}  // namespace

bool thread_holds_gil_slow() {
  void* current = g_python.current_unchecked();
  if (!current) return false;
  if (g_python.current_is_per_thread) return true;
  // Through 3.11 `current` is the GIL holder's state: ours if it is the one PyGILState
  // bound to this thread, or one this thread attached itself...
  if (current == g_python.this_thread_state() || current == current_thread()->attached_tstate) return true;
  // ...or one that runs on this thread without either: a subinterpreter's (PyGILState
  // binds the main interpreter's states only), entered by code gilwatch does not hook
  // (Py_NewInterpreter and PyThreadState_Swap inside an extension, threads started in a
  // subinterpreter). The state names its thread.
  int offset = thread_id_offset();
  if (offset < 0) return false;
  uintptr_t owner;
  std::memcpy(&owner, static_cast<const char*>(current) + offset, sizeof(owner));
  return owner == reinterpret_cast<uintptr_t>(pthread_self());
}

void capture_python_frames(EvidenceCapture& out) {
  PythonApi& py = g_python;
  if (!py.get_frame || !py.frame_get_code || !py.frame_get_back || !py.frame_get_line ||
      !py.getattr || !py.as_utf8 || !py.decref || !py.err_fetch || !py.err_restore || !py.err_clear)
    return;  // 3.8 and older lack the frame accessors
  // Keep whatever exception the program has in flight exactly as it was.
  void *type = nullptr, *value = nullptr, *traceback = nullptr;
  py.err_fetch(&type, &value, &traceback);
  const char* name_attribute = (py.major == 3 && py.minor >= 11) ? "co_qualname" : "co_name";
  void* frame = py.get_frame();  // borrowed
  void* owned = nullptr;         // new reference from PyFrame_GetBack
  while (frame && out.python_count < uint32_t(kMaxPyFrames)) {
    PyFrameRecord& record = out.python[out.python_count++];
    std::memset(&record, 0, sizeof(record));
    if (void* code = py.frame_get_code(frame)) {
      copy_string_attribute(code, name_attribute, record.function, sizeof(record.function));
      copy_string_attribute(code, "co_filename", record.file, sizeof(record.file));
      py.decref(code);
    }
    record.line = py.frame_get_line(frame);
    record.entry = int32_t(frame_entry(py.frame_entry_layout, frame));
    if (const void* entry = frame_loop_entry(py.frame_entry_layout, frame)) {
      uint32_t holder = native_frame_holding(out.native_cfa, out.native_count, reinterpret_cast<uintptr_t>(entry));
      if (holder < out.native_count) record.loop_pc = out.native[holder];
    }
    void* back = py.frame_get_back(frame);
    if (owned) py.decref(owned);
    owned = back;
    frame = back;
  }
  if (owned) py.decref(owned);
  py.err_restore(type, value, traceback);
}

}  // namespace gilwatch::preload

// The exit-boundary marker: pyhooks (or any program, through ctypes) calls this from an
// atexit handler, so that GIL requests made after the program's own atexit handlers
// count as attaching during finalization even before the interpreter sets its flag.
extern "C" __attribute__((visibility("default"))) void gilwatch_python_exit_begun() {
  // atexit handlers run on the thread that then finalizes the interpreter.
  gilwatch::preload::g_exit_marker_tid.store(syscall(SYS_gettid), std::memory_order_release);
  gilwatch::preload::g_exit_marker.store(true, std::memory_order_release);
}
