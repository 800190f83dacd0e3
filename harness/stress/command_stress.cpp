// `gilwatch stress`: runs the scenarios of a TOML suite many times, each run in its own
// subprocess under the library, in parallel, and reports what the runs found, counted
// across runs ("seen in 37 of 200 runs").
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "commands.h"
#include "gilwatch/options.h"
#include "help_format.h"
#include "library_flags.h"
#include "output_lock.h"
#include "outputs.h"
#include "run_environment.h"
#include "run_plan.h"
#include "stress_runner.h"
#include "subcommand_args.h"
#include "suite.h"
#include "supervisor.h"
#include "text_report.h"
#include "triage.h"

extern char** environ;

namespace gilwatch::harness {

namespace fs = std::filesystem;

namespace {

constexpr const char* kUsage =
    "Usage: gilwatch stress SUITE.toml [-n RUNS] [-j JOBS] [--timeout SEC] [--seed S] [--shard I/N] [--out DIR]\n"
    "                       [--suppressions FILE]... [--baseline FILE] [--write-baseline FILE] [--show-suppressed]\n"
    "                       [--full-stacks]";

std::atomic<bool> g_stop{false};
int g_stop_pipe[2] = {-1, -1};

void on_stop_signal(int) {
  g_stop.store(true);
  // Never drained: a readable pipe wakes every run's wait at once.
  if (g_stop_pipe[1] >= 0) {
    char byte = 1;
    ssize_t ignored = write(g_stop_pipe[1], &byte, 1);
    (void)ignored;
  }
}

// The `gilwatch` Python package (pyhooks): GILWATCH_PYHOOKS, else the package the
// executable was installed into by pip (<site>/gilwatch/bin/gilwatch), else ../lib/python
// next to the executable (where the CMake build puts it).
std::string pyhooks_directory() {
  if (const char* env = std::getenv("GILWATCH_PYHOOKS"); env && *env) return fs::absolute(env).string();
  fs::path root = fs::path(self_executable()).parent_path().parent_path();
  // Installed by pip, the executable lives inside the package: <site>/gilwatch/bin.
  std::error_code ec;
  if (fs::exists(root / "driver.py", ec) && fs::exists(root / "__init__.py", ec))
    return root.parent_path().lexically_normal().string();
  return (root / "lib" / "python").lexically_normal().string();
}

// Whether `program` can be started: a path to an executable, or a name found in PATH.
bool can_execute(const std::string& program) {
  if (program.find('/') != std::string::npos) return access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (access(((dir.empty() ? "." : dir) + "/" + program).c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

// The previous outputs of DIR go at once, out of the way of the new ones: runs/ is renamed
// (DIR/.gilwatch-removing-PID, which nothing reads) and deleted by a thread of its own
// while the runs are made, rather than before the first. Deleting a file can take
// milliseconds (ext4 mounted with `discard`: about 3 ms per file and directory on this
// project's machines, 9 of them per run), and a DIR used again held the whole previous
// stress. A directory of that name left by a gilwatch that was killed goes too. The
// destructor waits for the deletion (before DIR's lock is released).
class PreviousOutputs {
 public:
  explicit PreviousOutputs(const fs::path& out) : out_(out) {}

  void set_aside() {
    std::error_code ec;
    for (const char* name : {"stress.json", "findings.json", "report.html"}) fs::remove(out_ / name, ec);
    fs::path runs = out_ / "runs";
    if (fs::exists(runs, ec)) {
      fs::rename(runs, out_ / (std::string(kRemovingPrefix) + std::to_string(getpid())), ec);
      if (ec) fs::remove_all(runs, ec);  // another file system's rules: delete it now, as before
    }
    // Signals go on to the main thread, as before there was this one.
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    remover_ = std::thread([out = out_] {
      std::error_code error;
      for (const auto& entry : fs::directory_iterator(out, error))
        if (entry.path().filename().string().rfind(kRemovingPrefix, 0) == 0) fs::remove_all(entry.path(), error);
    });
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  }

  ~PreviousOutputs() {
    if (remover_.joinable()) remover_.join();
  }

  PreviousOutputs(const PreviousOutputs&) = delete;
  PreviousOutputs& operator=(const PreviousOutputs&) = delete;

 private:
  static constexpr const char* kRemovingPrefix = ".gilwatch-removing-";
  fs::path out_;
  std::thread remover_;
};

void write_stress_record(const fs::path& out, const Suite& suite, uint64_t seed, const Shard& shard,
                         int runs_override, const std::vector<RunSpec>& plan, const StressResult& result,
                         const StressSettings& settings) {
  nlohmann::json scenarios = nlohmann::json::array();
  for (const Scenario& s : suite.scenarios)
    scenarios.push_back({{"name", s.name},
                         {"kind", kind_name(s.kind)},
                         {"variants", s.variants},
                         {"runs", runs_override > 0 ? runs_override : s.runs}});
  nlohmann::json j = {{"format", kStressRecordFormat},
                      {"version", kRunRecordVersion},
                      {"suite", fs::absolute(suite.path).string()},
                      {"seed", std::to_string(seed)},
                      {"working_directory", settings.working_directory},
                      {"python", settings.python_override},
                      {"perturb", settings.perturb_override},
                      {"shard", {{"index", shard.index + 1}, {"count", shard.count}}},
                      {"scenarios", scenarios},
                      {"runs_planned", plan.size()},
                      {"runs_made", result.records.size()},
                      {"interrupted", result.interrupted}};
  std::ofstream(out / "stress.json") << j.dump(2) << "\n";
}

}  // namespace

int command_stress(const std::vector<std::string>& args) {
  CLI::App app{"Runs every scenario of SUITE.toml RUNS times, each run in its own subprocess with\n"
               "libgilwatch.so preloaded and the gilwatch Python hooks loaded, JOBS at once, each under\n"
               "its timeout; then merges what the runs found into DIR/findings.json and DIR/report.html\n"
               "(\"seen in 37 of 200 runs\") and prints it. docs/stress.md describes the suite format.",
               "gilwatch stress"};
  use_subcommand_help(app, kUsage);
  app.footer(
      "A run that outlives its timeout is sent the library's hang signal (every process writes a\n"
      "`hang` finding with all its threads' stacks), then killed with its whole process group.\n"
      "A run that dies on a signal or prints \"Fatal Python error\" is a `crash`. Each run gets a\n"
      "seed derived from --seed, the scenario and the run index (not from the shard or -j), so a\n"
      "finding's recorded seed reproduces it. Ctrl-C stops the runs, kills them and reports what\n"
      "was done; if gilwatch is killed, even with SIGKILL, its runs and what they started are\n"
      "killed. One gilwatch at a time per DIR: another one's DIR is refused (status 2).\n"
      "Per-run records: DIR/runs/SCENARIO/INDEX/ (run.json, stdout.txt, stderr.txt, raw/).\n\n"
      "Suppressed findings (--suppressions, or suppressions=FILE in GILWATCH_OPTIONS) and\n"
      "findings the --baseline knows are listed apart and counted, but do not fail the stress;\n"
      "a run that crashed or hung still does.\n\n"
      "Exit status: 0 when every run was ok; the --exitcode value when there were findings or\n"
      "runs that were not ok; 130 when interrupted; 2 for usage errors, an invalid suite, a\n"
      "malformed suppressions or baseline file, or unreadable results.\n");
  std::string suite_path, out_dir = "gilwatch-out", seed_text, shard_text, python;
  int runs = 0, jobs = int(std::max(1u, std::thread::hardware_concurrency())), exitcode = 66,
      hang_signal = SIGRTMAX - 3;
  double timeout = 0;
  bool perturb = false, quiet = false;
  std::vector<std::string> only;
  app.add_option("SUITE.toml", suite_path, "the scenario suite")->required()->type_name("");
  CLI::Option* runs_option = app.add_option("-n,--runs", runs, "runs of each scenario (and variant), replacing the suite's `runs`")
                                 ->type_name("RUNS")
                                 ->check(CLI::Range(1, 1000000).description(""));
  app.add_option("-j,--jobs", jobs, "runs at once")->type_name("JOBS")->check(CLI::Range(1, 1024).description(""))
      ->capture_default_str();
  CLI::Option* timeout_option =
      app.add_option("--timeout", timeout, "seconds each run may take, replacing the suite's `timeout`")
          ->type_name("SEC")
          ->check(CLI::Range(0.1, 86400.0).description(""));
  app.add_option("--seed", seed_text, "base seed of every run's seed (default: the suite's `seed`, else 0)")
      ->type_name("S");
  app.add_option("--shard", shard_text,
                 "make only shard I of N (every N-th run; default: Bazel's TEST_SHARD_INDEX/TEST_TOTAL_SHARDS)")
      ->type_name("I/N");
  app.add_option("--out", out_dir, "output directory")->type_name("DIR")->capture_default_str();
  std::string sarif, junit;
  add_machine_output_options(app, &sarif, &junit);
  std::string docs_flag;
  add_docs_url_option(app, &docs_flag);
  app.add_option("--python", python, "interpreter for every scenario, replacing the suite's `python`")
      ->type_name("PATH");
  app.add_option("--scenario", only, "make only the named scenario (repeatable)")->type_name("NAME");
  std::vector<std::string> reruns;
  app.add_option("--rerun", reruns,
                 "make only this run, with the seed it had: LABEL#INDEX as findings name it "
                 "(\"tool-churn #3\", \"exit.sigint#0\"); repeatable; give the same --seed")
      ->type_name("LABEL#INDEX");
  app.add_flag("--perturb", perturb,
               "perturb every scenario: random short delays at lock and GIL operations, a tiny switch interval");
  app.add_option("--exitcode", exitcode, "exit status when there were findings or failed runs, 1..255")
      ->type_name("N")
      ->check(CLI::Range(1, 255).description(""))
      ->capture_default_str();
  LibraryFlags flags;  // out_dir is set per run
  add_library_flags(app, FlagCommand::Stress, &flags);
  // Not a flag of the option table: it is the signal the runner sends at a timeout, and
  // it adds hang_signal=N to a run's options only when N is not 0.
  app.add_option("--hang-signal", hang_signal,
                 "signal that asks a timed-out run for its stacks (hang_signal); 0: kill without asking")
      ->type_name("N")
      ->check(CLI::Range(0, SIGRTMAX).description(""))
      ->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "print only runs that were not ok, and the summary");
  TriageFlags triage_flags;
  add_triage_options(app, &triage_flags);
  bool full_stacks = false;
  add_full_stacks_option(app, &full_stacks);
  if (auto status = parse_subcommand_args(app, args, "stress", kUsage)) return *status;
  std::string docs, docs_error;
  if (!docs_url(docs_flag, std::getenv("GILWATCH_DOCS_URL"), &docs, &docs_error)) {
    std::cerr << "gilwatch stress: " << docs_error << "\n";
    return kExitUsage;
  }
  // Read before any run: a malformed file is a usage error, and nothing runs or is lost.
  Triage triage;
  std::string triage_error;
  if (!load_triage(triage_flags, suppressions_option(std::getenv("GILWATCH_OPTIONS")), &triage, &triage_error)) {
    std::cerr << "gilwatch stress: " << triage_error << "\n";
    return kExitUsage;
  }

  Suite suite;
  std::string error;
  if (!load_suite(suite_path, &suite, &error)) {
    std::cerr << "gilwatch stress: " << error << "\n";
    return kExitUsage;
  }
  if (!only.empty()) {
    std::vector<Scenario> kept;
    for (const std::string& name : only) {
      auto it = std::find_if(suite.scenarios.begin(), suite.scenarios.end(),
                             [&](const Scenario& s) { return s.name == name; });
      if (it == suite.scenarios.end()) {
        std::string names;
        for (const Scenario& s : suite.scenarios) names += (names.empty() ? "" : ", ") + s.name;
        std::cerr << "gilwatch stress: --scenario: no scenario '" << name << "' in " << suite_path
                  << " (it has: " << names << ")\n";
        return kExitUsage;
      }
      if (std::find_if(kept.begin(), kept.end(), [&](const Scenario& s) { return s.name == name; }) == kept.end())
        kept.push_back(*it);
    }
    suite.scenarios = std::move(kept);
  }

  uint64_t seed = suite.seed.value_or(0);
  if (!seed_text.empty()) {
    char* end = nullptr;
    errno = 0;
    unsigned long long value = std::strtoull(seed_text.c_str(), &end, 10);
    if (errno || !end || *end || seed_text[0] == '-') {
      std::cerr << "gilwatch stress: --seed: '" << seed_text << "' is not a non-negative integer\n" << kUsage << "\n";
      return kExitUsage;
    }
    seed = value;
  }
  Shard shard;
  if (!shard_text.empty()) {
    if (!parse_shard(shard_text, &shard, &error)) {
      std::cerr << "gilwatch stress: --shard: " << error << "\n" << kUsage << "\n";
      return kExitUsage;
    }
  } else if (!shard_from_bazel(std::getenv("TEST_SHARD_INDEX"), std::getenv("TEST_TOTAL_SHARDS"), &shard, &error) &&
             !error.empty()) {
    std::cerr << "gilwatch stress: " << error << "\n";
    return kExitUsage;
  }
  // Bazel asks sharded tests to say that they shard.
  if (const char* status_file = std::getenv("TEST_SHARD_STATUS_FILE"); status_file && *status_file)
    std::ofstream(status_file, std::ios::app);

  StressSettings settings;
  settings.library = library_path(std::getenv("GILWATCH_LIBRARY"), self_executable());
  if (!check_library(settings.library, &error)) {
    std::cerr << "gilwatch stress: " << error << "\n";
    return kExitUsage;
  }
  settings.pyhooks_dir = pyhooks_directory();
  if (!fs::exists(fs::path(settings.pyhooks_dir) / "gilwatch" / "driver.py")) {
    std::cerr << "gilwatch stress: the gilwatch Python package is not in " << settings.pyhooks_dir
              << " (set GILWATCH_PYHOOKS to the directory that holds gilwatch/driver.py)\n";
    return kExitUsage;
  }
  settings.python_override = python;
  for (const Scenario& s : suite.scenarios) {
    std::string interpreter = interpreter_for(suite, s, settings);
    if (!can_execute(interpreter)) {
      std::cerr << "gilwatch stress: " << s.where << ": scenario '" << s.name << "': cannot execute the interpreter '"
                << interpreter << "'\n";
      return kExitUsage;
    }
  }
  settings.jobs = jobs;
  if (timeout_option->count()) settings.timeout_override_s = timeout;
  settings.perturb_override = perturb;
  settings.hang_signal = hang_signal;
  settings.quiet = quiet;
  settings.progress_on_terminal = isatty(STDERR_FILENO);
  std::error_code ec;
  settings.working_directory = fs::current_path(ec).string();
  for (char** e = environ; *e; ++e) settings.environment.emplace_back(*e);

  fs::path out = fs::absolute(out_dir).lexically_normal();
  if (!path_fits_options((out / "runs").string())) {
    std::cerr << "gilwatch stress: the output directory '" << out.string()
              << "' contains ':', which GILWATCH_OPTIONS cannot carry; choose another --out\n";
    return kExitUsage;
  }
  fs::create_directories(out, ec);
  if (!fs::is_directory(out, ec)) {
    std::cerr << "gilwatch stress: cannot create " << out.string() << "\n";
    return kExitUsage;
  }
  // Held until the report is written; nothing in DIR is touched before.
  OutputDirectoryLock lock;
  if (!lock.acquire(out.string(), &error)) {
    std::cerr << "gilwatch stress: " << error << "; wait for it to end or choose another --out\n";
    return kExitUsage;
  }
  settings.out_dir = out.string();

  settings.library_options = compose_options(std::getenv("GILWATCH_OPTIONS"), flags);
  // Checked once here, with the keys every run adds, rather than failing in every run.
  Options effective;
  char option_error[512];
  std::string probe = settings.library_options + ":out_dir=" + out.string() +
                      ":hang_signal=" + std::to_string(hang_signal) + ":perturb_us=200:seed=1";
  if (!parse_options(probe.c_str(), &effective, option_error, sizeof(option_error))) {
    std::cerr << "gilwatch stress: " << option_error << "\n";
    return kExitUsage;
  }

  std::vector<RunSpec> plan;
  if (reruns.empty()) {
    plan = plan_runs(suite, seed, runs_option->count() ? runs : 0, shard);
  } else {
    if (!shard_text.empty() || runs_option->count()) {
      std::cerr << "gilwatch stress: --rerun names its runs: it takes neither --shard nor -n\n" << kUsage << "\n";
      return kExitUsage;
    }
    // A run's seed depends on its scenario, variant and index only: plan enough runs of
    // every scenario to reach the largest index asked for, then keep those asked for.
    std::vector<std::pair<std::string, int>> wanted;
    int largest = 0;
    for (const std::string& text : reruns) {
      auto hash = text.rfind('#');
      std::string label = hash == std::string::npos ? "" : text.substr(0, hash);
      while (!label.empty() && label.back() == ' ') label.pop_back();
      std::string index = hash == std::string::npos ? "" : text.substr(hash + 1);
      if (label.empty() || index.empty() || index.size() > 7 ||
          index.find_first_not_of("0123456789") != std::string::npos) {
        std::cerr << "gilwatch stress: --rerun: '" << text << "' is not LABEL#INDEX (e.g. \"tool-churn#3\")\n";
        return kExitUsage;
      }
      wanted.emplace_back(label, std::stoi(index));
      largest = std::max(largest, wanted.back().second);
    }
    std::vector<RunSpec> everything = plan_runs(suite, seed, largest + 1, Shard{});
    for (const auto& [label, index] : wanted) {
      auto it = std::find_if(everything.begin(), everything.end(),
                             [&](const RunSpec& r) { return r.label(suite) == label && r.index == index; });
      if (it == everything.end()) {
        std::cerr << "gilwatch stress: --rerun: no run labelled '" << label << "' in " << suite_path
                  << " (labels are scenario names, and name.way for finalization scenarios)\n";
        return kExitUsage;
      }
      plan.push_back(*it);
    }
  }
  PreviousOutputs previous_outputs(out);
  previous_outputs.set_aside();
  std::cerr << "gilwatch stress: " << plan.size() << " run" << (plan.size() == 1 ? "" : "s") << " of "
            << suite.scenarios.size() << " scenario" << (suite.scenarios.size() == 1 ? "" : "s") << " from "
            << suite_path << ", seed " << seed
            << (shard.count > 1 ? ", shard " + std::to_string(shard.index + 1) + "/" + std::to_string(shard.count) : "")
            << ", " << jobs << " at once\n";

  if (pipe2(g_stop_pipe, O_CLOEXEC) != 0) g_stop_pipe[0] = g_stop_pipe[1] = -1;
  struct sigaction action {}, previous[3];
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  const int stop_signals[3] = {SIGINT, SIGTERM, SIGHUP};
  for (int i = 0; i < 3; ++i) sigaction(stop_signals[i], &action, &previous[i]);
  become_subreaper();

  StressResult result = run_stress(suite, plan, settings, g_stop, g_stop_pipe[0], std::cerr);
  int orphans = sweep_orphans();
  for (int i = 0; i < 3; ++i) sigaction(stop_signals[i], &previous[i], nullptr);
  if (orphans > 0)
    std::cerr << "gilwatch stress: killed " << orphans << " process" << (orphans == 1 ? "" : "es")
              << " that outlived their runs\n";
  result.interrupted = result.interrupted || g_stop.load();
  write_stress_record(out, suite, seed, shard, runs_option->count() ? runs : 0, plan, result, settings);

  report::Report report;
  report.inputs = {out.string()};
  report.date = utc_now_iso8601();
  DwflSymbolizer symbolizer;
  CollectCounts counts = collect_results({out.string()}, symbolizer, &report, std::cerr);
  apply_triage(triage, &report);
  std::string html = (out / "report.html").string();
  bool written = write_outputs(report, {(out / "findings.json").string(), html, sarif, junit, docs, full_stacks}, std::cerr);
  written &= write_baseline_if_asked(triage_flags, report, std::cerr);
  if (!quiet) std::cerr << report::render_text(report, {full_stacks});
  if (triage_flags.show_suppressed) std::cerr << report::set_aside_text(report, {full_stacks});
  std::cerr << report::summary_line(report, html) << "\n";

  if (result.interrupted) return 130;
  if (!written || counts.unreadable > 0) return kExitUsage;
  // With suppressions or a baseline, a run whose outcome is "findings" is judged by its
  // findings, which may all have been set aside; a run that crashed, hung or could not
  // start fails the stress either way.
  bool triaged = !triage.rules.empty() || triage.baseline;
  bool all_ok = std::all_of(result.records.begin(), result.records.end(), [&](const RunRecord& r) {
    return r.outcome == kOutcomeOk || (triaged && r.outcome == kOutcomeFindings);
  });
  return (!report.findings.empty() || !all_ok) ? exitcode : 0;
}

}  // namespace gilwatch::harness
