"""CPython 3.14 and 3.15, as Debian forky ships them (scripts/make-debian-root.sh: non-PIE
executables with libpython linked in, stripped): the C-API fixtures are compiled in the
root with its gcc against each version's headers, and the build's own `gilwatch run`
runs them there (the checkout bind-mounted at its real path; nothing of the build
machine's /usr/lib in the root; the command gets forky's libtbb12, libdw and libelf from a directory
beside the root through LD_LIBRARY_PATH). Each buggy fixture gives the finding it gives
on 3.11 (test_registry.py, test_detector_extensions.py, test_interpreters.py), each
fixed twin none; subinterpreters with their own GIL — also through 3.14's public
concurrent.interpreters — give no false inversion. Skipped, with make-debian-root.sh's
reason, when the root cannot be made."""

import json
import pathlib
import xml.etree.ElementTree as ET

import pytest

import debian_root
import gilwatch_testlib as lib

ROOT_VERSIONS = ("3.14", "3.15")
# The libraries `gilwatch` (the command, not libgilwatch.so) needs that the root lacks
# (oneTBB; elfutils' libdw and libelf, the symbolizer).
COMMAND_PACKAGES = ("libtbb12", "libdw1t64", "libelf1t64")
# module name -> (scenario directory, source, preprocessor definitions)
FIXTURES = {
    "registry_buggy": ("registry", "registry.c", ["REGISTRY_FIXED=0"]),
    "registry_fixed": ("registry", "registry.c", ["REGISTRY_FIXED=1"]),
    "teardown_buggy": ("teardown", "teardown.c", ["TEARDOWN_FIXED=0"]),
    "teardown_fixed": ("teardown", "teardown.c", ["TEARDOWN_FIXED=1"]),
    "capi_buggy": ("capi", "capi.c", ["CAPI_FIXED=0"]),
    "capi_fixed": ("capi", "capi.c", ["CAPI_FIXED=1"]),
    "finalize": ("finalize", "finalize.c", []),
    "finrisk": ("finrisk", "finrisk.c", []),
    "subinterp_fixture": ("subinterp", "subinterp.c", []),
    "pymutex_fixture": ("pymutex", "pymutex.c", []),
    "blockon_buggy": ("blockon", "blockon.c", ["BLOCKON_FIXED=0"]),
    "blockon_fixed": ("blockon", "blockon.c", ["BLOCKON_FIXED=1"]),
    "futexlock_buggy": ("futexlock", "futexlock.c", ["FUTEXLOCK_FIXED=0"]),
    "futexlock_fixed": ("futexlock", "futexlock.c", ["FUTEXLOCK_FIXED=1"]),
    "gilblock_buggy": ("gilblock", "gilblock.c", ["GILBLOCK_FIXED=0"]),
    "gilblock_fixed": ("gilblock", "gilblock.c", ["GILBLOCK_FIXED=1"]),
    "poison_buggy": ("poison", "poison.c", ["POISON_FIXED=0"]),
    "poison_fixed": ("poison", "poison.c", ["POISON_FIXED=1"]),
    "stwpause_buggy": ("stwpause", "stwpause.c", ["STWPAUSE_FIXED=0"]),
    "stwpause_fixed": ("stwpause", "stwpause.c", ["STWPAUSE_FIXED=1"]),
}
# As cmake/GilwatchPython.cmake builds them (RelWithDebInfo).
CFLAGS = "-shared -fPIC -O2 -g -DNDEBUG -fno-omit-frame-pointer -fvisibility=hidden -pthread"
BUILD_TIMEOUT = 600


@pytest.fixture(scope="module")
def root():
    return debian_root.debian_root()


@pytest.fixture(scope="module")
def command_libraries(root):
    return debian_root.extra_packages_dir(root, COMMAND_PACKAGES)


