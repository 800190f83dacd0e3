#include "html_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "describe.h"

namespace gilwatch::report {

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

namespace {

// Short alias: every piece of untrusted text goes through it.
std::string esc(const std::string& text) { return html_escape(text); }

constexpr const char* kStyle = R"(
:root{--fg:#1d1d1f;--muted:#5f6368;--line:#d9d9de;--soft:#f5f5f7;--bad:#a4262c;--badbg:#fde7e9;
--good:#1e6b34;--goodbg:#e3f4e8;--warn:#7a5200;--warnbg:#fff4d6;--gil:#6a1b9a;--gilbg:#f3e5f5}
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);margin:0 auto;max-width:80em;padding:1em 1.5em 3em}
h1{font-size:1.6em;margin:.4em 0}h2{font-size:1.25em;margin:2em 0 .6em;border-bottom:1px solid var(--line)}
h3{font-size:1.1em;margin:.2em 0 .6em}h4{font-size:1em;margin:1.2em 0 .3em}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid var(--line);padding:.2em .6em;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600}
code,.mono,.frames td{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.frames td{border:none;border-bottom:1px solid var(--soft);padding:.1em .6em}.frames{width:100%}
.verdict{padding:.7em 1em;border-radius:6px;font-weight:600;font-size:1.05em}
.bad{background:var(--badbg);color:var(--bad)}.good{background:var(--goodbg);color:var(--good)}
.warn{background:var(--warnbg);color:var(--warn)}
.finding{border:1px solid var(--line);border-radius:8px;padding:.8em 1.2em 1em;margin:1.2em 0}
.badge{font-size:.75em;padding:.1em .5em;border-radius:4px;vertical-align:middle;margin-left:.4em}
.cycle{font-weight:600;font-family:ui-monospace,monospace;background:var(--soft);padding:.5em .8em;border-radius:4px;overflow-wrap:anywhere}
.gil{color:var(--gil);background:var(--gilbg);padding:0 .3em;border-radius:3px}
.muted{color:var(--muted)}.role{font-weight:normal}
details{margin:.4em 0}summary{cursor:pointer}
)";

// `labelled`: with the function of its first site, where an address alone says little.
std::string lock_html(const Lock& lock, bool labelled) {
  if (lock.kind == "gil") return "<span class=\"gil\">the GIL</span>";
  return esc(labelled ? lock_label(lock) : describe_lock(lock));
}

std::string location_html(const NativeFrame& f) {
  if (f.file.empty()) return "";
  return esc(f.file) + (f.line > 0 ? fmt::format(":{}", f.line) : "");
}

std::string module_html(const NativeFrame& f) {
  if (f.module.empty()) return "";
  return "<span title=\"" + esc(f.module) + "\">" + esc(base_name(f.module)) + "</span>+" + hex(f.offset);
}

std::string native_frames_html(const std::vector<NativeFrame>& frames) {
  if (frames.empty()) return "<p class=\"muted\">No native frames were captured.</p>\n";
  std::string out = "<table class=\"frames\">\n";
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const NativeFrame& f = frames[i];
    out += fmt::format("<tr><td>#{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"muted\">{}</td></tr>\n", i,
                       hex(f.pc), esc(f.function.empty() ? "??" : f.function), location_html(f), module_html(f));
  }
  return out + "</table>\n";
}

std::string python_frames_html(const std::vector<PythonFrame>& frames) {
  if (frames.empty()) return "";
  std::string out = "<p>Python frames (innermost first):</p>\n<table class=\"frames\">\n";
  for (std::size_t i = 0; i < frames.size(); ++i)
    out += fmt::format("<tr><td>#{}</td><td>{}</td><td>{}:{}</td></tr>\n", i, esc(frames[i].function),
                       esc(frames[i].file), frames[i].line);
  return out + "</table>\n";
}

std::string first_site_html(const Lock& lock) {
  if (lock.first_site.empty()) return "<span class=\"muted\">unknown</span>";
  const NativeFrame& f = lock.first_site.front();
  std::string out = "<code>" + esc(f.function.empty() ? "??" : f.function) + "</code>";
  if (!f.file.empty()) out += " " + location_html(f);
  if (!f.module.empty()) out += " <span class=\"muted\">(" + module_html(f) + ")</span>";
  return out;
}

