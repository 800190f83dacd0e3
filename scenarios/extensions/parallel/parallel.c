// "GIL released" that does not parallelize (shared/seeds/gil-release-investigation.md:
// 2 threads ran at 0.85x instead of 2x, because work inside allow_threads still needed
// the GIL for every record). work(n) processes n items of pure computation.
//
//   PARALLEL_VARIANT=0 -> module `parallel_buggy`: work_per_item_with_gil releases the GIL
//     for the call, then takes it back (PyGILState_Ensure) for every item and does the
//     item's work — and a Python object per item — while holding it: legal, but two
//     threads take turns instead of running side by side.
//   PARALLEL_VARIANT=1 -> module `parallel_fixed`: work_without_gil does every item in
//     plain C with the GIL released and builds the one Python result after taking the
//     GIL back, the seed's fix.
//   PARALLEL_VARIANT=2 -> module `parallel_held`: work_holding_gil never releases the GIL
//     (the state before the investigation): the GIL profile shows it held for the whole
//     call, and a second thread waiting for it as long.
//
// overlap() tells, without a clock, whether the items of several threads ran side by side:
// the most threads that were inside an item's work at once since the last call. Only the
// fixed variant can make it 2: the others do every item holding the GIL.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

#if !defined(PARALLEL_VARIANT) || PARALLEL_VARIANT < 0 || PARALLEL_VARIANT > 2
#error "define PARALLEL_VARIANT as 0 (parallel_buggy), 1 (parallel_fixed) or 2 (parallel_held)"
#endif

#if PARALLEL_VARIANT == 1
#define PARALLEL_NAME "parallel_fixed"
#define PARALLEL_INIT PyInit_parallel_fixed
#elif PARALLEL_VARIANT == 2
#define PARALLEL_NAME "parallel_held"
#define PARALLEL_INIT PyInit_parallel_held
#else
#define PARALLEL_NAME "parallel_buggy"
#define PARALLEL_INIT PyInit_parallel_buggy
#endif

enum { kRoundsPerItem = 4000 };

// Threads inside process_item now, and the most there were at once (see overlap()).
static int g_in_item, g_peak_in_item;

// One item: a few thousand rounds of integer mixing (no memory traffic to share).
static uint64_t process_item(uint64_t seed) {
  int inside = __atomic_add_fetch(&g_in_item, 1, __ATOMIC_RELAXED);
  int peak = __atomic_load_n(&g_peak_in_item, __ATOMIC_RELAXED);
  while (inside > peak &&
         !__atomic_compare_exchange_n(&g_peak_in_item, &peak, inside, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (int i = 0; i < kRoundsPerItem; ++i) {
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
  }
  __atomic_sub_fetch(&g_in_item, 1, __ATOMIC_RELAXED);
  return x;
}

#if PARALLEL_VARIANT == 1
static uint64_t work_without_gil(Py_ssize_t n) {
  uint64_t total = 0;
  Py_BEGIN_ALLOW_THREADS
  for (Py_ssize_t i = 0; i < n; ++i) total += process_item((uint64_t)i);
  Py_END_ALLOW_THREADS
  return total;
}
#define WORK work_without_gil
#elif PARALLEL_VARIANT == 2
static __attribute__((noinline)) uint64_t work_holding_gil(Py_ssize_t n) {
  uint64_t total = 0;
  for (Py_ssize_t i = 0; i < n; ++i) total += process_item((uint64_t)i);
  return total;
}
#define WORK work_holding_gil
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

static PyObject* parallel_overlap(PyObject* module, PyObject* unused) {
  (void)module;
  (void)unused;
  return PyLong_FromLong(__atomic_exchange_n(&g_peak_in_item, 0, __ATOMIC_RELAXED));
}

static PyMethodDef parallel_methods[] = {
    {"work", parallel_work, METH_VARARGS, "work(n=200) -> int: process n items"},
    {"overlap", parallel_overlap, METH_NOARGS,
     "overlap() -> int: the most threads inside an item's work at once since the last call"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef parallel_module = {
    PyModuleDef_HEAD_INIT, PARALLEL_NAME, "Speed-up fixture: work that should run in parallel.", -1,
    parallel_methods,
};

PyMODINIT_FUNC PARALLEL_INIT(void) { return PyModule_Create(&parallel_module); }
