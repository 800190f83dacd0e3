"""The stress driver's start-up (python -m gilwatch.driver SPEC.json, what every stress
run executes): a script run finds none of the modules the driver used to import for
every run (json and re, threading, traceback, random, runpy.run_path's pkgutil and
typing) already loaded; a script that imports them itself gets what the driver promised
anyway: `random` seeded from the run's seed, threads' OS names from their Python names,
the main thread named gilwatch-main, and the record written as JSON."""

import json
import os
import random
import subprocess
import sys

import gilwatch_testlib as lib

PYTHON = str(lib.DEBIAN_PYTHON) if lib.DEBIAN_PYTHON.exists() else sys.executable
NOT_NEEDED = ("json", "re", "threading", "traceback", "random", "pkgutil", "typing")


def run_driver(tmp_path, script_text, seed="42"):
    script = tmp_path / "script.py"
    script.write_text(script_text)
    spec = {"scenario": "start-up", "kind": "script", "variant": "", "index": 0, "seed": seed, "perturb": False,
            "params": {"script": str(script), "args": ["one"]}, "raw_dir": str(tmp_path / "raw"),
            "result": str(tmp_path / "result.json")}
    (tmp_path / "spec.json").write_text(json.dumps(spec, indent=2) + "\n")
    env = dict(os.environ, PYTHONPATH=str(lib.build_dir() / "lib" / "python"),
               LD_PRELOAD=str(lib.build_dir() / "lib" / "libgilwatch.so"), PYTHONDONTWRITEBYTECODE="1",
               GILWATCH_OPTIONS="report_stderr=0:exitcode=0:out_dir=%s" % (tmp_path / "raw"))
    completed = subprocess.run([PYTHON, "-X", "faulthandler", "-m", "gilwatch.driver", str(tmp_path / "spec.json")],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                               timeout=120)
    assert completed.returncode == 0, completed.stderr
    record = json.loads((tmp_path / "result.json").read_text())
    assert record == {"scenario": "start-up", "kind": "script", "variant": "", "index": 0, "seed": seed}
    return completed.stdout


def test_a_script_run_starts_without_the_modules_it_does_not_use(tmp_path):
    out = run_driver(tmp_path, "import sys\nprint(' '.join(sorted(sys.modules)))\n")
    loaded = set(out.split())
    assert "gilwatch.driver" in loaded or "__main__" in loaded
    assert "gilwatch" in loaded
    assert [name for name in NOT_NEEDED if name in loaded] == []


def test_a_script_that_imports_them_gets_the_seed_and_the_thread_names(tmp_path):
    out = run_driver(tmp_path, "\n".join([
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
    lines = dict(line.split(" ", 1) for line in out.splitlines())
    expected = random.Random(1234).random()
    assert lines["random"] == repr(expected)
    assert lines["argv"] == "one"
    assert lines["main"] == "gilwatch-main"
    assert lines["thread"] == "worker-named"
