"""The contention profile (`gilwatch run --profile`, GILWATCH_OPTIONS profile=1) on the
contended_registry program: its registry rwlock on top of the table with the waiters'
stacks, the per-entry mutexes one row, nothing contended with one thread, no profile
without the flag. Numbers are asserted by shape (order, counts, ratios), never by time."""

import json
import sys

import pytest

import gilwatch_testlib as lib

PYTHON = str(lib.DEBIAN_PYTHON) if lib.DEBIAN_PYTHON.exists() else sys.executable


def profiled(out_dir, *command, flag=True):
    arguments = ["run", "--out", out_dir] + (["--profile"] if flag else []) + ["--"] + [str(c) for c in command]
    completed = lib.run_bounded([lib.gilwatch_path(), *arguments])
    findings = json.loads((out_dir / "findings.json").read_text())
    return completed, findings


def function_of(row):
    return row["site"][0]["function"] if row["site"] else None


def test_contended_registry_lock_tops_the_table_with_its_waiters(out_dir):
    completed, document = profiled(out_dir, lib.program_path("contended_registry"), 4)
    assert completed.returncode == 0, completed.describe()
    assert document["findings"] == [], completed.describe()
    profiles = document["profiles"]
    assert profiles["processes"] == 1
    rows = profiles["locks"]
    top = rows[0]
    assert function_of(top) == "registry_update" and top["kind"] == "rwlock", rows
    assert top["locks"] == 1
    assert top["acquisitions"] == 4 * 20000
    assert top["contended"] > 0 and 0 < top["contended_share"] <= 1
    assert top["wait_total_ns"] >= top["wait_max_ns"] > 0
    assert top["wait_p50_ns"] <= top["wait_p99_ns"] <= top["wait_max_ns"]
    assert top["holds"] == top["acquisitions"]
    assert top["hold_p50_ns"] <= top["hold_p99_ns"] <= top["hold_max_ns"]
    # The longest waiters, longest first, each waiting in registry_update.
    waits = [w["wait_ns"] for w in top["waiters"]]
    assert waits and waits == sorted(waits, reverse=True) and waits[0] == top["wait_max_ns"], top["waiters"]
    for waiter in top["waiters"]:
        assert lib.normalize_function(waiter["native_frames"][0]["function"]) == "registry_update", waiter
    # The 64 entry mutexes, made and first taken at one site, are one row; each thread
    # has its own 16 of them, so none was ever waited for.
    entries = [r for r in rows if function_of(r) == "entry_touch"]
    assert len(entries) == 1 and entries[0]["locks"] == 64 and entries[0]["acquisitions"] == 4 * 20000, entries
    assert entries[0]["contended"] == 0 and entries[0]["waiters"] == [], entries
    config = [r for r in rows if function_of(r) == "read_config"]
    assert len(config) == 1 and config[0]["acquisitions"] == 100 and config[0]["contended"] == 0, config
    # The registry waited longer in all than anything else.
    assert all(top["wait_total_ns"] >= r["wait_total_ns"] for r in rows)
    assert "==gilwatch== lock contention (1 profiled process)" in completed.stderr
    assert "rwlock first taken in registry_update" in completed.stderr
    html = (out_dir / "report.html").read_text()
    table = html[html.index('<table class="sortable contention">'):]
    assert table.index("registry_update") < table.index("entry_touch"), "registry lock not first in the table"
    assert "The longest waits for the rwlock first taken in <code>registry_update" in html


def test_one_thread_contends_for_nothing(out_dir):
    completed, document = profiled(out_dir, lib.program_path("contended_registry"), 1)
    assert completed.returncode == 0, completed.describe()
    rows = document["profiles"]["locks"]
    assert {function_of(r) for r in rows} >= {"registry_update", "entry_touch", "read_config"}, rows
    for row in rows:
        assert row["contended"] == 0 and row["wait_total_ns"] == 0 and row["waiters"] == [], row
    assert [r for r in rows if function_of(r) == "registry_update"][0]["acquisitions"] == 20000


