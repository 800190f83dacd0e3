// A global task registry in a CPython extension: the GIL/RwLock inversion from
// shared/seeds/gil-rwlock-inversion-task.md, and its fix, built from this one source.
//
//   REGISTRY_FIXED=0 -> module `registry_buggy`
//   REGISTRY_FIXED=1 -> module `registry_fixed`
//
// The registry is a table of name -> Python callable behind a pthread_rwlock_t.
//
// registry_buggy, the bug as shipped:
//   register(name, fn)   Python thread, holds the GIL, takes the WRITE lock.
//                        Lock order: GIL -> registry lock.
//   worker round         native thread takes the READ lock, then PyGILState_Ensure for
//                        every callback while still holding it.
//                        Lock order: registry lock -> GIL.
//   If the two overlap, the worker holds the read lock and waits for the GIL while the
//   registering thread holds the GIL and waits for the write lock: a deadlock.
//
// registry_fixed, the fix from the seed (`allow_threads` around the registry write):
//   register(name, fn)   releases the GIL (Py_BEGIN_ALLOW_THREADS) around the locked
//                        section; the callable is INCREF'd before and a displaced one is
//                        released after the GIL is back.
//   worker round         copies the table (raw pointers) under the READ lock, unlocks,
//                        and only then takes the GIL to call the callbacks.
//   The GIL and the registry lock are never held together, in either direction.
//
// Lifetime invariant that makes the fixed worker's raw pointers safe: a callable that
// is, or ever was, in the table stays referenced while a worker runs. The table owns one
// reference per entry; when register() displaces an entry while a worker is running, the
// old callable moves to `retired_callbacks` (a list guarded by the GIL) instead of being
// released, and join_worker() empties that list after the worker has ended. So a pointer
// copied under the read lock cannot be freed before the worker has finished its round,
// although the worker holds no reference of its own. Both variants share this code: the
// only difference between them is where the GIL is held relative to the registry lock.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <string.h>

#if !defined(REGISTRY_FIXED) || (REGISTRY_FIXED != 0 && REGISTRY_FIXED != 1)
#error "define REGISTRY_FIXED as 0 (registry_buggy) or 1 (registry_fixed)"
#endif

#if REGISTRY_FIXED
#define REGISTRY_MODULE_NAME "registry_fixed"
#define REGISTRY_MODULE_INIT PyInit_registry_fixed
#else
#define REGISTRY_MODULE_NAME "registry_buggy"
#define REGISTRY_MODULE_INIT PyInit_registry_buggy
#endif

// Functions that take a lock are kept out of line and external so that reports show
// them by name as the frame that took the lock.
#define REGISTRY_FRAME __attribute__((noinline))

enum { kRegistryCapacity = 256, kTaskNameCapacity = 64 };

struct registry_entry {
  char name[kTaskNameCapacity];
  PyObject* callback;  // one strong reference, owned by the table
};

// The registry: entries and count are guarded by task_registry_lock.
static pthread_rwlock_t task_registry_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct registry_entry task_registry[kRegistryCapacity];
static int task_registry_count;

// Worker state, guarded by the GIL (only touched by threads that hold it).
static pthread_t worker_thread;
static int worker_running;
static long worker_callbacks_made;   // written by the worker while it holds the GIL
static PyObject* retired_callbacks;  // list: displaced callables kept alive for the worker

// Stores `callback` (whose reference the table takes over) under `name`, taking the
// write lock. Touches no Python object, so it can run with or without the GIL. Returns 0
// and the callable it displaced (or NULL) in *displaced, or -1 if the table is full.
REGISTRY_FRAME int registry_store(const char* name, PyObject* callback, PyObject** displaced) {
  int result = -1;
  *displaced = NULL;
  pthread_rwlock_wrlock(&task_registry_lock);
  for (int i = 0; i < task_registry_count; ++i) {
    if (strcmp(task_registry[i].name, name) == 0) {
      *displaced = task_registry[i].callback;
      task_registry[i].callback = callback;
      result = 0;
      break;
    }
  }
  if (result != 0 && task_registry_count < kRegistryCapacity) {
    struct registry_entry* entry = &task_registry[task_registry_count++];
    memcpy(entry->name, name, sizeof entry->name);
    entry->callback = callback;
    result = 0;
  }
  pthread_rwlock_unlock(&task_registry_lock);
  return result;
}

