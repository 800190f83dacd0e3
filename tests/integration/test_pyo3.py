"""The seeds as real PyO3 extensions (scenarios/pyo3: a Cargo workspace, pyo3 and
parking_lot from crates.io, abi3) under `gilwatch run`, on Debian's python3.11 (libpython
in the executable) and one shared-libpython interpreter. Rust's locks are futex words:
what gilwatch sees of them is the wait in syscall(SYS_futex, ...). Each buggy fixture is
found with the right kind and the right functions on the stack; each fixed twin, and
code whose Rust locks are merely contended with the GIL released, gets zero findings.
"""

import json
import os
import subprocess

import pytest

import gilwatch_testlib as lib


def pyo3_status():
    try:
        with open(lib.build_dir() / "scenarios" / "pyo3.json") as f:
            return json.load(f)
    except FileNotFoundError:
        return {"built": False, "reason": "build/scenarios/pyo3.json is missing: configure the build first"}


def pyo3_pythons():
    """Debian's interpreter and the newest shared-libpython one: abi3 makes one build
    serve both; the split that matters to interception is static vs shared."""
    pythons = lib.load_pythons()
    chosen = [p for p in pythons if p["interpreter"] == str(lib.DEBIAN_PYTHON)]
    shared = sorted((p for p in pythons if p["shared_libpython"]),
                    key=lambda p: tuple(int(n) for n in p["version"].split(".")))
    chosen += shared[-1:]
    return chosen


STATUS = pyo3_status()
PYTHONS = pyo3_pythons()
IDS = lib.python_ids(PYTHONS)


@pytest.fixture(autouse=True)
def require_pyo3_fixtures():
    if not STATUS.get("built"):
        pytest.skip("PyO3 fixtures not built: %s" % STATUS.get("reason"))


def drive(python, *arguments):
    return [python["interpreter"], lib.source_dir() / "scenarios" / "pyo3" / "drive.py",
            "--module-dir", STATUS["module_dir"], *arguments]


def frames_of(finding):
    return [lib.native_functions(thread) for thread in finding["threads"]]


def any_frame_contains(thread, text):
    return any(text in (frame.get("function") or "") for frame in thread.get("native_frames", []))


def test_debian_interpreter_is_covered():
    assert any(p["interpreter"] == str(lib.DEBIAN_PYTHON) for p in PYTHONS) or not lib.DEBIAN_PYTHON.exists(), \
        PYTHONS


# ---- the registry: GIL -> Rust RwLock / RwLock -> GIL ----

LOCK_WAITERS = {"std": "RwLock>::write_contended", "parking_lot": "lock_exclusive_slow"}
# What the report calls the futex word, from the lock implementation on the waiter's stack.
LOCK_NAMES = {"std": "std::sync::RwLock, write", "parking_lot": "parking_lot::RwLock, write"}


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
@pytest.mark.parametrize("lock", ["std", "parking_lot"])
def test_registration_waiting_with_gil_held(out_dir, python, lock):
    # Reported although the run completes: every contended registration shows the bug.
    run = lib.run_gilwatch(out_dir, drive(python, "registry", lock, "buggy", "wait", "--ms", "300"))
    assert run.kinds() == ["gil-held-blocking"], run.describe()
    assert run.returncode == lib.FINDINGS_EXIT_STATUS, run.describe()
    finding = run.findings[0]
    assert finding["detail"] == "futex wait", finding
    assert finding["occurrences"] == 1 and finding["longest_wait_ms"] >= 250, finding
    waiter = finding["threads"][0]
    assert any_frame_contains(waiter, "register_holding_gil"), waiter
    assert any_frame_contains(waiter, LOCK_WAITERS[lock]), waiter
    assert "register_while_dispatching" in lib.python_functions(waiter), waiter
    assert "(%s)" % LOCK_NAMES[lock] in waiter["role"], waiter["role"]
    assert "(%s)" % LOCK_NAMES[lock] in finding["summary"], finding["summary"]


