// run_record: what `gilwatch stress` writes about each run (DIR/runs/LABEL/INDEX/run.json)
// and about the whole invocation (DIR/stress.json), and reads back when a report is
// built from stress output directories — also from several shards at once.
//
// A stress output directory:
//   DIR/stress.json                  the suite, seed, shard, scenarios, totals
//   DIR/runs/LABEL/INDEX/run.json    one run: its seed, command, outcome, exit status
//   DIR/runs/LABEL/INDEX/raw/        results files of its processes (library, pyhooks,
//                                    and the harness's own crash/hang findings)
//   DIR/runs/LABEL/INDEX/{spec.json,result.json,stdout.txt,stderr.txt}
//   DIR/findings.json, DIR/report.html
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model.h"
#include "text_file.h"

namespace gilwatch::harness {

inline constexpr const char* kRunRecordFormat = "gilwatch-run";
inline constexpr const char* kStressRecordFormat = "gilwatch-stress";
inline constexpr int kRunRecordVersion = 1;

// Outcomes, worst first.
inline constexpr const char* kOutcomeCrash = "crash";
inline constexpr const char* kOutcomeHang = "hang";
inline constexpr const char* kOutcomeFindings = "findings";
inline constexpr const char* kOutcomeError = "error";  // unexpected exit status, driver error
inline constexpr const char* kOutcomeInterrupted = "interrupted";
inline constexpr const char* kOutcomeOk = "ok";

// What run.json holds is the report model's Run (reports/model.h).
using RunRecord = report::Run;

std::string render_run_record(const RunRecord& record);
bool parse_run_record(const std::string& text, RunRecord* out, std::string* error);

// The run directories (DIR/runs/*/*) holding a run.json, in plan order
// (scenario label, then index).
std::vector<std::string> list_run_directories(const std::string& stress_dir);

// DIR/stress.json: how the invocation was made, and whether it was stopped before all
// its runs were made. False (with the reason) when it is missing or unreadable.
struct StressRecord {
  report::StressInvocation invocation;
  bool interrupted = false;
};
bool read_stress_record(const std::string& stress_dir, StressRecord* out, std::string* error);

// What the run's driver measured (DIR/result.json), if it wrote anything: teardown
// cycles, speedup throughputs. Missing or unreadable measurements leave `out` empty:
// they are extras for charts, never a reason to drop the run.
void read_measurements(const std::string& run_dir, report::Measurements* out);

// Whether DIR is a stress output directory (has DIR/runs).
bool is_stress_directory(const std::string& dir);

}  // namespace gilwatch::harness
