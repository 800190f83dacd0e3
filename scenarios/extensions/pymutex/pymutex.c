// CPython 3.13's public PyMutex in an extension (issue: every CPython users run). Its
// lock call is an inlined compare-and-swap; only when that fails does the extension
// call the exported PyMutex_Lock, which parks the thread with the GIL released. gilwatch
// sees exactly those contended acquisitions: in the contention profile (kind pymutex)
// and as waits in hang reports — never as a wait with the GIL held.
//
// Module `pymutex_fixture`, built for every interpreter; before 3.13 it has no PyMutex
// and says so (`available` is False).
//   hold_detached(ms): takes the mutex, holds it `ms` ms with the GIL released (as code
//     that does blocking work under its own lock does), releases it.
//   take_registry_mutex(): takes and releases the mutex (contended while another thread
//     is inside hold_detached).
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <unistd.h>

#if PY_VERSION_HEX >= 0x030D0000
#define HAVE_PYMUTEX 1
static PyMutex registry_mutex;

static PyObject* hold_detached(PyObject* self, PyObject* args) {
  int ms;
  if (!PyArg_ParseTuple(args, "i", &ms)) return NULL;
  PyMutex_Lock(&registry_mutex);
  Py_BEGIN_ALLOW_THREADS
  usleep((useconds_t)ms * 1000);
  Py_END_ALLOW_THREADS
  PyMutex_Unlock(&registry_mutex);
  Py_RETURN_NONE;
}

static __attribute__((noinline)) PyObject* take_registry_mutex(PyObject* self, PyObject* unused) {
  PyMutex_Lock(&registry_mutex);
  PyMutex_Unlock(&registry_mutex);
  Py_RETURN_NONE;
}
#else
#define HAVE_PYMUTEX 0
static PyObject* unavailable(PyObject* self, PyObject* args) {
  PyErr_SetString(PyExc_NotImplementedError, "PyMutex is public from CPython 3.13 on");
  return NULL;
}
#define hold_detached unavailable
#define take_registry_mutex unavailable
#endif

static PyMethodDef methods[] = {
    {"hold_detached", (PyCFunction)hold_detached, METH_VARARGS, "Hold the PyMutex ms milliseconds, detached."},
    {"take_registry_mutex", (PyCFunction)take_registry_mutex, METH_NOARGS, "Take and release the PyMutex."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "pymutex_fixture", NULL, -1, methods};

PyMODINIT_FUNC PyInit_pymutex_fixture(void) {
  PyObject* m = PyModule_Create(&module);
  if (m && PyModule_AddIntConstant(m, "available", HAVE_PYMUTEX) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
