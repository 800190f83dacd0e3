// `gilwatch run`: runs a command with libgilwatch.so preloaded, then merges what every
// process of it found into DIR/findings.json and DIR/report.html and prints it.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "child_process.h"
#include "commands.h"
#include "subcommand_args.h"
#include "gilwatch/options.h"
#include "gilwatch/result_format.h"
#include "help_format.h"
#include "library_flags.h"
#include "output_lock.h"
#include "outputs.h"
#include "run_environment.h"
#include "run_findings.h"
#include "text_report.h"
#include "triage.h"

extern char** environ;

namespace gilwatch::harness {

namespace fs = std::filesystem;

namespace {

constexpr const char* kUsage = "Usage: gilwatch run [OPTIONS] -- CMD [ARGS...]";

// How long processes CMD left running get after SIGTERM before SIGKILL.
constexpr std::chrono::milliseconds kLeftoverGrace{2000};
// How long the processes of CMD get to write their hang reports (at --timeout, or on
// SIGTERM) before the group is killed or sent the SIGTERM.
constexpr std::chrono::milliseconds kHangGrace{1000};

// Results of an earlier run in the same directory would be merged into this one's.
void remove_stale_outputs(const fs::path& out, const fs::path& raw) {
  std::error_code ec;
  const std::string suffix = result_format::kFileSuffix;
  for (const auto& entry : fs::directory_iterator(raw, ec)) {
    // gilwatch.*.json, and gilwatch.*.json.tmp left by a process killed while writing.
    std::string name = entry.path().filename().string();
    if (name.starts_with(result_format::kFilePrefix) && (name.ends_with(suffix) || name.ends_with(suffix + ".tmp")))
      fs::remove(entry.path(), ec);
  }
  fs::remove(out / "findings.json", ec);
  fs::remove(out / "report.html", ec);
}

}  // namespace

int command_run(const std::vector<std::string>& args) {
  // Everything after the first "--" is the command, untouched by option parsing.
  auto dashdash = std::find(args.begin(), args.end(), "--");
  std::vector<std::string> own(args.begin(), dashdash);
  std::vector<std::string> command;
  if (dashdash != args.end()) command.assign(dashdash + 1, args.end());

  CLI::App app{"Runs CMD with libgilwatch.so preloaded (its children and grandchildren too).\n"
               "When CMD ends, merges what every process found into DIR/findings.json and\n"
               "DIR/report.html, and prints the findings on stderr.",
               "gilwatch run"};
  use_subcommand_help(app, kUsage);
  app.footer(
             "Each flag sets the GILWATCH_OPTIONS key in parentheses; keys in your own GILWATCH_OPTIONS\n"
             "are kept, and a flag given here wins over them. Before your keys, run sets\n"
             "report_stderr=0: it prints the findings itself, symbolized, when CMD ends. The library\n"
             "is ../lib/libgilwatch.so next to this executable, or $GILWATCH_LIBRARY.\n\n"
             "A deadlock (threads blocked in a wait-for cycle) is reported once its threads have been\n"
             "blocked --deadlock-ms; the deadlocked process then writes its results and exits with\n"
             "the --deadlock-exitcode status, unless --keep-deadlocked.\n\n"
             "Suppressed findings (--suppressions, or suppressions=FILE in GILWATCH_OPTIONS) and\n"
             "findings the --baseline knows are listed apart in the reports and counted in the\n"
             "summary, but do not count as findings for the exit status.\n\n"
             "The processes of CMD keep their own exit status (the library's exitcode=0, which run\n"
             "sets before your keys): a test suite that starts a subprocess sees that subprocess's\n"
             "status, not gilwatch's. --process-exitcode N (exitcode=N) makes every process that found\n"
             "something exit with N instead, as the sanitizers do.\n\n"
             "CMD's own process, when it crashes (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP,\n"
             "SIGSYS), writes a crash finding with the faulting thread's native and Python stacks and\n"
             "what the other threads wait for, then hands the signal on to what was there before (the default:\n"
             "it dies of the same signal, its exit status unchanged); a handler the program installs\n"
             "itself replaces gilwatch's (crash_report=0: none). If CMD died of such a signal and wrote no crash\n"
             "finding, run adds one (signal, pid, command). --timeout SEC, and a SIGTERM sent to\n"
             "gilwatch, first ask every process of CMD that runs the library for a hang finding\n"
             "(every thread's stack and what it waits for; hang_signal, which run sets to\n"
             "SIGRTMAX-3 before your keys, is sent only to processes that catch it), give them 1 s\n"
             "to write it, then kill CMD's processes (--timeout) or send them the SIGTERM; if none\n"
             "wrote one, run adds a hang finding itself.\n\n"
             "Exit status: the --deadlock-exitcode value when a process ended on a deadlock; else the\n"
             "--exitcode value when there were findings (a crash or a hang is one; with\n"
             "--exitcode-ignores-tests: findings that name no test); else CMD's own status (128+N if a\n"
             "signal N ended it, 137 after a --timeout); 2 for usage\n"
             "errors, a missing library, a malformed suppressions or baseline file (before CMD runs)\n"
             "or unreadable results (after writing what could be read); 127 if CMD was not found, 126\n"
             "if it could not be executed.\n"
             "SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to gilwatch go on to CMD's process group. When\n"
             "CMD ends, processes it left running are ended (SIGTERM, then SIGKILL after 2 s); if\n"
             "gilwatch is killed, even with SIGKILL, everything it started is killed. One gilwatch at\n"
             "a time per DIR: another one's DIR is refused (status 2).\n");
  app.allow_extras();
  std::string out_dir = "gilwatch-out";
  int exitcode = 66;
  app.add_option("--out", out_dir, "output directory; per-process results go to DIR/raw (out_dir)")
      ->type_name("DIR")
      ->capture_default_str();
  std::string sarif, junit;
  add_machine_output_options(app, &sarif, &junit);
  std::string docs_flag;
  add_docs_url_option(app, &docs_flag);
  app.add_option("--exitcode", exitcode, "run's exit status when there were findings, 0..255; 0 keeps CMD's own")
      ->type_name("N")
      ->check(CLI::Range(0, 255).description(""))
      ->capture_default_str();
  double timeout = 0;
  app.add_option("--timeout", timeout,
                 "seconds CMD may run; then every process of it writes a hang finding and is killed (0: no limit)")
      ->type_name("SEC")
      ->check(CLI::Range(0.0, 1e7).description(""));
  bool exitcode_ignores_tests = false;
  app.add_flag("--exitcode-ignores-tests", exitcode_ignores_tests,
               "findings that name a test (the pytest plugin's context) do not set run's exit status: the "
               "test runner reported them (pytest --gilwatch uses it)");
  LibraryFlags flags;
  add_library_flags(app, FlagCommand::Run, &flags);
  TriageFlags triage_flags;
  add_triage_options(app, &triage_flags);
  bool full_stacks = false;
  add_full_stacks_option(app, &full_stacks);
  if (auto status = parse_subcommand_args(app, own, "run", kUsage)) return *status;
  std::string docs, docs_error;
  if (!docs_url(docs_flag, std::getenv("GILWATCH_DOCS_URL"), &docs, &docs_error)) {
    std::cerr << "gilwatch run: " << docs_error << "\n";
    return kExitUsage;
  }
  std::vector<std::string> extras = app.remaining();
  if (!extras.empty()) {
    std::cerr << "gilwatch run: unexpected '" << extras.front() << "': the command to run goes after '--'\n"
              << kUsage << "\n";
    return kExitUsage;
  }
  if (command.empty()) {
    std::cerr << "gilwatch run: no command given (put it after '--')\n" << kUsage << "\n";
    return kExitUsage;
  }

  std::string library = library_path(std::getenv("GILWATCH_LIBRARY"), self_executable());
  std::string problem;
  if (!check_library(library, &problem)) {
    std::cerr << "gilwatch run: " << problem << "\n";
    return kExitUsage;
  }

  fs::path out = fs::absolute(out_dir).lexically_normal();
  fs::path raw = out / "raw";
  if (!path_fits_options(raw.string())) {
    std::cerr << "gilwatch run: the output directory '" << out.string()
              << "' contains ':', which GILWATCH_OPTIONS cannot carry; choose another --out\n";
    return kExitUsage;
  }
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec || !fs::is_directory(out)) {
    std::cerr << "gilwatch run: cannot create " << out.string() << ": " << (ec ? ec.message() : "not a directory")
              << "\n";
    return kExitUsage;
  }
  // Held until the report is written; nothing in DIR is touched before.
  OutputDirectoryLock lock;
  if (!lock.acquire(out.string(), &problem)) {
    std::cerr << "gilwatch run: " << problem << "; wait for it to end or choose another --out\n";
    return kExitUsage;
  }
  fs::create_directories(raw, ec);
  if (ec || !fs::is_directory(raw)) {
    std::cerr << "gilwatch run: cannot create " << raw.string() << ": " << (ec ? ec.message() : "not a directory")
              << "\n";
    return kExitUsage;
  }

