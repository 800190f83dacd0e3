#include "python_layout.h"

#include <cstdint>
#include <cstring>

namespace gilwatch {

std::size_t finalizing_tstate_offset(int major, int minor, const unsigned char* runtime) {
  if (major != 3 || !runtime) return 0;
  if (minor >= 8 && minor <= 10) return 16;
  if (minor == 11 || minor == 12) return 24;
  if (minor < 13) return 0;
  if (std::memcmp(runtime, "xdebugpy", 8) != 0) return 0;
  uint64_t size, finalizing;
  std::memcpy(&size, runtime + 24, sizeof(size));
  std::memcpy(&finalizing, runtime + 32, sizeof(finalizing));
  if (finalizing < kRuntimeHeaderBytes || finalizing % alignof(void*) != 0 || finalizing + sizeof(void*) > size)
    return 0;
  return std::size_t(finalizing);
}

}  // namespace gilwatch
