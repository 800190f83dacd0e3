// Lock calls on small stacks: every hooked family (mutex plain/try/timed/clock, rwlock
// read/write plain/try/timed, condition timed wait and signal, a futex wait, a sleep,
// thread create and join) with locks nested two deep, so each nested call orders a lock
// the process has never ordered before (the detector's heavy path: a new edge).
//
//   small_stack thread       on a thread created with a PTHREAD_STACK_MIN (16 KiB) stack
//   small_stack ucontext     on an 8 KiB coroutine stack (makecontext) with a guard page
//   small_stack sigaltstack  in a signal handler on an 8 KiB sigaltstack with a guard page
//   small_stack normal       the same on a thread with the default stack (the twin)
//   small_stack measure      per family, the stack bytes the calls used (painted stack)
//
// With a second argument `inversion`, after the small-stack part the program also takes
// the first two locks in both orders on ordinary threads: one lock-order inversion that
// gilwatch must report, whatever it could or could not record on the small stack.
//
// Correct program: it prints one line per part and exits 0. Without gilwatch every kind
// works; under it, an overflow of the small stack would be a SIGSEGV (guarded stacks).
#include <linux/futex.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "scenario_threads.h"

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_try = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_timed = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_clock = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw_read = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t rw_write = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t rw_try = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t rw_timed_read = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t rw_timed_write = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t cond_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int futex_word;

static struct timespec soon(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  ts.tv_sec += 5;
  return ts;
}

static void* idle_thread(void* arg) { return arg; }

// One family each, every one inside lock_a: a nested acquisition, a new edge.
SCENARIO_FRAME static void family_mutex(void) {
  scenario_check(pthread_mutex_lock(&lock_b), "lock b");
  scenario_check(pthread_mutex_unlock(&lock_b), "unlock b");
}
SCENARIO_FRAME static void family_mutex_try(void) {
  scenario_check(pthread_mutex_trylock(&lock_try), "trylock");
  scenario_check(pthread_mutex_unlock(&lock_try), "unlock try");
}
SCENARIO_FRAME static void family_mutex_timed(void) {
  struct timespec ts = soon(CLOCK_REALTIME);
  scenario_check(pthread_mutex_timedlock(&lock_timed, &ts), "timedlock");
  scenario_check(pthread_mutex_unlock(&lock_timed), "unlock timed");
  ts = soon(CLOCK_MONOTONIC);
  scenario_check(pthread_mutex_clocklock(&lock_clock, CLOCK_MONOTONIC, &ts), "clocklock");
  scenario_check(pthread_mutex_unlock(&lock_clock), "unlock clock");
}
SCENARIO_FRAME static void family_rwlock(void) {
  scenario_check(pthread_rwlock_rdlock(&rw_read), "rdlock");
  scenario_check(pthread_rwlock_unlock(&rw_read), "unlock read");
  scenario_check(pthread_rwlock_wrlock(&rw_write), "wrlock");
  scenario_check(pthread_rwlock_unlock(&rw_write), "unlock write");
  scenario_check(pthread_rwlock_tryrdlock(&rw_try), "tryrdlock");
  scenario_check(pthread_rwlock_unlock(&rw_try), "unlock tryrd");
  scenario_check(pthread_rwlock_trywrlock(&rw_try), "trywrlock");
  scenario_check(pthread_rwlock_unlock(&rw_try), "unlock trywr");
}
SCENARIO_FRAME static void family_rwlock_timed(void) {
  struct timespec ts = soon(CLOCK_REALTIME);
  scenario_check(pthread_rwlock_timedrdlock(&rw_timed_read, &ts), "timedrdlock");
  scenario_check(pthread_rwlock_unlock(&rw_timed_read), "unlock timedrd");
  scenario_check(pthread_rwlock_timedwrlock(&rw_timed_write, &ts), "timedwrlock");
  scenario_check(pthread_rwlock_unlock(&rw_timed_write), "unlock timedwr");
}
SCENARIO_FRAME static void family_cond(void) {
  scenario_check(pthread_mutex_lock(&cond_mutex), "lock cond mutex");
  // A deadline already past: the wait unlocks, times out at once and re-locks.
  struct timespec past = {0, 0};
  int rc = pthread_cond_timedwait(&cond, &cond_mutex, &past);
  if (rc != ETIMEDOUT) scenario_check(rc ? rc : EINVAL, "cond_timedwait");
  scenario_check(pthread_cond_signal(&cond), "cond_signal");
  scenario_check(pthread_mutex_unlock(&cond_mutex), "unlock cond mutex");
}
SCENARIO_FRAME static void family_futex_sleep(void) {
  // The word is 0, the wait asks for 1: returns EAGAIN at once.
  long rc = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0);
  if (rc != -1 || errno != EAGAIN) scenario_check(EINVAL, "futex wait");
  struct timespec nap = {0, 1000};
  nanosleep(&nap, NULL);
}
SCENARIO_FRAME static void family_thread(void) {
  pthread_t thread;
  scenario_check(pthread_create(&thread, NULL, idle_thread, NULL), "pthread_create");
  scenario_check(pthread_join(thread, NULL), "pthread_join");
}

