"""The runtime detectors end to end on the seed fixtures (scenarios/extensions/*, built
for every interpreter in build/scenarios/pythons.json) and a correct threaded pure-Python
program, under `gilwatch run`. Each buggy fixture is found with the right kind; each
fixed twin gets zero findings. Deadlocking fixtures really hang without gilwatch; under
it they end with the deadlock exit status, well inside the test's timeout.
"""

import os
import subprocess
import sys

import pytest

import gilwatch_testlib as lib

PYTHONS = lib.load_pythons()
IDS = lib.python_ids(PYTHONS)


def fixture_driver(name):
    return lib.source_dir() / "scenarios" / "extensions" / name / "drive.py"


def drive(python, fixture, module, *arguments):
    lib.require_extension(python, module)
    return [python["interpreter"], fixture_driver(fixture), *arguments, "--module-dir", python["module_dir"]]


# ---- extensions, every interpreter ----

@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_teardown_join_with_gil_held_deadlocks(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python, "teardown", "teardown_buggy", "buggy"))
    finding = lib.assert_deadlock(run, probable=False)
    assert any(role.startswith("joins thread") and "while holding the GIL" in role for role in lib.roles(finding)), \
        lib.roles(finding)
    assert any(role.startswith("waits for the GIL held by thread") for role in lib.roles(finding)), lib.roles(finding)
    assert any(lock["kind"] == "gil" for lock in finding["locks"]), finding


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_teardown_fixed_is_clean(out_dir, python):
    lib.assert_clean(lib.run_gilwatch(out_dir, drive(python, "teardown", "teardown_fixed", "fixed")))


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_block_on_with_gil_held_is_a_probable_deadlock(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python, "blockon", "blockon_buggy", "buggy"))
    finding = lib.assert_deadlock(run, probable=True)
    assert any("condition variable" in role and "while holding the GIL" in role for role in lib.roles(finding)), \
        lib.roles(finding)
    assert any(role.startswith("waits for the GIL") for role in lib.roles(finding)), lib.roles(finding)
    holder = next(t for t in finding["threads"] if "while holding the GIL" in t["role"])
    assert "run_activity" in lib.python_functions(holder), holder


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_block_on_fixed_is_clean(out_dir, python):
    lib.assert_clean(lib.run_gilwatch(out_dir, drive(python, "blockon", "blockon_fixed", "fixed")))


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_futex_lock_with_gil_held_is_a_probable_deadlock(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python, "futexlock", "futexlock_buggy", "buggy", "deadlock"))
    finding = lib.assert_deadlock(run, probable=True)
    assert any("futex word" in role for role in lib.roles(finding)), lib.roles(finding)


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_futex_lock_fixed_is_clean(out_dir, python):
    lib.assert_clean(lib.run_gilwatch(out_dir, drive(python, "futexlock", "futexlock_fixed", "fixed", "deadlock")))


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_futex_wait_with_gil_held_is_reported_once_per_site(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python, "futexlock", "futexlock_buggy", "buggy", "wait", "--ms", "300"))
    assert run.kinds() == ["gil-held-blocking"], run.describe()
    finding = run.findings[0]
    assert finding["detail"] == "futex wait", finding
    assert finding["occurrences"] == 1 and finding["longest_wait_ms"] >= 250, finding
    assert run.returncode == lib.FINDINGS_EXIT_STATUS, run.describe()


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_futex_wait_without_gil_is_clean(out_dir, python):
    lib.assert_clean(lib.run_gilwatch(out_dir, drive(python, "futexlock", "futexlock_fixed", "fixed", "wait", "--ms", "300")))


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_finalization_attach_on_a_busy_machine(tmp_path, python):
    # The fixture parks its worker in a request for the GIL (an atexit handler) before
    # the interpreter finalizes, so runs attach during finalization even with every core
    # busy (left to the worker's timing, about one run in four showed nothing then).
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        runs = []
        for attempt in range(8):
            out_dir = tmp_path / ("run%d" % attempt)
            out_dir.mkdir()
            runs.append(lib.run_gilwatch(out_dir, drive(python, "finalize", "finalize", "buggy")))
    finally:
        for process in busy:
            process.kill()
            process.wait()
    # At most one run of eight may show nothing: a few runs in a thousand still do under
    # this load (before the parking, about two in eight did).
    missed = [run for run in runs if not lib.findings_of(run, "finalization-attach")]
    assert len(missed) <= 1, "\n\n".join(run.describe() for run in missed)
    for run in runs:
        if lib.findings_of(run, "finalization-attach"):
            assert run.returncode != 0, run.describe()
        assert {f["kind"] for f in run.document["findings"]} <= {"finalization-attach", "abandoned-lock"}, \
            run.describe()
        assert run.completed.stdout.startswith("finalize (buggy): worker made "), run.describe()


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_finalization_stopped_at_exit_is_clean(out_dir, python):
    lib.assert_clean(lib.run_gilwatch(out_dir, drive(python, "finalize", "finalize", "fixed")))


