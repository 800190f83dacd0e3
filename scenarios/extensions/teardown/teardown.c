// Deterministic teardown (shared/seeds/deterministic-teardown-pr.md): a Pool owns a
// native worker thread that calls back into Python; tearing the pool down joins it. The
// PR's protocol: "Every join goes through join_without_gil".
//
// The worker (pool_worker_main) loops: one round with the GIL (worker_round_with_gil:
// PyGILState_Ensure, a little Python work, PyGILState_Release), THEN a look at the
// stop flag, then usleep(1 ms). So once the flag is set, its next step is almost
// always PyGILState_Ensure (the only way out is to load the flag in the few
// instructions between PyGILState_Release and the check, while the joiner, which needs
// the GIL the worker just dropped, runs the bytecode that reaches tp_dealloc).
//
//   TEARDOWN_FIXED=0 -> module `teardown_buggy`: pool_dealloc_join_worker sets the stop
//     flag and joins the worker while holding the GIL. The worker waits for that GIL in
//     PyGILState_Ensure, the joiner waits for the worker in pthread_join: a real
//     deadlock that hangs the process for ever.
//   TEARDOWN_FIXED=1 -> module `teardown_fixed`: the join runs inside
//     Py_BEGIN_ALLOW_THREADS, the seed's fix; the worker gets the GIL, finishes its
//     round, sees the flag, ends.
//
// Python API: teardown_*.Pool() starts the worker; pool.close() stops and joins it
// (tp_dealloc does the same; both idempotent); pool.ticks counts the worker's rounds.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#if !defined(TEARDOWN_FIXED) || (TEARDOWN_FIXED != 0 && TEARDOWN_FIXED != 1)
#error "define TEARDOWN_FIXED as 0 (teardown_buggy) or 1 (teardown_fixed)"
#endif

#if TEARDOWN_FIXED
#define TEARDOWN_NAME "teardown_fixed"
#define TEARDOWN_INIT PyInit_teardown_fixed
#else
#define TEARDOWN_NAME "teardown_buggy"
#define TEARDOWN_INIT PyInit_teardown_buggy
#endif

typedef struct {
  PyObject_HEAD
  pthread_t worker;
  int running;
  atomic_int stop;
  atomic_long ticks;
} Pool;

// One round of Python work with the GIL, then (only then) a look at the stop flag.
static __attribute__((noinline)) int worker_round_with_gil(Pool* pool) {
  PyGILState_STATE state = PyGILState_Ensure();
  PyObject* value = PyLong_FromLong(atomic_fetch_add(&pool->ticks, 1));
  Py_XDECREF(value);
  PyGILState_Release(state);
  return atomic_load(&pool->stop);
}

static void* pool_worker_main(void* arg) {
  Pool* pool = (Pool*)arg;
  while (!worker_round_with_gil(pool)) usleep(1000);
  return NULL;
}

static __attribute__((noinline)) void pool_dealloc_join_worker(Pool* pool) {
  if (!pool->running) return;
  atomic_store(&pool->stop, 1);
#if TEARDOWN_FIXED
  Py_BEGIN_ALLOW_THREADS
  pthread_join(pool->worker, NULL);
  Py_END_ALLOW_THREADS
#else
  pthread_join(pool->worker, NULL);  // the GIL is held here
#endif
  pool->running = 0;
}

static PyObject* pool_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  static char* keywords[] = {NULL};
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "", keywords)) return NULL;
  Pool* pool = (Pool*)type->tp_alloc(type, 0);
  if (!pool) return NULL;
  atomic_init(&pool->stop, 0);
  atomic_init(&pool->ticks, 0);
  int rc = pthread_create(&pool->worker, NULL, pool_worker_main, pool);
  if (rc != 0) {
    Py_DECREF(pool);
    errno = rc;
    return PyErr_SetFromErrno(PyExc_OSError);
  }
  pool->running = 1;
  return (PyObject*)pool;
}

static void pool_dealloc(Pool* pool) {
  pool_dealloc_join_worker(pool);
  Py_TYPE(pool)->tp_free((PyObject*)pool);
}

static PyObject* pool_close(Pool* pool, PyObject* unused) {
  (void)unused;
  pool_dealloc_join_worker(pool);
  Py_RETURN_NONE;
}

static PyObject* pool_ticks(Pool* pool, void* unused) {
  (void)unused;
  return PyLong_FromLong(atomic_load(&pool->ticks));
}

static PyMethodDef pool_methods[] = {
    {"close", (PyCFunction)pool_close, METH_NOARGS, "Stop and join the worker."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef pool_getset[] = {
    {"ticks", (getter)pool_ticks, NULL, "Rounds the worker has run.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject PoolType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = TEARDOWN_NAME ".Pool",
    .tp_basicsize = sizeof(Pool),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = pool_new,
    .tp_dealloc = (destructor)pool_dealloc,
    .tp_methods = pool_methods,
    .tp_getset = pool_getset,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, TEARDOWN_NAME, NULL, -1, NULL, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC TEARDOWN_INIT(void) {
  if (PyType_Ready(&PoolType) < 0) return NULL;
  PyObject* m = PyModule_Create(&module);
  if (!m) return NULL;
  Py_INCREF(&PoolType);
  if (PyModule_AddObject(m, "Pool", (PyObject*)&PoolType) < 0) {
    Py_DECREF(&PoolType);
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
