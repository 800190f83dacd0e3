// An extension that loads plugins itself: call(path, symbol, release_gil) dlopens the
// library at `path` (dlcapi.c), looks `symbol` up with dlsym and calls it as
// int (*)(void), with the GIL released around the call when release_gil is true.
// Nothing of the plugin goes through the interpreter's dlopen.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>

static PyObject* call(PyObject* self, PyObject* args) {
  (void)self;
  const char* path;
  const char* symbol;
  int release_gil;
  if (!PyArg_ParseTuple(args, "ssp", &path, &symbol, &release_gil)) return NULL;
  void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!handle) return PyErr_Format(PyExc_OSError, "dlopen: %s", dlerror());
  int (*function)(void) = (int (*)(void))dlsym(handle, symbol);
  if (!function) return PyErr_Format(PyExc_OSError, "dlsym: %s", dlerror());
  int result;
  if (release_gil) {
    Py_BEGIN_ALLOW_THREADS
    result = function();
    Py_END_ALLOW_THREADS
  } else {
    result = function();
  }
  return PyLong_FromLong(result);
}

static PyMethodDef methods[] = {
    {"call", call, METH_VARARGS, "call(path, symbol, release_gil) -> int"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "dlplugin", NULL, -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_dlplugin(void) { return PyModule_Create(&module); }
