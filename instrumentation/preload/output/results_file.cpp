// results_file: the per-process results file (format and keys: gilwatch/result_format.h).
// It writes the document around the findings — the process, its interpreter, the loaded
// objects (kept here, so native frames can be symbolized after the process is gone), the
// stats — and rewrites the file atomically (.tmp, then rename), growing its mmap'd buffer
// until the document fits. The findings themselves are written by engine/results_json.h,
// the profiles by profile_json.cpp; it decides nothing about what is a finding.
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "results_json.h"
#include "gilwatch/result_format.h"
#include "json_writer.h"
#include "lock_profiling.h"
#include "mapped_memory.h"
#include "python_api.h"
#include "results_parts.h"
#include "results_writer.h"
#include "runtime.h"
#include "spin_lock.h"
#include "text_buffer.h"

namespace gilwatch::preload {

namespace {

namespace rk = gilwatch::result_format::key;

// ---- loaded objects ----

struct Module {
  uint32_t path_offset;
  uintptr_t load_bias;
  uint32_t segment_count;
  uintptr_t segments[8][2];  // executable PT_LOAD ranges
};

constexpr uint32_t kMaxModules = 2048;
constexpr uint32_t kPathArena = 1u << 19;
Module* g_modules = nullptr;
char* g_paths = nullptr;
uint32_t g_module_count = 0;
uint32_t g_paths_used = 0;
SpinLock g_modules_lock;

int add_module(struct dl_phdr_info* info, size_t, void*) {
  const char* name = info->dlpi_name;
  char exe[512];
  if (!name || !*name) {
    // The main program: dl_iterate_phdr names it "".
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) return 0;
    exe[n] = '\0';
    name = exe;
  }
  if (std::strncmp(name, "linux-vdso", 10) == 0) return 0;
  for (uint32_t i = 0; i < g_module_count; ++i)
    if (g_modules[i].load_bias == info->dlpi_addr && std::strcmp(g_paths + g_modules[i].path_offset, name) == 0)
      return 0;
  std::size_t length = std::strlen(name) + 1;
  if (g_module_count == kMaxModules || g_paths_used + length > kPathArena) return 0;
  Module& m = g_modules[g_module_count];
  m.path_offset = g_paths_used;
  std::memcpy(g_paths + g_paths_used, name, length);
  g_paths_used += static_cast<uint32_t>(length);
  m.load_bias = info->dlpi_addr;
  m.segment_count = 0;
  for (int i = 0; i < info->dlpi_phnum && m.segment_count < 8; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    m.segments[m.segment_count][0] = info->dlpi_addr + ph.p_vaddr;
    m.segments[m.segment_count][1] = info->dlpi_addr + ph.p_vaddr + ph.p_memsz;
    ++m.segment_count;
  }
  if (m.segment_count) ++g_module_count;
  return 0;
}

const Module* module_of(uintptr_t pc) {
  // Newest first: an address reused after dlclose belongs to the latest object there.
  for (uint32_t i = g_module_count; i-- > 0;) {
    const Module& m = g_modules[i];
    for (uint32_t s = 0; s < m.segment_count; ++s)
      if (pc >= m.segments[s][0] && pc < m.segments[s][1]) return &m;
  }
  return nullptr;
}

const char* base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}


// ---- results file ----

char g_results_path[1200];
char* g_json = nullptr;
std::size_t g_json_capacity = 0;
SpinLock g_write_lock;

bool make_directories(const char* path) {
  char tmp[1100];
  std::size_t n = std::strlen(path);
  if (n == 0 || n >= sizeof(tmp)) return false;
  std::memcpy(tmp, path, n + 1);
  for (std::size_t i = 1; i <= n; ++i) {
    if (tmp[i] == '/' || tmp[i] == '\0') {
      char saved = tmp[i];
      tmp[i] = '\0';
      if (::mkdir(tmp, 0777) != 0 && errno != EEXIST) return false;
      tmp[i] = saved;
    }
  }
  return true;
}

// /proc/self/cmdline into `buf`: the arguments, each ended by '\0'.
std::size_t read_argv(char* buf, std::size_t size) {
  int fd = ::open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = ::read(fd, buf, size);
  ::close(fd);
  return n > 0 ? std::size_t(n) : 0;
}