std::string pid_list(const std::vector<int64_t>& pids) {
  std::string text;
  for (int64_t pid : pids) text += (text.empty() ? "" : ", ") + std::to_string(pid);
  return text;
}

std::string finding_html(const Report& report, const Finding& f, std::size_t index) {
  KindInfo info = kind_info(f.kind);
  std::string out = fmt::format("<section class=\"finding\" id=\"finding-{}\">\n", index + 1);
  out += fmt::format("<h3>{}. {}<span class=\"badge {}\">{}</span></h3>\n", index + 1, esc(info.title),
                     f.severity == "warning" ? "warn" : "bad", esc(f.severity));
  out += "<p class=\"muted\"><code>" + esc(f.kind) + "</code>";
  if (!info.meaning.empty()) out += " &mdash; " + esc(info.meaning);
  out += "</p>\n";
  std::vector<const Lock*> cycle;
  if (!f.edges.empty()) cycle = cycle_locks(f);
  if (!cycle.empty()) {
    out += "<p class=\"cycle\">";
    // The closing lock was labelled where the cycle started.
    for (std::size_t i = 0; i < cycle.size(); ++i)
      out += (i ? " &rarr; " : "") + lock_html(*cycle[i], i + 1 < cycle.size() || i == 0);
    out += "</p>\n";
  } else if (!f.summary.empty()) {
    out += "<p class=\"cycle\">" + esc(f.summary) + "</p>\n";
  }
  if (std::string facts = finding_facts(f); !facts.empty()) out += "<p>" + esc(facts) + "</p>\n";
  if (std::string runs = runs_fact(report, f); !runs.empty()) out += "<p>" + esc(runs) + "</p>\n";
  out += fmt::format("<p class=\"muted\">Seen in {} process{} (pid{} {}).</p>\n", f.count, f.count == 1 ? "" : "es",
                     f.pids.size() == 1 ? "" : "s", pid_list(f.pids));
  for (const Thread& t : f.threads) {
    out += fmt::format("<h4>Thread {} <code>{}</code> <span class=\"role\">{}</span></h4>\n", t.tid, esc(t.name),
                       esc(t.role));
    out += native_frames_html(t.native_frames);
    out += python_frames_html(t.python_frames);
  }
  if (!f.locks.empty()) {
    out += "<h4>Locks</h4>\n<table><tr><th>lock</th><th>kind</th><th>address</th><th>first taken at</th></tr>\n";
    for (const Lock& l : f.locks)
      out += "<tr><td>" + lock_html(l, false) + "</td><td>" + esc(l.kind) +
             "</td><td><code>" + hex(l.address) + "</code></td><td>" + first_site_html(l) + "</td></tr>\n";
    out += "</table>\n";
  }
  return out + "</section>\n";
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& w : words) text += (text.empty() ? "" : " ") + w;
  return text;
}

std::string verdict_html(const Report& report) {
  std::size_t n = report.findings.size();
  std::string unreadable =
      report.errors.empty()
          ? ""
          : fmt::format(" {} results file{} could not be read (below).", report.errors.size(),
                        report.errors.size() == 1 ? "" : "s");
  if (n > 0)
    return fmt::format("<p class=\"verdict bad\">{} finding{}.{}</p>\n", n, n == 1 ? "" : "s", unreadable);
  if (!report.errors.empty())
    return "<p class=\"verdict warn\">No findings in the results that could be read." + unreadable + "</p>\n";
  if (report.processes.empty())
    return "<p class=\"verdict warn\">No findings, but no process wrote results: the library may not have been "
           "loaded (a static or setuid program, or one that clears LD_PRELOAD).</p>\n";
  return "<p class=\"verdict good\">No findings.</p>\n";
}

