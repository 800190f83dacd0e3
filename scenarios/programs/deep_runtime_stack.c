// An extension's own frame under many frames of a runtime it calls into, as a PyO3
// extension's frame sits under tokio's, PyO3's and std's: ext_take_a_then_b and
// ext_take_b_then_a each hold one mutex and have the "runtime" (runtime_descend,
// recursing DEPTH times) take the other, an ABBA. The threads run one after the other,
// so the program never hangs.
// `deep_runtime_stack DEPTH` (default 48): every finding must show the ext_ frames,
// however deep the runtime; with DEPTH 2 (the twin) the stack is short and whole.
// `deep_runtime_stack DEPTH hang`: ext_read_deep has the runtime read a pipe nobody writes
// to, and the main thread joins it: a hang (under `gilwatch run --timeout`).
#include <unistd.h>

#include "scenario_threads.h"

pthread_mutex_t mutex_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t mutex_b = PTHREAD_MUTEX_INITIALIZER;
static int g_depth = 48;
static int g_pipe[2] = {-1, -1};

// Not a tail call (the count after it), so each level is a real frame.
SCENARIO_FRAME int runtime_descend(pthread_mutex_t* lock, int depth) {
  if (depth == 0 && !lock) {
    char byte;
    return (int)read(g_pipe[0], &byte, 1) - 1;  // never returns: nobody writes
  }
  if (depth == 0) {
    scenario_check(pthread_mutex_lock(lock), "runtime lock");
    scenario_check(pthread_mutex_unlock(lock), "runtime unlock");
    return 0;
  }
  int below = runtime_descend(lock, depth - 1);
  __asm__ volatile("" ::: "memory");
  return below + 1;
}

SCENARIO_FRAME void ext_take_a_then_b(void) {
  scenario_check(pthread_mutex_lock(&mutex_a), "lock A");
  if (runtime_descend(&mutex_b, g_depth) != g_depth) exit(2);
  scenario_check(pthread_mutex_unlock(&mutex_a), "unlock A");
}

SCENARIO_FRAME void ext_take_b_then_a(void) {
  scenario_check(pthread_mutex_lock(&mutex_b), "lock B");
  if (runtime_descend(&mutex_a, g_depth) != g_depth) exit(2);
  scenario_check(pthread_mutex_unlock(&mutex_b), "unlock B");
}

SCENARIO_FRAME void ext_read_deep(void) {
  if (runtime_descend(NULL, g_depth) != g_depth) exit(2);
}

static void* reading_thread(void* unused) {
  (void)unused;
  ext_read_deep();
  return NULL;
}

static void* first_thread(void* unused) {
  ext_take_a_then_b();
  return NULL;
}

static void* second_thread(void* unused) {
  ext_take_b_then_a();
  return NULL;
}

int main(int argc, char** argv) {
  if (argc > 1) g_depth = atoi(argv[1]);
  if (argc > 2 && strcmp(argv[2], "hang") == 0) {
    if (pipe(g_pipe) != 0) return 2;
    scenario_run_thread(reading_thread, NULL, "deep-reader");
    return 0;
  }
  scenario_run_thread(first_thread, NULL, "deep-a-then-b");
  scenario_run_thread(second_thread, NULL, "deep-b-then-a");
  return 0;
}
