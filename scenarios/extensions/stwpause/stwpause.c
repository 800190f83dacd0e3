// Stop-the-world pauses against native locks (docs/design.md, "Free-threaded builds").
//
// On a free-threaded build, a thread that blocks on a native lock while attached to the
// interpreter stalls every stop-the-world pause (garbage collection, fork, some sys
// calls); and a thread that must attach waits while a pause is under way. Each variant
// here is a deadlock on both kinds of build: thread T (native, started by the module)
// holds mutex M and then asks for the interpreter; the calling Python thread blocks on M.
//
//   run("gc"): T holds M, attaches (PyGILState_Ensure) and collects (PyGC_Collect);
//     the caller, attached, locks M.
//     GIL build: T waits for the GIL, the caller holds it and waits for M.
//     Free-threaded build: T attaches; its collection stops the world and waits for the
//     caller to park, which is blocked on M while attached.
//   run("traverse"): T holds M and asks for the interpreter; the caller runs gc.collect(),
//     and the tp_traverse of a Guarded object locks M.
//     GIL build: as above (the collection runs with the GIL held).
//     Free-threaded build: the caller stops the world, then waits for M inside the pause;
//     T waits to attach until the pause ends.
//   run("atfork"): T holds M and asks for the interpreter; the caller calls os.fork(),
//     and the module's pthread_atfork prepare handler locks M (the parent and child
//     handlers unlock it; the child leaves at once with _exit(0)).
//     GIL build: the fork runs with the GIL held, as above.
//     Free-threaded build: os.fork() stops the world before fork(), so as "traverse".
//
//   STWPAUSE_FIXED=0 -> module `stwpause_buggy`: as above.
//   STWPAUSE_FIXED=1 -> module `stwpause_fixed`: "gc" locks M inside
//     Py_BEGIN_ALLOW_THREADS (detached: a pause does not wait for it); "traverse" only
//     tries M (a traversal must never block) and visits nothing when it is busy;
//     "atfork": T lets go of M before it asks for the interpreter (a handler that runs
//     inside a pause cannot detach, so the lock it needs must never be held by a thread
//     that waits to attach).
//
// T makes its thread state first (PyGILState_Ensure, then PyEval_SaveThread), so that
// asking for the interpreter again is PyEval_RestoreThread, which waits for the GIL and
// nothing else (creating a thread state takes the runtime's own lock, which os.fork()
// may hold across fork()). It sets `holding` once it holds M and waits for `go` before asking, and the
// caller sets `go` only after it has the GIL again: the interleaving is forced, not a
// race.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#if !defined(STWPAUSE_FIXED) || (STWPAUSE_FIXED != 0 && STWPAUSE_FIXED != 1)
#error "define STWPAUSE_FIXED as 0 (stwpause_buggy) or 1 (stwpause_fixed)"
#endif

#if STWPAUSE_FIXED
#define STWPAUSE_NAME "stwpause_fixed"
#else
#define STWPAUSE_NAME "stwpause_buggy"
#endif

static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;  // M
static int holding;
static int go;
static int release_before_attach;  // the fixed "atfork"

// T: holds M, then asks for the interpreter and collects.
static __attribute__((noinline)) void* collect_holding_lock(void* unused) {
  (void)unused;
  PyGILState_STATE state = PyGILState_Ensure();
  PyThreadState* tstate = PyEval_SaveThread();
  pthread_mutex_lock(&guard_lock);
  __atomic_store_n(&holding, 1, __ATOMIC_RELEASE);
  while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE)) sched_yield();
  if (release_before_attach) pthread_mutex_unlock(&guard_lock);
  PyEval_RestoreThread(tstate);
  PyGC_Collect();
  PyGILState_Release(state);
  if (!release_before_attach) pthread_mutex_unlock(&guard_lock);
  return NULL;
}

// The fork handlers: M is held across fork() while `fork_armed` (only this module's own
// os.fork() call; other forks of the process are left alone).
static int fork_armed;
static int fork_handlers_installed;

static __attribute__((noinline)) void lock_guard_before_fork(void) {
  if (__atomic_load_n(&fork_armed, __ATOMIC_ACQUIRE)) pthread_mutex_lock(&guard_lock);
  __asm__ volatile("" ::: "memory");  // no tail call: this frame is what reports show
}

static void unlock_guard_after_fork(void) {
  if (__atomic_load_n(&fork_armed, __ATOMIC_ACQUIRE)) pthread_mutex_unlock(&guard_lock);
}

// os.fork() with the handlers armed; the child leaves at once.
static PyObject* fork_with_handlers(void) {
  PyObject* os = PyImport_ImportModule("os");
  if (!os) return NULL;
  __atomic_store_n(&fork_armed, 1, __ATOMIC_RELEASE);
  PyObject* pid = PyObject_CallMethod(os, "fork", NULL);
  __atomic_store_n(&fork_armed, 0, __ATOMIC_RELEASE);
  Py_DECREF(os);
  if (!pid) return NULL;
  long child = PyLong_AsLong(pid);
  Py_DECREF(pid);
  if (child == 0) _exit(0);
  int status;
  Py_BEGIN_ALLOW_THREADS
  waitpid((pid_t)child, &status, 0);
  Py_END_ALLOW_THREADS
  Py_RETURN_NONE;
}

