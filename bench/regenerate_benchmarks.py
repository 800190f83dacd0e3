"""Runs the benchmarks and rewrites the table in docs/benchmarks.md.

    python3 bench/regenerate_benchmarks.py [--build build] [--doc docs/benchmarks.md] [--rounds 3] [--quick]

One run measures, on this machine and at this commit:

- bench/instructions_per_lock.sh (callgrind instructions per uncontended lock+unlock),
- bench/uncontended_ratio.sh (CPU time per lock+unlock, plain and preloaded interleaved),
- bench/nested_pairs.sh (many distinct locks: instructions and CPU time per acquisition,
  memory per edge),
- bench/stress_overhead.py (`gilwatch stress` against a loop of the same command),

and the anchors, where they can be installed here: ThreadSanitizer (gcc's runtime:
bench/lock_loop.c and bench/nested_pairs.c built with -fsanitize=thread into
BUILD/bench-anchors, timed like the plain loops in the same rounds), memray and py-spy
(from PyPI into a venv, BUILD/bench-venv, made on first use) on a threaded Python loop,
timed against the same loop plain and under `gilwatch run`. An anchor that cannot be had
shows why in the table.

It rewrites the block between the markers `<!-- regenerate_benchmarks: begin -->` and
`<!-- regenerate_benchmarks: end -->` of --doc with a table, the command, the commit
and each script's own output. Takes several minutes; --quick runs every part small (a
check that it runs and rewrites the block, not figures to read; it installs nothing).
It asserts nothing about the figures.
"""

import argparse
import datetime
import json
import os
import pathlib
import re
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BEGIN = "<!-- regenerate_benchmarks: begin -->"
END = "<!-- regenerate_benchmarks: end -->"

# A Python loop with two threads taking a threading.Lock, for the memray and py-spy anchors.
PY_LOOP = """import sys, threading
n = int(sys.argv[1])
lock = threading.Lock()
table = {}
def work(k):
    for i in range(n):
        with lock:
            table[i % 1000] = k
threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
for t in threads: t.start()
for t in threads: t.join()
"""


def log(text):
    sys.stderr.write("regenerate_benchmarks: %s\n" % text)
    sys.stderr.flush()


def run(command, env=None, check=True):
    log("$ " + " ".join(shlex.quote(str(c)) for c in command))
    completed = subprocess.run([str(c) for c in command], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True)
    if check and completed.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (command[0], completed.returncode, completed.stderr[-2000:]))
    return completed