def short_futex_waits(out_dir):
    """The short futex waits with the GIL held the library recorded in its per-process
    results (raw/gilwatch.<pid>.<start>.json), whether or not `gilwatch` reported them."""
    waits = []
    for path in sorted(out_dir.glob("**/gilwatch.*.json")):
        with open(path) as f:
            document = json.load(f)
        waits += [f for f in document.get("findings", []) if f.get("futex_wait") == "short"]
    return waits


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
@pytest.mark.parametrize("lock", ["std", "parking_lot"])
def test_short_wait_for_a_holder_that_never_needs_the_gil_is_left_out(out_dir, python, lock):
    # A wait shorter than the 100 ms other waits with the GIL held need, for a lock whose
    # holder (the auditor) never asks for the GIL: it cannot deadlock, so it is left out
    # (docs/futex-locks.md) — but it was seen: the library recorded it. The auditor holds
    # the lock 50 ms from the moment it says so; the registrar must first take the GIL
    # back, so a hold of a few ms was sometimes over before the registration came.
    run = lib.run_gilwatch(out_dir, drive(python, "registry", lock, "buggy", "wait", "--ms", "50"))
    lib.assert_clean(run)
    waits = short_futex_waits(out_dir)
    assert waits and not any(w["holders_need_gil"] for w in waits), waits


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_short_wait_for_a_holder_that_needs_the_gil_is_reported(out_dir, python):
    # The twin: the same short registration on a std Mutex, whose dispatcher later holds
    # it while it attaches and wakes it on release — the holders need the GIL, so the
    # short wait is a deadlock waiting to happen, reported however short.
    run = lib.run_gilwatch(out_dir, drive(python, "registry", "mutex", "buggy", "inversion", "--ms", "50"))
    assert "gil-held-blocking" in run.kinds(), run.describe()
    blocking = lib.findings_of(run, "gil-held-blocking")[0]
    assert blocking["detail"] == "futex wait", blocking
    assert "(std::sync::Mutex)" in blocking["summary"], blocking["summary"]
    assert any(w["holders_need_gil"] for w in short_futex_waits(out_dir)) or blocking["longest_wait_ms"] >= 100, \
        short_futex_waits(out_dir)


PRINT_AND_DROP_RUNS = 5


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_stdout_lock_and_reference_pool_waits_are_left_out(tmp_path, python):
    # Native threads println! and drop Py objects detached while the attached thread
    # prints: std's stdout lock and PyO3's reference-pool mutex are waited for with the
    # GIL held for a moment, and no holder of either ever needs the GIL. No findings in
    # any run; the waits were seen (recorded by the library, counted in the profile).
    seen = 0
    for index in range(PRINT_AND_DROP_RUNS):
        out_dir = tmp_path / ("run%d" % index)
        completed, document = run_profiled(out_dir, drive(python, "print-and-drop", "--threads", "4",
                                                         "--iterations", "3000"))
        assert completed.returncode == 0, completed.describe()
        assert document["findings"] == [], document["findings"]
        waits = short_futex_waits(out_dir)
        assert not any(w["holders_need_gil"] for w in waits), waits
        if waits:
            rows = [row for row in document["profiles"]["locks"] if row["kind"] == "futex"]
            assert any(row["name"] == "std::sync::Mutex" and row["contended"] >= 1 for row in rows), rows
        seen += len(waits)
    assert seen >= 1, "no short wait with the GIL held in %d runs: the test saw nothing" % PRINT_AND_DROP_RUNS


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
@pytest.mark.parametrize("lock", ["std", "parking_lot"])
def test_registration_detached_is_clean(out_dir, python, lock):
    lib.assert_clean(lib.run_gilwatch(out_dir, drive(python, "registry", lock, "fixed", "wait", "--ms", "300")))


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
@pytest.mark.parametrize("lock", ["std", "parking_lot"])
def test_registry_inversion_hang_is_a_probable_deadlock(out_dir, python, lock):
    run = lib.run_gilwatch(out_dir, drive(python, "registry", lock, "buggy", "deadlock"))
    finding = lib.assert_deadlock(run, probable=True)
    holder = next(t for t in finding["threads"] if "while holding the GIL" in t["role"])
    assert "futex word" in holder["role"], holder["role"]
    assert "(%s)" % LOCK_NAMES[lock] in holder["role"], holder["role"]
    assert "futex word (%s) whose owner cannot be known" % LOCK_NAMES[lock] in finding["summary"], finding
    assert any_frame_contains(holder, "register_holding_gil"), holder
    assert any_frame_contains(holder, LOCK_WAITERS[lock]), holder
    dispatcher = next(t for t in finding["threads"] if t["role"].startswith("waits for the GIL"))
    assert any_frame_contains(dispatcher, "dispatch_holding_read_lock"), dispatcher


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
@pytest.mark.parametrize("lock", ["std", "parking_lot"])
def test_registry_fixed_dispatch_is_clean(out_dir, python, lock):
    lib.assert_clean(lib.run_gilwatch(out_dir, drive(python, "registry", lock, "fixed", "deadlock")))


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
@pytest.mark.parametrize("lock", ["std", "parking_lot"])
def test_registry_fixed_churn_is_clean(out_dir, python, lock):
    # Four Python threads and twenty dispatchers: the registry lock is contended, never
    # with the GIL held.
    lib.assert_clean(lib.run_gilwatch(out_dir, drive(python, "registry", lock, "fixed", "churn")))


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
@pytest.mark.parametrize("lock", ["std", "parking_lot"])
def test_rust_locks_contended_without_gil_are_clean(out_dir, python, lock):
    lib.assert_clean(lib.run_gilwatch(out_dir, drive(python, "contend", lock, "--threads", "4")))


