#include "text_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "describe.h"
#include "fixes.h"
#include "stack_view.h"

namespace gilwatch::report {

std::string printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += char(c);
  }
  return out;
}

namespace {

std::string frame_line(std::size_t index, const NativeFrame& f) {
  std::string line = fmt::format("    #{} {} in {}", index, hex(f.pc), printable(f.function.empty() ? "??" : f.function));
  if (!f.file.empty()) line += " " + printable(f.file) + (f.line > 0 ? fmt::format(":{}", f.line) : "");
  if (!f.module.empty()) line += fmt::format(" ({}+{})", printable(base_name(f.module)), hex(f.offset));
  return line + "\n";
}

// Python frames among the native ones are marked "py"; listed apart, they need no mark.
std::string row_line(const Thread& t, const StackRow& row, bool listed_apart) {
  const char* indent = listed_apart ? "      " : "    ";
  if (row.kind == StackRow::Kind::folded) return fmt::format("{}\u2026 {}\n", indent, folded_label(row));
  if (row.kind == StackRow::Kind::python) {
    const PythonFrame& p = t.python_frames[row.index];
    return fmt::format("{}{}{}:{} in {}\n", indent, listed_apart ? "" : "py ", printable(p.file),
                       p.line, printable(p.function));
  }
  return indent + frame_line(row.index, t.native_frames[row.index]).substr(4);
}

// A thread's stack (stack_view.h): the extension's frames with the interpreter's, the
// test runner's and the runtimes' folded, at most options.max_frames rows, unless
// options.full_stacks.
std::string stack_text(const Thread& t, const TextOptions& options) {
  StackView view = stack_view(t, options.full_stacks);
  std::string out;
  std::size_t shown = options.full_stacks ? view.rows.size() : std::min(view.rows.size(), options.max_frames);
  for (std::size_t i = 0; i < shown; ++i) out += row_line(t, view.rows[i], false);
  if (shown < view.rows.size()) {
    std::size_t frames = 0;
    for (std::size_t i = shown; i < view.rows.size(); ++i)
      frames += view.rows[i].kind == StackRow::Kind::folded ? view.rows[i].folded.size() : 1;
    out += fmt::format("    ... {} more frames (--full-stacks, or the HTML report)\n", frames);
  }
  if (t.native_frames.empty()) out += "    (no native frames)\n";
  if (!view.python_rows.empty()) {
    out += "    Python (innermost first";
    if (!t.native_frames.empty() && !view.unmatched_reason.empty())
      out += "; not placed among the native frames: " + printable(view.unmatched_reason);
    out += "):\n";
    for (const StackRow& row : view.python_rows) out += row_line(t, row, true);
  }
  return out;
}

std::string pid_list(const std::vector<int64_t>& pids) {
  std::string text;
  for (int64_t pid : pids) text += (text.empty() ? "" : ", ") + std::to_string(pid);
  return text;
}

// "  fix: <this case>" and under it what to do for any finding of the kind.
std::string fix_lines(const Finding& f) {
  std::string general = kind_fix(f.kind), specific = case_fix(f);
  if (specific.empty()) return general.empty() ? "" : "  fix: " + general + "\n";
  return "  fix: " + printable(specific) + "\n" + (general.empty() ? "" : "       " + general + "\n");
}

// One line per kind, most severe first; with a baseline, what is new of each.
std::string kinds_text(const Report& report) {
  bool baseline = !report.baseline_file.empty();
  std::vector<Finding> all = report.findings;
  if (baseline) all.insert(all.end(), report.baselined.begin(), report.baselined.end());
  if (report.findings.empty()) return "";
  std::string out = "==gilwatch== findings by kind, most severe first:\n";
  for (const auto& [kind, total] : kind_counts(all)) {
    std::size_t fresh = 0;
    for (const Finding& f : report.findings) fresh += f.kind == kind ? 1 : 0;
    out += fmt::format("  {:<22} {}", printable(kind), fresh);
    if (baseline) out += fmt::format(" new since baseline, {} known", total - fresh);
    out += " - " + printable(kind_info(kind).title) + "\n";
  }
  return out + "\n";
}

}  // namespace