// The caller's side of "gc": lock M while attached (buggy) or detached (fixed).
static __attribute__((noinline)) void lock_guard_attached(void) {
#if STWPAUSE_FIXED
  Py_BEGIN_ALLOW_THREADS
  pthread_mutex_lock(&guard_lock);
  Py_END_ALLOW_THREADS
#else
  pthread_mutex_lock(&guard_lock);
#endif
  pthread_mutex_unlock(&guard_lock);
}

// A container whose traversal reads state that M guards.
typedef struct {
  PyObject_HEAD
  PyObject* item;
} Guarded;

static __attribute__((noinline)) int guarded_traverse(PyObject* self, visitproc visit, void* arg) {
#if STWPAUSE_FIXED
  if (pthread_mutex_trylock(&guard_lock) != 0) return 0;  // busy: visit nothing this time
#else
  pthread_mutex_lock(&guard_lock);
#endif
  Py_VISIT(((Guarded*)self)->item);
  pthread_mutex_unlock(&guard_lock);
#if PY_VERSION_HEX >= 0x03090000
  Py_VISIT(Py_TYPE(self));
#endif
  return 0;
}

static int guarded_clear(PyObject* self) {
  Py_CLEAR(((Guarded*)self)->item);
  return 0;
}

static void guarded_dealloc(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  guarded_clear(self);
  type->tp_free(self);
  Py_DECREF(type);
}

static PyType_Slot guarded_slots[] = {
    {Py_tp_traverse, (void*)guarded_traverse},
    {Py_tp_clear, (void*)guarded_clear},
    {Py_tp_dealloc, (void*)guarded_dealloc},
    {0, NULL},
};

static PyType_Spec guarded_spec = {
    STWPAUSE_NAME ".Guarded", sizeof(Guarded), 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, guarded_slots,
};

static PyObject* guarded_type;

static PyObject* stwpause_run(PyObject* module, PyObject* args) {
  (void)module;
  const char* variant;
  if (!PyArg_ParseTuple(args, "s", &variant)) return NULL;
  int traverse = strcmp(variant, "traverse") == 0;
  int atfork = strcmp(variant, "atfork") == 0;
  if (!traverse && !atfork && strcmp(variant, "gc") != 0) {
    PyErr_SetString(PyExc_ValueError, "variant must be \"gc\", \"traverse\" or \"atfork\"");
    return NULL;
  }
  if (atfork && !fork_handlers_installed) {
    int rc = pthread_atfork(lock_guard_before_fork, unlock_guard_after_fork, unlock_guard_after_fork);
    if (rc != 0) {
      errno = rc;
      return PyErr_SetFromErrno(PyExc_OSError);
    }
    fork_handlers_installed = 1;
  }
  release_before_attach = atfork && STWPAUSE_FIXED;
  PyObject* guarded = NULL;
  if (traverse) {
    guarded = PyType_GenericAlloc((PyTypeObject*)guarded_type, 0);
    if (!guarded) return NULL;
    ((Guarded*)guarded)->item = PyList_New(0);
  }
  __atomic_store_n(&holding, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&go, 0, __ATOMIC_RELAXED);
  pthread_t thread;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = pthread_create(&thread, NULL, collect_holding_lock, NULL);
  if (rc == 0)
    while (!__atomic_load_n(&holding, __ATOMIC_ACQUIRE)) sched_yield();
  Py_END_ALLOW_THREADS
  if (rc != 0) {
    Py_XDECREF(guarded);
    errno = rc;
    return PyErr_SetFromErrno(PyExc_OSError);
  }
  __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
  PyObject* forked = Py_None;
  if (traverse)
    PyGC_Collect();  // reaches guarded_traverse
  else if (atfork)
    forked = fork_with_handlers();  // reaches lock_guard_before_fork
  else
    lock_guard_attached();
  Py_BEGIN_ALLOW_THREADS
  pthread_join(thread, NULL);
  Py_END_ALLOW_THREADS
  Py_XDECREF(guarded);
  if (atfork) {
    if (!forked) return NULL;
    Py_DECREF(forked);
  }
  Py_RETURN_NONE;
}

static PyMethodDef stwpause_methods[] = {
    {"run", stwpause_run, METH_VARARGS, "run(variant): \"gc\", \"traverse\" or \"atfork\"; see stwpause.c."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef stwpause_module = {
    PyModuleDef_HEAD_INIT, STWPAUSE_NAME, "Stop-the-world pauses against native locks.", -1, stwpause_methods,
};

#if STWPAUSE_FIXED
PyMODINIT_FUNC PyInit_stwpause_fixed(void) {
#else
PyMODINIT_FUNC PyInit_stwpause_buggy(void) {
#endif
  guarded_type = PyType_FromSpec(&guarded_spec);
  if (!guarded_type) return NULL;
  return PyModule_Create(&stwpause_module);
}
