// A lock built on a raw futex word, as Rust's std::sync::Mutex is (and parking_lot's,
// absl's...): no pthread function is involved, so only the futex wait itself, made
// through libc's syscall(), is visible. Seeds: gil-rwlock-inversion-task.md (a Python
// thread that holds the GIL takes a native lock a native thread holds while it asks for
// the GIL; fixed by wrapping the call in `py.allow_threads()`) and DESIGN.md's note on
// Rust locks. The mutex is Rust std's futex mutex: 0 unlocked, 1 locked, 2 locked with
// waiters; lock = CAS 0->1, else swap in 2 and FUTEX_WAIT_PRIVATE(2) until the swap
// returns 0; unlock = swap in 0 and FUTEX_WAKE_PRIVATE(1) if it was 2.
//
//   FUTEXLOCK_FIXED=0 -> module `futexlock_buggy`: the Python thread
//     (registry_take_from_python) waits for the futex lock while holding the GIL.
//   FUTEXLOCK_FIXED=1 -> module `futexlock_fixed`: it takes and releases the lock inside
//     Py_BEGIN_ALLOW_THREADS and takes the GIL back only after unlocking (PyO3's
//     `py.allow_threads(|| { let guard = registry.write(); ... })`).
//
// Python API:
//   deadlock(): a native worker (registry_writer_main) takes the futex lock, raises a
//     flag, sleeps 50 ms, then asks for the GIL (notify_python_holding_registry) while
//     still holding the lock. The caller waits for the flag with the GIL released, then
//     takes the futex lock. Buggy: a real deadlock, every time (the caller waits in
//     FUTEX_WAIT holding the GIL, the worker waits for the GIL holding the lock);
//     gilwatch can only call it probable: a futex word has no owner it can name.
//     Fixed: completes in about 50 ms. The worker is joined with the GIL released.
//   hold_gil_and_wait(ms): a native thread that needs no GIL (lock_holder_main) holds
//     the futex lock for `ms` milliseconds while the caller waits for it. Buggy: the
//     caller blocks that long holding the GIL (gil-held-blocking, no deadlock). Fixed:
//     it waits without the GIL.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#if !defined(FUTEXLOCK_FIXED) || (FUTEXLOCK_FIXED != 0 && FUTEXLOCK_FIXED != 1)
#error "define FUTEXLOCK_FIXED as 0 (futexlock_buggy) or 1 (futexlock_fixed)"
#endif

#if FUTEXLOCK_FIXED
#define FUTEXLOCK_NAME "futexlock_fixed"
#define FUTEXLOCK_INIT PyInit_futexlock_fixed
#else
#define FUTEXLOCK_NAME "futexlock_buggy"
#define FUTEXLOCK_INIT PyInit_futexlock_buggy
#endif

// Rust std's futex mutex (library/std/src/sys/sync/mutex/futex.rs): 0 unlocked, 1 locked,
// 2 locked with waiters. The waits and wakes go through libc's syscall(), as Rust's do.
typedef struct {
  atomic_uint word;
} FutexMutex;

static FutexMutex registry_lock;

static __attribute__((noinline)) void futex_mutex_lock(FutexMutex* m) {
  unsigned expected = 0;
  if (atomic_compare_exchange_strong(&m->word, &expected, 1)) return;
  while (atomic_exchange(&m->word, 2) != 0)
    syscall(SYS_futex, &m->word, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}

static void futex_mutex_unlock(FutexMutex* m) {
  if (atomic_exchange(&m->word, 0) == 2) syscall(SYS_futex, &m->word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static atomic_int worker_holds_lock;
static long hold_ms;

static void wait_until_worker_holds_lock(void) {
  Py_BEGIN_ALLOW_THREADS
  while (!atomic_load(&worker_holds_lock)) usleep(1000);
  Py_END_ALLOW_THREADS
}

// The native side of deadlock(): lock, then the GIL while still holding the lock.
static __attribute__((noinline)) void notify_python_holding_registry(void) {
  PyGILState_STATE state = PyGILState_Ensure();
  PyObject* value = PyLong_FromLong(1);
  Py_XDECREF(value);
  PyGILState_Release(state);
}

static void* registry_writer_main(void* unused) {
  (void)unused;
  futex_mutex_lock(&registry_lock);
  atomic_store(&worker_holds_lock, 1);
  usleep(50 * 1000);  // the Python thread is now waiting for the lock
  notify_python_holding_registry();
  futex_mutex_unlock(&registry_lock);
  return NULL;
}

static void* lock_holder_main(void* unused) {
  (void)unused;
  futex_mutex_lock(&registry_lock);
  atomic_store(&worker_holds_lock, 1);
  usleep((useconds_t)(hold_ms * 1000));
  futex_mutex_unlock(&registry_lock);
  return NULL;
}

// The Python side: take the registry lock (and let it go; the critical section is empty).
static __attribute__((noinline)) void registry_take_from_python(void) {
#if FUTEXLOCK_FIXED
  // The whole critical section runs without the GIL, and the GIL is asked for again
  // only once the lock is released: in PyO3 the guard cannot leave allow_threads.
  Py_BEGIN_ALLOW_THREADS
  futex_mutex_lock(&registry_lock);
  futex_mutex_unlock(&registry_lock);
  Py_END_ALLOW_THREADS
#else
  futex_mutex_lock(&registry_lock);  // the GIL is held here
  futex_mutex_unlock(&registry_lock);
#endif
}

static PyObject* run_with_thread(void* (*body)(void*)) {
  atomic_store(&worker_holds_lock, 0);
  pthread_t thread;
  int rc = pthread_create(&thread, NULL, body, NULL);
  if (rc != 0) {
    errno = rc;
    return PyErr_SetFromErrno(PyExc_OSError);
  }
  wait_until_worker_holds_lock();
  registry_take_from_python();
  Py_BEGIN_ALLOW_THREADS
  pthread_join(thread, NULL);
  Py_END_ALLOW_THREADS
  Py_RETURN_NONE;
}

static PyObject* futexlock_deadlock(PyObject* module, PyObject* unused) {
  (void)module;
  (void)unused;
  return run_with_thread(registry_writer_main);
}

static PyObject* futexlock_hold_gil_and_wait(PyObject* module, PyObject* arg) {
  (void)module;
  hold_ms = PyLong_AsLong(arg);
  if (hold_ms < 0 || PyErr_Occurred()) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "ms must be >= 0");
    return NULL;
  }
  return run_with_thread(lock_holder_main);
}

static PyMethodDef methods[] = {
    {"deadlock", futexlock_deadlock, METH_NOARGS, "Lock/GIL inversion on a futex lock."},
    {"hold_gil_and_wait", futexlock_hold_gil_and_wait, METH_O, "Wait ms for a futex lock held elsewhere."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, FUTEXLOCK_NAME, NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC FUTEXLOCK_INIT(void) { return PyModule_Create(&module); }
