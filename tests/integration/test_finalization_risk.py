"""The finalization risk (finalization-attach, detail "risk") on scenarios/extensions/finrisk
under `gilwatch run`: a native thread that attaches and is still running when the
interpreter finalizes is reported every run, whether or not it happens to attach during
finalization; its fixed twin (stopped and joined from atexit), a native thread that
attached once and ended, a detached one that attached once and is still on its way out
(one-shot), and one that never attaches are not.
"""

import pytest

import gilwatch_testlib as lib

PYTHONS = lib.load_pythons()
IDS = lib.python_ids(PYTHONS)
# Ten runs each on these; one on the others.
REPEATED = {"debian-3.11", "pyenv-3.13"}


def drive(python, variant):
    lib.require_extension(python, "finrisk")
    driver = lib.source_dir() / "scenarios" / "extensions" / "finrisk" / "drive.py"
    return [python["interpreter"], driver, variant, "--module-dir", python["module_dir"]]


def runs_of(python):
    return 10 if python["tag"] in REPEATED else 1


def risks_of(run):
    return [f for f in lib.findings_of(run, "finalization-attach") if f["detail"] == "risk"]


@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_native_thread_running_at_finalization_is_a_risk_every_run(tmp_path, python):
    for attempt in range(runs_of(python)):
        out_dir = tmp_path / ("run%d" % attempt)
        out_dir.mkdir()
        run = lib.run_gilwatch(out_dir, drive(python, "buggy"))
        risks = risks_of(run)
        assert len(risks) == 1, run.describe()
        risk = risks[0]
        assert "still running when the interpreter" in risk["summary"], risk
        assert "PyGILState_Ensure" in risk["summary"], risk
        started, attached = risk["threads"]
        assert started["tid"] == attached["tid"], risk
        assert started["role"].startswith("started here (pthread_create)"), risk
        assert attached["role"] == "last attached here (PyGILState_Ensure)", risk
        # The start names the module's call of pthread_create, the attach its worker's.
        assert "finrisk_start_worker" in lib.native_functions(started), risk
        assert "attach_and_count" in lib.native_functions(attached), risk
        # The race itself may or may not happen too; nothing else is found.
        assert {f["kind"] for f in run.findings} == {"finalization-attach"}, run.describe()
        assert run.returncode != 0, run.describe()


@pytest.mark.parametrize("variant", ["fixed", "attached-once", "one-shot", "never-attaches"])
@pytest.mark.parametrize("python", PYTHONS, ids=IDS)
def test_no_risk_without_a_running_attached_native_thread(tmp_path, python, variant):
    for attempt in range(runs_of(python)):
        out_dir = tmp_path / ("run%d" % attempt)
        out_dir.mkdir()
        run = lib.run_gilwatch(out_dir, drive(python, variant))
        lib.assert_clean(run)
        assert run.completed.stdout.strip() == "finrisk (%s): exiting" % variant, run.describe()
