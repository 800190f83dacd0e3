"""gilwatch run on the native fixtures (scenarios/programs, docs/fixtures.md): each
seeded inversion is reported once, with the right locks, threads and stacks; each
correct program gets no finding at all."""

import glob
import json
import os
import pathlib
import re
import signal
import subprocess
import time

import pytest

import gilwatch_testlib as lib


def run_program(out_dir, name):
    path = lib.program_path(name)
    assert path.is_file(), "%s is not built" % path
    return lib.run_gilwatch(out_dir, [path])


def test_abba_is_one_inversion_between_two_mutexes(out_dir):
    run = run_program(out_dir, "abba")
    finding = lib.assert_single_inversion(run, lock_count=2, lock_kinds=["mutex", "mutex"])
    lib.assert_takers_match_threads(finding, ["take_a_then_b", "take_b_then_a"])


def test_three_lock_cycle_is_one_inversion_over_three_mutexes(out_dir):
    run = run_program(out_dir, "three_lock_cycle")
    finding = lib.assert_single_inversion(run, lock_count=3, lock_kinds=["mutex"] * 3)
    lib.assert_takers_match_threads(finding, ["take_a_then_b", "take_b_then_c", "take_c_then_a"])


def test_rwlock_cycle_is_one_inversion_between_two_rwlocks(out_dir):
    run = run_program(out_dir, "rwlock_cycle")
    finding = lib.assert_single_inversion(run, lock_count=2, lock_kinds=["rwlock", "rwlock"])
    lib.assert_takers_match_threads(finding, ["read_a_then_write_b", "read_b_then_write_a"])


@pytest.mark.parametrize("program", ["consistent_order", "trylock_reversal",
                                     "reuse_one_thread", "read_read", "many_threads"])
def test_correct_program_gets_no_findings(out_dir, program):
    run = run_program(out_dir, program)
    assert run.findings == [], run.describe()
    assert run.returncode == 0, run.describe()


def test_reused_lock_memory_was_really_reused_under_gilwatch(out_dir):
    # Otherwise reuse_one_thread's silence would prove nothing about stale edges.
    run = run_program(out_dir, "reuse_one_thread")
    assert "heap std::mutex addresses reused: yes" in run.completed.stdout, run.describe()


def test_many_threads_finishes_quickly(out_dir):
    # About a tenth of a second without gilwatch. Generous, but a per-thread leak or a
    # graph search that grows with every lock would blow far past it.
    run = run_program(out_dir, "many_threads")
    assert run.completed.seconds < 60, run.describe()


# ---- long cycles and deep nesting (lock_ring) ----

def run_lock_ring(out_dir, *args):
    path = lib.program_path("lock_ring")
    assert path.is_file(), "%s is not built" % path
    return lib.run_gilwatch(out_dir, [path, *args])


@pytest.mark.parametrize("n", [20, 30])
def test_a_ring_of_many_locks_is_one_inversion_naming_all_of_them(out_dir, n):
    run = run_lock_ring(out_dir, "ring", str(n))
    assert "lock_ring ring: %d locks" % n in run.completed.stdout, run.describe()
    finding = lib.assert_single_inversion(run, lock_count=n, lock_kinds=["mutex"] * n)
    assert len(finding["edges"]) == n, finding["edges"]
    assert "cycle cut" not in finding["summary"], finding["summary"]
    assert "cycle_length" not in finding, finding
    # Every edge leads to the next lock, and the last back to the first: the whole ring.
    for i, edge in enumerate(finding["edges"]):
        assert edge["to"] == finding["edges"][(i + 1) % n]["from"], finding["edges"]
    assert len({thread["name"] for thread in finding["threads"]}) == n, finding["threads"]
    assert run.document["capacity_warnings"] == [], run.document["capacity_warnings"]


