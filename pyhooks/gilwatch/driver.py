"""The scenario driver: what each `gilwatch stress` subprocess runs.

    python -X faulthandler -m gilwatch.driver SPEC.json

SPEC.json (written by the harness, stress_runner.cpp) names the scenario kind, its
parameters (the suite's keys, defaults filled in), the run's seed, whether to perturb,
where to write the result record (`result`) and the findings (`raw_dir`).

The record (result.json) holds what was measured — per-cycle thread and fd counts,
throughputs — and, when the driver itself failed (a callable that cannot be imported, an
exception from the user's code), "error" with the traceback. Findings (thread-leak,
fd-leak, low-speedup, a teardown over its time limit) go to RAW_DIR as a results file
that `gilwatch report` merges with the library's.

Exit status: as the scenario ends the interpreter (finalization ways: sys-exit 3,
exception 1, sigint by SIGINT; scripts: their own); 0 otherwise; 2 when the driver
failed.

Start-up: a run pays for what its kind uses. The modules each kind needs (threading,
traceback, the snapshots, the results writer) are imported inside it; the spec is read
and the record written by the C scanner and a small writer (spec_json.py) rather than
the json package, which brings in `re`; `random` is seeded when something imports it.
"""

import os
import sys
import time

import gilwatch
from gilwatch import _native, spec_json

# A finalization scenario's work in flight: referenced from a module global so that it
# lives until the interpreter tears the module down.
_in_flight = []


class DriverError(Exception):
    """A problem with the scenario itself (bad callable, exception from user code)."""


def resolve(reference):
    """'package.module:attr.path' -> the object."""
    module_name, _, attribute_path = reference.partition(":")
    import importlib
    try:
        target = importlib.import_module(module_name)
    except Exception as error:
        raise DriverError("cannot import '%s' (from %s): %s: %s" %
                          (module_name, reference, type(error).__name__, error))
    for part in attribute_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise DriverError("'%s' has no attribute '%s' (from %s)" % (module_name, part, reference))
    if not callable(target):
        raise DriverError("%s is not callable" % reference)
    return target


class Run(object):
    def __init__(self, spec):
        self.spec = spec
        self.params = spec["params"]
        self.record = {"scenario": spec["scenario"], "kind": spec["kind"], "variant": spec.get("variant", ""),
                       "index": spec["index"], "seed": spec["seed"]}
        self.findings = []
        self.label = spec["scenario"] + ("." + spec["variant"] if spec.get("variant") else "")

    def save(self):
        path = self.spec.get("result")
        if path:
            temporary = path + ".tmp"
            with open(temporary, "w") as out:
                out.write(spec_json.dumps(self.record))
                out.write("\n")
            os.replace(temporary, path)
        if self.findings and self.spec.get("raw_dir"):
            from gilwatch import results
            results.write(self.spec["raw_dir"], self.findings)


