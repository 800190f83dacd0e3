// output_lock: one gilwatch at a time per output directory. `run` and `stress` delete the
// results of an earlier run before they start and merge everything in the directory when
// they end, so two at once would destroy each other's results. Each holds
// DIR/.gilwatch.lock with flock(LOCK_EX) for as long as it runs, its pid written inside
// for the message of the one refused. The kernel releases a flock when its holder dies,
// however it dies, so a lock file left by a killed gilwatch never blocks the next one.
#pragma once

#include <string>
#include <sys/types.h>

namespace gilwatch::harness {

inline constexpr const char* kOutputLockFile = ".gilwatch.lock";

class OutputDirectoryLock {
 public:
  OutputDirectoryLock() = default;
  OutputDirectoryLock(const OutputDirectoryLock&) = delete;
  OutputDirectoryLock& operator=(const OutputDirectoryLock&) = delete;
  ~OutputDirectoryLock();

  // Takes the lock of `dir` (an existing directory), without waiting. On failure, *error
  // names the directory and, when another gilwatch holds it, that gilwatch's pid.
  bool acquire(const std::string& dir, std::string* error);

 private:
  int fd_ = -1;
};

// Whether a live gilwatch holds the lock of `dir`; its pid in *holder (0 when unknown).
// Takes nothing and creates nothing.
bool output_directory_in_use(const std::string& dir, pid_t* holder);

}  // namespace gilwatch::harness
