"""The lock-order inversion in CPython's _sqlite3 module, made to deadlock
(scenarios/python/sqlite_callback_deadlock.py), on every interpreter: a user-defined
function runs inside sqlite3_step under the connection mutex and asks for the GIL; another
thread holding the GIL calls create_function on the same connection and waits for that
mutex. Without gilwatch it hangs; under gilwatch it is a deadlock (exit status 67) and a
lock-order inversion. The twin, nocallback, shares the connection the same way without a
user callback (SQLite never calls into Python under its mutex): it finishes and is clean.
separate gives each thread its own connection: it finishes, and each thread's own two
orders are still reported, as one lock-order inversion (the risk; that run could not
deadlock).
"""

import pytest

import gilwatch_testlib as lib

PYTHONS = lib.load_pythons()
IDS = lib.python_ids(PYTHONS)
# The deadlock is reported about a second in; this only bounds a broken run.
TIMEOUT = 60
# Long enough for the threads to meet; the plain deadlock run is expected to outlive it.
HANG_TIMEOUT = 5


def command(python, mode):
    script = lib.source_dir() / "scenarios" / "python" / "sqlite_callback_deadlock.py"
    return [python["interpreter"], script, mode]


@pytest.mark.parametrize("mode", ["nocallback", "separate"])
@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_nocallback_and_separate_finish_alone(python, mode):
    completed = lib.run_bounded(command(python, mode), timeout=TIMEOUT)
    assert completed.returncode == 0 and completed.stderr == "", completed.describe()
    assert completed.stdout == "sqlite_callback_deadlock (%s): both threads done\n" % mode, completed.describe()


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_shared_connection_with_a_callback_really_hangs_alone(python):
    completed = lib.run_bounded_expect_timeout(command(python, "deadlock"), timeout=HANG_TIMEOUT)
    assert completed.timed_out, completed.describe()
    assert completed.completed.stdout == "", completed.describe()


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_callback_under_the_connection_mutex_against_a_gil_holder_is_a_deadlock(out_dir, python):
    run = lib.run_gilwatch(out_dir, command(python, "deadlock"), timeout=TIMEOUT)
    assert run.kinds() == ["deadlock", lib.LOCK_ORDER_INVERSION], run.describe()
    assert "both threads done" not in run.completed.stdout, run.describe()

    deadlock = lib.assert_deadlock(run, probable=False)
    assert sorted(lock["kind"] for lock in deadlock["locks"]) == ["gil", "mutex"], deadlock["locks"]
    mutex = [lock for lock in deadlock["locks"] if lock["kind"] == "mutex"][0]
    assert any("libsqlite3" in site.get("module", "") for site in mutex["first_site"]), mutex
    threads = deadlock["threads"]
    assert len(threads) == 2, threads
    in_function = [t for t in threads if t["role"].startswith("waits for the GIL held by thread")]
    registering = [t for t in threads if t["role"].startswith("waits for mutex")]
    assert len(in_function) == 1 and len(registering) == 1, lib.roles(deadlock)
    assert "holds mutex " + mutex["address"] in in_function[0]["role"], in_function[0]["role"]
    assert "while holding the GIL" in registering[0]["role"], registering[0]["role"]
    # The register thread is in create_function, in SQLite, in its Python function.
    assert "sqlite3_create_function_v2" in lib.native_functions(registering[0]), registering[0]
    # Qualified names from 3.11 on, bare ones before.
    assert lib.python_functions(registering[0]) & {"with_callback.<locals>.register", "register"}, registering[0]

    inversion = lib.findings_of(run, lib.LOCK_ORDER_INVERSION)[0]
    assert sorted(lock["kind"] for lock in inversion["locks"]) == ["gil", "mutex"], inversion["locks"]
    assert [lock["address"] for lock in inversion["locks"] if lock["kind"] == "mutex"] == [mutex["address"]]
    edges = {t["role"]: t for t in inversion["threads"]}
    assert len(edges) == 2, lib.roles(inversion)
    under_mutex = [t for role, t in edges.items() if role.startswith("took the GIL while holding mutex")]
    under_gil = [t for role, t in edges.items() if role.startswith("took mutex") and role.endswith("while holding the GIL")]
    assert len(under_mutex) == 1 and len(under_gil) == 1, lib.roles(inversion)
    # SQLite called the function from sqlite3_step, under its mutex.
    assert "sqlite3_step" in lib.native_functions(under_mutex[0]), under_mutex[0]
    assert under_mutex[0]["tid"] != under_gil[0]["tid"], lib.roles(inversion)
    assert inversion["taken_by"].startswith("taken by different threads: "), inversion["taken_by"]


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_shared_connection_without_a_callback_is_clean(out_dir, python):
    run = lib.run_gilwatch(out_dir, command(python, "nocallback"), timeout=TIMEOUT)
    lib.assert_clean(run)
    assert run.completed.stdout == "sqlite_callback_deadlock (nocallback): both threads done\n", run.describe()


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_one_connection_per_thread_is_still_the_inversion_on_each_thread(out_dir, python):
    # Each thread registers its function (GIL -> its connection's mutex) and runs it
    # (mutex -> GIL) on its own connection. No lock is shared, so this run could not
    # deadlock; the orders are reported all the same, as the risk: one finding, both
    # edges on one thread, seen twice (once per thread and connection).
    run = lib.run_gilwatch(out_dir, command(python, "separate"), timeout=TIMEOUT)
    assert run.completed.stdout == "sqlite_callback_deadlock (separate): both threads done\n", run.describe()
    finding = lib.assert_single_inversion(run, 2, ["gil", "mutex"])
    assert finding["occurrences"] == 2, finding
    # One bug on two connections: each connection's mutex is an instance of one class.
    instances = finding["instances"]
    assert len(instances) == 2 and len({tuple(i["addresses"]) for i in instances}) == 2, instances
    assert all(len(i["addresses"]) == 1 for i in instances), instances
    assert finding["taken_by"].startswith("one thread took both orders: thread "), finding["taken_by"]
    mutex = [lock for lock in finding["locks"] if lock["kind"] == "mutex"][0]
    assert any("libsqlite3" in site.get("module", "") for site in mutex["first_site"]), mutex
    threads = finding["threads"]
    assert len(threads) == 2 and len({t["tid"] for t in threads}) == 1, lib.roles(finding)
    under_mutex = [t for t in threads if t["role"] == "took the GIL while holding mutex " + mutex["address"]]
    under_gil = [t for t in threads if t["role"] == "took mutex %s while holding the GIL" % mutex["address"]]
    assert len(under_mutex) == 1 and len(under_gil) == 1, lib.roles(finding)
    # The function called from sqlite3_step, under the mutex, asking for the GIL.
    assert "sqlite3_step" in lib.native_functions(under_mutex[0]), under_mutex[0]
    # (_sqlite3's func_callback, _pysqlite_func_callback through 3.10: unnamed in
    # Debian's stripped module, so named by its module).
    assert "_sqlite3" in under_mutex[0]["native_frames"][0].get("module", ""), under_mutex[0]["native_frames"]
    # The mutex first taken with the GIL held: by libsqlite3, called from _sqlite3
    # (create_function; through 3.10 already the connection's set-up, sqlite3_busy_timeout).
    modules = [frame.get("module", "") for frame in under_gil[0]["native_frames"]]
    assert "libsqlite3" in modules[0], under_gil[0]["native_frames"]
    assert any("_sqlite3" in module for module in modules), under_gil[0]["native_frames"]
