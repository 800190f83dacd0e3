#include "harness_results.h"

#include <cstdlib>

#include "gilwatch/result_format.h"

namespace gilwatch::harness {

namespace rf = gilwatch::result_format;
namespace key = gilwatch::result_format::key;
using nlohmann::json;

json faulthandler_threads(const std::string& stderr_text) {
  json threads = json::array();
  std::size_t pos = 0;
  json* current = nullptr;
  while (pos < stderr_text.size() && threads.size() < 16) {
    std::size_t end = stderr_text.find('\n', pos);
    if (end == std::string::npos) end = stderr_text.size();
    std::string line = stderr_text.substr(pos, end - pos);
    pos = end + 1;
    bool current_thread = line.rfind("Current thread 0x", 0) == 0;
    if (current_thread || line.rfind("Thread 0x", 0) == 0) {
      threads.push_back(json{{key::kTid, 0},
                             {key::kName, ""},
                             {key::kRole, current_thread ? "the thread that crashed" : "another thread"},
                             {key::kPythonFrames, json::array()}});
      current = &threads.back();
      continue;
    }
    const char* prefix = "  File \"";
    if (!current || line.rfind(prefix, 0) != 0) continue;
    std::size_t file_end = line.find("\", line ", 8);
    if (file_end == std::string::npos) continue;
    std::string file = line.substr(8, file_end - 8);
    std::size_t in_pos = line.find(" in ", file_end);
    int number = std::atoi(line.c_str() + file_end + 8);
    std::string function = in_pos == std::string::npos ? "?" : line.substr(in_pos + 4);
    if ((*current)[key::kPythonFrames].size() < 64)
      (*current)[key::kPythonFrames].push_back(
          json{{key::kFunction, function}, {key::kFile, file}, {key::kLine, number}});
  }
  return threads;
}

json harness_finding(const std::string& kind, const std::string& summary, const std::string& detail, json threads) {
  return json{{key::kKind, kind},
              {key::kSummary, summary},
              {key::kDetail, detail},
              {key::kLocks, json::array()},
              {key::kThreads, threads.is_array() ? std::move(threads) : json::array()}};
}

json harness_results_document(int64_t pid, int64_t ppid, const std::vector<std::string>& argv, json findings) {
  return json{{key::kFormat, rf::kFormatName},
              {key::kVersion, rf::kVersion},
              {key::kReporter, rf::kReporterHarness},
              {key::kPid, pid},
              {key::kPpid, ppid},
              {key::kArgv, argv},
              {key::kState, rf::kStateExited},
              {key::kFindings, std::move(findings)}};
}

}  // namespace gilwatch::harness
