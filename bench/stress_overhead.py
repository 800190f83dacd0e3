"""What `gilwatch stress` adds per run, against launching the same subprocesses from a
shell loop: N runs of a script that does nothing, at -j 1 and -j 2.

    python3 bench/stress_overhead.py [--build build] [--runs 100] [--repeats 5] [--python PY] [--json FILE]
                                     [--null-command]

The loop runs exactly the command a stress run runs — the argv, environment and options
copied from a probe run's record, the library preloaded, and a spec of its own per run
(so each loop run reads its spec and writes its record and results file, as a stress run
does) — N times from `xargs -P JOBS`, which starts each one directly (no shell per run).
Loops and stress suites are interleaved in pairs (a loop, then a suite, then the other
way round), after one unmeasured pair that compiles and caches what the runs import.
Each figure is the median of --repeats pairs; the ratio is the median of the pairs'
ratios, with their range (the noise of this run); throughput is the loop's wall time
over the suite's (100% = the runner costs nothing). CPU is the user + system time of
every process each side started, which the machine's load moves far less than wall time;
the difference over N is what the runner itself costs per run: its supervisor process,
the spec and record files, reading every run's results, merging and writing the report.
--null-command runs /bin/true in place of the interpreter on both sides (still with the
library preloaded and the same arguments): what is left is the runner's own cost against
xargs's, without the interpreter's start-up to hide it. Asserts nothing.
"""

import argparse
import json
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PROBE = """import json, os, sys
with open(%r, "w") as out:
    json.dump(dict(os.environ), out)
"""


def measured(action):
    """(wall s, CPU s of the children) of action()."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    action()
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(root / "build"))
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--python", default="/usr/bin/python3.11" if os.path.exists("/usr/bin/python3.11")
                        else sys.executable)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--null-command", action="store_true",
                        help="run /bin/true instead of the interpreter on both sides")
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
    options = env["GILWATCH_OPTIONS"]
    loop = work / "loop"

    def make_loop_specs():
        # A directory per run, as the runner makes: the spec the run reads, its raw/ for
        # the results file, its record. The raw directory is named in GILWATCH_OPTIONS,
        # which the loop cannot vary per run: the runs share one (distinct file names).
        shutil.rmtree(str(loop), ignore_errors=True)
        (loop / "raw").mkdir(parents=True)
        for index in range(args.runs):
            directory = loop / str(index)
            directory.mkdir()
            spec.update({"index": index, "raw_dir": str(loop / "raw"), "result": str(directory / "result.json")})
            spec["params"]["script"] = str(script)
            (directory / "spec.json").write_text(json.dumps(spec))

    env["GILWATCH_OPTIONS"] = options.replace(str(run_dir / "raw"), str(loop / "raw"))
    # The command with its last argument (the spec) replaced by each run's.
    command = argv[:-1] + [str(loop / "{}" / "spec.json")]
    runs_python = args.python
    if args.null_command:
        command[0] = runs_python = "/bin/true"

    rows = []
    for jobs in (1, 2):
        def with_stress():
            subprocess.run([str(gilwatch), "stress", str(suite), "-j", str(jobs), "--out", str(work / "out"), "-q",
                            "--python", runs_python], check=True, stderr=subprocess.DEVNULL)

        def with_loop():
            numbers = "".join("%d\n" % i for i in range(args.runs))
            subprocess.run(["xargs", "-P", str(jobs), "-I{}"] + command, input=numbers, env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, universal_newlines=True)

        def timed_loop():
            make_loop_specs()  # the loop's spec files are written before it starts, untimed
            return measured(with_loop)

        timed_loop()
        with_stress()
        loops, stresses = [], []
        for round_number in range(args.repeats):
            if round_number % 2 == 0:
                loops.append(timed_loop())
                stresses.append(measured(with_stress))
            else:
                stresses.append(measured(with_stress))
                loops.append(timed_loop())
        ratios = [s[0] / b[0] for s, b in zip(stresses, loops)]
        rows.append({"jobs": jobs,
                     "loop_s": statistics.median(b[0] for b in loops),
                     "stress_s": statistics.median(s[0] for s in stresses),
                     "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
                     "throughput": 1.0 / statistics.median(ratios),
                     "added_ms_per_run": statistics.median((s[0] - b[0]) * 1000.0 / args.runs
                                                           for s, b in zip(stresses, loops)),
                     "loop_cpu_ms_per_run": statistics.median(b[1] * 1000.0 / args.runs for b in loops),
                     "stress_cpu_ms_per_run": statistics.median(s[1] * 1000.0 / args.runs for s in stresses),
                     "added_cpu_ms_per_run": statistics.median((s[1] - b[1]) * 1000.0 / args.runs
                                                               for s, b in zip(stresses, loops))})
        # Kept for the old key names' readers (regenerate_benchmarks.py).
        rows[-1]["shell_s"] = rows[-1]["loop_s"]
    print("%d runs of %s, median of %d interleaved pairs; the loop is xargs -P JOBS"
          % (args.runs, "/bin/true (--null-command)" if args.null_command else
             "a script that does nothing (%s)" % args.python, args.repeats))
    print("%-4s %8s %10s %8s %13s %11s %9s %11s %11s" % ("-j", "loop s", "stress s", "ratio", "ratio range",
                                                         "throughput", "added ms", "loop CPU ms", "added CPU"))
    for r in rows:
        print("%-4d %8.2f %10.2f %7.2fx %6.2f-%.2fx %10.1f%% %9.1f %11.1f %11.1f"
              % (r["jobs"], r["loop_s"], r["stress_s"], r["ratio"], r["ratio_min"], r["ratio_max"],
                 100.0 * r["throughput"], r["added_ms_per_run"], r["loop_cpu_ms_per_run"], r["added_cpu_ms_per_run"]))
    print("(added ms and CPU ms: per run, the suite's less the loop's)")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"runs": args.runs, "repeats": args.repeats,
                                                       "python": args.python, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
