#pragma once

#include <ostream>

#include "agent/config.h"

namespace flinkguard {

// What the command line works with besides its arguments. main() passes the process's own;
// tests pass string streams and a fake environment. Not owned; must outlive the RunCli call.
struct CliContext {
  std::ostream& out;             // results (summaries, --version, --help)
  std::ostream& err;             // problems and usage errors
  const ConfigEnvironment& env;  // environment variables (JOURNAL_STREAM, *_env secrets), host
  // Whether to install the spdlog default logger (SetupLogging); tests that only look at the
  // streams pass false.
  bool setup_logging = true;
};

// Parses the command line and runs the chosen subcommand:
//   flinkguard --version
//   flinkguard [--log-level LEVEL] check-config --config FILE [--print]
//   flinkguard [--log-level LEVEL] observe --config FILE [--once] [--json]
// Returns the process exit code: 0 success, 1 a reported failure (invalid or unreadable
// config), 2 bad usage (CLI11's message on `ctx.err`). Never throws.
int RunCli(int argc, const char* const* argv, const CliContext& ctx);

// RunCli on std::cout, std::cerr and SystemConfigEnvironment().
int RunCli(int argc, char** argv);

}  // namespace flinkguard
