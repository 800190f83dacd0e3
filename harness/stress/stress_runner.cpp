#include "stress_runner.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "gilwatch/result_format.h"
#include "child_process.h"
#include "harness_results.h"
#include "results_reader.h"
#include "run_environment.h"

namespace gilwatch::harness {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string signal_name(int sig) {
  const char* abbreviation = sigabbrev_np(sig);
  return abbreviation ? std::string("SIG") + abbreviation : "signal " + std::to_string(sig);
}

// Status a finalization way ends the interpreter with, when all goes well.
int expected_status(const RunObservation& o) {
  if (o.kind == ScenarioKind::kScript) return o.expect_status;
  if (o.kind == ScenarioKind::kFinalization) {
    if (o.variant == "sys-exit") return 3;
    if (o.variant == "exception") return 1;
  }
  return 0;
}

bool write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return bool(out);
}

std::string read_tail(const fs::path& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  std::streamoff start = size > std::streamoff(max_bytes) ? size - std::streamoff(max_bytes) : 0;
  in.seekg(start);
  std::string text(std::size_t(size - start), '\0');
  in.read(text.data(), std::streamsize(text.size()));
  return text;
}

// The harness's own findings of a run (crash, hang), as a results file of reporter
// "harness" next to what the run's processes wrote.
void write_harness_finding(const fs::path& raw, const RunRecord& record, const RunClassification& c,
                           const std::string& stderr_tail) {
  std::string label = record.run.variant.empty() ? record.run.scenario : record.run.scenario + "." + record.run.variant;
  json finding;
  if (c.harness_finding == result_format::kCrash) {
    // Signature material: where, and how — the same crash in every run merges into one.
    finding = harness_finding(c.harness_finding, "crash in " + label + ": " + c.reason,
                              label + ": " + (record.signal ? signal_name(*record.signal) : std::string("fatal error")),
                              faulthandler_threads(stderr_tail));
  } else {
    finding = harness_finding(c.harness_finding, "hang in " + label + ": " + c.reason, label + ": timeout", json::array());
  }
  json document = harness_results_document(record.pid, int64_t(getpid()), record.argv, json::array({finding}));
  write_text(raw / fmt::format("gilwatch.{}.harness.json", record.pid), document.dump(2) + "\n");
}

struct RawSummary {
  int findings = 0;
  bool hang_report = false;
  bool crash_report = false;
};

RawSummary summarize_raw(const fs::path& raw) {
  RawSummary s;
  for (const std::string& file : list_results_files(raw.string())) {
    ProcessResults r;
    std::string error;
    if (!read_results_file(file, &r, &error)) continue;  // `gilwatch report` names it later
    for (const RawFinding& f : r.findings) {
      ++s.findings;
      if (f.kind == result_format::kHang) s.hang_report = true;
      if (f.kind == result_format::kCrash) s.crash_report = true;
    }
  }
  return s;
}

std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  return line.size() > 300 ? line.substr(0, 300) + "..." : line;
}

// Progress on stderr: a line per run, or one rewritten line on a terminal.
class Progress {
 public:
  Progress(std::ostream& log, int total, const StressSettings& settings)
      : log_(log), total_(total), settings_(settings), start_(std::chrono::steady_clock::now()) {}

  void finished(const RunRecord& r) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++done_;
    if (r.outcome != kOutcomeOk && r.outcome != kOutcomeInterrupted) ++failed_;
    bool notable = r.outcome != kOutcomeOk;
    std::string line = fmt::format("[{}/{}] {}: {}{} ({:.1f} s)", done_, total_, r.run.label(), r.outcome,
                                   r.reason.empty() ? "" : " - " + r.reason, double(r.duration_ms) / 1000.0);
    if (settings_.progress_on_terminal) {
      if (notable) log_ << "\r\033[K" << line << "\n";
      log_ << "\r\033[K" << status() << std::flush;
    } else if (notable || !settings_.quiet) {
      log_ << "gilwatch stress: " << line << "\n" << std::flush;
    }
  }

  void end() {
    if (settings_.progress_on_terminal) log_ << "\r\033[K" << std::flush;
  }

 private:
  std::string status() const {
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    double eta = done_ ? elapsed / done_ * (total_ - done_) : 0;
    int seconds = int(eta + 0.5);
    return fmt::format("gilwatch stress: {}/{} runs, {} not ok, ETA {}:{:02d}", done_, total_, failed_, seconds / 60,
                       seconds % 60);
  }

  std::ostream& log_;
  int total_;
  const StressSettings& settings_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mutex_;
  int done_ = 0, failed_ = 0;
};