# ---- futex words in the lock graph ----

@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_mutex_registry_inversion_found_without_a_hang(out_dir, python):
    # A registration waits for the Mutex with the GIL held (GIL -> word); a dispatcher
    # whose acquisition was contended attaches while holding it, and wakes the word when
    # it releases it — which proves the hold (word -> GIL). The run completes.
    run = lib.run_gilwatch(out_dir, drive(python, "registry", "mutex", "buggy", "inversion", "--ms", "100"))
    assert run.kinds() == ["gil-held-blocking", "lock-order-inversion"], run.describe()
    assert run.returncode == lib.FINDINGS_EXIT_STATUS, run.describe()
    inversion = lib.findings_of(run, "lock-order-inversion")[0]
    assert sorted(lock["kind"] for lock in inversion["locks"]) == ["futex", "gil"], inversion["locks"]
    word = next(lock for lock in inversion["locks"] if lock["kind"] == "futex")
    assert word["name"] == "std::sync::Mutex", word
    assert "'std::sync::Mutex'" in inversion["summary"], inversion["summary"]
    lib.assert_takers_match_threads(inversion, ["rs_registry::dispatch_holding_read_lock",
                                                "rs_registry::register_holding_gil"])


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
@pytest.mark.parametrize("lock", ["std", "parking_lot"])
def test_rwlock_inversion_without_a_hang_is_only_the_blocking_wait(out_dir, python, lock):
    # An RwLock's release wakes another word than the one its readers waited on, and
    # parking_lot wakes the waiter's own word: no proof of the dispatcher's hold, so no
    # edge out of the word (docs/futex-locks.md); the registration's wait is reported.
    # The auditor's hold is long enough (300 ms) for the wait to be a finding by itself: a
    # short one would be left out, with no proof that the holders need the GIL.
    run = lib.run_gilwatch(out_dir, drive(python, "registry", lock, "buggy", "inversion", "--ms", "300"))
    assert run.kinds() == ["gil-held-blocking"], run.describe()


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
@pytest.mark.parametrize("lock", ["mutex", "std", "parking_lot"])
def test_registry_inversion_scenario_fixed_is_clean(out_dir, python, lock):
    lib.assert_clean(lib.run_gilwatch(out_dir, drive(python, "registry", lock, "fixed", "inversion", "--ms", "100")))


# ---- the contention profile counts futex waits ----

