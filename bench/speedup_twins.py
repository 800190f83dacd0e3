"""The seed suite's speedup twins, measured: how much faster two threads run the parallel
fixture than one, the buggy twin (the GIL taken back for every item) against the fixed
one (every item with the GIL released), and how often each falls below the suite's 1.4x.

    python3 bench/speedup_twins.py [--build build] [--runs 3] [--python PY]

Runs `gilwatch stress scenarios/suites/seeds.toml --scenario speedup-buggy --scenario
speedup-fixed -n RUNS` (speedup runs are made one at a time) and prints, per twin, the
speed-up each run recorded and the runs with a low-speedup finding. On an idle machine
with 2 cores the twins are far apart (about 0.9x and 2.0x); a busy one brings the fixed
twin down. Asserts nothing: the integration tests check what holds under any load
(tests/integration/test_stress_speedup.py).
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

TWINS = ("speedup-buggy", "speedup-fixed")


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(root / "build"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--python", default="/usr/bin/python3.11" if os.path.exists("/usr/bin/python3.11")
                        else sys.executable)
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    pythons = json.loads((build / "scenarios" / "pythons.json").read_text())
    module_dirs = [p["module_dir"] for p in pythons if p["interpreter"] == args.python]
    if not module_dirs:
        sys.exit("no fixture extensions were built for %s (%s)" % (args.python, build / "scenarios" / "pythons.json"))
    out = pathlib.Path(tempfile.mkdtemp(prefix="gilwatch-bench-speedup-"))
    command = [str(build / "bin" / "gilwatch"), "stress", str(root / "scenarios" / "suites" / "seeds.toml"),
               "--out", str(out), "-n", str(args.runs), "-q", "--python", args.python]
    for twin in TWINS:
        command += ["--scenario", twin]
    subprocess.run(command, cwd=str(root), env=dict(os.environ, GILWATCH_MODULE_DIR=module_dirs[0]),
                   stderr=subprocess.DEVNULL)
    findings = json.loads((out / "findings.json").read_text())

    print("%d runs of each twin (%s), speed-up at 2 threads; target 1.4x" % (args.runs, args.python))
    print("%-15s %-32s %s" % ("twin", "speed-up per run", "low-speedup"))
    for twin in TWINS:
        speedups = []
        for index in range(args.runs):
            result = out / "runs" / twin / str(index) / "result.json"
            record = json.loads(result.read_text()) if result.exists() else {}
            speedups.append("%.2fx" % record["speedup"]["2"] if "speedup" in record else "-")
        low = sum(1 for r in findings["stress"]["runs"] if r["scenario"] == twin and r["outcome"] == "findings")
        print("%-15s %-32s %d of %d" % (twin, " ".join(speedups), low, args.runs))


if __name__ == "__main__":
    main()
