// gilwatch options: parsed from GILWATCH_OPTIONS ("key=value:key=value", the sanitizer
// convention). The preload library parses them once at start-up; the `gilwatch` command
// builds the same string from its flags (one flag per key), so both sides share this
// parser and its table of keys. The keys are the rows of gilwatch/options.def.
//
// The parser never allocates: it runs inside the process under test before main().
#pragma once

#include <cstddef>

namespace gilwatch {

// The options, one member per row of options.def (its comments document them), with the
// row's default.
struct Options {
#define GILWATCH_OPTION_FIELD_int(key, def) int key = def;
#define GILWATCH_OPTION_FIELD_u64(key, def) unsigned long long key = def;
#define GILWATCH_OPTION_FIELD_bool(key, def) bool key = def;
#define GILWATCH_OPTION_FIELD_path(key, def) char key[1024] = {};
#define GILWATCH_OPTION(type, key, def, lo, hi, parse, help, ...) GILWATCH_OPTION_FIELD_##type(key, def)
#include "gilwatch/options.def"
#undef GILWATCH_OPTION_FIELD_int
#undef GILWATCH_OPTION_FIELD_u64
#undef GILWATCH_OPTION_FIELD_bool
#undef GILWATCH_OPTION_FIELD_path
};

enum class OptionType { Int, U64, Bool, Path };

// Describes one recognised key: the parser's table (it never allocates), and the key list
// of `gilwatch --help`.
struct OptionInfo {
  const char* key;
  const char* kind;  // "path", "int", "bool"
  const char* help;
  OptionType type;
  std::size_t offset;  // of its member in Options
  long lo, hi;         // the range of an int
  // Replaces the range check of an int: parses `value` into *out, or writes why not into
  // `error` (naming the key and the value) and returns false.
  bool (*parse)(const char* value, int* out, char* error, std::size_t error_size);
  const char* default_text;  // DEFAULT as written in options.def
};

inline constexpr std::size_t kOptionCount = 0
#define GILWATCH_OPTION(...) +1
#include "gilwatch/options.def"
    ;
extern const OptionInfo kOptionTable[kOptionCount];

// The row of `key`, or null.
const OptionInfo* find_option(const char* key);

// Parses `text` into `out`, starting from whatever `out` already holds. On the first bad
// entry, writes a one-line message naming the key (and the value) into `error` and
// returns false; entries before it are applied. A null or empty text is valid.
bool parse_options(const char* text, Options* out, char* error, std::size_t error_size);

}  // namespace gilwatch
