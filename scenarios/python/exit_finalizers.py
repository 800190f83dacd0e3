"""Objects whose finalizers release and take the GIL again while the interpreter
finalizes, on the thread that finalizes it: a correct program, which gilwatch must not
report as finalization-attach (only other threads asking for the GIL then are).

    python3 -W always::ResourceWarning exit_finalizers.py sqlite3|mmap|socket

sqlite3: a connection that ran a statement and is closed at exit (the module closes it
with the GIL released). mmap: a mapping left open, unmapped by its dealloc with the GIL
released. socket: a socket left open, closed by its finalizer with the GIL released
after a ResourceWarning. Prints one line, exits 0.
"""

import sys


def main():
    kind = sys.argv[1]
    global kept
    if kind == "sqlite3":
        import sqlite3
        kept = sqlite3.connect(":memory:")
        kept.execute("create table t (x)")
    elif kind == "mmap":
        import mmap
        kept = mmap.mmap(-1, 1 << 20)
        kept[:5] = b"hello"
    elif kind == "socket":
        import socket
        kept = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        kept.bind(("127.0.0.1", 0))
    else:
        sys.exit("unknown kind %r" % kind)
    print("exit_finalizers (%s): left open until exit" % kind)


if __name__ == "__main__":
    main()
