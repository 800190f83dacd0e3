#include "fixes.h"

#include <fmt/format.h>

#include <algorithm>

#include "describe.h"

namespace gilwatch::report {

namespace {

struct FixRow {
  const char* kind;
  const char* fix;
};

// In reading order (kinds_by_severity). docs/findings.md says each of these, word for
// word, on its kind's "**Fix:**" line.
constexpr FixRow kFixes[] = {
    {"deadlock",
     "Break the cycle at one of its threads: take the locks in one order everywhere; with the GIL in the cycle, "
     "release it before the wait, or do not ask for it (call back into Python) while holding a lock another "
     "thread waits for."},
    {"crash",
     "Start at the crashing thread's innermost frame of your code; with the GIL, a lock or a thread that ends "
     "during exit in view, the finding's stacks say which."},
    {"hang",
     "Look at the threads that are blocked and what each waits for; a wait with the GIL held, or for a lock a "
     "thread holds while it waits for the GIL, is the usual cause."},
    {"lock-order-inversion",
     "Take these locks in one order everywhere (the GIL counts as one); with the GIL in the cycle, release it "
     "around taking the native lock (Py_BEGIN_ALLOW_THREADS, py.detach / allow_threads, gil_scoped_release), or "
     "do not call into Python while holding that lock."},
    {"capi-without-gil",
     "Take the GIL (PyGILState_Ensure, Python::attach / with_gil, gil_scoped_acquire) around every C API call, "
     "including reference counting, or move the call out of the section that released it."},
    {"gil-held-blocking",
     "Release the GIL around the blocking call (Py_BEGIN_ALLOW_THREADS, py.detach / allow_threads, "
     "gil_scoped_release), and take it back only after the wait."},
    {"finalization-attach",
     "Stop and join native threads before the interpreter finalizes (an atexit handler, or the module's close "
     "function), or have them stop asking for the GIL once Py_IsFinalizing() is true."},
    {"abandoned-lock",
     "Release the lock on every path out of the code that took it (a scope guard, or unlock before "
     "pthread_exit, a panic or an error return), and never lock it again in a thread that holds it."},
    {"rust-panic",
     "Do not panic while holding the GIL or a lock: return an error (PyResult) instead of unwrap/expect, or catch "
     "the panic at the boundary; a poisoned lock's data may be half-updated."},
    {"fork-with-lock-held",
     "Fork before starting threads, or start children with posix_spawn / subprocess (fork + exec), or take and "
     "release the lock around fork with pthread_atfork handlers."},
    {"low-speedup",
     "Release the GIL around the parallel work, and keep C API calls (reference counting included) out of the "
     "released sections."},
    {"thread-leak",
     "Join every thread the code under test starts before its teardown returns (close(), __exit__, a module "
     "cleanup function)."},
    {"fd-leak",
     "Close every file descriptor the code under test opens before its teardown returns (close(), __exit__, a "
     "with block)."},
};

bool starts_with(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

// libc, the loader, gilwatch, the interpreter and the C++ runtime: never the program.
bool is_system_module(const std::string& module) {
  std::string name = base_name(module);
  for (const char* prefix : {"libc.so", "libc-", "libpthread", "ld-linux", "libgilwatch", "libpython", "python",
                             "libstdc++", "libgcc_s", "libm.so"})
    if (starts_with(name, prefix)) return true;
  return false;
}

// The interpreter's API, libc's lock and wait calls, and the binding layers' glue, by name
// (in a static interpreter they share the executable with nothing else).
bool is_machinery_function(const std::string& function) {
  for (const char* prefix : {"Py", "_Py", "pthread_", "__pthread", "__GI_", "__lll_", "__futex", "futex", "syscall",
                             "gilwatch", "std::", "<std::", "pyo3::", "<pyo3::", "pybind11::", "nanobind::",
                             "__cxa", "_Unwind", "__libc", "clone", "start_thread"})
    if (starts_with(function, prefix)) return true;
  return false;
}

const Thread* thread_at(const Finding& f, int index) {
  if (index < 0 || std::size_t(index) >= f.threads.size()) return nullptr;
  return &f.threads[std::size_t(index)];
}

std::string in_function(const std::string& function) { return function.empty() ? "" : " in " + function; }

std::string lock_words(const Finding& f, int id, const std::string& mode = "") {
  const Lock* lock = find_lock(f, id);
  if (!lock) return "a lock";
  std::string text = describe_lock(*lock);
  if (lock->kind == "rwlock" && !mode.empty()) text += " (" + mode + ")";
  return text;
}

bool is_gil(const Finding& f, int id) {
  const Lock* lock = find_lock(f, id);
  return lock && lock->kind == "gil";
}

std::string sentence(const std::vector<std::string>& options) {
  std::string text;
  for (const std::string& o : options) text += (text.empty() ? "" : ", or ") + o;
  if (text.empty()) return "";
  text[0] = char(std::toupper(static_cast<unsigned char>(text[0])));
  return text + ".";
}

std::string inversion_fix(const Finding& f) {
  std::vector<std::string> options;
  bool named = false;
  for (const Edge& e : f.edges) {
    const Thread* t = thread_at(f, e.thread_index);
    std::string fn = t ? program_function(t->native_frames) : "";
    named = named || !fn.empty();
    if (is_gil(f, e.to) && !is_gil(f, e.from))
      options.push_back("do not call back into Python (take the GIL) while holding " + lock_words(f, e.from, e.held_mode) +
                        in_function(fn));
    else if (is_gil(f, e.from) && !is_gil(f, e.to))
      options.push_back("release the GIL around taking " + lock_words(f, e.to, e.acquired_mode) + in_function(fn));
    else
      options.push_back("do not take " + lock_words(f, e.to, e.acquired_mode) + " while holding " +
                        lock_words(f, e.from, e.held_mode) + in_function(fn));
  }
  // Releasing the GIL first: the change that is nearly always possible, whichever lock
  // the cycle was listed from.
  std::stable_partition(options.begin(), options.end(),
                        [](const std::string& o) { return o.rfind("release the GIL", 0) == 0; });
  return named ? sentence(options) : "";
}

std::string deadlock_fix(const Finding& f) {
  std::vector<std::string> options;
  bool named = false;
  auto add = [&](const std::string& option, const std::string& fn) {
    options.push_back(option + in_function(fn));
    named = named || !fn.empty();
  };
  for (const Thread& t : f.threads) {
    std::string fn = program_function(t.native_frames);
    bool holds_gil = std::any_of(t.holds.begin(), t.holds.end(), [&](int id) { return is_gil(f, id); });
    if (!t.waits_for) {
      // A wait on no lock: a join, a condition variable, a futex word. With the GIL held,
      // that is the thread to change.
      if (holds_gil)
        add(std::string("release the GIL around the ") + (t.role.rfind("joins", 0) == 0 ? "join" : "wait"), fn);
      continue;
    }
    bool waits_gil = is_gil(f, *t.waits_for);
    const int* other = nullptr;
    for (const int& id : t.holds)
      if (!is_gil(f, id)) other = &id;
    if (waits_gil && other)
      add("do not ask for the GIL while holding " + lock_words(f, *other), fn);
    else if (holds_gil && !waits_gil)
      add("release the GIL before waiting for " + lock_words(f, *t.waits_for), fn);
    else if (other)
      add("do not wait for " + lock_words(f, *t.waits_for) + " while holding " + lock_words(f, *other), fn);
  }
  return named ? sentence(options) : "";
}

std::string first_function(const Finding& f) {
  for (const Thread& t : f.threads)
    if (std::string fn = program_function(t.native_frames); !fn.empty()) return fn;
  return "";
}

// A detail that is an identifier (a C API function's name), not a phrase.
bool is_identifier(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

}  // namespace

std::string kind_fix(const std::string& kind) {
  for (const FixRow& row : kFixes)
    if (kind == row.kind) return row.fix;
  return "";
}

std::string program_function(const std::vector<NativeFrame>& frames) {
  for (const NativeFrame& f : frames) {
    if (f.function.empty() || f.function == "??") continue;
    if (is_system_module(f.module) || is_machinery_function(f.function) || is_runtime_frame(f)) continue;
    return f.function;
  }
  return "";
}

std::string case_fix(const Finding& f) {
  const std::string& kind = f.kind;
  if (kind == "lock-order-inversion") return inversion_fix(f);
  if (kind == "deadlock") return deadlock_fix(f);
  std::string fn = first_function(f);
  if (fn.empty()) return "";
  if (kind == "gil-held-blocking") {
    std::string what = f.detail.find("futex") != std::string::npos || f.detail.empty()
                           ? "the wait"
                           : "the " + f.detail + " call";
    if (!f.threads.empty() && f.detail.find("futex") != std::string::npos)
      if (std::string lock = futex_lock_name(f.threads.front().native_frames); !lock.empty())
        what = "the wait on the " + lock;
    return sentence({"release the GIL around " + what + " in " + fn});
  }
  if (kind == "capi-without-gil")
    return sentence({"take the GIL before " + (is_identifier(f.detail) ? f.detail + " is called" : "the call") +
                     " in " + fn});
  if (kind == "finalization-attach")
    return sentence({"join the thread that runs " + fn + " before the interpreter finalizes"});
  if (kind == "abandoned-lock") {
    std::string lock = f.locks.empty() ? std::string("the lock") : describe_lock(f.locks.front());
    if (starts_with(f.detail, "rwlock-")) return sentence({"do not lock " + lock + " again in " + fn + " while it holds it"});
    if (f.detail == "unlock-by-non-owner") return sentence({"unlock " + lock + " in the thread that locked it, not in " + fn});
    return sentence({"release " + lock + " on every path out of " + fn});
  }
  if (kind == "rust-panic") return sentence({"return an error from " + fn + " instead of panicking"});
  if (kind == "fork-with-lock-held") return sentence({"the lock was held in " + fn + "; fork before that thread starts"});
  if (kind == "thread-leak") return sentence({"join the thread that runs " + fn + " in teardown"});
  if (kind == "crash") return sentence({"the crash happened in " + fn + "; start there"});
  return "";
}

const std::vector<std::string>& kinds_by_severity() {
  static const std::vector<std::string> kinds = [] {
    std::vector<std::string> out;
    for (const FixRow& row : kFixes) out.push_back(row.kind);
    return out;
  }();
  return kinds;
}

int severity_rank(const std::string& kind) {
  const std::vector<std::string>& kinds = kinds_by_severity();
  return int(std::find(kinds.begin(), kinds.end(), kind) - kinds.begin());
}

void sort_for_reading(std::vector<Finding>* findings) {
  std::stable_sort(findings->begin(), findings->end(), [](const Finding& a, const Finding& b) {
    int ra = severity_rank(a.kind), rb = severity_rank(b.kind);
    if (ra != rb) return ra < rb;
    if (a.kind != b.kind) return a.kind < b.kind;  // unknown kinds, each together
    return a.severity == "error" && b.severity != "error";
  });
}

std::vector<std::pair<std::string, std::size_t>> kind_counts(const std::vector<Finding>& findings) {
  std::vector<std::pair<std::string, std::size_t>> counts;
  for (const Finding& f : findings) {
    auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == f.kind; });
    if (it == counts.end()) it = counts.insert(counts.end(), {f.kind, 0});
    ++it->second;
  }
  std::stable_sort(counts.begin(), counts.end(), [](const auto& a, const auto& b) {
    int ra = severity_rank(a.first), rb = severity_rank(b.first);
    return ra != rb ? ra < rb : a.first < b.first;
  });
  return counts;
}

}  // namespace gilwatch::report
