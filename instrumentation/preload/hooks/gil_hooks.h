#pragma once

#include "got_patcher.h"

namespace gilwatch::preload {

// Patches every loaded extension module's GIL calls, and the interpreter's dlopen, once
// an interpreter is present. Safe to call repeatedly (after each dlopen).
void install_gil_hooks();

}  // namespace gilwatch::preload
