#include "agent/cli.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "agent/version.h"

namespace flinkguard {

int RunCli(int argc, char** argv) {
  CLI::App app{"flinkguard: monitoring and auto-recovery agent for Apache Flink", "flinkguard"};
  app.set_version_flag("--version", std::string("flinkguard ") + kVersion + " (" + kGitRevision + ")");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}

}  // namespace flinkguard