def run_profiled(out_dir, command):
    completed = lib.run_bounded([lib.gilwatch_path(), "run", "--profile", "--out", str(out_dir), "--", *command])
    with open(out_dir / "findings.json") as f:
        return completed, json.load(f)


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
@pytest.mark.parametrize("lock", ["std", "parking_lot"])
def test_profile_counts_futex_waits_by_lock_and_site(out_dir, python, lock):
    # A registration that waits 300 ms for the auditor's read lock, detached: one
    # contended write acquisition, named from the waiter's stack, at the program's code.
    completed, document = run_profiled(out_dir, drive(python, "registry", lock, "fixed", "wait", "--ms", "300"))
    assert completed.returncode == 0, completed.describe()
    assert document["findings"] == [], document["findings"]
    futex_rows = [row for row in document["profiles"]["locks"] if row["kind"] == "futex"]
    assert [row["name"] for row in futex_rows] == [LOCK_NAMES[lock]], futex_rows
    (row,) = futex_rows
    # Only waits are seen: each one is a contended acquisition.
    assert row["acquisitions"] == row["contended"] >= 1, row
    assert row["wait_max_ns"] >= 250 * 1000 * 1000, row
    assert row["holds"] == 0, row
    assert row["waiters"] and any("register_detached" in (f.get("function") or "")
                                  for f in row["waiters"][0]["native_frames"]), row["waiters"]
    # The site is the program's code, past std's and parking_lot's frames.
    assert not any("/rustc/" in (f.get("file") or "") for f in row["site"][:1]), row["site"]
    assert "futex (%s) waited for in" % LOCK_NAMES[lock] in completed.stderr, completed.stderr


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_profile_leaves_out_waits_that_are_not_locks(out_dir, python):
    # The caller waits for the activity thread's answer in a channel's recv, which parks
    # it on a futex word: the process's results have that wait, the contention table
    # does not (a thread waiting for a message is not waiting for a lock).
    completed, document = run_profiled(out_dir, drive(python, "blockon", "fixed", "channel", "--callback-ms", "50"))
    assert completed.returncode == 0, completed.describe()
    raw_futex_records = 0
    for path in (out_dir / "raw").glob("*.json"):
        with open(path) as f:
            raw = json.load(f)
        raw_futex_records += sum(1 for row in raw.get("profiles", {}).get("locks", []) if row["kind"] == "futex")
    assert raw_futex_records >= 1
    assert [row for row in document["profiles"]["locks"] if row["kind"] == "futex"] == [], document["profiles"]["locks"]


# ---- block_on while attached ----

@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
@pytest.mark.parametrize("mechanism", ["block_on", "channel"])
def test_waiting_on_native_work_with_gil_held_is_a_probable_deadlock(out_dir, python, mechanism):
    run = lib.run_gilwatch(out_dir, drive(python, "blockon", "buggy", mechanism))
    finding = lib.assert_deadlock(run, probable=True)
    holder = next(t for t in finding["threads"] if "while holding the GIL" in t["role"])
    assert "futex word" in holder["role"], holder["role"]
    expected = {"block_on": "tokio Runtime::block_on", "channel": "std::sync::mpsc channel"}[mechanism]
    assert "(%s)" % expected in holder["role"], holder["role"]
    assert any_frame_contains(holder, "wait_with_" + mechanism), holder
    assert "run_activity" in lib.python_functions(holder), holder
    assert any(t["role"].startswith("waits for the GIL") and any_frame_contains(t, "invoke")
               for t in finding["threads"]), lib.roles(finding)


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_join_with_gil_held_is_a_deadlock(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python, "blockon", "buggy", "join"))
    finding = lib.assert_deadlock(run, probable=False)
    assert any(role.startswith("joins thread") and "while holding the GIL" in role for role in lib.roles(finding)), \
        lib.roles(finding)


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
@pytest.mark.parametrize("mechanism", ["block_on", "channel", "join"])
def test_waiting_detached_is_clean(out_dir, python, mechanism):
    lib.assert_clean(lib.run_gilwatch(out_dir, drive(python, "blockon", "fixed", mechanism)))


# ---- panics ----

