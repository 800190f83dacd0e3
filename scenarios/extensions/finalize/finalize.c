// A native thread that keeps attaching to the interpreter while it shuts down
// (shared/seeds/deterministic-teardown-pr.md): start_worker() starts a pthread that, in a
// loop, takes its own state lock, calls PyGILState_Ensure, does a little Python work,
// and lets both go, round after round. When the script ends without stopping it, the interpreter finalizes
// while the worker keeps asking for the GIL: CPython 3.11-3.13 ends the thread inside
// PyGILState_Ensure (with pthread_exit), abandoning the state lock it holds.
//
// One module, `finalize`; the two variants differ only in drive.py: `buggy` returns
// without stopping the worker, `fixed` registers stop_worker() with atexit, which stops
// and joins it (with the GIL released) before finalization.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

static pthread_t worker;
static int worker_running;
static atomic_int stop_requested;
static atomic_long rounds;
static pthread_mutex_t worker_state_lock = PTHREAD_MUTEX_INITIALIZER;

static __attribute__((noinline)) void attach_and_report_progress(void) {
  PyGILState_STATE state = PyGILState_Ensure();
  PyObject* value = PyLong_FromLong(atomic_fetch_add(&rounds, 1));
  Py_XDECREF(value);
  PyGILState_Release(state);
}

static void* progress_worker_main(void* unused) {
  (void)unused;
  while (!atomic_load(&stop_requested)) {
    pthread_mutex_lock(&worker_state_lock);
    attach_and_report_progress();
    pthread_mutex_unlock(&worker_state_lock);
    // No pause: the worker is always about to ask for the GIL again, so finalization
    // never slips by between two of its rounds.
    sched_yield();
  }
  return NULL;
}

static PyObject* finalize_start_worker(PyObject* module, PyObject* unused) {
  (void)module;
  (void)unused;
  if (worker_running) Py_RETURN_NONE;
  atomic_store(&stop_requested, 0);
  int rc = pthread_create(&worker, NULL, progress_worker_main, NULL);
  if (rc != 0) {
    errno = rc;
    return PyErr_SetFromErrno(PyExc_OSError);
  }
  worker_running = 1;
  Py_RETURN_NONE;
}

static PyObject* finalize_stop_worker(PyObject* module, PyObject* unused) {
  (void)module;
  (void)unused;
  if (!worker_running) Py_RETURN_NONE;
  atomic_store(&stop_requested, 1);
  Py_BEGIN_ALLOW_THREADS
  pthread_join(worker, NULL);
  Py_END_ALLOW_THREADS
  worker_running = 0;
  Py_RETURN_NONE;
}

static PyObject* finalize_rounds(PyObject* module, PyObject* unused) {
  (void)module;
  (void)unused;
  return PyLong_FromLong(atomic_load(&rounds));
}

static PyMethodDef methods[] = {
    {"start_worker", finalize_start_worker, METH_NOARGS, "Start the attaching worker."},
    {"stop_worker", finalize_stop_worker, METH_NOARGS, "Stop and join it (GIL released)."},
    {"rounds", finalize_rounds, METH_NOARGS, "Rounds the worker has made."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "finalize", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_finalize(void) { return PyModule_Create(&module); }
