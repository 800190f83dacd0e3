// GIL "released" around work that still touches the C API
// (shared/seeds/gil-release-investigation.md): parse_records copies its records to C
// memory, releases the GIL and parses them; a record without '=' is an error.
//
//   CAPI_FIXED=0 -> module `capi_buggy`: parse_error_without_gil builds the Python
//     exception right where the error is found, inside the GIL-released section
//     (the seed's `PyErr::new` inside `allow_threads`). On CPython this call usually
//     crashes the process (there is no thread state to store the error in); gilwatch
//     reports capi-without-gil before the call runs.
//   CAPI_FIXED=1 -> module `capi_fixed`: the released section records the failing
//     index only; the ValueError is raised after Py_END_ALLOW_THREADS (the seed's fix:
//     a ParseError enum converted once the GIL is back).
//
// Python API: parse_records(list of bytes) -> list of (key, value) bytes tuples;
// ValueError("record N: missing '='") for a malformed record.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>
#include <string.h>

#if !defined(CAPI_FIXED) || (CAPI_FIXED != 0 && CAPI_FIXED != 1)
#error "define CAPI_FIXED as 0 (capi_buggy) or 1 (capi_fixed)"
#endif

#if CAPI_FIXED
#define CAPI_NAME "capi_fixed"
#else
#define CAPI_NAME "capi_buggy"
#endif

typedef struct {
  char* data;
  Py_ssize_t length;
  Py_ssize_t split;  // index of '=' once parsed
} Record;

#if !CAPI_FIXED
static __attribute__((noinline)) void parse_error_without_gil(Py_ssize_t index) {
  PyErr_Format(PyExc_ValueError, "record %zd: missing '='", index);  // no GIL here
}
#endif

// Runs without the GIL. Returns the index of the first malformed record, or -1.
static __attribute__((noinline)) Py_ssize_t parse_all(Record* records, Py_ssize_t count) {
  for (Py_ssize_t i = 0; i < count; ++i) {
    char* eq = memchr(records[i].data, '=', (size_t)records[i].length);
    if (!eq) {
#if !CAPI_FIXED
      parse_error_without_gil(i);
#endif
      return i;
    }
    records[i].split = eq - records[i].data;
  }
  return -1;
}

static void free_records(Record* records, Py_ssize_t count) {
  for (Py_ssize_t i = 0; i < count; ++i) free(records[i].data);
  free(records);
}

static PyObject* capi_parse_records(PyObject* module, PyObject* list) {
  (void)module;
  if (!PyList_Check(list)) {
    PyErr_SetString(PyExc_TypeError, "parse_records() needs a list of bytes");
    return NULL;
  }
  Py_ssize_t count = PyList_GET_SIZE(list);
  Record* records = calloc((size_t)(count ? count : 1), sizeof(Record));
  if (!records) return PyErr_NoMemory();
  for (Py_ssize_t i = 0; i < count; ++i) {
    PyObject* item = PyList_GET_ITEM(list, i);
    char* data;
    Py_ssize_t length;
    if (PyBytes_AsStringAndSize(item, &data, &length) < 0) {
      free_records(records, i);
      return NULL;
    }
    records[i].data = malloc((size_t)(length ? length : 1));
    if (!records[i].data) {
      free_records(records, i);
      return PyErr_NoMemory();
    }
    memcpy(records[i].data, data, (size_t)length);
    records[i].length = length;
  }
  Py_ssize_t bad;
  Py_BEGIN_ALLOW_THREADS
  bad = parse_all(records, count);
  Py_END_ALLOW_THREADS
  if (bad >= 0) {
#if CAPI_FIXED
    PyErr_Format(PyExc_ValueError, "record %zd: missing '='", bad);  // the GIL is back
#endif
    free_records(records, count);
    return NULL;
  }
  PyObject* result = PyList_New(count);
  for (Py_ssize_t i = 0; result && i < count; ++i) {
    PyObject* pair = Py_BuildValue("(y#y#)", records[i].data, records[i].split, records[i].data + records[i].split + 1,
                                   records[i].length - records[i].split - 1);
    if (!pair) {
      Py_CLEAR(result);
      break;
    }
    PyList_SET_ITEM(result, i, pair);
  }
  free_records(records, count);
  return result;
}

static PyMethodDef methods[] = {
    {"parse_records", capi_parse_records, METH_O, "Parse key=value records with the GIL released."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, CAPI_NAME, NULL, -1, methods, NULL, NULL, NULL, NULL};

#if CAPI_FIXED
PyMODINIT_FUNC PyInit_capi_fixed(void) { return PyModule_Create(&module); }
#else
PyMODINIT_FUNC PyInit_capi_buggy(void) { return PyModule_Create(&module); }
#endif