class RootPython:
    """One of the root's interpreters with the fixtures compiled for it in WORK."""

    def __init__(self, root, libraries, version, work):
        self.root = root
        self.libraries = libraries
        self.version = version
        self.interpreter = "/usr/bin/python" + version
        self.work = work
        self.module_dir = work / "ext"

    def binds(self, *more):
        dirs = [lib.source_dir()]
        if lib.source_dir() not in lib.build_dir().parents:
            dirs.append(lib.build_dir())
        # The command's libraries, beside the root: seen inside at the same path.
        return dirs + [self.libraries, self.work, *more]

    def build(self):
        self.module_dir.mkdir()
        for module, (scenario, source, definitions) in FIXTURES.items():
            path = lib.source_dir() / "scenarios" / "extensions" / scenario / source
            defines = " ".join("-D" + d for d in definitions)
            completed = self.root.run(
                ["sh", "-c", 'exec gcc %s $(%s-config --includes) %s -o "%s/%s$(%s-config --extension-suffix)" "%s"'
                 % (CFLAGS, self.interpreter, defines, self.module_dir, module, self.interpreter, path)],
                binds=self.binds(), timeout=BUILD_TIMEOUT)
            assert completed.returncode == 0, completed.describe()

    def gilwatch_run(self, out_dir, command, also_bind=(), timeout=lib.RUN_TIMEOUT_SECONDS, options=()):
        """The build's `gilwatch run --out OUT_DIR [OPTIONS] -- COMMAND...` inside the root."""
        completed = self.root.run([lib.gilwatch_path(), "run", "--out", out_dir, *options, "--", *command],
                                  binds=self.binds(out_dir, *also_bind), cwd=self.work,
                                  env={"LD_LIBRARY_PATH": self.libraries}, timeout=timeout)
        findings_file = pathlib.Path(out_dir) / "findings.json"
        if not findings_file.is_file():
            pytest.fail("gilwatch wrote no %s\n%s" % (findings_file, completed.describe()))
        return lib.GilwatchRun(completed, pathlib.Path(out_dir), json.loads(findings_file.read_text()))

    def drive(self, out_dir, scenario, *arguments, options=(), timeout=lib.RUN_TIMEOUT_SECONDS):
        driver = lib.source_dir() / "scenarios" / "extensions" / scenario / "drive.py"
        return self.gilwatch_run(out_dir, [self.interpreter, driver, *arguments, "--module-dir", self.module_dir],
                                 options=options, timeout=timeout)


@pytest.fixture(scope="module", params=ROOT_VERSIONS, ids=["debian-forky-%s" % v for v in ROOT_VERSIONS])
def python(request, root, command_libraries, tmp_path_factory):
    p = RootPython(root, command_libraries, request.param, tmp_path_factory.mktemp("py" + request.param))
    p.build()
    return p


def test_the_command_runs_in_the_root_with_libraries_from_beside_it(root, command_libraries):
    """The root itself stays without the build's libraries; the command's come from the
    root's own Debian packages, unpacked beside it."""
    assert root.path not in command_libraries.parents, command_libraries
    assert sorted(p.name for p in command_libraries.glob("libtbb.so.12*")), command_libraries
    for directory in ("usr/lib", "lib"):
        assert not list((root.path / directory).rglob("libtbb*.so*")), directory


def test_the_interpreter_is_the_roots_and_tested(python, out_dir):
    run = python.gilwatch_run(out_dir, [python.interpreter, "-c", "import sys; print(sys.version)"])
    lib.assert_clean(run)
    assert run.completed.stdout.startswith(python.version + "."), run.describe()
    assert run.document["processes"][0]["python"].startswith(python.version + "."), run.document["processes"]
    assert run.document["untested_pythons"] == [], run.document
    # Debian's builds have a GIL: their _PyRuntime's debug offsets say free_threaded = 0.
    assert run.document["processes"][0]["free_threaded"] is False, run.document["processes"]
    assert run.document["processes"][0]["checks_off"] == [], run.document["processes"]
    assert run.document["free_threaded_pythons"] == 0, run.document
    assert "untested" not in run.completed.stderr and "not among the versions" not in run.completed.stderr, \
        run.describe()