std::string processes_html(const Report& report) {
  std::string out = fmt::format("<h2>Processes</h2>\n<details{}><summary>{} process{} wrote results</summary>\n",
                                report.processes.size() <= 8 ? " open" : "", report.processes.size(),
                                report.processes.size() == 1 ? "" : "es");
  out += "<table><tr><th>pid</th><th>parent</th><th>command line</th><th>state</th><th>exit status</th>"
         "<th>results file</th></tr>\n";
  for (const Process& p : report.processes)
    out += fmt::format("<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>\n",
                       p.pid, p.ppid, esc(joined(p.argv)),
                       p.state == "running" ? "running (killed, or still running)" : esc(p.state),
                       p.exit_status ? std::to_string(*p.exit_status) : "", esc(p.results_file));
  return out + "</table>\n</details>\n";
}

// The stress runs that did not end well, with what reproduces each.
std::string runs_html(const Report& report) {
  std::vector<const Run*> failed;
  for (const Run& r : report.runs)
    if (r.outcome != "ok") failed.push_back(&r);
  std::string out = fmt::format("<h2>Stress runs</h2>\n<p>{}.</p>\n", esc(runs_summary(report)));
  if (failed.empty()) return out;
  out += fmt::format("<details{}><summary>{} run{} not ok</summary>\n", failed.size() <= 20 ? " open" : "",
                     failed.size(), failed.size() == 1 ? "" : "s");
  out += "<table><tr><th>run</th><th>seed</th><th>outcome</th><th>why</th><th>exit</th><th>ms</th></tr>\n";
  for (const Run* r : failed)
    out += fmt::format("<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                       esc(r->run.label()), r->run.seed, esc(r->outcome), esc(r->reason),
                       r->signal ? "signal " + std::to_string(*r->signal)
                                 : (r->exit_status ? std::to_string(*r->exit_status) : std::string()),
                       r->duration_ms);
  return out + "</table>\n</details>\n";
}

}  // namespace

std::string render_html(const Report& report, const std::string& tool_version) {
  std::size_t n = report.findings.size();
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n";
  out += fmt::format("<title>gilwatch: {}</title>\n", n == 0 ? std::string("no findings")
                                                               : fmt::format("{} finding{}", n, n == 1 ? "" : "s"));
  out += std::string("<style>") + kStyle + "</style>\n</head>\n<body>\n<h1>gilwatch report</h1>\n";
  out += verdict_html(report);

  out += "<table>\n";
  auto row = [&](const std::string& key, const std::string& value_html) {
    out += "<tr><th>" + key + "</th><td>" + value_html + "</td></tr>\n";
  };
  if (!report.inputs.empty())
    row("inputs", "<code>" + esc(joined(report.inputs)) + "</code>");
  else
    row("command", "<code>" + esc(joined(report.command)) + "</code>");
  if (report.exit_status) row("exit status", std::to_string(*report.exit_status));
  if (!report.runs.empty()) row("stress runs", esc(runs_summary(report)));
  row("processes", std::to_string(report.processes.size()));
  std::vector<std::string> pythons;
  for (const Process& p : report.processes)
    if (!p.python_version.empty() && std::find(pythons.begin(), pythons.end(), p.python_version) == pythons.end())
      pythons.push_back(p.python_version);
  for (const std::string& v : pythons) row("Python", esc(v));
  row("date", esc(report.date));
  row("gilwatch", esc(tool_version));
  out += "</table>\n";

  if (n > 0) {
    std::map<std::string, int> by_kind;
    for (const Finding& f : report.findings) ++by_kind[f.kind];
    out += "<h2>By kind</h2>\n<table><tr><th>kind</th><th>what it is</th><th>findings</th></tr>\n";
    for (const auto& [kind, count] : by_kind)
      out += fmt::format("<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n", esc(kind),
                         esc(kind_info(kind).title), count);
    out += "</table>\n";
  }
  if (!report.errors.empty()) {
    out += "<h2>Unreadable results</h2>\n<p>These files were skipped; what they held is missing from this "
           "report.</p>\n<ul>\n";
    for (const InputError& e : report.errors)
      out += "<li><code>" + esc(e.file) + "</code>: " + esc(e.message) + "</li>\n";
    out += "</ul>\n";
  }
  if (n > 0) {
    out += "<h2>Findings</h2>\n";
    for (std::size_t i = 0; i < n; ++i) out += finding_html(report, report.findings[i], i);
  }
  if (!report.runs.empty()) out += runs_html(report);
  if (!report.processes.empty()) out += processes_html(report);
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace gilwatch::report
