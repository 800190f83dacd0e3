#!/usr/bin/env python3
"""Time from a deadlock forming to its report, over repeated runs of each deadlock
fixture under `gilwatch run`.

    bench/deadlock_report_time.py [--build DIR] [--runs N] [--python PATH]

A deadlock forms when the last of its threads starts to wait. Each thread of a
`deadlock` finding says how long it had been blocked when the report was made
("... (blocked 512 ms)"), so the smallest of those figures is the time from forming to
report, measured inside the process by the same clock. Prints, per fixture, the median
and the maximum over the runs, and the wall time of each whole run for comparison.
"""

import argparse
import json
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def fixtures(build, python, module_dir):
    ext = ROOT / "scenarios" / "extensions"
    return [
        ("abba_hang (two mutexes)", [build / "scenarios" / "programs" / "abba_hang"]),
        ("teardown (join with the GIL held)",
         [python, ext / "teardown" / "drive.py", "buggy", "--module-dir", module_dir]),
        ("blockon (condvar wait with the GIL held, probable)",
         [python, ext / "blockon" / "drive.py", "buggy", "--module-dir", module_dir]),
        ("futexlock (futex wait with the GIL held, probable)",
         [python, ext / "futexlock" / "drive.py", "buggy", "deadlock", "--module-dir", module_dir]),
    ]


def one_run(build, command):
    with tempfile.TemporaryDirectory() as out:
        started = time.monotonic()
        completed = subprocess.run([str(build / "bin" / "gilwatch"), "run", "--out", out, "--",
                                    *map(str, command)], capture_output=True, text=True, timeout=120)
        wall = time.monotonic() - started
        with open(pathlib.Path(out) / "findings.json") as f:
            findings = json.load(f)["findings"]
    deadlocks = [f for f in findings if f["kind"] == "deadlock"]
    if completed.returncode != 67 or len(deadlocks) != 1:
        raise RuntimeError("expected one deadlock and exit status 67, got %d and %s"
                           % (completed.returncode, [f["kind"] for f in findings]))
    blocked = []
    for thread in deadlocks[0]["threads"]:
        match = re.search(r"\(blocked (\d+) ms\)", thread.get("role", ""))
        if match:
            blocked.append(int(match.group(1)))
    return min(blocked), wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--python", default="/usr/bin/python3.11")
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    with open(build / "scenarios" / "pythons.json") as f:
        pythons = json.load(f)
    entry = next((p for p in pythons if p["interpreter"] == args.python), None)
    if entry is None:
        sys.exit("deadlock_report_time.py: %s is not in %s/scenarios/pythons.json" % (args.python, build))
    print("%-52s %10s %10s %12s" % ("fixture (%d runs each)" % args.runs, "median ms", "max ms", "median wall s"))
    for name, command in fixtures(build, args.python, entry["module_dir"]):
        to_report, walls = [], []
        for _ in range(args.runs):
            ms, wall = one_run(build, command)
            to_report.append(ms)
            walls.append(wall)
        print("%-52s %10d %10d %12.2f" % (name, statistics.median(to_report), max(to_report), statistics.median(walls)))


if __name__ == "__main__":
    main()
