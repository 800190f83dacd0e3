// GIL "released" around work that still touches the C API
// (shared/seeds/gil-release-investigation.md): parse_records copies its records to C
// memory, releases the GIL (Py_BEGIN_ALLOW_THREADS) and parses them in parse_all; a
// record without '=' is a parse error.
//
//   CAPI_FIXED=0 -> module `capi_buggy`: parse_error_without_gil builds the Python
//     exception right where the error is found, inside the GIL-released section (the
//     seed's `PyErr::new` inside the `allow_threads()` closure), then parsing stops and
//     parse_records returns NULL after Py_END_ALLOW_THREADS. Without the GIL there is no
//     current thread state: on CPython 3.9-3.13 PyErr_Format dereferences a NULL
//     tstate and the process dies with SIGSEGV (that crash is the bug showing; gilwatch
//     reports capi-without-gil before the call runs).
//   CAPI_FIXED=1 -> module `capi_fixed`: the released section only fills a C ParseError
//     (code and record index); it becomes a ValueError after Py_END_ALLOW_THREADS (the
//     seed's fix: a ParseError enum converted to PyErr once the GIL is back).
//
// Both variants build the result list only after the GIL is back. Without a malformed
// record the buggy module makes no C API call without the GIL and works.
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

// A parse failure as plain C data: safe to produce without the GIL.
typedef enum { PARSE_OK = 0, PARSE_MISSING_SEPARATOR } ParseErrorCode;

typedef struct {
  ParseErrorCode code;
  Py_ssize_t index;  // the failing record when code != PARSE_OK
} ParseError;

#if !CAPI_FIXED
static __attribute__((noinline)) void parse_error_without_gil(Py_ssize_t index) {
  PyErr_Format(PyExc_ValueError, "record %zd: missing '='", index);  // no GIL here
}
#endif

// Runs without the GIL. Stops at the first malformed record and describes it in *error.
static __attribute__((noinline)) void parse_all(Record* records, Py_ssize_t count, ParseError* error) {
  error->code = PARSE_OK;
  error->index = -1;
  for (Py_ssize_t i = 0; i < count; ++i) {
    char* eq = memchr(records[i].data, '=', (size_t)records[i].length);
    if (!eq) {
#if !CAPI_FIXED
      parse_error_without_gil(i);  // the bug: a Python exception built right here
#endif
      error->code = PARSE_MISSING_SEPARATOR;
      error->index = i;
      return;
    }
    records[i].split = eq - records[i].data;
  }
}

#if CAPI_FIXED
// Runs with the GIL, after Py_END_ALLOW_THREADS: the fix's error conversion.
static __attribute__((noinline)) void raise_parse_error(const ParseError* error) {
  PyErr_Format(PyExc_ValueError, "record %zd: missing '='", error->index);
}
#endif

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
  ParseError error;
  Py_BEGIN_ALLOW_THREADS
  parse_all(records, count, &error);
  Py_END_ALLOW_THREADS
  if (error.code != PARSE_OK) {
#if CAPI_FIXED
    raise_parse_error(&error);  // the GIL is back
#endif
    // Buggy: the exception was (supposedly) set inside the released section.
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
