#pragma once

// Running a command to completion in a test (systemd-analyze, cpack, dpkg). Test-only code.

#include <chrono>
#include <string>
#include <vector>

namespace flinkguard::testing {

struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal, or still running after the limit (then killed)
  std::string output;  // stdout and stderr, interleaved
};

// Runs `argv` with its output in a file under `dir`, waiting at most `limit`. `env` entries
// ("K=V") are added to the inherited environment.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& dir,
                         std::chrono::seconds limit = std::chrono::seconds(60),
                         const std::vector<std::string>& env = {});

}  // namespace flinkguard::testing
