"""CPU time of one stress run's driver start-up: the command a stress run executes
(python -X faulthandler -m gilwatch.driver SPEC.json, the library preloaded, bytecode
not written, as `gilwatch stress` runs it) on a script that does nothing, against the
same interpreter starting with the library preloaded and doing nothing.

    python3 bench/driver_startup.py [--build build] [--runs 40] [--python PY] [--compare DIR]

--compare DIR also times the driver from another copy of the package (DIR holds
gilwatch/driver.py: an older checkout's pyhooks/, say); every case runs once per round,
in turn. CPU time (user + system) of the child, the median over the rounds (the first
round left out). Asserts nothing.
"""

import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile


def cpu_seconds(command, env):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(root / "build"))
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--python", default="/usr/bin/python3.11" if os.path.exists("/usr/bin/python3.11")
                        else sys.executable)
    parser.add_argument("--compare", help="another directory holding the gilwatch package")
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    work = pathlib.Path(tempfile.mkdtemp(prefix="gilwatch-driver-"))
    (work / "nothing.py").write_text("pass\n")
    (work / "spec.json").write_text(json.dumps({
        "scenario": "nothing", "kind": "script", "variant": "", "index": 0, "seed": "1", "perturb": False,
        "params": {"script": str(work / "nothing.py"), "args": []}, "raw_dir": str(work / "raw"),
        "result": str(work / "result.json")}))

    def env(pythonpath):
        return dict(os.environ, PYTHONPATH=pythonpath, LD_PRELOAD=str(build / "lib" / "libgilwatch.so"),
                    PYTHONDONTWRITEBYTECODE="1", GILWATCH_OPTIONS="report_stderr=0:exitcode=0:out_dir=%s" % work)

    driver = [args.python, "-X", "faulthandler", "-m", "gilwatch.driver", str(work / "spec.json")]
    cases = {"interpreter alone (preloaded)": ([args.python, "-X", "faulthandler", "-c", "pass"], env("")),
             "driver": (driver, env(str(build / "lib" / "python")))}
    if args.compare:
        cases["driver from --compare"] = (driver, env(str(pathlib.Path(args.compare).resolve())))
    times = {name: [] for name in cases}
    for _ in range(args.runs + 1):
        for name, (command, variables) in cases.items():
            times[name].append(cpu_seconds(command, variables))
    print("CPU ms per run, median of %d rounds (%s)" % (args.runs, args.python))
    for name, values in times.items():
        print("%-32s %8.1f" % (name, statistics.median(values[1:]) * 1000.0))


if __name__ == "__main__":
    main()