@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_panic_under_write_guard_and_on_the_poisoned_lock(out_dir, python):
    # Two panics with the GIL held: the validation's expect under the write guard, then
    # the unwrap of the PoisonError every later caller gets. Two sites, two findings.
    run = lib.run_gilwatch(out_dir, drive(python, "poison", "buggy"))
    assert run.kinds() == ["rust-panic", "rust-panic"], run.describe()
    assert run.returncode == lib.FINDINGS_EXIT_STATUS, run.describe()
    assert "ok/PanicException; registered: PanicException" in run.completed.stdout, run.describe()
    by_site = {}
    for finding in run.findings:
        assert finding["detail"] == "gil-held", finding
        assert "while it holds the GIL" in finding["summary"], finding
        assert [lock["kind"] for lock in finding["locks"]] == ["gil"], finding
        (thread,) = finding["threads"]
        assert thread["role"] == "panicked while holding the GIL", thread
        assert any_frame_contains(thread, "rust_panic") or any_frame_contains(thread, "panicking"), thread
        for site in ("validate_under_write_guard", "registered"):
            # Named bare (an inlined call's DWARF name) or with its path (the symbol's).
            if any(name == site or name.endswith("::" + site) for name in lib.native_functions(thread)):
                by_site[site] = thread
    assert sorted(by_site) == ["registered", "validate_under_write_guard"], run.describe()
    assert "register_plugins" in lib.python_functions(by_site["validate_under_write_guard"])


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_panic_in_detached_code_reaching_python(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python, "poison-detached"))
    assert run.kinds() == ["rust-panic"], run.describe()
    finding = run.findings[0]
    assert finding["detail"] == "panic-exception", finding
    assert "reached Python as an exception" in finding["summary"], finding
    assert any_frame_contains(finding["threads"][0], "fail_detached"), finding
    assert "detached: PanicException" in run.completed.stdout, run.describe()


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_panic_holding_a_native_lock_is_an_abandoned_lock(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python, "poison-detached", "--native-lock"))
    assert run.kinds() == ["abandoned-lock"], run.describe()
    finding = run.findings[0]
    assert finding["detail"] == "rust-panic", finding
    assert [lock["kind"] for lock in finding["locks"]] == ["mutex"], finding
    assert finding["threads"][0]["role"].startswith("panicked while holding mutex 0x"), finding
    assert any_frame_contains(finding["threads"][0], "update_native_state_and_fail"), finding
    assert "detached: PanicException" in run.completed.stdout, run.describe()


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_validation_without_panic_is_clean(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python, "poison", "fixed"))
    lib.assert_clean(run)
    assert "ok/ValueError; registered: 1" in run.completed.stdout, run.describe()


# ---- a panic on a native thread Python never saw (the poisoning seed) ----

NATIVE_WORKER_CAUGHT_ROLE = ("std's thread wrapper caught the panic here, outside the thread's function: "
                             "the thread ended (its JoinHandle gets Err)")


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_native_worker_panic_under_write_guard(out_dir, python):
    # No GIL, no C API call, no pthread lock: the worker's panic ends it, the readers
    # waiting for its write guard take the poisoned lock and read half-written data.
    run = lib.run_gilwatch(out_dir, drive(python, "native-worker", "buggy", "--readers", "2"))
    assert run.kinds() == ["rust-panic"], run.describe()
    assert run.returncode == lib.FINDINGS_EXIT_STATUS, run.describe()
    assert "panicked; readers saw [3, 3]; poisoned: True" in run.completed.stdout, run.describe()
    finding = run.findings[0]
    assert finding["detail"] == "native-thread", finding
    assert "which Python never saw, ended the thread" in finding["summary"], finding
    assert "2 threads were waiting for" in finding["summary"], finding
    assert [lock["kind"] for lock in finding["locks"]] == ["futex"], finding
    roles = lib.roles(finding)
    panicked, caught, started = finding["threads"][:3]
    assert panicked["role"].startswith("panicked on a thread started outside the interpreter"), roles
    assert any_frame_contains(panicked, "write_half_then_fail"), panicked
    assert any_frame_contains(panicked, "update_registry_natively"), panicked
    assert caught["role"] == NATIVE_WORKER_CAUGHT_ROLE and caught["tid"] == panicked["tid"], roles
    assert not any_frame_contains(caught, "__rust_begin_short_backtrace"), caught
    assert started["role"] == "started here (pthread_create)", roles
    assert any_frame_contains(started, "native_thread::run"), started
    readers = finding["threads"][3:]
    assert len(readers) == 2, roles
    for reader in readers:
        assert reader["role"].startswith("was waiting for futex word"), roles
        assert "took the poisoned lock next and went on" in reader["role"], roles
        assert reader["tid"] != panicked["tid"], roles
        assert any_frame_contains(reader, "read_recovering"), reader


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_native_worker_returning_an_error_is_clean(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python, "native-worker", "error"))
    lib.assert_clean(run)
    assert "error: update rejected before writing; readers saw [2, 2]; poisoned: False" in run.completed.stdout, \
        run.describe()


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_native_worker_catching_its_panic_is_clean(out_dir, python):
    # The same panic, caught by catch_unwind inside the worker and handled: the library
    # records it when the worker ends, and gilwatch drops it once the catch's stack shows
    # the catch was inside the thread's function.
    run = lib.run_gilwatch(out_dir, drive(python, "native-worker", "catch"))
    lib.assert_clean(run)
    assert "ok 4; readers saw [4, 4]; poisoned: False" in run.completed.stdout, run.describe()
    assert "rust-panic" not in run.completed.stderr, run.describe()


