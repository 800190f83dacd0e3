// harness_results: the findings `gilwatch stress` makes itself (crash, hang), written as a
// per-process results file of reporter "harness" (format: gilwatch/result_format.h), next
// to what the run's processes wrote. It only writes what it is given: whether a run
// crashed or hung, and what its finding says, is decided by stress_runner.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gilwatch::harness {

// faulthandler's dump on stderr ("Current thread 0x... (most recent call first):" then
// '  File "x.py", line 3 in f' lines): the Python stacks of a crash, as finding threads.
nlohmann::json faulthandler_threads(const std::string& stderr_text);

// One finding of `kind` (result_format.h's list) with no locks.
nlohmann::json harness_finding(const std::string& kind, const std::string& summary, const std::string& detail,
                               nlohmann::json threads);

// The whole results document of a run's process `pid` (state "exited").
nlohmann::json harness_results_document(int64_t pid, int64_t ppid, const std::vector<std::string>& argv,
                                        nlohmann::json findings);

}  // namespace gilwatch::harness
