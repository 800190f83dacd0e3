// A program that closes fd 2 and opens a data file, which gets fd 2, then takes two
// mutexes in inverted orders (as abba.c) and writes its data. gilwatch's finding text
// must not land in the data file (the finding still goes into the results file).
//
//   stderr_reopened reopen|keep DATA_FILE
//
// reopen: close(2), then open DATA_FILE (fd 2). keep: fd 2 is left alone and DATA_FILE
// gets another fd (the twin: there the finding text does go to stderr). Either way the
// data file ends up holding exactly "data 1\ndata 2\n". Exits 0.
#include <fcntl.h>
#include <unistd.h>

#include "scenario_threads.h"

static pthread_mutex_t mutex_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mutex_b = PTHREAD_MUTEX_INITIALIZER;

SCENARIO_FRAME static void take_a_then_b(void) {
  scenario_check(pthread_mutex_lock(&mutex_a), "lock A");
  scenario_check(pthread_mutex_lock(&mutex_b), "lock B holding A");
  scenario_check(pthread_mutex_unlock(&mutex_b), "unlock B");
  scenario_check(pthread_mutex_unlock(&mutex_a), "unlock A");
}

SCENARIO_FRAME static void take_b_then_a(void) {
  scenario_check(pthread_mutex_lock(&mutex_b), "lock B");
  scenario_check(pthread_mutex_lock(&mutex_a), "lock A holding B");
  scenario_check(pthread_mutex_unlock(&mutex_a), "unlock A");
  scenario_check(pthread_mutex_unlock(&mutex_b), "unlock B");
}

static void* first_thread(void* unused) {
  (void)unused;
  take_a_then_b();
  return NULL;
}

static void* second_thread(void* unused) {
  (void)unused;
  take_b_then_a();
  return NULL;
}

static void put(int fd, const char* text) {
  if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) exit(3);
}

int main(int argc, char** argv) {
  if (argc != 3 || (strcmp(argv[1], "reopen") != 0 && strcmp(argv[1], "keep") != 0)) {
    fprintf(stderr, "usage: stderr_reopened reopen|keep DATA_FILE\n");
    return 2;
  }
  int reopen = strcmp(argv[1], "reopen") == 0;
  if (reopen) close(2);
  int data = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (data < 0 || (reopen && data != 2)) return 4;
  put(data, "data 1\n");
  scenario_run_thread(first_thread, NULL, "first-a-then-b");
  scenario_run_thread(second_thread, NULL, "second-b-then-a");
  put(data, "data 2\n");
  return 0;
}
