// A plain C library (not an extension module) that Python loads itself, with ctypes or
// cffi, or that an extension dlopens (dlplugin.c): the interpreter's own dlopen never
// sees it. It names the C API functions it calls and leaves them undefined; the loader
// binds them to the interpreter already in the process.
//
//   dlcapi_check_error()           calls PyErr_Occurred: it needs the GIL. Called
//                                  through ctypes.PyDLL (the GIL stays held) it is
//                                  correct; through ctypes.CDLL or cffi's ffi.dlopen
//                                  (both release the GIL around the call) it is the bug
//                                  (on CPython 3.9-3.13 there is no thread state and the
//                                  process usually dies with SIGSEGV; gilwatch reports
//                                  capi-without-gil before the call runs).
//   dlcapi_check_error_with_gil()  the fix for callers that release the GIL: takes it
//                                  (PyGILState_Ensure) around the same call.
// Both return 1 if an exception is set, else 0 (it never is).
void* PyErr_Occurred(void);
int PyGILState_Ensure(void);
void PyGILState_Release(int state);

__attribute__((visibility("default"), noinline)) int dlcapi_check_error(void) {
  return PyErr_Occurred() != 0;
}

__attribute__((visibility("default"), noinline)) int dlcapi_check_error_with_gil(void) {
  int state = PyGILState_Ensure();
  int set = PyErr_Occurred() != 0;
  PyGILState_Release(state);
  return set;
}
