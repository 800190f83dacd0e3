// "GIL released" that does not parallelize (shared/seeds/gil-release-investigation.md:
// 2 threads ran at 0.85x instead of 2x, because work inside allow_threads still needed
// the GIL for every record). work(n) processes n items of pure computation.
//
//   PARALLEL_FIXED=0 -> module `parallel_buggy`: work_per_item_with_gil releases the GIL
//     for the call, then takes it back (PyGILState_Ensure) for every item and does the
//     item's work — and a Python object per item — while holding it: legal, but two
//     threads take turns instead of running side by side.
//   PARALLEL_FIXED=1 -> module `parallel_fixed`: work_without_gil does every item in
//     plain C with the GIL released and builds the one Python result after taking the
//     GIL back, the seed's fix.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

#if !defined(PARALLEL_FIXED) || (PARALLEL_FIXED != 0 && PARALLEL_FIXED != 1)
#error "define PARALLEL_FIXED as 0 (parallel_buggy) or 1 (parallel_fixed)"
#endif

#if PARALLEL_FIXED
#define PARALLEL_NAME "parallel_fixed"
#define PARALLEL_INIT PyInit_parallel_fixed
#else
#define PARALLEL_NAME "parallel_buggy"
#define PARALLEL_INIT PyInit_parallel_buggy
#endif

enum { kRoundsPerItem = 4000 };

// One item: a few thousand rounds of integer mixing (no memory traffic to share).
static uint64_t process_item(uint64_t seed) {
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (int i = 0; i < kRoundsPerItem; ++i) {
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
  }
  return x;
}

#if PARALLEL_FIXED
static uint64_t work_without_gil(Py_ssize_t n) {
  uint64_t total = 0;
  Py_BEGIN_ALLOW_THREADS
  for (Py_ssize_t i = 0; i < n; ++i) total += process_item((uint64_t)i);
  Py_END_ALLOW_THREADS
  return total;
}
#define WORK work_without_gil
#else
static __attribute__((noinline)) uint64_t work_per_item_with_gil(Py_ssize_t n) {
  uint64_t total = 0;
  Py_BEGIN_ALLOW_THREADS
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyGILState_STATE state = PyGILState_Ensure();
    uint64_t value = process_item((uint64_t)i);
    PyObject* boxed = PyLong_FromUnsignedLongLong(value);  // the per-record Python object
    Py_XDECREF(boxed);
    PyGILState_Release(state);
    total += value;
  }
  Py_END_ALLOW_THREADS
  return total;
}
#define WORK work_per_item_with_gil
#endif

static PyObject* parallel_work(PyObject* module, PyObject* args) {
  Py_ssize_t n = 200;
  if (!PyArg_ParseTuple(args, "|n:work", &n)) return NULL;
  if (n < 0) {
    PyErr_SetString(PyExc_ValueError, "work(): n must be >= 0");
    return NULL;
  }
  return PyLong_FromUnsignedLongLong(WORK(n));
}

static PyMethodDef parallel_methods[] = {
    {"work", parallel_work, METH_VARARGS, "work(n=200) -> int: process n items"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef parallel_module = {
    PyModuleDef_HEAD_INIT, PARALLEL_NAME, "Speed-up fixture: work that should run in parallel.", -1,
    parallel_methods,
};

PyMODINIT_FUNC PARALLEL_INIT(void) { return PyModule_Create(&parallel_module); }
