"""Drives dlcapi.c, a C library loaded without the interpreter's dlopen, through one of
the ways Python code loads native libraries:

    python3 drive.py LOADER --library PATH [--module-dir DIR]

LOADER is one of
    ctypes-cdll     ctypes.CDLL: the GIL is released around the call (the bug)
    ctypes-pydll    ctypes.PyDLL: the GIL stays held (correct)
    cffi            cffi's ffi.dlopen (ABI mode): the GIL is released (the bug)
    cffi-with-gil   the same, calling the function that takes the GIL itself (correct)
    plugin          the dlplugin extension dlopens the library and calls it with the
                    GIL released (the bug); needs --module-dir
    plugin-with-gil the same with the GIL held (correct)
Prints one line, "<loader>: exception set = <0|1>", and exits 0.
"""

import argparse
import importlib
import sys

BUGGY = "dlcapi_check_error"
WITH_GIL = "dlcapi_check_error_with_gil"


def call_ctypes(library, loader):
    import ctypes
    kind = ctypes.CDLL if loader == "ctypes-cdll" else ctypes.PyDLL
    function = getattr(kind(library), BUGGY)
    function.restype = ctypes.c_int
    return function()


def call_cffi(library, loader):
    import cffi
    ffi = cffi.FFI()
    ffi.cdef("int %s(void); int %s(void);" % (BUGGY, WITH_GIL))
    lib = ffi.dlopen(library)
    return getattr(lib, WITH_GIL if loader == "cffi-with-gil" else BUGGY)()


def call_plugin(library, loader, module_dir):
    sys.path.insert(0, module_dir)
    dlplugin = importlib.import_module("dlplugin")
    return dlplugin.call(library, BUGGY, loader == "plugin")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("loader", choices=["ctypes-cdll", "ctypes-pydll", "cffi", "cffi-with-gil", "plugin",
                                           "plugin-with-gil"])
    parser.add_argument("--library", required=True)
    parser.add_argument("--module-dir")
    args = parser.parse_args()
    if args.loader.startswith("ctypes"):
        result = call_ctypes(args.library, args.loader)
    elif args.loader.startswith("cffi"):
        result = call_cffi(args.library, args.loader)
    else:
        result = call_plugin(args.library, args.loader, args.module_dir)
    print("%s: exception set = %d" % (args.loader, result))


if __name__ == "__main__":
    main()