  flags.out_dir = raw.string();
  // Before the user's keys, which may set exitcode=N again to restore the sanitizer habit.
  // hang_signal too: it serves --timeout and SIGTERM, and a crash report asks the other
  // threads for their stacks with it.
  const int hang_signal = SIGRTMAX - 3;
  // crash_report_run_pid: only CMD's own process reports a crash; one of its children
  // that crashes is CMD's to judge (CPython's own tests check that children abort).
  std::string user_options = "exitcode=0:hang_signal=" + std::to_string(hang_signal) +
                             ":crash_report_run_pid=" + std::to_string(getpid());
  if (const char* user = std::getenv("GILWATCH_OPTIONS")) user_options += std::string(":") + user;
  // Read before CMD runs: a malformed file is a usage error, and nothing runs or is lost.
  Triage triage;
  std::string triage_error;
  if (!load_triage(triage_flags, suppressions_option(user_options.c_str()), &triage, &triage_error)) {
    std::cerr << "gilwatch run: " << triage_error << "\n";
    return kExitUsage;
  }
  // Whether there were findings is decided here, after suppressions and the baseline: a
  // process whose only findings are suppressed or known must not exit with
  // --process-exitcode either, so the processes keep their own statuses (exitcode=0).
  if (!triage.rules.empty() || triage.baseline) flags.set("exitcode", "0");
  std::string options = compose_options(user_options.c_str(), flags);
  // The same parser as the library's: a bad key is reported here, once, not by every
  // process of the command.
  Options effective;
  char error[512];
  if (!parse_options(options.c_str(), &effective, error, sizeof(error))) {
    std::cerr << "gilwatch run: " << error << "\n";
    return kExitUsage;
  }
  std::string preload = compose_preload(library, std::getenv("LD_PRELOAD"));
  if (effective.verbosity >= 1)
    std::cerr << "gilwatch run: LD_PRELOAD=" << preload << "\ngilwatch run: GILWATCH_OPTIONS=" << options << "\n";

