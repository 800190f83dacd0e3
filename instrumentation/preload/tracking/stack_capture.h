// stack_capture: raw return addresses of the calling thread, innermost first, with the
// preload's own frames dropped. Symbolization happens later, in the `gilwatch` command.
#pragma once

#include <cstdint>

namespace gilwatch::preload {

// Records where this library's code lives, so its frames can be skipped. Call once at
// start-up; also warms the unwinder so its first real use does not allocate.
void init_stack_capture();

// Fills up to `max` addresses; returns how many.
uint32_t capture_native_stack(uintptr_t* out, uint32_t max);

bool address_in_self(uintptr_t pc);

}  // namespace gilwatch::preload