# ---- registry (test_registry.py) ----

def test_buggy_registry_reports_gil_rwlock_inversion(python, out_dir):
    run = python.drive(out_dir, "registry", "buggy")
    finding = lib.assert_single_inversion(run, lock_count=2, lock_kinds=["gil", "rwlock"])
    assert [lock["name"] for lock in finding["locks"] if lock["kind"] == "gil"] == ["GIL"]
    assert "registry_buggy: " in run.completed.stdout, run.describe()
    threads = finding["threads"]
    registering = [t for t in threads if "register_tasks" in lib.python_functions(t)]
    assert registering, [t.get("python_frames") for t in threads]
    frame = next(f for f in registering[0]["python_frames"] if f["function"] == "register_tasks")
    assert frame["file"].endswith("drive.py") and int(frame["line"]) > 0, frame
    assert "registry_store" in lib.native_functions(registering[0]), sorted(lib.native_functions(registering[0]))
    assert any("call_task_with_gil" in lib.native_functions(t) for t in threads), \
        [sorted(lib.native_functions(t)) for t in threads]


def test_fixed_registry_gets_no_findings(python, out_dir):
    run = python.drive(out_dir, "registry", "fixed")
    lib.assert_clean(run)
    assert "registry_fixed: " in run.completed.stdout, run.describe()


# ---- the runtime detectors (test_detector_extensions.py) ----

def test_teardown_join_with_gil_held_deadlocks(python, out_dir):
    run = python.drive(out_dir, "teardown", "buggy")
    finding = lib.assert_deadlock(run, probable=False)
    roles = lib.roles(finding)
    assert any(role.startswith("joins thread") and "while holding the GIL" in role for role in roles), roles
    assert any(role.startswith("waits for the GIL held by thread") for role in roles), roles
    assert any(lock["kind"] == "gil" for lock in finding["locks"]), finding


def test_teardown_fixed_is_clean(python, out_dir):
    lib.assert_clean(python.drive(out_dir, "teardown", "fixed"))


# ---- stop-the-world fixture (test_free_threading.py) ----

@pytest.mark.parametrize("variant", ["gc", "traverse", "atfork"])
def test_blocking_holding_the_gil_against_a_thread_that_must_attach_deadlocks(python, out_dir, variant):
    run = python.drive(out_dir, "stwpause", "buggy", variant)
    finding = lib.assert_deadlock(run, probable=False)
    roles = lib.roles(finding)
    assert any("while holding the GIL" in role for role in roles), roles
    assert any(role.startswith("waits for the GIL held by thread") for role in roles), roles
    assert len(lib.findings_of(run, lib.LOCK_ORDER_INVERSION)) == 1, run.describe()


@pytest.mark.parametrize("variant", ["gc", "traverse", "atfork"])
def test_stwpause_fixed_is_clean(python, out_dir, variant):
    lib.assert_clean(python.drive(out_dir, "stwpause", "fixed", variant))


def test_block_on_with_gil_held_is_a_probable_deadlock(python, out_dir):
    run = python.drive(out_dir, "blockon", "buggy")
    finding = lib.assert_deadlock(run, probable=True)
    roles = lib.roles(finding)
    assert any("condition variable" in role and "while holding the GIL" in role for role in roles), roles
    assert any(role.startswith("waits for the GIL") for role in roles), roles
    holder = next(t for t in finding["threads"] if "while holding the GIL" in t["role"])
    assert "run_activity" in lib.python_functions(holder), holder


def test_block_on_fixed_is_clean(python, out_dir):
    lib.assert_clean(python.drive(out_dir, "blockon", "fixed"))


def test_futex_lock_with_gil_held_is_a_probable_deadlock(python, out_dir):
    finding = lib.assert_deadlock(python.drive(out_dir, "futexlock", "buggy", "deadlock"), probable=True)
    assert any("futex word" in role for role in lib.roles(finding)), lib.roles(finding)


