// `flinkguard run` against flinksim on 127.0.0.1, for what the daemon does with savepoints:
// periodic savepoints per job policy, a rule with action `savepoint` (one per firing episode),
// the catalog's savepoint retention (keep), and duplicate instances of a job name — alerted by
// default, stopped (all but the newest, each with a savepoint) under `on_duplicate: stop`.
// Assertions are on flinksim's request log and job states and on the history file.
// Every wait is bounded in time.

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <csignal>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "storage/history_store.h"
#include "tests/agent/observer/flinksim_process.h"

namespace flinkguard {
namespace {

using testing::ChildProcess;
using testing::FlinksimProcess;
using namespace std::chrono_literals;
using testing::Contains;
using testing::WaitFor;

std::vector<std::string> Mutations(const FlinksimProcess& sim) { return sim.Mutations(); }


int CountWith(const std::vector<std::string>& v, const std::string& part) {
  int n = 0;
  for (const std::string& s : v) n += Contains(s, part) ? 1 : 0;
  return n;
}


struct Agent {
  testing::TempDir dir{"fg-spd"};
  FlinksimProcess sim{"cluster-a",
                      {"--jobs", "1", "--checkpoint-interval", "2s", "--flink-version", "1.20"}};
  std::string config = dir.File("flinkguard.yaml");
  std::optional<ChildProcess> process;

