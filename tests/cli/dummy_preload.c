/* A preload library that does nothing: lets `gilwatch run` be tested on its own, with
 * the results written by tests/cli/fake_process.py instead of libgilwatch.so. */
int gilwatch_cli_test_dummy_preload(void) { return 0; }