// What each run executes with `python -X faulthandler -c`: the driver (gilwatch.driver),
// as `-m gilwatch.driver` would run it but without `-m`'s import of runpy (with it
// importlib.util, contextlib, collections, functools: about 14 million instructions, a
// third of a bare interpreter's start-up). The gilwatch package is imported with
// bytecode writing on, so the first run caches it in the package's __pycache__ and later
// runs load it rather than compile it (runs set PYTHONDONTWRITEBYTECODE for the code
// under test, which stays so: the flag is restored before the scenario runs).
constexpr const char* kDriverBootstrap =
    "import sys;b=sys.dont_write_bytecode;sys.dont_write_bytecode=0;import gilwatch.driver as d;"
    "sys.dont_write_bytecode=b;sys.exit(d.main())";

std::string options_for_run(const StressSettings& settings, const fs::path& raw, const Scenario& scenario,
                            const RunSpec& spec) {
  // The harness classifies a run's crash itself (its finding names the scenario, so the
  // same crash merges across runs, and carries faulthandler's stacks of every thread);
  // the library's crash report stays off unless the user's options turn it on.
  std::string options = "crash_report=0";
  if (!settings.library_options.empty()) options += ":" + settings.library_options;
  auto add = [&](const std::string& entry) { options += (options.empty() ? "" : ":") + entry; };
  add("out_dir=" + raw.string());
  // The run's own status is what the harness judges; findings are read from the files.
  add("exitcode=0");
  if (settings.hang_signal > 0) add("hang_signal=" + std::to_string(settings.hang_signal));
  if (scenario.perturb || settings.perturb_override) {
    add("perturb_us=200");
    add("seed=" + std::to_string(spec.seed));
  }
  return options;
}