struct family {
  const char* name;
  void (*run)(void);
};
static const struct family families[] = {
    {"mutex", family_mutex},   {"mutex-try", family_mutex_try}, {"mutex-timed", family_mutex_timed},
    {"rwlock", family_rwlock}, {"rwlock-timed", family_rwlock_timed}, {"cond", family_cond},
    {"futex-sleep", family_futex_sleep}, {"thread", family_thread},
};
#define FAMILY_COUNT (sizeof families / sizeof families[0])

SCENARIO_FRAME static void run_family_nested(const struct family* f) {
  scenario_check(pthread_mutex_lock(&lock_a), "lock a");
  f->run();
  scenario_check(pthread_mutex_unlock(&lock_a), "unlock a");
}

static volatile int families_done;

SCENARIO_FRAME static void exercise_all(void) {
  for (size_t i = 0; i < FAMILY_COUNT; ++i) run_family_nested(&families[i]);
  families_done = (int)FAMILY_COUNT;
}

// --- the three kinds of small stack ---

static void* small_thread_body(void* arg) {
  exercise_all();
  return arg;
}

static void on_thread_stack(size_t size) {
  pthread_attr_t attr;
  scenario_check(pthread_attr_init(&attr), "attr_init");
  if (size) scenario_check(pthread_attr_setstacksize(&attr, size), "setstacksize");
  pthread_t thread;
  scenario_check(pthread_create(&thread, &attr, small_thread_body, NULL), "create small thread");
  scenario_check(pthread_join(thread, NULL), "join small thread");
  pthread_attr_destroy(&attr);
}