# ---- teardown: a pyclass whose Drop joins its workers ----

@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_drop_joining_workers_with_gil_held_deadlocks(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python, "teardown", "buggy"))
    finding = lib.assert_deadlock(run, probable=False)
    joiner = next(t for t in finding["threads"] if t["role"].startswith("joins thread"))
    assert any_frame_contains(joiner, "join_holding_gil"), joiner
    assert any(lock["kind"] == "gil" for lock in finding["locks"]), finding


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_drop_joining_detached_is_clean(out_dir, python):
    lib.assert_clean(lib.run_gilwatch(out_dir, drive(python, "teardown", "fixed", "--pools", "10")))


# ---- the fixtures without gilwatch ----

HANGING = [("registry", "std", "buggy", "deadlock"), ("registry", "parking_lot", "buggy", "deadlock"),
           ("blockon", "buggy", "block_on"), ("blockon", "buggy", "channel"), ("blockon", "buggy", "join"),
           ("teardown", "buggy")]


@pytest.mark.parametrize("arguments", HANGING, ids=["-".join(a) for a in HANGING])
def test_buggy_fixtures_really_hang_without_gilwatch(arguments):
    if not lib.DEBIAN_PYTHON.exists():
        pytest.skip("%s is not installed" % lib.DEBIAN_PYTHON)
    debian = {"interpreter": str(lib.DEBIAN_PYTHON)}
    completed = lib.run_bounded_expect_timeout(drive(debian, *arguments), timeout=3)
    assert completed.timed_out, completed.describe()



# ---- under gilwatch stress ----

def test_rust_registry_under_stress_bug_in_every_run_fix_in_none(tmp_path):
    if not lib.DEBIAN_PYTHON.exists():
        pytest.skip("%s is not installed" % lib.DEBIAN_PYTHON)
    out = tmp_path / "stress"
    command = [lib.gilwatch_path(), "stress", lib.source_dir() / "scenarios" / "pyo3" / "stress.toml",
               "--python", str(lib.DEBIAN_PYTHON), "--out", out, "-j", "2"]
    env = dict(os.environ, GILWATCH_PYO3_DIR=STATUS["module_dir"])
    completed = subprocess.run([str(c) for c in command], cwd=str(lib.source_dir()), env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    with open(out / "findings.json") as f:
        document = json.load(f)
    outcomes = {}
    for run in document["stress"]["runs"]:
        outcomes.setdefault(run["scenario"], []).append(run["outcome"])
    assert outcomes == {"rust-registry-buggy": ["findings"] * 3, "rust-registry-fixed": ["ok"] * 3}, \
        (outcomes, completed.stderr[-3000:])
    kinds = {f["kind"] for f in document["findings"]}
    assert kinds and kinds <= {"deadlock", "gil-held-blocking", "lock-order-inversion"}, kinds
    for finding in document["findings"]:
        assert all(run["scenario"] == "rust-registry-buggy" for run in finding["runs"]), finding["runs"]
    assert completed.returncode == lib.FINDINGS_EXIT_STATUS, completed.stderr[-3000:]
