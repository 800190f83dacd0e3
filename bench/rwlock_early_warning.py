"""How many `gilwatch stress` runs it takes to surface the seed's GIL/RwLock pattern on
the PyO3 registry behind a std::sync::RwLock (scenarios/pyo3/stress-rwlock.toml), with
and without --perturb.

    python3 bench/rwlock_early_warning.py [--build build] [--runs 20] [-j 2] [--python PY] [--seed S]

For each mode it runs the suite once with -n RUNS (each scenario) and sorts every run by what it showed:
`deadlock` (the run deadlocked and gilwatch diagnosed it), `warning` (a finding of the
pattern — gil-held-blocking or lock-order-inversion — in a run that did not deadlock:
the early warning), `nothing`, or another outcome (hang, crash, error). Prints the counts
and the index of the first run that showed anything. Measures; asserts nothing.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile


def classify(document):
    """{scenario: [(run index, what it showed)]}."""
    kinds_by_run = {}
    for finding in document.get("findings", []):
        for run in finding.get("runs", []):
            kinds_by_run.setdefault((run["scenario"], run["index"]), set()).add(finding["kind"])
    rows = {}
    for run in sorted(document["stress"]["runs"], key=lambda r: (r["scenario"], r["index"])):
        kinds = kinds_by_run.get((run["scenario"], run["index"]), set())
        if "deadlock" in kinds:
            shown = "deadlock"
        elif kinds & {"gil-held-blocking", "lock-order-inversion"}:
            shown = "warning"
        elif run["outcome"] in ("ok", "findings"):
            shown = "nothing" if not kinds else "other: " + ",".join(sorted(kinds))
        else:
            shown = run["outcome"]
        rows.setdefault(run["scenario"], []).append((run["index"], shown))
    return rows


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(root / "build"))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--seed", default="1")
    parser.add_argument("--python", default="/usr/bin/python3.11" if os.path.exists("/usr/bin/python3.11")
                        else sys.executable)
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    env = dict(os.environ, GILWATCH_PYO3_DIR=str(build / "scenarios" / "pyo3"))
    for mode, extra in (("unperturbed", []), ("--perturb", ["--perturb"])):
        with tempfile.TemporaryDirectory() as tmp:
            out = pathlib.Path(tmp) / "stress"
            command = [str(build / "bin" / "gilwatch"), "stress", "scenarios/pyo3/stress-rwlock.toml",
                       "--python", args.python, "-n", str(args.runs), "-j", str(args.jobs), "--seed", args.seed,
                       "--out", str(out), "-q"] + extra
            subprocess.run(command, cwd=str(root), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(out / "findings.json") as f:
                document = json.load(f)
        for scenario, rows in classify(document).items():
            counts = {}
            for _, shown in rows:
                counts[shown] = counts.get(shown, 0) + 1
            first = next((index for index, shown in rows if shown != "nothing"), None)
            print("%-12s %s: %d runs: %s; first run showing the pattern: %s" % (
                mode, scenario, len(rows), ", ".join("%s %d" % item for item in sorted(counts.items())),
                "#%d" % first if first is not None else "none"))
            print("    " + " ".join("%d:%s" % (index, shown[0]) for index, shown in rows))

if __name__ == "__main__":
    main()
