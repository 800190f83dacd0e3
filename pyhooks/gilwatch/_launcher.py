"""The `gilwatch` console script of a pip installation: runs the gilwatch executable
installed inside this package (bin/gilwatch), with the same arguments."""

import os
import sys


def main():
    executable = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", "gilwatch")
    if not os.access(executable, os.X_OK):
        sys.stderr.write("gilwatch: %s is missing: this installation is incomplete\n" % executable)
        return 2
    os.execv(executable, [executable] + sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
