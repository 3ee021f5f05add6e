// The composition root: the only place where concrete implementations are chosen and wired.
#include "agent/cli.h"

int main(int argc, char** argv) { return flinkguard::RunCli(argc, argv); }
