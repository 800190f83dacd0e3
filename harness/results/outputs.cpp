#include "outputs.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "commands.h"
#include "findings_json.h"
#include "html_report.h"
#include "junit.h"
#include "merge.h"
#include "results_reader.h"
#include "run_record.h"
#include "sarif.h"

namespace gilwatch::harness {

namespace fs = std::filesystem;

CollectCounts collect_results(const std::vector<std::string>& dirs, Symbolizer& symbolizer, report::Report* report,
                              std::ostream& warnings) {
  CollectCounts counts;
  std::vector<ProcessResults> processes;
  std::set<std::string> seen;
  auto read_directory = [&](const std::string& dir, const std::optional<report::RunRef>& run) {
    for (const std::string& file : list_results_files(dir)) {
      std::error_code ec;
      fs::path canonical = fs::weakly_canonical(file, ec);
      if (!seen.insert(ec ? file : canonical.string()).second) continue;
      ++counts.files;
      ProcessResults r;
      std::string error;
      if (!read_results_file(file, &r, &error)) {
        warnings << "gilwatch: warning: skipping " << file << ": " << error << "\n";
        report->errors.push_back({file, error});
        ++counts.unreadable;
        continue;
      }
      r.run = run;
      processes.push_back(std::move(r));
    }
  };
  std::set<std::string> runs_seen;
  for (const std::string& dir : dirs) {
    if (!is_stress_directory(dir)) {
      read_directory(dir, std::nullopt);
      continue;
    }
    // A stress output directory: every run's results, each tagged with its run.
    StressRecord stress;
    std::string stress_error;
    if (read_stress_record(dir, &stress, &stress_error)) {
      if (stress.interrupted) report->interrupted = true;
      if (!report->stress) report->stress = stress.invocation;
    }
    for (const std::string& run_dir : list_run_directories(dir)) {
      std::string record_path = (fs::path(run_dir) / "run.json").string();
      std::string text, error;
      RunRecord record;
      if (!read_text_file(record_path, &text, &error) || !parse_run_record(text, &record, &error)) {
        warnings << "gilwatch: warning: skipping " << record_path << ": " << error << "\n";
        report->errors.push_back({record_path, error});
        ++counts.unreadable;
        continue;
      }
      // Shards of one plan never share a run; the same run twice is one directory given twice.
      if (!runs_seen.insert(record.run.label()).second) continue;
      read_measurements(run_dir, &record.measured);
      report->runs.push_back(record);
      read_directory((fs::path(run_dir) / "raw").string(), record.run);
    }
  }
  std::stable_sort(report->runs.begin(), report->runs.end(),
                   [](const report::Run& a, const report::Run& b) { return a.run < b.run; });
  // Shards read one after the other must merge exactly as one unsharded run would: in
  // plan order, so findings come out in the order a single run would have met them.
  std::stable_sort(processes.begin(), processes.end(), [](const ProcessResults& a, const ProcessResults& b) {
    if (!a.run || !b.run) return bool(!a.run) && bool(b.run);
    return *a.run < *b.run;
  });
  merge_results(processes, symbolizer, MergeOptions{}, report);
  return counts;
}

bool write_text_output(const std::string& path, const std::string& content, std::ostream& errors) {
  std::string temporary = path + ".tmp";
  std::error_code ec;
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);  // -o may name a new directory
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out) {
      errors << "gilwatch: cannot write " << temporary << ": " << std::strerror(errno) << "\n";
      fs::remove(temporary, ec);
      return false;
    }
  }
  fs::rename(temporary, path, ec);
  if (ec) {
    errors << "gilwatch: cannot write " << path << ": " << ec.message() << "\n";
    fs::remove(temporary, ec);
    return false;
  }
  return true;
}

namespace {

bool write_file(const std::string& path, const std::string& content, std::ostream& errors) {
  return write_text_output(path, content, errors);
}

}  // namespace

bool docs_url(const std::string& option, const char* environment, std::string* url, std::string* error) {
  std::string value = kDefaultDocsUrl, source;
  if (!option.empty()) {
    value = option;
    source = "--docs-url";
  } else if (environment && *environment) {
    value = environment;
    source = "GILWATCH_DOCS_URL";
  }
  bool http = value.rfind("http://", 0) == 0 || value.rfind("https://", 0) == 0;
  if (!http || value.find_first_of(" \t\n\"<>") != std::string::npos || value.size() <= value.find("//") + 2) {
    *error = source + ": '" + value + "' is not an http:// or https:// URL (the reports link to it for each kind's "
             "explanation and fix)";
    return false;
  }
  *url = value;
  return true;
}

bool write_outputs(const report::Report& report, const OutputPaths& paths, std::ostream& errors) {
  const std::string& docs = paths.docs_url;
  bool ok = true;
  if (!paths.json.empty()) ok &= write_file(paths.json, report::render_findings_json(report, kVersion, {paths.full_stacks}), errors);
  if (!paths.html.empty()) {
    report::HtmlOptions options;
    options.findings_doc_url = docs;
    options.full_stacks = paths.full_stacks;
    ok &= write_file(paths.html, report::render_html(report, kVersion, options), errors);
  }
  if (!paths.sarif.empty()) {
    report::SarifOptions options;
    std::error_code ec;
    options.source_root = fs::current_path(ec).string();
    options.findings_doc_url = docs;
    ok &= write_file(paths.sarif, report::render_sarif(report, kVersion, options), errors);
  }
  if (!paths.junit.empty()) ok &= write_file(paths.junit, report::render_junit(report), errors);
  return ok;
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