  remove_stale_outputs(out, raw);
  std::vector<std::string> environment;
  for (char** e = environ; *e; ++e) environment.emplace_back(*e);
  environment = with_variables(environment, {{"LD_PRELOAD", preload}, {"GILWATCH_OPTIONS", options}});

  // CMD stays in gilwatch's process group, so that a terminal's Ctrl-C and input reach it
  // as without gilwatch; it inherits gilwatch's signal mask and ignored signals, and what
  // it leaves running gets kLeftoverGrace after SIGTERM.
  SupervisedCommand child;
  child.argv = command;
  child.environment = environment;
  child.own_process_group = false;
  sigset_t inherited_mask;
  sigprocmask(SIG_SETMASK, nullptr, &inherited_mask);
  child.mask = &inherited_mask;
  child.leftover_grace = kLeftoverGrace;
  SupervisionLimits limits;
  limits.forward_signals = true;  // stopping gilwatch stops CMD, and the report is still written
  // The processes of CMD answer the signal their GILWATCH_OPTIONS name (the user's may
  // have changed it, or set 0: then no report is asked for, and run's own finding stands).
  limits.hang_signal = effective.hang_signal;
  limits.hang_grace = kHangGrace;
  limits.report_on_terminate = true;
  limits.timeout = std::chrono::milliseconds(int64_t(timeout * 1000));
  // A supervisor killed on its own would leave its orphans to us: sweep_orphans() ends them.
  become_subreaper();
  ChildOutcome outcome = run_supervised(child, limits);
  outcome.leftovers += sweep_orphans();
  if (!outcome.started) {
    std::cerr << "gilwatch run: cannot run '" << command.front() << "': " << std::strerror(outcome.exec_errno) << "\n";
    return outcome.exec_errno == ENOENT ? kExitCommandNotFound : kExitCannotExecute;
  }
  int child_status = exit_status_of(outcome.wait_status);
  if (WIFSIGNALED(outcome.wait_status) && !outcome.timed_out)
    std::cerr << "gilwatch run: '" << command.front() << "' was ended by signal " << WTERMSIG(outcome.wait_status)
              << " (" << strsignal(WTERMSIG(outcome.wait_status)) << ")\n";
  if (outcome.timed_out)
    std::cerr << "gilwatch run: '" << command.front() << "' was still running at --timeout " << timeout
              << " s; killed\n";
  if (outcome.leftovers > 0)
    std::cerr << "gilwatch run: ended " << outcome.leftovers << " process" << (outcome.leftovers == 1 ? "" : "es")
              << " that '" << command.front() << "' left running\n";

