#include "free_threading.h"

#include <cstring>

namespace gilwatch {

PythonThreading python_threading(int major, int minor, const unsigned char* runtime) {
  if (major != 3 || minor < 13 || !runtime) return PythonThreading::kGil;
  if (std::memcmp(runtime, "xdebugpy", 8) != 0) return PythonThreading::kGil;
  uint64_t free_threaded;
  std::memcpy(&free_threaded, runtime + 16, sizeof(free_threaded));
  return free_threaded == 1 ? PythonThreading::kFreeThreaded : PythonThreading::kGil;
}

bool check_applies(Check check, PythonThreading threading) {
  switch (check) {
    case Check::kGilLockOrder:
    case Check::kGilHeldBlocking:
    case Check::kCapiWithoutGil:
    case Check::kGilWaitFor:
    case Check::kGilProfile:
      return threading == PythonThreading::kGil;
    case Check::kCount:
      return false;
    default:
      return true;
  }
}

const char* check_name(Check check) {
  switch (check) {
    case Check::kNativeLockOrder: return "native-lock-order";
    case Check::kDeadlock: return "deadlock";
    case Check::kAbandonedLock: return "abandoned-lock";
    case Check::kFork: return "fork-with-lock-held";
    case Check::kLeaks: return "leaks";
    case Check::kContentionProfile: return "contention-profile";
    case Check::kFinalizationAttach: return "finalization-attach";
    case Check::kRustPanic: return "rust-panic";
    case Check::kGilLockOrder: return "gil-lock-order";
    case Check::kGilHeldBlocking: return "gil-held-blocking";
    case Check::kCapiWithoutGil: return "capi-without-gil";
    case Check::kGilWaitFor: return "gil-wait-for";
    case Check::kGilProfile: return "gil-profile";
    case Check::kCount: break;
  }
  return "";
}

const char* runtime_role_name(RuntimeRole role) {
  switch (role) {
    case RuntimeRole::kDetached: return "detached";
    case RuntimeRole::kAttached: return "attached";
    case RuntimeRole::kAttaching: return "attaching";
    case RuntimeRole::kStopRequested: return "stop-the-world requested";
    case RuntimeRole::kWorldStopped: return "world stopped";
  }
  return "unknown";
}

int add_runtime_edges(WaitGraph& graph, const RuntimeRole* roles) {
  int added = 0;
  for (int u = 0; u < graph.node_count(); ++u) {
    for (int v = 0; v < graph.node_count(); ++v) {
      if (u == v) continue;
      bool waits = (roles[u] == RuntimeRole::kStopRequested && roles[v] == RuntimeRole::kAttached) ||
                   (roles[u] == RuntimeRole::kAttaching &&
                    (roles[v] == RuntimeRole::kStopRequested || roles[v] == RuntimeRole::kWorldStopped));
      if (!waits) continue;
      if (!graph.add_edge(u, v)) return -1;
      ++added;
    }
  }
  return added;
}

}  // namespace gilwatch
