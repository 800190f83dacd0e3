#include "gilwatch/options.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace gilwatch {

const OptionInfo kOptionTable[] = {
    {"out_dir", "path", "directory for this process's results file (gilwatch run sets it)"},
    {"exitcode", "int", "exit status forced at exit when findings were reported; 0 keeps the program's"},
    {"report_stderr", "bool", "print each finding on stderr as it is found"},
    {"python_frames", "bool", "capture Python frames of GIL holders on new lock-order edges"},
    {"stack_depth", "int", "deepest native stack captured per edge, 1..64"},
    {"verbosity", "int", "0 findings only, 1 start/exit notes, 2 debugging"},
    {"deadlock_ms", "int", "report a wait-for cycle once its threads were blocked this long (ms), 50..60000"},
    {"deadlock_exitcode", "int", "exit status after a deadlock is reported; 0 keeps the process waiting"},
    {"gil_blocking_ms", "int", "report waits with the GIL held that last this long (ms), 1..60000"},
    {"capi_checks", "bool", "check extension calls into the C API for a held GIL"},
    {"hang_signal", "int",
     "signal that makes the process report a hang with all its threads' stacks, 1..64 but not one that cannot be "
     "caught, that faults raise, that libc keeps or that ordinary events send; 0 off"},
    {"perturb_us", "int", "random delays of up to this many microseconds at lock and GIL operations; 0 off"},
    {"seed", "int", "seed of the perturbation's random delays, 0..2^64-1"},
    {"profile", "bool", "profile the GIL (held/waited per thread) and lock contention (per lock and site)"},
    {"suppressions", "path", "KIND:PATTERN suppressions file, read by the gilwatch command (not the library)"},
};
const std::size_t kOptionCount = sizeof(kOptionTable) / sizeof(kOptionTable[0]);

