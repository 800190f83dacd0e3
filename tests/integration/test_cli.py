"""The `gilwatch` command itself: help, usage errors, exit statuses, `report` on earlier
results (including unreadable ones), and a process tree with fork and exec."""

import glob
import json
import os
import pathlib
import re
import shutil

import pytest

import gilwatch_testlib as lib


def gilwatch(*args):
    return lib.run_bounded([lib.gilwatch_path(), *args])


def test_help_lists_subcommands_and_library_options():
    run = gilwatch("--help")
    assert run.returncode == 0, run.describe()
    for word in ("run", "report", "out_dir", "exitcode", "python_frames", "stack_depth"):
        assert word in run.stdout, word


def test_run_help_describes_its_flags():
    run = gilwatch("run", "--help")
    assert run.returncode == 0, run.describe()
    for flag in ("--out", "--exitcode", "--stack-depth", "--no-python-frames", "--verbosity"):
        assert flag in run.stdout, flag


def help_flags(text):
    """{flag: description} of a subcommand's --help (CLI11's two columns; a description
    too wide for its line goes on the next one)."""
    flags, last = {}, []
    for line in text.splitlines():
        option = re.match(r"  (-\S+)(.*?)(?:\s{2,}(\S.*))?$", line)
        if option:
            last = option.group(1).split(",")
            for name in last:
                flags[name] = option.group(3) or ""
        elif line.startswith(" " * 30) and last:
            for name in last:
                flags[name] = (flags[name] + " " + line.strip()).strip()
        else:
            last = []
    return flags


