// Teardown that leaks (shared/seeds/deterministic-teardown-pr.md: "exact native-thread-
// count equality immediately after del tool; gc.collect()" and "exact fd stability
// across create/execute/drop cycles"). A Tool owns a native worker thread
// ("churn-worker") and two pipes: use() sends the worker a byte and waits, with the GIL
// released, for its answer.
//
//   CHURN_FIXED=0 -> module `churn_buggy`: tool_dealloc_forget_worker frees the object
//     but neither stops the worker nor closes the pipes: each Tool leaves one thread and
//     four fds behind (never a crash or a hang: the worker just waits for ever).
//   CHURN_FIXED=1 -> module `churn_fixed`: tool_dealloc_join_worker closes the request
//     pipe (the worker's read returns 0 and it ends), joins it with the GIL released, and
//     closes every fd, so thread and fd counts are back to what they were before `del`
//     returns.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#if !defined(CHURN_FIXED) || (CHURN_FIXED != 0 && CHURN_FIXED != 1)
#error "define CHURN_FIXED as 0 (churn_buggy) or 1 (churn_fixed)"
#endif

#if CHURN_FIXED
#define CHURN_NAME "churn_fixed"
#define CHURN_INIT PyInit_churn_fixed
#else
#define CHURN_NAME "churn_buggy"
#define CHURN_INIT PyInit_churn_buggy
#endif

typedef struct {
  PyObject_HEAD
  pthread_t worker;
  int running;
  int request[2];  // Python -> worker
  int reply[2];    // worker -> Python
  long uses;
} Tool;

static int read_fully(int fd, char* byte) {
  for (;;) {
    ssize_t n = read(fd, byte, 1);
    if (n >= 0) return (int)n;
    if (errno != EINTR) return -1;
  }
}

// Answers each request byte with the same byte; ends when the request pipe is closed.
static void* churn_worker_main(void* arg) {
  Tool* tool = (Tool*)arg;
  pthread_setname_np(pthread_self(), "churn-worker");
  char byte;
  while (read_fully(tool->request[0], &byte) == 1) {
    if (write(tool->reply[1], &byte, 1) != 1) break;
  }
  return NULL;
}

static void close_all(Tool* tool) {
  int* fds[] = {&tool->request[0], &tool->request[1], &tool->reply[0], &tool->reply[1]};
  for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); ++i)
    if (*fds[i] >= 0) {
      close(*fds[i]);
      *fds[i] = -1;
    }
}

static PyObject* tool_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  Tool* tool = (Tool*)type->tp_alloc(type, 0);
  if (!tool) return NULL;
  tool->request[0] = tool->request[1] = tool->reply[0] = tool->reply[1] = -1;
  if (pipe2(tool->request, O_CLOEXEC) != 0 || pipe2(tool->reply, O_CLOEXEC) != 0) {
    PyErr_SetFromErrno(PyExc_OSError);
    close_all(tool);
    Py_DECREF(tool);
    return NULL;
  }
  int rc = pthread_create(&tool->worker, NULL, churn_worker_main, tool);
  if (rc != 0) {
    errno = rc;
    PyErr_SetFromErrno(PyExc_OSError);
    close_all(tool);
    Py_DECREF(tool);
    return NULL;
  }
  tool->running = 1;
  return (PyObject*)tool;
}

static PyObject* tool_use(Tool* tool, PyObject* ignored) {
  char byte = 'x', answer = 0;
  int ok;
  Py_BEGIN_ALLOW_THREADS
  ok = write(tool->request[1], &byte, 1) == 1 && read_fully(tool->reply[0], &answer) == 1 && answer == byte;
  Py_END_ALLOW_THREADS
  if (!ok) return PyErr_SetFromErrno(PyExc_OSError);
  tool->uses++;
  return PyLong_FromLong(tool->uses);
}

#if CHURN_FIXED
static void tool_dealloc_join_worker(Tool* tool) {
  if (tool->running) {
    close(tool->request[1]);  // the worker's read returns 0: it ends
    tool->request[1] = -1;
    Py_BEGIN_ALLOW_THREADS
    pthread_join(tool->worker, NULL);
    Py_END_ALLOW_THREADS
    tool->running = 0;
  }
  close_all(tool);
  Py_TYPE(tool)->tp_free((PyObject*)tool);
}
#define TOOL_DEALLOC tool_dealloc_join_worker
#else
static void tool_dealloc_forget_worker(Tool* tool) {
  // The bug: the worker keeps waiting on a pipe nobody will write to or close, and it
  // still reads the Tool's fields — so the memory is not freed either (freeing it would
  // turn the leak into a use-after-free).
  (void)tool;
}
#define TOOL_DEALLOC tool_dealloc_forget_worker
#endif

static PyMethodDef tool_methods[] = {
    {"use", (PyCFunction)tool_use, METH_NOARGS, "use() -> int: one round trip with the worker"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ToolType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = CHURN_NAME ".Tool",
    .tp_basicsize = sizeof(Tool),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = tool_new,
    .tp_dealloc = (destructor)TOOL_DEALLOC,
    .tp_methods = tool_methods,
    .tp_doc = "Tool(): owns a native worker thread and two pipes",
};

static struct PyModuleDef churn_module = {
    PyModuleDef_HEAD_INIT, CHURN_NAME, "Teardown fixture: a Tool with a worker thread and pipes.", -1, NULL,
};

PyMODINIT_FUNC CHURN_INIT(void) {
  if (PyType_Ready(&ToolType) < 0) return NULL;
  PyObject* module = PyModule_Create(&churn_module);
  if (!module) return NULL;
  Py_INCREF(&ToolType);
  if (PyModule_AddObject(module, "Tool", (PyObject*)&ToolType) < 0) {
    Py_DECREF(&ToolType);
    Py_DECREF(module);
    return NULL;
  }
  return module;
}
