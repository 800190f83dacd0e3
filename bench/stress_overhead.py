"""What `gilwatch stress` adds per run, against launching the same subprocesses from a
shell loop: N runs of a script that does nothing, at -j 1 and -j 2.

    python3 bench/stress_overhead.py [--build build] [--runs 100] [--repeats 5] [--python PY] [--json FILE]

The baseline runs exactly the command a stress run runs (the driver, with the library
preloaded, the same options and the same environment, copied from a probe run), N
times, from `sh` — one after the other for -j 1, two at a time (xargs -P 2) for -j 2.
Baseline and stress runs are interleaved in pairs (a shell loop, then a stress suite,
then the other way round), after one unmeasured pair that compiles and caches what the
runs import; each figure is the median of --repeats pairs, the ratio the median of the
pairs' ratios. The difference over N is the runner's own cost per run: process groups,
timeouts, spec and record files, reading the results, merging and writing the report.
Throughput is the shell loop's time over the stress suite's (100% = no cost). Asserts
nothing.
"""

import argparse
import json
import os
import pathlib
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

PROBE = """import json, os, sys
with open(%r, "w") as out:
    json.dump(dict(os.environ), out)
"""


def timed(action):
    started = time.monotonic()
    action()
    return time.monotonic() - started


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(root / "build"))
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--python", default="/usr/bin/python3.11" if os.path.exists("/usr/bin/python3.11")
                        else sys.executable)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    gilwatch = build / "bin" / "gilwatch"
    work = pathlib.Path(tempfile.mkdtemp(prefix="gilwatch-bench-"))
    script = work / "nothing.py"
    script.write_text("pass\n")
    suite = work / "suite.toml"
    suite.write_text('[[scenario]]\nname = "nothing"\nkind = "script"\nscript = "%s"\nruns = %d\n'
                     % (script, args.runs))

    # One stress run of a script that saves its environment, to copy the exact command
    # and environment for the loop.
    probe_script = work / "probe.py"
    probe_script.write_text(PROBE % str(work / "probe-env.json"))
    probe_suite = work / "probe.toml"
    probe_suite.write_text('[[scenario]]\nname = "nothing"\nkind = "script"\nscript = "%s"\nruns = 1\n'
                           % probe_script)
    subprocess.run([str(gilwatch), "stress", str(probe_suite), "--out", str(work / "probe"), "-q",
                    "--python", args.python], check=True, stderr=subprocess.DEVNULL)
    run_dir = work / "probe" / "runs" / "nothing" / "0"
    argv = json.loads((run_dir / "run.json").read_text())["argv"]
    spec = json.loads((run_dir / "spec.json").read_text())
    env = json.loads((work / "probe-env.json").read_text())
    raw = str(run_dir / "raw")
    env["GILWATCH_OPTIONS"] = env["GILWATCH_OPTIONS"].replace(raw, str(work / "loop"))
    spec["raw_dir"] = str(work / "loop")
    spec["result"] = ""  # concurrent runs would share one record file
    spec["params"]["script"] = str(script)
    (work / "loop-spec.json").write_text(json.dumps(spec))
    one = " ".join(shlex.quote(a) for a in argv[:-1] + [str(work / "loop-spec.json")])

    rows = []
    for jobs in (1, 2):
        def with_stress():
            subprocess.run([str(gilwatch), "stress", str(suite), "-j", str(jobs), "--out", str(work / "out"), "-q",
                            "--python", args.python], check=True, stderr=subprocess.DEVNULL)

        def with_shell():
            loop = "seq %d | xargs -P %d -I{} sh -c %s" % (args.runs, jobs, shlex.quote(one + " >/dev/null 2>&1"))
            subprocess.run(["sh", "-c", loop], env=env, check=True)

        with_shell()
        with_stress()
        shells, stresses = [], []
        for round_number in range(args.repeats):
            if round_number % 2 == 0:
                shells.append(timed(with_shell))
                stresses.append(timed(with_stress))
            else:
                stresses.append(timed(with_stress))
                shells.append(timed(with_shell))
        ratio = statistics.median(s / b for s, b in zip(stresses, shells))
        rows.append({"jobs": jobs, "shell_s": statistics.median(shells), "stress_s": statistics.median(stresses),
                     "ratio": ratio, "throughput": 1.0 / ratio,
                     "added_ms_per_run": statistics.median((s - b) * 1000.0 / args.runs
                                                           for s, b in zip(stresses, shells))})
    print("%d runs of a script that does nothing (%s), median of %d interleaved pairs"
          % (args.runs, args.python, args.repeats))
    print("%-4s %12s %12s %8s %11s %14s" % ("-j", "shell loop s", "stress s", "ratio", "throughput",
                                            "added ms/run"))
    for r in rows:
        print("%-4d %12.2f %12.2f %7.2fx %10.1f%% %14.1f" % (r["jobs"], r["shell_s"], r["stress_s"], r["ratio"],
                                                           100.0 * r["throughput"], r["added_ms_per_run"]))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"runs": args.runs, "repeats": args.repeats,
                                                       "python": args.python, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
