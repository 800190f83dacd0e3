"""CPU time of one stress run's driver start-up: the command a stress run executes (read
from a probe run's record: python -X faulthandler -c <import gilwatch.driver, run it>
SPEC.json, the library preloaded, PYTHONDONTWRITEBYTECODE set), on a script that does
nothing, against the same interpreter starting with the library preloaded and doing
nothing, and against the command runs used before (-m gilwatch.driver, the package
compiled from source in every run).

    python3 bench/driver_startup.py [--build build] [--runs 40] [--python PY] [--compare DIR] [--instructions]

--compare DIR also times the earlier command on another copy of the package (DIR holds
gilwatch/driver.py: an older checkout's pyhooks/, say); every case runs once per round,
in turn. CPU time (user + system) of the child, the median over the rounds (the first
round left out: there the command caches the package's bytecode). --instructions also
counts each case's instructions once under callgrind (valgrind), which the load does not
move at all. Asserts nothing.
"""

import argparse
import json
import os
import pathlib
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile


def cpu_seconds(command, env):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def instructions(command, env):
    completed = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + command, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, universal_newlines=True, check=True)
    match = re.search(r"Collected : (\d+)", completed.stderr)
    return int(match.group(1)) if match else None


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(root / "build"))
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--python", default="/usr/bin/python3.11" if os.path.exists("/usr/bin/python3.11")
                        else sys.executable)
    parser.add_argument("--compare", help="another directory holding the gilwatch package")
    parser.add_argument("--instructions", action="store_true", help="also count instructions with callgrind")
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    work = pathlib.Path(tempfile.mkdtemp(prefix="gilwatch-driver-"))
    (work / "nothing.py").write_text("pass\n")
    (work / "spec.json").write_text(json.dumps({
        "scenario": "nothing", "kind": "script", "variant": "", "index": 0, "seed": "1", "perturb": False,
        "params": {"script": str(work / "nothing.py"), "args": []}, "raw_dir": str(work / "raw"),
        "result": str(work / "result.json")}))
    # The package twice, without bytecode: one for the runner's command (which caches it),
    # one for the earlier command (which never does).
    for copy in ("package", "package-m"):
        shutil.copytree(str(build / "lib" / "python"), str(work / copy), ignore=shutil.ignore_patterns("__pycache__"))
    suite = work / "probe.toml"
    suite.write_text('[[scenario]]\nname = "probe"\nkind = "script"\nscript = "%s"\n' % (work / "nothing.py"))
    subprocess.run([str(build / "bin" / "gilwatch"), "stress", str(suite), "--out", str(work / "probe"), "-q",
                    "--python", args.python], check=True, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, GILWATCH_PYHOOKS=str(work / "package")))
    argv = json.loads((work / "probe" / "runs" / "probe" / "0" / "run.json").read_text())["argv"]

    def env(pythonpath):
        return dict(os.environ, PYTHONPATH=pythonpath, LD_PRELOAD=str(build / "lib" / "libgilwatch.so"),
                    PYTHONDONTWRITEBYTECODE="1", GILWATCH_OPTIONS="report_stderr=0:exitcode=0:out_dir=%s" % work)

    earlier = [args.python, "-X", "faulthandler", "-m", "gilwatch.driver", str(work / "spec.json")]
    cases = {"interpreter alone (preloaded)": ([args.python, "-X", "faulthandler", "-c", "pass"], env("")),
             "driver, as stress runs it": ([args.python] + argv[1:-1] + [str(work / "spec.json")],
                                           env(str(work / "package"))),
             "driver, -m and no bytecode": (earlier, env(str(work / "package-m")))}
    if args.compare:
        cases["--compare, -m and no bytecode"] = (earlier, env(str(pathlib.Path(args.compare).resolve())))
    times = {name: [] for name in cases}
    for _ in range(args.runs + 1):
        for name, (command, variables) in cases.items():
            times[name].append(cpu_seconds(command, variables))
    counts = {name: instructions(command, variables) if args.instructions else None
              for name, (command, variables) in cases.items()}
    print("CPU ms per run, median of %d rounds (%s)%s" % (args.runs, args.python,
                                                          "; instructions (callgrind)" if args.instructions else ""))
    for name, values in times.items():
        print("%-34s %8.1f%s" % (name, statistics.median(values[1:]) * 1000.0,
                                  "" if counts[name] is None else " %14s" % format(counts[name], ",")))


if __name__ == "__main__":
    main()