@pytest.mark.parametrize("kind", ["sqlite3", "mmap", "socket"])
@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_finalizers_on_the_finalizing_thread_are_clean(out_dir, python, kind):
    # The thread that finalizes releases and takes the GIL again inside these objects'
    # finalizers (sqlite3's close, mmap's munmap, the socket's close after its
    # ResourceWarning): the interpreter allows it, and it is no finalization-attach.
    # test_finalization_attach is the twin: another thread asking for the GIL then is.
    script = lib.source_dir() / "scenarios" / "python" / "exit_finalizers.py"
    run = lib.run_gilwatch(out_dir, [python["interpreter"], "-W", "always::ResourceWarning", script, kind])
    lib.assert_clean(run)
    assert "exit_finalizers (%s): left open until exit" % kind in run.completed.stdout, run.describe()


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_timed_wait_holding_the_gil_is_no_deadlock(out_dir, python):
    # A 2 s pthread_cond_timedwait with the GIL held while another thread wants the GIL:
    # it ends by itself, so no probable deadlock (the blockon tests are the twin: an
    # untimed wait there is one); holding the GIL through it is still gil-held-blocking.
    script = lib.source_dir() / "scenarios" / "python" / "timed_wait_holding_gil.py"
    run = lib.run_gilwatch(out_dir, [python["interpreter"], script])
    assert "timed_wait_holding_gil: the wait timed out (ETIMEDOUT); done" in run.completed.stdout, run.describe()
    assert run.kinds() == ["gil-held-blocking"], run.describe()
    assert run.findings[0]["detail"] == "pthread_cond_timedwait", run.findings[0]
    assert run.returncode == lib.FINDINGS_EXIT_STATUS, run.describe()


# Without gilwatch the hang variant never exits (test_python314 runs it on 3.14/3.15,
# where the worker is parked rather than ended): a short bound.
FINALIZATION_HANG_TIMEOUT = 30


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_a_lock_left_by_a_thread_finalization_stopped_is_a_deadlock_at_exit(out_dir, python):
    # The worker holds the lock inside PyGILState_Ensure when finalization stops it: ended
    # there through 3.13 (or still waiting for the GIL); the Py_AtExit callback waits for it.
    run = lib.run_gilwatch(out_dir, drive(python, "finalize", "finalize", "hang"), timeout=FINALIZATION_HANG_TIMEOUT)
    assert run.returncode == lib.DEADLOCK_EXIT_STATUS, run.describe()
    deadlocks = lib.findings_of(run, "deadlock")
    assert len(deadlocks) == 1 and deadlocks[0]["probable"] is False, run.describe()
    finding = deadlocks[0]
    assert any(role.startswith("waits for mutex") for role in lib.roles(finding)), lib.roles(finding)
    assert "has ended" in finding["summary"] or "never returns" in finding["summary"], finding["summary"]


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_a_lock_free_at_exit_is_clean(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python, "finalize", "finalize", "hang-fixed"),
                           timeout=FINALIZATION_HANG_TIMEOUT)
    lib.assert_clean(run)


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_poisoned_registry_abandoned_lock(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python, "poison", "poison_buggy", "buggy"))
    abandoned = lib.findings_of(run, "abandoned-lock")
    assert len(abandoned) == 1, run.describe()
    assert [lock["kind"] for lock in abandoned[0]["locks"]] == ["rwlock"], abandoned[0]
    assert run.kinds() == ["abandoned-lock"], run.describe()


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_poison_fixed_is_clean(out_dir, python):
    lib.assert_clean(lib.run_gilwatch(out_dir, drive(python, "poison", "poison_fixed", "fixed")))


# ---- correct Python programs ----