// Drops the table's reference to a displaced callable. Requires the GIL. While a worker
// runs it may hold a raw copy of the pointer, so the reference is parked until join.
static void release_displaced(PyObject* callback) {
  if (worker_running) {
    if (PyList_Append(retired_callbacks, callback) != 0) {
      // Out of memory: keeping the reference forever is the safe failure.
      PyErr_Clear();
      return;
    }
  }
  Py_DECREF(callback);
}

static PyObject* registry_register(PyObject* module, PyObject* args) {
  const char* name;
  Py_ssize_t name_length;
  PyObject* callback;
  if (!PyArg_ParseTuple(args, "s#O:register", &name, &name_length, &callback)) return NULL;
  if (!PyCallable_Check(callback)) {
    PyErr_SetString(PyExc_TypeError, "register(): the task must be callable");
    return NULL;
  }
  if (name_length >= kTaskNameCapacity) {
    PyErr_Format(PyExc_ValueError, "register(): task name longer than %d bytes",
                 kTaskNameCapacity - 1);
    return NULL;
  }
  char name_copy[kTaskNameCapacity] = {0};
  memcpy(name_copy, name, (size_t)name_length);

  Py_INCREF(callback);  // the table's reference, taken while the GIL is held
  PyObject* displaced = NULL;
  int stored;
#if REGISTRY_FIXED
  Py_BEGIN_ALLOW_THREADS
  stored = registry_store(name_copy, callback, &displaced);
  Py_END_ALLOW_THREADS
#else
  // The bug: the write lock is taken while this thread holds the GIL.
  stored = registry_store(name_copy, callback, &displaced);
#endif
  if (stored != 0) {
    Py_DECREF(callback);
    PyErr_Format(PyExc_RuntimeError, "register(): registry full (%d tasks)", kRegistryCapacity);
    return NULL;
  }
  if (displaced != NULL) release_displaced(displaced);
  Py_RETURN_NONE;
}

// Calls one task as callback(name, round). Requires the GIL.
static void invoke_task(const char* name, PyObject* callback, long round) {
  PyObject* result = PyObject_CallFunction(callback, "sl", name, round);
  if (result == NULL) {
    PyErr_WriteUnraisable(callback);
  } else {
    Py_DECREF(result);
  }
  ++worker_callbacks_made;
}

#if REGISTRY_FIXED

// Copies the table under the read lock. No GIL is held here, and none is taken.
REGISTRY_FRAME int snapshot_tasks(struct registry_entry* snapshot) {
  pthread_rwlock_rdlock(&task_registry_lock);
  int count = task_registry_count;
  memcpy(snapshot, task_registry, (size_t)count * sizeof *snapshot);
  pthread_rwlock_unlock(&task_registry_lock);
  return count;
}

REGISTRY_FRAME void run_worker_round(long round) {
  struct registry_entry snapshot[kRegistryCapacity];
  int count = snapshot_tasks(snapshot);
  // The registry lock is released: taking the GIL now cannot close a cycle.
  PyGILState_STATE gil = PyGILState_Ensure();
  for (int i = 0; i < count; ++i) invoke_task(snapshot[i].name, snapshot[i].callback, round);
  PyGILState_Release(gil);
}

#else

// The bug, second half: asks for the GIL while the caller holds the read lock.
REGISTRY_FRAME void call_task_with_gil(const struct registry_entry* entry, long round) {
  PyGILState_STATE gil = PyGILState_Ensure();
  invoke_task(entry->name, entry->callback, round);
  PyGILState_Release(gil);
}

REGISTRY_FRAME void run_worker_round(long round) {
  pthread_rwlock_rdlock(&task_registry_lock);
  for (int i = 0; i < task_registry_count; ++i) call_task_with_gil(&task_registry[i], round);
  pthread_rwlock_unlock(&task_registry_lock);
}