RunRecord make_run(const Suite& suite, const RunSpec& spec, const StressSettings& settings,
                   const std::atomic<bool>& stop, int stop_fd) {
  const Scenario& scenario = suite.scenarios[spec.scenario];
  RunRecord record;
  record.run = {scenario.name, spec.variant, spec.index, spec.seed};
  record.kind = kind_name(scenario.kind);
  fs::path dir = fs::path(settings.out_dir) / "runs" / spec.label(suite) / std::to_string(spec.index);
  fs::path raw = dir / "raw";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(raw, ec);
  if (ec) {
    record.outcome = kOutcomeError;
    record.reason = "cannot create " + raw.string() + ": " + ec.message();
    return record;
  }
  bool perturb = scenario.perturb || settings.perturb_override;
  json spec_json = {{"scenario", scenario.name},
                    {"kind", kind_name(scenario.kind)},
                    {"variant", spec.variant},
                    {"index", spec.index},
                    {"seed", std::to_string(spec.seed)},
                    {"perturb", perturb},
                    {"params", scenario.params},
                    {"raw_dir", raw.string()},
                    {"result", (dir / "result.json").string()}};
  write_text(dir / "spec.json", spec_json.dump(2) + "\n");

  // The scenario's env replaces gilwatch's variables of the same names; the pyhooks
  // package comes first on PYTHONPATH either way.
  std::vector<std::pair<std::string, std::string>> variables;
  std::string pythonpath;
  for (const auto& [name, value] : scenario.env)
    if (name == "PYTHONPATH")
      pythonpath = value;
    else
      variables.emplace_back(name, value);
  if (pythonpath.empty())
    for (const std::string& e : settings.environment)
      if (e.rfind("PYTHONPATH=", 0) == 0) pythonpath = e.substr(11);
  variables.emplace_back("PYTHONPATH", settings.pyhooks_dir + (pythonpath.empty() ? "" : ":" + pythonpath));
  std::string preload;
  for (const std::string& e : settings.environment)
    if (e.rfind("LD_PRELOAD=", 0) == 0) preload = e.substr(11);
  variables.emplace_back("LD_PRELOAD", compose_preload(settings.library, preload.empty() ? nullptr : preload.c_str()));
  variables.emplace_back("GILWATCH_OPTIONS", options_for_run(settings, raw, scenario, spec));
  // Python's hash randomization follows the run's seed, so a run repeats exactly.
  variables.emplace_back("PYTHONHASHSEED", std::to_string(spec.seed % 4294967295ull));
  variables.emplace_back("PYTHONDONTWRITEBYTECODE", "1");

  SupervisedCommand command;
  command.argv = {interpreter_for(suite, scenario, settings), "-X", "faulthandler", "-c", kDriverBootstrap,
                  (dir / "spec.json").string()};
  command.environment = with_variables(settings.environment, variables);
  command.working_directory = settings.working_directory;
  command.stdin_path = "/dev/null";
  command.stdout_path = (dir / "stdout.txt").string();
  command.stderr_path = (dir / "stderr.txt").string();
  // Its own group (so it can be killed as one, and a terminal's Ctrl-C reaches only
  // gilwatch), default dispositions for what gilwatch catches, nothing blocked, and what
  // it leaves running killed at once.
  command.own_process_group = true;
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD}) sigaddset(&defaults, s);
  command.default_signals = &defaults;
  command.leftover_grace = std::chrono::milliseconds(0);
  record.argv = command.argv;

  SupervisionLimits limits;
  double timeout_s = settings.timeout_override_s.value_or(scenario.timeout_s);
  limits.timeout = std::chrono::milliseconds(int64_t(timeout_s * 1000.0));
  limits.hang_signal = settings.hang_signal;
  limits.hang_grace = settings.hang_grace;
  limits.stop = &stop;
  limits.stop_fd = stop_fd;
  ChildOutcome outcome = run_supervised(command, limits);

  record.pid = outcome.pid;
  record.timed_out = outcome.timed_out;
  record.duration_ms = outcome.duration.count();
  if (outcome.started) {
    if (WIFEXITED(outcome.wait_status)) record.exit_status = WEXITSTATUS(outcome.wait_status);
    if (WIFSIGNALED(outcome.wait_status)) record.signal = WTERMSIG(outcome.wait_status);
  }

  RunObservation o;
  o.kind = scenario.kind;
  o.variant = spec.variant;
  if (scenario.params.contains("expect_status")) o.expect_status = scenario.params["expect_status"].get<int>();
  o.started = outcome.started;
  o.spawn_errno = outcome.exec_errno;
  o.wait_status = outcome.wait_status;
  o.timed_out = outcome.timed_out;
  o.interrupted = outcome.interrupted;
  std::string stderr_tail = read_tail(dir / "stderr.txt", 256 * 1024);
  o.fatal_error = fatal_error_line(stderr_tail);
  RawSummary raw_summary = summarize_raw(raw);
  o.findings = raw_summary.findings;
  o.library_hang_report = raw_summary.hang_report;
  o.library_crash_report = raw_summary.crash_report;
  std::string result_text, error;
  if (read_text_file((dir / "result.json").string(), &result_text, &error)) {
    json result = json::parse(result_text, nullptr, false);
    if (result.is_object() && result.contains("error") && result["error"].is_string())
      o.driver_error = first_line(result["error"].get<std::string>());
  }
  RunClassification c = classify_run(o);
  record.outcome = c.outcome;
  record.reason = c.reason;
  if (!c.harness_finding.empty()) write_harness_finding(raw, record, c, stderr_tail);
  write_text(dir / "run.json", render_run_record(record));
  return record;
}

}  // namespace

std::string fatal_error_line(const std::string& stderr_text) {
  std::size_t at = stderr_text.find("Fatal Python error: ");
  if (at == std::string::npos) return "";
  return first_line(stderr_text.substr(at));
}

