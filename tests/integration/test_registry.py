"""gilwatch run on the task-registry extension (scenarios/extensions/registry), for
every interpreter in build/scenarios/pythons.json: the buggy module's GIL/rwlock
inversion is reported from a run that does not hang; the fixed twin is silent.
Debian's python3.11 (libpython inside the executable) is never skipped."""

import pytest

import gilwatch_testlib as lib

PYTHONS = lib.load_pythons()


def drive(python, variant, *extra):
    lib.require_extension(python, "registry_" + variant)
    return [python["interpreter"], lib.registry_driver(), variant,
            "--module-dir", python["module_dir"], *extra]


def test_debian_python_is_built():
    lib.check_debian_python_is_built(PYTHONS)


@pytest.mark.parametrize("minor", [9, 10, 11, 12, 13], ids=lambda m: "pyenv-3.%d" % m)
def test_each_supported_version_is_in_the_matrix(minor):
    # Every test parametrized over pythons.json runs on the interpreters found; one that
    # is not installed here is named as skipped, so a smaller matrix is visible.
    tags = lib.python_ids(PYTHONS)
    if not any(tag.startswith("pyenv-3.%d" % minor) for tag in tags):
        pytest.skip("no pyenv CPython 3.%d under /root/.pyenv/versions: its column of the matrix is not run" % minor)
    entry = next(p for p in PYTHONS if p["tag"].startswith("pyenv-3.%d" % minor))
    assert entry["shared_libpython"] is True, entry
    lib.require_extension(entry, "registry_buggy")


@pytest.mark.parametrize("python", PYTHONS, ids=lib.python_ids(PYTHONS))
def test_buggy_registry_reports_gil_rwlock_inversion(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python, "buggy"))
    finding = lib.assert_single_inversion(run, lock_count=2, lock_kinds=["gil", "rwlock"])
    assert [lock["name"] for lock in finding["locks"] if lock["kind"] == "gil"] == ["GIL"]
    # The driver ran to completion: the inversion was found without a deadlock.
    assert "registry_buggy: " in run.completed.stdout, run.describe()

    threads = finding["threads"]
    assert len(threads) >= 2, threads
    # The registering thread: Python frames name the driver's function, and the native
    # frame that took the registry lock while the GIL was held.
    registering = [t for t in threads if "register_tasks" in lib.python_functions(t)]
    assert registering, "no thread with register_tasks in its Python frames: %s" % (
        [t.get("python_frames") for t in threads],)
    frame = next(f for f in registering[0]["python_frames"] if f["function"] == "register_tasks")
    assert frame["file"].endswith("drive.py") and int(frame["line"]) > 0, frame
    assert "registry_store" in lib.native_functions(registering[0]), \
        sorted(lib.native_functions(registering[0]))
    # The native worker: took the GIL while holding the registry's read lock.
    assert any("call_task_with_gil" in lib.native_functions(t) for t in threads), \
        [sorted(lib.native_functions(t)) for t in threads]


@pytest.mark.parametrize("python", PYTHONS, ids=lib.python_ids(PYTHONS))
def test_fixed_registry_gets_no_findings(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python, "fixed"))
    assert run.findings == [], run.describe()
    assert run.returncode == 0, run.describe()
    assert "registry_fixed: " in run.completed.stdout, run.describe()


@pytest.mark.parametrize("python", PYTHONS, ids=lib.python_ids(PYTHONS))
def test_fixed_registry_with_many_threads_gets_no_findings(out_dir, python):
    run = lib.run_gilwatch(out_dir, drive(python, "fixed", "--threads", "16", "--rounds", "20"))
    assert run.findings == [], run.describe()
    assert run.returncode == 0, run.describe()
