// block_on with the GIL held (shared/seeds/pyo3-interop-gil-deadlock-guide.md): a
// Runtime with one native worker thread runs submitted tasks; block_on submits one and
// waits for its result. The task is a Python callable, so the worker needs the GIL.
//
//   BLOCKON_FIXED=0 -> module `blockon_buggy`: runtime_block_on_wait waits on the
//     completion condition variable while holding the GIL. The worker waits for the
//     GIL in PyGILState_Ensure: a deadlock, every time. No lock has an owner here (a
//     condition variable names none), so gilwatch reports it as a probable deadlock.
//   BLOCKON_FIXED=1 -> module `blockon_fixed`: the wait runs inside
//     Py_BEGIN_ALLOW_THREADS (PyO3's `py.allow_threads(|| rt.block_on(...))`).
//
// Python API: rt = blockon_*.Runtime(); rt.block_on(callable) -> its result;
// rt.close() (also run by dealloc) stops and joins the worker with the GIL released.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>

#if !defined(BLOCKON_FIXED) || (BLOCKON_FIXED != 0 && BLOCKON_FIXED != 1)
#error "define BLOCKON_FIXED as 0 (blockon_buggy) or 1 (blockon_fixed)"
#endif

#if BLOCKON_FIXED
#define BLOCKON_NAME "blockon_fixed"
#define BLOCKON_INIT PyInit_blockon_fixed
#else
#define BLOCKON_NAME "blockon_buggy"
#define BLOCKON_INIT PyInit_blockon_buggy
#endif

typedef struct {
  PyObject_HEAD
  pthread_t worker;
  int running;
  pthread_mutex_t lock;
  pthread_cond_t changed;  // task posted, task done, or stop
  PyObject* task;          // owned; NULL when none is pending
  PyObject* result;        // owned; set by the worker (NULL + error_set on failure)
  int done;
  int error_set;
  int stop;
} Runtime;

// The worker: takes a task, runs it with the GIL, posts the result.
static __attribute__((noinline)) void run_task_with_gil(Runtime* rt, PyObject* task) {
  PyGILState_STATE state = PyGILState_Ensure();
  PyObject* result = PyObject_CallNoArgs(task);
  if (!result) PyErr_Clear();  // the caller sees None and error_set
  Py_DECREF(task);
  PyGILState_Release(state);
  pthread_mutex_lock(&rt->lock);
  rt->result = result;
  rt->error_set = result == NULL;
  rt->done = 1;
  pthread_cond_broadcast(&rt->changed);
  pthread_mutex_unlock(&rt->lock);
}

static void* runtime_worker_main(void* arg) {
  Runtime* rt = (Runtime*)arg;
  for (;;) {
    pthread_mutex_lock(&rt->lock);
    while (!rt->task && !rt->stop) pthread_cond_wait(&rt->changed, &rt->lock);
    if (rt->stop && !rt->task) {
      pthread_mutex_unlock(&rt->lock);
      return NULL;
    }
    PyObject* task = rt->task;
    rt->task = NULL;
    pthread_mutex_unlock(&rt->lock);
    run_task_with_gil(rt, task);
  }
}

// Waits for the posted task to finish.
static __attribute__((noinline)) void runtime_block_on_wait(Runtime* rt) {
  pthread_mutex_lock(&rt->lock);
  while (!rt->done) pthread_cond_wait(&rt->changed, &rt->lock);
  pthread_mutex_unlock(&rt->lock);
}

static PyObject* runtime_block_on(Runtime* rt, PyObject* callable) {
  if (!PyCallable_Check(callable)) {
    PyErr_SetString(PyExc_TypeError, "block_on() needs a callable");
    return NULL;
  }
  if (!rt->running) {
    PyErr_SetString(PyExc_RuntimeError, "the runtime is closed");
    return NULL;
  }
  Py_INCREF(callable);
  pthread_mutex_lock(&rt->lock);
  rt->task = callable;
  rt->done = 0;
  rt->result = NULL;
  pthread_cond_broadcast(&rt->changed);
  pthread_mutex_unlock(&rt->lock);
#if BLOCKON_FIXED
  Py_BEGIN_ALLOW_THREADS
  runtime_block_on_wait(rt);
  Py_END_ALLOW_THREADS
#else
  runtime_block_on_wait(rt);  // the GIL is held while the worker needs it
#endif
  if (rt->error_set) {
    PyErr_SetString(PyExc_RuntimeError, "the task raised");
    return NULL;
  }
  return rt->result;  // the reference the worker made
}

static void runtime_stop(Runtime* rt) {
  if (!rt->running) return;
  pthread_mutex_lock(&rt->lock);
  rt->stop = 1;
  pthread_cond_broadcast(&rt->changed);
  pthread_mutex_unlock(&rt->lock);
  Py_BEGIN_ALLOW_THREADS
  pthread_join(rt->worker, NULL);
  Py_END_ALLOW_THREADS
  rt->running = 0;
}

static PyObject* runtime_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  static char* keywords[] = {NULL};
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "", keywords)) return NULL;
  Runtime* rt = (Runtime*)type->tp_alloc(type, 0);
  if (!rt) return NULL;
  pthread_mutex_init(&rt->lock, NULL);
  pthread_cond_init(&rt->changed, NULL);
  int rc = pthread_create(&rt->worker, NULL, runtime_worker_main, rt);
  if (rc != 0) {
    Py_DECREF(rt);
    errno = rc;
    return PyErr_SetFromErrno(PyExc_OSError);
  }
  rt->running = 1;
  return (PyObject*)rt;
}

static void runtime_dealloc(Runtime* rt) {
  runtime_stop(rt);
  pthread_cond_destroy(&rt->changed);
  pthread_mutex_destroy(&rt->lock);
  Py_TYPE(rt)->tp_free((PyObject*)rt);
}

static PyObject* runtime_close(Runtime* rt, PyObject* unused) {
  (void)unused;
  runtime_stop(rt);
  Py_RETURN_NONE;
}

static PyMethodDef runtime_methods[] = {
    {"block_on", (PyCFunction)runtime_block_on, METH_O, "Run callable on the worker and wait for its result."},
    {"close", (PyCFunction)runtime_close, METH_NOARGS, "Stop and join the worker."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject RuntimeType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = BLOCKON_NAME ".Runtime",
    .tp_basicsize = sizeof(Runtime),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = runtime_new,
    .tp_dealloc = (destructor)runtime_dealloc,
    .tp_methods = runtime_methods,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, BLOCKON_NAME, NULL, -1, NULL, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC BLOCKON_INIT(void) {
  if (PyType_Ready(&RuntimeType) < 0) return NULL;
  PyObject* m = PyModule_Create(&module);
  if (!m) return NULL;
  Py_INCREF(&RuntimeType);
  if (PyModule_AddObject(m, "Runtime", (PyObject*)&RuntimeType) < 0) {
    Py_DECREF(&RuntimeType);
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
