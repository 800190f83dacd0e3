// The supervisor (harness/run/supervisor.h), the one start/wait path of `run` and `stress`
// on top of it (harness/run/child_process.h) and the output directory lock
// (harness/run/output_lock.h), on real processes.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "child_process.h"
#include "output_lock.h"
#include "supervisor.h"

using namespace gilwatch::harness;
namespace fs = std::filesystem;

namespace {

fs::path fresh_directory(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("gilwatch-unit-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

SupervisedCommand shell(const std::string& script, bool own_group) {
  SupervisedCommand c;
  c.argv = {"/bin/sh", "-c", script};
  c.environment = {"PATH=/usr/bin:/bin"};
  c.own_process_group = own_group;
  c.leftover_grace = std::chrono::milliseconds(500);
  return c;
}

bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

}  // namespace

TEST_CASE("a supervised command keeps its status and leaves nothing", "[supervisor]") {
  Supervised s;
  int error = 0;
  REQUIRE(start_supervised(shell("exit 7", false), &s, &error));
  CHECK(s.exec_errno == 0);
  SupervisedEnd end = finish_supervised(&s);
  CHECK(WIFEXITED(end.wait_status));
  CHECK(WEXITSTATUS(end.wait_status) == 7);
  CHECK(end.leftovers == 0);
}

TEST_CASE("what a supervised command leaves running is ended and counted", "[supervisor]") {
  fs::path dir = fresh_directory("leftovers");
  std::string pids = (dir / "pids").string();
  // A background sleep in the group, and one that left it (setsid), each noting its pid.
  Supervised s;
  int error = 0;
  REQUIRE(start_supervised(shell("sh -c 'echo $$ >> " + pids + "; exec sleep 600' & "
                                 "setsid sh -c 'echo $$ >> " + pids + "; exec sleep 600' & "
                                 "while [ $(wc -l < " + pids + " 2>/dev/null || echo 0) -lt 2 ]; do sleep 0.01; done",
                                 false),
                           &s, &error));
  SupervisedEnd end = finish_supervised(&s);
  CHECK(WIFEXITED(end.wait_status));
  CHECK(WEXITSTATUS(end.wait_status) == 0);
  CHECK(end.leftovers == 2);
  std::ifstream in(pids);
  pid_t pid;
  int count = 0;
  while (in >> pid) {
    ++count;
    CHECK_FALSE(alive(pid));
  }
  CHECK(count == 2);
  fs::remove_all(dir);
}

TEST_CASE("a signal asked of the supervisor reaches the command's group", "[supervisor]") {
  Supervised s;
  int error = 0;
  REQUIRE(start_supervised(shell("exec sleep 600", true), &s, &error));
  signal_supervised(s, SIGTERM);
  SupervisedEnd end = finish_supervised(&s);
  CHECK(WIFSIGNALED(end.wait_status));
  CHECK(WTERMSIG(end.wait_status) == SIGTERM);
}

TEST_CASE("a command that cannot be executed is reported with its errno", "[supervisor]") {
  SupervisedCommand c;
  c.argv = {"/nonexistent/program"};
  Supervised s;
  int error = 0;
  REQUIRE(start_supervised(c, &s, &error));
  CHECK(s.exec_errno == ENOENT);
  finish_supervised(&s);
}

TEST_CASE("a supervised run without limits ends with the command's status", "[child_process]") {
  ChildOutcome outcome = run_supervised(shell("exit 5", true), SupervisionLimits{});
  CHECK(outcome.started);
  CHECK(outcome.exec_errno == 0);
  CHECK(outcome.pid > 0);
  CHECK(WIFEXITED(outcome.wait_status));
  CHECK(WEXITSTATUS(outcome.wait_status) == 5);
  CHECK_FALSE(outcome.timed_out);
  CHECK_FALSE(outcome.interrupted);
}

TEST_CASE("a supervised run that outlives its timeout gets the hang signal, then SIGKILL", "[child_process]") {
  fs::path dir = fresh_directory("timeout");
  std::string asked = (dir / "asked").string();
  SupervisionLimits limits;
  limits.timeout = std::chrono::milliseconds(200);
  limits.hang_signal = SIGUSR2;
  limits.hang_grace = std::chrono::milliseconds(5000);
  SECTION("the report is written in the grace: the run ends by itself") {
    // The shell writes its "report" on the hang signal and exits.
    ChildOutcome outcome =
        run_supervised(shell("trap 'echo hang > " + asked + "; exit 3' USR2; while :; do sleep 0.05; done", true),
                       limits);
    CHECK(outcome.started);
    CHECK(outcome.timed_out);
    CHECK_FALSE(outcome.interrupted);
    CHECK(WIFEXITED(outcome.wait_status));
    CHECK(WEXITSTATUS(outcome.wait_status) == 3);
    CHECK(fs::exists(asked));
  }
  SECTION("a run that ignores the hang signal is killed at the end of the grace") {
    limits.hang_grace = std::chrono::milliseconds(100);
    ChildOutcome outcome = run_supervised(shell("trap '' USR2; while :; do sleep 0.05; done", true), limits);
    CHECK(outcome.timed_out);
    CHECK(WIFSIGNALED(outcome.wait_status));
    CHECK(WTERMSIG(outcome.wait_status) == SIGKILL);
  }
  SECTION("without a hang signal it is killed at once") {
    limits.hang_signal = 0;
    ChildOutcome outcome = run_supervised(shell("trap 'touch " + asked + "' USR2; exec sleep 600", true), limits);
    CHECK(outcome.timed_out);
    CHECK(WIFSIGNALED(outcome.wait_status));
    CHECK(WTERMSIG(outcome.wait_status) == SIGKILL);
    CHECK_FALSE(fs::exists(asked));
  }
  fs::remove_all(dir);
}

TEST_CASE("a supervised run is abandoned when its stop flag is set", "[child_process]") {
  int stop_pipe[2];
  REQUIRE(pipe(stop_pipe) == 0);
  std::atomic<bool> stop{true};
  REQUIRE(write(stop_pipe[1], "x", 1) == 1);
  SupervisionLimits limits;
  limits.timeout = std::chrono::milliseconds(600000);
  limits.stop = &stop;
  limits.stop_fd = stop_pipe[0];
  ChildOutcome outcome = run_supervised(shell("exec sleep 600", true), limits);
  CHECK(outcome.started);
  CHECK(outcome.interrupted);
  CHECK_FALSE(outcome.timed_out);
  CHECK(WIFSIGNALED(outcome.wait_status));
  CHECK(WTERMSIG(outcome.wait_status) == SIGKILL);
  close(stop_pipe[0]);
  close(stop_pipe[1]);
}

TEST_CASE("a signal gilwatch receives during a forwarding run goes on to the command", "[child_process]") {
  // The command asks for it itself: SIGTERM to this process, which passes it on.
  SupervisedCommand command = shell("kill -TERM " + std::to_string(getpid()) + "; exec sleep 600", false);
  SupervisionLimits limits;
  limits.forward_signals = true;
  limits.timeout = std::chrono::milliseconds(60000);  // a lost signal fails the test, not hangs it
  struct sigaction before, after;
  sigaction(SIGTERM, nullptr, &before);
  ChildOutcome outcome = run_supervised(command, limits);
  CHECK(outcome.started);
  CHECK_FALSE(outcome.timed_out);
  CHECK(WIFSIGNALED(outcome.wait_status));
  CHECK(WTERMSIG(outcome.wait_status) == SIGTERM);
  // The disposition is this process's own again.
  sigaction(SIGTERM, nullptr, &after);
  CHECK(after.sa_handler == before.sa_handler);
  CHECK(after.sa_flags == before.sa_flags);
}

TEST_CASE("a supervised run whose command cannot be executed is not started", "[child_process]") {
  SupervisedCommand c;
  c.argv = {"/nonexistent/program"};
  ChildOutcome outcome = run_supervised(c, SupervisionLimits{});
  CHECK_FALSE(outcome.started);
  CHECK(outcome.exec_errno == ENOENT);
}

TEST_CASE("an output directory is held by one gilwatch at a time", "[output-lock]") {
  fs::path dir = fresh_directory("lock");
  pid_t holder = 0;
  CHECK_FALSE(output_directory_in_use(dir.string(), &holder));
  CHECK_FALSE(fs::exists(dir / kOutputLockFile));  // asking creates nothing
  {
    OutputDirectoryLock first;
    std::string error;
    REQUIRE(first.acquire(dir.string(), &error));
    // flock belongs to the open file description: a second one conflicts even here.
    OutputDirectoryLock second;
    CHECK_FALSE(second.acquire(dir.string(), &error));
    CHECK(error == dir.string() + " is in use by another gilwatch (pid " + std::to_string(getpid()) +
                       "), which writes its results there");
    CHECK(output_directory_in_use(dir.string(), &holder));
    CHECK(holder == getpid());
  }
  // Released with its holder; the file stays and does not block.
  CHECK(fs::exists(dir / kOutputLockFile));
  CHECK_FALSE(output_directory_in_use(dir.string(), &holder));
  OutputDirectoryLock again;
  std::string error;
  CHECK(again.acquire(dir.string(), &error));
  fs::remove_all(dir);
}