def test_futex_lock_fixed_is_clean(python, out_dir):
    lib.assert_clean(python.drive(out_dir, "futexlock", "fixed", "deadlock"))


BLOCKING_CALLS = {"sleep": "usleep", "join": "pthread_join", "condvar": "pthread_cond_wait",
                  "mutex": "pthread_mutex_lock"}


def test_each_kind_of_wait_with_gil_held_is_reported_once_per_site(python, out_dir):
    run = python.drive(out_dir, "gilblock", "buggy", *BLOCKING_CALLS)
    findings = lib.findings_of(run, "gil-held-blocking")
    assert sorted(f["detail"] for f in findings) == sorted(BLOCKING_CALLS.values()), run.describe()
    assert run.kinds() == ["gil-held-blocking"] * 4, run.describe()
    for finding in findings:
        assert finding["occurrences"] == 2 and finding["longest_wait_ms"] >= 100, finding
        thread = finding["threads"][0]
        assert "gilblock_wait_holding_gil" in lib.native_functions(thread), thread
        assert "wait_for_native_work" in lib.python_functions(thread), thread


def test_python_frames_sit_inside_the_native_stack_where_they_ran(python, out_dir):
    run = python.drive(out_dir, "gilblock", "buggy", "sleep", "--through-callback")
    assert run.kinds() == ["gil-held-blocking"], run.describe()
    lib.assert_python_frames_in_place(run.completed.stderr, python.version)


def test_waits_with_gil_released_are_clean(python, out_dir):
    lib.assert_clean(python.drive(out_dir, "gilblock", "fixed", *BLOCKING_CALLS))


def test_poisoned_registry_abandoned_lock(python, out_dir):
    run = python.drive(out_dir, "poison", "buggy")
    abandoned = lib.findings_of(run, "abandoned-lock")
    assert len(abandoned) == 1, run.describe()
    assert [lock["kind"] for lock in abandoned[0]["locks"]] == ["rwlock"], abandoned[0]
    assert run.kinds() == ["abandoned-lock"], run.describe()


def test_poison_fixed_is_clean(python, out_dir):
    lib.assert_clean(python.drive(out_dir, "poison", "fixed"))


def test_threaded_pure_python_is_clean(python, out_dir):
    script = lib.source_dir() / "scenarios" / "python" / "threaded_pure.py"
    lib.assert_clean(python.gilwatch_run(out_dir, [python.interpreter, script]))


def test_error_built_without_gil_is_capi_without_gil(python, out_dir):
    run = python.drive(out_dir, "capi", "buggy", "--bad")
    findings = lib.findings_of(run, "capi-without-gil")
    assert len(findings) == 1, run.describe()
    assert findings[0]["detail"] == "PyErr_Format", findings[0]
    assert findings[0]["summary"] == "PyErr_Format called without the GIL", findings[0]
    assert "parse_all" in lib.native_functions(findings[0]["threads"][0]), findings[0]["threads"][0]
    assert run.returncode != 0, run.describe()


def test_error_converted_after_the_gil_is_back_is_clean(python, out_dir):
    run = python.drive(out_dir, "capi", "fixed", "--bad")
    lib.assert_clean(run)
    assert "record 17: missing '='" in run.completed.stdout, run.describe()


def test_finalization_attach(python, tmp_path):
    # The worker must ask for the GIL inside the few milliseconds of finalization: up to
    # three runs, as in test_detector_extensions.py.
    for attempt in range(3):
        out_dir = tmp_path / ("attempt%d" % attempt)
        out_dir.mkdir()
        run = python.drive(out_dir, "finalize", "buggy")
        if lib.findings_of(run, "finalization-attach"):
            break
    assert lib.findings_of(run, "finalization-attach"), run.describe()
    assert run.returncode != 0, run.describe()


