#include "tests/packaging/command.h"

#include <sys/wait.h>

#include <thread>

#include "tests/support/test_support.h"

namespace flinkguard::testing {

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& dir,
                         std::chrono::seconds limit, const std::vector<std::string>& env) {
  static int sequence = 0;
  const std::string log = dir + "/command-" + std::to_string(++sequence) + ".log";
  ChildProcess child = ChildProcess::Start(argv, log, env);
  const auto until = std::chrono::steady_clock::now() + limit;
  while (child.Running() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const bool ended = !child.Running();
  const int status = child.Stop();  // the exit status when it ended; killed when it did not
  CommandResult r;
  r.output = child.Log();
  if (ended && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

}  // namespace flinkguard::testing
