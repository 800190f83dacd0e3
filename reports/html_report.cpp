#include "html_report.h"

#include <fmt/format.h>

#include <map>

#include "text_report.h"

namespace gilwatch::report {

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

constexpr const char* kStyle = R"(
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#1d1d1f}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em}h3{font-size:1.05em}
.verdict{padding:.6em 1em;border-radius:6px;font-weight:600}
.bad{background:#fde2e1;color:#8a1c15}.good{background:#e1f5e4;color:#1b5e20}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f6}code,pre{font:12.5px/1.4 ui-monospace,monospace}
pre{background:#f7f7f9;padding:.6em;overflow:auto;border-radius:4px}
.finding{border:1px solid #ddd;border-radius:8px;padding:0 1em 1em;margin:1.5em 0}
.cycle{font-weight:600}.gil{color:#8a1c15}.muted{color:#666}
)";

std::string lock_html(const Lock& lock) {
  if (lock.kind == "gil") return "<span class=\"gil\">the GIL</span>";
  return html_escape(describe_lock(lock));
}

std::string frames_html(const Thread& t) {
  std::string out = "<pre>";
  for (std::size_t i = 0; i < t.native_frames.size(); ++i) {
    const NativeFrame& f = t.native_frames[i];
    out += html_escape(fmt::format("#{:<2} {:#x} {}", i, f.pc, f.function.empty() ? "??" : f.function));
    if (!f.file.empty()) out += html_escape(fmt::format("  {}:{}", f.file, f.line));
    if (!f.module.empty()) out += " <span class=\"muted\">" + html_escape(fmt::format("({}+{:#x})", f.module, f.offset)) + "</span>";
    out += "\n";
  }
  if (!t.python_frames.empty()) {
    out += "Python frames (innermost first):\n";
    for (const PythonFrame& p : t.python_frames)
      out += html_escape(fmt::format("  {}:{} in {}", p.file, p.line, p.function)) + "\n";
  }
  out += "</pre>";
  return out;
}

std::string finding_html(const Finding& f, std::size_t index) {
  std::string out = fmt::format("<section class=\"finding\" id=\"finding-{}\">\n", index + 1);
  out += fmt::format("<h3>{}. {}</h3>\n", index + 1, html_escape(kind_title(f.kind)));
  out += "<p>" + html_escape(kind_explanation(f.kind)) + "</p>\n";
  if (!f.locks.empty()) {
    out += "<p class=\"cycle\">";
    for (const Lock& l : f.locks) out += lock_html(l) + " &rarr; ";
    out += lock_html(f.locks.front()) + "</p>\n";
  }
  out += fmt::format("<p class=\"muted\">Seen in {} process{} (pid {}).</p>\n", f.count, f.count == 1 ? "" : "es",
                     html_escape(f.pids.empty() ? std::string("?") : std::to_string(f.pids.front())));
  for (const Edge& e : f.edges) {
    if (e.thread_index < 0 || std::size_t(e.thread_index) >= f.threads.size()) continue;
    const Thread& t = f.threads[std::size_t(e.thread_index)];
    out += "<h4>Thread " + html_escape(std::to_string(t.tid)) + " (" + html_escape(t.name) + ") " +
           html_escape(t.role) + "</h4>\n";
    out += frames_html(t);
  }
  out += "<table><tr><th>lock</th><th>kind</th><th>address</th><th>first taken at</th></tr>\n";
  for (const Lock& l : f.locks) {
    std::string site = l.first_site.empty() ? std::string("")
                                            : l.first_site.front().function +
                                                  (l.first_site.front().file.empty()
                                                       ? std::string("")
                                                       : " " + l.first_site.front().file + ":" +
                                                             std::to_string(l.first_site.front().line));
    out += "<tr><td>" + lock_html(l) + "</td><td>" + html_escape(l.kind) + "</td><td><code>" +
           html_escape(fmt::format("{:#x}", l.address)) + "</code></td><td><code>" + html_escape(site) +
           "</code></td></tr>\n";
  }
  out += "</table>\n</section>\n";
  return out;
}

}  // namespace

std::string render_html(const Report& report, const std::string& tool_version) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
                    "<title>gilwatch report</title>\n<style>";
  out += kStyle;
  out += "</style></head><body>\n<h1>gilwatch report</h1>\n<table>\n";
  auto row = [&](const std::string& key, const std::string& value) {
    out += "<tr><th>" + html_escape(key) + "</th><td>" + html_escape(value) + "</td></tr>\n";
  };
  std::string what;
  for (const std::string& a : report.command.empty() ? report.inputs : report.command) what += (what.empty() ? "" : " ") + a;
  row(report.command.empty() ? "inputs" : "command", what);
  if (report.has_exit_status) row("exit status", std::to_string(report.exit_status));
  row("processes", std::to_string(report.processes.size()));
  std::string pythons;
  for (const Process& p : report.processes)
    if (!p.python_version.empty() && pythons.find(p.python_version) == std::string::npos)
      pythons += (pythons.empty() ? "" : "; ") + p.python_version;
  if (!pythons.empty()) row("interpreter", pythons);
  row("date", report.date);
  row("gilwatch", tool_version);
  out += "</table>\n";

  std::map<std::string, int> by_kind;
  for (const Finding& f : report.findings) ++by_kind[f.kind];
  if (report.findings.empty()) {
    out += "<p class=\"verdict good\">No findings.</p>\n";
  } else {
    out += fmt::format("<p class=\"verdict bad\">{} finding{}.</p>\n<table><tr><th>kind</th><th>count</th></tr>\n",
                       report.findings.size(), report.findings.size() == 1 ? "" : "s");
    for (const auto& [kind, n] : by_kind)
      out += "<tr><td>" + html_escape(kind) + "</td><td>" + std::to_string(n) + "</td></tr>\n";
    out += "</table>\n";
  }
  if (!report.errors.empty()) {
    out += "<h2>Unreadable results</h2>\n<ul>\n";
    for (const InputError& e : report.errors) out += "<li><code>" + html_escape(e.file) + "</code>: " + html_escape(e.message) + "</li>\n";
    out += "</ul>\n";
  }
  if (!report.findings.empty()) out += "<h2>Findings</h2>\n";
  for (std::size_t i = 0; i < report.findings.size(); ++i) out += finding_html(report.findings[i], i);
  out += "</body></html>\n";
  return out;
}

}  // namespace gilwatch::report
