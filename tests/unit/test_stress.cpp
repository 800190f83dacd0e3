// The pure parts of `gilwatch stress`: reading suites, planning runs (seeds, shards),
// classifying how a run ended, run records.
#include <signal.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "run_plan.h"
#include "run_record.h"
#include "stress_runner.h"
#include "suite.h"

using namespace gilwatch::harness;

namespace {

std::optional<std::string> fake_environment(const std::string& name) {
  if (name == "BUILD") return std::string("/b");
  return std::nullopt;
}

Suite parse_ok(const std::string& text) {
  Suite suite;
  std::string error;
  INFO(text);
  bool ok = parse_suite(text, "s.toml", &suite, &error, fake_environment);
  INFO(error);
  REQUIRE(ok);
  return suite;
}

std::string parse_error(const std::string& text) {
  Suite suite;
  std::string error;
  INFO(text);
  REQUIRE_FALSE(parse_suite(text, "s.toml", &suite, &error, fake_environment));
  return error;
}

// What waitpid reports for a normal exit / a death by signal.
int exited(int status) { return (status & 0xff) << 8; }
int killed_by(int sig) { return sig & 0x7f; }

}  // namespace

TEST_CASE("the issue's example suite reads as written", "[stress][suite]") {
  Suite s = parse_ok(R"(
[[scenario]]
name = "tool-churn"
kind = "teardown"
factory = "mypkg:Tool"          # called with no arguments
use = "mypkg.stress:exercise"   # optional, called with the object
cycles = 20
max_teardown_ms = 5000
runs = 10
timeout = 60
env = { PYTHONPATH = "build/py" }

[[scenario]]
name = "exit-in-flight"
kind = "script"
script = "tests/stress/exit_with_work.py"
args = ["--abandon"]
runs = 50
)");
  REQUIRE(s.scenarios.size() == 2);
  const Scenario& churn = s.scenarios[0];
  CHECK(churn.name == "tool-churn");
  CHECK(churn.kind == ScenarioKind::kTeardown);
  CHECK(churn.runs == 10);
  CHECK(churn.timeout_s == 60);
  CHECK(churn.env == std::vector<std::pair<std::string, std::string>>{{"PYTHONPATH", "build/py"}});
  CHECK(churn.params["factory"] == "mypkg:Tool");
  CHECK(churn.params["use"] == "mypkg.stress:exercise");
  CHECK(churn.params["cycles"] == 20);
  CHECK(churn.params["max_teardown_ms"] == 5000);
  CHECK(churn.params["settle_ms"] == 200);  // default filled in for the driver
  CHECK(churn.variants == std::vector<std::string>{""});
  const Scenario& exit = s.scenarios[1];
  CHECK(exit.kind == ScenarioKind::kScript);
  CHECK(exit.params["script"] == "tests/stress/exit_with_work.py");
  CHECK(exit.params["args"] == std::vector<std::string>{"--abandon"});
  CHECK(exit.runs == 50);
  CHECK(exit.where == "s.toml:13:1");
}

TEST_CASE("every kind has its defaults and variants", "[stress][suite]") {
  Suite s = parse_ok(R"(
[[scenario]]
name = "h"
kind = "hammer"
callables = ["m:register", "m:lookup"]
[[scenario]]
name = "f"
kind = "finalization"
start = "m:start"
[[scenario]]
name = "f2"
kind = "finalization"
start = "m:start"
abandon = "m:abandon"
ways = ["sigint", "abandoned-callback"]
[[scenario]]
name = "sp"
kind = "speedup"
callable = "m:work"
threads = [4, 1, 2]
)");
  CHECK(s.scenarios[0].params["threads"] == 4);
  CHECK(s.scenarios[0].params["duration"] == 2.0);
  // Without `abandon` the abandoned-callback way has nothing to call.
  CHECK(s.scenarios[1].variants ==
        std::vector<std::string>{"normal", "sys-exit", "exception", "sigint", "daemon-threads"});
  CHECK(s.scenarios[2].variants == std::vector<std::string>{"sigint", "abandoned-callback"});
  CHECK(s.scenarios[3].params["threads"] == std::vector<int>{1, 2, 4});
  CHECK(s.scenarios[3].params["min_speedup"] == 1.8);
  CHECK(s.scenarios[3].exclusive());
  CHECK_FALSE(s.scenarios[0].exclusive());
}

