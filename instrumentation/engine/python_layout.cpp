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

namespace {

template <class T>
T read_at(const void* base, std::size_t offset) {
  T value;
  std::memcpy(&value, static_cast<const unsigned char*>(base) + offset, sizeof(value));
  return value;
}

}  // namespace

FrameEntryLayout frame_entry_layout(int major, int minor, bool free_threaded) {
  FrameEntryLayout layout;
  if (major != 3 || free_threaded || minor < 11 || minor > 15) return layout;
  layout.frame_object_to_frame = 24;
  if (minor == 11) {
    layout.marker = FrameEntryLayout::Marker::kEntryFlag;
    layout.frame_to_frame_object = 40;
    layout.entry_flag = 68;
    return layout;
  }
  layout.marker = FrameEntryLayout::Marker::kPreviousOwner;
  layout.frame_to_frame_object = 48;
  layout.previous = 8;
  layout.owner = minor <= 13 ? 70 : 74;
  layout.c_stack_owner = 3;
  return layout;
}

namespace {

// The interpreter frame of `frame_object`, once it is seen to point back at the object
// (python_layout.h); null otherwise.
const void* checked_interpreter_frame(const FrameEntryLayout& layout, const void* frame_object) {
  if (layout.marker == FrameEntryLayout::Marker::kUnknown || !frame_object) return nullptr;
  auto* frame = read_at<const void*>(frame_object, layout.frame_object_to_frame);
  if (!frame || read_at<const void*>(frame, layout.frame_to_frame_object) != frame_object) return nullptr;
  return frame;
}

// 3.12+: whether `frame` is the eval loop's own entry frame on the C stack.
bool is_loop_entry_frame(const FrameEntryLayout& layout, const void* frame) {
  return read_at<unsigned char>(frame, layout.owner) >= layout.c_stack_owner;
}

}  // namespace

FrameEntry frame_entry(const FrameEntryLayout& layout, const void* frame_object) {
  const void* frame = checked_interpreter_frame(layout, frame_object);
  if (!frame) return FrameEntry::kUnknown;
  if (layout.marker == FrameEntryLayout::Marker::kEntryFlag)
    return read_at<unsigned char>(frame, layout.entry_flag) ? FrameEntry::kFromC : FrameEntry::kInline;
  auto* previous = read_at<const void*>(frame, layout.previous);
  // The outermost frame of a thread has no previous: a C caller began it.
  return !previous || is_loop_entry_frame(layout, previous) ? FrameEntry::kFromC : FrameEntry::kInline;
}

const void* frame_loop_entry(const FrameEntryLayout& layout, const void* frame_object) {
  if (layout.marker != FrameEntryLayout::Marker::kPreviousOwner) return nullptr;
  const void* frame = checked_interpreter_frame(layout, frame_object);
  for (int steps = 0; frame && steps < kMaxFrameChain; ++steps) {
    frame = read_at<const void*>(frame, layout.previous);
    if (frame && is_loop_entry_frame(layout, frame)) return frame;
  }
  return nullptr;
}

uint32_t native_frame_holding(const uintptr_t* cfa, uint32_t count, uintptr_t local) {
  for (uint32_t i = 0; i < count; ++i)
    if (local < cfa[i]) return i;
  return count;
}

}  // namespace gilwatch

