"""End-to-end tests of the real `gilwatch` binary: help and usage errors, `report` on
hand-written results, `run` on commands that write (or do not write) results, exit
statuses and signal forwarding. Each test is one CTest test (tests/cli/CMakeLists.txt):

    python3 cli_tests.py --gilwatch BIN --dummy-library SO --library SO TEST_NAME

Only the standard library is used, so the tests run wherever python3 does.
"""

import argparse
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import results_samples

HERE = pathlib.Path(__file__).resolve().parent
TIMEOUT = 60
FINDINGS_STATUS = 66

ARGS = None  # set in main()


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


class Completed:
    def __init__(self, args, process, stdout, stderr):
        self.args, self.returncode, self.stdout, self.stderr = args, process.returncode, stdout, stderr

    def describe(self):
        return "$ %s\nexit status %s\n--- stdout ---\n%s--- stderr ---\n%s" % (
            " ".join(map(str, self.args)), self.returncode, self.stdout[-3000:], self.stderr[-3000:])


def clean_environment(**extra):
    """The caller's environment without anything that would change gilwatch's behaviour."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("GILWATCH_OPTIONS", "GILWATCH_LIBRARY", "LD_PRELOAD")}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def gilwatch(*args, env=None, cwd=None):
    command = [ARGS.gilwatch, *map(str, args)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               errors="replace", env=env or clean_environment(), cwd=cwd)
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        raise Failure("timed out: %s\n%s" % (command, stderr[-3000:]))
    return Completed(command, process, stdout, stderr)


def expect_status(run, status):
    check(run.returncode == status, "expected exit status %d\n%s" % (status, run.describe()))


def load_json(path):
    with open(path) as f:
        return json.load(f)


def write_results(directory, name, document):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def fake_process(record, exit_status, *extra):
    return [sys.executable, str(HERE / "fake_process.py"), str(record), str(exit_status), *extra]


# ---- help and usage ----

def test_help_lists_subcommands_flags_and_keys(tmp):
    top = gilwatch("--help")
    expect_status(top, 0)
    for word in ("run", "report", "stress", "GILWATCH_OPTIONS", "GILWATCH_LIBRARY", "out_dir", "exitcode",
                 "stack_depth", "python_frames", "verbosity", "report_stderr", "profile", "suppressions"):
        check(word in top.stdout, "%r missing from --help\n%s" % (word, top.describe()))
    run = gilwatch("run", "--help")
    expect_status(run, 0)
    for flag in ("--out", "--exitcode", "--stack-depth", "--no-python-frames", "--verbosity",
                 "--sarif", "--junit", "--profile", "-- CMD [ARGS...]", "--suppressions FILE",
                 "--baseline FILE", "--write-baseline FILE", "--show-suppressed"):
        check(flag in run.stdout, "%r missing from run --help\n%s" % (flag, run.stdout))
    report = gilwatch("help", "report")
    expect_status(report, 0)
    for flag in ("DIR...", "--output", "--json", "--quiet", "--sarif FILE", "--junit FILE", "--suppressions FILE",
                 "--baseline FILE", "--write-baseline FILE", "--show-suppressed"):
        check(flag in report.stdout, "%r missing from report --help\n%s" % (flag, report.stdout))
    stress = gilwatch("stress", "--help")
    expect_status(stress, 0)
    for flag in ("SUITE.toml", "--runs", "--jobs", "--timeout", "--seed", "--shard", "--out", "--python",
                 "--scenario", "--perturb", "--profile", "130", "--suppressions FILE", "--baseline FILE",
                 "--write-baseline FILE", "--show-suppressed"):
        check(flag in stress.stdout, "%r missing from stress --help\n%s" % (flag, stress.stdout))
    version = gilwatch("--version")
    expect_status(version, 0)
    check(version.stdout.strip() == "gilwatch 0.1.0", version.describe())


def test_misspelt_subcommand_gets_did_you_mean(tmp):
    for typo, meant in (("rnu", "run"), ("reprot", "report"), ("rep", "report")):
        run = gilwatch(typo)
        expect_status(run, 2)
        check("did you mean '%s'?" % meant in run.stderr, run.describe())
    nothing_close = gilwatch("frobnicate")
    expect_status(nothing_close, 2)
    check("unknown subcommand 'frobnicate'" in nothing_close.stderr
          and "did you mean" not in nothing_close.stderr, nothing_close.describe())
    bare = gilwatch()
    expect_status(bare, 2)
    check("Usage: gilwatch SUBCOMMAND" in bare.stderr, bare.describe())


def test_bad_usage_exits_2(tmp):
    out = tmp / "out"
    cases = [
        (("run", "--out", out), "no command given"),
        (("run", "--out", out, "--"), "no command given"),
        (("run", "--out", out, "/bin/true"), "goes after '--'"),
        (("run", "--exitcode", "300", "--", "/bin/true"), "--exitcode"),
        (("run", "--stack-depth", "0", "--", "/bin/true"), "--stack-depth"),
        (("run", "--verbosity", "x", "--", "/bin/true"), "--verbosity"),
        (("run", "--no-such-flag", "--", "/bin/true"), "goes after '--'"),
        (("report",), "DIR"),
        (("report", tmp / "missing"), "is not a directory"),
        (("report", tmp, tmp), "-o FILE.html"),
    ]
    for args, message in cases:
        run = gilwatch(*args)
        expect_status(run, 2)
        check(message in run.stderr, "expected %r on stderr\n%s" % (message, run.describe()))
    check(not (out / "findings.json").exists(), "a usage error must not write a report")


# ---- gilwatch report ----

def test_report_merges_hand_written_results(tmp):
    raw = tmp / "out" / "raw"
    # Two processes with the same inversion (one killed mid-run: "running" counts), one with
    # the GIL inversion, one clean.
    write_results(raw, "gilwatch.100.1000.json", results_samples.abba(100, thread_name="<script>alert(1)</script>"))
    write_results(raw, "gilwatch.200.2000.json", results_samples.abba(200, state="running"))
    write_results(raw, "gilwatch.300.3000.json", results_samples.gil_inversion(300))
    write_results(raw, "gilwatch.400.4000.json", results_samples.clean(400))
    run = gilwatch("report", tmp / "out")
    expect_status(run, 0)

    document = load_json(tmp / "out" / "findings.json")
    check(document["format"] == "gilwatch-findings" and document["version"] == 1, document)
    check(document["inputs"] == [str(tmp / "out")] and "command" not in document, document)
    check(document["exit_status"] is None, document)
    check(document["errors"] == [], document["errors"])
    check([p["pid"] for p in document["processes"]] == [100, 200, 300, 400], document["processes"])
    check(document["processes"][1]["state"] == "running" and document["processes"][1]["exit_status"] is None,
          document["processes"][1])
    findings = document["findings"]
    check(len(findings) == 2, json.dumps(findings, indent=1)[:3000])

    abba, gil = findings
    check(abba["kind"] == "lock-order-inversion" and abba["severity"] == "error", abba)
    check(abba["count"] == 2 and abba["pids"] == [100, 200], abba)
    check(abba["summary"] == "lock-order inversion (potential deadlock): mutex 0x5000 -> mutex 0x5040 -> mutex 0x5000",
          abba["summary"])
    check([lock["kind"] for lock in abba["locks"]] == ["mutex", "mutex"], abba["locks"])
    check(len(abba["threads"]) == 2 and len(abba["edges"]) == 2, abba)
    first = abba["threads"][0]
    check(first["role"] == "took mutex 0x5040 while holding mutex 0x5000", first["role"])
    check(first["name"] == "<script>alert(1)</script>", first["name"])  # JSON keeps it as it was
    frame = first["native_frames"][0]
    # The module does not exist: no symbols, but module and offset are kept.
    check(frame == {"pc": "0x7f0000001010", "module": results_samples.MODULE, "offset": "0x1010",
                    "function": "??", "file": "", "line": 0}, frame)
    check(abba["threads"][1]["python_frames"] == [{"function": "register_tasks", "file": "drive.py", "line": 12}],
          abba["threads"][1])
    check(abba["edges"][1] == {"from": 1, "to": 0, "held_mode": "write", "acquired_mode": "write",
                               "thread_index": 1}, abba["edges"])

    check(gil["pids"] == [300] and gil["count"] == 1, gil)
    check(gil["summary"] == "lock-order inversion (potential deadlock): the GIL -> rwlock 0x5040 -> the GIL",
          gil["summary"])
    check(gil["threads"][1]["role"] == "took the GIL while holding rwlock 0x5040 (read)", gil["threads"][1])

    html = (tmp / "out" / "report.html").read_text()
    check("&lt;script&gt;alert(1)&lt;/script&gt;" in html and "alert(1)</script>" not in html
          and html.count("<script") == 1, "thread name not escaped")
    check('<span class="gil">the GIL</span>' in html, "the GIL is not marked in the HTML cycle")
    check("2 findings." in html and "Seen in 2 processes" in html, "verdict or count missing from the HTML")

    check("==100==WARNING: gilwatch: lock-order-inversion" in run.stderr, run.describe())
    check("==300==WARNING: gilwatch: lock-order-inversion" in run.stderr, run.describe())
    check("#0 0x7f0000001010 in ?? (libabba.so+0x1010)" in run.stderr, run.describe())
    check("seen in 2 processes (pids 100, 200)" in run.stderr, run.describe())
    check("drive.py:12 in register_tasks" in run.stderr, run.describe())
    check(run.stderr.rstrip().endswith(
        "gilwatch: 2 findings (2 lock-order-inversion) -> %s" % (tmp / "out" / "report.html")), run.describe())

    quiet = gilwatch("report", "-q", raw, "-o", tmp / "elsewhere.html", "--json", tmp / "elsewhere.json")
    expect_status(quiet, 0)
    check("WARNING" not in quiet.stderr and "2 findings" in quiet.stderr, quiet.describe())
    check(load_json(tmp / "elsewhere.json")["findings"][0]["count"] == 2, "report on a raw/ dir itself")
    check((tmp / "elsewhere.html").is_file(), "-o not honoured")


def test_report_merges_several_directories(tmp):
    write_results(tmp / "run1" / "raw", "gilwatch.10.1.json", results_samples.abba(10))
    write_results(tmp / "run2" / "raw", "gilwatch.10.2.json", results_samples.abba(10))  # same pid, other run
    write_results(tmp / "run2" / "raw", "gilwatch.11.3.json", results_samples.abba(11, first_offsets=(0x1500, 0x1030)))
    (tmp / "empty").mkdir()
    run = gilwatch("report", tmp / "run1", tmp / "run2", tmp / "empty", "-o", tmp / "merged" / "r.html")
    expect_status(run, 0)
    check("warning: no results files (gilwatch.*.json) in %s" % (tmp / "empty") in run.stderr, run.describe())
    document = load_json(tmp / "merged" / "findings.json")
    check(document["inputs"] == [str(tmp / "run1"), str(tmp / "run2"), str(tmp / "empty")], document["inputs"])
    check([(f["count"], f["pids"]) for f in document["findings"]] == [(2, [10, 10]), (1, [11])],
          json.dumps(document["findings"])[:2000])


def test_corrupt_results_are_named_skipped_and_exit_2(tmp):
    raw = tmp / "out" / "raw"
    write_results(raw, "gilwatch.1.1.json", results_samples.abba(1))
    text = json.dumps(results_samples.abba(2))
    truncated = write_results(raw, "gilwatch.2.2.json", text[: len(text) // 2])
    future = results_samples.abba(3)
    future["version"] = 2
    newer = write_results(raw, "gilwatch.3.3.json", future)
    foreign = write_results(raw, "gilwatch.4.4.json", {"format": "something-else", "version": 1})
    run = gilwatch("report", tmp / "out")
    expect_status(run, 2)
    check("%s: truncated" % truncated in run.stderr, run.describe())
    check("%s: results format version 2 is not supported" % newer in run.stderr, run.describe())
    check("%s: not a gilwatch results file" % foreign in run.stderr, run.describe())
    document = load_json(tmp / "out" / "findings.json")
    check([f["pids"] for f in document["findings"]] == [[1]], "the readable file must still be reported")
    check([e["file"] for e in document["errors"]] == [str(truncated), str(newer), str(foreign)], document["errors"])
    check("byte %d" % (len(text) // 2) in document["errors"][0]["message"], document["errors"][0])
    html = (tmp / "out" / "report.html").read_text()
    check("Unreadable results" in html and "gilwatch.2.2.json" in html, "unreadable files missing from the HTML")
    check("3 unreadable results files" in run.stderr, run.describe())


# ---- gilwatch run ----

def test_run_true_with_a_dummy_library_exits_0_with_no_findings(tmp):
    out = tmp / "out"
    run = gilwatch("run", "--out", out, "--", "/bin/true", env=clean_environment(GILWATCH_LIBRARY=ARGS.dummy_library))
    expect_status(run, 0)
    document = load_json(out / "findings.json")
    check(document["findings"] == [] and document["errors"] == [], document)
    check(document["command"] == ["/bin/true"] and document["exit_status"] == 0, document)
    check((out / "report.html").is_file() and (out / "raw").is_dir(), "outputs missing")
    # A library that writes nothing is worth a word: the real one always writes at exit.
    check("no process wrote results" in run.stderr, run.describe())


def test_run_true_with_the_real_library(tmp):
    out = tmp / "out"
    run = gilwatch("run", "--out", out, "--", "/bin/true", env=clean_environment(GILWATCH_LIBRARY=ARGS.library))
    expect_status(run, 0)
    document = load_json(out / "findings.json")
    check(document["findings"] == [] and document["errors"] == [], document)
    check([(p["state"], p["exit_status"]) for p in document["processes"]] == [("exited", 0)], document["processes"])
    check(run.stderr.strip() == "gilwatch: no findings -> %s" % (out / "report.html"), run.describe())


def test_run_sets_the_environment_and_merges_what_processes_wrote(tmp):
    out = tmp / "out"
    # Results of an earlier run in the same directory must not leak into this one.
    write_results(out / "raw", "gilwatch.5.5.json", results_samples.abba(5))
    record = tmp / "env.json"
    env = clean_environment(GILWATCH_LIBRARY=ARGS.dummy_library, LD_PRELOAD="/nonexistent/libother.so",
                            GILWATCH_OPTIONS="stack_depth=8:exitcode=0")
    run = gilwatch("run", "--out", "out", "--exitcode", "71", "--process-exitcode", "70", "--no-python-frames",
                   "--verbosity", "1", "--", *fake_process(record, 0), env=env, cwd=tmp)
    expect_status(run, 71)  # run's own verdict; the library's exitcode is --process-exitcode
    seen = load_json(record)
    check(seen["LD_PRELOAD"] == "%s:/nonexistent/libother.so" % ARGS.dummy_library, seen)
    # exitcode=0 first (processes keep their own status), the hang signal --timeout and
    # SIGTERM use, the pid whose crashes are reported, the user's keys, then the flags'.
    run_keys = "report_stderr=0:exitcode=0:hang_signal=%d:crash_report_run_pid=" % (signal.SIGRTMAX - 3)
    check(seen["GILWATCH_OPTIONS"].startswith(run_keys), seen)
    check(":stack_depth=8:exitcode=0:" in seen["GILWATCH_OPTIONS"], seen)
    check(seen["options"] == {"report_stderr": "0", "stack_depth": "8", "exitcode": "70",
                              "hang_signal": str(signal.SIGRTMAX - 3),
                              "crash_report_run_pid": seen["options"].get("crash_report_run_pid"),
                              "out_dir": str(out / "raw"), "python_frames": "0", "verbosity": "1"}, seen)
    check(seen["options"]["crash_report_run_pid"].isdigit(), seen)
    document = load_json(out / "findings.json")
    check([p["pid"] for p in document["processes"]] == [seen["pid"]], "stale results were merged: %s"
          % document["processes"])
    check(len(document["findings"]) == 1 and document["findings"][0]["pids"] == [seen["pid"]], document["findings"])
    check("==%d==WARNING: gilwatch: lock-order-inversion" % seen["pid"] in run.stderr, run.describe())
    check("gilwatch run: GILWATCH_OPTIONS=" in run.stderr, "--verbosity 1 shows the set-up\n" + run.describe())


def test_run_exit_status_rules(tmp):
    env = clean_environment(GILWATCH_LIBRARY=ARGS.dummy_library)
    record = tmp / "env.json"
    cases = [
        # (flags, command, expected status)
        ((), fake_process(record, 0), FINDINGS_STATUS),               # findings: 66
        (("--exitcode", "0"), fake_process(record, 5), 5),            # findings ignored: CMD's status
        ((), fake_process(record, 3, "--no-results"), 3),             # no findings: CMD's status
        ((), ["/bin/sh", "-c", "kill -TERM $$"], 128 + signal.SIGTERM),
        ((), ["/nonexistent/program"], 127),
        ((), [str(HERE / "results_samples.py")], 126),                # not executable
    ]
    for flags, command, status in cases:
        run = gilwatch("run", "--out", tmp / "out", *flags, "--", *command, env=env)
        expect_status(run, status)
    killed = gilwatch("run", "--out", tmp / "out", "--", "/bin/sh", "-c", "kill -TERM $$", env=env)
    check("was ended by signal %d" % signal.SIGTERM in killed.stderr, killed.describe())
    # The library's exitcode (GILWATCH_OPTIONS, --process-exitcode) is the processes', not run's.
    user_exitcode = clean_environment(GILWATCH_LIBRARY=ARGS.dummy_library, GILWATCH_OPTIONS="exitcode=0")
    expect_status(gilwatch("run", "--out", tmp / "out", "--", *fake_process(record, 4), env=user_exitcode),
                  FINDINGS_STATUS)
    expect_status(gilwatch("run", "--out", tmp / "out", "--exitcode", "0", "--process-exitcode", "9", "--",
                           *fake_process(record, 4), env=env), 4)
    check(load_json(record)["options"]["exitcode"] == "9", load_json(record))
    expect_status(gilwatch("run", "--out", tmp / "out", "--", *fake_process(record, 4), env=env), FINDINGS_STATUS)
    check(load_json(record)["options"]["exitcode"] == "0", load_json(record))


def test_run_refuses_what_it_cannot_set_up(tmp):
    missing = gilwatch("run", "--out", tmp / "out", "--", "/bin/true",
                       env=clean_environment(GILWATCH_LIBRARY=tmp / "nope.so"))
    expect_status(missing, 2)
    check("preload library not found" in missing.stderr and "nope.so" in missing.stderr, missing.describe())
    env = clean_environment(GILWATCH_LIBRARY=ARGS.dummy_library)
    colon = gilwatch("run", "--out", tmp / "a:b", "--", "/bin/true", env=env)
    expect_status(colon, 2)
    check("contains ':'" in colon.stderr, colon.describe())
    bad_user_options = gilwatch("run", "--out", tmp / "out", "--", "/bin/true",
                                env=clean_environment(GILWATCH_LIBRARY=ARGS.dummy_library, GILWATCH_OPTIONS="colour=1"))
    expect_status(bad_user_options, 2)
    check("unknown option 'colour'" in bad_user_options.stderr, bad_user_options.describe())


def test_run_forwards_sigterm_and_still_writes_the_report(tmp):
    out = tmp / "out"
    marker = tmp / "started"
    command = [ARGS.gilwatch, "run", "--out", str(out), "--", "/bin/sh", "-c",
               'touch "%s"; exec sleep 30' % marker]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=clean_environment(GILWATCH_LIBRARY=ARGS.dummy_library))
    deadline = time.monotonic() + 20
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    check(marker.exists(), "the command did not start")
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        stdout, stderr = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        raise Failure("gilwatch did not pass SIGTERM on to its command")
    check(time.monotonic() - started < 10, "SIGTERM took too long to end the command")
    # SIGTERM asks for a hang report first: a shell without the library does not catch the
    # hang signal, so it is not sent one (its default action would end it), and gets the
    # SIGTERM after the report's grace. The hang is a finding all the same: run's own.
    check(process.returncode == 66, "exit status %s\n%s" % (process.returncode, stderr))
    check("was ended by signal 15" in stderr and "signal 61" not in stderr, stderr)
    document = load_json(out / "findings.json")
    check([f["kind"] for f in document["findings"]] == ["hang"], document["findings"])


TESTS = {name: value for name, value in globals().items() if name.startswith("test_")}


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--gilwatch", required=True)
    parser.add_argument("--dummy-library", required=True)
    parser.add_argument("--library", required=True)
    parser.add_argument("tests", nargs="*", help="names of tests to run (default: all)")
    ARGS = parser.parse_args()
    names = ARGS.tests or sorted(TESTS)
    unknown = [n for n in names if n not in TESTS]
    if unknown:
        sys.exit("unknown test(s): %s" % ", ".join(unknown))
    failed = 0
    for name in names:
        tmp = pathlib.Path(tempfile.mkdtemp(prefix="gilwatch-cli-"))
        try:
            TESTS[name](tmp)
            print("PASS %s" % name)
        except Failure as e:
            failed += 1
            print("FAIL %s\n%s" % (name, e))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
