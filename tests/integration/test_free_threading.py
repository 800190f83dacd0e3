"""Free-threaded builds (docs/design.md, "Free-threaded builds").

No free-threaded interpreter can be obtained on the machines gilwatch is tested on, so
recognition is tested with stub programs that export what the preload reads
(scenarios/programs/python_runtime_stub.c): a _PyRuntime whose debug offsets say
free_threaded = 1, and its twin with 0. The stop-the-world fixture
(scenarios/extensions/stwpause) deadlocks on GIL builds too, where gilwatch must
diagnose it; its fixed twin is clean.
"""

import os

import pytest

import gilwatch_testlib as lib

PYTHONS = lib.load_pythons()
IDS = lib.python_ids(PYTHONS)

GIL_FINDINGS = {"gil-held-blocking", "capi-without-gil"}


def run_stub(out_dir, name):
    path = lib.program_path(name)
    assert path.is_file(), "%s is not built" % path
    return lib.run_gilwatch(out_dir, [path])


def the_process(run):
    processes = run.document["processes"]
    assert len(processes) == 1, processes
    return processes[0]


# ---- recognition, with stub interpreters ----

def test_a_free_threaded_runtime_is_recognized_and_its_gil_checks_are_off(out_dir):
    run = run_stub(out_dir, "python_runtime_stub")
    assert "free-threaded build: done" in run.completed.stdout, run.describe()
    process = the_process(run)
    assert process["python"].startswith("3.13.0"), process
    assert process["free_threaded"] is True, process
    assert sorted(process["checks_off"]) == ["capi-without-gil", "gil-held-blocking", "gil-lock-order",
                                             "gil-profile", "gil-wait-for"], process
    assert run.document["free_threaded_pythons"] == 1, run.document
    # The native inversion is still reported, with no GIL in it; the sleep while
    # attached is no gil-held-blocking: there is no GIL.
    finding = lib.assert_single_inversion(run, lock_count=2, lock_kinds=["mutex", "mutex"])
    lib.assert_takers_match_threads(finding, ["attached_take_a_then_b_and_sleep", "take_b_then_a"])
    assert "GIL" not in finding["summary"], finding
    assert "; Python 3.13t: free-threaded, GIL checks off" in run.completed.stderr, run.describe()


def test_its_gil_twin_is_a_gil_build_as_before(out_dir):
    run = run_stub(out_dir, "gil_runtime_stub")
    assert "GIL build: done" in run.completed.stdout, run.describe()
    process = the_process(run)
    assert process["free_threaded"] is False, process
    assert process["checks_off"] == [], process
    assert run.document["free_threaded_pythons"] == 0, run.document
    assert run.returncode == lib.FINDINGS_EXIT_STATUS, run.describe()
    assert run.kinds() == ["gil-held-blocking", lib.LOCK_ORDER_INVERSION], run.describe()
    blocking = lib.findings_of(run, "gil-held-blocking")[0]
    assert "usleep" in blocking["summary"], blocking
    assert "free-threaded" not in run.completed.stderr, run.describe()


@pytest.mark.parametrize("name,says_gil", [("python_runtime_stub", False), ("gil_runtime_stub", True)])
def test_the_profile_speaks_of_a_gil_only_where_there_is_one(name, says_gil):
    # Preloaded by hand with profile=1, the library prints its own profile summary.
    env = dict(os.environ, LD_PRELOAD=str(lib.build_dir() / "lib" / "libgilwatch.so"),
               GILWATCH_OPTIONS="profile=1")
    completed = lib.run_bounded([lib.program_path(name)], env=env)
    assert "gilwatch profile: no lock was waited for" in completed.stderr, completed.describe()
    assert ("gilwatch profile: the GIL" in completed.stderr) is says_gil, completed.describe()


# ---- the stop-the-world fixture ----

VARIANTS = ["gc", "traverse", "atfork"]
# The function that blocks on M holding the GIL, per variant (stwpause.c).
TAKERS = {"gc": "lock_guard_attached", "traverse": "guarded_traverse", "atfork": "lock_guard_before_fork"}


def drive(python, module, variant):
    lib.require_extension(python, "stwpause_" + module)
    driver = lib.source_dir() / "scenarios" / "extensions" / "stwpause" / "drive.py"
    return [python["interpreter"], driver, module, variant, "--module-dir", python["module_dir"]]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_blocking_while_attached_against_a_thread_that_must_attach_is_a_deadlock(out_dir, python, variant):
    run = lib.run_gilwatch(out_dir, drive(python, "buggy", variant))
    finding = lib.assert_deadlock(run, probable=False)
    roles = lib.roles(finding)
    assert any("while holding the GIL" in role for role in roles), roles
    assert any(role.startswith("waits for the GIL held by thread") for role in roles), roles
    taker = TAKERS[variant]
    assert any(taker in lib.native_functions(t) for t in finding["threads"]), finding["threads"]
    assert any("collect_holding_lock" in lib.native_functions(t) for t in finding["threads"]), finding["threads"]
    inversions = lib.findings_of(run, lib.LOCK_ORDER_INVERSION)
    assert len(inversions) == 1, run.describe()
    assert sorted(lock["kind"] for lock in inversions[0]["locks"]) == ["gil", "mutex"], inversions[0]
    assert run.document["free_threaded_pythons"] == 0, run.document


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_the_twin_that_detaches_or_does_not_block_is_clean(out_dir, python, variant):
    run = lib.run_gilwatch(out_dir, drive(python, "fixed", variant))
    lib.assert_clean(run)
    assert "stwpause_fixed: %s done" % variant in run.completed.stdout, run.describe()


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_buggy_fixture_really_hangs_without_gilwatch_and_the_twin_does_not(variant):
    if not PYTHONS:
        pytest.fail("%s is missing: configure the build first" % lib.pythons_json_path())
    python = PYTHONS[-1]
    hung = lib.run_bounded_expect_timeout(drive(python, "buggy", variant), timeout=3)
    assert hung.timed_out, hung.describe()
    plain = lib.run_bounded(drive(python, "fixed", variant))
    assert plain.returncode == 0, plain.describe()
    assert "stwpause_fixed: %s done" % variant in plain.stdout, plain.describe()