def cpu_seconds(command, env=None):
    """User + system CPU time of one run of `command` (its children included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([str(c) for c in command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def ratio(a, b):
    return a / b if b > 0 else float("nan")


def wall_seconds(command, env=None, cwd=None):
    started = time.monotonic()
    subprocess.run([str(c) for c in command], env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return time.monotonic() - started


def rows_of(text, fields):
    """{name: [numbers]} of the lines of `text` ending in `fields` numbers ('1.41x' too)."""
    rows = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) <= fields:
            continue
        tail = parts[-fields:]
        try:
            numbers = [float(p.rstrip("x")) for p in tail]
        except ValueError:
            continue
        rows[" ".join(parts[:-fields])] = numbers
    return rows


def build_tsan(build, quick):
    """lock_loop and nested_pairs built with -fsanitize=thread, or (None, reason)."""
    out = build / "bench-anchors"
    out.mkdir(parents=True, exist_ok=True)
    built = {}
    for name in ("lock_loop", "nested_pairs"):
        target = out / (name + "_tsan")
        completed = run(["gcc", "-O2", "-g", "-fsanitize=thread", "-pthread", ROOT / "bench" / (name + ".c"),
                         "-o", target], check=False)
        if completed.returncode != 0:
            return None, "gcc -fsanitize=thread failed: " + completed.stderr.strip().splitlines()[-1]
        built[name] = target
    probe = subprocess.run([str(built["lock_loop"]), "0", "10"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, universal_newlines=True)
    if probe.returncode != 0:
        return None, "a -fsanitize=thread program does not run here: " + probe.stderr.strip()[:200]
    return built, None


def tsan_lock_loop(build, tsan, rounds, small, large):
    """{(held, threads): (plain ns, tsan ns, median ratio)}: CPU time per lock+unlock, the
    plain and the TSan loop interleaved, each as the difference of two run lengths."""
    plain = build / "bin" / "lock_loop"
    env = dict(os.environ, TSAN_OPTIONS="report_bugs=0")
    results = {}
    for held, threads in ((0, 1), (0, 2), (2, 2)):
        plain_ns, tsan_ns, ratios = [], [], []
        for _ in range(rounds):
            per_op = []
            for program in (plain, tsan):
                a = cpu_seconds([program, held, small, "mutex", threads], env)
                b = cpu_seconds([program, held, large, "mutex", threads], env)
                per_op.append((b - a) * 1e9 / ((large - small) * threads))
            plain_ns.append(per_op[0])
            tsan_ns.append(per_op[1])
            ratios.append(ratio(per_op[1], per_op[0]))
        results[(held, threads)] = (statistics.median(plain_ns), statistics.median(tsan_ns), statistics.median(ratios))
    return results


def tsan_nested_pairs(build, tsan, rounds, ks):
    """{K: (plain ns, tsan ns, median ratio)} per acquisition once every edge is known."""
    plain = build / "bin" / "nested_pairs"
    env = dict(os.environ, TSAN_OPTIONS="report_bugs=0")
    results = {}
    for k in ks:
        passes = 4000000 // (2 * k) + 2
        plain_ns, tsan_ns, ratios = [], [], []
        for _ in range(rounds):
            figures = []
            for program in (plain, tsan):
                text = subprocess.run([str(program), str(k), str(passes)], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, universal_newlines=True, check=True).stdout
                figures.append(float(re.search(r"later_ns_per_acquisition (\S+)", text).group(1)))
            plain_ns.append(figures[0])
            tsan_ns.append(figures[1])
            ratios.append(ratio(figures[1], figures[0]))
        results[k] = (statistics.median(plain_ns), statistics.median(tsan_ns), statistics.median(ratios))
    return results


def python_venv(build, quick):
    """The venv's bin directory with memray and py-spy, or (None, reason)."""
    venv = build / "bench-venv"
    bin_dir = venv / "bin"
    if not (bin_dir / "memray").exists() or not (bin_dir / "py-spy").exists():
        if quick:
            return None, "not installed in %s (--quick installs nothing)" % venv
        made = run([sys.executable, "-m", "venv", venv], check=False)
        if made.returncode != 0:
            return None, "python3 -m venv failed: " + made.stderr.strip()[-200:]
        installed = run([bin_dir / "pip", "install", "-q", "memray", "py-spy"], check=False)
        if installed.returncode != 0:
            return None, "pip install memray py-spy failed: " + installed.stderr.strip()[-200:]
    return bin_dir, None


