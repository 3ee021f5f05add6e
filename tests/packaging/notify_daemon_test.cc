// `flinkguard run` under a stand-in service manager: NOTIFY_SOCKET points at a datagram socket
// this test binds, WATCHDOG_USEC is set, and flinksim plays the Flink cluster. READY=1 comes
// after the config, the history and the first cycle; STATUS= follows the region; WATCHDOG=1
// repeats; SIGHUP gives RELOADING=1 then READY=1 (also when the new config is refused); SIGTERM
// gives STOPPING=1. Every wait is bounded.

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "tests/agent/observer/flinksim_process.h"
#include "tests/packaging/notify_listener.h"

namespace flinkguard {
namespace {

using testing::ChildProcess;
using testing::Field;
using testing::FlinksimProcess;
using testing::HasLine;
using testing::NotifyListener;
using namespace std::chrono_literals;

void WriteConfig(const std::string& path, const std::string& rest, const std::string& state_dir,
                 const std::string& extra = "") {
  std::ofstream out(path);
  out << "region: test\nagent:\n  poll_interval: 1s\n  listen: 127.0.0.1:0\n  state_dir: "
      << state_dir << "\nclusters:\n  - {name: cluster-a, url: \"" << rest
      << "\", timeout: 2s, connect_timeout: 1s}\n"
      << extra;
}

// The STATUS= values among `messages`.
std::vector<std::string> Statuses(const std::vector<std::string>& messages) {
  std::vector<std::string> out;
  for (const std::string& m : messages) {
    if (auto s = Field(m, "STATUS")) out.push_back(*s);
  }
  return out;
}

TEST_CASE("run notifies systemd: READY after the first cycle, STATUS, WATCHDOG, reload, stop") {
  testing::TempDir dir("fg-notify");
  FlinksimProcess sim("cluster-a", {"--jobs", "2", "--flink-version", "1.20"});
  REQUIRE(sim.WaitReady(2));
  const std::string config = dir.File("flinkguard.yaml");
  const std::string state = dir.path() + "/state";
  WriteConfig(config, sim.rest(), state);
  NotifyListener manager(dir.File("notify.sock"));

  ChildProcess agent =
      ChildProcess::Start({FLINKGUARD_BINARY, "run", "--config", config}, dir.File("agent.log"),
                          {"NOTIFY_SOCKET=" + manager.path(), "WATCHDOG_USEC=2000000"});

  // READY=1 is the first message, and its status already counts the jobs the first cycle saw.
  std::vector<std::string> before;
  std::optional<std::string> ready = manager.WaitFor("READY=1", 30s, &before);
  REQUIRE_MESSAGE(ready, agent.Log());
  CHECK(before.empty());
  CHECK(Field(*ready, "STATUS") == "leader, 2 jobs, 0 recoveries in progress");
  CHECK(std::filesystem::exists(state + "/history.db"));
  CHECK(agent.Log().find("flinkguard running") != std::string::npos);

  // WATCHDOG=1 repeats (WatchdogSec=2s: at most every 500 ms, at least once per loop pass).
  int pings = 0;
  std::vector<std::string> other;
  for (int i = 0; i < 100 && pings < 3; ++i) {
    std::optional<std::string> m = manager.Next(3s);
    REQUIRE_MESSAGE(m, "no notification for 3 s; watchdog pings so far: " << pings);
    if (*m == "WATCHDOG=1") {
      ++pings;
    } else {
      other.push_back(*m);
    }
  }
  CHECK(pings == 3);

  // The cluster goes away: the status says so; it comes back: the status follows.
  sim.Control("cluster_down", R"({"mode":"refuse"})");
  std::optional<std::string> down;
  for (int i = 0; i < 200 && !down; ++i) {
    std::optional<std::string> m = manager.Next(5s);
    REQUIRE(m);
    if (auto s = Field(*m, "STATUS"); s && s->find("1 of 1 clusters unreachable") != s->npos) {
      down = s;
    }
  }
  REQUIRE(down);
  CHECK(down->rfind("leader, ", 0) == 0);
  sim.Control("cluster_up");
  std::optional<std::string> up;
  for (int i = 0; i < 200 && !up; ++i) {
    std::optional<std::string> m = manager.Next(5s);
    REQUIRE(m);
    if (auto s = Field(*m, "STATUS"); s && *s == "leader, 2 jobs, 0 recoveries in progress") up = s;
  }
  CHECK(up);

  // SIGHUP with a valid config: RELOADING=1, then READY=1.
  WriteConfig(config, sim.rest(), state,
              "rules:\n  - {name: job-failed, when: \"status == FAILED\", action: alert}\n");
  agent.Signal(SIGHUP);
  before.clear();
  std::optional<std::string> reloading = manager.WaitFor("RELOADING=1", 10s, &before);
  REQUIRE(reloading);
  CHECK(Field(*reloading, "MONOTONIC_USEC").has_value());
  before.clear();
  ready = manager.WaitFor("READY=1", 10s, &before);
  REQUIRE(ready);
  CHECK(Field(*ready, "STATUS") == "reloaded " + config);
  CHECK(Statuses(before).empty());  // nothing else happened in between
  CHECK(agent.Log().find("reloaded " + config) != std::string::npos);

  // SIGHUP with an invalid config: refused, yet the reload ends with READY=1 and says so.
  { std::ofstream(config) << "region: test\nclusters: 7\n"; }
  agent.Signal(SIGHUP);
  REQUIRE(manager.WaitFor("RELOADING=1", 10s));
  ready = manager.WaitFor("READY=1", 10s);
  REQUIRE(ready);
  const std::optional<std::string> refused = Field(*ready, "STATUS");
  REQUIRE(refused);
  CHECK(refused->rfind("reload refused: " + config + " is not valid", 0) == 0);
  // The running configuration keeps working: the next cycle reports the region again.
  std::optional<std::string> after;
  for (int i = 0; i < 100 && !after; ++i) {
    std::optional<std::string> m = manager.Next(5s);
    REQUIRE(m);
    if (auto s = Field(*m, "STATUS"); s && s->rfind("leader, 2 jobs", 0) == 0) after = s;
  }
  CHECK(after);

  // SIGTERM: STOPPING=1, then a clean exit.
  agent.Signal(SIGTERM);
  std::optional<std::string> stopping = manager.WaitFor("STOPPING=1", 10s);
  REQUIRE(stopping);
  CHECK(Field(*stopping, "STATUS") == "stopping");
  for (int i = 0; i < 200 && agent.Running(); ++i) std::this_thread::sleep_for(50ms);
  const int status = agent.Stop();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("run with an unusable state_dir is ready, and its status says it only observes") {
  testing::TempDir dir("fg-notify");
  FlinksimProcess sim("cluster-a", {"--jobs", "1", "--flink-version", "1.20"});
  REQUIRE(sim.WaitReady(1));
  { std::ofstream(dir.File("not-a-dir")) << "x"; }
  const std::string config = dir.File("flinkguard.yaml");
  WriteConfig(config, sim.rest(), dir.File("not-a-dir") + "/state");
  NotifyListener manager(dir.File("notify.sock"));
  ChildProcess agent =
      ChildProcess::Start({FLINKGUARD_BINARY, "run", "--config", config}, dir.File("agent.log"),
                          {"NOTIFY_SOCKET=" + manager.path()});
  std::optional<std::string> ready = manager.WaitFor("READY=1", 30s);
  REQUIRE_MESSAGE(ready, agent.Log());
  CHECK(Field(*ready, "STATUS") == "history unavailable: observing only, 1 job");
  // No WATCHDOG_USEC: no watchdog pings.
  std::optional<std::string> next = manager.Next(1500ms);
  CHECK_FALSE((next && HasLine(*next, "WATCHDOG=1")));
  agent.Signal(SIGTERM);
  CHECK(manager.WaitFor("STOPPING=1", 10s));
  for (int i = 0; i < 200 && agent.Running(); ++i) std::this_thread::sleep_for(50ms);
  const int status = agent.Stop();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace flinkguard
