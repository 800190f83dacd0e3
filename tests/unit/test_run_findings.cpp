// `gilwatch run`'s own findings (harness/run/run_findings.h): which crash or hang the
// command adds when no process of CMD wrote one, and what it says.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "gilwatch/result_format.h"
#include "results_reader.h"
#include "run_findings.h"

using namespace gilwatch::harness;
namespace rf = gilwatch::result_format;
namespace fs = std::filesystem;

namespace {

int exited(int status) { return (status & 0xff) << 8; }
int killed_by(int sig) { return sig & 0x7f; }

RunEndFacts facts_of(int wait_status) {
  RunEndFacts f;
  f.pid = 4242;
  f.argv = {"/opt/bin/crash_segv", "--flag"};
  f.wait_status = wait_status;
  return f;
}

}  // namespace

TEST_CASE("fault signals are crashes; signals from outside are not", "[run][findings]") {
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS}) CHECK(is_crash_signal(sig));
  for (int sig : {SIGKILL, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, 0}) CHECK_FALSE(is_crash_signal(sig));
  CHECK(signal_name(SIGSEGV) == "SIGSEGV");
}

TEST_CASE("run adds a crash only when CMD died of a fault and wrote no crash finding", "[run][findings]") {
  RunEndFacts f = facts_of(killed_by(SIGSEGV));
  CHECK(run_finding_kind(f) == rf::kCrash);
  nlohmann::json finding = run_finding(f);
  std::string summary = finding[rf::key::kSummary];
  CHECK(finding[rf::key::kKind] == rf::kCrash);
  CHECK(summary.find("'crash_segv'") != std::string::npos);
  CHECK(summary.find("pid 4242") != std::string::npos);
  CHECK(summary.find("SIGSEGV") != std::string::npos);
  CHECK(finding[rf::key::kDetail] == "crash_segv: SIGSEGV");

  f.library_crash = true;  // the library's record, with the stacks, wins
  CHECK(run_finding_kind(f).empty());
  CHECK(run_finding(f).is_null());

  // No crash: a clean exit, a failing exit, a signal from outside.
  for (int status : {exited(0), exited(1), killed_by(SIGTERM), killed_by(SIGKILL), killed_by(SIGINT)})
    CHECK(run_finding_kind(facts_of(status)).empty());
}

TEST_CASE("run adds a hang at its timeout or on SIGTERM when no process wrote one", "[run][findings]") {
  RunEndFacts f = facts_of(killed_by(SIGKILL));
  f.timed_out = true;
  f.timeout_seconds = 3;
  CHECK(run_finding_kind(f) == rf::kHang);
  std::string summary = run_finding(f)[rf::key::kSummary];
  CHECK(summary.find("--timeout of 3 s") != std::string::npos);
  // A timeout's SIGKILL is no crash, and the library's hang report wins.
  f.library_hang = true;
  CHECK(run_finding_kind(f).empty());

  RunEndFacts t = facts_of(killed_by(SIGTERM));
  t.terminated = true;
  CHECK(run_finding_kind(t) == rf::kHang);
  summary = run_finding(t)[rf::key::kSummary].get<std::string>();
  CHECK(summary.find("SIGTERM") != std::string::npos);
  CHECK(run_finding(t)[rf::key::kDetail] == "crash_segv: SIGTERM");
}

TEST_CASE("run's finding is a harness results file the reader takes, and library records are found", "[run][findings]") {
  fs::path raw = fs::temp_directory_path() / ("gilwatch-unit-run-findings-" + std::to_string(getpid()));
  fs::remove_all(raw);
  fs::create_directories(raw);
  RunEndFacts f = facts_of(killed_by(SIGABRT));
  read_library_records(raw.string(), &f);
  CHECK_FALSE(f.library_crash);
  CHECK(write_run_finding(raw.string(), f) == rf::kCrash);
  std::vector<std::string> files = list_results_files(raw.string());
  REQUIRE(files.size() == 1);
  ProcessResults r;
  std::string error;
  REQUIRE(read_results_file(files[0], &r, &error));
  CHECK(r.reporter == rf::kReporterHarness);
  CHECK(r.process.pid == 4242);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].kind == rf::kCrash);
  // Its own file now says there is a crash record for the pid: a second look finds it.
  read_library_records(raw.string(), &f);
  CHECK(f.library_crash);
  CHECK(write_run_finding(raw.string(), f).empty());
  fs::remove_all(raw);
}
