#include "symbolizer.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

namespace gilwatch::harness {

namespace {

SymbolizedFrame make_frame(const std::string& function, const std::string& location) {
  SymbolizedFrame f;
  f.function = function.empty() ? "??" : function;
  // "file:line" or "file:line (discriminator N)" or "??:0" / "??:?"
  std::string loc = location;
  auto paren = loc.find(" (discriminator");
  if (paren != std::string::npos) loc.resize(paren);
  auto colon = loc.rfind(':');
  if (colon != std::string::npos) {
    std::string file = loc.substr(0, colon);
    std::string line = loc.substr(colon + 1);
    if (file != "??") f.file = file;
    try {
      f.line = line == "?" ? 0 : std::stoi(line);
    } catch (...) {
      f.line = 0;
    }
  }
  return f;
}

}  // namespace

std::vector<std::vector<SymbolizedFrame>> parse_addr2line_output(const std::string& output,
                                                                 std::size_t expected) {
  std::vector<std::vector<SymbolizedFrame>> result;
  std::istringstream in(output);
  std::string line;
  std::vector<std::string> pending;
  auto flush = [&] {
    if (result.empty()) return;
    for (std::size_t i = 0; i + 1 < pending.size(); i += 2) result.back().push_back(make_frame(pending[i], pending[i + 1]));
    pending.clear();
  };
  while (std::getline(in, line)) {
    if (line.rfind("0x", 0) == 0 && line.find(' ') == std::string::npos) {
      flush();
      result.emplace_back();
      continue;
    }
    pending.push_back(line);
  }
  flush();
  result.resize(expected);
  for (auto& frames : result)
    if (frames.empty()) frames.push_back(SymbolizedFrame{"??", "", 0});
  return result;
}

std::vector<std::vector<SymbolizedFrame>> Addr2lineSymbolizer::symbolize(const std::string& module,
                                                                         const std::vector<uint64_t>& offsets) {
  std::vector<std::vector<SymbolizedFrame>> unknown(offsets.size(), {SymbolizedFrame{"??", "", 0}});
  if (offsets.empty() || !std::filesystem::exists(module)) return unknown;
  std::vector<std::string> args = {program_, "-C", "-f", "-i", "-a", "-e", module};
  for (uint64_t off : offsets) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(off));
    args.push_back(buf);
  }
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return unknown;
  pid_t pid = fork();
  if (pid < 0) {
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return unknown;
  }
  if (pid == 0) {
    dup2(pipe_fds[1], 1);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 2);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    unsetenv("LD_PRELOAD");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  std::string output;
  char buf[65536];
  ssize_t n;
  while ((n = read(pipe_fds[0], buf, sizeof(buf))) > 0) output.append(buf, std::size_t(n));
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return unknown;
  return parse_addr2line_output(output, offsets.size());
}

}  // namespace gilwatch::harness
