#include "panic_verdict.h"

#include "gilwatch/result_format.h"
#include "panic_rules.h"

namespace gilwatch::harness {

bool native_thread_panic_stands(const report::Finding& f) {
  for (const report::Thread& t : f.threads) {
    if (t.role != result_format::kRoleNativePanicCaught) continue;
    bool named = false, inside = false;
    for (const report::NativeFrame& frame : t.native_frames) {
      named = named || is_catch_frame(frame.function.c_str());
      inside = inside || is_thread_function_frame(frame.function.c_str());
    }
    return native_panic_is_finding(named, inside);
  }
  return false;
}

}  // namespace gilwatch::harness
