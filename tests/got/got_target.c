// The library whose function the test redirects. Its own call to got_target goes
// through its PLT (semantic interposition) and must NOT be redirected: the defining
// object is skipped.
int got_target(int x) { return x + 1; }
int got_target_called_internally(int x) { return got_target(x); }
