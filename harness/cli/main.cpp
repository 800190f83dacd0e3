// gilwatch: the command. Everything testable lives in gilwatch_harness_core.
#include "cli.h"

int main(int argc, char** argv) { return gilwatch::harness::gilwatch_main(argc, argv); }