  void Start(const std::string& job_extra, const std::string& rules) {
    REQUIRE(sim.WaitReady(1));
    {
      std::ofstream jar(dir.File("job-0.jar"));
      jar << "Manifest-Version: 1.0\nMain-Class: com.example.Events\n"
             "flinksim-job-name: job-0\nflinksim-parallelism: 2\n";
    }
    std::ofstream out(config);
    out << "region: test\nagent:\n  poll_interval: 1s\n  state_dir: " << dir.path()
        << "/state\nclusters:\n  - {name: cluster-a, url: \"" << sim.rest()
        << "\", timeout: 3s, connect_timeout: 1s}\njobs:\n  - name: job-0\n    cluster: "
           "cluster-a\n    jar: "
        << dir.File("job-0.jar") << "\n"
        << job_extra << "rules:\n"
        << rules;
    out.close();
    process.emplace(ChildProcess::Start({FLINKGUARD_BINARY, "run", "--config", config},
                                        dir.File("agent.log")));
    REQUIRE(WaitFor([&] { return Contains(process->Log(), "flinkguard running"); }));
  }
  std::string Log() { return process->Log(); }
  // SIGTERM and wait for a clean exit, so the history file can be read.
  void Stop() {
    process->Signal(SIGTERM);
    for (int i = 0; i < 200 && process->Running(); ++i) std::this_thread::sleep_for(50ms);
    const int status = process->Stop();
    CHECK(WIFEXITED(status));
  }
  std::unique_ptr<SqliteHistoryStore> History() {
    auto store = SqliteHistoryStore::Open(dir.path() + "/state/history.db");
    REQUIRE(store.has_value());
    return std::move(*store);
  }
  std::string JobStatus(const std::string& id) {
    rapidjson::Document doc = sim.SimJobs();
    for (const auto& j : doc["jobs"].GetArray()) {
      if (id == j["id"].GetString()) return j["status"].GetString();
    }
    return "";
  }
};

TEST_CASE("periodic savepoints: taken once the job has run an interval, then not again early") {
  Agent a;
  // flinksim's clock runs 20x: 3 s here are a minute of the job's uptime.
  a.Start("    savepoints: {interval: 10m}\n",
          "  - {name: job-failed, when: \"status == FAILED\", action: recover}\n");
  const std::string id = a.sim.JobId("job-0");
  // Let the agent see the job young (no savepoint is due), then age the job by 20 minutes.
  std::this_thread::sleep_for(3s);
  CHECK(CountWith(Mutations(a.sim), "/savepoints") == 0);
  a.sim.Control("advance_time", R"({"by":"20min"})");
  REQUIRE(WaitFor([&] { return Contains(a.Log(), "savepoint completed (periodic)"); }));
  CHECK(CountWith(Mutations(a.sim), "POST /jobs/" + id + "/savepoints") == 1);
  // The next one is an interval away: several more cycles take none.
  std::this_thread::sleep_for(4s);
  CHECK(CountWith(Mutations(a.sim), "POST /jobs/" + id + "/savepoints") == 1);
  a.Stop();

  auto h = a.History();
  auto sps = h->Savepoints("job-0", 0);
  REQUIRE(sps.has_value());
  REQUIRE(sps->size() == 1);
  CHECK(sps->front().origin == "periodic");
  CHECK(sps->front().status == "completed");
  CHECK_FALSE(sps->front().path.empty());
  auto points = h->RestorePoints("job-0");
  REQUIRE(points.has_value());
  bool in_catalog = false;
  for (const auto& p : *points) in_catalog |= p.point.path == sps->front().path;
  CHECK(in_catalog);
}

TEST_CASE("rule action savepoint: one per firing episode; the catalog keeps the newest `keep`") {
  Agent a;
  a.Start("    savepoints: {keep: 1}\n",
          "  - {name: snapshot-on-backpressure, when: \"backpressure > 0.5\", action: savepoint}\n");
  const std::string id = a.sim.JobId("job-0");
  a.sim.Control("set_traffic", R"({"job":"job-0","backpressure":0.9})");
  REQUIRE(WaitFor([&] { return Contains(a.Log(), "savepoint completed (rule:snapshot-on-"); }));
  // Still firing: no second savepoint.
  std::this_thread::sleep_for(4s);
  CHECK(CountWith(Mutations(a.sim), "POST /jobs/" + id + "/savepoints") == 1);
  // Resolve, then fire again: a second episode, a second savepoint.
  a.sim.Control("set_traffic", R"({"job":"job-0","backpressure":0.0})");
  REQUIRE(WaitFor([&] { return Contains(a.Log(), "firing -> inactive"); }, 60s));
  a.sim.Control("set_traffic", R"({"job":"job-0","backpressure":0.9})");
  REQUIRE(WaitFor(
      [&] { return CountWith(Mutations(a.sim), "POST /jobs/" + id + "/savepoints") == 2; }, 60s));
  REQUIRE(WaitFor([&] { return Contains(a.Log(), "leaves the restore-point catalog (keep 1"); }));
  a.Stop();

  auto h = a.History();
  auto sps = h->Savepoints("job-0", 0);
  REQUIRE(sps.has_value());
  CHECK(sps->size() == 2);
  auto points = h->RestorePoints("job-0");
  REQUIRE(points.has_value());
  int savepoints_in_catalog = 0;
  for (const auto& p : *points) {
    savepoints_in_catalog += p.point.kind == RestorePoint::Kind::kSavepoint ? 1 : 0;
  }
  CHECK(savepoints_in_catalog == 1);
}

TEST_CASE("duplicates: alerted by default, nothing stopped") {
  Agent a;
  a.Start("", "  - {name: duplicate-instances, when: \"instances > 1\", action: alert}\n");
  a.sim.Control("start_job", R"({"name":"job-0"})");
  REQUIRE(WaitFor([&] { return Contains(a.Log(), "rule duplicate-instances for job-0"); }));
  std::this_thread::sleep_for(3s);
  CHECK(CountWith(Mutations(a.sim), "POST") == 0);
  a.Stop();
}

TEST_CASE("duplicates with on_duplicate: stop: the older instance is stopped with a savepoint") {
  Agent a;
  a.Start("    recovery: {on_duplicate: stop}\n",
          "  - {name: duplicate-instances, when: \"instances > 1\", action: alert}\n");
  const std::string old_id = a.sim.JobId("job-0");
  std::this_thread::sleep_for(1500ms);
  a.sim.Control("start_job", R"({"name":"job-0"})");
  const std::string new_id = a.sim.JobId("job-0");
  REQUIRE(new_id != old_id);
  REQUIRE(WaitFor([&] { return Contains(a.Log(), "savepoint completed (duplicate)"); }));
  REQUIRE(WaitFor([&] { return a.JobStatus(old_id) == "FINISHED"; }));
  CHECK(a.JobStatus(new_id) == "RUNNING");
  const std::vector<std::string> m = Mutations(a.sim);
  CHECK(CountWith(m, "POST /jobs/" + old_id + "/stop") == 1);
  CHECK(CountWith(m, new_id) == 0);
  // Several cycles later, the survivor is left alone.
  std::this_thread::sleep_for(3s);
  CHECK(a.JobStatus(new_id) == "RUNNING");
  CHECK(CountWith(Mutations(a.sim), new_id) == 0);
  a.Stop();
  auto sps = a.History()->Savepoints("job-0", 0);
  REQUIRE(sps.has_value());
  REQUIRE(sps->size() == 1);
  CHECK(sps->front().origin == "duplicate");
  CHECK(sps->front().job_id == old_id);
}

}  // namespace
}  // namespace flinkguard
