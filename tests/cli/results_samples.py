"""Hand-written per-process results files, in the format libgilwatch.so writes
(instrumentation/include/gilwatch/result_format.h)."""

# The modules point at a binary that does not exist: symbolization must then keep
# module+offset and "??" rather than fail.
MODULE = "/nonexistent/fixture/libabba.so"
LOAD_BIAS = 0x7F0000000000


def _address(offset):
    return "0x%x" % (LOAD_BIAS + offset)


def abba(pid, thread_name="worker", first_offsets=(0x1010, 0x1030), state="exited"):
    """An ABBA inversion between two mutexes: edge 0 (A -> B) taken at
    first_offsets[0], edge 1 (B -> A) at first_offsets[1], both in MODULE."""
    edges = []
    for index, (held, taken) in enumerate(((0, 1), (1, 0))):
        edges.append({
            "from": held, "to": taken, "held_mode": "write", "acquired_mode": "write",
            "thread": {"tid": pid + 1 + index, "name": thread_name},
            "stack": [_address(first_offsets[index]), _address(0x2000)],
            "python_frames": [{"function": "register_tasks", "file": "drive.py", "line": 12}]
            if index == 1 else [],
        })
    document = {
        "format": "gilwatch-process-results", "version": 1,
        "pid": pid, "ppid": 1, "argv": ["python3", "drive.py"], "exe": "/usr/bin/python3",
        "state": state,
        "python": {"loaded": True, "version": "3.11.2 (main)"},
        "modules": [{"path": MODULE, "load_bias": _address(0),
                     "segments": [[_address(0x1000), _address(0x3000)]]}],
        "findings": [{
            "kind": "lock-order-inversion",
            "summary": "lock-order inversion (potential deadlock)",
            "locks": [
                {"id": 0, "name": "", "kind": "mutex", "address": "0x5000",
                 "first_site": [_address(first_offsets[0])]},
                {"id": 1, "name": "", "kind": "mutex", "address": "0x5040",
                 "first_site": [_address(first_offsets[1])]},
            ],
            "edges": edges,
        }],
        "stats": {"locks_tracked": 2, "edges": 2, "overflow": []},
    }
    if state == "exited":
        document["exit_status"] = 0
    return document


def gil_inversion(pid):
    """The GIL and an rwlock: the task-registry bug's shape."""
    document = abba(pid, first_offsets=(0x1100, 0x1200))
    finding = document["findings"][0]
    finding["locks"][0].update({"name": "GIL", "kind": "gil", "address": "0x0", "first_site": []})
    finding["locks"][1]["kind"] = "rwlock"
    finding["edges"][1]["held_mode"] = "read"
    return document


def clean(pid):
    document = abba(pid)
    document["findings"] = []
    return document