def test_the_same_ring_locks_in_one_consistent_order_get_no_findings(out_dir):
    run = run_lock_ring(out_dir, "consistent", "30")
    assert "lock_ring consistent: 30 locks" in run.completed.stdout, run.describe()
    lib.assert_clean(run)
    assert run.document["capacity_warnings"] == [], run.describe()
    assert "overflowed" not in run.completed.stderr, run.describe()


def test_an_inversion_taken_under_60_held_locks_is_reported(out_dir):
    run = run_lock_ring(out_dir, "deep", "60")
    finding = lib.assert_single_inversion(run, lock_count=2, lock_kinds=["mutex", "mutex"])
    assert len(finding["threads"]) == 2, finding["threads"]
    for thread in finding["threads"]:
        assert "take_inner_pair" in lib.native_functions(thread), sorted(lib.native_functions(thread))
    assert sorted(thread["name"] for thread in finding["threads"]) == ["deep-1", "deep-2"], finding["threads"]
    assert run.document["capacity_warnings"] == [], run.describe()


def test_60_held_locks_and_a_consistent_order_get_no_findings(out_dir):
    run = run_lock_ring(out_dir, "deep-consistent", "60")
    lib.assert_clean(run)
    assert run.document["capacity_warnings"] == [], run.describe()
    assert "overflowed" not in run.completed.stderr, run.describe()


def test_overflowed_capacities_are_warnings_in_findings_json_stderr_and_the_report(out_dir):
    run = run_lock_ring(out_dir, "overflow")
    assert "lock_ring overflow: a ring of 70, 520 locks held" in run.completed.stdout, run.describe()
    # The 70-lock ring is longer than the library lists whole (64): reported, and cut.
    finding = lib.assert_single_inversion(run, lock_count=64, lock_kinds=["mutex"] * 64)
    assert finding["cycle_length"] == 70, finding
    assert "cycle cut: 6 more locks of 70 not listed" in finding["summary"], finding["summary"]
    warnings = {w["capacity"]: w for w in run.document["capacity_warnings"]}
    assert warnings == {
        "cycle_locks": {"capacity": "cycle_locks", "limit": 64, "lost": 1, "lost_what": "cycles reported cut"},
        "held_locks_per_thread": {"capacity": "held_locks_per_thread", "limit": 512, "lost": 8,
                                  "lost_what": "lock acquisitions not tracked"},
    }, run.document["capacity_warnings"]
    # The process's own results file says the same.
    raw = [json.load(open(f)) for f in glob.glob(str(run.out_dir / "raw" / "*.json"))]
    raw_warnings = [w for d in raw for w in d.get("capacity_warnings", [])]
    assert sorted(w["capacity"] for w in raw_warnings) == ["cycle_locks", "held_locks_per_thread"], raw
    texts = ["capacity cycle_locks (64) overflowed: 1 cycles reported cut",
             "capacity held_locks_per_thread (512) overflowed: 8 lock acquisitions not tracked"]
    summary = [line for line in run.completed.stderr.splitlines() if line.startswith("gilwatch: ")]
    assert len(summary) == 1 and all(text in summary[0] for text in texts), run.describe()
    # The library's own report of the finding says it is cut.
    assert "cycle cut: 6 more locks of 70 not listed" in run.completed.stderr, run.describe()
    html = (run.out_dir / "report.html").read_text()
    assert all(text in html for text in texts), "capacity warnings missing from report.html"
    assert "cycle cut: 6 more locks of 70 not listed" in html


def test_the_library_alone_warns_of_overflowed_capacities_on_stderr(tmp_path):
    # Preloaded without the command: the process's own stderr says which capacities
    # overflowed; its twin, a ring that fits, says nothing of the kind.
    env = dict(os.environ, LD_PRELOAD=str(lib.build_dir() / "lib" / "libgilwatch.so"),
               GILWATCH_OPTIONS="out_dir=%s" % tmp_path)
    completed = lib.run_bounded([lib.program_path("lock_ring"), "overflow"], env=env)
    assert completed.returncode == 66, completed.describe()
    for text in ["capacity cycle_locks (64) overflowed: 1 cycles reported cut",
                 "capacity held_locks_per_thread (512) overflowed: 8 lock acquisitions not tracked"]:
        assert "==WARNING: gilwatch: " + text + "\n" in completed.stderr, completed.describe()
    assert "cycle cut: 6 more locks of 70 not listed" in completed.stderr, completed.describe()
    twin = lib.run_bounded([lib.program_path("lock_ring"), "ring", "30"], env=env)
    assert twin.returncode == 66, twin.describe()
    assert "overflowed" not in twin.stderr and "cycle cut" not in twin.stderr, twin.describe()
