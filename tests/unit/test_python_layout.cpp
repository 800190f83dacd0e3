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

namespace {

// A frame object and its interpreter frame as the layout places them, in zeroed memory.
struct FakeFrames {
  alignas(8) unsigned char frame_object[64] = {};
  alignas(8) unsigned char frame[96] = {};
  alignas(8) unsigned char caller[96] = {};  // `previous`: the loop's entry frame or a Python caller
  FakeFrames(const gilwatch::FrameEntryLayout& layout, bool back_pointer = true) {
    const void* f = frame;
    const void* object = back_pointer ? static_cast<const void*>(frame_object) : caller;
    std::memcpy(frame_object + layout.frame_object_to_frame, &f, sizeof(f));
    std::memcpy(frame + layout.frame_to_frame_object, &object, sizeof(object));
    if (layout.marker == gilwatch::FrameEntryLayout::Marker::kPreviousOwner) {
      const void* previous = caller;
      std::memcpy(frame + layout.previous, &previous, sizeof(previous));
    }
  }
};

}  // namespace

TEST_CASE("where a Python frame was entered: known for 3.11-3.15 release builds only", "[python_layout]") {
  using gilwatch::frame_entry_layout;
  using Marker = gilwatch::FrameEntryLayout::Marker;
  CHECK(frame_entry_layout(3, 10, false).marker == Marker::kUnknown);
  CHECK(frame_entry_layout(3, 16, false).marker == Marker::kUnknown);
  CHECK(frame_entry_layout(3, 14, true).marker == Marker::kUnknown);
  CHECK(frame_entry_layout(3, 11, false).marker == Marker::kEntryFlag);
  for (int minor : {12, 13, 14, 15}) CHECK(frame_entry_layout(3, minor, false).marker == Marker::kPreviousOwner);
  CHECK(frame_entry_layout(3, 13, false).owner == 70);
  CHECK(frame_entry_layout(3, 14, false).owner == 74);
  unsigned char anything[64] = {};
  CHECK(gilwatch::frame_entry(frame_entry_layout(3, 10, false), anything) == gilwatch::FrameEntry::kUnknown);
}

TEST_CASE("3.11: the frame's own is_entry flag says a C call began it", "[python_layout]") {
  auto layout = gilwatch::frame_entry_layout(3, 11, false);
  FakeFrames fake(layout);
  CHECK(gilwatch::frame_entry(layout, fake.frame_object) == gilwatch::FrameEntry::kInline);
  fake.frame[layout.entry_flag] = 1;
  CHECK(gilwatch::frame_entry(layout, fake.frame_object) == gilwatch::FrameEntry::kFromC);
  FakeFrames no_back_pointer(layout, false);
  no_back_pointer.frame[layout.entry_flag] = 1;
  CHECK(gilwatch::frame_entry(layout, no_back_pointer.frame_object) == gilwatch::FrameEntry::kUnknown);
}

TEST_CASE("3.12+: a frame whose previous is the loop's entry frame (owner 3 or more) was begun by C",
          "[python_layout]") {
  for (int minor : {12, 13, 14, 15}) {
    INFO("3." << minor);
    auto layout = gilwatch::frame_entry_layout(3, minor, false);
    FakeFrames fake(layout);
    for (unsigned char python_owner : {0, 1, 2}) {  // thread, generator, frame object
      fake.caller[layout.owner] = python_owner;
      CHECK(gilwatch::frame_entry(layout, fake.frame_object) == gilwatch::FrameEntry::kInline);
    }
    fake.caller[layout.owner] = 3;  // FRAME_OWNED_BY_CSTACK (3.12, 3.13), _INTERPRETER (3.14+)
    CHECK(gilwatch::frame_entry(layout, fake.frame_object) == gilwatch::FrameEntry::kFromC);
    fake.caller[layout.owner] = 4;  // 3.14's FRAME_OWNED_BY_CSTACK
    CHECK(gilwatch::frame_entry(layout, fake.frame_object) == gilwatch::FrameEntry::kFromC);
    FakeFrames outermost(layout);
    std::memset(outermost.frame + layout.previous, 0, sizeof(void*));
    CHECK(gilwatch::frame_entry(layout, outermost.frame_object) == gilwatch::FrameEntry::kFromC);
    FakeFrames no_back_pointer(layout, false);
    no_back_pointer.caller[layout.owner] = 3;
    CHECK(gilwatch::frame_entry(layout, no_back_pointer.frame_object) == gilwatch::FrameEntry::kUnknown);
  }
}

TEST_CASE("3.12+: the loop's entry frame of a Python frame is found along its previous chain", "[python_layout]") {
  auto layout = gilwatch::frame_entry_layout(3, 14, false);
  FakeFrames fake(layout);  // frame -> caller (a Python frame) -> shim (the loop's entry frame)
  alignas(8) unsigned char shim[96] = {};
  shim[layout.owner] = 3;
  const void* to_shim = shim;
  std::memcpy(fake.caller + layout.previous, &to_shim, sizeof(to_shim));
  CHECK(gilwatch::frame_loop_entry(layout, fake.frame_object) == static_cast<const void*>(shim));
  fake.caller[layout.owner] = 3;  // the caller is itself the entry frame
  CHECK(gilwatch::frame_loop_entry(layout, fake.frame_object) == static_cast<const void*>(fake.caller));
  std::memset(fake.caller + layout.previous, 0, sizeof(void*));
  fake.caller[layout.owner] = 0;  // a chain that ends without one
  CHECK(gilwatch::frame_loop_entry(layout, fake.frame_object) == nullptr);
  CHECK(gilwatch::frame_loop_entry(gilwatch::frame_entry_layout(3, 11, false), fake.frame_object) == nullptr);
}

TEST_CASE("a stack address belongs to the innermost native frame whose CFA is above it", "[python_layout]") {
  uintptr_t cfa[] = {0x1000, 0x1100, 0x1400};
  CHECK(gilwatch::native_frame_holding(cfa, 3, 0x0f00) == 0);
  CHECK(gilwatch::native_frame_holding(cfa, 3, 0x1000) == 1);
  CHECK(gilwatch::native_frame_holding(cfa, 3, 0x13f8) == 2);
  CHECK(gilwatch::native_frame_holding(cfa, 3, 0x1400) == 3);
}