def test_finalization_stopped_at_exit_is_clean(python, out_dir):
    lib.assert_clean(python.drive(out_dir, "finalize", "fixed"))


def test_finalization_risk_every_run(python, tmp_path):
    # A native thread attached and running when finalization begins: the risk, every run
    # (test_finalization_risk.py).
    for attempt in range(10):
        out_dir = tmp_path / ("run%d" % attempt)
        out_dir.mkdir()
        run = python.drive(out_dir, "finrisk", "buggy")
        risks = [f for f in lib.findings_of(run, "finalization-attach") if f["detail"] == "risk"]
        assert len(risks) == 1, run.describe()
        assert run.kinds() == ["finalization-attach"] * len(run.findings), run.describe()


@pytest.mark.parametrize("variant", ["fixed", "attached-once", "never-attaches"])
def test_no_finalization_risk_without_a_running_attached_native_thread(python, out_dir, variant):
    lib.assert_clean(python.drive(out_dir, "finrisk", variant))


# Without gilwatch the hang variant never exits; under it the deadlock ends the process
# in about a second. This bounds a regression to a short failure instead of two minutes.
PARKED_HANG_TIMEOUT = 30


def test_a_lock_held_by_a_thread_parked_at_finalization_is_a_deadlock_at_exit(python, out_dir):
    """3.14+: the worker asks for the GIL holding its state lock once finalization has
    begun and is parked forever; the Py_AtExit callback then waits for that lock."""
    run = python.drive(out_dir, "finalize", "hang", timeout=PARKED_HANG_TIMEOUT)
    finding = lib.assert_deadlock(run, probable=False)
    roles = lib.roles(finding)
    assert any(role.startswith("waits for mutex") and "parked forever" in role for role in roles), roles
    assert any(role.startswith("waits for the GIL") and "parked forever" in role for role in roles), roles
    parked = next(t for t in finding["threads"] if t["role"].startswith("waits for the GIL"))
    assert "attach_and_report_progress" in lib.native_functions(parked), parked
    assert [lock["kind"] for lock in finding["locks"]].count("mutex") == 1, finding["locks"]
    assert finding["summary"].startswith("deadlock at exit: thread ") and \
        "asked for the GIL while the interpreter finalizes" in finding["summary"], finding["summary"]


def test_a_worker_stopped_before_finalization_leaves_the_exit_clean(python, out_dir):
    run = python.drive(out_dir, "finalize", "hang-fixed", timeout=PARKED_HANG_TIMEOUT)
    lib.assert_clean(run)
    assert "finalize (hang-fixed)" in run.completed.stdout, run.describe()


# ---- per-interpreter GILs (test_interpreters.py) ----

def test_orders_under_two_different_gils_are_not_a_cycle(python, out_dir):
    run = python.drive(out_dir, "subinterp", "own")
    lib.assert_clean(run)
    assert "own GIL done" in run.completed.stdout, run.describe()


def test_concurrent_interpreters_own_gil_is_not_a_cycle(python, out_dir):
    """3.14's public API makes isolated interpreters, each with its own GIL."""
    run = python.drive(out_dir, "subinterp", "own-public")
    lib.assert_clean(run)
    assert "own-public GIL done" in run.completed.stdout, run.describe()


def gil_inversion(python, out_dir, gil, other_taker):
    run = python.drive(out_dir, "subinterp", gil)
    finding = lib.assert_single_inversion(run, 2, ["gil", "mutex"])
    lib.assert_takers_match_threads(finding, ["take_lock_holding_gil", other_taker])
    return next(lock for lock in finding["locks"] if lock["kind"] == "gil"), finding["summary"]


def test_a_legacy_subinterpreter_shares_the_main_gil(python, out_dir):
    gil, summary = gil_inversion(python, out_dir, "shared", "lock_then_ensure")
    assert gil["address"] == "0x0", gil
    assert "the GIL ->" in summary and "of interpreter" not in summary, summary


