#include "outputs.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>

#include "commands.h"
#include "findings_json.h"
#include "html_report.h"
#include "merge.h"
#include "results_reader.h"

namespace gilwatch::harness {

namespace fs = std::filesystem;

CollectCounts collect_results(const std::vector<std::string>& dirs, Symbolizer& symbolizer, report::Report* report,
                              std::ostream& warnings) {
  CollectCounts counts;
  std::vector<ProcessResults> processes;
  std::set<std::string> seen;
  for (const std::string& dir : dirs) {
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
      processes.push_back(std::move(r));
    }
  }
  merge_results(processes, symbolizer, MergeOptions{}, report);
  return counts;
}

namespace {

bool write_file(const std::string& path, const std::string& content, std::ostream& errors) {
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

}  // namespace

bool write_outputs(const report::Report& report, const std::string& json_path, const std::string& html_path,
                   std::ostream& errors) {
  bool ok = true;
  if (!json_path.empty()) ok &= write_file(json_path, report::render_findings_json(report, kVersion), errors);
  if (!html_path.empty()) ok &= write_file(html_path, report::render_html(report, kVersion), errors);
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
