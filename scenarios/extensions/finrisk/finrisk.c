// The finalization risk: a native thread that attaches to the interpreter and is still
// running, never joined, when the interpreter finalizes (docs/findings.md,
// finalization-attach, detail "risk"). Whether such a thread actually attaches during
// finalization — and is ended or crashes the process — depends on where it is in its
// round when finalization comes; the risk is there every run.
//
// start_worker() starts a pthread that, round after round, calls PyGILState_Ensure,
// makes a small Python object, calls PyGILState_Release and sleeps 20 ms, until
// stop_worker() stops and joins it (with the GIL released). Left running (drive.py
// buggy) it is the risk; stopped from an atexit handler (drive.py fixed) it is gone
// before the interpreter finalizes.
//
// attach_once(): a thread that attaches once, then ends; joined before it returns.
// start_one_shot(): a detached thread that attaches once (hands a result back) and then
// lingers 300 ms on its way out, so it is still running when the interpreter finalizes
// and exits: a one-shot thread past its attach, no risk.
// start_idle_worker(): a thread that never attaches (it sleeps until the process ends):
// it cannot attach during finalization through the C API.
//
// Python API: finrisk.start_worker(), finrisk.stop_worker() (both idempotent),
// finrisk.rounds() -> rounds the worker made, finrisk.attach_once(),
// finrisk.start_one_shot(), finrisk.start_idle_worker().
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

static pthread_t worker;
static int worker_running;  // changes with the GIL held
static atomic_int stop_requested;
static atomic_long rounds;

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static __attribute__((noinline)) void attach_and_count(void) {
  PyGILState_STATE state = PyGILState_Ensure();
  PyObject* value = PyLong_FromLong(atomic_fetch_add(&rounds, 1));
  Py_XDECREF(value);
  PyGILState_Release(state);
}

static void* attaching_worker_main(void* unused) {
  (void)unused;
  while (!atomic_load(&stop_requested)) {
    attach_and_count();
    sleep_ms(20);
  }
  return NULL;
}

static PyObject* finrisk_start_worker(PyObject* module, PyObject* unused) {
  (void)module;
  (void)unused;
  if (worker_running) Py_RETURN_NONE;
  atomic_store(&stop_requested, 0);
  int rc = pthread_create(&worker, NULL, attaching_worker_main, NULL);
  if (rc != 0) {
    errno = rc;
    return PyErr_SetFromErrno(PyExc_OSError);
  }
  worker_running = 1;
  Py_RETURN_NONE;
}

static PyObject* finrisk_stop_worker(PyObject* module, PyObject* unused) {
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

static PyObject* finrisk_rounds(PyObject* module, PyObject* unused) {
  (void)module;
  (void)unused;
  return PyLong_FromLong(atomic_load(&rounds));
}

static void* attach_once_main(void* unused) {
  (void)unused;
  attach_and_count();
  return NULL;
}

static PyObject* finrisk_attach_once(PyObject* module, PyObject* unused) {
  (void)module;
  (void)unused;
  pthread_t once;
  int rc = pthread_create(&once, NULL, attach_once_main, NULL);
  if (rc != 0) {
    errno = rc;
    return PyErr_SetFromErrno(PyExc_OSError);
  }
  Py_BEGIN_ALLOW_THREADS
  pthread_join(once, NULL);
  Py_END_ALLOW_THREADS
  Py_RETURN_NONE;
}

static void* one_shot_main(void* unused) {
  (void)unused;
  attach_and_count();
  sleep_ms(300);
  return NULL;
}

static PyObject* finrisk_start_one_shot(PyObject* module, PyObject* unused) {
  (void)module;
  (void)unused;
  pthread_t one_shot;
  int rc = pthread_create(&one_shot, NULL, one_shot_main, NULL);
  if (rc != 0) {
    errno = rc;
    return PyErr_SetFromErrno(PyExc_OSError);
  }
  pthread_detach(one_shot);
  Py_RETURN_NONE;
}

static void* idle_worker_main(void* unused) {
  (void)unused;
  for (;;) sleep_ms(1000);
  return NULL;
}

static PyObject* finrisk_start_idle_worker(PyObject* module, PyObject* unused) {
  (void)module;
  (void)unused;
  pthread_t idle;
  int rc = pthread_create(&idle, NULL, idle_worker_main, NULL);
  if (rc != 0) {
    errno = rc;
    return PyErr_SetFromErrno(PyExc_OSError);
  }
  pthread_detach(idle);
  Py_RETURN_NONE;
}

static PyMethodDef finrisk_methods[] = {
    {"start_worker", finrisk_start_worker, METH_NOARGS, "Start the attaching worker."},
    {"stop_worker", finrisk_stop_worker, METH_NOARGS, "Stop and join the attaching worker."},
    {"rounds", finrisk_rounds, METH_NOARGS, "Rounds the worker made."},
    {"attach_once", finrisk_attach_once, METH_NOARGS, "A thread that attaches once and ends, joined."},
    {"start_one_shot", finrisk_start_one_shot, METH_NOARGS, "A detached thread that attaches once, then lingers."},
    {"start_idle_worker", finrisk_start_idle_worker, METH_NOARGS, "A thread that never attaches."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef finrisk_module = {PyModuleDef_HEAD_INIT, "finrisk", NULL, -1, finrisk_methods};

PyMODINIT_FUNC PyInit_finrisk(void) { return PyModule_Create(&finrisk_module); }