#endif

static void* registry_worker_main(void* arg) {
  long rounds = (long)arg;
  for (long round = 0; round < rounds; ++round) run_worker_round(round);
  return NULL;
}

static PyObject* registry_start_worker(PyObject* module, PyObject* args) {
  long rounds;
  if (!PyArg_ParseTuple(args, "l:start_worker", &rounds)) return NULL;
  if (rounds < 0) {
    PyErr_SetString(PyExc_ValueError, "start_worker(): rounds must be >= 0");
    return NULL;
  }
  if (worker_running) {
    PyErr_SetString(PyExc_RuntimeError, "start_worker(): a worker is already running");
    return NULL;
  }
  worker_callbacks_made = 0;
  int rc = pthread_create(&worker_thread, NULL, registry_worker_main, (void*)rounds);
  if (rc != 0) {
    errno = rc;
    return PyErr_SetFromErrno(PyExc_OSError);
  }
  worker_running = 1;
  Py_RETURN_NONE;
}

// Joins the worker with the GIL released (the worker needs the GIL to finish) and
// returns how many callbacks it made.
static PyObject* registry_join_worker(PyObject* module, PyObject* unused) {
  if (!worker_running) {
    PyErr_SetString(PyExc_RuntimeError, "join_worker(): no worker is running");
    return NULL;
  }
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = pthread_join(worker_thread, NULL);
  Py_END_ALLOW_THREADS
  if (rc != 0) {
    errno = rc;
    return PyErr_SetFromErrno(PyExc_OSError);
  }
  worker_running = 0;
  // No raw copy of a table pointer survives the worker: displaced callables can go.
  if (PyList_SetSlice(retired_callbacks, 0, PyList_GET_SIZE(retired_callbacks), NULL) != 0)
    return NULL;
  return PyLong_FromLong(worker_callbacks_made);
}

REGISTRY_FRAME int read_task_count(void) {
  pthread_rwlock_rdlock(&task_registry_lock);
  int count = task_registry_count;
  pthread_rwlock_unlock(&task_registry_lock);
  return count;
}

// Not part of the bug, so in both variants the GIL is released around the read lock.
static PyObject* registry_task_count(PyObject* module, PyObject* unused) {
  int count;
  Py_BEGIN_ALLOW_THREADS
  count = read_task_count();
  Py_END_ALLOW_THREADS
  return PyLong_FromLong(count);
}

static PyMethodDef registry_methods[] = {
    {"register", registry_register, METH_VARARGS,
     "register(name, fn): store fn under name, replacing an earlier task of that name."},
    {"start_worker", registry_start_worker, METH_VARARGS,
     "start_worker(rounds): start a native thread that calls every task fn(name, round) "
     "once per round."},
    {"join_worker", registry_join_worker, METH_NOARGS,
     "join_worker() -> int: wait for the worker (GIL released); returns callbacks made."},
    {"task_count", registry_task_count, METH_NOARGS, "task_count() -> int"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef registry_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = REGISTRY_MODULE_NAME,
    .m_doc = "Task registry fixture: a pthread rwlock-protected table of Python callables "
             "and a native worker thread that calls them"
#if REGISTRY_FIXED
             " (fixed: the GIL and the registry lock are never held together).",
#else
             " (buggy: GIL -> registry lock in register, registry lock -> GIL in the worker).",
#endif
    // The registry is process-global native state; the module cannot be instantiated
    // twice meaningfully.
    .m_size = -1,
    .m_methods = registry_methods,
};

PyMODINIT_FUNC REGISTRY_MODULE_INIT(void) {
  if (retired_callbacks == NULL) {
    retired_callbacks = PyList_New(0);
    if (retired_callbacks == NULL) return NULL;
  }
  PyObject* module = PyModule_Create(&registry_module);
  if (module == NULL) return NULL;
  if (PyModule_AddIntConstant(module, "FIXED", REGISTRY_FIXED) != 0 ||
      PyModule_AddIntConstant(module, "CAPACITY", kRegistryCapacity) != 0) {
    Py_DECREF(module);
    return NULL;
  }
  return module;
}
