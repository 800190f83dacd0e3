"""A wait with a deadline, made with the GIL held while another Python thread wants the
GIL: bad for that thread (a gil-held-blocking finding), but no deadlock — the wait ends
by itself after 2 s and the program finishes. Its twin with an untimed wait, which
really never ends, is the blockon fixture (a probable deadlock).

    python3 timed_wait_holding_gil.py

ctypes.PyDLL keeps the GIL across the call: pthread_cond_timedwait on a condition
nobody signals, with the GIL held. Prints one line, exits 0.
"""

import ctypes
import threading
import time


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def main():
    libc = ctypes.PyDLL(None)
    mutex = ctypes.create_string_buffer(64)  # all zeros: PTHREAD_MUTEX_INITIALIZER
    condition = ctypes.create_string_buffer(64)  # PTHREAD_COND_INITIALIZER
    stop = threading.Event()

    def count_until_stopped():
        n = 0
        while not stop.is_set():
            n += 1

    other = threading.Thread(target=count_until_stopped, name="counter")
    other.start()
    time.sleep(0.1)
    deadline = Timespec(int(time.time()) + 2, 0)
    libc.pthread_mutex_lock(mutex)
    rc = libc.pthread_cond_timedwait(condition, mutex, ctypes.byref(deadline))
    libc.pthread_mutex_unlock(mutex)
    stop.set()
    other.join()
    print("timed_wait_holding_gil: the wait timed out (%s); done" % ("ETIMEDOUT" if rc == 110 else rc))


if __name__ == "__main__":
    main()
