// html_profile: the profile sections of the HTML report — the GIL (who held it, who
// waited, where extensions take and drop it) and lock contention (a row per lock kind
// and first site, then the longest waits). It draws what the model holds; it decides no
// finding and computes nothing the merge has not (the percentiles are describe.h's).
#include <fmt/format.h>

#include "describe.h"
#include "html_parts.h"

namespace gilwatch::report::html_parts {

std::string duration_cell(uint64_t ns) {
  return fmt::format("<td data-v=\"{}\">{}</td>", ns, esc(duration_text(ns)));
}

namespace {

// The GIL profile: who held the GIL and who waited for it, a sortable row per thread.
// Where extension code takes and drops the GIL: a sortable row per call site.
std::string gil_sites_html(const GilProfileSummary& g) {
  if (g.sites.empty()) return "";
  std::string out =
      "<h3>Where extensions take and drop the GIL</h3>\n<table class=\"sortable gil-sites\"><thead><tr><th>call"
      "</th><th>from</th><th>calls</th><th>waited for the GIL</th><th>held before dropping</th><th>released "
      "sections</th><th>released in all</th><th>GIL taken back inside</th><th>C API calls inside</th></tr></thead>"
      "<tbody>\n";
  for (const GilSite& s : g.sites) {
    std::string names;
    for (const std::string& n : s.capi_inside) names += (names.empty() ? "" : ", ") + n;
    out += fmt::format("<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td>{}{}<td>{}</td>{}<td>{}</td>"
                       "<td data-v=\"{}\">{}{}</td></tr>\n",
                       esc(s.api), esc(site_label(s.site)), s.calls, duration_cell(s.wait_total_ns),
                       duration_cell(s.held_total_ns), s.sections, duration_cell(s.released_total_ns), s.takes_inside,
                       s.capi_calls_inside, s.capi_calls_inside,
                       names.empty() ? std::string() : " <span class=\"muted\">(" + esc(names) + ")</span>");
  }
  return out + "</tbody></table>\n<p class=\"muted\">A released section runs from a PyEval_SaveThread (the start of "
               "Py_BEGIN_ALLOW_THREADS) to the PyEval_RestoreThread that ends it. The GIL taken back inside one, and C "
               "API calls made inside one, mean the work it released the GIL for still needs the GIL.</p>\n";
}

// Long holds of the GIL by the code that ran holding it.
std::string gil_holders_html(const GilProfileSummary& g) {
  if (g.long_holds.empty()) return "";
  std::string out = "<h3>Who held the GIL for long</h3>\n<table class=\"sortable gil-holders\"><thead><tr><th>code "
                    "running</th><th>holds of 1 ms or more</th><th>held in all</th><th>longest</th></tr></thead><tbody>\n";
  for (const GilHolder& h : g.long_holds)
    out += fmt::format("<tr><td><code>{}</code></td><td>{}</td>{}{}</tr>\n", esc(holder_label(h.site)), h.holds,
                       duration_cell(h.held_total_ns), duration_cell(h.held_max_ns));
  return out + "</tbody></table>\n<p class=\"muted\">Each hold is charged to the extension code that last called "
               "the C API while holding the GIL (extension code that calls none cannot be told apart from the "
               "interpreter).</p>\n";
}

}  // namespace

std::string gil_profile_html(const Report& report) {
  const GilProfileSummary& g = report.profiles.gil;
  if (report.profiles.processes == 0) return "";
  std::string out = "<section id=\"gil-profile\">\n<h2>The GIL</h2>\n";
  if (g.processes == 0)
    return out + "<p>No thread ever had to wait for the GIL while profiled, so its hand-offs between threads "
                 "were not seen.</p>\n" + gil_sites_html(g) + "</section>\n";
  out += fmt::format("<p>{} taken {} times, {} of them after waiting for another thread; held {} in all, waited "
                     "for {} in all.</p>\n",
                     g.processes == 1 ? std::string("The GIL was") : fmt::format("Across {} processes, the GIL was", g.processes),
                     g.takes, g.contended_takes, esc(duration_text(g.held_ns)), esc(duration_text(g.waited_ns)));
  out += "<table class=\"sortable gil-threads\"><thead><tr><th>pid</th><th>thread</th><th>name</th><th>takes</th>"
         "<th>contended</th><th>held</th><th>held share</th><th>waited</th><th>waited share</th><th>longest hold</th>"
         "<th>longest wait</th></tr></thead><tbody>\n";
  constexpr std::size_t kMaxRows = 500;
  for (std::size_t i = 0; i < g.threads.size() && i < kMaxRows; ++i) {
    const GilThread& t = g.threads[i];
    double held = share_of(t.held_ns, t.wall_ns), waited = share_of(t.waited_ns, t.wall_ns);
    out += fmt::format("<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td>{}"
                       "<td data-v=\"{:.6f}\">{:.1f}%</td>{}<td data-v=\"{:.6f}\">{:.1f}%</td>{}{}</tr>\n",
                       t.pid, t.tid, esc(t.name), t.takes, t.contended_takes, duration_cell(t.held_ns), held,
                       held * 100, duration_cell(t.waited_ns), waited, waited * 100, duration_cell(t.longest_hold_ns),
                       duration_cell(t.longest_wait_ns));
  }
  out += "</tbody></table>\n";
  if (g.threads.size() > kMaxRows)
    out += fmt::format("<p class=\"muted\">{} more threads in findings.json.</p>\n", g.threads.size() - kMaxRows);
  return out + "<p class=\"muted\">Shares are of each process's profiled wall time. A hold that began before the "
               "GIL's first hand-off was seen counts from that hand-off.</p>\n" + gil_holders_html(g) + gil_sites_html(g) +
               "</section>\n";
}

// The contention profile: a sortable row per lock kind and site, then where the longest
// waits of the top rows happened.
std::string contention_html(const Report& report) {
  const Profiles& profiles = report.profiles;
  if (profiles.processes == 0) return "";
  constexpr std::size_t kMaxRows = 200, kRowsWithWaiters = 5;
  std::string out = fmt::format(
      "<section id=\"lock-contention\">\n<h2>Lock contention</h2>\n<p class=\"muted\">From {} run with the "
      "profile option: one row per kind of lock and the call that first took it (the locks one constructor "
      "makes share a row). Waits are those of acquisitions that found the lock taken.</p>\n",
      plural(std::size_t(profiles.processes), "process", "processes"));
  if (profiles.locks.empty()) return out + "<p>No lock was taken.</p>\n</section>\n";
  out += "<table class=\"sortable contention\"><thead><tr><th>first taken in</th><th>kind</th><th>locks</th>"
         "<th>acquisitions</th><th>contended</th><th>contended share</th><th>wait total</th><th>wait p50</th>"
         "<th>wait p99</th><th>wait max</th><th>hold p50</th><th>hold p99</th><th>hold max</th></tr></thead><tbody>\n";
  for (std::size_t i = 0; i < profiles.locks.size() && i < kMaxRows; ++i) {
    const LockContention& row = profiles.locks[i];
    double share = contended_share(row);
    out += fmt::format("<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                       "<td data-v=\"{:.6f}\">{:.1f}%</td>{}{}{}{}{}{}{}</tr>\n",
                       esc(site_label(row.site)), esc(contention_kind_label(row)), row.locks, row.acquisitions, row.contended, share,
                       share * 100, duration_cell(row.wait_total_ns),
                       duration_cell(histogram_percentile(row.wait_histogram, 0.5, row.wait_max_ns)),
                       duration_cell(histogram_percentile(row.wait_histogram, 0.99, row.wait_max_ns)), duration_cell(row.wait_max_ns),
                       duration_cell(histogram_percentile(row.hold_histogram, 0.5, row.hold_max_ns)),
                       duration_cell(histogram_percentile(row.hold_histogram, 0.99, row.hold_max_ns)), duration_cell(row.hold_max_ns));
  }
  out += "</tbody></table>\n";
  std::size_t unlisted = profiles.locks.size() > kMaxRows ? profiles.locks.size() - kMaxRows : 0;
  if (unlisted || profiles.locks_not_listed || profiles.locks_not_profiled)
    out += fmt::format("<p class=\"muted\">Not shown: {} more rows here (findings.json has them), {} locks the "
                       "processes profiled but did not write (the 64 longest-waited per process are), {} locks "
                       "their profile tables had no room for.</p>\n",
                       unlisted, profiles.locks_not_listed, profiles.locks_not_profiled);
  for (std::size_t i = 0; i < profiles.locks.size() && i < kRowsWithWaiters; ++i) {
    const LockContention& row = profiles.locks[i];
    if (row.waiters.empty()) continue;
    out += "<details class=\"waiters\"><summary>The longest waits for the " + esc(contention_kind_label(row)) +
           (only_waits_seen(row) ? " waited for in <code>" : " first taken in <code>") +
           esc(site_label(row.site)) + "</code></summary>\n";
    for (const LockWaiter& w : row.waiters) {
      out += fmt::format("<h4>Thread {} <code>{}</code> <span class=\"role\">waited {} (pid {})</span></h4>\n", w.tid,
                         esc(w.name), esc(duration_text(w.wait_ns)), w.pid);
      Thread as_thread;
      as_thread.native_frames = w.frames;
      out += stack_html(as_thread);
    }
    out += "</details>\n";
  }
  return out + "</section>\n";
}

}  // namespace gilwatch::report::html_parts
