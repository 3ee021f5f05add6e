#pragma once

namespace flinkguard {

// Parses the command line and runs the chosen subcommand. Returns the process exit code:
// 0 success, 1 a reported failure (invalid config, failed action), 2 bad usage.
// Never throws.
int RunCli(int argc, char** argv);

}  // namespace flinkguard
