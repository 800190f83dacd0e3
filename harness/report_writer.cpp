#include "report_writer.h"

#include <fmt/format.h>

#include <ctime>
#include <fstream>
#include <iostream>
#include <map>

#include "commands.h"
#include "findings_json.h"
#include "html_report.h"
#include "merge.h"
#include "results_reader.h"
#include "symbolizer.h"

namespace gilwatch::harness {

int collect_results(const std::vector<std::string>& dirs, report::Report* report) {
  std::vector<ProcessResults> processes;
  int unreadable = 0;
  for (const std::string& dir : dirs) {
    for (const std::string& file : list_results_files(dir)) {
      ProcessResults r;
      std::string error;
      if (!read_results_file(file, &r, &error)) {
        std::cerr << "gilwatch: " << file << ": " << error << " (skipped)\n";
        report->errors.push_back({file, error});
        ++unreadable;
        continue;
      }
      processes.push_back(std::move(r));
    }
  }
  Addr2lineSymbolizer symbolizer;
  merge_results(processes, symbolizer, MergeOptions{}, report);
  return unreadable;
}

bool write_outputs(const report::Report& report, const std::string& json_path, const std::string& html_path) {
  bool ok = true;
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << report::to_findings_json(report, kVersion).dump(2) << "\n";
    if (!out) {
      std::cerr << "gilwatch: cannot write " << json_path << "\n";
      ok = false;
    }
  }
  if (!html_path.empty()) {
    std::ofstream out(html_path);
    out << report::render_html(report, kVersion);
    if (!out) {
      std::cerr << "gilwatch: cannot write " << html_path << "\n";
      ok = false;
    }
  }
  return ok;
}

std::string summary_line(const report::Report& report, const std::string& html_path) {
  if (report.findings.empty()) return fmt::format("gilwatch: no findings -> {}", html_path);
  std::map<std::string, int> kinds;
  for (const report::Finding& f : report.findings) ++kinds[f.kind];
  std::string list;
  for (const auto& [kind, n] : kinds) list += (list.empty() ? "" : ", ") + (n > 1 ? fmt::format("{} {}", n, kind) : kind);
  return fmt::format("gilwatch: {} finding{} ({}) -> {}", report.findings.size(),
                     report.findings.size() == 1 ? "" : "s", list, html_path);
}

std::string utc_now_iso8601() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace gilwatch::harness
