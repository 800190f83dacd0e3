"""The stress driver's start-up (what every `gilwatch stress` run executes, read from the
run's own record): a script run finds none of the modules the driver used to import for
every run (json and re, threading, traceback, random, runpy.run_path's pkgutil and
typing; `-m`'s runpy; ctypes) already loaded, and the gilwatch package is loaded from
bytecode cached by an earlier run, not compiled again; a script that imports them gets
what the driver promised anyway: `random` seeded from the run's seed, threads' OS names
from their Python names, the main thread named gilwatch-main, and the record written as
JSON. The scenario's own modules are still never cached (PYTHONDONTWRITEBYTECODE)."""

import json
import os
import random
import shutil
import subprocess
import sys

import gilwatch_testlib as lib

PYTHON = str(lib.DEBIAN_PYTHON) if lib.DEBIAN_PYTHON.exists() else sys.executable
NOT_NEEDED = ("json", "re", "threading", "traceback", "random", "pkgutil", "typing", "runpy", "ctypes")


def stress_runs(tmp_path, script_text, seed="42", runs=1, imported=""):
    """Runs `script_text` as a script scenario under `gilwatch stress`, with a copy of the
    gilwatch package (so that its bytecode cache starts empty); returns each run's
    stdout, and the package's directory."""
    package = tmp_path / "pyhooks"
    if not package.exists():
        shutil.copytree(str(lib.build_dir() / "lib" / "python"), str(package),
                        ignore=shutil.ignore_patterns("__pycache__"))
    script = tmp_path / "script.py"
    script.write_text(script_text)
    if imported:
        (tmp_path / "scenario_module.py").write_text(imported)
    suite = tmp_path / "suite.toml"
    suite.write_text('seed = %s\n[[scenario]]\nname = "start-up"\nkind = "script"\nscript = "%s"\n'
                     'args = ["one"]\nruns = %d\n' % (seed, script, runs))
    env = dict(os.environ, GILWATCH_PYHOOKS=str(package))
    completed = subprocess.run([str(lib.gilwatch_path()), "stress", str(suite), "-j", "1", "-q", "--python", PYTHON,
                                "--out", str(tmp_path / "out")],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                               timeout=240)
    assert completed.returncode == 0, completed.stderr
    outputs = []
    for index in range(runs):
        run_dir = tmp_path / "out" / "runs" / "start-up" / str(index)
        record = json.loads((run_dir / "result.json").read_text())
        assert record["scenario"] == "start-up" and record["kind"] == "script" and record["index"] == index
        assert record["seed"] == json.loads((run_dir / "run.json").read_text())["seed"]
        outputs.append((run_dir / "stdout.txt").read_text())
    return outputs, package


def test_a_script_run_starts_without_the_modules_it_does_not_use(tmp_path):
    out, _ = stress_runs(tmp_path, "import sys\nprint(' '.join(sorted(sys.modules)))\n")
    loaded = set(out[0].split())
    assert "gilwatch.driver" in loaded
    assert "gilwatch" in loaded
    assert [name for name in NOT_NEEDED if name in loaded] == []


def test_runs_cache_the_package_bytecode_and_never_the_scenarios_modules(tmp_path):
    # Python loads a module from its cached .pyc when the source has not changed since:
    # after the first run, later runs no longer compile the package.
    out, package = stress_runs(tmp_path, "import scenario_module\nprint(scenario_module.VALUE)\n",
                               imported="VALUE = 1\n")
    assert out == ["1\n"]
    cached = set(p.name.split(".")[0] for p in (package / "gilwatch" / "__pycache__").glob("*.pyc"))
    assert {"__init__", "_native", "driver", "snapshot", "spec_json"} <= cached
    assert not (tmp_path / "__pycache__").exists()


def test_a_script_that_imports_them_gets_the_seed_and_the_thread_names(tmp_path):
    out, _ = stress_runs(tmp_path, "\n".join([
        "import random, sys, threading",
        "def comm():",
        "    with open('/proc/thread-self/comm') as f:",
        "        return f.read().strip()",
        "print('random', repr(random.random()))",
        "print('argv', ' '.join(sys.argv[1:]))",
        "print('main', comm())",
        "names = []",
        "t = threading.Thread(target=lambda: names.append(comm()), name='worker-named')",
        "t.start(); t.join()",
        "print('thread', names[0])",
        ""]), seed="1234")
    lines = dict(line.split(" ", 1) for line in out[0].splitlines())
    run = json.loads((tmp_path / "out" / "runs" / "start-up" / "0" / "run.json").read_text())
    expected = random.Random(int(run["seed"])).random()
    assert lines["random"] == repr(expected)
    assert lines["argv"] == "one"
    assert lines["main"] == "gilwatch-main"
    assert lines["thread"] == "worker-named"


def test_a_directory_used_again_keeps_only_the_new_runs_and_nothing_being_removed(tmp_path):
    # The previous runs are set aside at once and deleted while the new ones run; once
    # gilwatch has ended, neither they nor the directory they were moved to remain.
    stress_runs(tmp_path, "pass\n", runs=3)
    (tmp_path / "out" / "runs" / "start-up" / "2" / "marker").write_text("from the first stress\n")
    stress_runs(tmp_path, "pass\n", runs=1)
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "runs" / "start-up").iterdir()) == ["0"]
    assert sorted(p.name for p in out.iterdir() if p.name != ".gilwatch.lock") == [
        "findings.json", "report.html", "runs", "stress.json"]
    assert json.loads((out / "stress.json").read_text())["runs_made"] == 1


def test_a_directory_used_once_is_written_as_before(tmp_path):
    # The negative twin: nothing to set aside, the same outputs.
    stress_runs(tmp_path, "pass\n", runs=2)
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "runs" / "start-up").iterdir()) == ["0", "1"]
    assert sorted(p.name for p in out.iterdir() if p.name != ".gilwatch.lock") == [
        "findings.json", "report.html", "runs", "stress.json"]
