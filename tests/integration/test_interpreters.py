"""Per-interpreter GILs (CPython 3.12+): a subinterpreter with its own GIL holds a
different lock than the main interpreter's GIL, so orders taken under the two are not a
cycle, while a legacy subinterpreter shares the main GIL and its orders are. The
subinterpreters are made by CPython's own module (_xxsubinterpreters in 3.12,
_interpreters in 3.13); the fixture is scenarios/extensions/subinterp/.
"""

import pytest

import gilwatch_testlib as lib

PYTHONS = lib.load_pythons()
IDS = lib.python_ids(PYTHONS)


def version_of(python):
    return tuple(int(n) for n in python["version"].split(".")[:2])


def drive(python, gil):
    lib.require_extension(python, "subinterp_fixture")
    driver = lib.source_dir() / "scenarios" / "extensions" / "subinterp" / "drive.py"
    return [python["interpreter"], driver, gil, "--module-dir", python["module_dir"]]


def require_per_interpreter_gil(python):
    if version_of(python) < (3, 12):
        pytest.skip("no per-interpreter GIL before CPython 3.12 (this is %s)" % python["version"])


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_orders_under_two_different_gils_are_not_a_cycle(out_dir, python):
    require_per_interpreter_gil(python)
    run = lib.run_gilwatch(out_dir, drive(python, "own"))
    lib.assert_clean(run)
    assert "own GIL done" in run.completed.stdout, run.describe()


def gil_inversion(out_dir, python, gil, other_taker):
    """The run's one finding: an inversion between the shared lock and a GIL, taken by
    take_lock_holding_gil and `other_taker`. Returns the GIL's lock entry and the summary."""
    require_per_interpreter_gil(python)
    run = lib.run_gilwatch(out_dir, drive(python, gil))
    finding = lib.assert_single_inversion(run, 2, ["gil", "mutex"])
    lib.assert_takers_match_threads(finding, ["take_lock_holding_gil", other_taker])
    return next(lock for lock in finding["locks"] if lock["kind"] == "gil"), finding["summary"]


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_a_legacy_subinterpreter_shares_the_main_gil(out_dir, python):
    gil, summary = gil_inversion(out_dir, python, "shared", "lock_then_ensure")
    assert gil["address"] == "0x0", gil
    assert "the GIL ->" in summary and "of interpreter" not in summary, summary


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_an_inversion_on_a_subinterpreters_own_gil(out_dir, python):
    gil, summary = gil_inversion(out_dir, python, "own-inversion", "lock_then_attach")
    assert gil["address"] != "0x0", gil
    assert "the GIL of interpreter %s" % gil["address"] in summary, summary


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_the_driver_says_so_before_3_12(out_dir, python):
    if version_of(python) >= (3, 12):
        pytest.skip("this interpreter has per-interpreter GILs")
    completed = lib.run_bounded(drive(python, "own"))
    assert completed.returncode == 3, completed.describe()
    assert "no per-interpreter GIL before CPython 3.12" in completed.stderr, completed.describe()