def test_an_inversion_on_a_subinterpreters_own_gil(python, out_dir):
    gil, summary = gil_inversion(python, out_dir, "own-inversion", "lock_then_attach")
    assert gil["address"] != "0x0", gil
    assert "the GIL of interpreter %s" % gil["address"] in summary, summary


# ---- PyMutex (test_profile.py) ----

def test_pymutex_slow_path_counts_as_a_lock_wait(python, out_dir):
    run = python.drive(out_dir, "pymutex", "--ms", "300", options=["--profile"])
    # Parked with the GIL released: a wait, not a wait with the GIL held.
    lib.assert_clean(run)
    rows = [row for row in run.document["profiles"]["locks"] if row["kind"] == "pymutex"]
    assert len(rows) == 1, run.document["profiles"]["locks"]
    row = rows[0]
    assert row["acquisitions"] == row["contended"] == 1, row
    assert row["wait_max_ns"] >= 200 * 1000 * 1000, row
    assert row["site"] and row["site"][0]["function"] == "take_registry_mutex", row["site"]
    assert "pymutex waited for in take_registry_mutex" in run.completed.stderr, run.describe()


# ---- CPython's own threading tests (test_cpython_suite.py's parameter set) ----

SUITE_TIMEOUT = 1200


def junit_outcomes(path):
    """{test id: "passed" | "failed" | "error" | "skipped"} of regrtest's --junit-xml."""
    outcomes = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
        outcomes[".".join(part for part in (case.get("classname"), case.get("name")) if part)] = outcome
    return outcomes


def suite_modules(which):
    import test_cpython_suite as suite
    # The set adds test_concurrent_futures (about 2 minutes a run here).
    return suite.MODULES if which == "threading" else ["test_concurrent_futures"]


@pytest.mark.parametrize("which", ["threading", "concurrent_futures"])
def test_cpython_threading_tests_run_clean_and_unchanged(python, tmp_path, which):
    """The tests pass under gilwatch as they do without it, test by test, with zero
    findings; the program's stderr is what it is without gilwatch (only `run`'s own
    summary line is added)."""
    import test_cpython_suite as suite
    modules = suite_modules(which)
    has_suite = python.root.run([python.interpreter, "-c", "import test.test_threading"])
    assert has_suite.returncode == 0, "the root lacks libpython%s-testsuite\n%s" % (python.version,
                                                                                   has_suite.describe())
    command = [python.interpreter, "-m", "test"]
    for name in suite.IGNORED:
        command += ["-i", name]
    plain_xml, watched_xml = tmp_path / "plain.xml", tmp_path / "watched.xml"
    plain = python.root.run(command + ["--junit-xml", plain_xml] + modules, binds=python.binds(tmp_path),
                            cwd=tmp_path, timeout=SUITE_TIMEOUT)
    assert plain.returncode == 0 and "SUCCESS" in plain.stdout, plain.describe()
    out_dir = tmp_path / "gilwatch-out"
    out_dir.mkdir()
    run = python.gilwatch_run(out_dir, command + ["--junit-xml", watched_xml] + modules, also_bind=[tmp_path],
                              timeout=SUITE_TIMEOUT)
    lib.assert_clean(run)
    assert "SUCCESS" in run.completed.stdout, run.describe()
    plain_outcomes, watched_outcomes = junit_outcomes(plain_xml), junit_outcomes(watched_xml)
    assert len(plain_outcomes) > 200, plain_outcomes  # 432 and 394 here
    changed = {t: (o, watched_outcomes.get(t)) for t, o in plain_outcomes.items() if watched_outcomes.get(t) != o}
    assert not changed and watched_outcomes.keys() == plain_outcomes.keys(), changed
    lines = run.completed.stderr.splitlines()
    assert lines[:-1] == plain.stderr.splitlines(), run.describe()
    assert lines[-1].startswith("gilwatch: no findings -> "), run.describe()
