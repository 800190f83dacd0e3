#include "run_findings.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>

#include "gilwatch/result_format.h"
#include "harness_results.h"
#include "results_reader.h"

namespace gilwatch::harness {

using nlohmann::json;

bool is_crash_signal(int sig) {
  switch (sig) {
    case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGABRT: case SIGTRAP: case SIGSYS:
      return true;
    default:
      return false;
  }
}

std::string signal_name(int sig) {
  const char* abbreviation = sigabbrev_np(sig);
  return abbreviation ? std::string("SIG") + abbreviation : "signal " + std::to_string(sig);
}

namespace {

std::string program_of(const RunEndFacts& f) {
  if (f.argv.empty()) return "the command";
  return std::filesystem::path(f.argv.front()).filename().string();
}

std::string seconds_text(double s) {
  if (s == std::floor(s)) return fmt::format("{}", int64_t(s));
  return fmt::format("{}", s);
}

}  // namespace

std::string run_finding_kind(const RunEndFacts& f) {
  if (f.timed_out || f.terminated) return f.library_hang ? "" : result_format::kHang;
  if (WIFSIGNALED(f.wait_status) && is_crash_signal(WTERMSIG(f.wait_status)) && !f.library_crash)
    return result_format::kCrash;
  return "";
}

json run_finding(const RunEndFacts& f) {
  std::string kind = run_finding_kind(f);
  if (kind.empty()) return nullptr;
  std::string program = program_of(f);
  if (kind == result_format::kCrash) {
    int sig = WTERMSIG(f.wait_status);
    // Signature material: the program and the signal, so the same crash merges.
    return harness_finding(kind,
                           fmt::format("crash: '{}' (pid {}) was ended by {} ({}); no process wrote its stacks",
                                       program, f.pid, signal_name(sig), strsignal(sig)),
                           fmt::format("{}: {}", program, signal_name(sig)), json::array());
  }
  std::string why = f.timed_out ? fmt::format("still running at run's --timeout of {} s", seconds_text(f.timeout_seconds))
                                : std::string("still running when gilwatch was sent SIGTERM");
  return harness_finding(kind,
                         fmt::format("hang: '{}' (pid {}) was {}; no process wrote its stacks", program, f.pid, why),
                         fmt::format("{}: {}", program, f.timed_out ? "timeout" : "SIGTERM"), json::array());
}

void read_library_records(const std::string& raw, RunEndFacts* facts) {
  for (const std::string& file : list_results_files(raw)) {
    ProcessResults r;
    std::string error;
    if (!read_results_file(file, &r, &error)) continue;  // collect_results names it
    for (const RawFinding& finding : r.findings) {
      if (finding.kind == result_format::kHang) facts->library_hang = true;
      if (finding.kind == result_format::kCrash && r.process.pid == facts->pid) facts->library_crash = true;
    }
  }
}

std::string write_run_finding(const std::string& raw, const RunEndFacts& facts) {
  json finding = run_finding(facts);
  if (finding.is_null()) return "";
  json document = harness_results_document(facts.pid, int64_t(getpid()), facts.argv, json::array({finding}));
  std::ofstream out(std::filesystem::path(raw) / fmt::format("gilwatch.{}.harness.json", facts.pid),
                    std::ios::binary | std::ios::trunc);
  out << document.dump(2) << "\n";
  return out ? run_finding_kind(facts) : "";
}

}  // namespace gilwatch::harness