std::size_t render(char* buf, std::size_t capacity, bool exited, int exit_status, bool* truncated) {
  JsonWriter w(buf, capacity);
  // Off the caller's stack (a hook may run on a small one); renders are serialized by
  // g_write_lock.
  static char argv[8192];
  static char exe[512];
  ssize_t exe_size = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  DocumentHead head;
  head.pid = ::getpid();
  head.ppid = ::getppid();
  head.argv = argv;
  head.argv_size = read_argv(argv, sizeof(argv));
  head.exe = exe;
  head.exe_size = exe_size > 0 ? std::size_t(exe_size) : 0;
  head.exited = exited;
  head.exit_status = exit_status;
  begin_results_document(w, head);
  w.key(rk::kPython);
  w.begin_object();
  bool python = g_python.loaded.load(std::memory_order_acquire);
  w.key(rk::kLoaded);
  w.value(python);
  if (g_python.major != 0) {  // found, even when its thread-state API was not
    w.key(rk::kVersion);
    w.value(g_python.version);
    w.key(rk::kTested);
    w.value(python_version_tested());
    w.key(rk::kFreeThreaded);
    w.value(g_python.free_threaded);
    w.key(rk::kChecksOff);
    w.begin_array();
    for (int c = 0; c < int(Check::kCount); ++c)
      if (!python_check_applies(Check(c))) w.value(check_name(Check(c)));
    w.end_array();
  }
  w.end_object();
  w.key(rk::kUntrackedLowStack);
  w.value(g_detector->stats().untracked_low_stack);
  {
    CapacityWarning warnings[Detector::kCapacityCount + kPreloadCapacityCount];
    std::size_t n = g_detector->capacity_warnings(warnings, Detector::kCapacityCount);
    n += preload_capacity_warnings(warnings + n, kPreloadCapacityCount);
    w.key(rk::kCapacityWarnings);
    w.begin_array();
    for (std::size_t i = 0; i < n; ++i) {
      w.begin_object();
      w.key(rk::kCapacity);
      w.value(warnings[i].name);
      w.key(rk::kLimit);
      w.value(warnings[i].limit);
      w.key(rk::kLost);
      w.value(warnings[i].lost);
      w.key(rk::kLostWhat);
      w.value(warnings[i].lost_what);
      w.end_object();
    }
    w.end_array();
  }

  {
    SpinLockGuard guard(g_modules_lock);
    w.key(rk::kModules);
    w.begin_array();
    for (uint32_t i = 0; i < g_module_count; ++i) {
      const Module& m = g_modules[i];
      w.begin_object();
      w.key(rk::kPath);
      w.value(g_paths + m.path_offset);
      w.key(rk::kLoadBias);
      w.hex(m.load_bias);
      w.key(rk::kSegments);
      w.begin_array();
      for (uint32_t s = 0; s < m.segment_count; ++s) {
        w.begin_array();
        w.hex(m.segments[s][0]);
        w.hex(m.segments[s][1]);
        w.end_array();
      }
      w.end_array();
      w.end_object();
    }
    w.end_array();
  }

  SpinLockGuard guard(g_detector->lock());
  write_findings_json(w, *g_detector, kContextSize, finding_context, event_context);
  if (g_profiler) write_profiles_json(w);
  DetectorStats s = g_detector->stats();
  w.key(rk::kStats);
  w.begin_object();
  w.key(rk::kLocksTracked);
  w.value(uint64_t(s.locks_tracked));
  w.key(rk::kEdges);
  w.value(uint64_t(s.graph_edges));
  w.key(rk::kFindingsDropped);
  w.value(s.findings_dropped);
  w.key(rk::kReadOnlyCyclesDismissed);
  w.value(s.cycles_read_only);
  w.key(rk::kThreadsExitedHoldingLocks);
  w.value(threads_exited_holding_locks());
  w.key(rk::kOverflow);
  w.begin_array();
  if (s.graph_full) w.value("lock-graph");
  if (s.table_full) w.value("lock-table");
  if (s.stacks_full) w.value("stack-store");
  if (s.held_overflows) w.value("held-locks-per-thread");
  w.end_array();
  w.end_object();
  w.end_object();
  *truncated = w.truncated();
  return w.size();
}


}  // namespace

const char* results_path() { return g_results_path; }

bool module_of_address(uintptr_t pc, const char** name, uintptr_t* load_bias) {
  SpinLockGuard guard(g_modules_lock);
  const Module* m = module_of(pc);
  if (!m) return false;
  *name = base_name(g_paths + m->path_offset);
  *load_bias = m->load_bias;
  return true;
}

void snapshot_modules() {
  SpinLockGuard guard(g_modules_lock);
  if (!g_modules) {
    g_modules = static_cast<Module*>(map_zeroed(sizeof(Module) * kMaxModules));
    g_paths = static_cast<char*>(map_zeroed(kPathArena));
    if (!g_modules || !g_paths) return;
  }
  dl_iterate_phdr(add_module, nullptr);
}

void init_results_file() {
  g_results_path[0] = '\0';
  if (!g_options.out_dir[0]) return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  TextBuffer name;
  name.add(g_options.out_dir);
  name.add("/");
  name.add(gilwatch::result_format::kFilePrefix);
  name.add_dec(uint64_t(::getpid()));
  name.add(".");
  name.add_dec(uint64_t(ts.tv_sec) * 1000000000ULL + uint64_t(ts.tv_nsec));
  name.add(gilwatch::result_format::kFileSuffix);
  if (name.len >= sizeof(g_results_path)) return;
  std::memcpy(g_results_path, name.buf, name.len);
  g_results_path[name.len] = '\0';
}

void write_results(bool exited, int exit_status) {
  if (!g_detector || !g_results_path[0]) return;
  SpinLockGuard guard(g_write_lock);
  if (!make_directories(g_options.out_dir)) return;
  bool truncated = true;
  std::size_t size = 0;
  for (std::size_t capacity = g_json_capacity ? g_json_capacity : (std::size_t(1) << 20);
       capacity <= (std::size_t(1) << 28); capacity *= 2) {
    if (capacity > g_json_capacity) {
      if (g_json) ::munmap(g_json, g_json_capacity);
      g_json = static_cast<char*>(map_zeroed(capacity));
      g_json_capacity = g_json ? capacity : 0;
      if (!g_json) return;
    }
    size = render(g_json, g_json_capacity, exited, exit_status, &truncated);
    if (!truncated) break;
  }
  if (truncated) return;
  char tmp[1210];
  std::size_t n = std::strlen(g_results_path);
  std::memcpy(tmp, g_results_path, n);
  std::memcpy(tmp + n, ".tmp", 5);
  int fd = ::open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  std::size_t off = 0;
  while (off < size) {
    ssize_t w = ::write(fd, g_json + off, size - off);
    if (w <= 0) break;
    off += std::size_t(w);
  }
  ::close(fd);
  if (off == size) ::rename(tmp, g_results_path);
}

}  // namespace gilwatch::preload
