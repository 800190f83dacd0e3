#include "gilwatch/options.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace gilwatch {

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

bool parse_hang_signal(const char* value, int* out, char* error, std::size_t error_size) {
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
  *out = sig;
  return true;
}

}  // namespace

// The parser's table: one row per GILWATCH_OPTION of options.def, in its order.
#define GILWATCH_OPTION_TYPE_int OptionType::Int, "int"
#define GILWATCH_OPTION_TYPE_u64 OptionType::U64, "int"
#define GILWATCH_OPTION_TYPE_bool OptionType::Bool, "bool"
#define GILWATCH_OPTION_TYPE_path OptionType::Path, "path"
#define GILWATCH_OPTION_ROW(type, kind, key, def, lo, hi, parse, help) \
  {#key, kind, help, type, offsetof(Options, key), lo, hi, parse, #def},
#define GILWATCH_OPTION_EXPAND(...) GILWATCH_OPTION_ROW(__VA_ARGS__)
#define GILWATCH_OPTION(type, key, def, lo, hi, parse, help, ...) \
  GILWATCH_OPTION_EXPAND(GILWATCH_OPTION_TYPE_##type, key, def, lo, hi, parse, help)
const OptionInfo kOptionTable[kOptionCount] = {
#include "gilwatch/options.def"
};
#undef GILWATCH_OPTION_EXPAND
#undef GILWATCH_OPTION_ROW

const OptionInfo* find_option(const char* key) {
  for (const OptionInfo& row : kOptionTable)
    if (!std::strcmp(row.key, key)) return &row;
  return nullptr;
}

namespace {

bool apply(const char* key, const char* value, Options* out, char* error, std::size_t error_size) {
  const OptionInfo* row = find_option(key);
  if (!row) {
    set_error(error, error_size, "GILWATCH_OPTIONS: unknown option '%s'%s", key, "");
    return false;
  }
  char* member = reinterpret_cast<char*>(out) + row->offset;
  bool ok = true;
  switch (row->type) {
    case OptionType::Path:
      if (std::strlen(value) >= sizeof(out->out_dir)) {
        set_error(error, error_size, "GILWATCH_OPTIONS: %s is longer than 1023 characters%s", key, "");
        return false;
      }
      std::strcpy(member, value);
      return true;
    case OptionType::Int:
      if (row->parse) return row->parse(value, reinterpret_cast<int*>(member), error, error_size);
      ok = parse_int(value, static_cast<int>(row->lo), static_cast<int>(row->hi), reinterpret_cast<int*>(member));
      break;
    case OptionType::Bool:
      ok = parse_bool(value, reinterpret_cast<bool*>(member));
      break;
    case OptionType::U64: {
      char* end = nullptr;
      ok = *value && *value != '-';
      unsigned long long v = ok ? std::strtoull(value, &end, 10) : 0;
      ok = ok && *end == '\0';
      if (ok) *reinterpret_cast<unsigned long long*>(member) = v;
      break;
    }
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
