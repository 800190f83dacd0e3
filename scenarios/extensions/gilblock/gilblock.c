// Blocking calls made with the GIL held, one per kind of wait gil-held-blocking covers
// (shared/seeds/pyo3-interop-gil-deadlock-guide.md: "never block while holding the
// GIL"). None of them deadlocks: each wait ends after the given time, but every other
// Python thread is stopped meanwhile.
//
//   GILBLOCK_FIXED=0 -> module `gilblock_buggy`: wait_holding_gil(kind, ms) waits with the
//     GIL held.
//   GILBLOCK_FIXED=1 -> module `gilblock_fixed`: the same waits inside
//     Py_BEGIN_ALLOW_THREADS.
//
// kinds: "sleep" (usleep), "join" (pthread_join of a thread that sleeps ms), "condvar"
// (pthread_cond_wait until a thread signals after ms), "mutex" (pthread_mutex_lock of a
// mutex a thread holds for ms).
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#if !defined(GILBLOCK_FIXED) || (GILBLOCK_FIXED != 0 && GILBLOCK_FIXED != 1)
#error "define GILBLOCK_FIXED as 0 (gilblock_buggy) or 1 (gilblock_fixed)"
#endif

#if GILBLOCK_FIXED
#define GILBLOCK_NAME "gilblock_fixed"
#else
#define GILBLOCK_NAME "gilblock_buggy"
#endif

typedef struct {
  long ms;
  pthread_mutex_t lock;
  pthread_cond_t signalled;
  int done;
  int holding;  // the helper holds `lock` (mutex kind)
} Helper;

static void* sleeper_main(void* arg) {
  usleep((useconds_t)(((Helper*)arg)->ms * 1000));
  return NULL;
}

static void* signaller_main(void* arg) {
  Helper* h = (Helper*)arg;
  usleep((useconds_t)(h->ms * 1000));
  pthread_mutex_lock(&h->lock);
  h->done = 1;
  pthread_cond_signal(&h->signalled);
  pthread_mutex_unlock(&h->lock);
  return NULL;
}

static void* holder_main(void* arg) {
  Helper* h = (Helper*)arg;
  pthread_mutex_lock(&h->lock);
  __atomic_store_n(&h->holding, 1, __ATOMIC_RELEASE);
  usleep((useconds_t)(h->ms * 1000));
  pthread_mutex_unlock(&h->lock);
  return NULL;
}

// The waits themselves; called with or without the GIL.
static __attribute__((noinline)) void blocking_wait(const char* kind, Helper* h, pthread_t helper) {
  if (strcmp(kind, "sleep") == 0) {
    usleep((useconds_t)(h->ms * 1000));
  } else if (strcmp(kind, "join") == 0) {
    pthread_join(helper, NULL);
  } else if (strcmp(kind, "condvar") == 0) {
    pthread_mutex_lock(&h->lock);
    while (!h->done) pthread_cond_wait(&h->signalled, &h->lock);
    pthread_mutex_unlock(&h->lock);
  } else {
    pthread_mutex_lock(&h->lock);
    pthread_mutex_unlock(&h->lock);
  }
}

static PyObject* gilblock_wait_holding_gil(PyObject* module, PyObject* args) {
  (void)module;
  const char* kind;
  Helper h;
  memset(&h, 0, sizeof(h));
  if (!PyArg_ParseTuple(args, "sl", &kind, &h.ms)) return NULL;
  if (strcmp(kind, "sleep") && strcmp(kind, "join") && strcmp(kind, "condvar") && strcmp(kind, "mutex")) {
    PyErr_Format(PyExc_ValueError, "unknown kind '%s'", kind);
    return NULL;
  }
  pthread_mutex_init(&h.lock, NULL);
  pthread_cond_init(&h.signalled, NULL);
  pthread_t helper;
  int started = 0;
  void* (*body)(void*) = NULL;
  if (strcmp(kind, "join") == 0) body = sleeper_main;
  if (strcmp(kind, "condvar") == 0) body = signaller_main;
  if (strcmp(kind, "mutex") == 0) body = holder_main;
  if (body) {
    int rc = pthread_create(&helper, NULL, body, &h);
    if (rc != 0) {
      errno = rc;
      return PyErr_SetFromErrno(PyExc_OSError);
    }
    started = 1;
  }
  if (strcmp(kind, "mutex") == 0) {
    Py_BEGIN_ALLOW_THREADS
    while (!__atomic_load_n(&h.holding, __ATOMIC_ACQUIRE)) usleep(1000);
    Py_END_ALLOW_THREADS
  }
#if GILBLOCK_FIXED
  Py_BEGIN_ALLOW_THREADS
  blocking_wait(kind, &h, helper);
  Py_END_ALLOW_THREADS
#else
  blocking_wait(kind, &h, helper);  // the GIL is held here
#endif
  if (started && strcmp(kind, "join") != 0) {
    Py_BEGIN_ALLOW_THREADS
    pthread_join(helper, NULL);
    Py_END_ALLOW_THREADS
  }
  pthread_cond_destroy(&h.signalled);
  pthread_mutex_destroy(&h.lock);
  Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"wait_holding_gil", gilblock_wait_holding_gil, METH_VARARGS, "wait_holding_gil(kind, ms)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, GILBLOCK_NAME, NULL, -1, methods, NULL, NULL, NULL, NULL};

#if GILBLOCK_FIXED
PyMODINIT_FUNC PyInit_gilblock_fixed(void) { return PyModule_Create(&module); }
#else
PyMODINIT_FUNC PyInit_gilblock_buggy(void) { return PyModule_Create(&module); }
#endif
