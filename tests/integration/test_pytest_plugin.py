"""The pytest plugin (pytest -p gilwatch.pytest_plugin) on a small test file written
here: per-test thread and fd leaks found with names and targets, fixtures of a wider
scope not blamed, --gilwatch-leaks=fail failing the leaking test, and, under
`gilwatch run`, library findings attributed to the test that was running."""

import json
import os
import re
import subprocess
import textwrap

import pytest

import gilwatch_testlib as lib
from test_stress import PYTHON, module_dir_for

SAMPLE = textwrap.dedent("""\
    import os, threading, pytest

    _kept = []

    @pytest.fixture(scope="module")
    def pool():
        threading.Thread(target=threading.Event().wait, name="module-pool", daemon=True).start()
        return os.pipe()

    @pytest.mark.parametrize("round", [1, 2])
    def test_leaks_a_thread_and_a_pipe(round):
        _kept.append(os.pipe())
        threading.Thread(target=threading.Event().wait, name="leaky-test", daemon=True).start()

    def test_cleans_up():
        read_end, write_end = os.pipe()
        os.close(read_end)
        os.close(write_end)
        worker = threading.Thread(target=lambda: None)
        worker.start()
        worker.join()

    def test_uses_a_module_fixture(pool):
        assert pool

    class _Cycle(object):
        pass

    def test_garbage_cycle_holds_a_pipe():
        # Closed only when the cycle is collected: after the test, by the check's gc.
        cycle = _Cycle()
        cycle.self = cycle
        read_end, write_end = os.pipe()
        cycle.files = (os.fdopen(read_end, "rb"), os.fdopen(write_end, "wb"))

    def test_registry_inversion():
        import registry_stress
        registry_stress.register_buggy()
        registry_stress.callbacks_buggy()
    """)


def environment():
    paths = [str(lib.build_dir() / "lib" / "python"), module_dir_for(PYTHON),
             str(lib.source_dir() / "scenarios" / "extensions" / "registry")]
    env = dict(os.environ, PYTHONPATH=":".join(paths), PYTHONDONTWRITEBYTECODE="1")
    env.pop("GILWATCH_OPTIONS", None)
    return env


def pytest_command(tmp_path, *options):
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    return [PYTHON, "-m", "pytest", "-p", "gilwatch.pytest_plugin", "-p", "no:cacheprovider", "-q",
            "--rootdir", str(tmp_path), *options, str(tmp_path / "test_sample.py")]


