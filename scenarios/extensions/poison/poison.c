// A registry lock abandoned by a thread that died holding it
// (shared/seeds/rwlock-poisoning-initiative.md), with a pthread rwlock: Rust would mark
// its RwLock poisoned; a pthread rwlock just stays write-locked for ever.
//
//   POISON_FIXED=0 -> module `poison_buggy`: the registering thread's error path
//     (`register_entry_on_worker` with fail=True) leaves with pthread_exit while it holds
//     the write lock.
//   POISON_FIXED=1 -> module `poison_fixed`: the error path unlocks first.
//
// Python API: register_async(name, fail) registers `name` on a native thread (joined
// with the GIL released) and returns whether it was registered; is_poisoned() tries the
// write lock (never blocking) and answers True when it is held by nobody alive.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

#if !defined(POISON_FIXED) || (POISON_FIXED != 0 && POISON_FIXED != 1)
#error "define POISON_FIXED as 0 (poison_buggy) or 1 (poison_fixed)"
#endif

#if POISON_FIXED
#define POISON_NAME "poison_fixed"
#else
#define POISON_NAME "poison_buggy"
#endif

enum { kMaxEntries = 64, kMaxName = 48 };
static pthread_rwlock_t registry_lock = PTHREAD_RWLOCK_INITIALIZER;
static char registry_names[kMaxEntries][kMaxName];
static int registry_count;

typedef struct {
  char name[kMaxName];
  int fail;
  int registered;
} Registration;

static __attribute__((noinline)) void register_entry_on_worker(Registration* r) {
  pthread_rwlock_wrlock(&registry_lock);
  if (r->fail || registry_count == kMaxEntries) {
    // Validation failed: give up on this registration.
#if POISON_FIXED
    pthread_rwlock_unlock(&registry_lock);
#endif
    pthread_exit(NULL);
  }
  memcpy(registry_names[registry_count++], r->name, kMaxName);  // r->name is NUL-terminated
  r->registered = 1;
  pthread_rwlock_unlock(&registry_lock);
}

static void* registration_main(void* arg) {
  register_entry_on_worker((Registration*)arg);
  return NULL;
}

static PyObject* poison_register_async(PyObject* module, PyObject* args) {
  (void)module;
  const char* name;
  int fail;
  if (!PyArg_ParseTuple(args, "sp", &name, &fail)) return NULL;
  Registration r;
  memset(&r, 0, sizeof(r));
  strncpy(r.name, name, kMaxName - 1);
  r.fail = fail;
  pthread_t thread;
  int rc = pthread_create(&thread, NULL, registration_main, &r);
  if (rc != 0) {
    errno = rc;
    return PyErr_SetFromErrno(PyExc_OSError);
  }
  Py_BEGIN_ALLOW_THREADS
  pthread_join(thread, NULL);
  Py_END_ALLOW_THREADS
  return PyBool_FromLong(r.registered);
}

static PyObject* poison_is_poisoned(PyObject* module, PyObject* unused) {
  (void)module;
  (void)unused;
  int rc = pthread_rwlock_trywrlock(&registry_lock);
  if (rc == 0) {
    pthread_rwlock_unlock(&registry_lock);
    Py_RETURN_FALSE;
  }
  return PyBool_FromLong(rc == EBUSY);
}

static PyMethodDef methods[] = {
    {"register_async", poison_register_async, METH_VARARGS, "Register a name on a native thread."},
    {"is_poisoned", poison_is_poisoned, METH_NOARGS, "Is the registry lock held by a thread that is gone?"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, POISON_NAME, NULL, -1, methods, NULL, NULL, NULL, NULL};

#if POISON_FIXED
PyMODINIT_FUNC PyInit_poison_fixed(void) { return PyModule_Create(&module); }
#else
PyMODINIT_FUNC PyInit_poison_buggy(void) { return PyModule_Create(&module); }
#endif
