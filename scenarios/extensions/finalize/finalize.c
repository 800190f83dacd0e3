// A native thread that keeps attaching to the interpreter while it shuts down
// (shared/seeds/deterministic-teardown-pr.md: "native threads that attach during
// interpreter finalization and abort the process"; the PR's fix is an atexit hook that
// stops them while the interpreter is still alive).
//
// start_worker() starts a pthread that, round after round, takes its own state lock
// (`worker_state_lock`), calls PyGILState_Ensure, does a little Python work, lets both
// go and sleeps 50 us, until stop_worker() sets the stop flag; stop_worker() then joins
// it with the GIL released.
//
// When the script ends without stopping it, the interpreter finalizes while the worker
// keeps asking for the GIL. CPython 3.9-3.13 end such a thread inside
// PyGILState_Ensure (take_gil calls PyThread_exit_thread, i.e. pthread_exit, once the
// runtime is finalizing), which abandons `worker_state_lock`; a thread that gets there
// after finalization can also crash the process (rarely seen here: SIGSEGV).
//
// One module, `finalize`: the C code is the same for both variants, the difference is
// only in drive.py. `buggy` returns from the script without stopping the worker;
// `fixed` registers finalize.stop_worker with atexit right after starting it, so the
// worker is stopped and joined at the very start of Py_FinalizeEx, before native threads
// are forbidden to attach.
//
// stop_worker() also closes the module: a start_worker() after it starts nothing. The fix
// needs that once Python daemon threads keep calling start_worker() while the interpreter
// exits (the stress suite's daemon-threads way): an atexit stop followed by a daemon
// thread's restart would put a worker into finalization again.
//
// Left to its 50 us sleeps, the worker shows the bug only when it happens to ask for the
// GIL while the interpreter finalizes. On a loaded machine it often does not: it is
// asleep or waiting for a CPU through the few milliseconds finalization and exit take,
// and such a run never attaches during finalization at all (about one run in four with
// the other core busy). drive.py buggy therefore registers park_worker_in_gil_request()
// as the first atexit handler to run, after the threading module's shutdown (which may
// release the GIL) and just before the interpreter marks itself finalizing: keeping the
// GIL (it never releases it while it waits), it has the worker go round
// without sleeping and returns once the worker is blocked inside PyGILState_Ensure
// (flagged just before the call, and asleep in /proc for 20 ms in the same round). The
// script has also raised the switch interval, so the waiting worker never asks for the
// GIL to be handed over before finalization begins: the interpreter finalizes with the worker's
// request pending, every run.
//
// Python API: finalize.start_worker(), finalize.stop_worker() (both idempotent),
// finalize.park_worker_in_gil_request() -> True once the worker waits for the GIL (False
// if no worker runs, or it did not within 5 s), finalize.rounds() -> how many rounds the
// worker has made,
// finalize.lock_worker_state_at_exit(): registers (Py_AtExit) a callback that takes
// `worker_state_lock` at the very end of Py_FinalizeEx, the GIL long gone — as a
// library's own shutdown code would;
// finalize.park_worker_in_finalization(): the same callback, and a worker that takes
// `worker_state_lock` and asks for the GIL (PyGILState_Ensure) while the calling thread
// holds it on its way out (call it from an atexit handler, with a switch interval long
// enough that the GIL is not handed over before finalization begins). The worker's
// request then never returns: finalization ends it (3.9-3.13: the lock's owner is gone)
// or, from 3.14, parks it forever (PyThread_hang_thread), holding the lock; the Py_AtExit
// callback then waits for the lock forever and the process hangs at exit.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static pthread_t worker;
static int worker_running;
static int closed;  // stop_worker() was called: no new worker (both flags change with the GIL held)
static atomic_int stop_requested;
static atomic_long rounds;
static atomic_int park_requested;  // go round without sleeping
static atomic_int asking;          // set just before PyGILState_Ensure, cleared once it returns
static atomic_long worker_tid;
static pthread_mutex_t worker_state_lock = PTHREAD_MUTEX_INITIALIZER;

static __attribute__((noinline)) void attach_and_report_progress(void) {
  atomic_store(&asking, 1);
  PyGILState_STATE state = PyGILState_Ensure();
  atomic_store(&asking, 0);
  PyObject* value = PyLong_FromLong(atomic_fetch_add(&rounds, 1));
  Py_XDECREF(value);
  PyGILState_Release(state);
}

static void* progress_worker_main(void* unused) {
  (void)unused;
  atomic_store(&worker_tid, (long)syscall(SYS_gettid));
  while (!atomic_load(&stop_requested)) {
    pthread_mutex_lock(&worker_state_lock);
    attach_and_report_progress();
    pthread_mutex_unlock(&worker_state_lock);
    if (!atomic_load(&park_requested)) usleep(50);
  }
  return NULL;
}

