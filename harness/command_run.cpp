// `gilwatch run`: runs a command with libgilwatch.so preloaded, then merges what every
// process of it found.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "gilwatch/options.h"
#include "gilwatch/result_format.h"
#include "report_writer.h"
#include "text_report.h"

namespace gilwatch::harness {

namespace fs = std::filesystem;

namespace {

pid_t g_child = -1;

void forward_signal(int sig) {
  if (g_child > 0) kill(g_child, sig);
}

std::string find_library() {
  if (const char* env = getenv("GILWATCH_LIBRARY"); env && *env) return env;
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  return (self.parent_path().parent_path() / "lib" / "libgilwatch.so").string();
}

void remove_stale_results(const fs::path& raw) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(raw, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(result_format::kFilePrefix, 0) == 0) fs::remove(entry.path(), ec);
  }
}

}  // namespace

int command_run(const std::vector<std::string>& args) {
  // Everything after the first "--" is the command to run, untouched by option parsing.
  std::vector<std::string> own, command;
  auto dashdash = std::find(args.begin(), args.end(), "--");
  own.assign(args.begin(), dashdash);
  if (dashdash != args.end()) command.assign(dashdash + 1, args.end());

  CLI::App app{"Run CMD with libgilwatch.so preloaded (children too), then write DIR/findings.json and "
               "DIR/report.html and print the findings.",
               "gilwatch run"};
  const std::string usage = "Usage: gilwatch run [OPTIONS] -- CMD [ARGS...]";
  app.footer(usage);
  std::string out_dir = "gilwatch-out";
  int exitcode = 66;
  int stack_depth = 32;
  bool no_python_frames = false;
  int verbosity = 0;
  app.add_option("-o,--out", out_dir, "output directory (results in DIR/raw/)")->capture_default_str();
  app.add_option("--exitcode", exitcode,
                 "exit status when there were findings; 0 keeps CMD's status (GILWATCH_OPTIONS exitcode)")
      ->check(CLI::Range(0, 255))
      ->capture_default_str();
  app.add_option("--stack-depth", stack_depth, "native frames captured per edge (stack_depth)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_flag("--no-python-frames", no_python_frames, "do not capture Python frames (python_frames=0)");
  app.add_option("--verbosity", verbosity, "library chatter on stderr, 0..2 (verbosity)")
      ->check(CLI::Range(0, 2))
      ->capture_default_str();
  std::vector<std::string> reversed(own.rbegin(), own.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "gilwatch run: " << e.what() << "\n" << usage << "\n";
    return kExitUsage;
  }
  if (command.empty()) {
    std::cerr << "gilwatch run: no command given (put it after --)\n" << usage << "\n";
    return kExitUsage;
  }

  std::string library = find_library();
  if (library.empty() || !fs::exists(library)) {
    std::cerr << "gilwatch run: preload library not found at '" << library
              << "' (build it, or set GILWATCH_LIBRARY)\n";
    return kExitUsage;
  }
  fs::path out = fs::absolute(out_dir).lexically_normal();
  fs::path raw = out / "raw";
  if (raw.string().find(':') != std::string::npos) {
    std::cerr << "gilwatch run: --out path '" << out.string()
              << "' contains ':', which GILWATCH_OPTIONS cannot carry\n";
    return kExitUsage;
  }
  std::error_code ec;
  fs::create_directories(raw, ec);
  if (ec) {
    std::cerr << "gilwatch run: cannot create " << raw.string() << ": " << ec.message() << "\n";
    return kExitUsage;
  }
  remove_stale_results(raw);

  std::string options;
  if (const char* user = getenv("GILWATCH_OPTIONS"); user && *user) options = std::string(user) + ":";
  options += "out_dir=" + raw.string() + ":exitcode=" + std::to_string(exitcode) +
             ":stack_depth=" + std::to_string(stack_depth) + ":verbosity=" + std::to_string(verbosity);
  if (no_python_frames) options += ":python_frames=0";
  // The library's own unsymbolized stderr report would repeat what this command prints
  // symbolized after the run; keep it for --verbosity 1 and up.
  if (verbosity == 0) options += ":report_stderr=0";
  Options parsed;
  char error[256];
  if (!parse_options(options.c_str(), &parsed, error, sizeof(error))) {
    std::cerr << "gilwatch run: " << error << "\n";
    return kExitUsage;
  }
  std::string preload = library;
  if (const char* existing = getenv("LD_PRELOAD"); existing && *existing) preload += ":" + std::string(existing);

  pid_t child = fork();
  if (child < 0) {
    std::cerr << "gilwatch run: fork failed: " << std::strerror(errno) << "\n";
    return kExitUsage;
  }
  if (child == 0) {
    setenv("GILWATCH_OPTIONS", options.c_str(), 1);
    setenv("LD_PRELOAD", preload.c_str(), 1);
    std::vector<char*> argv;
    for (std::string& a : command) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    int err = errno;
    std::cerr << "gilwatch run: cannot run '" << command[0] << "': " << std::strerror(err) << "\n";
    _exit(err == ENOENT ? kExitCommandNotFound : 126);
  }
  g_child = child;
  struct sigaction forward{};
  forward.sa_handler = forward_signal;
  sigemptyset(&forward.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaction(sig, &forward, nullptr);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  int child_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

  report::Report report;
  report.command = command;
  report.has_exit_status = true;
  report.exit_status = child_status;
  report.date = utc_now_iso8601();
  int unreadable = collect_results({raw.string()}, &report);
  std::string html = (out / "report.html").string();
  bool written = write_outputs(report, (out / "findings.json").string(), html);
  std::cerr << report::render_text(report) << summary_line(report, html) << "\n";
  if (!written || unreadable) return kExitUsage;
  if (!report.findings.empty() && exitcode != 0) return exitcode;
  // The library already forces `exitcode` in processes with findings; with no merged
  // findings left, report the command's own status.
  return child_status;
}

}  // namespace gilwatch::harness
