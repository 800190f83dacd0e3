"""A correct, threaded pure-Python program: the interpreter's own locks, condition
variables, queues, thread pools, sleeps, a fork with threads running, a subprocess, and
a daemon thread still running when the interpreter finalizes. gilwatch must report
nothing here (no extension code is involved, and nothing is wrong).

Prints one line and exits 0.
"""

import concurrent.futures
import os
import queue
import subprocess
import sys
import threading
import time


def contended_counter(threads=8, rounds=2000):
    lock = threading.Lock()
    total = [0]

    def bump():
        for _ in range(rounds):
            with lock:
                total[0] += 1

    workers = [threading.Thread(target=bump) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert total[0] == threads * rounds


def producer_consumer(items=2000):
    q = queue.Queue(maxsize=16)
    done = []

    def consume():
        while True:
            item = q.get()
            if item is None:
                return
            done.append(item)

    consumer = threading.Thread(target=consume)
    consumer.start()
    for i in range(items):
        q.put(i)
    q.put(None)
    consumer.join()
    assert len(done) == items


def condition_handoff(rounds=200):
    cond = threading.Condition()
    state = {"turn": 0}

    def player(me):
        for _ in range(rounds):
            with cond:
                while state["turn"] != me:
                    cond.wait()
                state["turn"] = 1 - me
                cond.notify_all()

    players = [threading.Thread(target=player, args=(i,)) for i in (0, 1)]
    for p in players:
        p.start()
    for p in players:
        p.join()


def pool_work():
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda x: sum(range(x)), range(200)))
    assert results[10] == 45


def fork_with_threads_running():
    stop = threading.Event()
    busy = threading.Thread(target=lambda: [time.sleep(0.001) for _ in iter(stop.is_set, True)])
    busy.start()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    stop.set()
    busy.join()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def run_subprocess():
    out = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "42"


def main():
    import warnings
    warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork() with threads
    contended_counter()
    producer_consumer()
    condition_handoff()
    pool_work()
    fork_with_threads_running()
    run_subprocess()
    # Still running when the interpreter finalizes; CPython stops it there.
    threading.Thread(target=lambda: [time.sleep(0.001) for _ in iter(int, 1)], daemon=True).start()
    time.sleep(0.05)
    print("threaded_pure: ok")


if __name__ == "__main__":
    main()
