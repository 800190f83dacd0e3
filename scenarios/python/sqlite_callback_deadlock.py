"""The lock-order inversion in CPython's _sqlite3 module, made to deadlock every run.

    python3 sqlite_callback_deadlock.py deadlock|separate|handover

SQLite (serialized mode, the default) holds a connection's mutex for the whole of
sqlite3_step, and calls a user-defined function from inside it; _sqlite3's callback then
asks for the GIL (PyGILState_Ensure): connection mutex -> GIL. Other methods of the same
connection (create_function, set_authorizer, set_progress_handler, ...) call into SQLite
with the GIL held, and SQLite takes the connection mutex there: GIL -> connection mutex.

deadlock: one connection shared by two threads (check_same_thread=False). The "query"
thread runs `SELECT wait_inside()`; the function says it is inside and then naps in 1 ms
sleeps (the GIL released during each, taken back after it) until the "register" thread
is done. That thread, holding the GIL, calls create_function on the same connection and
waits for the connection mutex; the query thread's next nap ends waiting for the GIL.
Whatever the scheduling, the function is still running when create_function is called,
so the cycle closes every run. Never ends on its own.

separate: the twin, the same two threads doing the same, each with its own connection,
opened, given its function and used on its own thread (the module's default,
check_same_thread=True): no lock is shared. Prints one line, exits 0.

handover: the inversion without the hang. The main thread registers its function and runs
its query on a connection made with check_same_thread=False (both orders, one thread:
nothing yet); then a thread, holding the GIL, registers another function on it while the
main thread waits; then the main thread runs its query again. Nothing overlaps, so it
finishes (one line, exit 0), but the two threads' orders are a lock-order inversion.
"""

import sqlite3
import sys
import threading
import time

# How long the register thread waits for the query to reach its function (never reached
# when the program behaves; a bound so a broken run fails instead of hanging).
STEP_TIMEOUT_SECONDS = 60


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode not in ("deadlock", "separate", "handover"):
        sys.exit("usage: sqlite_callback_deadlock.py deadlock|separate|handover")
    if mode == "handover":
        handover()
        return
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
        try:
            if not inside.wait(STEP_TIMEOUT_SECONDS):
                raise RuntimeError("the query never reached its function")
            # The GIL is held from here into SQLite, which takes the connection mutex.
            connection.create_function("other", 0, other)
            results["register"] = connection.execute("SELECT other()").fetchone()[0]
            if shared is None:
                connection.close()
        finally:
            done.set()

    threads = [threading.Thread(target=query, name="query"),
               threading.Thread(target=register, name="register")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if results != {"query": 1, "register": 2}:
        sys.exit("sqlite_callback_deadlock (%s): unexpected results %r" % (mode, results))
    print("sqlite_callback_deadlock (%s): both threads done" % mode)


def handover():
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    connection.create_function("one", 0, lambda: 1)
    first = connection.execute("SELECT one()").fetchone()[0]
    registrar = threading.Thread(target=connection.create_function, args=("two", 0, lambda: 2),
                                 name="register")
    registrar.start()
    registrar.join()
    second = connection.execute("SELECT one() + two()").fetchone()[0]
    connection.close()
    if (first, second) != (1, 3):
        sys.exit("sqlite_callback_deadlock (handover): unexpected results %r" % ((first, second),))
    print("sqlite_callback_deadlock (handover): done")


if __name__ == "__main__":
    main()
