#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>

#include "python_layout.h"

using gilwatch::finalizing_tstate_offset;

namespace {

// The start of a 3.13+ _PyRuntime: _Py_DebugOffsets' cookie, version, free_threaded,
// runtime_state.size and runtime_state.finalizing.
struct DebugHeader {
  unsigned char bytes[gilwatch::kRuntimeHeaderBytes] = {};
  DebugHeader(const char* cookie, uint64_t size, uint64_t finalizing) {
    std::memcpy(bytes, cookie, 8);
    std::memcpy(bytes + 24, &size, 8);
    std::memcpy(bytes + 32, &finalizing, 8);
  }
};

}  // namespace

TEST_CASE("the finalizing thread state's place: the headers' offsets through 3.12", "[python_layout]") {
  unsigned char zeros[gilwatch::kRuntimeHeaderBytes] = {};
  CHECK(finalizing_tstate_offset(3, 8, zeros) == 16);
  CHECK(finalizing_tstate_offset(3, 9, zeros) == 16);
  CHECK(finalizing_tstate_offset(3, 10, zeros) == 16);
  CHECK(finalizing_tstate_offset(3, 11, zeros) == 24);
  CHECK(finalizing_tstate_offset(3, 12, zeros) == 24);
  CHECK(finalizing_tstate_offset(3, 7, zeros) == 0);
  CHECK(finalizing_tstate_offset(2, 7, zeros) == 0);
}

TEST_CASE("the finalizing thread state's place: from 3.13 as the runtime's debug offsets say", "[python_layout]") {
  DebugHeader cpython_313("xdebugpy", 283320, 608);  // as read from pyenv 3.13.0's _PyRuntime
  CHECK(finalizing_tstate_offset(3, 13, cpython_313.bytes) == 608);
  CHECK(finalizing_tstate_offset(3, 15, cpython_313.bytes) == 608);
  SECTION("without the cookie, or with an offset that cannot be, it is unknown") {
    DebugHeader no_cookie("nodebug!", 283320, 608);
    DebugHeader outside("xdebugpy", 600, 608);
    DebugHeader misaligned("xdebugpy", 283320, 609);
    DebugHeader inside_header("xdebugpy", 283320, 8);
    CHECK(finalizing_tstate_offset(3, 13, no_cookie.bytes) == 0);
    CHECK(finalizing_tstate_offset(3, 13, outside.bytes) == 0);
    CHECK(finalizing_tstate_offset(3, 13, misaligned.bytes) == 0);
    CHECK(finalizing_tstate_offset(3, 13, inside_header.bytes) == 0);
  }
}