// The scheduler state letter of thread `tid` of this process ('S': asleep in a wait).
// open/read rather than stdio: no malloc, whose lock the worker may need in its request.
static char thread_state(long tid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return '?';
  char buffer[512];
  ssize_t n = read(fd, buffer, sizeof(buffer) - 1);
  close(fd);
  if (n <= 0) return '?';
  buffer[n] = '\0';
  const char* close_paren = strrchr(buffer, ')');  // the name may hold spaces and parentheses
  return close_paren && close_paren[1] == ' ' ? close_paren[2] : '?';
}

static double seconds_since(const struct timespec* start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static PyObject* finalize_start_worker(PyObject* module, PyObject* unused) {
  (void)module;
  (void)unused;
  if (worker_running || closed) Py_RETURN_NONE;
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
  closed = 1;
  if (!worker_running) Py_RETURN_NONE;
  atomic_store(&stop_requested, 1);
  Py_BEGIN_ALLOW_THREADS
  pthread_join(worker, NULL);
  Py_END_ALLOW_THREADS
  worker_running = 0;
  Py_RETURN_NONE;
}

// Keeps the GIL (a plain C loop) until the worker is blocked in its request for it.
// Yields rather than sleeps: a sleep with the GIL held is what gil-held-blocking reports.
static PyObject* finalize_park_worker_in_gil_request(PyObject* module, PyObject* unused) {
  (void)module;
  (void)unused;
  if (!worker_running) Py_RETURN_FALSE;
  atomic_store(&park_requested, 1);
  // Asleep in the same request for 20 ms on end: the wait for the GIL, not a moment's
  // wait for some other lock on the way to it.
  struct timespec start, asleep_since;
  clock_gettime(CLOCK_MONOTONIC, &start);
  long asleep_in_round = -1;
  while (seconds_since(&start) < 5) {
    long tid = atomic_load(&worker_tid);
    long round = atomic_load(&rounds);
    if (tid && atomic_load(&asking) && thread_state(tid) == 'S') {
      if (asleep_in_round != round) {
        asleep_in_round = round;
        clock_gettime(CLOCK_MONOTONIC, &asleep_since);
      } else if (seconds_since(&asleep_since) >= 0.02) {
        Py_RETURN_TRUE;
      }
    } else {
      asleep_in_round = -1;
    }
    sched_yield();
  }
  Py_RETURN_FALSE;
}

static PyObject* finalize_rounds(PyObject* module, PyObject* unused) {
  (void)module;
  (void)unused;
  return PyLong_FromLong(atomic_load(&rounds));
}

static void lock_worker_state(void) {
  pthread_mutex_lock(&worker_state_lock);
  pthread_mutex_unlock(&worker_state_lock);
}

static atomic_int parking_worker_locked;

static void* parking_worker_main(void* unused) {
  (void)unused;
  pthread_mutex_lock(&worker_state_lock);
  atomic_store(&parking_worker_locked, 1);
  attach_and_report_progress();  // the GIL is held by the exiting main thread
  pthread_mutex_unlock(&worker_state_lock);
  return NULL;
}

static PyObject* finalize_park_worker_in_finalization(PyObject* module, PyObject* unused) {
  (void)module;
  (void)unused;
  if (Py_AtExit(lock_worker_state) != 0) {
    PyErr_SetString(PyExc_RuntimeError, "Py_AtExit: no room for another callback");
    return NULL;
  }
  pthread_t parking;
  int rc = pthread_create(&parking, NULL, parking_worker_main, NULL);
  if (rc != 0) {
    errno = rc;
    return PyErr_SetFromErrno(PyExc_OSError);
  }
  pthread_detach(parking);
  // Holding the GIL (a busy wait, not a blocking call): until the worker holds the lock,
  // then 20 ms more for it to be inside its request for the GIL.
  while (!atomic_load(&parking_worker_locked)) {
  }
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do {
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 20000000L);
  Py_RETURN_NONE;
}

static PyObject* finalize_lock_worker_state_at_exit(PyObject* module, PyObject* unused) {
  (void)module;
  (void)unused;
  if (Py_AtExit(lock_worker_state) != 0) {
    PyErr_SetString(PyExc_RuntimeError, "Py_AtExit: no room for another callback");
    return NULL;
  }
  Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"start_worker", finalize_start_worker, METH_NOARGS, "Start the attaching worker."},
    {"stop_worker", finalize_stop_worker, METH_NOARGS, "Stop and join it (GIL released)."},
    {"park_worker_in_gil_request", finalize_park_worker_in_gil_request, METH_NOARGS,
     "Return once the worker waits for the GIL, which the caller keeps."},
    {"rounds", finalize_rounds, METH_NOARGS, "Rounds the worker has made."},
    {"lock_worker_state_at_exit", finalize_lock_worker_state_at_exit, METH_NOARGS,
     "Take the worker's state lock at the end of Py_FinalizeEx (Py_AtExit)."},
    {"park_worker_in_finalization", finalize_park_worker_in_finalization, METH_NOARGS,
     "Start a worker that holds the state lock and asks for the GIL held by this thread; "
     "take the lock at the end of Py_FinalizeEx."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "finalize", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_finalize(void) { return PyModule_Create(&module); }