def test_leaks_are_reported_per_test_and_written(tmp_path):
    out = tmp_path / "leaks"
    completed = subprocess.run(pytest_command(tmp_path, "--gilwatch-out", str(out)), env=environment(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    assert completed.returncode == 0, completed.stdout
    for round in (1, 2):
        assert "1 native thread remains after test_sample.py::test_leaks_a_thread_and_a_pipe[%d]: leaky-test" % round \
            in completed.stdout, completed.stdout
        assert "2 fds remain open after test_sample.py::test_leaks_a_thread_and_a_pipe[%d]" % round in completed.stdout
    assert "module-pool" not in completed.stdout and "test_cleans_up" not in completed.stdout
    assert "test_garbage_cycle_holds_a_pipe" not in completed.stdout, completed.stdout
    [written] = list(out.glob("gilwatch.*.pytest.json"))
    document = json.loads(written.read_text())
    assert document["reporter"] == "pyhooks"
    kinds = sorted((f["kind"], f["context"]) for f in document["findings"])
    assert kinds == [("fd-leak", "test_sample.py::test_leaks_a_thread_and_a_pipe[1]"),
                     ("fd-leak", "test_sample.py::test_leaks_a_thread_and_a_pipe[2]"),
                     ("thread-leak", "test_sample.py::test_leaks_a_thread_and_a_pipe[1]"),
                     ("thread-leak", "test_sample.py::test_leaks_a_thread_and_a_pipe[2]")]


def test_fail_mode_fails_the_leaking_test_only(tmp_path):
    completed = subprocess.run(pytest_command(tmp_path, "--gilwatch-leaks=fail"), env=environment(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    assert completed.returncode == 1, completed.stdout
    # The second round confirms the growth: that is the test that fails.
    assert "ERROR at teardown of test_leaks_a_thread_and_a_pipe[2]" in completed.stdout, completed.stdout
    assert "the same kind left by test_sample.py::test_leaks_a_thread_and_a_pipe[1] is still there" \
        in completed.stdout, completed.stdout
    assert "6 passed, 1 error" in completed.stdout, completed.stdout


def test_findings_name_the_test_that_was_running(tmp_path, out_dir, monkeypatch):
    for name, value in environment().items():
        monkeypatch.setenv(name, value)
    run = lib.run_gilwatch(out_dir, pytest_command(tmp_path))
    assert set(run.kinds()) == {"lock-order-inversion", "thread-leak", "fd-leak"}, run.describe()
    tests_of = {kind: sorted(t for f in run.findings if f["kind"] == kind for t in f["tests"]) for kind in run.kinds()}
    assert tests_of["lock-order-inversion"] == ["test_sample.py::test_registry_inversion"]
    assert tests_of["thread-leak"] == ["test_sample.py::test_leaks_a_thread_and_a_pipe[1]",
                                       "test_sample.py::test_leaks_a_thread_and_a_pipe[2]"]


# ---- every interpreter ----

PYTHONS = lib.load_pythons()


@pytest.fixture(scope="module")
def pytest_interpreters(tmp_path_factory):
    """For each interpreter, one that can run pytest: itself when pytest imports there
    (Debian's, with python3-pytest), else a venv of it with pytest from PyPI."""
    chosen = {}
    for python in PYTHONS:
        has_pytest = subprocess.run([python["interpreter"], "-c", "import pytest"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL).returncode == 0
        if has_pytest:
            chosen[python["tag"]] = python["interpreter"]
            continue
        where = tmp_path_factory.mktemp("pytest-" + python["tag"])
        made = lib.run_bounded([python["interpreter"], "-m", "venv", str(where)], timeout=300)
        assert made.returncode == 0, made.describe()
        pip = lib.run_bounded([where / "bin" / "python", "-m", "pip", "install", "--quiet", "pytest"], timeout=600)
        assert pip.returncode == 0, "pip install pytest from PyPI failed:\n%s" % pip.describe()
        chosen[python["tag"]] = str(where / "bin" / "python")
    return chosen


@pytest.mark.parametrize("python", PYTHONS, ids=lib.python_ids(PYTHONS))
def test_findings_name_the_test_on_every_interpreter(tmp_path, out_dir, monkeypatch, python, pytest_interpreters):
    env = environment()
    env["PYTHONPATH"] = ":".join([str(lib.build_dir() / "lib" / "python"), python["module_dir"],
                                  str(lib.source_dir() / "scenarios" / "extensions" / "registry")])
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    command = pytest_command(tmp_path)
    command[0] = pytest_interpreters[python["tag"]]
    run = lib.run_gilwatch(out_dir, command)
    assert set(run.kinds()) == {"lock-order-inversion", "thread-leak", "fd-leak"}, run.describe()
    tests_of = {kind: sorted(t for f in run.findings if f["kind"] == kind for t in f["tests"]) for kind in run.kinds()}
    assert tests_of["lock-order-inversion"] == ["test_sample.py::test_registry_inversion"]
    assert tests_of["thread-leak"] == ["test_sample.py::test_leaks_a_thread_and_a_pipe[1]",
                                       "test_sample.py::test_leaks_a_thread_and_a_pipe[2]"]


# ---- pytest --gilwatch: pytest's own output, findings failing their test ----

WATCHED = textwrap.dedent("""\
    import subprocess, sys, pytest

    def test_blocks_holding_the_gil():
        import gilblock_buggy
        gilblock_buggy.wait_holding_gil("sleep", 150)

    @pytest.mark.gilwatch(allow=["gil-held-blocking"])
    def test_allowed_to_block():
        import gilblock_buggy
        gilblock_buggy.wait_holding_gil("join", 150)

    def test_clean():
        import gilblock_fixed
        gilblock_fixed.wait_holding_gil("sleep", 150)

    def test_fails_on_its_own():
        assert 1 == 2

    def test_subprocess_keeps_its_own_status():
        code = ("import gilblock_buggy; gilblock_buggy.wait_holding_gil('condvar', 150); "
                "raise SystemExit(3)")
        assert subprocess.run([sys.executable, "-c", code]).returncode == 3
    """)

AT_IMPORT = textwrap.dedent("""\
    import gilblock_buggy
    gilblock_buggy.wait_holding_gil("mutex", 150)

    def test_passes():
        pass
    """)


def watched_environment():
    env = environment()
    env["PYTHONPATH"] = ":".join([str(lib.build_dir() / "lib" / "python"), module_dir_for(PYTHON)])
    env["PATH"] = "%s:%s" % (lib.build_dir() / "bin", env.get("PATH", ""))
    env.pop("LD_PRELOAD", None)
    return env


def pytest_gilwatch(tmp_path, name, text, *options, env=None):
    """`python -m pytest --gilwatch` on one test file, as a user types it (the plugin named
    with -p, since the build tree is not installed), in tmp_path."""
    (tmp_path / name).write_text(text)
    command = [PYTHON, "-m", "pytest", "-p", "gilwatch.pytest_plugin", "-p", "no:cacheprovider", "--gilwatch",
               "--rootdir", str(tmp_path), *options, name]
    return subprocess.run(command, cwd=str(tmp_path), env=env or watched_environment(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)


def junit_failure_text(path, name):
    """The text of a test's `<failure>` in --junitxml: the plugin's failure text, alone
    (pytest's output also has `gilwatch run`'s text on stderr)."""
    import xml.etree.ElementTree as ElementTree
    for case in ElementTree.parse(str(path)).iter("testcase"):
        if case.get("name") == name:
            return "\n".join(child.text or "" for child in case if child.tag == "failure")
    return ""


FOLDED_ROW = re.compile(r"^ +\u2026 \d+ [a-z ,-]*(interpreter|test-runner)[a-z ,-]* frames$", re.M)


def internal_lines(text, finding):
    """Lines that are only a machine value: the finding's raw `detail` ("usleep",
    "mutex,mutex", "join,gil"), a list of words with commas, or a bare C API name."""
    bare = re.compile(r"^ *([a-z_]+(,[a-z_]+)+|_?Py[A-Za-z_]+) *$")
    return [line for line in text.splitlines()
            if line.strip() and (line.strip() == finding.get("detail") or bare.match(line))]


def junit_outcomes(path):
    import xml.etree.ElementTree as ElementTree
    outcomes = {}
    for case in ElementTree.parse(str(path)).iter("testcase"):
        problems = [(child.tag, child.get("message") or "") for child in case if child.tag in ("failure", "error")]
        outcomes[case.get("name")] = problems
    return outcomes


def test_pytest_gilwatch_prints_pytest_output_and_fails_the_test_with_the_finding(tmp_path):
    junit = tmp_path / "junit.xml"
    completed = pytest_gilwatch(tmp_path, "test_watched.py", WATCHED, "--junitxml", str(junit))
    out = completed.stdout
    # pytest's own output: progress, the failures, the summary line.
    assert "test_watched.py F..FF" in out, out
    assert "3 failed, 2 passed" in out, out
    assert "assert 1 == 2" in out, out
    # The finding fails its test, with kind, summary, Python and native frames.
    assert "gilwatch: 1 finding during test_watched.py::test_blocks_holding_the_gil" in out, out
    assert "gilwatch: gil-held-blocking\n  blocking call usleep while holding the GIL" in out, out
    assert "%s:5 in test_blocks_holding_the_gil" % (tmp_path / "test_watched.py") in out, out
    assert " in gilblock_wait_holding_gil " in out and "gilblock.c:" in out, out
    assert "FAILED test_watched.py::test_blocks_holding_the_gil" in out, out
    # At the end: every finding with its test, and where the report is.
    assert "gil-held-blocking in test_watched.py::test_blocks_holding_the_gil: blocking call usleep" in out, out
    assert "gil-held-blocking in test_watched.py::test_allowed_to_block (allowed by its marker)" in out, out
    # The subprocess's finding fails the test that started it; the subprocess's own
    # status (3) is what the test saw: its assertion held.
    assert "gil-held-blocking in test_watched.py::test_subprocess_keeps_its_own_status: blocking call " \
           "pthread_cond_wait" in out, out
    assert "assert 66 == 3" not in out and "where 66 = " not in out, out
    assert "in process " in out and ", started by the test" in out, out
    assert str(tmp_path / "gilwatch-out" / "report.html") in out, out
    # gilwatch run's text folds the interpreter's and pytest's frames.
    assert re.search(r"\n    \u2026 \d+ [a-z ,-]*interpreter[a-z ,-]* frames\n", out), out
    # pytest's status: tests failed.
    assert completed.returncode == 1, out
    outcomes = junit_outcomes(junit)
    assert outcomes["test_clean"] == [] and outcomes["test_allowed_to_block"] == [], outcomes
    [(tag, message)] = outcomes["test_subprocess_keeps_its_own_status"]
    assert tag == "failure" and "blocking call pthread_cond_wait while holding the GIL" in message, message
    [(tag, message)] = outcomes["test_blocks_holding_the_gil"]
    assert tag == "failure" and "gilwatch: gil-held-blocking\n  blocking call usleep while holding the GIL" in message, \
        message
    assert [tag for tag, _ in outcomes["test_fails_on_its_own"]] == ["failure"]
    document = json.loads((tmp_path / "gilwatch-out" / "findings.json").read_text())
    # The failure text is what the text report says of the finding (findings.json's
    # `text`): the fix, the interpreter's and pytest's frames folded, the extension's
    # frame in view, no raw detail line.
    [blocking] = [f for f in document["findings"] if "test_watched.py::test_blocks_holding_the_gil" in f["tests"]]
    failure = junit_failure_text(junit, "test_blocks_holding_the_gil")
    assert blocking["text"] in failure, failure
    assert re.search(r"^  fix: \S", failure, re.M), failure
    assert FOLDED_ROW.search(failure), failure
    assert re.search(r"^    #\d+ 0x[0-9a-f]+ in gilblock_wait_holding_gil \S*gilblock\.c:\d+ ", failure, re.M), failure
    assert "_PyEval_EvalFrameDefault" not in failure and "pluggy" not in failure, failure
    assert internal_lines(failure, blocking) == [], failure
    # A subprocess's finding: the same text, after the process it happened in.
    child = junit_failure_text(junit, "test_subprocess_keeps_its_own_status")
    assert re.search(r"^in process \d+, started by the test:\n==\d+==WARNING: gilwatch: gil-held-blocking$", child,
                     re.M), child
    assert re.search(r"^  fix: \S", child, re.M) and FOLDED_ROW.search(child), child
    assert sorted(t for f in document["findings"] for t in f["tests"]) == [
        "test_watched.py::test_allowed_to_block", "test_watched.py::test_blocks_holding_the_gil",
        "test_watched.py::test_subprocess_keeps_its_own_status"]


def test_gilwatch_full_stacks_unfolds_every_stack(tmp_path):
    junit = tmp_path / "junit.xml"
    completed = pytest_gilwatch(tmp_path, "test_watched.py", WATCHED, "--gilwatch-full-stacks", "--junitxml",
                                str(junit))
    out = completed.stdout
    assert "gilwatch: 1 finding during test_watched.py::test_blocks_holding_the_gil" in out, out
    assert " in gilblock_wait_holding_gil " in out, out
    assert "\u2026" not in out, out
    document = json.loads((tmp_path / "gilwatch-out" / "findings.json").read_text())
    deepest = max(len(t["native_frames"]) for f in document["findings"] for t in f["threads"])
    assert deepest > 24 and "\n    #%d " % (deepest - 1) in out, out
    # The failure text: every frame of the thread, the eval loop's and pytest's too, the fix.
    [blocking] = [f for f in document["findings"] if "test_watched.py::test_blocks_holding_the_gil" in f["tests"]]
    failure = junit_failure_text(junit, "test_blocks_holding_the_gil")
    assert not FOLDED_ROW.search(failure) and "\u2026" not in failure, failure
    frames = max(len(t["native_frames"]) for t in blocking["threads"])
    assert "\n    #%d 0x" % (frames - 1) in failure, failure
    assert "_PyEval_EvalFrameDefault" in failure, failure
    assert re.search(r"^  fix: \S", failure, re.M), failure
    assert internal_lines(failure, blocking) == [], failure
    assert completed.returncode == 1, out


HANGING = textwrap.dedent("""\
    import threading

    def test_quick():
        pass

    def test_waits_for_ever():
        threading.Event().wait()
    """)


def test_a_test_over_its_gilwatch_timeout_is_a_hang_naming_the_test(tmp_path):
    completed = pytest_gilwatch(tmp_path, "test_hanging.py", HANGING, "--gilwatch-timeout", "3")
    out = completed.stdout
    assert "test_hanging.py::test_waits_for_ever is still running after --gilwatch-timeout 3 s" in out, out
    document = json.loads((tmp_path / "gilwatch-out" / "findings.json").read_text())
    hangs = [f for f in document["findings"] if f["kind"] == "hang"]
    assert len(hangs) == 1, document["findings"]
    assert hangs[0]["tests"] == ["test_hanging.py::test_waits_for_ever"], hangs
    assert len(hangs[0]["threads"]) >= 2, hangs
    # faulthandler's Python stacks of every thread, on stderr, before the report.
    assert "in test_waits_for_ever" in out, out
    assert completed.returncode != 0, out


def test_tests_within_their_gilwatch_timeout_pass_without_a_hang(tmp_path):
    completed = pytest_gilwatch(tmp_path, "test_quick.py", "def test_quick():\n    pass\n",
                                "--gilwatch-timeout", "60")
    assert "1 passed" in completed.stdout, completed.stdout
    document = json.loads((tmp_path / "gilwatch-out" / "findings.json").read_text())
    assert document["findings"] == [], document["findings"]
    assert completed.returncode == 0, completed.stdout


def test_gilwatch_fail_never_reports_without_failing(tmp_path):
    junit = tmp_path / "junit.xml"
    completed = pytest_gilwatch(tmp_path, "test_watched.py", WATCHED, "--gilwatch-fail=never", "--junitxml",
                                str(junit))
    out = completed.stdout
    assert "test_watched.py ...F." in out, out
    assert "1 failed, 4 passed" in out, out
    assert "gil-held-blocking in test_watched.py::test_blocks_holding_the_gil: blocking call usleep" in out, out
    assert completed.returncode == 1, out  # test_fails_on_its_own only
    assert junit_outcomes(junit)["test_blocks_holding_the_gil"] == []


def test_findings_outside_any_test_fail_the_session(tmp_path):
    completed = pytest_gilwatch(tmp_path, "test_at_import.py", AT_IMPORT)
    out = completed.stdout
    assert "1 passed" in out, out
    assert "gil-held-blocking outside any test: blocking call pthread_mutex_lock" in out, out
    assert completed.returncode != 0, out
    never = pytest_gilwatch(tmp_path, "test_at_import.py", AT_IMPORT, "--gilwatch-fail=never")
    assert "gil-held-blocking outside any test" in never.stdout, never.stdout
    assert never.returncode == 0, never.stdout


def test_a_clean_suite_passes_and_lists_no_findings(tmp_path):
    clean = textwrap.dedent("""\
        def test_clean():
            import gilblock_fixed
            gilblock_fixed.wait_holding_gil("sleep", 150)
        """)
    completed = pytest_gilwatch(tmp_path, "test_clean.py", clean)
    assert "1 passed" in completed.stdout, completed.stdout
    assert "gilwatch: findings" not in completed.stdout, completed.stdout
    assert completed.returncode == 0, completed.stdout


# ---- processes started under gilwatch run keep their own status ----

CHILD_WITH_FINDING = "import gilblock_buggy; gilblock_buggy.wait_holding_gil('sleep', 150)"


def test_processes_keep_their_own_exit_status_unless_asked(tmp_path):
    env = watched_environment()
    script = "%s -c \"%s\"; echo child status $?" % (PYTHON, CHILD_WITH_FINDING)
    kept = subprocess.run([str(lib.gilwatch_path()), "run", "--out", str(tmp_path / "kept"), "--", "sh", "-c", script],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert "child status 0" in kept.stdout, kept.stdout + kept.stderr
    assert kept.returncode == 66, kept.stderr  # run's own verdict: there were findings
    forced = subprocess.run([str(lib.gilwatch_path()), "run", "--out", str(tmp_path / "forced"), "--process-exitcode",
                             "66", "--", "sh", "-c", script],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            timeout=120)
    assert "child status 66" in forced.stdout, forced.stdout + forced.stderr


def test_exitcode_ignores_tests_counts_only_findings_without_a_test(tmp_path):
    env = watched_environment()
    env["GILWATCH_CONTEXT"] = "test_x.py::test_y"
    attributed = subprocess.run([str(lib.gilwatch_path()), "run", "--out", str(tmp_path / "a"),
                                 "--exitcode-ignores-tests", "--", PYTHON, "-c", CHILD_WITH_FINDING],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                                timeout=120)
    assert attributed.returncode == 0, attributed.stderr
    assert "during test_x.py::test_y" in attributed.stderr, attributed.stderr
    del env["GILWATCH_CONTEXT"]
    outside = subprocess.run([str(lib.gilwatch_path()), "run", "--out", str(tmp_path / "b"),
                              "--exitcode-ignores-tests", "--", PYTHON, "-c", CHILD_WITH_FINDING],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                             timeout=120)
    assert outside.returncode == 66, outside.stderr


# ---- singletons versus leaks ----

LAZY_LIBRARY = textwrap.dedent("""\
    import threading

    _pool = []
    _calls = []

    def pool():
        # A library's global context: its background thread starts on first use, once.
        if not _pool:
            stop = threading.Event()
            threading.Thread(target=stop.wait, name="lazy-singleton", daemon=True).start()
            _pool.append(stop)
        return _pool[0]

    def leaky_call():
        # A leak: every call leaves one more thread behind.
        stop = threading.Event()
        threading.Thread(target=stop.wait, name="per-call-leak", daemon=True).start()
        _calls.append(stop)
    """)

SINGLETON_TESTS = textwrap.dedent("""\
    import lazy_library

    def test_first_user_of_the_library():
        lazy_library.pool()

    def test_second_user_of_the_library():
        lazy_library.pool()

    def test_leaks_once():
        lazy_library.leaky_call()

    def test_leaks_again():
        lazy_library.leaky_call()

    def test_after_everything():
        lazy_library.pool()
    """)


def singleton_session(tmp_path, *options, ini=None):
    (tmp_path / "lazy_library.py").write_text(LAZY_LIBRARY)
    (tmp_path / "test_singletons.py").write_text(SINGLETON_TESTS)
    if ini is not None:
        (tmp_path / "pytest.ini").write_text(ini)
    env = environment()
    env["PYTHONPATH"] += ":" + str(tmp_path)
    command = [PYTHON, "-m", "pytest", "-p", "gilwatch.pytest_plugin", "-p", "no:cacheprovider", "--rootdir",
               str(tmp_path), "--gilwatch-out", str(tmp_path / "leaks"), *options, "test_singletons.py"]
    return subprocess.run(command, cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=120)


def test_a_lazy_singleton_is_process_lifetime_and_growth_is_a_leak(tmp_path):
    completed = singleton_session(tmp_path, "--gilwatch-leaks=fail")
    out = completed.stdout
    # Growth: the second leaking test confirms both; it is the one that fails.
    assert "1 native thread remains after test_singletons.py::test_leaks_once: per-call-leak" in out, out
    assert "1 native thread remains after test_singletons.py::test_leaks_again: per-call-leak" in out, out
    assert "ERROR at teardown of test_leaks_again" in out, out
    assert "5 passed, 1 error" in out, out
    # The singleton: not a leak, listed as process-lifetime, blamed on nobody.
    assert "lazy-singleton" not in out.split("process-lifetime threads and fds")[0], out
    assert "first left by test_singletons.py::test_first_user_of_the_library, outlived every later test without " \
           "growing: threads lazy-singleton" in out, out
    [written] = list((tmp_path / "leaks").glob("gilwatch.*.pytest.json"))
    findings = json.loads(written.read_text())["findings"]
    assert sorted((f["kind"], f["context"]) for f in findings) == [
        ("thread-leak", "test_singletons.py::test_leaks_again"), ("thread-leak", "test_singletons.py::test_leaks_once")]


def test_declared_singletons_are_never_candidates(tmp_path):
    completed = singleton_session(tmp_path, ini="[pytest]\ngilwatch_singletons = thread:lazy-* thread:per-call-*\n")
    out = completed.stdout
    assert completed.returncode == 0, out
    assert "per-call-leak" not in out and "lazy-singleton" not in out, out
    assert not list((tmp_path / "leaks").glob("gilwatch.*.pytest.json"))


# ---- from PyPI: pytest-xdist, pyzmq ----

@pytest.fixture(scope="module")
def pypi_venv(tmp_path_factory):
    """A venv of Debian's interpreter with pytest and pytest-xdist from PyPI (and pyzmq
    when a wheel installs); skips when PyPI cannot be reached."""
    where = tmp_path_factory.mktemp("pytest-pypi")
    made = lib.run_bounded([PYTHON, "-m", "venv", str(where)], timeout=300)
    assert made.returncode == 0, made.describe()
    python = where / "bin" / "python"
    pip = lib.run_bounded([python, "-m", "pip", "install", "--quiet", "pytest", "pytest-xdist"], timeout=600)
    if pip.returncode != 0:
        pytest.skip("pip install pytest pytest-xdist from PyPI failed:\n%s" % pip.describe())
    lib.run_bounded([python, "-m", "pip", "install", "--quiet", "--only-binary", ":all:", "pyzmq"], timeout=600)
    return python


XDIST_TESTS = textwrap.dedent("""\
    def test_sleeps_holding_the_gil():
        import gilblock_buggy
        gilblock_buggy.wait_holding_gil("sleep", 150)

    def test_joins_holding_the_gil():
        import gilblock_buggy
        gilblock_buggy.wait_holding_gil("join", 150)

    def test_clean_a():
        pass

    def test_clean_b():
        pass
    """)


def test_xdist_workers_fail_their_tests_and_one_report_merges_them(tmp_path, pypi_venv):
    (tmp_path / "test_parallel.py").write_text(XDIST_TESTS)
    junit = tmp_path / "junit.xml"
    command = [str(pypi_venv), "-m", "pytest", "-p", "gilwatch.pytest_plugin", "-p", "no:cacheprovider", "--gilwatch",
               "-n", "2", "--rootdir", str(tmp_path), "--junitxml", str(junit), "test_parallel.py"]
    completed = subprocess.run(command, cwd=str(tmp_path), env=watched_environment(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
    out = completed.stdout
    assert "2 workers [4 items]" in out, out
    assert "2 failed, 2 passed" in out, out
    assert "gilwatch: 1 finding during test_parallel.py::test_sleeps_holding_the_gil" in out, out
    assert "gilwatch: 1 finding during test_parallel.py::test_joins_holding_the_gil" in out, out
    assert "gil-held-blocking in test_parallel.py::test_sleeps_holding_the_gil: blocking call usleep" in out, out
    assert "gil-held-blocking in test_parallel.py::test_joins_holding_the_gil: blocking call pthread_join" in out, out
    assert completed.returncode == 1, out
    outcomes = junit_outcomes(junit)
    assert sorted(t for t in outcomes if outcomes[t]) == ["test_joins_holding_the_gil", "test_sleeps_holding_the_gil"]
    # One merged report, every finding on its test, from the workers' processes.
    document = json.loads((tmp_path / "gilwatch-out" / "findings.json").read_text())
    tests = sorted((f["detail"], tuple(f["tests"])) for f in document["findings"])
    assert tests == [("pthread_join", ("test_parallel.py::test_joins_holding_the_gil",)),
                     ("usleep", ("test_parallel.py::test_sleeps_holding_the_gil",))], tests
    controller = [p["pid"] for p in document["processes"] if "--gilwatch" in p.get("argv", [])]
    assert controller and not set(controller) & {pid for f in document["findings"] for pid in f["pids"]}


ZMQ_TESTS = textwrap.dedent("""\
    import pytest, zmq

    @pytest.mark.parametrize("round", range(4))
    def test_uses_the_global_context(round):
        context = zmq.Context.instance()
        sender, receiver = context.socket(zmq.PAIR), context.socket(zmq.PAIR)
        receiver.bind("inproc://t%d" % round)
        sender.connect("inproc://t%d" % round)
        sender.send(b"x" * 100000, copy=False)  # zero-copy: starts pyzmq's gc thread
        assert len(receiver.recv()) == 100000
        sender.close()
        receiver.close()
    """)


def test_pyzmq_global_context_is_process_lifetime_not_a_leak(tmp_path, pypi_venv):
    if subprocess.run([str(pypi_venv), "-c", "import zmq"]).returncode != 0:
        pytest.skip("pyzmq did not install from PyPI")
    (tmp_path / "test_zmq.py").write_text(ZMQ_TESTS)
    env = environment()
    command = [str(pypi_venv), "-m", "pytest", "-p", "gilwatch.pytest_plugin", "-p", "no:cacheprovider",
               "--rootdir", str(tmp_path), "--gilwatch-leaks=fail", "--gilwatch-out", str(tmp_path / "leaks"),
               "test_zmq.py"]
    completed = subprocess.run(command, cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               universal_newlines=True, timeout=300)
    out = completed.stdout
    assert "4 passed" in out and completed.returncode == 0, out
    assert "native thread and fd leaks" not in out, out
    assert "first left by test_zmq.py::test_uses_the_global_context[0], outlived every later test without " \
           "growing: threads " in out and "ZMQbg/Reaper" in out, out
    assert not list((tmp_path / "leaks").glob("gilwatch.*.pytest.json"))


# ---- suppressions and baseline, forwarded to the gilwatch command ----

def test_suppressions_file_accepts_a_finding(tmp_path):
    suppressions = tmp_path / "gilwatch.supp"
    suppressions.write_text("# the fixture blocks on purpose\ngil-held-blocking:gilblock_wait_holding_gil\n")
    completed = pytest_gilwatch(tmp_path, "test_watched.py", WATCHED, "--gilwatch-suppressions", str(suppressions))
    assert "1 failed, 4 passed" in completed.stdout, completed.stdout  # test_fails_on_its_own only
    assert "gilwatch: 1 finding during" not in completed.stdout, completed.stdout


def test_baseline_fails_only_new_findings(tmp_path):
    # Without a baseline: the test blocking with the GIL, the one whose subprocess does, and
    # the one that fails by itself.
    first = pytest_gilwatch(tmp_path, "test_watched.py", WATCHED)
    assert "3 failed, 2 passed" in first.stdout, first.stdout
    baseline = tmp_path / "baseline.json"
    written = subprocess.run([str(lib.gilwatch_path()), "report", str(tmp_path / "gilwatch-out"), "-q",
                              "--write-baseline", str(baseline)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True)
    assert written.returncode == 0 and baseline.is_file(), written.stdout
    known = pytest_gilwatch(tmp_path, "test_watched.py", WATCHED, "--gilwatch-baseline", str(baseline))
    assert "1 failed, 4 passed" in known.stdout, known.stdout
    always = pytest_gilwatch(tmp_path, "test_watched.py", WATCHED, "--gilwatch-baseline", str(baseline),
                             "--gilwatch-fail=always")
    assert "3 failed, 2 passed" in always.stdout, always.stdout


# ---- the leak verdict alone ----

def leak_tracker(*singletons):
    import sys
    sys.path.insert(0, str(lib.build_dir() / "lib" / "python"))
    try:
        from gilwatch.pytest_plugin import LeakTracker
        from gilwatch.snapshot import Snapshot
    finally:
        sys.path.pop(0)
    return LeakTracker(singletons), Snapshot


def test_leak_tracker_confirms_growth_forgets_what_ends_and_keeps_singletons():
    tracker, Snapshot = leak_tracker("fd:/dev/shm/*")
    now = Snapshot({10: "pool", 11: "worker"}, {5: "pipe:[1]", 6: "/dev/shm/x"})
    assert tracker.after_test("t1", {10: "pool", 11: "worker"}, {5: "pipe:[1]", 6: "/dev/shm/x"}, now) == []
    # t2: the worker of t1 ended; a new one is a candidate again, not growth.
    now = Snapshot({10: "pool", 12: "worker"}, {5: "pipe:[1]", 6: "/dev/shm/x"})
    assert tracker.after_test("t2", {12: "worker"}, {}, now) == []
    # t3: a second pipe while t1's is still open: growth, both confirmed.
    now = Snapshot({10: "pool", 12: "worker"}, {5: "pipe:[1]", 6: "/dev/shm/x", 7: "pipe:[2]"})
    confirmed = tracker.after_test("t3", {}, {7: "pipe:[2]"}, now)
    assert sorted((c.nodeid, c.key) for c in confirmed) == [("t1", 5), ("t3", 7)]
    # t4: one more pipe is a leak at once, even with the earlier ones closed.
    now = Snapshot({10: "pool", 12: "worker"}, {8: "pipe:[3]"})
    assert [(c.nodeid, c.key) for c in tracker.after_test("t4", {}, {8: "pipe:[3]"}, now)] == [("t4", 8)]
    lifetime = sorted((c.nodeid, c.target) for c in tracker.process_lifetime())
    assert lifetime == [("t1", "pool"), ("t2", "worker")], lifetime  # /dev/shm/x declared: never a candidate


AT_EXIT = textwrap.dedent("""\
    import atexit

    def _block_at_exit():
        import gilblock_buggy
        gilblock_buggy.wait_holding_gil("sleep", 150)

    atexit.register(_block_at_exit)

    def test_passes():
        pass
    """)


def test_a_finding_after_the_session_makes_gilwatch_run_fail(tmp_path):
    completed = pytest_gilwatch(tmp_path, "test_at_exit.py", AT_EXIT)
    out = completed.stdout
    assert "1 passed" in out, out
    assert "gilwatch: 1 finding (gil-held-blocking)" in out, out
    assert completed.returncode == 66, out  # gilwatch run's: a finding outside any test
    never = pytest_gilwatch(tmp_path, "test_at_exit.py", AT_EXIT, "--gilwatch-fail=never")
    assert "gilwatch: 1 finding (gil-held-blocking)" in never.stdout, never.stdout
    assert never.returncode == 0, never.stdout
