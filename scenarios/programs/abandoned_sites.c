// Threads that end holding a lock, run from one thread function, so what tells their
// findings apart is where each lock was taken, not where each thread ended.
//
//   abandoned_sites two-sites   one thread abandons the stats lock (taken in
//                               take_stats_and_forget), another the journal lock (taken
//                               in take_journal_and_forget): two bugs, two abandoned-lock
//                               findings.
//   abandoned_sites same-site   two threads each abandon their own slot lock, both taken
//                               in take_slot_and_forget: one bug seen twice, one finding
//                               counted twice.
//
// Main only tries the locks afterwards, so nothing hangs; it prints one line and exits 0.
// Twin: thread_exit_clean.c.
#include "scenario_threads.h"

pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t journal_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t slot_locks[2] = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER};

SCENARIO_FRAME void take_stats_and_forget(void) { scenario_check(pthread_mutex_lock(&stats_lock), "lock stats"); }

SCENARIO_FRAME void take_journal_and_forget(void) {
  scenario_check(pthread_mutex_lock(&journal_lock), "lock journal");
}

SCENARIO_FRAME void take_slot_and_forget(int slot) {
  scenario_check(pthread_mutex_lock(&slot_locks[slot]), "lock slot");
}

enum job { kStats, kJournal, kSlot0, kSlot1 };

// Every thread runs this one function and returns from it holding what it took.
static void* worker(void* arg) {
  switch ((enum job)(long)arg) {
    case kStats: take_stats_and_forget(); break;
    case kJournal: take_journal_and_forget(); break;
    case kSlot0: take_slot_and_forget(0); break;
    case kSlot1: take_slot_and_forget(1); break;
  }
  return NULL;
}

static const char* state(pthread_mutex_t* lock) {
  return pthread_mutex_trylock(lock) == 0 ? "free" : "abandoned";
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "two-sites") == 0) {
    scenario_run_thread(worker, (void*)(long)kStats, "stats");
    scenario_run_thread(worker, (void*)(long)kJournal, "journal");
    printf("abandoned_sites (two-sites): stats lock %s, journal lock %s\n", state(&stats_lock), state(&journal_lock));
  } else if (strcmp(mode, "same-site") == 0) {
    scenario_run_thread(worker, (void*)(long)kSlot0, "slot-0");
    scenario_run_thread(worker, (void*)(long)kSlot1, "slot-1");
    printf("abandoned_sites (same-site): slot 0 %s, slot 1 %s\n", state(&slot_locks[0]), state(&slot_locks[1]));
  } else {
    fprintf(stderr, "usage: abandoned_sites two-sites|same-site\n");
    return 2;
  }
  return 0;
}