# --- gilwatch run's crash and hang findings (docs/findings.md "crash", "hang") ---------

PYTHON = "/usr/bin/python3"


def run_with(out_dir, run_args, command, env=None, timeout=lib.RUN_TIMEOUT_SECONDS):
    """`gilwatch run --out OUT_DIR RUN_ARGS -- COMMAND`, with `env` added to the environment."""
    environment = dict(os.environ, **(env or {}))
    completed = lib.run_bounded([lib.gilwatch_path(), "run", "--out", out_dir, *run_args, "--",
                                 *[str(c) for c in command]], timeout=timeout, env=environment)
    with open(pathlib.Path(out_dir) / "findings.json") as f:
        document = json.load(f)
    return lib.GilwatchRun(completed, pathlib.Path(out_dir), document)


def all_native_functions(finding):
    return [name for thread in finding["threads"] for name in lib.native_functions(thread)]


def test_a_crash_in_a_named_function_is_a_crash_finding_with_its_stack(out_dir):
    run = run_with(out_dir, [], [lib.program_path("crash_segv")])
    assert run.kinds() == ["crash"], run.describe()
    finding = run.findings[0]
    assert "SIGSEGV" in finding["summary"], run.describe()
    crashed = finding["threads"][0]
    assert "crashed on SIGSEGV" in crashed["role"], run.describe()
    assert "write_through_null" in lib.native_functions(crashed), run.describe()
    # The other thread is there with what it waits for.
    waiter = [t for t in finding["threads"][1:] if "waits on condition variable" in t["role"]]
    assert len(waiter) == 1, run.describe()
    # A crash is a finding: run's --exitcode; the process itself still died of SIGSEGV.
    assert run.returncode == lib.FINDINGS_EXIT_STATUS, run.describe()
    assert "was ended by signal 11" in run.completed.stderr, run.describe()


def test_a_crash_keeps_its_signal_as_run_status_with_exitcode_0(out_dir):
    run = run_with(out_dir, ["--exitcode", "0"], [lib.program_path("crash_segv")])
    assert run.kinds() == ["crash"], run.describe()
    assert run.returncode == 128 + signal.SIGSEGV, run.describe()


def test_a_program_that_recovers_from_its_own_sigsegv_is_no_crash(out_dir):
    run = run_with(out_dir, [], [lib.program_path("segv_recover")])
    assert run.findings == [], run.describe()
    assert run.returncode == 0, run.describe()
    assert "recovered" in run.completed.stdout, run.describe()


def test_a_crash_the_library_could_not_report_is_runs_own_crash_finding(out_dir):
    run = run_with(out_dir, [], [lib.program_path("crash_segv")], env={"GILWATCH_OPTIONS": "crash_report=0"})
    assert run.kinds() == ["crash"], run.describe()
    summary = run.findings[0]["summary"]
    assert "'crash_segv'" in summary and "SIGSEGV" in summary, run.describe()
    assert run.returncode == lib.FINDINGS_EXIT_STATUS, run.describe()


CTYPES_CRASH = """
import ctypes

def read_address_zero():
    ctypes.string_at(0)

read_address_zero()
"""


def test_a_ctypes_crash_has_the_python_frames_of_the_crashing_thread(out_dir):
    run = run_with(out_dir, [], [PYTHON, "-c", CTYPES_CRASH])
    assert run.kinds() == ["crash"], run.describe()
    crashed = run.findings[0]["threads"][0]
    assert "read_address_zero" in lib.python_functions(crashed), run.describe()
    assert run.returncode == lib.FINDINGS_EXIT_STATUS, run.describe()


