// The commands for people (`flinkguard savepoint`, `recover`, `update`) run as the real binary
// against a flinksim process on 127.0.0.1, with the history in a temp dir. Assertions are on the
// exit code, the output, flinksim's request log and job state, and the stored history.

#include <doctest/doctest.h>

#include <sys/wait.h>

#include <filesystem>
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

// Runs the flinkguard binary with `args` to its end (at most 120 s).
testing::ProgramRun RunFlinkguard(const testing::TempDir& dir,
                                  const std::vector<std::string>& args) {
  static int n = 0;
  std::vector<std::string> argv = {FLINKGUARD_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunToExit(argv, dir.File("cli-" + std::to_string(++n) + ".log"));
}

std::vector<std::string> Mutations(const FlinksimProcess& sim) { return sim.Mutations(); }


int LiveInstances(const FlinksimProcess& sim) {
  rapidjson::Document doc = sim.SimJobs();
  int live = 0;
  for (const auto& j : doc["jobs"].GetArray()) {
    const std::string s = j["status"].GetString();
    if (std::string(j["name"].GetString()) == "job-0" && s != "FAILED" && s != "CANCELED" &&
        s != "FINISHED") {
      ++live;
    }
  }
  return live;
}

struct Setup {
  testing::TempDir dir{"fg-manual"};
  FlinksimProcess sim{"cluster-a",
                      {"--jobs", "1", "--checkpoint-interval", "2s", "--flink-version", "1.20"}};
  std::string config = dir.File("flinkguard.yaml");

  Setup() {
    REQUIRE(sim.WaitReady(1));
    WriteJar("job-0.jar", "com.example.Events");
    WriteJar("job-0-v2.jar", "com.example.EventsV2");
    std::ofstream out(config);
    out << "region: test\nagent:\n  state_dir: " << dir.path()
        << "/state\nclusters:\n  - {name: cluster-a, url: \"" << sim.rest()
        << "\", timeout: 3s, connect_timeout: 1s}\njobs:\n  - name: job-0\n    cluster: "
           "cluster-a\n    jar: "
        << dir.File("job-0.jar") << "\n    parallelism: 2\n    recovery: {cooldown: 0s}\n";
  }
  void WriteJar(const std::string& name, const std::string& main_class) {
    std::ofstream jar(dir.File(name));
    jar << "Manifest-Version: 1.0\nMain-Class: " << main_class
        << "\nflinksim-job-name: job-0\nflinksim-parallelism: 2\n"
           "flinksim-checkpoint-interval: 2000ms\n";
  }
  const rapidjson::Value& Job(rapidjson::Document& doc) {
    doc = sim.SimJobs();
    return FlinksimProcess::SimJob(doc, "job-0");
  }
};

TEST_CASE("savepoint, then recover --from savepoint: cancel, resubmit from it, one live instance") {
  Setup s;
  const std::string old_id = s.sim.JobId("job-0");
  testing::ProgramRun sp = RunFlinkguard(s.dir, {"savepoint", "--config", s.config, "--job", "job-0"});
  INFO(sp.output);
  REQUIRE(sp.code == 0);
  rapidjson::Document doc;
  const std::string savepoint = s.Job(doc)["checkpoints"]["latest_savepoint"].GetString();
  REQUIRE_FALSE(savepoint.empty());
  CHECK(Contains(sp.output, "savepoint completed: " + savepoint));

  // --dry-run: the plan, and no mutating request.
  s.sim.Control("clear_requests");
  testing::ProgramRun dry = RunFlinkguard(s.dir, {"recover", "--config", s.config, "--job", "job-0", "--from",
                                  "savepoint", "--dry-run"});
  INFO(dry.output);
  CHECK(dry.code == 0);
  CHECK(Contains(dry.output, "savepoint " + savepoint));
  CHECK(Contains(dry.output, "dry run: nothing was done"));
  CHECK(Mutations(s.sim).empty());

  testing::ProgramRun rec = RunFlinkguard(
      s.dir, {"recover", "--config", s.config, "--job", "job-0", "--from", "savepoint"});
  INFO(rec.output);
  REQUIRE(rec.code == 0);
  CHECK(Contains(rec.output, "succeeded"));
  const rapidjson::Value& job = s.Job(doc);
  CHECK(std::string(job["id"].GetString()) != old_id);
  CHECK(std::string(job["status"].GetString()) == "RUNNING");
  REQUIRE(job["restored_from"].IsObject());
  CHECK(std::string(job["restored_from"]["path"].GetString()) == savepoint);
  CHECK(LiveInstances(s.sim) == 1);
  const std::vector<std::string> m = Mutations(s.sim);
  REQUIRE_FALSE(m.empty());
  CHECK(m.front() == "PATCH /jobs/" + old_id);

  // The history has the savepoint and the manual recovery.
  auto store = SqliteHistoryStore::Open(s.dir.path() + "/state/history.db");
  REQUIRE(store.has_value());
  auto recs = (*store)->Recoveries("job-0", 0);
  REQUIRE(recs.has_value());
  REQUIRE(recs->size() == 1);
  CHECK(recs->front().trigger == "manual");
  CHECK(recs->front().restore_path == savepoint);
  // `flinkguard history` tells the story: the savepoint, the recovery, its steps, the outcome.
  testing::ProgramRun hist = RunFlinkguard(s.dir, {"history", "--config", s.config, "--job", "job-0"});
  INFO(hist.output);
  CHECK(hist.code == 0);
  CHECK(Contains(hist.output, savepoint));
  CHECK(Contains(hist.output, "trigger: manual"));
  CHECK(Contains(hist.output, "cancel"));
  CHECK(Contains(hist.output, "submit"));
  CHECK(Contains(hist.output, "verify"));
  CHECK(Contains(hist.output, "succeeded"));
  testing::ProgramRun hist_json =
      RunFlinkguard(s.dir, {"history", "--config", s.config, "--job", "job-0", "--json"});
  CHECK(hist_json.code == 0);
  CHECK(Contains(hist_json.output, "\"type\": \"recovery\""));
  testing::ProgramRun bad_since = RunFlinkguard(s.dir, {"history", "--config", s.config, "--since", "yesterday"});
  CHECK(bad_since.code == 2);

  auto sps = (*store)->Savepoints("job-0", 0);
  REQUIRE(sps.has_value());
  REQUIRE(sps->size() == 1);
  CHECK(sps->front().status == "completed");
  CHECK(sps->front().path == savepoint);
}

TEST_CASE(
    "update: stop with a savepoint, the new jar from that savepoint; a failed savepoint leaves the "
    "old job") {
  Setup s;
  SUBCASE("the savepoint succeeds") {
    const std::string old_id = s.sim.JobId("job-0");
    testing::ProgramRun up = RunFlinkguard(s.dir, {"update", "--config", s.config, "--job", "job-0", "--jar",
                                   s.dir.File("job-0-v2.jar")});
    INFO(up.output);
    REQUIRE(up.code == 0);
    const std::vector<std::string> m = Mutations(s.sim);
    REQUIRE(m.size() >= 3);
    CHECK(m[0] == "POST /jobs/" + old_id + "/stop");
    rapidjson::Document doc;
    const rapidjson::Value& job = s.Job(doc);
    CHECK(std::string(job["status"].GetString()) == "RUNNING");
    REQUIRE(job["restored_from"].IsObject());
    CHECK(job["restored_from"]["is_savepoint"].GetBool());
    CHECK(LiveInstances(s.sim) == 1);
    // The old instance ended FINISHED (stop-with-savepoint), not cancelled.
    rapidjson::Document all = s.sim.SimJobs();
    for (const auto& j : all["jobs"].GetArray()) {
      if (j["id"].GetString() == old_id) CHECK(std::string(j["status"].GetString()) == "FINISHED");
    }
  }
  SUBCASE("the savepoint fails") {
    const std::string old_id = s.sim.JobId("job-0");
    s.sim.Control("checkpoints",
                  R"({"job":"job-0","mode":"fail","message":"disk quota","tolerable":100000})");
    testing::ProgramRun up = RunFlinkguard(s.dir, {"update", "--config", s.config, "--job", "job-0", "--jar",
                                   s.dir.File("job-0-v2.jar")});
    INFO(up.output);
    CHECK(up.code == 1);
    CHECK(Contains(up.output, "left running"));
    CHECK(s.sim.JobId("job-0") == old_id);
    CHECK(LiveInstances(s.sim) == 1);
    for (const std::string& m : Mutations(s.sim)) CHECK_FALSE(Contains(m, "/run"));
  }
}

TEST_CASE("recover refuses a job that is not in the catalog, and bad arguments are usage errors") {
  Setup s;
  testing::ProgramRun unknown = RunFlinkguard(s.dir, {"recover", "--config", s.config, "--job", "nope"});
  CHECK(unknown.code == 1);
  CHECK(Contains(unknown.output, "not in the catalog"));
  testing::ProgramRun bad = RunFlinkguard(
      s.dir, {"recover", "--config", s.config, "--job", "job-0", "--from", "yesterday"});
  CHECK(bad.code == 2);
  CHECK(Mutations(s.sim).empty());
}

}  // namespace
}  // namespace flinkguard