std::string finding_text(const Report& report, const Finding& f, const TextOptions& options) {
  int64_t pid = f.pids.empty() ? 0 : f.pids.front();
  std::string out = fmt::format("=={}==WARNING: gilwatch: {}\n", pid, printable(f.kind));
  out += "  " + printable(f.summary) + "\n";
  if (std::string facts = finding_facts(f); !facts.empty()) out += "  " + printable(facts) + "\n";
  out += fix_lines(f);
  if (std::string runs = runs_fact(report, f); !runs.empty()) {
    out += "  " + printable(runs) + "\n";
    // Stress only: outside stress the command is the one just run.
    if (std::string command = rerun_command(report, f); !command.empty())
      out += "  to run it again: " + printable(command) + "\n";
  }
  if (f.count > 1 && f.runs.empty()) out += fmt::format("  seen in {} processes (pids {})\n", f.count, pid_list(f.pids));
  for (const Thread& t : f.threads) {
    out += fmt::format("  thread {} ({}){}:\n", t.tid, printable(t.name), t.role.empty() ? "" : " " + printable(t.role));
    out += stack_text(t, options);
  }
  return out + "\n";
}

std::string render_text(const Report& report, const TextOptions& options) {
  std::vector<Finding> findings = report.findings;
  sort_for_reading(&findings);
  std::string out = kinds_text(report);
  for (const Finding& f : findings) out += finding_text(report, f, options);
  return out + profile_text(report.profiles);
}

std::string profile_text(const Profiles& profiles, std::size_t max_rows) {
  if (profiles.processes == 0) return "";
  std::string out;
  const GilProfileSummary& g = profiles.gil;
  if (g.processes > 0) {
    out += fmt::format("==gilwatch== the GIL: taken {} times ({} after a wait), held {}, waited for {}; by thread:\n",
                       g.takes, g.contended_takes, duration_text(g.held_ns), duration_text(g.waited_ns));
    for (std::size_t i = 0; i < g.threads.size() && i < max_rows; ++i) {
      const GilThread& t = g.threads[i];
      out += fmt::format("  thread {} ({}) of pid {}: held {:.1f}% of the time ({}), waited {:.1f}% ({}), longest hold {}\n",
                         t.tid, printable(t.name), t.pid, share_of(t.held_ns, t.wall_ns) * 100, duration_text(t.held_ns),
                         share_of(t.waited_ns, t.wall_ns) * 100, duration_text(t.waited_ns),
                         duration_text(t.longest_hold_ns));
    }
    if (g.threads.size() > max_rows) out += fmt::format("  ... {} more in the HTML report\n", g.threads.size() - max_rows);
  }
  for (std::size_t i = 0; i < g.long_holds.size() && i < 3; ++i) {
    const GilHolder& h = g.long_holds[i];
    out += fmt::format("==gilwatch== the GIL was held for 1 ms or more {} times ({} in all, longest {}) while {} ran\n",
                       h.holds, duration_text(h.held_total_ns), duration_text(h.held_max_ns),
                       printable(holder_label(h.site)));
  }
  // Released sections in which the GIL was still needed: the question "is the GIL
  // really released?" answered per call site.
  for (const GilSite& s : g.sites) {
    if (!s.sections || (!s.takes_inside && !s.capi_calls_inside)) continue;
    std::string names;
    for (const std::string& n : s.capi_inside) names += (names.empty() ? "" : ", ") + n;
    out += fmt::format("==gilwatch== the GIL released at {} ({} times) was taken back {} times inside, with {} C API "
                       "calls{}\n",
                       printable(site_label(s.site)), s.sections, s.takes_inside, s.capi_calls_inside,
                       names.empty() ? "" : " (" + printable(names) + ")");
  }
  out += fmt::format("==gilwatch== lock contention ({} profiled process{}): the locks waited for longest\n",
                     profiles.processes, profiles.processes == 1 ? "" : "es");
  if (profiles.locks.empty()) return out + "  no lock was taken\n\n";
  for (std::size_t i = 0; i < profiles.locks.size() && i < max_rows; ++i) {
    const LockContention& row = profiles.locks[i];
    // A futex word's uncontended acquisitions are invisible: its waits are all there is.
    out += fmt::format(fmt::runtime(only_waits_seen(row) ? "  {} waited for in {}{}: {} waits"
                                                        : "  {} first taken in {}{}: {} acquisitions, {:.1f}% contended"),
                       contention_kind_label(row),
                       printable(site_label(row.site)), row.locks > 1 ? fmt::format(" ({} locks)", row.locks) : "",
                       row.acquisitions, contended_share(row) * 100);
    if (row.contended)
      out += fmt::format("; waited {} in all (p50 {}, p99 {}, max {})", duration_text(row.wait_total_ns),
                         duration_text(histogram_percentile(row.wait_histogram, 0.5, row.wait_max_ns)),
                         duration_text(histogram_percentile(row.wait_histogram, 0.99, row.wait_max_ns)), duration_text(row.wait_max_ns));
    if (row.holds)
      out += fmt::format("; held p50 {}, p99 {}, max {}", duration_text(histogram_percentile(row.hold_histogram, 0.5, row.hold_max_ns)),
                         duration_text(histogram_percentile(row.hold_histogram, 0.99, row.hold_max_ns)), duration_text(row.hold_max_ns));
    out += "\n";
  }
  if (profiles.locks.size() > max_rows)
    out += fmt::format("  ... {} more in the HTML report\n", profiles.locks.size() - max_rows);
  return out + "\n";
}

