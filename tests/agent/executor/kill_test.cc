// kill -9 of the agent (`flinkguard run`, a child process) at each step of a recovery, then a
// restart: the restarted agent finishes the journaled recovery, and at no moment does flinksim
// hold two live instances of the job. flinksim answers every request 250 ms late, so each step
// lasts long enough for the test to see it in the journal and kill the agent inside it.
// Every wait is bounded in time.

#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/executor.h"
#include "storage/history_store.h"
#include "tests/agent/observer/flinksim_process.h"

namespace flinkguard {
namespace {

using testing::ChildProcess;
using testing::FlinksimProcess;
using namespace std::chrono_literals;

bool Terminal(const std::string& status) {
  return status == "FAILED" || status == "CANCELED" || status == "FINISHED";
}

int LiveInstances(const FlinksimProcess& sim) {
  rapidjson::Document doc = sim.SimJobs();
  int live = 0;
  if (!doc.IsObject() || !doc.HasMember("jobs")) return live;
  for (const auto& j : doc["jobs"].GetArray()) {
    if (std::string(j["name"].GetString()) == "job-0" && !Terminal(j["status"].GetString())) {
      ++live;
    }
  }
  return live;
}

// The phase an unfinished recovery is in, from its journaled progress; "" when none.
std::string JournalPhase(SqliteHistoryStore& store, std::string* id) {
  auto open = store.UnfinishedRecoveries();
  if (!open || open->empty()) return "";
  const std::string& p = open->front().progress;
  const auto at = p.find("\"phase\":\"");
  if (at == std::string::npos) return "";
  const auto start = at + 9;
  *id = open->front().id;
  return p.substr(start, p.find('"', start) - start);
}

TEST_CASE(
    "kill -9 at each step of a recovery: the restarted agent finishes it; never two live "
    "instances") {
  testing::TempDir dir("fg-kill");
  FlinksimProcess sim("cluster-a",
                      {"--jobs", "1", "--checkpoint-interval", "2s", "--flink-version", "1.20",
                       "--conf", "restart-strategy.fixed-delay.attempts=100000"});
  REQUIRE(sim.WaitReady(1));
  {
    std::ofstream jar(dir.File("job-0.jar"));
    jar << "Manifest-Version: 1.0\nMain-Class: com.example.Events\nflinksim-job-name: job-0\n"
           "flinksim-parallelism: 2\nflinksim-checkpoint-interval: 2000ms\n";
  }
  const std::string config = dir.File("flinkguard.yaml");
  {
    std::ofstream out(config);
    out << "region: test\nagent:\n  poll_interval: 1s\n  state_dir: " << dir.path()
        << "/state\n  instance_id: kill-test\nclusters:\n  - {name: cluster-a, url: \""
        << sim.rest()
        << "\", timeout: 5s, connect_timeout: 1s}\njobs:\n  - name: job-0\n    cluster: cluster-a\n"
           "    jar: "
        << dir.File("job-0.jar")
        << "\n    parallelism: 2\n    recovery: {cooldown: 0s, max_recoveries: 100, window: 10m, "
           "stable_after: 0s}\nrules:\n  - {name: restart-loop, when: \"increase(restarts, 5s) > "
           "2\", action: recover, severity: critical}\n";
  }
  std::filesystem::create_directories(dir.path() + "/state");
  auto opened = SqliteHistoryStore::Open(dir.path() + "/state/history.db");
  REQUIRE(opened.has_value());
  SqliteHistoryStore& store = **opened;

  int max_live = 0;
  auto watch = [&] { max_live = std::max(max_live, LiveInstances(sim)); };
  auto start_agent = [&](int n) {
    return ChildProcess::Start({FLINKGUARD_BINARY, "run", "--config", config},
                               dir.File("agent-" + std::to_string(n) + ".log"));
  };

  const std::vector<std::string> phases = {"cancel",           "wait-terminal", "last-checkpoint",
                                           "check-duplicates", "upload-jar",    "check-submitted",
                                           "submit",           "verify"};
  int run = 0;
  for (const std::string& target : phases) {
    CAPTURE(target);
    const std::string old_id = sim.JobId("job-0");
    sim.Control("restart_loop", R"({"job":"job-0","after":"2s"})");
    sim.Control("slow", R"({"delay_ms":250,"path_prefix":"/"})");

    ChildProcess agent = start_agent(++run);
    std::string id;
    std::string seen;
    bool killed = false;
    for (auto until = std::chrono::steady_clock::now() + 90s;
         std::chrono::steady_clock::now() < until;) {
      watch();
      seen = JournalPhase(store, &id);
      if (seen == target) {
        agent.Signal(SIGKILL);
        killed = true;
        break;
      }
      if (!agent.Running()) break;
      std::this_thread::sleep_for(10ms);
    }
    INFO("agent log: " << agent.Log());
    REQUIRE(killed);
    agent.Stop();
    MESSAGE("killed the agent in " << target << " of recovery " << id);

    // The restarted agent resumes the journaled recovery and finishes it.
    ChildProcess again = start_agent(++run);
    std::optional<RecoveryRecord> done;
    for (auto until = std::chrono::steady_clock::now() + 90s;
         std::chrono::steady_clock::now() < until && !done;) {
      watch();
      auto recs = store.Recoveries("job-0", 0);
      if (recs) {
        for (const RecoveryRecord& r : *recs) {
          if (r.id == id && r.ended_ms) done = r;
        }
      }
      std::this_thread::sleep_for(20ms);
    }
    sim.Control("clear_faults");
    INFO("restarted agent log: " << again.Log());
    REQUIRE(done.has_value());
    CHECK(done->outcome == RecoveryAttempt::Outcome::kSucceeded);
    CHECK(done->error == "");
    // Let it run a little: nothing more happens to the recovered job.
    for (int i = 0; i < 20; ++i) {
      watch();
      std::this_thread::sleep_for(50ms);
    }
    again.Stop();
    CHECK(LiveInstances(sim) == 1);
    CHECK(sim.JobId("job-0") == Executor::DerivedJobId(id));
    CHECK(sim.JobId("job-0") != old_id);
    CHECK(max_live <= 1);
  }
  // One recovery per kill, none left unfinished.
  auto recs = store.Recoveries("job-0", 0);
  REQUIRE(recs.has_value());
  CHECK(recs->size() == phases.size());
  auto open = store.UnfinishedRecoveries();
  REQUIRE(open.has_value());
  CHECK(open->empty());
}

}  // namespace
}  // namespace flinkguard
