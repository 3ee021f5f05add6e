// `flinkguard run` as a process against a flinksim on 127.0.0.1: one agent per state_dir,
// SIGHUP reloads (an invalid config is refused and the old one kept), SIGTERM stops cleanly, and
// an unusable state_dir leaves an agent that observes but does not act, and says so.
// Every wait is bounded in time.

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <csignal>
#include <fstream>
#include <string>
#include <thread>

#include "tests/agent/observer/flinksim_process.h"

namespace flinkguard {
namespace {

using testing::ChildProcess;
using testing::FlinksimProcess;
using namespace std::chrono_literals;

void WriteConfig(const std::string& path, const std::string& rest, const std::string& state_dir,
                 const std::string& jar, const std::string& extra_rule = "") {
  std::ofstream out(path);
  out << "region: test\nagent:\n  poll_interval: 1s\n  state_dir: " << state_dir
      << "\nclusters:\n  - {name: cluster-a, url: \"" << rest
      << "\", timeout: 3s, connect_timeout: 1s}\njobs:\n  - name: job-0\n    cluster: cluster-a\n"
         "    jar: "
      << jar
      << "\nrules:\n  - {name: job-failed, when: \"status == FAILED\", action: recover, severity: "
         "critical}\n"
      << extra_rule;
}

// Waits (at most `limit`) until the process's log contains `text`.
bool WaitLog(ChildProcess& p, const std::string& text, std::chrono::milliseconds limit = 20s) {
  for (auto until = std::chrono::steady_clock::now() + limit;
       std::chrono::steady_clock::now() < until;) {
    if (p.Log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return p.Log().find(text) != std::string::npos;
}

TEST_CASE("run: one agent per state_dir; SIGHUP reloads or refuses; SIGTERM stops cleanly") {
  testing::TempDir dir("fg-daemon");
  FlinksimProcess sim("cluster-a", {"--jobs", "1", "--flink-version", "1.20"});
  REQUIRE(sim.WaitReady(1));
  const std::string config = dir.File("flinkguard.yaml");
  WriteConfig(config, sim.rest(), dir.path() + "/state", dir.File("job-0.jar"));

  ChildProcess agent =
      ChildProcess::Start({FLINKGUARD_BINARY, "run", "--config", config}, dir.File("agent.log"));
  REQUIRE(WaitLog(agent, "flinkguard running"));

  // A second agent on the same state_dir refuses to start.
  ChildProcess second =
      ChildProcess::Start({FLINKGUARD_BINARY, "run", "--config", config}, dir.File("second.log"));
  for (int i = 0; i < 200 && second.Running(); ++i) std::this_thread::sleep_for(50ms);
  const int second_status = second.Stop();
  CHECK(WIFEXITED(second_status));
  CHECK(WEXITSTATUS(second_status) == 1);
  CHECK(second.Log().find("only one agent may use a state_dir") != std::string::npos);

  // An invalid config on SIGHUP is refused; the agent keeps running.
  {
    std::ofstream bad(config);
    bad << "region: test\nclusters: 7\n";
  }
  agent.Signal(SIGHUP);
  CHECK(WaitLog(agent, "reload refused"));
  CHECK(agent.Running());
  // A valid one is taken.
  WriteConfig(config, sim.rest(), dir.path() + "/state", dir.File("job-0.jar"),
              "  - {name: extra, when: \"restarts > 100\", action: alert}\n");
  agent.Signal(SIGHUP);
  CHECK(WaitLog(agent, "reloaded"));
  CHECK(agent.Running());

  agent.Signal(SIGTERM);
  for (int i = 0; i < 200 && agent.Running(); ++i) std::this_thread::sleep_for(50ms);
  const int status = agent.Stop();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(agent.Log().find("flinkguard stopping") != std::string::npos);
}

TEST_CASE("run with an unusable state_dir observes and decides, but does not act, and says why") {
  testing::TempDir dir("fg-daemon");
  FlinksimProcess sim("cluster-a", {"--jobs", "1", "--flink-version", "1.20"});
  REQUIRE(sim.WaitReady(1));
  // state_dir below a regular file: it can be neither created nor written.
  { std::ofstream(dir.File("not-a-dir")) << "x"; }
  const std::string config = dir.File("flinkguard.yaml");
  WriteConfig(config, sim.rest(), dir.File("not-a-dir") + "/state", dir.File("job-0.jar"));
  ChildProcess agent =
      ChildProcess::Start({FLINKGUARD_BINARY, "run", "--config", config}, dir.File("agent.log"));
  REQUIRE(WaitLog(agent, "observing only and taking no action"));
  sim.Control("fail_job",
              R"({"job":"job-0","exception":"java.lang.RuntimeException: boom","terminal":true})");
  sim.Control("clear_requests");
  CHECK(WaitLog(agent, "does not act without it"));
  CHECK(agent.Running());
  const testing::HttpReply log = testing::HttpCall("GET", sim.rest() + "/_sim/requests");
  rapidjson::Document doc = testing::ParseJson(log.body);
  REQUIRE(doc.IsObject());
  CHECK(doc["requests"].GetArray().Size() == 0);
  agent.Stop();
}

}  // namespace
}  // namespace flinkguard
