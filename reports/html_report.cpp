#include "html_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "describe.h"
#include "fixes.h"
#include "html_parts.h"
#include "svg.h"

namespace gilwatch::report {

using namespace html_parts;

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\0': out += "&#xFFFD;"; break;
      default: out += c;
    }
  }
  return out;
}

// Short alias: every piece of untrusted text goes through it.
std::string html_parts::esc(const std::string& text) { return html_escape(text); }

namespace {

constexpr const char* kStyle = R"(
:root{--fg:#1d1d1f;--muted:#5f6368;--line:#d9d9de;--soft:#f5f5f7;--bad:#a4262c;--badbg:#fde7e9;
--good:#1e6b34;--goodbg:#e3f4e8;--warn:#7a5200;--warnbg:#fff4d6;--gil:#6a1b9a;--gilbg:#f3e5f5;--thr:#1a56b0;--thrbg:#e8f0fe}
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);margin:0 auto;max-width:80em;padding:1em 1.5em 3em}
h1{font-size:1.6em;margin:.4em 0}h2{font-size:1.25em;margin:2em 0 .6em;border-bottom:1px solid var(--line)}
h3{font-size:1.1em;margin:.2em 0 .6em}h4{font-size:1em;margin:1.2em 0 .3em}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid var(--line);padding:.2em .6em;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600}
code,pre,.mono,.frames td{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre.command{background:var(--soft);padding:.5em .8em;border-radius:4px;white-space:pre-wrap;overflow-wrap:anywhere}
.frames td{border:none;border-bottom:1px solid var(--soft);padding:.1em .6em}.frames{width:100%}
.frames tr.py td{background:#fbf8ff}.frames tr.py td:first-child{color:var(--gil)}
.frames tr.fold>td{padding:0;border:none}.frames details.fold>summary{cursor:pointer;color:var(--muted);padding:.1em .6em}.frames details.fold>table{margin-left:1.2em;width:calc(100% - 1.2em)}
.verdict{padding:.7em 1em;border-radius:6px;font-weight:600;font-size:1.05em}
.bad{background:var(--badbg);color:var(--bad)}.good{background:var(--goodbg);color:var(--good)}
.warn{background:var(--warnbg);color:var(--warn)}
.finding{border:1px solid var(--line);border-radius:8px;padding:.8em 1.2em 1em;margin:1.2em 0}
.badge{font-size:.75em;padding:.1em .5em;border-radius:4px;vertical-align:middle;margin-left:.4em}
.cycle{font-weight:600;font-family:ui-monospace,monospace;background:var(--soft);padding:.5em .8em;border-radius:4px;overflow-wrap:anywhere}
.gil{color:var(--gil);background:var(--gilbg);padding:0 .3em;border-radius:3px}
.muted{color:var(--muted)}.role{font-weight:normal}
details{margin:.4em 0}summary{cursor:pointer}
.charts{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
figure{margin:.5em 0}figcaption{font-size:.85em;color:var(--muted)}
svg text{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;fill:var(--fg)}
.gw-graph{max-width:100%;height:auto;display:block;margin:.6em 0}
.gw-node rect{fill:#fff;stroke:#555;stroke-width:1.3}.gw-gil rect{fill:var(--gilbg);stroke:var(--gil);stroke-width:2}
.gw-gil text{fill:var(--gil);font-weight:700}.gw-thread rect{fill:var(--thrbg);stroke:var(--thr)}
.gw-sub{fill:var(--muted)!important;font-size:11px!important}
.gw-edge{fill:none;stroke:#333;stroke-width:1.5}.gw-dashed{stroke-dasharray:5 4;stroke:#777}.gw-arrowhead{fill:#333}
.gw-edge-label rect{fill:#fff;stroke:var(--line)}.gw-edge-label text{font-size:11px}
.gw-chart{max-width:100%;height:auto}.gw-grid{stroke:#eee}.gw-axis{stroke:#555}.gw-tick,.gw-axis-label{fill:var(--muted)!important;font-size:10.5px!important}
.gw-caption{font-weight:600;font-size:12px!important}
.gw-series polyline{fill:none;stroke-width:2}.gw-series circle{stroke:#fff;stroke-width:1}
.s1 polyline,.s1 line{stroke:#1a56b0}.s1 circle{fill:#1a56b0}.s2 polyline,.s2 line{stroke:#c2410c}.s2 circle{fill:#c2410c}
.ideal polyline,.ideal line{stroke:#999;stroke-dasharray:3 3}.ideal circle{fill:#999}
.gw-legend line{stroke-width:2}.gw-legend text{font-size:11px!important}
.gw-target{stroke:var(--bad);stroke-dasharray:6 4;stroke-width:1.5}.gw-target-label{fill:var(--bad)!important;font-size:11px!important}
.gw-defs{position:absolute}
th.sort{cursor:pointer;user-select:none}th[aria-sort=ascending]::after{content:" \25B2"}th[aria-sort=descending]::after{content:" \25BC"}
nav ol{margin:.3em 0;padding-left:1.6em}
.fix{border-left:4px solid var(--good);background:var(--goodbg);padding:.4em .9em;margin:.6em 0;border-radius:0 4px 4px 0}
.fix p{margin:.2em 0}details.kind-group>summary{font-size:1.15em;font-weight:600;margin:1em 0 .3em}
)";

// Sorts tables of class "sortable" by a click on a header; numbers numerically (a cell's
// data-v, when present, is its sort key). The page reads the same without it.
constexpr const char* kScript = R"(
(function(){
  function key(cell){var v=cell.getAttribute('data-v');return v!==null?v:cell.textContent.trim();}
  document.querySelectorAll('table.sortable').forEach(function(table){
    var heads=table.tHead?table.tHead.rows[0].cells:[];
    Array.prototype.forEach.call(heads,function(th,col){
      th.classList.add('sort');th.tabIndex=0;
      function sort(){
        var asc=th.getAttribute('aria-sort')!=='ascending';
        Array.prototype.forEach.call(heads,function(h){h.removeAttribute('aria-sort');});
        th.setAttribute('aria-sort',asc?'ascending':'descending');
        var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(a,b){
          var x=key(a.cells[col]),y=key(b.cells[col]),nx=parseFloat(x),ny=parseFloat(y);
          var c=(!isNaN(nx)&&!isNaN(ny)&&isFinite(x)&&isFinite(y))?nx-ny:x.localeCompare(y);
          return asc?c:-c;});
        rows.forEach(function(r){body.appendChild(r);});
      }
      th.addEventListener('click',sort);
      th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();sort();}});
    });
  });
})();
)";

}  // namespace

std::string html_parts::plural(std::size_t n, const char* word, const char* words) {
  return fmt::format("{} {}", n, n == 1 ? word : words);
}

namespace {

// `labelled`: with the function of its first site, where an address alone says little.
std::string lock_html(const Lock& lock, bool labelled) {
  if (lock.kind == "gil") return "<span class=\"gil\">" + esc(describe_lock(lock)) + "</span>";
  return esc(labelled ? lock_label(lock) : describe_lock(lock));
}

std::string first_site_html(const Lock& lock) {
  if (lock.first_site.empty()) return "<span class=\"muted\">unknown</span>";
  const NativeFrame& f = lock.first_site.front();
  std::string out = "<code>" + esc(f.function.empty() ? "??" : f.function) + "</code>";
  if (!f.file.empty()) out += " " + esc(location_text(f));
  if (!f.module.empty()) out += " <span class=\"muted\">(" + module_html(f) + ")</span>";
  return out;
}

std::string pid_list(const std::vector<int64_t>& pids) {
  std::string text;
  std::size_t shown = std::min<std::size_t>(pids.size(), 20);
  for (std::size_t i = 0; i < shown; ++i) text += (text.empty() ? "" : ", ") + std::to_string(pids[i]);
  if (pids.size() > shown) text += fmt::format(" and {} more", pids.size() - shown);
  return text;
}

const Run* run_of(const Report& report, const RunRef& ref) {
  for (const Run& r : report.runs)
    if (r.run == ref) return &r;
  return nullptr;
}

// The first of the finding's runs that measured something.
const Run* measured_run(const Report& report, const Finding& f) {
  for (const RunRef& ref : f.runs)
    if (const Run* r = run_of(report, ref); r && !r->measured.empty()) return r;
  return nullptr;
}

std::string docs_link(const HtmlOptions& options, const std::string& kind) {
  if (options.findings_doc_url.empty())
    return "<span class=\"muted\">docs/findings.md, section <code>" + esc(kind) + "</code></span>";
  return "<a class=\"docs\" href=\"" + esc(options.findings_doc_url + "#" + kind) + "\">more on " + esc(kind) +
         " and its fix</a>";
}

// What to change: for this case when its evidence names functions, then for the kind.
std::string fix_html(const Finding& f) {
  std::string general = kind_fix(f.kind), specific = case_fix(f);
  if (general.empty() && specific.empty()) return "";
  std::string out = "<div class=\"fix\"><p><strong>Fix:</strong> " + esc(specific.empty() ? general : specific) + "</p>\n";
  if (!specific.empty() && !general.empty()) out += "<p class=\"muted\">" + esc(general) + "</p>\n";
  return out + "</div>\n";
}

std::string finding_html(const Report& report, const Finding& f, std::size_t index, const HtmlOptions& options) {
  KindInfo info = kind_info(f.kind);
  std::string out = fmt::format("<section class=\"finding\" id=\"finding-{}\" data-kind=\"{}\">\n", index + 1,
                                esc(f.kind));
  out += fmt::format("<h3>{}. {}<span class=\"badge {}\">{}</span>{}</h3>\n", index + 1, esc(info.title),
                     f.severity == "warning" ? "warn" : "bad", esc(f.severity),
                     f.probable ? "<span class=\"badge warn\">probable</span>" : "");
  out += "<p class=\"muted\"><code>" + esc(f.kind) + "</code>";
  if (!info.meaning.empty()) out += " &mdash; " + esc(info.meaning);
  out += " (" + docs_link(options, f.kind) + ")</p>\n";
  std::vector<const Lock*> cycle;
  if (!f.edges.empty()) cycle = cycle_locks(f);
  if (!cycle.empty()) {
    out += "<p class=\"cycle\">";
    // The closing lock was labelled where the cycle started.
    for (std::size_t i = 0; i < cycle.size(); ++i) {
      if (i + 1 == cycle.size() && i > 0 && f.cycle_length + 1 > cycle.size())
        out += fmt::format(" &rarr; &hellip; (cycle cut: {} more locks of {} not listed)",
                           f.cycle_length + 1 - cycle.size(), f.cycle_length);
      out += (i ? " &rarr; " : "") + lock_html(*cycle[i], i + 1 < cycle.size() || i == 0);
    }
    out += "</p>\n";
    out += cycle_picture(f);
  } else {
    if (!f.summary.empty()) out += "<p class=\"cycle\">" + esc(f.summary) + "</p>\n";
    out += wait_for_picture(f);
  }
  if (std::string facts = finding_facts(f); !facts.empty()) out += "<p>" + esc(facts) + "</p>\n";
  out += fix_html(f);
  if (std::string runs = runs_fact(report, f); !runs.empty()) out += "<p class=\"runs\">" + esc(runs) + ".</p>\n";
  if (!f.contexts.empty()) {
    out += "<p>In test" + std::string(f.contexts.size() == 1 ? "" : "s") + ": ";
    for (std::size_t i = 0; i < f.contexts.size() && i < 20; ++i)
      out += (i ? ", " : "") + std::string("<code>") + esc(f.contexts[i]) + "</code>";
    if (f.contexts.size() > 20) out += fmt::format(" and {} more", f.contexts.size() - 20);
    out += "</p>\n";
  }
  out += fmt::format("<p class=\"muted\">Seen in {} (pid{} {}).</p>\n", plural(f.count, "process", "processes"),
                     f.pids.size() == 1 ? "" : "s", pid_list(f.pids));
  if (std::string command = rerun_command(report, f); !command.empty())
    out += "<p>To run it again:</p>\n<pre class=\"command\">" + esc(command) + "</pre>\n";
  if (const Run* r = measured_run(report, f)) out += measurement_charts(*r);
  for (const Thread& t : f.threads) {
    out += fmt::format("<h4>Thread {} <code>{}</code> <span class=\"role\">{}</span></h4>\n", t.tid, esc(t.name),
                       esc(t.role));
    if (!t.holds.empty()) {
      out += "<p class=\"held\">Holds: ";
      for (std::size_t i = 0; i < t.holds.size(); ++i)
        if (const Lock* l = find_lock(f, t.holds[i])) out += (i ? ", " : "") + lock_html(*l, true);
      out += "</p>\n";
    }
    out += stack_html(t, options.full_stacks);
  }
  if (!f.locks.empty()) {
    out += "<h4>Locks</h4>\n<table class=\"locks\"><tr><th>lock</th><th>kind</th><th>address</th><th>first taken at</th></tr>\n";
    for (const Lock& l : f.locks)
      out += "<tr><td>" + lock_html(l, false) + "</td><td>" + esc(l.kind) +
             "</td><td><code>" + hex(l.address) + "</code></td><td>" + first_site_html(l) + "</td></tr>\n";
    out += "</table>\n";
  }
  return out + "</section>\n";
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& w : words) text += (text.empty() ? "" : " ") + shell_quote(w);
  return text;
}

std::string verdict_html(const Report& report) {
  std::size_t n = report.findings.size();
  std::string unreadable =
      report.errors.empty()
          ? ""
          : fmt::format(" {} results file{} could not be read (below).", report.errors.size(),
                        report.errors.size() == 1 ? "" : "s");
  if (n > 0) {
    std::size_t errors = 0;
    for (const Finding& f : report.findings) errors += f.severity == "error" ? 1 : 0;
    return fmt::format("<p class=\"verdict {}\" id=\"verdict\">{}{}.{}</p>\n", errors ? "bad" : "warn",
                       plural(n, "finding", "findings"),
                       errors == n   ? std::string()
                       : errors == 0 ? std::string(n == 1 ? " (a warning)" : " (all warnings)")
                                     : fmt::format(" ({}, {})", plural(errors, "error", "errors"),
                                                   plural(n - errors, "warning", "warnings")),
                       unreadable);
  }
  if (!report.errors.empty())
    return "<p class=\"verdict warn\" id=\"verdict\">No findings in the results that could be read." + unreadable +
           "</p>\n";
  if (report.processes.empty() && report.runs.empty())
    return "<p class=\"verdict warn\" id=\"verdict\">No findings, but no process wrote results: the library may not "
           "have been loaded (a static or setuid program, or one that clears LD_PRELOAD).</p>\n";
  return "<p class=\"verdict good\" id=\"verdict\">No findings.</p>\n";
}

std::string processes_html(const Report& report, const HtmlOptions& options) {
  std::size_t n = report.processes.size();
  std::string out = fmt::format("<h2 id=\"processes\">Processes</h2>\n<details{}><summary>{} wrote results</summary>\n",
                                n <= 8 ? " open" : "", plural(n, "process", "processes"));
  out += "<table class=\"sortable\"><thead><tr><th>pid</th><th>parent</th><th>command line</th><th>state</th>"
         "<th>exit status</th><th>results file</th></tr></thead><tbody>\n";
  for (std::size_t i = 0; i < n && i < options.max_process_rows; ++i) {
    const Process& p = report.processes[i];
    out += fmt::format("<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>\n",
                       p.pid, p.ppid, esc(joined(p.argv)),
                       p.state == "running" ? "running (killed, or still running)" : esc(p.state),
                       p.exit_status ? std::to_string(*p.exit_status) : "", esc(p.results_file));
  }
  out += "</tbody></table>\n";
  if (n > options.max_process_rows)
    out += fmt::format("<p class=\"muted\">{} more not listed (findings.json lists every process).</p>\n",
                       n - options.max_process_rows);
  return out + "</details>\n";
}

std::string run_exit_text(const Run& r) {
  if (r.signal) return "signal " + std::to_string(*r.signal);
  return r.exit_status ? std::to_string(*r.exit_status) : std::string();
}

// The stress runs that did not end well, with what reproduces each.
std::string runs_html(const Report& report, const HtmlOptions& options) {
  std::vector<const Run*> failed;
  for (const Run& r : report.runs)
    if (r.outcome != "ok") failed.push_back(&r);
  std::string out = fmt::format("<h2 id=\"runs\">Stress runs</h2>\n<p>{}.</p>\n", esc(runs_summary(report)));
  if (failed.empty()) return out;
  out += fmt::format("<details{}><summary>{} not ok</summary>\n", failed.size() <= 20 ? " open" : "",
                     plural(failed.size(), "run", "runs"));
  out += "<table class=\"sortable runs\"><thead><tr><th>run</th><th>seed</th><th>outcome</th><th>why</th><th>exit</th>"
         "<th>ms</th></tr></thead><tbody>\n";
  for (std::size_t i = 0; i < failed.size() && i < options.max_run_rows; ++i) {
    const Run* r = failed[i];
    out += fmt::format("<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                       esc(r->run.label()), r->run.seed, esc(r->outcome), esc(r->reason), esc(run_exit_text(*r)),
                       r->duration_ms);
  }
  out += "</tbody></table>\n";
  if (failed.size() > options.max_run_rows)
    out += fmt::format("<p class=\"muted\">{} more not listed (each run's run.json is under runs/).</p>\n",
                       failed.size() - options.max_run_rows);
  return out + "</details>\n";
}

// What each teardown and speedup scenario measured: the first run of each scenario (and
// variant), so fixed twins can be compared with their bugs.
std::string measurements_html(const Report& report) {
  std::vector<std::string> seen;
  std::string charts;
  for (const Run& r : report.runs) {
    if (r.measured.empty()) continue;
    std::string key = r.run.scenario + "\n" + r.run.variant;
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
    seen.push_back(key);
    charts += measurement_charts(r);
  }
  if (charts.empty()) return "";
  return "<section id=\"measurements\">\n<h2>Measurements</h2>\n<p class=\"muted\">The first run of each teardown and "
         "speedup scenario: native threads and open fds after each teardown cycle, throughput by thread count.</p>\n" +
         charts + "</section>\n";
}

// The summary at the top: one row per kind, most severe first, each linking to its group;
// with a baseline, what is new since it and what it already knew.
std::string counts_html(const Report& report) {
  bool baseline = !report.baseline_file.empty();
  std::vector<Finding> all = report.findings;
  if (baseline) all.insert(all.end(), report.baselined.begin(), report.baselined.end());
  std::string out = "<h2 id=\"by-kind\">Summary</h2>\n<table class=\"sortable counts\"><thead><tr>"
                    "<th>kind</th><th>what it is</th><th>severity</th><th>findings</th><th>occurrences</th>";
  if (baseline) out += "<th>new since baseline</th><th>known</th>";
  out += "</tr></thead><tbody>\n";
  for (const auto& [kind, total] : kind_counts(all)) {
    std::size_t fresh = 0;
    uint64_t occurrences = 0;
    for (const Finding& f : all) occurrences += f.kind == kind ? f.occurrences : 0;
    for (const Finding& f : report.findings) fresh += f.kind == kind ? 1 : 0;
    std::string target = fresh ? "#kind-" + kind : "#baselined";
    out += fmt::format("<tr data-kind=\"{}\"><td><a href=\"{}\"><code>{}</code></a></td><td>{}</td><td>{}</td>"
                       "<td>{}</td><td>{}</td>",
                       esc(kind), esc(target), esc(kind), esc(kind_info(kind).title), esc(kind_info(kind).severity),
                       total, occurrences);
    if (baseline) out += fmt::format("<td class=\"new\">{}</td><td>{}</td>", fresh, total - fresh);
    out += "</tr>\n";
  }
  return out + "</tbody></table>\n";
}

// The reported findings, one collapsible group per kind, most severe first. Every group
// is open when the findings are few; in a big report only the first is.
std::string finding_groups_html(const Report& report, const HtmlOptions& options) {
  constexpr std::size_t kAllOpenUpTo = 12;
  std::string out;
  std::size_t index = 0;
  bool first = true;
  for (const auto& [kind, n] : kind_counts(report.findings)) {
    bool open = first || report.findings.size() <= kAllOpenUpTo;
    first = false;
    out += fmt::format("<details class=\"kind-group\" id=\"kind-{}\" data-kind=\"{}\"{}><summary>{} "
                       "<span class=\"muted\">({}, <code>{}</code>)</span></summary>\n",
                       esc(kind), esc(kind), open ? " open" : "", esc(kind_info(kind).title),
                       plural(n, "finding", "findings"), esc(kind));
    for (; index < report.findings.size() && report.findings[index].kind == kind; ++index)
      out += finding_html(report, report.findings[index], index, options);
    out += "</details>\n";
  }
  return out;
}

std::string contents_html(const Report& report) {
  if (report.findings.size() < 2) return "";
  std::string out = "<nav aria-label=\"findings\"><ol>\n";
  for (std::size_t i = 0; i < report.findings.size(); ++i) {
    const Finding& f = report.findings[i];
    std::string summary = f.summary.size() > 160 ? f.summary.substr(0, 157) + "..." : f.summary;
    out += fmt::format("<li><a href=\"#finding-{}\">{}</a></li>\n", i + 1, esc(summary));
  }
  return out + "</ol></nav>\n";
}

}  // namespace

// Suppressed and known (baselined) findings: listed, collapsed, never dropped. Each
// keeps its full card inside, numbered after the reported ones.
std::string set_aside_html(const Report& report, const HtmlOptions& options) {
  std::string out;
  std::size_t index = report.findings.size();
  if (!report.suppressed.empty()) {
    out += fmt::format("<h2 id=\"suppressed\">Suppressed</h2>\n<details class=\"suppressed\"><summary>{} matched "
                       "a suppression rule and {} not counted</summary>\n<ul>\n",
                       plural(report.suppressed.size(), "finding", "findings"),
                       report.suppressed.size() == 1 ? "is" : "are");
    for (std::size_t i = 0; i < report.suppressed.size(); ++i) {
      const Finding& f = report.suppressed[i];
      const Suppression& s = *f.suppressed_by;
      out += fmt::format("<li><a href=\"#finding-{}\"><code>{}</code></a> {} &mdash; suppressed by <code>{}</code> "
                         "({}:{}), which matched <code>{}</code></li>\n",
                         index + i + 1, esc(f.kind), esc(f.summary), esc(s.rule), esc(s.file), s.line, esc(s.frame));
    }
    out += "</ul>\n";
    for (const Finding& f : report.suppressed) out += finding_html(report, f, index++, options);
    out += "</details>\n";
  }
  if (!report.baselined.empty()) {
    out += fmt::format("<h2 id=\"baselined\">Known (baseline)</h2>\n<details class=\"baselined\"><summary>{} "
                       "already in the baseline <code>{}</code>, not counted</summary>\n<ul>\n",
                       plural(report.baselined.size(), "finding", "findings"), esc(report.baseline_file));
    for (std::size_t i = 0; i < report.baselined.size(); ++i) {
      const Finding& f = report.baselined[i];
      out += fmt::format("<li><a href=\"#finding-{}\"><code>{}</code></a> {} (fingerprint <code>{}</code>)</li>\n",
                         index + i + 1, esc(f.kind), esc(f.summary), fingerprint(f));
    }
    out += "</ul>\n";
    for (const Finding& f : report.baselined) out += finding_html(report, f, index++, options);
    out += "</details>\n";
  }
  return out;
}

std::string render_html(const Report& unsorted, const std::string& tool_version, const HtmlOptions& options) {
  // One order everywhere on the page: most severe first (fixes.h).
  Report sorted = unsorted;
  sort_for_reading(&sorted.findings);
  sort_for_reading(&sorted.suppressed);
  sort_for_reading(&sorted.baselined);
  const Report& report = sorted;
  std::size_t n = report.findings.size();
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
                    // Nothing on this page may reach the network.
                    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                    "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n";
  out += fmt::format("<title>gilwatch: {}</title>\n", n == 0 ? std::string("no findings")
                                                               : plural(n, "finding", "findings"));
  out += std::string("<style>") + kStyle + "</style>\n</head>\n<body>\n" + svg::definitions() +
         "<h1>gilwatch report</h1>\n";
  std::string verdict = verdict_html(report);
  if (!report.suppressed.empty() || !report.baselined.empty()) {
    // Said next to the verdict, so that "No findings." is never the whole truth.
    std::string aside;
    if (!report.baselined.empty())
      aside += fmt::format(" {} known (<a href=\"#baselined\">baseline</a>).", report.baselined.size());
    if (!report.suppressed.empty())
      aside += fmt::format(" {} <a href=\"#suppressed\">suppressed</a>.", report.suppressed.size());
    verdict.insert(verdict.rfind("</p>"), aside);
  }
  out += verdict;
  if (n > 0 || !report.baselined.empty()) out += counts_html(report);

  out += "<table class=\"what-ran\">\n";
  auto row = [&](const std::string& key, const std::string& value_html) {
    out += "<tr><th>" + key + "</th><td>" + value_html + "</td></tr>\n";
  };
  if (report.stress) {
    row("suite", "<code>" + esc(report.stress->suite) + "</code>");
    row("base seed", esc(report.stress->seed) + (report.stress->perturb ? " (perturbed)" : ""));
  }
  if (!report.runs.empty()) row("stress runs", esc(runs_summary(report)));
  if (!report.command.empty())
    row("command", "<code>" + esc(joined(report.command)) + "</code>");
  if (!report.inputs.empty()) row("inputs", "<code>" + esc(joined(report.inputs)) + "</code>");
  if (report.exit_status) row("exit status", std::to_string(*report.exit_status));
  row("processes", std::to_string(report.processes.size()));
  std::vector<std::string> pythons;
  for (const Process& p : report.processes)
    if (!p.python_version.empty() && std::find(pythons.begin(), pythons.end(), p.python_version) == pythons.end())
      pythons.push_back(p.python_version);
  for (const std::string& v : pythons) row("Python", esc(v));
  for (const std::string& series : untested_pythons(report))
    row("Python " + esc(series), "untested: not among the versions gilwatch is tested with; findings that involve "
                                 "the GIL may be wrong");
  for (const std::string& series : free_threaded_pythons(report))
    row("Python " + esc(series), "free-threaded: no GIL; the checks that assume one were off (GIL lock order, "
                                 "gil-held-blocking, capi-without-gil, GIL waits, GIL profile)");
  if (uint64_t n = untracked_low_stack(report))
    row("not tracked", esc(std::to_string(n)) + (n == 1 ? " lock acquisition" : " lock acquisitions") +
                           ": low stack (their new lock orders were not recorded; a lock-order inversion "
                           "through them can be missed)");
  for (const CapacityWarning& w : capacity_warnings(report))
    row("capacity", esc(capacity_warning_text(w)) + " (the library's fixed capacity; findings may be missing)");
  row("date", esc(report.date));
  row("gilwatch", esc(tool_version));
  out += "</table>\n";

  if (!report.errors.empty()) {
    out += "<h2 id=\"unreadable\">Unreadable results</h2>\n<p>These files were skipped; what they held is missing "
           "from this report.</p>\n<ul class=\"unreadable\">\n";
    for (const InputError& e : report.errors)
      out += "<li><code>" + esc(e.file) + "</code>: " + esc(e.message) + "</li>\n";
    out += "</ul>\n";
  }
  if (n > 0) {
    out += "<h2 id=\"findings\">Findings</h2>\n" + contents_html(report);
    out += finding_groups_html(report, options);
  }
  out += set_aside_html(report, options);
  out += gil_profile_html(report);
  out += contention_html(report);
  out += measurements_html(report);
  if (!report.runs.empty()) out += runs_html(report, options);
  if (!report.processes.empty()) out += processes_html(report, options);
  out += std::string("<script>") + kScript + "</script>\n</body>\n</html>\n";
  return out;
}

}  // namespace gilwatch::report
