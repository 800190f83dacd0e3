// Prints where python_layout.h says the interpreter records a frame's entry, one line per
// version it knows (3.11-3.15), in the form tests/integration/test_frame_layout.py also
// prints from each version's own headers, so the two can be compared line by line.
#include <cstdio>

#include "python_layout.h"

int main() {
  for (int minor = 11; minor <= 15; ++minor) {
    gilwatch::FrameEntryLayout layout = gilwatch::frame_entry_layout(3, minor, false);
    std::printf("3.%d f_frame=%zu frame_obj=%zu", minor, layout.frame_object_to_frame, layout.frame_to_frame_object);
    if (layout.marker == gilwatch::FrameEntryLayout::Marker::kEntryFlag)
      std::printf(" is_entry=%zu\n", layout.entry_flag);
    else
      std::printf(" previous=%zu owner=%zu entry_owner=%d\n", layout.previous, layout.owner, layout.c_stack_owner);
  }
  return 0;
}
