#include "output_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace gilwatch::harness {

namespace {

std::string lock_path(const std::string& dir) { return (std::filesystem::path(dir) / kOutputLockFile).string(); }

pid_t read_holder(int fd) {
  char text[32] = {};
  ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
  if (n <= 0) return 0;
  long pid = std::strtol(text, nullptr, 10);
  return pid > 0 ? pid_t(pid) : 0;
}

std::string in_use_message(const std::string& dir, pid_t holder) {
  return dir + " is in use by another gilwatch" + (holder > 0 ? " (pid " + std::to_string(holder) + ")" : "") +
         ", which writes its results there";
}

}  // namespace

OutputDirectoryLock::~OutputDirectoryLock() {
  if (fd_ >= 0) close(fd_);
}

bool OutputDirectoryLock::acquire(const std::string& dir, std::string* error) {
  std::string path = lock_path(dir);
  // Close-on-exec: the command under test must not hold the directory after gilwatch.
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = "cannot create " + path + ": " + std::strerror(errno);
    return false;
  }
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    if (err == EWOULDBLOCK)
      *error = in_use_message(dir, read_holder(fd));
    else
      *error = "cannot lock " + path + ": " + std::strerror(err);
    close(fd);
    return false;
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
    // The lock holds without the pid; only the message of a refused gilwatch is poorer.
  }
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
  return true;
}

bool output_directory_in_use(const std::string& dir, pid_t* holder) {
  *holder = 0;
  int fd = open(lock_path(dir).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;  // no gilwatch ever held it
  bool in_use = false;
  while (flock(fd, LOCK_SH | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    in_use = errno == EWOULDBLOCK;
    break;
  }
  if (in_use) *holder = read_holder(fd);
  close(fd);
  return in_use;
}

}  // namespace gilwatch::harness