FORKED_CHILD_CRASH = """
import ctypes, os

pid = os.fork()
if pid == 0:
    ctypes.string_at(0)
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("child ended by signal", os.WTERMSIG(status) if os.WIFSIGNALED(status) else None)
"""


def test_a_child_forked_without_exec_that_crashes_is_its_parents_to_judge(out_dir):
    # The twin of the crash tests: the handler is inherited across fork, but only CMD's
    # own process reports (a process pool's worker dying on purpose is no finding).
    run = run_with(out_dir, [], [PYTHON, "-c", FORKED_CHILD_CRASH])
    assert "child ended by signal 11" in run.completed.stdout, run.describe()
    lib.assert_clean(run)


def test_faulthandler_still_prints_its_traceback_and_chains_to_the_crash_report(out_dir):
    run = run_with(out_dir, [], [PYTHON, "-X", "faulthandler", "-c", CTYPES_CRASH])
    assert "Fatal Python error: Segmentation fault" in run.completed.stderr, run.describe()
    assert "read_address_zero" in run.completed.stderr, run.describe()
    assert run.kinds() == ["crash"], run.describe()
    assert "was ended by signal 11" in run.completed.stderr, run.describe()


def test_timeout_on_a_thread_reading_a_silent_pipe_is_a_hang_with_its_stacks(out_dir):
    run = run_with(out_dir, ["--timeout", "3"], [lib.program_path("pipe_hang")], timeout=90)
    assert run.kinds() == ["hang"], run.describe()
    finding = run.findings[0]
    assert "read_from_silent_pipe" in all_native_functions(finding), run.describe()
    assert any("joins a thread" in t["role"] for t in finding["threads"]), run.describe()
    assert run.returncode == lib.FINDINGS_EXIT_STATUS, run.describe()
    assert "still running at --timeout" in run.completed.stderr, run.describe()
    assert run.completed.seconds < 60, run.describe()


EVENT_HANG = """
import threading

def wait_for_an_event_nobody_sets():
    threading.Event().wait()

worker = threading.Thread(target=wait_for_an_event_nobody_sets, name="event-waiter")
worker.start()
worker.join()
"""


def test_timeout_on_python_threads_waiting_for_ever_is_a_hang(out_dir):
    run = run_with(out_dir, ["--timeout", "3"], [PYTHON, "-c", EVENT_HANG], timeout=90)
    assert run.kinds() == ["hang"], run.describe()
    threads = run.findings[0]["threads"]
    assert len(threads) >= 2, run.describe()
    assert all(lib.native_functions(t) for t in threads), run.describe()
    assert run.returncode == lib.FINDINGS_EXIT_STATUS, run.describe()


def test_timeout_without_the_librarys_report_is_runs_own_hang_finding(out_dir):
    run = run_with(out_dir, ["--timeout", "3"], [lib.program_path("pipe_hang")],
                   env={"GILWATCH_OPTIONS": "hang_signal=0"}, timeout=90)
    assert run.kinds() == ["hang"], run.describe()
    assert "--timeout of 3 s" in run.findings[0]["summary"], run.describe()


def test_a_program_that_ends_before_its_timeout_has_no_hang_and_its_own_status(out_dir):
    run = run_with(out_dir, ["--timeout", "60"], [PYTHON, "-c", "import sys; sys.exit(5)"])
    assert run.findings == [], run.describe()
    assert run.returncode == 5, run.describe()


