"""The few native calls pyhooks makes: the library's exported functions (when it is
preloaded) and thread names (/proc/thread-self/comm, else prctl(PR_SET_NAME)). ctypes
only, imported when a call needs it (a run that never talks to the library does not load
it; the exit marker needs only its C module, _ctypes); every call degrades to nothing
when the symbol is missing."""

import atexit
import sys

_PR_SET_NAME = 15

_process = None
_libc = None
_exit_marked = False


def _handle():
    global _process
    if _process is None:
        # The main program's global scope: LD_PRELOAD objects are in it. PyDLL, not
        # CDLL: CDLL releases the GIL around each call, and asking for it back after the
        # exit marker would itself look like a thread attaching during finalization.
        import ctypes
        _process = ctypes.PyDLL(None)
    return _process


def _symbol(name):
    try:
        return getattr(_handle(), name)
    except (AttributeError, OSError):
        return None


def library():
    """The library's marker function when libgilwatch.so is loaded, else None."""
    return _symbol("gilwatch_python_exit_begun")


def _mark_exit():
    global _exit_marked
    _exit_marked = True
    if _process is not None:  # ctypes is loaded anyway
        begun = library()
        if begun is not None:
            begun.restype = None
            begun.argtypes = []
            begun()
        return
    _call_without_arguments("gilwatch_python_exit_begun")


def _call_without_arguments(name):
    """Calls void NAME(void) of the process, when it exists, through _ctypes alone: the
    ctypes package (struct, and its Python half) is about three times the cost of its C
    module, and every stress run marks its exit."""
    try:
        import _ctypes
        address = _ctypes.dlsym(_ctypes.dlopen(None), name)
    except (ImportError, AttributeError, OSError):
        return False

    class _VoidFunction(_ctypes.CFuncPtr):
        # PyDLL's calling convention: the GIL stays held (see _handle()).
        _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_PYTHONAPI
        _restype_ = None
        _argtypes_ = ()

    _VoidFunction(address)()
    return True


def exit_marked():
    return _exit_marked


def register_exit_marker():
    atexit.register(_mark_exit)


def set_current_thread_name(name):
    """Sets the calling thread's OS name (truncated to the kernel's 15 bytes): through
    /proc/thread-self/comm, which needs no ctypes, else prctl(PR_SET_NAME)."""
    global _libc
    encoded = name.encode("utf-8", "replace")[:15]
    try:
        with open("/proc/thread-self/comm", "wb", buffering=0) as comm:
            comm.write(encoded)
        return
    except OSError:
        pass
    try:
        import ctypes
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(_PR_SET_NAME, ctypes.c_char_p(encoded), 0, 0, 0)
    except (AttributeError, OSError):
        pass


def set_context(text):
    """Tells the library what the process is doing now (the running test), so findings
    recorded from now on carry it; no-op without the library."""
    function = _symbol("gilwatch_set_context")
    if function is None:
        return False
    import ctypes
    function.restype = None
    function.argtypes = [ctypes.c_char_p]
    function(None if text is None else text.encode("utf-8", "replace")[:255])
    return True


def reported_finding_count():
    """How many findings the library has recorded in this process (0 without it): one
    call, cheap enough for every test."""
    function = _symbol("gilwatch_reported_finding_count")
    if function is None:
        return 0
    import ctypes
    function.restype = ctypes.c_ulong
    function.argtypes = []
    return function()


def flush_results():
    """Has the library write this process's results file now (state "running"), with the
    current context on findings not noted yet; returns the finding count (0 without it)."""
    function = _symbol("gilwatch_flush_results")
    if function is None:
        return 0
    import ctypes
    function.restype = ctypes.c_ulong
    function.argtypes = []
    return function()


def report_leaked_threads(tids, summary, detail):
    """Asks the library to record a thread-leak finding for `tids`, each with the stack it
    is parked in. True when it did; False without the library, or when it cannot (no
    hang signal configured, a report in progress): the caller reports the leak itself."""
    function = _symbol("gilwatch_report_leaked_threads")
    if function is None or not tids:
        return False
    import ctypes
    function.restype = ctypes.c_int
    function.argtypes = [ctypes.POINTER(ctypes.c_int), ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p]
    array = (ctypes.c_int * len(tids))(*tids)
    return function(array, len(tids), summary.encode("utf-8", "replace"), detail.encode("utf-8", "replace")) == 1


def name_python_threads():
    """Makes every thread started through `threading` name its OS thread after itself:
    now if `threading` is imported, else as soon as something imports it."""
    when_imported("threading", _wrap_bootstrap)


def _wrap_bootstrap(threading):
    original = getattr(threading.Thread, "_bootstrap_inner", None)
    if original is None or getattr(original, "_gilwatch_wrapped", False):
        return

    def _bootstrap_inner(self):
        set_current_thread_name(self.name)
        return original(self)

    _bootstrap_inner._gilwatch_wrapped = True
    threading.Thread._bootstrap_inner = _bootstrap_inner


def when_imported(name, callback):
    """Calls callback(module) once module `name` is imported: at once if it is."""
    module = sys.modules.get(name)
    if module is not None:
        callback(module)
        return
    for finder in sys.meta_path:
        if isinstance(finder, _WhenImported):
            finder.callbacks.setdefault(name, []).append(callback)
            return
    finder = _WhenImported()
    finder.callbacks[name] = [callback]
    sys.meta_path.insert(0, finder)


class _WhenImported(object):
    """A meta path finder that finds nothing itself: for a module with callbacks it
    asks the other finders, and runs the callbacks once the module has executed."""

    def __init__(self):
        self.callbacks = {}

    def find_spec(self, name, path=None, target=None):
        callbacks = self.callbacks.get(name)
        if not callbacks:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        del self.callbacks[name]
        spec.loader = _CallingLoader(spec.loader, callbacks)
        return spec


class _CallingLoader(object):
    """The module's own loader, then the callbacks."""

    def __init__(self, loader, callbacks):
        self._loader = loader
        self._callbacks = callbacks

    def create_module(self, spec):
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module):
        self._loader.exec_module(module)
        for callback in self._callbacks:
            callback(module)

    def __getattr__(self, attribute):
        return getattr(self._loader, attribute)
