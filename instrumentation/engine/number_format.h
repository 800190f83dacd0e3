// Integer formatting without stdio, for code that runs inside the process under test
// (JSON writer, stderr reports, file names).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gilwatch {

// Writes the digits of v into out (at least 20 bytes), returns how many; no terminator.
inline std::size_t format_decimal(uint64_t v, char* out) {
  char tmp[20];
  std::size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  for (std::size_t i = 0; i < n; ++i) out[i] = tmp[n - 1 - i];
  return n;
}

// Writes lowercase hex digits of v (no "0x") into out (at least 16 bytes).
inline std::size_t format_hex(uint64_t v, char* out) {
  char tmp[16];
  std::size_t n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  for (std::size_t i = 0; i < n; ++i) out[i] = tmp[n - 1 - i];
  return n;
}

}  // namespace gilwatch
