// stack_capture: raw return addresses of the calling thread, innermost first, with the
// preload's own frames dropped. Symbolization happens later, in the `gilwatch` command.
#pragma once

#include <cstdint>

namespace gilwatch::preload {

// Records where this library's code lives, so its frames can be skipped. Call once at
// start-up; also warms the unwinder so its first real use does not allocate.
void init_stack_capture();

// Fills up to `max` addresses; returns how many. With `cfa`, also each frame's canonical
// frame address (the caller's stack pointer before the call: the frame's locals lie below
// it and above the CFA of the frame inside it), so that an address on the stack can be
// told which frame holds it.
uint32_t capture_native_stack(uintptr_t* out, uint32_t max, uintptr_t* cfa = nullptr);

bool address_in_self(uintptr_t pc);

}  // namespace gilwatch::preload