def test_sigterm_to_run_is_a_hang_with_the_stacks_before_the_end(out_dir):
    process = subprocess.Popen([str(lib.gilwatch_path()), "run", "--out", str(out_dir), "--",
                                str(lib.program_path("pipe_hang"))],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        assert process.stdout.readline().strip() == "waiting"
        time.sleep(0.5)  # the reader is in read() by now
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with open(pathlib.Path(out_dir) / "findings.json") as f:
        findings = json.load(f)["findings"]
    assert [f["kind"] for f in findings] == ["hang"], stderr
    assert "read_from_silent_pipe" in all_native_functions(findings[0]), stderr
    assert process.returncode == lib.FINDINGS_EXIT_STATUS, stderr


def deep_runtime_run(out_dir, depth, *flags):
    path = lib.program_path("deep_runtime_stack")
    assert path.is_file(), "%s is not built" % path
    completed = lib.run_bounded([lib.gilwatch_path(), "run", "--out", out_dir, *flags, "--", path, str(depth)],
                                timeout=lib.RUN_TIMEOUT_SECONDS)
    with open(pathlib.Path(out_dir) / "findings.json") as f:
        document = json.load(f)
    return lib.GilwatchRun(completed, pathlib.Path(out_dir), document)


def test_a_taker_under_48_runtime_frames_is_in_the_finding(out_dir):
    # The capture used to keep the innermost 32 frames: all the runtime's.
    run = deep_runtime_run(out_dir, 48, "--full-stacks")
    finding = lib.assert_single_inversion(run, lock_count=2, lock_kinds=["mutex", "mutex"])
    lib.assert_takers_match_threads(finding, ["ext_take_a_then_b", "ext_take_b_then_a"])
    for thread in finding["threads"]:
        functions = [lib.normalize_function(frame.get("function")) for frame in thread["native_frames"]]
        assert functions.count("runtime_descend") == 49, functions
    stderr = run.completed.stderr
    assert "    #49 " in stderr and " in ext_take_a_then_b " in stderr and " in ext_take_b_then_a " in stderr, stderr
    # By default the recursion folds, and the takers follow it.
    folded = deep_runtime_run(out_dir, 48).completed.stderr
    assert folded.count("\n    \u2026 48 recursive frames\n    #49 ") == 2, folded
    assert " in ext_take_a_then_b " in folded and " in ext_take_b_then_a " in folded, folded


def test_a_taker_on_a_shallow_stack_is_in_the_finding_with_its_whole_stack(out_dir):
    run = deep_runtime_run(out_dir, 2)
    finding = lib.assert_single_inversion(run, lock_count=2, lock_kinds=["mutex", "mutex"])
    lib.assert_takers_match_threads(finding, ["ext_take_a_then_b", "ext_take_b_then_a"])
    for thread in finding["threads"]:
        functions = [lib.normalize_function(frame.get("function")) for frame in thread["native_frames"]]
        assert functions[:4] == ["runtime_descend"] * 3 + [functions[3]], functions
        assert functions[3] in ("ext_take_a_then_b", "ext_take_b_then_a"), functions
        assert functions[-1] in ("clone", "clone3", "__clone", "__clone3"), functions  # whole, up to its start
    stderr = run.completed.stderr
    assert "    #3 " in stderr and " in ext_take_a_then_b " in stderr, stderr


@pytest.mark.parametrize("depth", [48, 2])
def test_a_hang_under_a_deep_runtime_shows_the_reader(out_dir, depth):
    # A hang's stacks come from each thread's signal handler: they used to stop at 32
    # frames, all the runtime's. 2 is the shallow twin.
    run = run_with(out_dir, ["--timeout", "2"], [lib.program_path("deep_runtime_stack"), str(depth), "hang"],
                   timeout=90)
    assert run.kinds() == ["hang"], run.describe()
    [reader] = [t for t in run.findings[0]["threads"] if t.get("name") == "deep-reader"]
    functions = [lib.normalize_function(frame.get("function")) for frame in reader["native_frames"]]
    assert functions.count("runtime_descend") == depth + 1, functions
    assert "ext_read_deep" in functions, functions
    stderr = run.completed.stderr
    assert re.search(r"\n    #%d 0x[0-9a-f]+ in ext_read_deep " % functions.index("ext_read_deep"), stderr), stderr
