#include "describe.h"

#include <algorithm>

#include "gilwatch/duration_buckets.h"

#include <fmt/format.h>

namespace gilwatch::report {

namespace {

struct KindRow {
  const char* kind;
  const char* title;
  const char* meaning;
  const char* severity;
};

constexpr KindRow kKinds[] = {
    {"lock-order-inversion", "Lock-order inversion (potential deadlock)",
     "Threads took these locks in conflicting orders; the GIL counts as a lock. Each arrow "
     "happened: a thread held the first lock and then took the second. If those threads run "
     "at the same moment, each can wait for a lock another one holds, and the process hangs. "
     "This run did not need to hang for it to be found.",
     "error"},
    {"deadlock", "Deadlock",
     "These threads were blocked in a cycle, each waiting for a lock another one held. "
     "The process could not continue.",
     "error"},
    {"gil-held-blocking", "Blocking while holding the GIL",
     "A thread blocked (on a lock, condition variable, join, futex or sleep) while it held "
     "the GIL. No other Python thread can run meanwhile, and if the awaited work needs the "
     "GIL the process deadlocks.",
     "error"},
    {"capi-without-gil", "Python C API call without the GIL",
     "A thread called into the Python C API without holding the GIL. This corrupts "
     "interpreter state at random moments.",
     "error"},
    {"finalization-attach", "Thread attached during interpreter finalization",
     "A native thread took the GIL while the interpreter was shutting down. CPython ends such "
     "threads abruptly, or the process crashes.",
     "error"},
    {"abandoned-lock", "Lock abandoned by a thread that ended",
     "A thread ended (or was unwound) while it still held this lock. Every later attempt to "
     "take the lock waits forever.",
     "error"},
    {"rust-panic", "Rust panic with the GIL held, reaching Python, or ending a native thread",
     "Rust code panicked while its thread held the GIL, the panic reached Python as an "
     "exception (PyO3's PanicException), or it ended a native thread Python never saw. Locks "
     "whose guards it unwound are poisoned; state the panic interrupted may be half-updated, "
     "and a thread that recovers a poisoned lock (into_inner) goes on with it.",
     "error"},
    {"fork-with-lock-held", "fork() while another thread held a lock",
     "The process forked while another thread held a lock. The child inherits the lock "
     "locked, with no thread that will ever release it.",
     "warning"},
    {"thread-leak", "Threads left after teardown",
     "Threads were still running after the code under test shut down.", "warning"},
    {"fd-leak", "File descriptors left after teardown",
     "File descriptors were still open after the code under test shut down.", "warning"},
    {"crash", "Crash", "The run died on a signal or a fatal error.", "error"},
    {"hang", "Hang", "The run outlived its timeout and was killed.", "error"},
    {"low-speedup", "Parallel speedup below target",
     "A parallel scenario scaled worse than its target: the threads are serialized, often "
     "by a GIL that is held around work that was meant to run without it.",
     "warning"},
};

}  // namespace

KindInfo kind_info(const std::string& kind) {
  for (const KindRow& row : kKinds)
    if (kind == row.kind) return KindInfo{row.title, row.meaning, row.severity};
  return KindInfo{kind, "", "error"};
}

std::vector<std::string> known_kinds() {
  std::vector<std::string> kinds;
  for (const KindRow& row : kKinds) kinds.push_back(row.kind);
  return kinds;
}

std::string hex(uint64_t value) { return fmt::format("{:#x}", value); }

namespace {

std::string fingerprint_of(const std::string& kind, const std::string& signature) {
  uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a, 64 bits
  auto add = [&](const std::string& text) {
    for (unsigned char c : text) {
      hash ^= c;
      hash *= 0x100000001b3ULL;
    }
  };
  add(kind);
  add("\n");
  add(signature);
  return fmt::format("{:016x}", hash);
}

}  // namespace

std::string fingerprint(const Finding& finding) { return fingerprint_of(finding.kind, finding.signature); }

std::string legacy_fingerprint(const Finding& finding) {
  return fingerprint_of(finding.kind, finding.legacy_signature.empty() ? finding.signature : finding.legacy_signature);
}

std::string duration_text(uint64_t ns) {
  if (ns < 1000) return fmt::format("{} ns", ns);
  if (ns < 1000000) return fmt::format("{:.3g} us", double(ns) / 1e3);
  if (ns < 1000000000) return fmt::format("{:.3g} ms", double(ns) / 1e6);
  return fmt::format("{:.3g} s", double(ns) / 1e9);
}

std::string site_label(const std::vector<NativeFrame>& site) {
  if (site.empty()) return "unknown site";
  // The program's frame, past a language runtime's (a Rust lock's slow path, PyO3's
  // attach): where a reader would look.
  std::size_t program = first_program_frame(site);
  return frame_label(program < site.size() ? site[program] : site.front());
}

std::string frame_label(const NativeFrame& f) {
  if (!f.function.empty() && f.function != "??") {
    if (f.file.empty()) return f.function;
    return f.function + " (" + base_name(f.file) + (f.line > 0 ? fmt::format(":{}", f.line) : "") + ")";
  }
  return f.module.empty() ? hex(f.pc) : base_name(f.module) + "+" + hex(f.offset);
}

std::string holder_label(const std::vector<NativeFrame>& site) {
  return site.empty() ? std::string("Python code (no extension call seen)") : site_label(site);
}

double share_of(uint64_t part, uint64_t whole) { return whole ? double(part) / double(whole) : 0.0; }

double contended_share(const LockContention& row) {
  return row.acquisitions ? double(row.contended) / double(row.acquisitions) : 0.0;
}

uint64_t histogram_percentile(const std::vector<uint64_t>& histogram, double q, uint64_t max_ns) {
  if (histogram.size() != std::size_t(duration_buckets::kCount)) return 0;
  return std::min(duration_buckets::percentile(histogram.data(), q), max_ns);
}

std::string base_name(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool is_runtime_frame(const NativeFrame& frame) {
  // Rust's std, core and alloc are compiled from /rustc/<commit>/library/...; crates
  // (parking_lot, lock_api, tokio, pyo3...) from cargo's registry. Their inlined frames
  // carry short names ("park", "unwrap<...>"), so the file says more than the name.
  if (frame.file.rfind("/rustc/", 0) == 0 || frame.file.find("/.cargo/registry/") != std::string::npos) return true;
  static constexpr const char* kPrefixes[] = {
      "__rustc::",        "std::panicking::", "core::panicking::", "core::result::unwrap_failed",
      "core::option::",   "std::sys::",       "<std::sys::",       "std::thread::",
      "<std::thread::",   "std::sync::",      "<std::sync::",      "parking_lot::",
      "parking_lot_core::", "lock_api::",     "<lock_api::",       "tokio::runtime::",
      "rust_panic",
  };
  for (const char* prefix : kPrefixes)
    if (frame.function.rfind(prefix, 0) == 0) return true;
  return false;
}

std::size_t first_program_frame(const std::vector<NativeFrame>& frames) {
  std::size_t i = 0;
  while (i < frames.size() && is_runtime_frame(frames[i])) ++i;
  return i;
}

std::string futex_lock_name(const std::vector<NativeFrame>& frames) {
  // A frame matches when its function name, or else its source file, contains every
  // part: inlined frames of std and of crates carry short names ("lock_slow") but the
  // file they came from ("parking_lot-0.13.0/src/raw_mutex.rs").
  auto any_has = [&](std::initializer_list<const char*> parts) {
    for (const NativeFrame& f : frames) {
      for (const std::string* text : {&f.function, &f.file}) {
        bool all = true;
        for (const char* part : parts) all = all && text->find(part) != std::string::npos;
        if (all) return true;
      }
    }
    return false;
  };
  // Most specific first: a channel or a runtime parks its thread, a lock's slow path
  // may too.
  if (any_has({"tokio::runtime", "block_on"}) || any_has({"/src/runtime/park.rs"})) return "tokio Runtime::block_on";
  if (any_has({"std::sync::mpmc"}) || any_has({"std::sync::mpsc"}) || any_has({"/std/src/sync/mpmc/"}))
    return "std::sync::mpsc channel";
  if (any_has({"parking_lot::raw_rwlock", "exclusive"}) || any_has({"lock_exclusive_slow"})) return "parking_lot::RwLock, write";
  if (any_has({"parking_lot::raw_rwlock", "upgradable"}) || any_has({"lock_upgradable_slow"}))
    return "parking_lot::RwLock, upgradable read";
  if (any_has({"parking_lot::raw_rwlock", "shared"}) || any_has({"lock_shared_slow"})) return "parking_lot::RwLock, read";
  if (any_has({"parking_lot::raw_mutex"}) || any_has({"/parking_lot-", "/src/raw_mutex.rs"})) return "parking_lot::Mutex";
  if (any_has({"parking_lot::condvar"}) || any_has({"/parking_lot-", "/src/condvar.rs"})) return "parking_lot::Condvar";
  if (any_has({"rwlock::futex::RwLock", "write_contended"})) return "std::sync::RwLock, write";
  if (any_has({"rwlock::futex::RwLock", "read_contended"})) return "std::sync::RwLock, read";
  if (any_has({"mutex::futex::Mutex"}) || any_has({"/std/src/sys/sync/mutex/futex.rs"})) return "std::sync::Mutex";
  if (any_has({"condvar::futex::Condvar"}) || any_has({"/std/src/sys/sync/condvar/futex.rs"})) return "std::sync::Condvar";
  if (any_has({"once::futex::Once"}) || any_has({"/std/src/sys/sync/once/futex.rs"})) return "std::sync::Once";
  if (any_has({"thread_parking"}) || any_has({"std::thread", "park"})) return "std::thread::park";
  if (any_has({"parking_lot_core::"}) || any_has({"/parking_lot_core-"})) return "parking_lot_core park";
  return "";
}

bool futex_name_is_lock(const std::string& name) {
  return name.empty() || name.find("Mutex") != std::string::npos || name.find("RwLock") != std::string::npos;
}

bool only_waits_seen(const LockContention& row) { return row.kind == "futex" || row.kind == "pymutex"; }

std::string contention_kind_label(const LockContention& row) {
  return row.name.empty() ? row.kind : row.kind + " (" + row.name + ")";
}

std::string describe_lock(const Lock& lock) {
  if (lock.kind == "gil") return lock.address ? "the GIL of interpreter " + hex(lock.address) : "the GIL";
  std::string text = (lock.kind.empty() ? std::string("lock") : lock.kind) + " " + hex(lock.address);
  if (!lock.name.empty()) text += " '" + lock.name + "'";
  return text;
}

std::string lock_label(const Lock& lock) {
  std::string label = describe_lock(lock);
  if (lock.kind != "gil" && !lock.first_site.empty() && lock.first_site.front().function != "??" &&
      !lock.first_site.front().function.empty())
    label += " (first taken in " + lock.first_site.front().function + ")";
  return label;
}

const Lock* find_lock(const Finding& finding, int id) {
  for (const Lock& lock : finding.locks)
    if (lock.id == id) return &lock;
  return nullptr;
}

std::vector<const Lock*> cycle_locks(const Finding& finding) {
  std::vector<const Lock*> out;
  bool chained = !finding.edges.empty();
  for (std::size_t i = 0; chained && i < finding.edges.size(); ++i) {
    const Edge& e = finding.edges[i];
    const Edge& next = finding.edges[(i + 1) % finding.edges.size()];
    const Lock* from = find_lock(finding, e.from);
    if (!from || !find_lock(finding, e.to) || e.to != next.from) chained = false;
    out.push_back(from);
  }
  if (!chained) {
    out.clear();
    for (const Lock& lock : finding.locks) out.push_back(&lock);
  }
  if (!out.empty()) out.push_back(out.front());
  return out;
}

std::string cycle_text(const Finding& finding) {
  std::vector<const Lock*> locks = cycle_locks(finding);
  std::string text;
  for (std::size_t i = 0; i < locks.size(); ++i) {
    // The closing lock was labelled where the cycle started.
    bool closing = i + 1 == locks.size() && i > 0;
    if (closing && finding.cycle_length + 1 > locks.size())
      text += fmt::format(" -> ... (cycle cut: {} more locks of {} not listed)", finding.cycle_length + 1 - locks.size(),
                          finding.cycle_length);
    text += (i ? " -> " : "") + (closing ? describe_lock(*locks[i]) : lock_label(*locks[i]));
  }
  return text;
}

std::string thread_role(const Lock& held, const std::string& held_mode, const Lock& taken,
                        const std::string& taken_mode) {
  auto with_mode = [](const Lock& lock, const std::string& mode) {
    std::string text = describe_lock(lock);
    if (lock.kind == "rwlock" && !mode.empty()) text += " (" + mode + ")";
    return text;
  };
  return "took " + with_mode(taken, taken_mode) + " while holding " + with_mode(held, held_mode);
}

std::string cycle_threads_text(const Finding& finding) {
  if (finding.edges.empty()) return "";
  auto thread_of = [&](const Edge& e) -> const Thread* {
    if (e.thread_index < 0 || std::size_t(e.thread_index) >= finding.threads.size()) return nullptr;
    return &finding.threads[std::size_t(e.thread_index)];
  };
  auto lock_words = [&](int id) {
    const Lock* lock = find_lock(finding, id);
    return lock ? describe_lock(*lock) : std::string("a lock");
  };
  auto thread_words = [](const Thread& t) {
    return fmt::format("thread {}", t.tid) + (t.name.empty() ? "" : " (" + t.name + ")");
  };
  const Thread* first = thread_of(finding.edges.front());
  bool one_thread = first != nullptr;
  for (const Edge& e : finding.edges) {
    const Thread* t = thread_of(e);
    one_thread = one_thread && t && t->tid == first->tid;
  }
  std::string text;
  if (one_thread) {
    // No second thread was needed: the one that takes both orders deadlocks against any
    // other thread that runs the same code on the same locks.
    text = "one thread took both orders: " + thread_words(*first) + " took ";
    for (std::size_t i = 0; i < finding.edges.size(); ++i) {
      const Edge& e = finding.edges[i];
      text += (i ? ", and later " : "") + lock_words(e.from) + " then " + lock_words(e.to);
    }
    return text;
  }
  text = "taken by different threads: ";
  for (std::size_t i = 0; i < finding.edges.size(); ++i) {
    const Edge& e = finding.edges[i];
    const Thread* t = thread_of(e);
    text += (i ? "; " : "") + (t ? thread_words(*t) : std::string("a thread")) + " took " + lock_words(e.from) +
            " then " + lock_words(e.to);
  }
  return text;
}

std::string instances_text(const Finding& finding) {
  std::size_t total = finding.instances.size() + finding.instances_not_listed;
  if (total < 2) return "";
  constexpr std::size_t kNamed = 4;
  std::string text = fmt::format("on {} lock instances: ", total);
  for (std::size_t i = 0; i < finding.instances.size() && i < kNamed; ++i) {
    const Instance& instance = finding.instances[i];
    std::string addresses;
    for (uint64_t a : instance.addresses) addresses += (addresses.empty() ? "" : " and ") + hex(a);
    text += (i ? ", " : "") + addresses;
    if (finding.pids.size() > 1) text += fmt::format(" (pid {})", instance.pid);
  }
  if (total > kNamed) text += fmt::format(" and {} more", total - kNamed);
  return text;
}

std::string finding_facts(const Finding& finding) {
  std::vector<std::string> parts;
  if (finding.probable) parts.push_back("probable (inferred from a wait on an object with no owner)");
  if (finding.occurrences > 1) parts.push_back(fmt::format("{} times", finding.occurrences));
  if (std::string instances = instances_text(finding); !instances.empty()) parts.push_back(instances);
  if (std::string threads = cycle_threads_text(finding); !threads.empty()) parts.push_back(threads);
  if (finding.longest_wait_ms) parts.push_back(fmt::format("longest wait {} ms", *finding.longest_wait_ms));
  // Not finding.detail: a machine field of findings.json ("join,gil", a C API function's
  // name) that the summary and the thread roles already say in words.
  if (!finding.contexts.empty()) {
    std::string during = "during " + finding.contexts.front();
    if (finding.contexts.size() > 1) during += fmt::format(" and {} more", finding.contexts.size() - 1);
    parts.push_back(during);
  }
  std::string text;
  for (const std::string& part : parts) text += (text.empty() ? "" : "; ") + part;
  return text;
}

std::string runs_fact(const Report& report, const Finding& finding) {
  if (finding.runs.empty()) return "";
  int total = runs_of_scenarios_seen(report, finding);
  std::string names;
  for (const std::string& s : scenarios_of(finding)) names += (names.empty() ? "" : ", ") + s;
  const RunRef& first = finding.runs.front();
  return fmt::format("seen in {} of {} run{} of {}; first in {} (seed {})", finding.runs.size(), total,
                     total == 1 ? "" : "s", names, first.label(), first.seed);
}

std::string shell_quote(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                              "_-./=:,+@%") == std::string::npos)
    return word;
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string rerun_command(const Report& report, const Finding& finding) {
  auto joined = [](const std::vector<std::string>& words) {
    std::string text;
    for (const std::string& w : words) text += (text.empty() ? "" : " ") + shell_quote(w);
    return text;
  };
  if (!finding.runs.empty() && report.stress && !report.stress->suite.empty()) {
    const StressInvocation& s = *report.stress;
    std::vector<std::string> words = {"gilwatch", "stress", s.suite, "--seed", s.seed, "--rerun",
                                      finding.runs.front().label()};
    if (s.perturb) words.push_back("--perturb");
    if (!s.python.empty()) words.insert(words.end(), {"--python", s.python});
    std::string command = joined(words);
    return s.working_directory.empty() ? command : "cd " + shell_quote(s.working_directory) + " && " + command;
  }
  if (!report.command.empty()) return "gilwatch run -- " + joined(report.command);
  for (const Process& p : report.processes)
    if (!finding.pids.empty() && p.pid == finding.pids.front() && !p.argv.empty())
      return "gilwatch run -- " + joined(p.argv);
  return "";
}

std::string python_series(const std::string& version) {
  std::size_t first = version.find('.');
  if (first == 0 || first == std::string::npos) return version;
  std::size_t end = first + 1;
  while (end < version.size() && version[end] >= '0' && version[end] <= '9') ++end;
  if (end == first + 1) return version;
  for (std::size_t i = 0; i < first; ++i)
    if (version[i] < '0' || version[i] > '9') return version;
  return version.substr(0, end);
}

std::vector<std::string> untested_pythons(const Report& report) {
  std::vector<std::string> series;
  for (const Process& p : report.processes)
    if (!p.untested_python.empty() && std::find(series.begin(), series.end(), p.untested_python) == series.end())
      series.push_back(p.untested_python);
  return series;
}

std::vector<std::string> free_threaded_pythons(const Report& report) {
  std::vector<std::string> series;
  for (const Process& p : report.processes) {
    if (!p.free_threaded) continue;
    std::string s = python_series(p.python_version) + "t";
    if (std::find(series.begin(), series.end(), s) == series.end()) series.push_back(s);
  }
  return series;
}

int free_threaded_process_count(const Report& report) {
  int n = 0;
  for (const Process& p : report.processes) n += p.free_threaded ? 1 : 0;
  return n;
}

uint64_t untracked_low_stack(const Report& report) {
  uint64_t total = 0;
  for (const Process& p : report.processes) total += p.untracked_low_stack;
  return total;
}

std::string untracked_low_stack_text(const Report& report) {
  uint64_t n = untracked_low_stack(report);
  if (n == 0) return "";
  return std::to_string(n) + (n == 1 ? " acquisition" : " acquisitions") + " not tracked: low stack";
}

std::vector<CapacityWarning> capacity_warnings(const Report& report) {
  std::vector<CapacityWarning> out;
  for (const Process& p : report.processes)
    for (const CapacityWarning& w : p.capacity_warnings) {
      auto same = std::find_if(out.begin(), out.end(), [&](const CapacityWarning& o) { return o.capacity == w.capacity; });
      if (same == out.end()) {
        out.push_back(w);
        continue;
      }
      same->lost += w.lost;
      same->limit = std::max(same->limit, w.limit);
    }
  return out;
}

std::string capacity_warning_text(const CapacityWarning& w) {
  return fmt::format("capacity {} ({}) overflowed: {} {}", w.capacity, w.limit, w.lost,
                     w.lost_what.empty() ? std::string("lost") : w.lost_what);
}

std::string runs_summary(const Report& report) {
  if (report.runs.empty()) return "";
  std::vector<std::pair<std::string, int>> outcomes;
  for (const char* o : {"ok", "findings", "crash", "hang", "error", "interrupted"}) outcomes.push_back({o, 0});
  for (const Run& r : report.runs)
    for (auto& [name, n] : outcomes)
      if (name == r.outcome) ++n;
  std::string text = fmt::format("{} run{}", report.runs.size(), report.runs.size() == 1 ? "" : "s");
  std::string parts;
  for (const auto& [name, n] : outcomes)
    if (n) parts += (parts.empty() ? "" : ", ") + fmt::format("{} {}", n, name);
  text += ": " + parts;
  if (report.interrupted) text += " (interrupted before the end)";
  return text;
}

}  // namespace gilwatch::report
