// Unit tests of the command's exit status (harness/run/child_process).
#include "report_side_fixtures.h"

TEST_CASE("the command's exit status follows the shell's convention", "[child_process]") {
  auto run = [](std::vector<std::string> argv, std::vector<std::string> environment) {
    SupervisedCommand command;
    command.argv = std::move(argv);
    command.environment = std::move(environment);
    return run_supervised(command, SupervisionLimits{});
  };
  std::vector<std::string> env = {"PATH=/usr/bin:/bin"};
  ChildOutcome exited = run({"sh", "-c", "exit 3"}, env);
  REQUIRE(exited.started);
  CHECK(exit_status_of(exited.wait_status) == 3);
  ChildOutcome killed = run({"sh", "-c", "kill -TERM $$"}, env);
  REQUIRE(killed.started);
  CHECK(exit_status_of(killed.wait_status) == 128 + SIGTERM);
  ChildOutcome missing = run({"/nonexistent/program"}, env);
  CHECK_FALSE(missing.started);
  CHECK(missing.exec_errno == ENOENT);
  ChildOutcome with_env = run({"sh", "-c", "test \"$GW_VALUE\" = yes"}, {"PATH=/usr/bin:/bin", "GW_VALUE=yes"});
  CHECK(exit_status_of(with_env.wait_status) == 0);
}