def test_no_profile_without_the_flag(out_dir):
    completed, document = profiled(out_dir, lib.program_path("contended_registry"), 2, flag=False)
    assert completed.returncode == 0, completed.describe()
    assert "profiles" not in document
    assert "lock contention" not in completed.stderr
    assert 'class="sortable contention"' not in (out_dir / "report.html").read_text()


@pytest.mark.parametrize("python", lib.load_pythons(), ids=lib.python_ids(lib.load_pythons()))
def test_profile_under_the_interpreter(out_dir, python):
    """Every interpreter with the registry extension: every lock the interpreter and the
    extension take is profiled, without findings on the fixed twin."""
    lib.require_extension(python, "registry_fixed")
    completed, document = profiled(out_dir, python["interpreter"], lib.registry_driver(), "fixed", "--module-dir",
                                   python["module_dir"])
    assert completed.returncode == 0, completed.describe()
    assert document["findings"] == [], completed.describe()
    rows = document["profiles"]["locks"]
    assert rows and all(r["acquisitions"] >= r["contended"] for r in rows)
    assert any(function_of(r) and "registry" in function_of(r) for r in rows), [function_of(r) for r in rows]


# ---- the GIL profile: the parallel fixture's three variants at 1 and 2 threads ----

PYTHONS = lib.load_pythons()
ROUNDS = 100   # work(200) calls per worker
ITEMS = 200


def sites_in(gil, function, api):
    return [s for s in gil["sites"] if s["api"] == api and s["site"]
            and lib.normalize_function(s["site"][0]["function"]) == function]


def drive_parallel(out_dir, python, variant, threads):
    command = [python["interpreter"], lib.source_dir() / "scenarios" / "extensions" / "parallel" / "profile_drive.py",
               variant, threads, ROUNDS, "--module-dir", python["module_dir"]]
    completed, document = profiled(out_dir, *command)
    assert completed.returncode == 0, completed.describe()
    assert document["findings"] == [], completed.describe()
    gil = document["profiles"]["gil"]
    assert gil["processes"] == 1, "the GIL's hand-offs were not seen\n" + completed.describe()
    workers = sorted((t for t in gil["threads"] if t["name"].startswith("worker-")), key=lambda t: t["name"])
    assert len(workers) == threads, gil["threads"]
    return workers, gil


@pytest.mark.parametrize("python", PYTHONS, ids=lib.python_ids(PYTHONS))
def test_gil_never_released_is_held_for_the_whole_work(out_dir, python):
    workers, gil = drive_parallel(out_dir, python, "held", 2)
    # No call site of the module ever drops the GIL.
    assert not [s for s in gil["sites"] if s["site"] and "parallel" in (s["site"][0].get("file") or "")], gil["sites"]
    for w in workers:
        # The GIL changes hands only when the interpreter asks the holder to let go (its
        # switch interval), never per call or per item: few takes, long holds, and each
        # worker waits about as long as the other holds.
        assert w["takes"] < ROUNDS * ITEMS // 20, w
        assert w["held_share"] > 0.15 and w["waited_share"] > 0.05, w
        assert w["longest_hold_ns"] > 1000000, w
    # What ran while it was held: the module's own function, for most of the hold time.
    holders = [h for h in gil["long_holds"] if h["site"]
               and lib.normalize_function(h["site"][0]["function"]) == "parallel_work"]
    assert len(holders) == 1, gil["long_holds"]
    assert holders[0]["held_total_ns"] > 0.5 * sum(w["held_ns"] for w in workers), (holders, workers)
    assert gil["long_holds"][0] == holders[0], gil["long_holds"]
    html = (out_dir / "report.html").read_text()
    for table in ("gil-threads", "gil-holders", "gil-sites", "contention"):
        assert 'class="sortable %s"' % table in html, table
    assert "<code>parallel_work (parallel.c:" in html
    single, _ = drive_parallel(out_dir, python, "held", 1)
    assert single[0]["held_share"] > 0.2 and single[0]["waited_share"] < 0.1, single


