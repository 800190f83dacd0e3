#include "panic_verdict.h"

#include "gilwatch/result_format.h"
#include "panic_rules.h"

namespace gilwatch::harness {

bool native_thread_panic_stands(const report::Finding& f) {
  for (const report::Thread& t : f.threads) {
    if (t.role != result_format::kRoleNativePanicCaught) continue;
    const std::vector<report::NativeFrame>& frames = t.native_frames;
    bool named = false, inside = false;
    std::size_t after_catch = 0;  // the first frame past the catch's own
    for (std::size_t i = 0; i < frames.size(); ++i) {
      if (is_catch_frame(frames[i].function.c_str())) {
        named = true;
        after_catch = i + 1;
      }
      inside = inside || is_thread_function_frame(frames[i].function.c_str());
    }
    // The catching function: that frame and its inlined levels (the same pc).
    bool by_thread_main = false;
    for (std::size_t i = after_catch; named && i < frames.size() && frames[i].pc == frames[after_catch].pc; ++i)
      by_thread_main = by_thread_main || is_thread_main_frame(frames[i].function.c_str());
    return native_panic_is_finding(named, inside, by_thread_main);
  }
  return false;
}

void word_native_thread_panic(report::Finding& f) {
  for (report::Thread& t : f.threads)
    if (t.role == result_format::kRoleNativePanicCaught) t.role = kRoleNativePanicCaughtByWrapper;
}

}  // namespace gilwatch::harness