TEST_CASE("${VAR} in env, script, args and python comes from gilwatch's environment", "[stress][suite]") {
  Suite s = parse_ok(R"(
python = "${BUILD}/py"
[[scenario]]
name = "x"
kind = "script"
script = "${BUILD}/x.py"
args = ["$$HOME", "${BUILD}"]
env = { PYTHONPATH = "${BUILD}/scenarios" }
)");
  CHECK(s.python == "/b/py");
  CHECK(s.scenarios[0].params["script"] == "/b/x.py");
  CHECK(s.scenarios[0].params["args"] == std::vector<std::string>{"$HOME", "/b"});
  CHECK(s.scenarios[0].env[0].second == "/b/scenarios");
  CHECK(parse_error("[[scenario]]\nname = \"x\"\nkind = \"script\"\nscript = \"${NOPE}/x.py\"\n") ==
        "s.toml:4:10: scenario 'x': key 'script': ${NOPE} is not set in the environment");
}

TEST_CASE("invalid suites are refused naming file, line and key", "[stress][suite]") {
  CHECK(parse_error("[[scenario]]\nname = \"a\"\nkind = \"teardown\"\nfactory = \"m:F\"\ncycle = 3\n") ==
        "s.toml:5:9: scenario 'a': unknown key 'cycle' (known here: cycles, description, env, factory, kind, "
        "max_teardown_ms, name, perturb, python, runs, seed, settle_ms, timeout, use, warmup)");
  CHECK(parse_error("[[scenario]]\nname = \"a\"\nkind = \"teardown\"\nfactory = \"m:F\"\ncycles = \"3\"\n") ==
        "s.toml:5:10: scenario 'a': key 'cycles': expected an integer, found a string");
  CHECK(parse_error("[[scenario]]\nname = \"a\"\nkind = \"teardown\"\nfactory = \"m:F\"\nruns = 0\n") ==
        "s.toml:5:8: scenario 'a': key 'runs': 0 is out of range 1..1000000");
  CHECK(parse_error("[[scenario]]\nname = \"a\"\nkind = \"teardown\"\n") ==
        "s.toml:1:1: scenario 'a': missing required key 'factory'");
  CHECK(parse_error("[[scenario]]\nname = \"a\"\nkind = \"teardown\"\nfactory = \"mypkg.Tool\"\n") ==
        "s.toml:4:11: scenario 'a': key 'factory': 'mypkg.Tool' is not a callable reference of the form "
        "module:function");
  CHECK(parse_error("[[scenario]]\nname = \"a\"\nkind = \"soak\"\n") ==
        "s.toml:3:8: scenario 'a': key 'kind': unknown kind 'soak' (known: hammer, teardown, finalization, "
        "speedup, script)");
  CHECK(parse_error("[[scenario]]\nname = \"a b\"\nkind = \"script\"\nscript = \"x\"\n").find(
            "key 'name': 'a b' is not a valid name") != std::string::npos);
  CHECK(parse_error("[[scenario]]\nname = \"a\"\nkind = \"script\"\nscript = \"x\"\n"
                    "[[scenario]]\nname = \"a\"\nkind = \"script\"\nscript = \"y\"\n") ==
        "s.toml:5:1: scenario 'a': the name is used by an earlier scenario");
  CHECK(parse_error("x = 1\n[[scenario]]\nname = \"a\"\nkind = \"script\"\nscript = \"x\"\n").find(
            "s.toml:1:5: unknown key 'x'") == 0);
  CHECK(parse_error("") == "s.toml: no [[scenario]] tables: a suite lists at least one scenario");
  CHECK(parse_error("[[scenario]\n").rfind("s.toml:1:", 0) == 0);  // TOML syntax, with its position
  CHECK(parse_error("[[scenario]]\nname = \"a\"\nkind = \"speedup\"\ncallable = \"m:f\"\nthreads = [2, 4]\n")
            .find("key 'threads': list 1 and at least one larger thread count") != std::string::npos);
  CHECK(parse_error("[[scenario]]\nname = \"a\"\nkind = \"finalization\"\nstart = \"m:f\"\n"
                    "ways = [\"abandoned-callback\"]\n")
            .find("'abandoned-callback' needs the 'abandon' callable") != std::string::npos);
  CHECK(parse_error("[[scenario]]\nname = \"a\"\nkind = \"hammer\"\ncallables = [\"m:f\"]\n"
                    "duration = 1\niterations = 5\n")
            .find("give 'duration' or 'iterations', not both") != std::string::npos);
}