namespace {

void set_error(char* error, std::size_t size, const char* fmt, const char* a, const char* b) {
  if (error && size) std::snprintf(error, size, fmt, a, b);
}

bool parse_int(const char* value, int lo, int hi, int* out) {
  if (!*value) return false;
  char* end = nullptr;
  long v = std::strtol(value, &end, 10);
  if (*end != '\0' || v < lo || v > hi) return false;
  *out = static_cast<int>(v);
  return true;
}

bool parse_bool(const char* value, bool* out) {
  if (!std::strcmp(value, "1") || !std::strcmp(value, "true") || !std::strcmp(value, "yes")) {
    *out = true;
    return true;
  }
  if (!std::strcmp(value, "0") || !std::strcmp(value, "false") || !std::strcmp(value, "no")) {
    *out = false;
    return true;
  }
  return false;
}

// Why `sig` cannot be the hang signal, or null when it can. The handler replaces the
// program's and answers every delivery with a report of all threads: a signal that
// cannot be caught never reaches it; one that a fault raises (or abort(), a trap, a
// bad system call) would turn a crash into an endless stream of hang reports; glibc
// keeps 32 and 33 for itself; and one the kernel sends for ordinary events (a child
// ended, a pipe closed, a terminal resized, a timer fired...) would report hangs that
// are none and take the signal from the program.
const char* hang_signal_refusal(int sig) {
  switch (sig) {
    case 9: case 19:  // SIGKILL, SIGSTOP
      return "SIGKILL and SIGSTOP cannot be caught";
    case 4: case 5: case 6: case 7: case 8: case 11: case 31:  // ILL TRAP ABRT BUS FPE SEGV SYS
      return "a fault, abort() or a trap raises it: a crash would become a stream of hang reports";
    case 32: case 33:
      return "glibc keeps it for its own use";
    case 13: case 14: case 17: case 18: case 20: case 21: case 22: case 23:  // PIPE ALRM CHLD CONT TSTP TTIN TTOU URG
    case 24: case 25: case 26: case 27: case 28: case 29:  // XCPU XFSZ VTALRM PROF WINCH IO
      return "the kernel sends it for ordinary events (a child's end, a closed pipe, a timer, the terminal)";
    default:
      return nullptr;
  }
}

bool apply(const char* key, const char* value, Options* out, char* error, std::size_t error_size) {
  if (!std::strcmp(key, "out_dir") || !std::strcmp(key, "suppressions")) {
    char* path = !std::strcmp(key, "out_dir") ? out->out_dir : out->suppressions;
    static_assert(sizeof(out->out_dir) == sizeof(out->suppressions));
    if (std::strlen(value) >= sizeof(out->out_dir)) {
      set_error(error, error_size, "GILWATCH_OPTIONS: %s is longer than 1023 characters%s", key, "");
      return false;
    }
    std::strcpy(path, value);
    return true;
  }
  bool ok = true;
  if (!std::strcmp(key, "exitcode")) {
    ok = parse_int(value, 0, 255, &out->exitcode);
  } else if (!std::strcmp(key, "report_stderr")) {
    ok = parse_bool(value, &out->report_stderr);
  } else if (!std::strcmp(key, "python_frames")) {
    ok = parse_bool(value, &out->python_frames);
  } else if (!std::strcmp(key, "stack_depth")) {
    ok = parse_int(value, 1, 64, &out->stack_depth);
  } else if (!std::strcmp(key, "verbosity")) {
    ok = parse_int(value, 0, 2, &out->verbosity);
  } else if (!std::strcmp(key, "deadlock_ms")) {
    ok = parse_int(value, 50, 60000, &out->deadlock_ms);
  } else if (!std::strcmp(key, "deadlock_exitcode")) {
    ok = parse_int(value, 0, 255, &out->deadlock_exitcode);
  } else if (!std::strcmp(key, "gil_blocking_ms")) {
    ok = parse_int(value, 1, 60000, &out->gil_blocking_ms);
  } else if (!std::strcmp(key, "capi_checks")) {
    ok = parse_bool(value, &out->capi_checks);
  } else if (!std::strcmp(key, "hang_signal")) {
    int sig = 0;
    if (!parse_int(value, 0, 64, &sig)) {
      if (error && error_size)
        std::snprintf(error, error_size, "GILWATCH_OPTIONS: bad value '%s' for hang_signal: a signal number 1..64, "
                      "or 0 for none", value);
      return false;
    }
    if (const char* why = hang_signal_refusal(sig)) {
      if (error && error_size)
        std::snprintf(error, error_size, "GILWATCH_OPTIONS: hang_signal=%s cannot serve: %s", value, why);
      return false;
    }
    out->hang_signal = sig;
  } else if (!std::strcmp(key, "perturb_us")) {
    ok = parse_int(value, 0, 100000, &out->perturb_us);
  } else if (!std::strcmp(key, "profile")) {
    ok = parse_bool(value, &out->profile);
  } else if (!std::strcmp(key, "seed")) {
    char* end = nullptr;
    ok = *value && *value != '-';
    unsigned long long v = ok ? std::strtoull(value, &end, 10) : 0;
    ok = ok && *end == '\0';
    if (ok) out->seed = v;
  } else {
    set_error(error, error_size, "GILWATCH_OPTIONS: unknown option '%s'%s", key, "");
    return false;
  }
  if (!ok) set_error(error, error_size, "GILWATCH_OPTIONS: bad value '%s' for %s", value, key);
  return ok;
}

}  // namespace

bool parse_options(const char* text, Options* out, char* error, std::size_t error_size) {
  if (error && error_size) error[0] = '\0';
  if (!text) return true;
  // Entries are copied into a fixed buffer one at a time: no allocation, and the
  // caller's string (often the environment itself) is left untouched.
  char entry[1200];
  const char* p = text;
  while (*p) {
    const char* end = std::strchr(p, ':');
    std::size_t len = end ? static_cast<std::size_t>(end - p) : std::strlen(p);
    if (len == 0) {
      p += end ? 1 : 0;
      if (!end) break;
      continue;
    }
    if (len >= sizeof(entry)) {
      set_error(error, error_size, "GILWATCH_OPTIONS: entry starting '%.40s' is too long%s", p, "");
      return false;
    }
    std::memcpy(entry, p, len);
    entry[len] = '\0';
    char* eq = std::strchr(entry, '=');
    if (!eq) {
      set_error(error, error_size, "GILWATCH_OPTIONS: '%s' is not key=value%s", entry, "");
      return false;
    }
    *eq = '\0';
    if (!apply(entry, eq + 1, out, error, error_size)) return false;
    if (!end) break;
    p = end + 1;
  }
  return true;
}

}  // namespace gilwatch