@pytest.mark.parametrize("python", PYTHONS, ids=lib.python_ids(PYTHONS))
def test_gil_taken_back_per_item_shows_in_the_takes(out_dir, python):
    workers, gil = drive_parallel(out_dir, python, "buggy", 2)
    for w in workers:
        # Released for the call, then taken back for every one of the 200 items.
        assert w["takes"] >= ROUNDS * ITEMS, w
    # The call site says so: its released sections had the GIL taken back, and C API
    # calls made, inside them — the object built per item among them.
    [released] = sites_in(gil, "work_per_item_with_gil", "PyEval_SaveThread")
    assert released["sections"] == 2 * ROUNDS, released
    assert released["takes_inside"] == 2 * ROUNDS * ITEMS, released
    assert released["capi_calls_inside"] >= 2 * ROUNDS * ITEMS, released
    assert "PyLong_FromUnsignedLongLong" in released["capi_inside"], released
    [ensure] = sites_in(gil, "work_per_item_with_gil", "PyGILState_Ensure")
    assert ensure["calls"] == 2 * ROUNDS * ITEMS, ensure
    single, _ = drive_parallel(out_dir, python, "buggy", 1)
    assert single[0]["takes"] >= ROUNDS * ITEMS, single


@pytest.mark.parametrize("python", PYTHONS, ids=lib.python_ids(PYTHONS))
def test_gil_released_for_the_work_is_hardly_held(out_dir, python):
    workers, gil = drive_parallel(out_dir, python, "fixed", 2)
    for w in workers:
        # Taken once per call to build its result; the work itself runs without it.
        assert ROUNDS <= w["takes"] < 10 * ROUNDS, w
        assert w["held_share"] < 0.15 and w["waited_share"] < 0.15, w
    # Released once per call, nothing inside; the work is the released time.
    [released] = sites_in(gil, "work_without_gil", "PyEval_SaveThread")
    # The module hardly held the GIL for long: only when the machine preempted a thread
    # between taking the GIL back and returning (a loaded CI machine does).
    long_here = [h for h in gil["long_holds"] if h["site"] and "parallel" in (h["site"][0].get("file") or "")]
    assert sum(h["holds"] for h in long_here) < ROUNDS // 10, gil["long_holds"]
    assert sum(h["held_total_ns"] for h in long_here) < 0.1 * released["released_total_ns"], (long_here, released)
    assert released["sections"] == 2 * ROUNDS, released
    assert released["takes_inside"] == 0 and released["capi_calls_inside"] == 0, released
    assert released["released_total_ns"] > sum(w["held_ns"] for w in workers) * 5, (released, workers)
    single, _ = drive_parallel(out_dir, python, "fixed", 1)
    assert single[0]["held_share"] < 0.15, single