TEST_CASE("an unreadable suite file is named", "[stress][suite]") {
  Suite s;
  std::string error;
  CHECK_FALSE(load_suite("/nonexistent/s.toml", &s, &error));
  CHECK(error == "/nonexistent/s.toml: cannot read the suite: No such file or directory");
}

TEST_CASE("callable references", "[stress][suite]") {
  CHECK(is_callable_reference("m:f"));
  CHECK(is_callable_reference("pkg.sub_2:Class.method"));
  CHECK_FALSE(is_callable_reference("m.f"));
  CHECK_FALSE(is_callable_reference(":f"));
  CHECK_FALSE(is_callable_reference("m:"));
  CHECK_FALSE(is_callable_reference("m:f()"));
  CHECK_FALSE(is_callable_reference("2m:f"));
  CHECK_FALSE(is_callable_reference("m..n:f"));
}

TEST_CASE("shards partition the plan and keep every run's seed", "[stress][plan]") {
  Suite s = parse_ok(R"(
[[scenario]]
name = "a"
kind = "script"
script = "x"
runs = 5
[[scenario]]
name = "f"
kind = "finalization"
start = "m:s"
ways = ["normal", "sigint"]
runs = 3
)");
  std::vector<RunSpec> whole = plan_runs(s, 7, 0, Shard{});
  REQUIRE(whole.size() == 11);
  CHECK(whole[5].label(s) == "f.normal");
  CHECK(whole[8].label(s) == "f.sigint");
  std::set<uint64_t> seeds;
  for (const RunSpec& r : whole) seeds.insert(r.seed);
  CHECK(seeds.size() == whole.size());

  std::vector<RunSpec> joined;
  for (int i = 0; i < 3; ++i) {
    std::vector<RunSpec> part = plan_runs(s, 7, 0, Shard{i, 3});
    joined.insert(joined.end(), part.begin(), part.end());
  }
  REQUIRE(joined.size() == whole.size());
  std::sort(joined.begin(), joined.end(), [](const RunSpec& a, const RunSpec& b) { return a.ordinal < b.ordinal; });
  for (std::size_t i = 0; i < whole.size(); ++i) {
    CHECK(joined[i].seed == whole[i].seed);
    CHECK(joined[i].index == whole[i].index);
    CHECK(joined[i].variant == whole[i].variant);
  }
  // -n replaces every scenario's runs; another base seed gives other seeds.
  CHECK(plan_runs(s, 7, 2, Shard{}).size() == 6);
  CHECK(plan_runs(s, 8, 0, Shard{})[0].seed != whole[0].seed);
  CHECK(run_seed(7, "a", "", 0) == whole[0].seed);
}

TEST_CASE("shard arguments", "[stress][plan]") {
  Shard shard;
  std::string error;
  CHECK(parse_shard("2/4", &shard, &error));
  CHECK(shard.index == 1);
  CHECK(shard.count == 4);
  CHECK_FALSE(parse_shard("0/4", &shard, &error));
  CHECK_FALSE(parse_shard("5/4", &shard, &error));
  CHECK_FALSE(parse_shard("2", &shard, &error));
  CHECK_FALSE(parse_shard("a/b", &shard, &error));
  CHECK(error == "'a/b' is not of the form I/N (e.g. 2/4)");
  CHECK(shard_from_bazel("0", "2", &shard, &error));
  CHECK(shard.index == 0);
  CHECK(shard.count == 2);
  error.clear();
  CHECK_FALSE(shard_from_bazel(nullptr, nullptr, &shard, &error));
  CHECK(error.empty());
  CHECK_FALSE(shard_from_bazel("2", "2", &shard, &error));
  CHECK_FALSE(error.empty());
}

