// A consumer of got_target. The build compiles this one file several ways so that the
// call reaches got_target through each kind of relocation slot.
int got_target(int x);

#ifdef GOT_CONSUMER_TABLE
// A function pointer in data: an R_X86_64_64 relocation. Not const, so the compiler
// cannot fold the load into a direct call.
int (*got_consumer_table[1])(int) = {got_target};
int got_consumer_call(int x) { return got_consumer_table[0](x); }
#else
int got_consumer_call(int x) { return got_target(x); }
#endif