def call_in_threads(count, target, name):
    import threading
    threads = [threading.Thread(target=target, args=(i,), name="%s-%d" % (name, i)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def run_hammer(run):
    import traceback
    p = run.params
    callables = [resolve(c) for c in p["callables"]]
    argument = (resolve(p["setup"])(),) if p.get("setup") else ()
    iterations = p.get("iterations")
    deadline = time.monotonic() + p["duration"] if iterations is None else None
    calls = [0] * p["threads"]
    failures = []

    def hammer(i):
        # Each thread starts at another callable, so different ones run at the same time.
        n = 0
        try:
            while (n < iterations) if iterations is not None else (time.monotonic() < deadline):
                callables[(i + n) % len(callables)](*argument)
                n += 1
        except BaseException:
            failures.append(traceback.format_exc())
        calls[i] = n

    call_in_threads(p["threads"], hammer, "hammer")
    run.record["calls"] = sum(calls)
    if failures:
        raise DriverError("a hammer thread raised:\n" + failures[0])


def run_teardown(run):
    import gc
    from gilwatch import results
    from gilwatch.snapshot import Snapshot, settle
    p = run.params
    factory = resolve(p["factory"])
    use = resolve(p["use"]) if p.get("use") else None

    def cycle():
        obj = factory()
        if use is not None:
            use(obj)
        started = time.monotonic()
        del obj
        gc.collect()
        return (time.monotonic() - started) * 1000.0

    for _ in range(p["warmup"]):
        cycle()
    gc.collect()
    baseline = Snapshot()
    cycles = []
    first_thread_leak = first_fd_leak = None
    worst = None
    slowest = 0.0
    for number in range(1, p["cycles"] + 1):
        teardown_ms = cycle()
        slowest = max(slowest, teardown_ms)
        now = settle(baseline, p["settle_ms"])
        new_threads = now.new_threads(baseline)
        new_fds = now.new_fds(baseline)
        cycles.append({"cycle": number, "threads": len(now.threads), "fds": len(now.fds),
                       "teardown_ms": round(teardown_ms, 3)})
        if new_threads and first_thread_leak is None:
            first_thread_leak = number
        if new_fds and first_fd_leak is None:
            first_fd_leak = number
        worst = (now, new_threads, new_fds)
    run.record.update({"baseline": {"threads": len(baseline.threads), "fds": len(baseline.fds)},
                       "cycles": cycles, "slowest_teardown_ms": round(slowest, 3)})
    what = p["factory"]
    cycles_text = "%d teardown cycle%s of %s" % (p["cycles"], "" if p["cycles"] == 1 else "s", what)
    if worst is not None and worst[1]:
        leak = results.thread_leak(worst[1], "after %s (first after cycle %d)" % (cycles_text, first_thread_leak),
                                   "%s: %s" % (run.label, what), "still running after teardown")
        # The library, when it can, records it with the stack each thread is parked in.
        if not _native.report_leaked_threads(sorted(worst[1]), leak["summary"], leak["detail"]):
            run.findings.append(leak)
    if worst is not None and worst[2]:
        run.findings.append(results.fd_leak(worst[2], "after %s (first after cycle %d)" % (cycles_text, first_fd_leak),
                                            "%s: %s" % (run.label, what)))
    if slowest > p["max_teardown_ms"]:
        run.findings.append(results.finding(
            "hang",
            "teardown of %s took %.0f ms, over max_teardown_ms %d" % (what, slowest, p["max_teardown_ms"]),
            "%s: %s: teardown over max_teardown_ms" % (run.label, what)))


def run_finalization(run):
    p = run.params
    way = run.spec["variant"]
    start = resolve(p["start"])
    obj = start()
    _in_flight.append(obj)
    run.record["way"] = way
    run.save()  # before the interpreter ends, one way or another
    if way == "normal":
        return
    if way == "sys-exit":
        sys.exit(3)
    if way == "exception":
        raise RuntimeError("gilwatch finalization scenario: ends with an uncaught exception, as planned")
    if way == "sigint":
        import signal
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # the KeyboardInterrupt arrives here
        return
    if way == "daemon-threads":
        import threading
        use = resolve(p["use"]) if p.get("use") else None

        def keep_working(i):
            while True:
                if use is not None:
                    use(obj)
                else:
                    _in_flight.append(start())
                    del _in_flight[1:]
        for i in range(p["threads"]):
            threading.Thread(target=keep_working, args=(i,), name="in-flight-%d" % i, daemon=True).start()
        time.sleep(0.05)
        return
    if way == "abandoned-callback":
        resolve(p["abandon"])(obj)
        return
    raise DriverError("unknown finalization way '%s'" % way)


def measure_throughput(function, threads, duration):
    """Calls per second of `threads` threads calling `function` for `duration` s."""
    import threading
    counts = [0] * threads
    barrier = threading.Barrier(threads + 1)
    stop = threading.Event()

    def worker(i):
        barrier.wait()
        n = 0
        while not stop.is_set():
            function()
            n += 1
        counts[i] = n

    workers = [threading.Thread(target=worker, args=(i,), name="speedup-%d" % i) for i in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    started = time.monotonic()
    time.sleep(duration)
    stop.set()
    for w in workers:
        w.join()
    return sum(counts) / (time.monotonic() - started)


def run_speedup(run):
    from gilwatch import results
    p = run.params
    function = resolve(p["callable"])
    function()  # warm up (imports, caches)
    throughput = {}
    for n in p["threads"]:
        # Best of `repeats`: noise only ever makes a measurement slower.
        throughput[n] = max(measure_throughput(function, n, p["duration"]) for _ in range(p["repeats"]))
    speedups = {str(n): throughput[n] / throughput[1] for n in p["threads"]}
    run.record["throughput"] = {str(n): round(v, 3) for n, v in throughput.items()}
    run.record["speedup"] = {n: round(v, 3) for n, v in speedups.items()}
    at = p["at_threads"]
    run.record["min_speedup"] = p["min_speedup"]
    run.record["at_threads"] = at
    achieved = speedups[str(at)]
    if achieved < p["min_speedup"]:
        run.findings.append(results.finding(
            "low-speedup",
            "%d threads ran %s %.2fx as fast as one (target %.2fx; %s)" % (
                at, p["callable"], achieved, p["min_speedup"],
                ", ".join("%s threads %.2fx" % (n, v) for n, v in sorted(speedups.items(), key=lambda kv: int(kv[0])))),
            "%s: %s at %d threads" % (run.label, p["callable"], at)))


def run_script(run):
    p = run.params
    script = p["script"]
    if not os.path.isfile(script):
        raise DriverError("script %s does not exist (relative paths start from %s)" % (script, os.getcwd()))
    run.save()
    sys.argv = [script] + list(p["args"])
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    if script.endswith(".py"):
        import io
        with io.open_code(os.path.abspath(script)) as source:
            code = compile(source.read(), script, "exec")
        _run_as_main(code, script)
        return
    import runpy
    runpy.run_path(script, run_name="__main__")


def _run_as_main(code, script):
    """What runpy.run_path does with a source file (runpy._run_module_code): the code runs
    in a fresh module that stands in as sys.modules["__main__"] meanwhile, with the
    globals run_path gives it. Without importing runpy, which brings in importlib.util,
    contextlib, collections and functools (about 14 million instructions a run), nor
    run_path's pkgutil (and with it typing and re)."""
    module = type(sys)("__main__")
    module.__dict__.update(__file__=script, __cached__=None, __loader__=None, __package__="", __spec__=None)
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = module
    try:
        exec(code, module.__dict__)
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved
        else:
            del sys.modules["__main__"]


def _dump_python_stacks_on_hang_signal():
    """At a run's timeout the harness sends the library's hang signal: let faulthandler
    write every thread's Python stack on stderr first, then chain to the library."""
    import faulthandler
    number = None
    for entry in os.environ.get("GILWATCH_OPTIONS", "").split(":"):
        key, _, value = entry.partition("=")
        if key == "hang_signal" and value.isdigit():
            number = int(value)
    if number:
        try:
            faulthandler.register(number, file=sys.stderr, all_threads=True, chain=True)
        except (ValueError, RuntimeError, OSError):
            pass


KINDS = {"hammer": run_hammer, "teardown": run_teardown, "finalization": run_finalization,
         "speedup": run_speedup, "script": run_script}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: python -m gilwatch.driver SPEC.json\n")
        return 2
    with open(argv[0]) as spec_file:
        spec = spec_json.loads(spec_file.read())
    gilwatch.install()
    gilwatch._native.set_current_thread_name("gilwatch-main")
    _dump_python_stacks_on_hang_signal()
    seed = int(spec["seed"])
    _native.when_imported("random", lambda random: random.seed(seed))
    if spec.get("perturb"):
        # A tiny switch interval: the eval loop hands the GIL over far more often.
        sys.setswitchinterval(1e-5)
    run = Run(spec)
    kind = KINDS.get(spec["kind"])
    try:
        if kind is None:
            raise DriverError("unknown scenario kind '%s'" % spec["kind"])
        kind(run)
    except DriverError as error:
        run.record["error"] = str(error)
        run.save()
        sys.stderr.write("gilwatch driver: %s: %s\n" % (run.label, error))
        return 2
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException:
        if spec["kind"] in ("script", "finalization"):
            raise  # the script's (or the planned) exception: the interpreter reports it
        import traceback
        run.record["error"] = traceback.format_exc()
        run.save()
        sys.stderr.write("gilwatch driver: %s:\n%s" % (run.label, run.record["error"]))
        return 2
    run.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
