#include "symbolizer.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <sstream>

extern char** environ;

namespace gilwatch::harness {

namespace {

bool is_address_line(const std::string& line) {
  return line.size() > 2 && line[0] == '0' && line[1] == 'x' &&
         line.find_first_not_of("0123456789abcdefABCDEF", 2) == std::string::npos;
}

// "file:line", "file:line (discriminator N)", "??:0", "??:?"
SymbolizedFrame make_frame(const std::string& function, std::string location) {
  SymbolizedFrame f;
  if (!function.empty() && function != "??") f.function = function;
  auto discriminator = location.find(" (discriminator");
  if (discriminator != std::string::npos) location.resize(discriminator);
  auto colon = location.rfind(':');
  std::string file = colon == std::string::npos ? location : location.substr(0, colon);
  if (file != "??") f.file = file;
  if (colon != std::string::npos) {
    std::string number = location.substr(colon + 1);
    if (!number.empty() && number.find_first_not_of("0123456789") == std::string::npos && number.size() < 10)
      f.line = std::stoi(number);
  }
  return f;
}

}  // namespace

std::vector<std::vector<SymbolizedFrame>> parse_addr2line_output(const std::string& output,
                                                                 std::size_t expected) {
  std::vector<std::vector<SymbolizedFrame>> result;
  std::vector<std::string> pending;
  auto flush = [&] {
    if (!result.empty())
      for (std::size_t i = 0; i + 1 < pending.size(); i += 2) result.back().push_back(make_frame(pending[i], pending[i + 1]));
    pending.clear();
  };
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // A demangled function name never looks like "0x" and hex digits alone, so address
    // lines are unambiguous.
    if (is_address_line(line)) {
      flush();
      result.emplace_back();
      continue;
    }
    pending.push_back(line);
  }
  flush();
  result.resize(expected);
  for (auto& frames : result)
    if (frames.empty()) frames.emplace_back();
  return result;
}

std::vector<std::vector<SymbolizedFrame>> Addr2lineSymbolizer::symbolize(const std::string& module,
                                                                         const std::vector<uint64_t>& offsets) {
  std::vector<std::vector<SymbolizedFrame>> unknown(offsets.size(), std::vector<SymbolizedFrame>(1));
  std::error_code ec;
  if (offsets.empty() || !std::filesystem::is_regular_file(module, ec)) return unknown;

  std::vector<std::string> args = {program_, "-C", "-f", "-i", "-a", "-e", module};
  for (uint64_t off : offsets) {
    char buf[24];
    std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(off));
    args.emplace_back(buf);
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // addr2line must not run with gilwatch preloaded (gilwatch itself might be, under a
  // test harness); its diagnostics about odd DWARF are noise here.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e)
    if (std::string(*e).rfind("LD_PRELOAD=", 0) != 0) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  int out_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return unknown;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    return unknown;
  }
  std::string output;
  char buf[65536];
  for (;;) {
    ssize_t n = read(out_pipe[0], buf, sizeof(buf));
    if (n > 0) {
      output.append(buf, std::size_t(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(out_pipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return unknown;
  return parse_addr2line_output(output, offsets.size());
}

}  // namespace gilwatch::harness