def python_anchors(build, bin_dir, rounds, iterations, work):
    """Wall time of the threaded Python loop plain, under gilwatch run, memray run and
    py-spy record, interleaved; {name: (median s, median ratio to plain)}; a tool that
    fails to run is left out with its reason."""
    python = str(bin_dir / "python")
    script = work / "py_loop.py"
    script.write_text(PY_LOOP)
    commands = {
        "gilwatch run": [build / "bin" / "gilwatch", "run", "--out", work / "gw-out", "--", python, script,
                         iterations],
        "memray run": [bin_dir / "memray", "run", "-q", "-f", "-o", work / "memray.bin", script, iterations],
        "py-spy record": [bin_dir / "py-spy", "record", "-o", work / "py-spy.svg", "--", python, script,
                          iterations],
    }
    plain = [python, script, iterations]
    failed = {}
    for name, command in list(commands.items()):
        completed = subprocess.run([str(c) for c in command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   universal_newlines=True)
        if completed.returncode != 0:
            said = [line for line in completed.stderr.splitlines() if "rror" in line] or completed.stderr.splitlines()
            failed[name] = said[0].strip()[:160] if said else "exit status %d" % completed.returncode
            del commands[name]
    times = {name: [] for name in ["plain"] + list(commands)}
    ratios = {name: [] for name in commands}
    for _ in range(rounds):
        base = wall_seconds(plain)
        times["plain"].append(base)
        for name, command in commands.items():
            if name in failed:
                continue
            try:
                t = wall_seconds(command)
            except subprocess.CalledProcessError as error:
                failed[name] = "failed in a timed run (exit status %d)" % error.returncode
                continue
            times[name].append(t)
            ratios[name].append(ratio(t, base))
    result = {"plain": (statistics.median(times["plain"]), 1.0)}
    for name in commands:
        if name not in failed:
            result[name] = (statistics.median(times[name]), statistics.median(ratios[name]))
    return result, failed


def fmt_ratio(value):
    return "%.2fx" % value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--doc", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--quick", action="store_true", help="every part small: checks that it runs")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved pairs per figure (default 3)")
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    doc = pathlib.Path(args.doc)
    text = doc.read_text()
    if BEGIN not in text or END not in text:
        sys.exit("regenerate_benchmarks: %s has no block between %s and %s" % (doc, BEGIN, END))
    work = pathlib.Path(tempfile.mkdtemp(prefix="gilwatch-regenerate-"))
    quick = args.quick
    # The commit measured, and whether the tree differed from it, when the run started.
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                            universal_newlines=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", "HEAD", "--", ".", ":!docs/benchmarks.md"]
                           ).returncode != 0
    load = os.getloadavg()[0]
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rounds = 1 if quick else args.rounds
    small, large = (400000, 4000000) if quick else (2000000, 20000000)
    ks = [1000] if quick else [1000, 10000, 100000]
    outputs = []

    # The project's own scripts, each as it is run by hand.
    env = dict(os.environ)
    if quick:
        env["ROWS"] = "1"
    instructions_text = run([ROOT / "bench" / "instructions_per_lock.sh", build], env=env).stdout
    outputs.append(("bench/instructions_per_lock.sh build" + (" (ROWS=1)" if quick else ""), instructions_text))
    env = dict(os.environ, SMALL=str(small), LARGE=str(large))
    uncontended_text = run([ROOT / "bench" / "uncontended_ratio.sh", build, rounds], env=env).stdout
    outputs.append(("bench/uncontended_ratio.sh build %d" % rounds + (" (SMALL=%d LARGE=%d)" % (small, large)
                                                                     if quick else ""), uncontended_text))
    clock_text = run([build / "bin" / "clock_read_cost", 2000000 if quick else 20000000]).stdout
    outputs.append(("build/bin/clock_read_cost" + (" 2000000" if quick else ""), clock_text))
    env = dict(os.environ, KS=" ".join(map(str, ks)))
    nested_text = run([ROOT / "bench" / "nested_pairs.sh", build, rounds], env=env).stdout
    outputs.append(("bench/nested_pairs.sh build %d" % rounds + (" (KS=1000)" if quick else ""), nested_text))
    stress_runs, stress_repeats = (4, 1) if quick else (100, args.rounds)
    stress_json = work / "stress.json"
    stress_text = run([sys.executable, ROOT / "bench" / "stress_overhead.py", "--build", build, "--runs",
                       stress_runs, "--repeats", stress_repeats, "--json", stress_json]).stdout
    outputs.append(("python3 bench/stress_overhead.py --runs %d --repeats %d" % (stress_runs, stress_repeats),
                    stress_text))
    stress = json.loads(stress_json.read_text())

    # The anchors.
    tsan, tsan_reason = build_tsan(build, quick)
    tsan_loop = tsan_loop_reason = None
    tsan_nested = {}
    if tsan:
        tsan_loop = tsan_lock_loop(build, tsan["lock_loop"], rounds, small, large)
        tsan_nested = tsan_nested_pairs(build, tsan["nested_pairs"], rounds, ks)
    bin_dir, venv_reason = python_venv(build, quick)
    py, py_failed = ({}, {})
    if bin_dir:
        py, py_failed = python_anchors(build, bin_dir, rounds, 20000 if quick else 300000, work)

    unc = rows_of(uncontended_text, 5)
    ins = rows_of(instructions_text, 5)
    cpu = {}
    in_cpu = False
    for line in nested_text.splitlines():
        if line.startswith("CPU time"):
            in_cpu = True
        elif in_cpu:
            parts = line.split()
            if len(parts) == 4 and parts[0].isdigit():
                cpu[int(parts[0])] = [float(p.rstrip("x")) for p in parts[1:]]
    memory = re.search(r"memory per edge: (\d+) bytes", nested_text)
    new_edge = {}
    for line in nested_text.splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[0].isdigit() and parts[3].endswith("x"):
            new_edge[int(parts[0])] = parts

    def tsan_cell(value):
        if tsan_reason:
            return "n/a: " + tsan_reason
        return value

    table = ["| measure | plain | gilwatch | ratio | ThreadSanitizer | goal |", "|---|---|---|---|---|---|"]
    for name, key, goal in (("mutex lock+unlock, nothing held, 2 threads (CPU ns)", (0, 2), "≤ 1.3x"),
                            ("mutex lock+unlock, 2 held, 2 threads (CPU ns)", (2, 2), "≤ 1.5x"),
                            ("mutex lock+unlock, nothing held, 1 thread (CPU ns)", (0, 1), "")):
        row_name = {(0, 2): "mutex, nothing held, 2 threads", (2, 2): "mutex, 2 held, 2 threads",
                    (0, 1): "mutex, nothing held"}[key]
        r = unc.get(row_name)
        t = tsan_loop.get(key) if tsan_loop else None
        table.append("| %s | %s | %s | %s | %s | %s |" % (
            name, "%.2f" % r[0] if r else "-", "%.2f" % r[1] if r else "-", fmt_ratio(r[2]) if r else "-",
            tsan_cell("%.2f ns, %s" % (t[1], fmt_ratio(t[2])) if t else "-"), goal))
    r = unc.get("mutex, nothing held, 2 threads")
    if r:
        table.append("| `--profile`, mutex lock+unlock, nothing held, 2 threads (CPU ns) | %.2f | %.2f | %s | | ≤ 3x |"
                     % (r[0], r[3], fmt_ratio(r[4])))
    clock = re.findall(r"(\d+\.\d+) ns", clock_text)
    if len(clock) >= 2:
        atomics, timed = float(clock[0]), float(clock[1])
        table.append("| two time-stamp counter reads between a lock's two atomic instructions, no gilwatch "
                     "(wall ns; the floor under `--profile`) | %.2f | %.2f | %s | | |" % (atomics, timed,
                                                                                      fmt_ratio(timed / atomics)))
    for row_name in ("mutex, nothing held", "mutex, nothing held, 2 threads"):
        r = ins.get(row_name)
        if r:
            table.append("| instructions per lock+unlock, %s (callgrind) | %d | %d | %s | | |"
                         % (row_name[len("mutex, "):], r[0], r[1], fmt_ratio(r[2])))
    for k in ks:
        r = cpu.get(k)
        t = tsan_nested.get(k)
        goal = {10000: "≤ 2x", 100000: "≤ 3x"}.get(k, "")
        if r:
            table.append("| nested pairs, K = %d distinct mutexes, per acquisition (CPU ns) | %.1f | %.1f | %s | %s | %s |"
                         % (k, r[0], r[1], fmt_ratio(r[2]), tsan_cell("%.1f ns, %s" % (t[1], fmt_ratio(t[2]))
                                                                      if t else "-"), goal))
    if memory:
        table.append("| memory per lock-order edge (peak RSS) | | %s bytes | | | ≤ 1 KB |" % memory.group(1))
    last_k = ks[-1]
    if last_k in new_edge:
        table.append("| instructions per new edge, K = %d (callgrind) | | %s | | | |" % (last_k, new_edge[last_k][4]))
    for row in stress["rows"]:
        table.append("| `gilwatch stress -j %d` against a loop (xargs -P, no shell) of the same command, %d runs (s) | %.2f | %.2f | "
                     "%.1f%% throughput | | ≥ 95%% |" % (row["jobs"], stress["runs"], row["shell_s"], row["stress_s"],
                                                     100.0 * row["throughput"]))

    py_table = ["| threaded Python loop (2 threads, a `threading.Lock`), wall s | time | ratio to plain |",
                "|---|---|---|"]
    if venv_reason:
        py_table.append("| memray, py-spy | n/a | %s |" % venv_reason)
    for name, (seconds, to_plain) in py.items():
        py_table.append("| %s | %.2f | %s |" % (name, seconds, fmt_ratio(to_plain)))
    for name, reason in py_failed.items():
        py_table.append("| %s | n/a | %s |" % (name, reason.replace("|", "/")))

    command = "python3 bench/regenerate_benchmarks.py" + (" --quick" if quick else
                                                         (" --rounds %d" % rounds if rounds != 3 else ""))
    block = [BEGIN,
             "",
             "`%s` at commit %s%s, %s, %d cores, load average %.1f when it started%s. Ratios are medians "
             "of interleaved pairs measured in this one run; ThreadSanitizer is gcc's (-fsanitize=thread on the "
             "same C programs), memray and py-spy from PyPI in a venv." % (
                 command, commit, " (with local changes)" if dirty else "", when, os.cpu_count(),
                 load, " (--quick: small runs, not figures to read)" if quick else ""),
             ""] + table + [""] + py_table + [""]
    for title, output in outputs:
        block += ["```", "$ " + title, output.rstrip("\n"), "```", ""]
    block.append(END)
    before, rest = text.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    doc.write_text(before + "\n".join(block) + after)
    print("\n".join(block))


if __name__ == "__main__":
    main()
