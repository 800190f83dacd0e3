"""`gilwatch stress` speedup scenarios, without asserting a time.

How fast the twins of the seed suite run depends on the machine and its load, so the
throughput comparison (the buggy twin near 1x, the fixed one near 2x) is a benchmark,
bench/speedup_twins.py. What is checked here holds under any load:

- the parallel fixture's items run side by side in the fixed twin and in turns in the
  buggy one, under gilwatch: each run counts, in the fixture, the most threads that were
  inside an item's work at once (the GIL makes the buggy twin's count exactly 1);
- the verdict follows the measurement the run recorded: a target no two threads can
  reach (1024x) is a low-speedup finding naming the scenario, the callable and the
  speed-up the run recorded; a target no two threads can miss (0.001x: a thousand times
  slower than one) is never one.
"""

import json
import os
import re

import gilwatch_testlib as lib
from test_stress import PYTHON, by_scenario, module_dir_for, runs_of, stress, write_suite

PARALLEL_DIR = lib.source_dir() / "scenarios" / "extensions" / "parallel"

# Two threads call work() on one twin until the fixture has seen their items side by side,
# or for CALLS calls each, then print the most it saw at once. The buggy twin's count is 1
# however long it runs (the GIL): a few calls under contention show it; the fixed twin
# may take more calls on a busy machine, and stops at the first overlap.
OVERLAP_PROBE = """\
import importlib, sys, threading
module = importlib.import_module(sys.argv[1])
MAX_CALLS = int(sys.argv[2])
module.overlap()
seen = threading.Event()

def worker():
    for _ in range(MAX_CALLS):
        module.work(1000)
        if seen.is_set():
            return

peak = 0
threads = [threading.Thread(target=worker) for _ in range(2)]
for t in threads:
    t.start()
while any(t.is_alive() for t in threads):
    threads[0].join(0.01)
    peak = max(peak, module.overlap())
    if peak >= 2:
        seen.set()
for t in threads:
    t.join()
print("overlap %d" % max(peak, module.overlap()))
"""


def test_the_fixed_twin_works_side_by_side_and_the_buggy_one_in_turns(tmp_path):
    probe = tmp_path / "overlap_probe.py"
    probe.write_text(OVERLAP_PROBE)
    suite = write_suite(tmp_path, """\
        [[scenario]]
        name = "overlap-buggy"
        kind = "script"
        script = "%(probe)s"
        args = ["parallel_buggy", "50"]
        env = { PYTHONPATH = "${GILWATCH_MODULE_DIR}" }

        [[scenario]]
        name = "overlap-fixed"
        kind = "script"
        script = "%(probe)s"
        args = ["parallel_fixed", "5000"]
        env = { PYTHONPATH = "${GILWATCH_MODULE_DIR}" }
        """ % {"probe": probe})
    out = tmp_path / "out"
    env = dict(os.environ, GILWATCH_MODULE_DIR=module_dir_for(PYTHON))
    completed, findings = stress(out, suite, env=env)
    assert findings is not None, completed.stderr
    assert completed.returncode == 0, completed.stderr
    assert findings["findings"] == []
    for scenario, twin, peak in (("overlap-buggy", "parallel_buggy", 1), ("overlap-fixed", "parallel_fixed", 2)):
        assert [r["outcome"] for r in runs_of(findings, scenario)] == ["ok"], completed.stderr
        stdout = (out / "runs" / scenario / "0" / "stdout.txt").read_text()
        assert stdout == "overlap %d\n" % peak, (twin, stdout)


def test_the_low_speedup_verdict_follows_the_recorded_measurement(tmp_path):
    suite = write_suite(tmp_path, """\
        [[scenario]]
        name = "unreachable"
        kind = "speedup"
        callable = "parallel_stress:work_fixed"
        threads = [1, 2]
        min_speedup = 1024
        duration = 0.2
        repeats = 1
        env = { PYTHONPATH = "${GILWATCH_MODULE_DIR}:%(parallel)s" }

        [[scenario]]
        name = "unmissable"
        kind = "speedup"
        callable = "parallel_stress:work_fixed"
        threads = [1, 2]
        min_speedup = 0.001
        duration = 0.2
        repeats = 1
        env = { PYTHONPATH = "${GILWATCH_MODULE_DIR}:%(parallel)s" }
        """ % {"parallel": PARALLEL_DIR})
    out = tmp_path / "out"
    env = dict(os.environ, GILWATCH_MODULE_DIR=module_dir_for(PYTHON))
    completed, findings = stress(out, suite, env=env)
    assert findings is not None, completed.stderr
    assert completed.returncode == lib.FINDINGS_EXIT_STATUS, completed.stderr

    def recorded(scenario):
        return json.loads((out / "runs" / scenario / "0" / "result.json").read_text())

    measured = recorded("unreachable")
    assert sorted(measured["throughput"]) == ["1", "2"] and all(v > 0 for v in measured["throughput"].values())
    assert measured["min_speedup"] == 1024 and measured["at_threads"] == 2
    [low] = by_scenario(findings, "unreachable")
    assert low["kind"] == "low-speedup", low
    assert low["detail"] == "unreachable: parallel_stress:work_fixed at 2 threads"
    said = re.match(r"2 threads ran parallel_stress:work_fixed ([0-9.]+)x as fast as one \(target 1024\.00x; "
                    r"1 threads 1\.00x, 2 threads ([0-9.]+)x\)$", low["summary"])
    assert said, low["summary"]
    # The speed-up it names is the one the run recorded (rounded to 3 places there, 2 here).
    assert abs(float(said.group(1)) - measured["speedup"]["2"]) <= 0.006, (low["summary"], measured)
    assert said.group(1) == said.group(2)
    assert [r["outcome"] for r in runs_of(findings, "unreachable")] == ["findings"]

    # Negative twin: the same work, measured the same way, with nothing to fall short of.
    measured = recorded("unmissable")
    assert sorted(measured["throughput"]) == ["1", "2"] and measured["min_speedup"] == 0.001
    assert by_scenario(findings, "unmissable") == []
    assert [r["outcome"] for r in runs_of(findings, "unmissable")] == ["ok"], completed.stderr