RunClassification classify_run(const RunObservation& o) {
  RunClassification c;
  if (!o.started) {
    c.outcome = kOutcomeError;
    c.reason = std::string("cannot start the interpreter: ") + std::strerror(o.spawn_errno);
    return c;
  }
  if (o.interrupted) {
    c.outcome = kOutcomeInterrupted;
    c.reason = "stopped before it ended";
    return c;
  }
  if (o.timed_out) {
    c.outcome = kOutcomeHang;
    c.reason = "still running at its timeout; killed (its Python stacks are on its stderr)";
    if (!o.library_hang_report) c.harness_finding = result_format::kHang;
    return c;
  }
  if (WIFSIGNALED(o.wait_status)) {
    int sig = WTERMSIG(o.wait_status);
    // Python ends itself with SIGINT after an unhandled KeyboardInterrupt: that is the
    // `sigint` way going as planned.
    bool planned = o.kind == ScenarioKind::kFinalization && o.variant == "sigint" && sig == SIGINT;
    if (!planned) {
      c.outcome = kOutcomeCrash;
      c.reason = "ended by " + signal_name(sig) + " (" + strsignal(sig) + ")" +
                 (o.fatal_error.empty() ? "" : "; " + o.fatal_error);
      // The library's crash finding, with the faulting thread's stacks, wins.
      if (!o.library_crash_report) c.harness_finding = result_format::kCrash;
      return c;
    }
  }
  if (!o.fatal_error.empty()) {
    c.outcome = kOutcomeCrash;
    c.reason = o.fatal_error;
    if (!o.library_crash_report) c.harness_finding = result_format::kCrash;
    return c;
  }
  if (o.findings > 0) {
    c.outcome = kOutcomeFindings;
    c.reason = fmt::format("{} finding{}", o.findings, o.findings == 1 ? "" : "s");
    return c;
  }
  // Here the run either exited or was ended by the SIGINT its `sigint` way planned.
  if (WIFEXITED(o.wait_status)) {
    int status = WEXITSTATUS(o.wait_status);
    bool sigint_way = o.kind == ScenarioKind::kFinalization && o.variant == "sigint";
    if (status != expected_status(o) && !(sigint_way && status == 128 + SIGINT)) {
      c.outcome = kOutcomeError;
      c.reason = fmt::format("exit status {}, expected {}", status, expected_status(o)) +
                 (o.driver_error.empty() ? "" : ": " + o.driver_error);
      return c;
    }
  }
  if (!o.driver_error.empty() && o.kind != ScenarioKind::kFinalization) {
    c.outcome = kOutcomeError;
    c.reason = o.driver_error;
    return c;
  }
  c.outcome = kOutcomeOk;
  return c;
}

std::string interpreter_for(const Suite& suite, const Scenario& scenario, const StressSettings& settings) {
  if (!settings.python_override.empty()) return settings.python_override;
  if (!scenario.python.empty()) return scenario.python;
  if (!suite.python.empty()) return suite.python;
  return "python3";
}

StressResult run_stress(const Suite& suite, const std::vector<RunSpec>& plan, const StressSettings& settings,
                        const std::atomic<bool>& stop, int stop_fd, std::ostream& log) {
  StressResult result;
  std::vector<std::optional<RunRecord>> records(plan.size());
  std::vector<std::size_t> shared, exclusive;
  for (std::size_t i = 0; i < plan.size(); ++i)
    (suite.scenarios[plan[i].scenario].exclusive() ? exclusive : shared).push_back(i);

  Progress progress(log, int(plan.size()), settings);
  auto make = [&](std::size_t i) {
    if (stop.load()) return;
    RunRecord r = make_run(suite, plan[i], settings, stop, stop_fd);
    progress.finished(r);
    records[i] = std::move(r);
  };
  // Every worker blocks in a wait for its subprocess, so the arena's concurrency is the
  // number of runs at once.
  // oneTBB caps workers at the number of cores unless told otherwise; runs mostly wait,
  // so -j may well exceed the cores.
  int jobs = std::max(1, settings.jobs);
  tbb::global_control allow(tbb::global_control::max_allowed_parallelism, std::size_t(jobs));
  tbb::task_arena arena(jobs);
  arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, shared.size(), 1),
                      [&](const tbb::blocked_range<std::size_t>& range) {
                        for (std::size_t k = range.begin(); k != range.end(); ++k) make(shared[k]);
                      },
                      tbb::simple_partitioner());
  });
  for (std::size_t i : exclusive) make(i);
  progress.end();

  for (auto& r : records)
    if (r) result.records.push_back(std::move(*r));
  result.interrupted = stop.load() || std::any_of(result.records.begin(), result.records.end(), [](const RunRecord& r) {
                         return r.outcome == kOutcomeInterrupted;
                       });
  return result;
}

}  // namespace gilwatch::harness