// An 8 KiB stack with an inaccessible page below it: an overflow faults at once.
static char* guarded_stack(size_t size) {
  long page = sysconf(_SC_PAGESIZE);
  char* base = mmap(NULL, size + (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) scenario_check(ENOMEM, "mmap stack");
  scenario_check(mprotect(base, (size_t)page, PROT_NONE) ? errno : 0, "guard page");
  return base + page;
}

static ucontext_t main_context, small_context;

// A coroutine keeps state of its own on its stack: 3 KiB of it here, the rest is the
// lock calls'.
static void coroutine_body(void) {
  volatile char state[3072];
  state[0] = 1;
  exercise_all();
  state[sizeof state - 1] = state[0];
}

static void on_ucontext_stack(void) {
  enum { kSize = 8192 };
  scenario_check(getcontext(&small_context) ? errno : 0, "getcontext");
  small_context.uc_stack.ss_sp = guarded_stack(kSize);
  small_context.uc_stack.ss_size = kSize;
  small_context.uc_link = &main_context;
  makecontext(&small_context, coroutine_body, 0);
  scenario_check(swapcontext(&main_context, &small_context) ? errno : 0, "swapcontext");
}

static void on_signal(int sig) {
  (void)sig;
  exercise_all();
}

static void on_sigaltstack(void) {
  enum { kSize = 8192 };
  stack_t ss = {.ss_sp = guarded_stack(kSize), .ss_size = kSize, .ss_flags = 0};
  scenario_check(sigaltstack(&ss, NULL) ? errno : 0, "sigaltstack");
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = on_signal;
  action.sa_flags = SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  scenario_check(sigaction(SIGUSR1, &action, NULL) ? errno : 0, "sigaction");
  scenario_check(raise(SIGUSR1) ? errno : 0, "raise");
}

// --- measure: the bytes each family's calls use, on a painted 1 MiB thread stack ---

enum { kMeasureStack = 1 << 20 };
static const unsigned char kPaint = 0xa5;
static char* measure_stack;

SCENARIO_FRAME static size_t used_below(const char* mark) {
  // From the lowest painted byte the calls overwrote up to `mark`.
  const char* p = measure_stack + 4096;
  while (p < mark && (unsigned char)*p == kPaint) ++p;
  return (size_t)(mark - p);
}

SCENARIO_FRAME static void paint(void) {
  // Not memset: it would run on the stack it paints. Up to just below this frame.
  char* end = (char*)__builtin_frame_address(0) - 256;
  for (volatile char* p = (volatile char*)measure_stack + 4096; p < end; ++p) *p = (char)kPaint;
}

// Destroyed and re-created, every lock is a new one: the next nested call orders it anew.
static void renew_locks(void) {
  pthread_mutex_t* mutexes[] = {&lock_a, &lock_b, &lock_try, &lock_timed, &lock_clock, &cond_mutex};
  for (size_t i = 0; i < sizeof mutexes / sizeof mutexes[0]; ++i) {
    scenario_check(pthread_mutex_destroy(mutexes[i]), "mutex_destroy");
    scenario_check(pthread_mutex_init(mutexes[i], NULL), "mutex_init");
  }
  pthread_rwlock_t* rwlocks[] = {&rw_read, &rw_write, &rw_try, &rw_timed_read, &rw_timed_write};
  for (size_t i = 0; i < sizeof rwlocks / sizeof rwlocks[0]; ++i) {
    scenario_check(pthread_rwlock_destroy(rwlocks[i]), "rwlock_destroy");
    scenario_check(pthread_rwlock_init(rwlocks[i], NULL), "rwlock_init");
  }
}

static void* measure_body(void* arg) {
  (void)arg;
  char mark;
  // Once, unmeasured: first calls resolve symbols and set things up.
  exercise_all();
  for (size_t i = 0; i < FAMILY_COUNT; ++i) {
    renew_locks();
    paint();
    run_family_nested(&families[i]);
    size_t first = used_below(&mark);
    paint();
    run_family_nested(&families[i]);
    size_t again = used_below(&mark);
    printf("%-12s new order: %5zu bytes, repeated: %5zu bytes\n", families[i].name, first, again);
  }
  return NULL;
}

static void measure(void) {
  measure_stack = mmap(NULL, kMeasureStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (measure_stack == MAP_FAILED) scenario_check(ENOMEM, "mmap");
  pthread_attr_t attr;
  scenario_check(pthread_attr_init(&attr), "attr_init");
  scenario_check(pthread_attr_setstack(&attr, measure_stack, kMeasureStack), "setstack");
  pthread_t thread;
  scenario_check(pthread_create(&thread, &attr, measure_body, NULL), "create");
  scenario_check(pthread_join(thread, NULL), "join");
}

// --- the inversion, on ordinary threads ---

static void* take_a_then_b(void* arg) {
  scenario_check(pthread_mutex_lock(&lock_a), "lock a");
  scenario_check(pthread_mutex_lock(&lock_b), "lock b");
  scenario_check(pthread_mutex_unlock(&lock_b), "unlock b");
  scenario_check(pthread_mutex_unlock(&lock_a), "unlock a");
  return arg;
}
static void* take_b_then_a(void* arg) {
  scenario_check(pthread_mutex_lock(&lock_b), "lock b");
  scenario_check(pthread_mutex_lock(&lock_a), "lock a");
  scenario_check(pthread_mutex_unlock(&lock_a), "unlock a");
  scenario_check(pthread_mutex_unlock(&lock_b), "unlock b");
  return arg;
}

int main(int argc, char** argv) {
  const char* kind = argc > 1 ? argv[1] : "";
  int inversion = argc > 2 && strcmp(argv[2], "inversion") == 0;
  if (strcmp(kind, "thread") == 0) {
    on_thread_stack(16384);
  } else if (strcmp(kind, "normal") == 0) {
    on_thread_stack(0);
  } else if (strcmp(kind, "ucontext") == 0) {
    on_ucontext_stack();
  } else if (strcmp(kind, "sigaltstack") == 0) {
    on_sigaltstack();
  } else if (strcmp(kind, "measure") == 0) {
    measure();
    return 0;
  } else {
    fprintf(stderr, "usage: small_stack thread|ucontext|sigaltstack|normal|measure [inversion]\n");
    return 2;
  }
  printf("%s: %d families done on the small stack\n", kind, families_done);
  if (inversion) {
    pthread_join(scenario_start_thread(take_a_then_b, NULL, "take_a_then_b"), NULL);
    pthread_join(scenario_start_thread(take_b_then_a, NULL, "take_b_then_a"), NULL);
    printf("inversion done\n");
  }
  return 0;
}