std::string summary_line(const Report& report, const std::string& html_path) {
  std::string line;
  // With a baseline, what is reported is what is new.
  std::string adjective = report.baseline_file.empty() ? "" : "new ";
  if (report.findings.empty()) {
    line = "gilwatch: no " + adjective + "findings";
  } else {
    std::string kinds;
    for (const auto& [kind, n] : kind_counts(report.findings))
      kinds += (kinds.empty() ? "" : ", ") + (n > 1 ? fmt::format("{} {}", n, kind) : kind);
    line = fmt::format("gilwatch: {} {}finding{} ({})", report.findings.size(), adjective,
                       report.findings.size() == 1 ? "" : "s", printable(kinds));
  }
  if (!report.baseline_file.empty())
    line += fmt::format(", {} known (baseline {})", report.baselined.size(), printable(report.baseline_file));
  if (!report.suppressed.empty()) line += fmt::format(", {} suppressed", report.suppressed.size());
  if (std::string runs = runs_summary(report); !runs.empty()) line += " in " + runs;
  for (const std::string& series : untested_pythons(report)) line += "; Python " + printable(series) + ": untested";
  for (const std::string& series : free_threaded_pythons(report))
    line += "; Python " + printable(series) + ": free-threaded, GIL checks off";
  if (std::string untracked = untracked_low_stack_text(report); !untracked.empty()) line += "; " + untracked;
  for (const CapacityWarning& w : capacity_warnings(report)) line += "; " + printable(capacity_warning_text(w));
  if (!report.errors.empty())
    line += fmt::format(", {} unreadable results file{}", report.errors.size(), report.errors.size() == 1 ? "" : "s");
  return line + " -> " + printable(html_path);
}

std::string set_aside_text(const Report& report, const TextOptions& options) {
  std::string out;
  std::vector<Finding> suppressed = report.suppressed, baselined = report.baselined;
  sort_for_reading(&suppressed);
  sort_for_reading(&baselined);
  for (const Finding& f : suppressed) {
    const Suppression& s = *f.suppressed_by;
    out += printable(fmt::format("==gilwatch== suppressed by {} ({}:{}, matched {}):", s.rule, s.file, s.line,
                                 s.frame)) + "\n";
    out += finding_text(report, f, options);
  }
  for (const Finding& f : baselined) {
    out += printable(fmt::format("==gilwatch== known (baseline {}, fingerprint {}):", report.baseline_file,
                                 fingerprint(f))) + "\n";
    out += finding_text(report, f, options);
  }
  return out;
}

}  // namespace gilwatch::report
