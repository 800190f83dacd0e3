"""The lock-order inversion in CPython's _sqlite3 module, made to deadlock every run.

    python3 sqlite_callback_deadlock.py deadlock|separate

SQLite (serialized mode, the default) holds a connection's mutex for the whole of
sqlite3_step, and calls a user-defined function from inside it; _sqlite3's callback then
asks for the GIL (PyGILState_Ensure): connection mutex -> GIL. Other methods of the same
connection (create_function, set_authorizer, set_progress_handler, ...) call into SQLite
with the GIL held, and SQLite takes the connection mutex there: GIL -> connection mutex.

deadlock: one connection shared by two threads (check_same_thread=False). The "query"
thread runs `SELECT wait_inside()`; the function says it is inside and waits (GIL
released) for the "register" thread, which sets the event and, still holding the GIL,
calls create_function on the same connection. The query thread needs the GIL to return
from its wait and the register thread needs the connection mutex: both wait forever.
A switch interval of 10 s keeps the register thread from handing the GIL over between
the event and create_function, so the cycle closes every run. Never ends on its own.

separate: the twin, the same two threads and the same events, each with its own
connection, opened, given its function and used on its own thread (the module's default,
check_same_thread=True): no lock is shared and nothing is taken in both orders. Prints
one line, exits 0.
"""

import sqlite3
import sys
import threading

# How long each side waits for the other before giving up (never reached when the
# program behaves; a bound so a broken run fails instead of hanging in the twin).
STEP_TIMEOUT_SECONDS = 60


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode not in ("deadlock", "separate"):
        sys.exit("usage: sqlite_callback_deadlock.py deadlock|separate")
    sys.setswitchinterval(10.0)
    inside = threading.Event()
    go = threading.Event()
    results = {}

    def wait_inside():
        # Runs inside sqlite3_step: SQLite holds the connection mutex, _sqlite3's
        # callback took the GIL to call this.
        inside.set()
        if not go.wait(STEP_TIMEOUT_SECONDS):
            raise RuntimeError("the register thread never came")
        return 1

    def other():
        return 2

    shared = None
    if mode == "deadlock":
        shared = sqlite3.connect(":memory:", check_same_thread=False)
        shared.create_function("wait_inside", 0, wait_inside)

    def query():
        connection = shared
        if connection is None:
            connection = sqlite3.connect(":memory:")
            connection.create_function("wait_inside", 0, wait_inside)
        results["query"] = connection.execute("SELECT wait_inside()").fetchone()[0]
        if shared is None:
            connection.close()

    def register():
        connection = shared
        if connection is None:
            connection = sqlite3.connect(":memory:")
        if not inside.wait(STEP_TIMEOUT_SECONDS):
            raise RuntimeError("the query never reached its function")
        go.set()
        # The GIL is held from here into SQLite, which takes the connection mutex.
        connection.create_function("other", 0, other)
        results["register"] = connection.execute("SELECT other()").fetchone()[0]
        if shared is None:
            connection.close()

    threads = [threading.Thread(target=query, name="query"),
               threading.Thread(target=register, name="register")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if results != {"query": 1, "register": 2}:
        sys.exit("sqlite_callback_deadlock (%s): unexpected results %r" % (mode, results))
    print("sqlite_callback_deadlock (%s): both threads done" % mode)


if __name__ == "__main__":
    main()