def docs_table_flags(section):
    """{flag: row} of the first option table under `## gilwatch <section>` in docs/cli.md."""
    text = (lib.source_dir() / "docs" / "cli.md").read_text()
    body = text.split("## gilwatch " + section + "\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    in_table = False
    for line in body.splitlines():
        if line.startswith("| option |"):
            in_table = True
        elif in_table and line.startswith("|"):
            first = line.split("|")[1]
            for cell in re.findall(r"`([^`]*)`", first):
                for name in re.findall(r"(?:^|[ ,])(--?[a-z][a-z-]*)", cell):
                    rows[name] = line
        elif in_table:
            break
    return rows


def library_keys():
    text = gilwatch("--help").stdout
    listing = text.split("Library options", 1)[1].split("\nEnvironment", 1)[0]
    return {line.split()[0] for line in listing.splitlines() if line.startswith("  ")}


@pytest.mark.parametrize("subcommand", ["run", "stress"])
def test_docs_list_the_flags_of_each_subcommand(subcommand):
    run = gilwatch(subcommand, "--help")
    assert run.returncode == 0, run.describe()
    flags = help_flags(run.stdout)
    documented = docs_table_flags(subcommand)
    assert "--exitcode" in flags and "--exitcode" in documented  # both parsed
    assert set(flags) == set(documented), (sorted(set(flags) - set(documented)),
                                           sorted(set(documented) - set(flags)))


def test_docs_name_the_key_each_run_flag_sets():
    flags = help_flags(gilwatch("run", "--help").stdout)
    documented = docs_table_flags("run")
    keys = library_keys()
    assert {"stack_depth", "deadlock_exitcode", "profile"} <= keys, keys
    checked = 0
    for name, description in flags.items():
        match = re.search(r"\((\w+)(=\w+)?\)$", description)
        if not match or match.group(1) not in keys:
            continue
        key_cell = documented[name].split("|")[3]
        assert match.group(0)[1:-1] in key_cell, (name, description, key_cell)
        checked += 1
    assert checked >= 10, checked


def test_a_flag_missing_from_the_docs_is_seen():
    text = ("Options:\n  -h,--help          help\n  --out DIR=x        out (out_dir)\n"
            "  --a-flag N=3 Excludes: --b\n                                a thing (a_key)\n")
    flags = help_flags(text)
    assert flags == {"-h": "help", "--help": "help", "--out": "out (out_dir)", "--a-flag": "a thing (a_key)"}
    assert "--a-flag" not in docs_table_flags("run")


def test_a_misspelt_subcommand_gets_a_suggestion_and_status_2():
    run = gilwatch("rnu")
    assert run.returncode == 2, run.describe()
    assert "did you mean 'run'" in run.stderr, run.stderr


def test_run_without_a_command_is_a_usage_error(out_dir):
    run = gilwatch("run", "--out", out_dir)
    assert run.returncode == 2, run.describe()
    assert "no command" in run.stderr


def test_run_with_a_bad_flag_value_is_a_usage_error(out_dir):
    run = gilwatch("run", "--out", out_dir, "--stack-depth", "1000", "--", "/bin/true")
    assert run.returncode == 2, run.describe()
    assert "stack-depth" in run.stderr


@pytest.mark.parametrize("signal_number, reason", [("9", "cannot be caught"), ("19", "cannot be caught"),
                                                    ("11", "fault"), ("7", "fault"), ("65", "1..64")])
def test_run_refuses_a_hang_signal_that_cannot_serve(out_dir, signal_number, reason):
    env = dict(os.environ, GILWATCH_OPTIONS="hang_signal=" + signal_number)
    run = lib.run_bounded([lib.gilwatch_path(), "run", "--out", out_dir, "--", "/bin/echo", "ran"], env=env)
    assert run.returncode == 2, run.describe()
    assert "hang_signal" in run.stderr and signal_number in run.stderr and reason in run.stderr, run.stderr
    assert "ran" not in run.stdout, run.describe()


def test_run_accepts_a_hang_signal_that_can_serve(out_dir):
    # The twin: SIGUSR1 and a real-time signal are fine.
    for signal_number in ("10", "61"):
        env = dict(os.environ, GILWATCH_OPTIONS="hang_signal=" + signal_number)
        run = lib.run_bounded([lib.gilwatch_path(), "run", "--out", out_dir, "--", "/bin/echo", "ran"], env=env)
        assert run.returncode == 0, run.describe()
        assert run.stdout == "ran\n", run.describe()


def test_stress_refuses_a_hang_signal_that_cannot_serve(out_dir, tmp_path):
    script = tmp_path / "ran.py"
    script.write_text("open(%r, 'w').write('ran')\n" % str(tmp_path / "ran"))
    suite = tmp_path / "suite.toml"
    suite.write_text('[[scenario]]\nname = "ran"\nkind = "script"\nscript = "%s"\nruns = 1\n' % script)
    run = gilwatch("stress", suite, "--out", out_dir, "--hang-signal", "11")
    assert run.returncode == 2, run.describe()
    assert "hang_signal=11 cannot serve" in run.stderr, run.stderr
    assert not (tmp_path / "ran").exists()
    run = gilwatch("stress", suite, "--out", out_dir, "--hang-signal", "12")  # the twin: SIGUSR2 serves
    assert run.returncode == 0 and (tmp_path / "ran").exists(), run.describe()


def test_bare_preload_ignores_a_hang_signal_that_cannot_serve_with_one_warning():
    # Without the command, nobody can refuse: the library warns once and keeps its
    # default (no hang signal), so a SIGSEGV still ends the process as a crash.
    env = dict(os.environ, LD_PRELOAD=str(lib.build_dir() / "lib" / "libgilwatch.so"),
               GILWATCH_OPTIONS="hang_signal=11")
    run = lib.run_bounded(["/bin/echo", "ran"], env=env)
    assert run.returncode == 0 and run.stdout == "ran\n", run.describe()
    warnings = [line for line in run.stderr.splitlines() if "hang_signal" in line]
    assert len(warnings) == 1 and "cannot serve" in warnings[0], run.describe()
    crash = lib.run_bounded(["/usr/bin/python3", "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"],
                            env=env)
    assert crash.returncode == -11, crash.describe()
    assert "gilwatch: hang" not in crash.stderr, crash.describe()


def test_run_of_a_missing_program_exits_127(out_dir):
    run = gilwatch("run", "--out", out_dir, "--", "/nonexistent/program")
    assert run.returncode == 127, run.describe()
    assert "/nonexistent/program" in run.stderr


def test_a_clean_command_keeps_its_own_exit_status(out_dir):
    run = lib.run_gilwatch(out_dir, ["/bin/sh", "-c", "exit 3"])
    assert run.returncode == 3, run.describe()
    assert run.findings == []
    assert (out_dir / "report.html").is_file()


def test_findings_make_the_run_fail_unless_exitcode_is_0(out_dir, tmp_path):
    run = lib.run_gilwatch(out_dir, [lib.program_path("abba")])
    assert run.returncode == 66, run.describe()
    keep = lib.run_bounded([lib.gilwatch_path(), "run", "--out", tmp_path / "keep", "--exitcode", "0",
                            "--", lib.program_path("abba")])
    assert keep.returncode == 0, keep.describe()
    with open(tmp_path / "keep" / "findings.json") as f:
        assert len(json.load(f)["findings"]) == 1


def test_a_fork_child_reports_its_own_inversion_and_exec_starts_clean(out_dir):
    run = lib.run_gilwatch(out_dir, [lib.program_path("fork_child_inversion")])
    assert run.kinds() == ["lock-order-inversion"], run.describe()
    processes = run.document["processes"]
    parent = [p for p in processes if p["argv"][-1].endswith("fork_child_inversion") and p["state"] == "exited"]
    assert len(parent) == 1 and parent[0]["exit_status"] == 0, processes
    child_pids = run.findings[0]["pids"]
    assert parent[0]["pid"] not in child_pids, "the parent's results must not repeat the child's finding"
    exec_image = [p for p in processes if p["argv"] == ["true"]]
    assert len(exec_image) == 1 and exec_image[0]["exit_status"] == 0, processes
    assert exec_image[0]["pid"] in child_pids  # exec keeps the pid


def test_report_rebuilds_from_earlier_runs_and_names_unreadable_files(out_dir, tmp_path):
    lib.run_gilwatch(out_dir, [lib.program_path("abba")])
    merged = tmp_path / "merged"
    raw = merged / "raw"
    raw.mkdir(parents=True)
    for result in (out_dir / "raw").iterdir():
        shutil.copy(result, raw / result.name)
    broken = raw / "gilwatch.1.2.json"
    broken.write_text('{"format": "gilwatch-process-results", "version": 1, "pid": 1, "stat')
    run = gilwatch("report", merged, "-q")
    assert run.returncode == 2, run.describe()
    assert str(broken) in run.stderr and "truncated" in run.stderr, run.stderr
    with open(merged / "findings.json") as f:
        document = json.load(f)
    assert [finding["kind"] for finding in document["findings"]] == ["lock-order-inversion"]
    assert document["errors"][0]["file"] == str(broken)
    html = (merged / "report.html").read_text()
    assert "Lock-order inversion" in html and "gilwatch.1.2.json" in html


def test_report_of_several_directories_needs_an_output_name(out_dir, tmp_path):
    run = gilwatch("report", out_dir, tmp_path)
    assert run.returncode == 2, run.describe()
    assert "-o" in run.stderr


UNTESTED_WARNING = "not among the versions gilwatch is tested with"
THREAD_SCRIPT = "import threading; t = threading.Thread(target=print, args=('done',)); t.start(); t.join()"


def untested_python():
    """pyenv's 3.8 (outside the tested versions), or a skip when it is not installed."""
    found = sorted(glob.glob("/root/.pyenv/versions/3.8*/bin/python3"))
    if not found:
        pytest.skip("no untested interpreter (pyenv 3.8) on this machine")
    return found[0]


def process_results(out_dir):
    """The per-process results the library wrote under OUT_DIR."""
    found = [json.loads(p.read_text()) for p in sorted(pathlib.Path(out_dir).rglob("gilwatch.*.json"))]
    return [r for r in found if r.get("format") == "gilwatch-process-results" and r.get("reporter", "library") == "library"]


def test_an_untested_interpreter_is_said_in_the_results_not_on_its_stderr(out_dir):
    """An interpreter outside the tested versions (pyenv's 3.8): the program's stderr is
    left alone; the library's results, findings.json and `run`'s summary line say
    "Python 3.8: untested"."""
    run = lib.run_gilwatch(out_dir, [untested_python(), "-c", THREAD_SCRIPT])
    assert run.returncode == 0, run.describe()
    assert "done" in run.completed.stdout
    assert UNTESTED_WARNING not in run.completed.stderr, run.describe()
    # What is on stderr is gilwatch's own summary line, which says it.
    lines = run.completed.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gilwatch: no findings; Python 3.8: untested -> "), run.describe()
    assert run.document["untested_pythons"] == ["Python 3.8: untested"]
    assert run.document["processes"][0]["python"].startswith("3.8.")
    raw = process_results(out_dir)
    assert raw and all(r["python"]["tested"] is False and r["python"]["version"].startswith("3.8.") for r in raw), raw


def test_a_tested_interpreter_is_not_said_to_be_untested(out_dir):
    """The negative twin: Debian's 3.11 (or the host's python3, tested too)."""
    python = str(lib.DEBIAN_PYTHON) if lib.DEBIAN_PYTHON.exists() else "python3"
    run = lib.run_gilwatch(out_dir, [python, "-c", THREAD_SCRIPT])
    assert run.returncode == 0, run.describe()
    assert "untested" not in run.completed.stderr and UNTESTED_WARNING not in run.completed.stderr, run.describe()
    assert run.document["untested_pythons"] == []
    raw = process_results(out_dir)
    assert raw and all(r["python"]["tested"] is True for r in raw), raw


def preloaded(tmp_path, python, options):
    env = dict(os.environ, LD_PRELOAD=str(lib.build_dir() / "lib" / "libgilwatch.so"),
               GILWATCH_OPTIONS="out_dir=%s%s" % (tmp_path, options))
    return lib.run_bounded([python, "-c", THREAD_SCRIPT], env=env)


def test_under_bare_ld_preload_the_untested_warning_is_opt_in(tmp_path):
    """Preloaded by hand: nothing on the untested program's stderr by default; with
    verbosity=1 one line of warning naming the version."""
    python = untested_python()
    quiet = preloaded(tmp_path / "quiet", python, "")
    assert quiet.returncode == 0 and "done" in quiet.stdout, quiet.describe()
    assert quiet.stderr == "", quiet.describe()
    raw = process_results(tmp_path / "quiet")
    assert raw and raw[0]["python"]["tested"] is False, raw
    told = preloaded(tmp_path / "told", python, ":verbosity=1")
    assert told.returncode == 0 and "done" in told.stdout, told.describe()
    warnings = [l for l in told.stderr.splitlines() if UNTESTED_WARNING in l]
    assert len(warnings) == 1 and "Python 3.8" in warnings[0], told.describe()
    # A tested interpreter gets no warning even then.
    tested = preloaded(tmp_path / "tested", str(lib.DEBIAN_PYTHON) if lib.DEBIAN_PYTHON.exists() else "python3",
                       ":verbosity=1")
    assert tested.returncode == 0 and UNTESTED_WARNING not in tested.stderr, tested.describe()
