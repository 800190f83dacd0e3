#pragma once

#include <string>
#include <vector>

#include "model.h"

namespace gilwatch::harness {

// Reads every results file under `dirs` into `report` (merging, symbolizing); unreadable
// files are recorded in report->errors and named on stderr. Returns the number of
// unreadable files.
int collect_results(const std::vector<std::string>& dirs, report::Report* report);

// Writes findings.json and report.html; returns false (after a message) on I/O errors.
bool write_outputs(const report::Report& report, const std::string& json_path, const std::string& html_path);

// "gilwatch: 2 findings (lock-order-inversion) -> DIR/report.html"
std::string summary_line(const report::Report& report, const std::string& html_path);

std::string utc_now_iso8601();

}  // namespace gilwatch::harness