@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_threaded_pure_python_is_clean(out_dir, python):
    script = lib.source_dir() / "scenarios" / "python" / "threaded_pure.py"
    lib.assert_clean(lib.run_gilwatch(out_dir, [python["interpreter"], script]))


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_error_built_without_gil_is_capi_without_gil(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python, "capi", "capi_buggy", "buggy", "--bad"))
    findings = lib.findings_of(run, "capi-without-gil")
    assert len(findings) == 1, run.describe()
    finding = findings[0]
    assert finding["detail"] == "PyErr_Format", finding
    assert finding["summary"] == "PyErr_Format called without the GIL", finding
    assert "parse_all" in lib.native_functions(finding["threads"][0]), finding["threads"][0]
    # Reported before the call ran: whatever the interpreter did next (crash or not),
    # the run failed.
    assert run.returncode != 0, run.describe()


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_capi_buggy_without_errors_is_clean(out_dir, python):
    # No malformed record: the GIL-released section makes no C API call.
    lib.assert_clean(lib.run_gilwatch(out_dir, drive(python, "capi", "capi_buggy", "buggy")))


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_error_converted_after_the_gil_is_back_is_clean(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python, "capi", "capi_fixed", "fixed", "--bad"))
    lib.assert_clean(run)
    assert "record 17: missing '='" in run.completed.stdout, run.describe()


HANGING_FIXTURES = [
    ("teardown", "teardown_buggy", ["buggy"]),
    ("blockon", "blockon_buggy", ["buggy"]),
    ("futexlock", "futexlock_buggy", ["buggy", "deadlock"]),
]


@pytest.mark.parametrize("fixture,module,arguments", HANGING_FIXTURES, ids=[f[0] for f in HANGING_FIXTURES])
def test_deadlock_fixtures_really_hang_without_gilwatch(fixture, module, arguments):
    # What gilwatch turns into a diagnosis and exit status 67 is a real hang.
    debian = [p for p in PYTHONS if p["interpreter"] == str(lib.DEBIAN_PYTHON)]
    if not debian:
        pytest.skip("%s is not installed" % lib.DEBIAN_PYTHON)
    completed = lib.run_bounded_expect_timeout(drive(debian[0], fixture, module, *arguments), timeout=3)
    assert completed.timed_out, completed.describe()


BLOCKING_CALLS = {"sleep": "usleep", "join": "pthread_join", "condvar": "pthread_cond_wait",
                  "mutex": "pthread_mutex_lock"}


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_each_kind_of_wait_with_gil_held_is_reported_once_per_site(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python, "gilblock", "gilblock_buggy", "buggy", *BLOCKING_CALLS))
    findings = lib.findings_of(run, "gil-held-blocking")
    assert sorted(f["detail"] for f in findings) == sorted(BLOCKING_CALLS.values()), run.describe()
    assert run.kinds() == ["gil-held-blocking"] * 4, run.describe()
    for finding in findings:
        assert finding["occurrences"] == 2, finding
        assert finding["longest_wait_ms"] >= 100, finding
        thread = finding["threads"][0]
        # blocking_wait may tail-call the wait; its caller is always on the stack.
        assert "gilblock_wait_holding_gil" in lib.native_functions(thread), thread
        assert "wait_for_native_work" in lib.python_functions(thread), thread


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_python_frames_sit_inside_the_native_stack_where_they_ran(out_dir, python):
    # Two eval-loop calls on the stack (the script's, and the one `map` makes for the
    # callback): 3.11+ runs several Python frames in each, 3.10 and older one per call.
    run = lib.run_gilwatch(out_dir, drive(python, "gilblock", "gilblock_buggy", "buggy", "sleep",
                                          "--through-callback"))
    assert run.kinds() == ["gil-held-blocking"], run.describe()
    lib.assert_python_frames_in_place(run.completed.stderr, python["version"])


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_python_frames_of_one_eval_loop_call_sit_together(out_dir, python):
    # The twin: no callback, one loop call runs the script's frames; nothing between them.
    if tuple(int(n) for n in python["version"].split(".")[:2]) < (3, 11):
        pytest.skip("each Python call is its own eval-loop call before 3.11 (this is %s)" % python["version"])
    run = lib.run_gilwatch(out_dir, drive(python, "gilblock", "gilblock_buggy", "buggy", "sleep"))
    text = run.completed.stderr
    assert "not placed among the native frames" not in text, text
    block = text[text.index("gil-held-blocking"):]
    first, last = block.index(" in wait_for_native_work\n"), block.index(" in <module>\n")
    assert block.index(" in main\n") > first and last > first, block
    assert "interpreter" not in block[first:last], block


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_waits_with_gil_released_are_clean(out_dir, python):
    lib.assert_clean(lib.run_gilwatch(out_dir, drive(python, "gilblock", "gilblock_fixed", "fixed", *BLOCKING_CALLS)))
