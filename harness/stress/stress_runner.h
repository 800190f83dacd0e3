// stress_runner: makes the runs of a stress plan — each in its own subprocess under the
// library, as many at once as --jobs, scheduled with oneTBB — and records how each ended.
//
// One run: write spec.json (what the scenario driver inside the subprocess does), start
// `PYTHON -X faulthandler -c <import gilwatch.driver, exit with its main()> spec.json`
// (kDriverBootstrap) in a process group of its own with libgilwatch.so preloaded, wait
// for it under the scenario's timeout (child_process.h), then classify it (classify_run)
// and write run.json. A crash or a
// hang becomes a finding of the harness's own, in a results file beside the library's,
// so `gilwatch report` merges everything the same way — also across shards.
//
// Runs that measure time (speedup) are made one at a time after the others, so that
// no other run competes with them for the cores.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "run_plan.h"
#include "run_record.h"
#include "suite.h"

namespace gilwatch::harness {

struct StressSettings {
  std::string out_dir;          // absolute
  std::string library;          // libgilwatch.so, absolute
  std::string pyhooks_dir;      // the directory holding the `gilwatch` Python package
  std::string python_override;  // --python: wins over the suite's interpreters
  int jobs = 1;
  std::optional<double> timeout_override_s;
  bool perturb_override = false;      // --perturb: every scenario perturbed
  std::string library_options;        // GILWATCH_OPTIONS for every run, without out_dir
  int hang_signal = 0;                // asked of the library at a timeout (0: none)
  std::chrono::milliseconds hang_grace{1000};
  std::vector<std::string> environment;  // gilwatch's own, NAME=value
  std::string working_directory;         // where runs start
  bool progress_on_terminal = false;     // a rewritten progress line instead of a line per run
  bool quiet = false;                    // no line per run (failures are still printed)
};

// The parts of a finished run that decide its outcome.
struct RunObservation {
  ScenarioKind kind = ScenarioKind::kScript;
  std::string variant;
  int expect_status = 0;        // script scenarios' expect_status
  bool started = true;
  int spawn_errno = 0;
  int wait_status = 0;
  bool timed_out = false;
  bool interrupted = false;
  std::string fatal_error;      // the "Fatal Python error: ..." line on stderr, if any
  int findings = 0;             // findings in the run's results files (library, pyhooks)
  bool library_hang_report = false;  // a `hang` finding among them
  bool library_crash_report = false; // a `crash` finding among them (the library's crash_report)
  std::string driver_error;     // the driver's own error (bad callable, exception), one line
};

struct RunClassification {
  std::string outcome;  // kOutcome* (run_record.h)
  std::string reason;
  // Findings the harness adds: "crash" or "hang" (empty: none).
  std::string harness_finding;
};

RunClassification classify_run(const RunObservation& observation);

// The "Fatal Python error: ..." line of a stderr text, or "".
std::string fatal_error_line(const std::string& stderr_text);

struct StressResult {
  std::vector<RunRecord> records;  // in plan order, runs that were made
  bool interrupted = false;
};

// Makes the runs of `plan`. `stop` (with `stop_fd` readable) abandons the remaining
// runs and kills the running ones; what was done is still returned.
StressResult run_stress(const Suite& suite, const std::vector<RunSpec>& plan, const StressSettings& settings,
                        const std::atomic<bool>& stop, int stop_fd, std::ostream& log);

// The interpreter of a scenario: --python, else the scenario's, else the suite's, else
// python3 (searched in PATH).
std::string interpreter_for(const Suite& suite, const Scenario& scenario, const StressSettings& settings);

}  // namespace gilwatch::harness