TEST_CASE("how a run ended decides its outcome", "[stress][classify]") {
  RunObservation o;
  o.kind = ScenarioKind::kTeardown;
  o.wait_status = exited(0);
  CHECK(classify_run(o).outcome == "ok");

  o.findings = 2;
  CHECK(classify_run(o).outcome == "findings");
  CHECK(classify_run(o).harness_finding.empty());

  o.findings = 0;
  o.wait_status = killed_by(SIGSEGV);
  RunClassification c = classify_run(o);
  CHECK(c.outcome == "crash");
  CHECK(c.harness_finding == "crash");
  CHECK(c.reason == "ended by SIGSEGV (Segmentation fault)");
  o.library_crash_report = true;  // the library's crash finding, with its stacks, is the finding
  c = classify_run(o);
  CHECK(c.outcome == "crash");
  CHECK(c.harness_finding.empty());
  o.library_crash_report = false;

  o.wait_status = exited(1);
  o.fatal_error = "Fatal Python error: PyThreadState_Get: no current thread";
  CHECK(classify_run(o).outcome == "crash");
  o.fatal_error.clear();
  o.driver_error = "cannot import 'm'";
  c = classify_run(o);
  CHECK(c.outcome == "error");
  CHECK(c.reason == "exit status 1, expected 0: cannot import 'm'");

  o = RunObservation{};
  o.timed_out = true;
  o.wait_status = killed_by(SIGKILL);
  CHECK(classify_run(o).outcome == "hang");
  CHECK(classify_run(o).harness_finding == "hang");
  o.library_hang_report = true;  // the library's report with stacks is the finding
  CHECK(classify_run(o).harness_finding.empty());

  // The finalization ways' own endings are not failures.
  o = RunObservation{};
  o.kind = ScenarioKind::kFinalization;
  o.variant = "sigint";
  o.wait_status = killed_by(SIGINT);
  CHECK(classify_run(o).outcome == "ok");
  o.wait_status = killed_by(SIGABRT);
  CHECK(classify_run(o).outcome == "crash");
  o.variant = "sys-exit";
  o.wait_status = exited(3);
  CHECK(classify_run(o).outcome == "ok");
  o.variant = "exception";
  o.wait_status = exited(1);
  CHECK(classify_run(o).outcome == "ok");
  o.variant = "normal";
  CHECK(classify_run(o).outcome == "error");

  o = RunObservation{};
  o.kind = ScenarioKind::kScript;
  o.expect_status = 3;
  o.wait_status = exited(3);
  CHECK(classify_run(o).outcome == "ok");
  o.interrupted = true;
  CHECK(classify_run(o).outcome == "interrupted");
}

TEST_CASE("the Fatal Python error line is found on stderr", "[stress][classify]") {
  CHECK(fatal_error_line("x\nFatal Python error: Aborted\n\nThread 0x1") == "Fatal Python error: Aborted");
  CHECK(fatal_error_line("Traceback...\nValueError\n").empty());
}

TEST_CASE("run records round-trip", "[stress][records]") {
  RunRecord r;
  r.run = {"tool-churn", "", 3, 18446744073709551615ull};
  r.kind = "teardown";
  r.argv = {"python3", "-m", "gilwatch.driver", "spec.json"};
  r.outcome = "crash";
  r.reason = "ended by SIGABRT";
  r.signal = 6;
  r.duration_ms = 120;
  r.pid = 42;
  RunRecord back;
  std::string error;
  REQUIRE(parse_run_record(render_run_record(r), &back, &error));
  CHECK(back.run == r.run);
  CHECK(back.run.seed == r.run.seed);  // all 64 bits
  CHECK(back.argv == r.argv);
  CHECK(back.signal == 6);
  CHECK_FALSE(back.exit_status);
  CHECK(back.outcome == "crash");
  CHECK(back.run.label() == "tool-churn #3");
  CHECK_FALSE(parse_run_record("{\"format\": \"other\"}", &back, &error));
  CHECK(error == "not a gilwatch run record (format is not \"gilwatch-run\")");
}
