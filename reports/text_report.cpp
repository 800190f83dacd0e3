#include "text_report.h"

#include <fmt/format.h>

namespace gilwatch::report {

const char* kind_title(const std::string& kind) {
  if (kind == "lock-order-inversion") return "Lock-order inversion (potential deadlock)";
  if (kind == "deadlock") return "Deadlock";
  return "Finding";
}

const char* kind_explanation(const std::string& kind) {
  if (kind == "lock-order-inversion")
    return "Threads took these locks in conflicting orders. Each arrow below happened: a thread "
           "held the first lock and then took the second. If the threads run at the same time, each "
           "can end up waiting for a lock another one holds, and the process hangs. The GIL counts "
           "as a lock. This run did not need to hang for it to be found.";
  return "";
}

namespace {

std::string frame_line(std::size_t index, const NativeFrame& f) {
  std::string where;
  if (!f.file.empty()) where = fmt::format(" {}:{}", f.file, f.line);
  std::string module;
  if (!f.module.empty()) {
    auto slash = f.module.rfind('/');
    module = fmt::format(" ({}+{:#x})", slash == std::string::npos ? f.module : f.module.substr(slash + 1),
                         f.offset);
  }
  return fmt::format("    #{} {:#x} in {}{}{}\n", index, f.pc, f.function.empty() ? "??" : f.function, where,
                     module);
}

}  // namespace

std::string render_text(const Report& report, std::size_t max_frames) {
  std::string out;
  for (const Finding& f : report.findings) {
    int64_t pid = f.pids.empty() ? 0 : f.pids.front();
    out += fmt::format("=={}==WARNING: gilwatch: {}\n", pid, f.kind);
    out += fmt::format("  {}\n", f.summary);
    if (f.count > 1) out += fmt::format("  seen in {} processes\n", f.count);
    for (const Edge& e : f.edges) {
      if (e.thread_index < 0 || std::size_t(e.thread_index) >= f.threads.size()) continue;
      const Thread& t = f.threads[std::size_t(e.thread_index)];
      out += fmt::format("  thread {} ({}) {}:\n", t.tid, t.name, t.role);
      for (std::size_t i = 0; i < t.native_frames.size() && i < max_frames; ++i)
        out += frame_line(i, t.native_frames[i]);
      if (!t.python_frames.empty()) out += "    Python (innermost first):\n";
      for (const PythonFrame& p : t.python_frames)
        out += fmt::format("      {}:{} in {}\n", p.file, p.line, p.function);
    }
    out += "\n";
  }
  return out;
}

}  // namespace gilwatch::report
