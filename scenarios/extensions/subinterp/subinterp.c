// One pthread mutex, taken from two interpreters (issue: every CPython users run —
// per-interpreter GILs). Module `subinterp_fixture`, multi-phase init, declared safe
// for interpreters with their own GIL (3.12+), built for every interpreter.
//
//   lock_then_ensure_in_native_thread(): a native thread takes `shared_lock`, then asks
//     for the main interpreter's GIL (PyGILState_Ensure): shared_lock -> GIL(main).
//   take_lock_holding_gil(): takes `shared_lock` with the calling interpreter's GIL
//     held: GIL(that interpreter) -> shared_lock.
//
// Called from the main interpreter and from a subinterpreter: when the subinterpreter
// shares the main GIL (a legacy subinterpreter) the two orders are a real inversion —
// a thread holding the GIL waits for shared_lock while its holder waits for the GIL.
// When the subinterpreter has its own GIL they are two different locks and there is no
// cycle (drive.py own|shared). lock_then_attach_here_in_native_thread() makes the
// shared_lock -> GIL order inside the calling interpreter, so that its own GIL closes a
// cycle there (drive.py own-inversion).
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;

static void* lock_then_ensure(void* unused) {
  pthread_mutex_lock(&shared_lock);
  PyGILState_STATE state = PyGILState_Ensure();
  PyGILState_Release(state);
  pthread_mutex_unlock(&shared_lock);
  return NULL;
}

// Runs `body(arg)` on a new native thread and joins it, the GIL released meanwhile.
static PyObject* run_in_native_thread(void* (*body)(void*), void* arg) {
  pthread_t thread;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = pthread_create(&thread, NULL, body, arg);
  if (rc == 0) pthread_join(thread, NULL);
  Py_END_ALLOW_THREADS
  if (rc != 0) return PyErr_Format(PyExc_OSError, "pthread_create failed (%d)", rc);
  Py_RETURN_NONE;
}

static PyObject* lock_then_ensure_in_native_thread(PyObject* self, PyObject* unused) {
  return run_in_native_thread(lock_then_ensure, NULL);
}

// The same order inside the calling interpreter: a native thread takes shared_lock, then
// attaches a new thread state of this interpreter (asking for its GIL).
static void* lock_then_attach(void* interp) {
  pthread_mutex_lock(&shared_lock);
  PyThreadState* tstate = PyThreadState_New((PyInterpreterState*)interp);
  PyEval_RestoreThread(tstate);
  PyThreadState_Clear(tstate);
  PyThreadState_DeleteCurrent();
  pthread_mutex_unlock(&shared_lock);
  return NULL;
}

static PyObject* lock_then_attach_here_in_native_thread(PyObject* self, PyObject* unused) {
  return run_in_native_thread(lock_then_attach, PyInterpreterState_Get());
}

static __attribute__((noinline)) PyObject* take_lock_holding_gil(PyObject* self, PyObject* unused) {
  pthread_mutex_lock(&shared_lock);
  pthread_mutex_unlock(&shared_lock);
  Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"lock_then_ensure_in_native_thread", lock_then_ensure_in_native_thread, METH_NOARGS,
     "A native thread takes the shared lock, then the main interpreter's GIL."},
    {"lock_then_attach_here_in_native_thread", lock_then_attach_here_in_native_thread, METH_NOARGS,
     "A native thread takes the shared lock, then this interpreter's GIL."},
    {"take_lock_holding_gil", take_lock_holding_gil, METH_NOARGS, "Take the shared lock holding this interpreter's GIL."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot slots[] = {
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "subinterp_fixture", NULL, 0, methods, slots};

PyMODINIT_FUNC PyInit_subinterp_fixture(void) { return PyModuleDef_Init(&module); }
