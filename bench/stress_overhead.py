"""What `gilwatch stress` adds per run, against launching the same subprocesses from a
shell loop: N runs of a script that does nothing, at -j 1 and -j 2.

    python3 bench/stress_overhead.py [--build build] [--runs 100] [--repeats 3] [--python PY]

The baseline runs exactly the command a stress run runs (the driver, with the library
preloaded and the same options), N times, from `sh` — one after the other for -j 1,
two at a time (xargs -P 2) for -j 2. The difference, divided by N, is the runner's own
cost per run: process groups, timeouts, spec and record files, reading the results,
merging and writing the report. Prints the best of --repeats for each; asserts nothing.
"""

import argparse
import json
import os
import pathlib
import shlex
import subprocess
import sys
import tempfile
import time


def best_of(repeats, action):
    times = []
    for _ in range(repeats):
        started = time.monotonic()
        action()
        times.append(time.monotonic() - started)
    return min(times)


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(root / "build"))
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--python", default="/usr/bin/python3.11" if os.path.exists("/usr/bin/python3.11")
                        else sys.executable)
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    gilwatch = build / "bin" / "gilwatch"
    work = pathlib.Path(tempfile.mkdtemp(prefix="gilwatch-bench-"))
    script = work / "nothing.py"
    script.write_text("pass\n")
    suite = work / "suite.toml"
    suite.write_text('[[scenario]]\nname = "nothing"\nkind = "script"\nscript = "%s"\nruns = %d\n'
                     % (script, args.runs))

    # One stress run first, to copy its exact command and environment for the loop.
    subprocess.run([str(gilwatch), "stress", str(suite), "-n", "1", "--out", str(work / "probe"), "-q",
                    "--python", args.python], check=True, stderr=subprocess.DEVNULL)
    run_dir = work / "probe" / "runs" / "nothing" / "0"
    argv = json.loads((run_dir / "run.json").read_text())["argv"]
    spec = json.loads((run_dir / "spec.json").read_text())
    options = os.environ.get("GILWATCH_OPTIONS", "")
    env = dict(os.environ,
               LD_PRELOAD=str(build / "lib" / "libgilwatch.so"),
               PYTHONPATH=str(build / "lib" / "python"),
               GILWATCH_OPTIONS="report_stderr=0:exitcode=0:out_dir=%s" % (work / "loop"),
               PYTHONDONTWRITEBYTECODE="1")
    spec["raw_dir"] = str(work / "loop")
    spec["result"] = ""  # concurrent runs would share one record file
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

        shell = best_of(args.repeats, with_shell)
        stress = best_of(args.repeats, with_stress)
        rows.append((jobs, shell, stress))
    print("%d runs of a script that does nothing (%s), best of %d" % (args.runs, args.python, args.repeats))
    print("%-4s %12s %12s %8s %16s" % ("-j", "shell loop s", "stress s", "ratio", "added ms/run"))
    for jobs, shell, stress in rows:
        print("%-4d %12.2f %12.2f %7.2fx %16.1f" % (jobs, shell, stress, stress / shell,
                                                   (stress - shell) * 1000.0 / args.runs))


if __name__ == "__main__":
    main()
