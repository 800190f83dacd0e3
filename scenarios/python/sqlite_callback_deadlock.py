"""The lock-order inversion in CPython's _sqlite3 module, made to deadlock every run.

    python3 sqlite_callback_deadlock.py deadlock|nocallback|separate

SQLite (serialized mode, the default) holds a connection's mutex for the whole of
sqlite3_step, and calls a user-defined function from inside it; _sqlite3's callback then
asks for the GIL (PyGILState_Ensure): connection mutex -> GIL. Other methods of the same
connection (create_function, set_authorizer, set_progress_handler, parameter binding,
reading columns, ...) call into SQLite with the GIL held, and SQLite takes the connection
mutex there: GIL -> connection mutex.

deadlock: one connection shared by two threads (check_same_thread=False). The "query"
thread runs `SELECT wait_inside()`; the function says it is inside and then naps in 1 ms
sleeps (the GIL released during each, taken back after it) until the "register" thread
is done. That thread, holding the GIL, calls create_function on the same connection and
waits for the connection mutex; the query thread's next nap ends waiting for the GIL.
Whatever the scheduling, the function is still running when create_function is called,
so the cycle closes every run. Never ends on its own.

nocallback: the twin, the same two threads on one shared connection, without a user
callback: the query thread runs a query that takes a while in SQLite (a recursive count,
_sqlite3 releasing the GIL around sqlite3_step); the other thread, once the query has
started, binds a parameter and reads a row on the same connection (the GIL held, the
mutex taken under it). SQLite never calls back into Python under its mutex, so the only
order is GIL -> connection mutex. Each use of the connection holds one threading.Lock, so
the second thread waits for the first in that lock, the GIL released, never for the
connection mutex with the GIL held. Prints one line, exits 0.

separate: each thread with its own connection, opened, given its function and used on
its own thread (the module's default, check_same_thread=True): no lock is shared and
nothing can deadlock, but each thread takes both orders on its own connection, the risk
that the connection's mutex and the GIL are taken in either order. Prints one line,
exits 0.
"""

import sqlite3
import sys
import threading
import time

MODES = ("deadlock", "nocallback", "separate")
# How long the register thread waits for the query to reach its function (never reached
# when the program behaves; a bound so a broken run fails instead of hanging).
STEP_TIMEOUT_SECONDS = 60
# Rows the nocallback query counts through inside SQLite.
COUNT_ROWS = 2000000
COUNT_QUERY = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
               "SELECT count(*) FROM n")


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode not in MODES:
        sys.exit("usage: sqlite_callback_deadlock.py " + "|".join(MODES))
    if mode == "nocallback":
        results = no_callback()
        expected = {"query": COUNT_ROWS, "register": 2}
    else:
        results = with_callback(shared=(mode == "deadlock"))
        expected = {"query": 1, "register": 2}
    if results != expected:
        sys.exit("sqlite_callback_deadlock (%s): unexpected results %r" % (mode, results))
    print("sqlite_callback_deadlock (%s): both threads done" % mode)


def run_threads(query, register):
    threads = [threading.Thread(target=query, name="query"),
               threading.Thread(target=register, name="register")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def with_callback(shared):
    inside = threading.Event()
    done = threading.Event()
    results = {}

    def wait_inside():
        # Runs inside sqlite3_step: SQLite holds the connection mutex, _sqlite3's
        # callback took the GIL to call this.
        inside.set()
        while not done.is_set():
            time.sleep(0.001)
        return 1

    def other():
        return 2

    connection = None
    if shared:
        connection = sqlite3.connect(":memory:", check_same_thread=False)
        connection.create_function("wait_inside", 0, wait_inside)

    def query():
        mine = connection
        if mine is None:
            mine = sqlite3.connect(":memory:")
            mine.create_function("wait_inside", 0, wait_inside)
        results["query"] = mine.execute("SELECT wait_inside()").fetchone()[0]
        if connection is None:
            mine.close()

    def register():
        mine = connection
        if mine is None:
            mine = sqlite3.connect(":memory:")
        try:
            if not inside.wait(STEP_TIMEOUT_SECONDS):
                raise RuntimeError("the query never reached its function")
            # The GIL is held from here into SQLite, which takes the connection mutex.
            mine.create_function("other", 0, other)
            results["register"] = mine.execute("SELECT other()").fetchone()[0]
            if connection is None:
                mine.close()
        finally:
            done.set()

    run_threads(query, register)
    return results


def no_callback():
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    # Every use of the shared connection holds it: a thread waiting here has released
    # the GIL, so none waits for the connection mutex with the GIL held.
    guard = threading.Lock()
    started = threading.Event()
    results = {}

    def query():
        with guard:
            started.set()
            # _sqlite3 releases the GIL around sqlite3_step; SQLite holds the mutex in it.
            results["query"] = connection.execute(COUNT_QUERY, (COUNT_ROWS,)).fetchone()[0]

    def register():
        if not started.wait(STEP_TIMEOUT_SECONDS):
            raise RuntimeError("the query never started")
        with guard:
            # Binding the parameter and reading the column take the mutex with the GIL held.
            results["register"] = connection.execute("SELECT ? + 1", (1,)).fetchone()[0]

    run_threads(query, register)
    connection.close()
    return results


if __name__ == "__main__":
    main()