  // A crash or hang the processes could not report themselves becomes run's own finding.
  RunEndFacts facts;
  facts.pid = outcome.pid;
  facts.argv = command;
  facts.wait_status = outcome.wait_status;
  facts.timed_out = outcome.timed_out;
  facts.timeout_seconds = timeout;
  facts.terminated = outcome.terminated;
  read_library_records(raw.string(), &facts);
  write_run_finding(raw.string(), facts);

  report::Report report;
  report.command = command;
  report.exit_status = child_status;
  report.date = utc_now_iso8601();
  DwflSymbolizer symbolizer;
  CollectCounts counts = collect_results({raw.string()}, symbolizer, &report, std::cerr);
  // The library writes at each finding and at exit; a command killed by a signal before
  // either is no sign of a library that was not loaded.
  if (counts.files == 0 && !WIFSIGNALED(outcome.wait_status))
    std::cerr << "gilwatch run: warning: no process wrote results to " << raw.string()
              << "; was the library loaded? (static and setuid programs ignore LD_PRELOAD, and some programs "
                 "clear the environment of their children)\n";
  // Suppressed and known findings are set aside here, after symbolization: they are
  // listed in the reports and counted in the summary, but not in the exit status.
  apply_triage(triage, &report);
  std::string html = (out / "report.html").string();
  bool written = write_outputs(report, {(out / "findings.json").string(), html, sarif, junit, docs, full_stacks}, std::cerr);
  written &= write_baseline_if_asked(triage_flags, report, std::cerr);
  std::cerr << report::render_text(report, {full_stacks});
  if (triage_flags.show_suppressed) std::cerr << report::set_aside_text(report, {full_stacks});
  std::cerr << report::summary_line(report, html) << "\n";

  if (!written || counts.unreadable > 0) return kExitUsage;
  // A process that ended on a deadlock exited with deadlock_exitcode: keep that status,
  // it says more than "there were findings".
  bool deadlocked = effective.deadlock_exitcode != 0 &&
                    std::any_of(report.processes.begin(), report.processes.end(), [&](const report::Process& p) {
                      return p.exit_status && *p.exit_status == effective.deadlock_exitcode;
                    }) &&
                    std::any_of(report.findings.begin(), report.findings.end(),
                                [](const report::Finding& f) { return f.kind == result_format::kDeadlock; });
  if (deadlocked) return effective.deadlock_exitcode;
  bool counted = std::any_of(report.findings.begin(), report.findings.end(), [&](const report::Finding& f) {
    return !exitcode_ignores_tests || f.contexts.empty();
  });
  if (counted && exitcode != 0) return exitcode;
  return child_status;
}

}  // namespace gilwatch::harness
