"""CPython's own tests under `gilwatch run`: they pass as they do without gilwatch, with zero
findings except test_sqlite3's. Debian's python3.11 gets its tests from
libpython3.11-testsuite (scripts/install-deps.sh); pyenv's interpreters carry theirs.

- The threading tests, on every interpreter.
- test_signal, test_subprocess and test_multiprocessing_fork (signals with threads,
  fork/exec with threads and fds, fork with locks and pools), on Debian's 3.11 and pyenv's
  3.13. A light set of their test classes by default (SUITE_LIGHT_SETS, about a minute
  for all six runs on 2 cores); GILWATCH_CPYTHON_SUITES=full runs every class (about ten
  minutes).
- test_sqlite3 on the same two (Debian's test package has none: a skip that says so): it
  passes, and its one finding is `_sqlite3`'s lock-order inversion (connection mutex
  and GIL), seen on many connections (its instances), nothing else.
"""

import os
import re
import subprocess

import pytest

import gilwatch_testlib as lib

PYTHONS = lib.load_pythons()
MODULES = ["test_threading", "test_thread", "test_threadsignals", "test_queue"]
# Fails without gilwatch too on interpreters whose start-up imports threading already
# (pyenv's 3.11.7 here): "threading is already imported".
IGNORED = ["test_import_from_another_thread"]

# The interpreters the longer suites run on: the static-libpython one and the newest
# shared-libpython one.
SUITE_PYTHONS = ["debian-3.11", "pyenv-3.13"]

# Test classes (`python -m test MODULE -m PATTERN ...`) kept in the light set: the parts
# that exercise what gilwatch hooks. Left out by default: test_signal's ItimerTest and
# SiginterruptTest (one thread, timers; SiginterruptTest alone takes 35 s on 3.11),
# test_subprocess's ProcessTestCaseNoPoll (ProcessTestCase again without poll()), the
# Win32 classes, and multiprocessing's thread- and manager-backed copies of the same tests
# and its slow timing tests (TestWait, TestTimeouts).
SUITE_LIGHT_SETS = {
    "test_signal": [
        "GenericTests", "PosixTests", "WakeupFDTests",
        "WakeupSignalTests",        # signals while threads run; set_wakeup_fd
        "WakeupSocketSignalTests",
        "PendingSignalsTests",      # pthread_kill, pthread_sigmask, sigwait in threads
        "StressTest",               # handlers re-entered, signals from a thread
        "RaiseSignalTest",
        "PidfdSignalTest",          # 3.13 only; matches nothing on 3.11
    ],
    "test_subprocess": [
        "ProcessTestCase",          # test_threadsafe_wait, communicate, timeouts
        "POSIXProcessTestCase",     # pass_fds, close_fds, preexec_fn, signals, fork_exec
        "RunFuncTestCase", "ContextManagerTests", "MiscTests",
    ],
    "test_multiprocessing_fork": [
        "WithProcessesTestProcess", "WithProcessesTestLock", "WithProcessesTestSemaphore",
        "WithProcessesTestCondition", "WithProcessesTestEvent", "WithProcessesTestBarrier",
        "WithProcessesTestQueue",
        "WithProcessesTestPool", "WithThreadsTestPool", "WithProcessesTestPoolWorkerLifetime",
        "WithProcessesTestFinalize",  # finalizers run from threads while others fork
        "WithManagerTestLock", "WithManagerTestPool",  # the manager's server threads
        "TestForkAwareThreadLock", "TestIgnoreEINTR", "TestCloseFds", "TestSimpleQueue",
    ],
}
# Every class of the three passes without gilwatch here on both interpreters (full runs,
# 2026-12): nothing is ignored. Skipped by the suites themselves: the Windows classes,
# test_vfork_used_when_expected (no strace), the RLIMIT_NPROC and setreuid tests as root.
SUITE_IGNORED = {"test_signal": [], "test_subprocess": [], "test_multiprocessing_fork": []}
FULL = os.environ.get("GILWATCH_CPYTHON_SUITES") == "full"
# Under gilwatch: light sets take 10-25 s each, full suites up to about 3 minutes.
SUITE_TIMEOUT = 1200 if FULL else 600