def test_preloaded_by_hand_the_library_prints_a_short_profile(tmp_path):
    """GILWATCH_OPTIONS=profile=1 without `gilwatch run`: the library's own summary on
    stderr at exit names the lock waited for longest and where the results are."""
    import os
    import subprocess
    env = dict(os.environ, LD_PRELOAD=str(lib.build_dir() / "lib" / "libgilwatch.so"),
               GILWATCH_OPTIONS="profile=1:out_dir=%s" % tmp_path)
    completed = subprocess.run([str(lib.program_path("contended_registry")), "4"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert ("gilwatch profile: the lock waited for longest: rwlock" in completed.stderr
            or "gilwatch profile: no lock was waited for; the most taken: rwlock" in completed.stderr), completed.stderr
    assert "80000 acquisitions" in completed.stderr, completed.stderr
    assert "gilwatch profile: all of it in %s/gilwatch." % tmp_path in completed.stderr, completed.stderr
    assert "the GIL" not in completed.stderr  # no interpreter, no GIL line


# ---- CPython 3.13's PyMutex in an extension ----

def version_of(python):
    return tuple(int(n) for n in python["version"].split(".")[:2])


def drive_pymutex(out_dir, python, profile=True):
    lib.require_extension(python, "pymutex_fixture")
    driver = lib.source_dir() / "scenarios" / "extensions" / "pymutex" / "drive.py"
    return profiled(out_dir, python["interpreter"], driver, "--ms", "300", "--module-dir", python["module_dir"],
                    flag=profile)


@pytest.mark.parametrize("python", PYTHONS, ids=lib.python_ids(PYTHONS))
def test_pymutex_slow_path_counts_as_a_lock_wait(out_dir, python):
    if version_of(python) < (3, 13):
        pytest.skip("PyMutex is public from CPython 3.13 on (this is %s)" % python["version"])
    completed, document = drive_pymutex(out_dir, python)
    # Parked with the GIL released: a wait, not a wait with the GIL held.
    assert completed.returncode == 0, completed.describe()
    assert document["findings"] == [], completed.describe()
    rows = [row for row in document["profiles"]["locks"] if row["kind"] == "pymutex"]
    assert len(rows) == 1, document["profiles"]["locks"]
    row = rows[0]
    assert row["acquisitions"] == row["contended"] == 1, row
    assert row["wait_max_ns"] >= 200 * 1000 * 1000, row
    assert function_of(row) == "take_registry_mutex", row["site"]
    assert "pymutex waited for in take_registry_mutex" in completed.stderr, completed.stderr


@pytest.mark.parametrize("python", PYTHONS, ids=lib.python_ids(PYTHONS))
def test_pymutex_fixture_says_so_before_3_13(out_dir, python):
    if version_of(python) >= (3, 13):
        pytest.skip("this interpreter has PyMutex")
    completed, _ = drive_pymutex(out_dir, python, profile=False)
    assert completed.returncode == 3, completed.describe()
    assert "no PyMutex before CPython 3.13" in completed.stderr, completed.describe()


def test_hold_times_contain_the_holds_the_program_timed(out_dir):
    # The profile times holds with its own clock (the time-stamp counter once calibrated,
    # 20 ms in): its total for the mutex must contain the program's own CLOCK_MONOTONIC
    # total of the same holds (the hooks' stamps lie just outside the program's), and
    # exceed it only by the hooks' own time and the odd preemption.
    completed, document = profiled(out_dir, lib.program_path("timed_holds"))
    assert completed.returncode == 0, completed.describe()
    assert document["findings"] == [], completed.describe()
    program_ns = int(completed.stdout.split("held_ns")[1].split()[0])
    rows = document["profiles"]["locks"]
    timed = [r for r in rows if function_of(r) == "hold_for_a_while"]
    assert len(timed) == 1 and timed[0]["acquisitions"] == 40 and timed[0]["holds"] == 40, timed
    assert program_ns * 0.99 <= timed[0]["hold_total_ns"] <= program_ns * 1.5, (program_ns, timed[0])
    # Every hold lasted at least 1 ms by the program's clock.
    assert timed[0]["hold_max_ns"] >= 990000 and timed[0]["hold_p50_ns"] <= timed[0]["hold_max_ns"], timed[0]


def test_overlapping_read_holds_are_each_counted(out_dir):
    # The twin of the exclusive holds above: read holds of one rwlock overlap across
    # threads, and every acquisition and hold still counts once.
    completed, document = profiled(out_dir, lib.program_path("timed_holds"))
    assert completed.returncode == 0, completed.describe()
    shared = [r for r in document["profiles"]["locks"] if function_of(r) == "read_shared"]
    assert len(shared) == 1 and shared[0]["kind"] == "rwlock", shared
    assert shared[0]["acquisitions"] == 4 * 20000 and shared[0]["holds"] == 4 * 20000, shared
