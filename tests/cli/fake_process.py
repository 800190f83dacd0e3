"""Stands in for a process under test in tests/cli: records the environment `gilwatch
run` gave it, writes a results file as libgilwatch.so would (a lock-order inversion)
into the out_dir of GILWATCH_OPTIONS, and exits with the status it is told.

usage: fake_process.py ENV_RECORD.json EXIT_STATUS [--no-results]
"""

import json
import os
import sys
import time

import results_samples


def main():
    record_path, exit_status = sys.argv[1], int(sys.argv[2])
    options = {}
    for entry in os.environ.get("GILWATCH_OPTIONS", "").split(":"):
        if "=" in entry:
            key, value = entry.split("=", 1)
            options[key] = value  # later entries win, as in the library
    with open(record_path, "w") as f:
        json.dump({"LD_PRELOAD": os.environ.get("LD_PRELOAD"),
                   "GILWATCH_OPTIONS": os.environ.get("GILWATCH_OPTIONS"),
                   "options": options,
                   "cwd": os.getcwd(),
                   "pid": os.getpid()}, f)
    if "--no-results" not in sys.argv:
        document = results_samples.abba(os.getpid(), thread_name="fake")
        name = "gilwatch.%d.%d.json" % (os.getpid(), time.time_ns())
        with open(os.path.join(options["out_dir"], name), "w") as f:
            json.dump(document, f)
    sys.exit(exit_status)


if __name__ == "__main__":
    main()