def has_test_module(python, module):
    return subprocess.run([python["interpreter"], "-c", "import test.%s" % module], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def has_test_suite(python):
    return has_test_module(python, "test_threading")


def require_test_suite(python):
    if not has_test_suite(python):
        if python["interpreter"] == str(lib.DEBIAN_PYTHON):
            pytest.fail("Debian's test suite is missing: apt-get install libpython3.11-testsuite")
        pytest.skip("%s has no test package" % python["interpreter"])


def suite_python(tag):
    found = [p for p in PYTHONS if p["tag"] == tag]
    if not found:
        if tag.startswith("debian-") and lib.DEBIAN_PYTHON.exists():
            pytest.fail("pythons.json has no entry for %s" % lib.DEBIAN_PYTHON)
        pytest.skip("no %s interpreter here" % tag)
    return found[0]


@pytest.mark.parametrize("python", PYTHONS, ids=lib.python_ids(PYTHONS))
def test_threading_tests_run_clean(out_dir, python):
    require_test_suite(python)
    command = [python["interpreter"], "-m", "test"]
    for name in IGNORED:
        command += ["-i", name]
    run = lib.run_gilwatch(out_dir, command + MODULES, timeout=900)
    lib.assert_clean(run)
    assert "SUCCESS" in run.completed.stdout, run.describe()


def suite_command(python, module):
    command = [python["interpreter"], "-m", "test", module]
    if not FULL:
        for pattern in SUITE_LIGHT_SETS[module]:
            command += ["-m", pattern]
    for pattern in SUITE_IGNORED[module]:
        command += ["-i", pattern]
    return command


def count_tests_ran(stdout):
    """How many tests unittest says it ran (`-v`: one "Ran N tests" per test module)."""
    return sum(int(n) for n in re.findall(r"^Ran (\d+) tests? in ", stdout, re.MULTILINE))


@pytest.mark.parametrize("module", sorted(SUITE_LIGHT_SETS))
@pytest.mark.parametrize("tag", SUITE_PYTHONS)
def test_cpython_suite_runs_clean(out_dir, tag, module):
    python = suite_python(tag)
    require_test_suite(python)
    command = suite_command(python, module)
    # The same selection, listed without running it: what a plain run would run.
    listed = lib.run_bounded(command + ["--list-cases"], timeout=120)
    assert listed.returncode == 0, listed.describe()
    expected = len(listed.stdout.splitlines())
    assert expected > 0, listed.describe()
    run = lib.run_gilwatch(out_dir, command + ["-v"], timeout=SUITE_TIMEOUT)
    lib.assert_clean(run)
    assert "Tests result: SUCCESS" in run.completed.stdout, run.describe()
    assert count_tests_ran(run.completed.stdout) == expected, run.describe()


def sqlite_functions(thread):
    """The native functions of a finding's edge that are in `_sqlite3` and in libsqlite3."""
    frames = thread.get("native_frames", [])
    in_module = {lib.normalize_function(f.get("function")) for f in frames if "_sqlite3" in f.get("module", "")}
    in_library = {lib.normalize_function(f.get("function")) for f in frames if "libsqlite3" in f.get("module", "")}
    return in_module, in_library


def assert_sqlite_callback_inversion(finding):
    """One `_sqlite3` inversion: a connection's mutex (first taken in libsqlite3) and the
    GIL; one edge asks for the GIL in one of `_sqlite3`'s callback wrappers, called by
    SQLite under the mutex; the other takes the mutex in libsqlite3, called by `_sqlite3`
    with the GIL held. Returns the callback wrappers on the first edge."""
    assert finding["kind"] == lib.LOCK_ORDER_INVERSION, finding["summary"]
    locks = finding["locks"]
    assert sorted(lock["kind"] for lock in locks) == ["gil", "mutex"], locks
    mutex = [lock for lock in locks if lock["kind"] == "mutex"][0]
    assert any("libsqlite3" in site.get("module", "") for site in mutex["first_site"]), mutex
    threads = finding["threads"]
    assert len(threads) == 2, lib.roles(finding)
    under_mutex = [t for t in threads if t["role"] == "took the GIL while holding mutex " + mutex["address"]]
    under_gil = [t for t in threads if t["role"] == "took mutex %s while holding the GIL" % mutex["address"]]
    assert len(under_mutex) == 1 and len(under_gil) == 1, lib.roles(finding)
    module, library = sqlite_functions(under_mutex[0])
    callbacks = {name for name in module if name.endswith("_callback")}
    assert callbacks and library, under_mutex[0]["native_frames"]
    module, library = sqlite_functions(under_gil[0])
    assert module and library, under_gil[0]["native_frames"]
    return callbacks


@pytest.mark.parametrize("tag", SUITE_PYTHONS)
def test_sqlite3_tests_pass_and_report_the_callback_inversion(out_dir, tag):
    """test_sqlite3 registers callbacks (functions, aggregates, collations, authorizers,
    progress and trace handlers) with the GIL held, which takes the connection mutex, and
    SQLite calls them under that mutex, where they ask for the GIL: both orders on the
    same connection. That is `_sqlite3`'s real inversion (two threads sharing the
    connection deadlock on it: test_sqlite_callback.py), reported as a risk even though
    each of these connections is used by one thread: the suite passes, and its one finding
    is that inversion, over the connection mutexes and the GIL, with the connections as
    its instances."""
    python = suite_python(tag)
    require_test_suite(python)
    if not has_test_module(python, "test_sqlite3"):
        if python["interpreter"] == str(lib.DEBIAN_PYTHON):
            pytest.skip("Debian's libpython3.11-testsuite has no test.test_sqlite3")
        pytest.fail("%s has a test package without test_sqlite3" % python["interpreter"])
    command = [python["interpreter"], "-m", "test", "test_sqlite3"]
    listed = lib.run_bounded(command + ["--list-cases"], timeout=120)
    assert listed.returncode == 0, listed.describe()
    expected = len(listed.stdout.splitlines())
    assert expected > 0, listed.describe()
    run = lib.run_gilwatch(out_dir, command + ["-v"], timeout=SUITE_TIMEOUT)
    assert "Tests result: SUCCESS" in run.completed.stdout, run.describe()
    assert count_tests_ran(run.completed.stdout) == expected, run.describe()
    assert run.returncode == lib.FINDINGS_EXIT_STATUS, run.describe()
    assert run.findings, run.describe()
    # One bug, one finding: the connection mutexes are one lock class, whichever
    # callback and setter took the two orders (eleven findings, one per pair of places,
    # before findings were keyed by lock class); the connections are its instances.
    assert run.kinds() == [lib.LOCK_ORDER_INVERSION], run.describe()
    [finding] = run.findings
    assert assert_sqlite_callback_inversion(finding), finding
    assert finding["occurrences"] > 1, finding["occurrences"]
    instances = finding["instances"]
    assert len(instances) > 1, instances
    # Each instance is one connection's mutex (the GIL is left out of the addresses).
    assert all(len(i["addresses"]) == 1 for i in instances), instances
    assert len({i["addresses"][0] for i in instances}) > 1, instances
