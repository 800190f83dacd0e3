// One lock-order inversion on many instances of a per-object lock: 20 objects, each with
// its own mutex (made in object_new), and one shared registry lock.
//
//   per_object_locks inverted     an "update" thread, for each object, takes the
//                                 object's mutex and then the registry lock (publish);
//                                 then a "sweep" thread, for each object, takes the
//                                 registry lock and then the object's mutex. The same two
//                                 sites on 20 instances: one bug, one finding that lists
//                                 its instances.
//   per_object_locks consistent   the twin: the sweep takes the object's mutex first too.
//
// The two threads run one after the other, so nothing can hang; prints one line, exits 0.
#include "scenario_threads.h"

#define OBJECTS 20

struct object {
  pthread_mutex_t mutex;
  int value;
};

pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static int registry_total;
static struct object* objects[OBJECTS];

SCENARIO_FRAME struct object* object_new(int value) {
  struct object* o = (struct object*)calloc(1, sizeof(struct object));
  if (o == NULL) scenario_check(ENOMEM, "calloc");
  scenario_check(pthread_mutex_init(&o->mutex, NULL), "pthread_mutex_init");
  o->value = value;
  return o;
}

SCENARIO_FRAME void publish(struct object* o) {
  scenario_check(pthread_mutex_lock(&registry_lock), "lock registry");
  registry_total += o->value;
  scenario_check(pthread_mutex_unlock(&registry_lock), "unlock registry");
}

SCENARIO_FRAME void update_object(struct object* o) {
  scenario_check(pthread_mutex_lock(&o->mutex), "lock object");
  ++o->value;
  publish(o);
  scenario_check(pthread_mutex_unlock(&o->mutex), "unlock object");
}

// The bad order: the registry first, then each object.
SCENARIO_FRAME void sweep_object(struct object* o) {
  scenario_check(pthread_mutex_lock(&registry_lock), "lock registry");
  scenario_check(pthread_mutex_lock(&o->mutex), "lock object");
  o->value = 0;
  scenario_check(pthread_mutex_unlock(&o->mutex), "unlock object");
  scenario_check(pthread_mutex_unlock(&registry_lock), "unlock registry");
}

// The twin's order: each object, then the registry (through publish).
SCENARIO_FRAME void sweep_object_in_order(struct object* o) {
  scenario_check(pthread_mutex_lock(&o->mutex), "lock object");
  o->value = 0;
  publish(o);
  scenario_check(pthread_mutex_unlock(&o->mutex), "unlock object");
}

static void* update_all(void* unused) {
  (void)unused;
  for (int i = 0; i < OBJECTS; ++i) update_object(objects[i]);
  return NULL;
}

static void* sweep_all(void* in_order) {
  for (int i = 0; i < OBJECTS; ++i) {
    if (in_order)
      sweep_object_in_order(objects[i]);
    else
      sweep_object(objects[i]);
  }
  return NULL;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  int in_order = strcmp(mode, "consistent") == 0;
  if (!in_order && strcmp(mode, "inverted") != 0) {
    fprintf(stderr, "usage: per_object_locks inverted|consistent\n");
    return 2;
  }
  for (int i = 0; i < OBJECTS; ++i) objects[i] = object_new(i);
  scenario_run_thread(update_all, NULL, "update");
  scenario_run_thread(sweep_all, (void*)(long)in_order, "sweep");
  printf("per_object_locks (%s): %d objects done\n", mode, OBJECTS);
  return 0;
}
