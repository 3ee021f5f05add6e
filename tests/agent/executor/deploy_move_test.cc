// flinkguard deploy and move as the real binary against flinksim clusters on 127.0.0.1,
// asserting on flinksim's job states and request logs and on the history file.

#include <doctest/doctest.h>
#include <sys/wait.h>

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
testing::ProgramRun Run(const testing::TempDir& dir, const std::vector<std::string>& args) {
  static int n = 0;
  std::vector<std::string> argv = {FLINKGUARD_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunToExit(argv, dir.File("cli-" + std::to_string(++n) + ".log"));
}


// Live (not terminal) instances of job-0 on `sim`, as ids.
std::vector<std::string> Live(const FlinksimProcess& sim) {
  std::vector<std::string> out;
  rapidjson::Document doc = sim.SimJobs();
  for (const auto& j : doc["jobs"].GetArray()) {
    const std::string s = j["status"].GetString();
    if (std::string(j["name"].GetString()) == "job-0" && s != "FAILED" && s != "CANCELED" &&
        s != "FINISHED") {
      out.push_back(j["id"].GetString());
    }
  }
  return out;
}

struct Setup {
  testing::TempDir dir{"fg-deploy"};
  FlinksimProcess a{"cluster-a",
                    {"--jobs", "1", "--checkpoint-interval", "2s", "--flink-version", "1.20"}};
  FlinksimProcess b{"cluster-b", {"--jobs", "0", "--flink-version", "1.20"}};
  std::string config = dir.File("flinkguard.yaml");

  Setup() {
    REQUIRE(a.WaitReady(1));
    Jar("job-0.jar", "com.example.Events");
    Jar("job-0-v2.jar", "com.example.EventsV2");
    std::ofstream out(config);
    out << "region: test\nagent:\n  state_dir: " << dir.path() << "/state\nclusters:\n";
    for (const FlinksimProcess* s : {&a, &b}) {
      out << "  - {name: " << s->name() << ", url: \"" << s->rest()
          << "\", timeout: 3s, connect_timeout: 1s}\n";
    }
    out << "jobs:\n  - name: job-0\n    cluster: cluster-a\n    failover: [cluster-b]\n"
           "    parallelism: 2\n    jar: "
        << dir.File("job-0.jar") << "\n    recovery: {cooldown: 0s}\n";
  }
  void Jar(const std::string& name, const std::string& main_class) {
    std::ofstream jar(dir.File(name));
    jar << "Manifest-Version: 1.0\nMain-Class: " << main_class
        << "\nflinksim-job-name: job-0\nflinksim-parallelism: 2\n"
           "flinksim-checkpoint-interval: 2000ms\n";
  }
};

TEST_CASE("move: stop with a savepoint, run on the other cluster from it, record the placement") {
  Setup s;
  const std::string old_id = s.a.JobId("job-0");
  testing::ProgramRun bad = Run(s.dir, {"move", "--config", s.config, "--job", "job-0", "--to", "cluster-z"});
  CHECK(bad.code == 1);
  CHECK(Contains(bad.output, "not a configured cluster"));

  testing::ProgramRun mv = Run(s.dir, {"move", "--config", s.config, "--job", "job-0", "--to", "cluster-b"});
  INFO(mv.output);
  REQUIRE(mv.code == 0);
  CHECK(Contains(mv.output, "job-0 now lives on cluster-b"));
  CHECK(Live(s.a).empty());
  const std::vector<std::string> on_b = Live(s.b);
  REQUIRE(on_b.size() == 1);
  rapidjson::Document doc = s.b.SimJobs();
  const rapidjson::Value& moved = FlinksimProcess::SimJob(doc, "job-0");
  REQUIRE(moved["restored_from"].IsObject());
  CHECK(moved["restored_from"]["is_savepoint"].GetBool());
  rapidjson::Document adoc = s.a.SimJobs();
  CHECK(std::string(FlinksimProcess::SimJob(adoc, "job-0")["status"].GetString()) == "FINISHED");

  auto h = SqliteHistoryStore::Open(s.dir.path() + "/state/history.db");
  REQUIRE(h.has_value());
  auto placements = (*h)->Placements();
  REQUIRE(placements.has_value());
  REQUIRE(placements->size() == 1);
  CHECK(placements->front().cluster == "cluster-b");
  CHECK(Contains(placements->front().reason, "from cluster-a"));
  (void)old_id;
}

TEST_CASE("deploy while running: savepoint, stop, new jar from the savepoint; a failed savepoint "
          "stops nothing") {
  Setup s;
  const std::string old_id = s.a.JobId("job-0");
  // Savepoints fail: the deploy stops there, the old job keeps running.
  s.a.Control("checkpoints", R"({"job":"job-0","mode":"fail","message":"disk full"})");
  testing::ProgramRun failed = Run(s.dir, {"deploy", "--config", s.config, "--job", "job-0", "--jar",
                           s.dir.File("job-0-v2.jar")});
  INFO(failed.output);
  CHECK(failed.code == 1);
  CHECK(Live(s.a) == std::vector<std::string>{old_id});
  s.a.Control("checkpoints", R"({"job":"job-0","mode":"ok"})");

  testing::ProgramRun ok = Run(s.dir, {"deploy", "--config", s.config, "--job", "job-0", "--jar",
                       s.dir.File("job-0-v2.jar")});
  INFO(ok.output);
  REQUIRE(ok.code == 0);
  const std::vector<std::string> live = Live(s.a);
  REQUIRE(live.size() == 1);
  CHECK(live[0] != old_id);
  rapidjson::Document doc = s.a.SimJobs();
  const rapidjson::Value& job = FlinksimProcess::SimJob(doc, "job-0");
  REQUIRE(job["restored_from"].IsObject());
  CHECK(job["restored_from"]["is_savepoint"].GetBool());
  CHECK(Contains(ok.output, "deploy of " + s.dir.File("job-0-v2.jar")));
}

TEST_CASE("deploy when nothing runs starts from the newest restore point; refused with a "
          "duplicate") {
  Setup s;
  const std::string old_id = s.a.JobId("job-0");
  std::this_thread::sleep_for(500ms);  // a checkpoint or two (20x clock)
  s.a.Control("cancel_job", R"({"job":"job-0"})");
  for (int i = 0; i < 200 && !Live(s.a).empty(); ++i) std::this_thread::sleep_for(50ms);
  REQUIRE(Live(s.a).empty());
  testing::ProgramRun started = Run(s.dir, {"deploy", "--config", s.config, "--job", "job-0"});
  INFO(started.output);
  REQUIRE(started.code == 0);
  REQUIRE(Live(s.a).size() == 1);
  rapidjson::Document doc = s.a.SimJobs();
  const rapidjson::Value& job = FlinksimProcess::SimJob(doc, "job-0");
  REQUIRE(job["restored_from"].IsObject());
  CHECK(Contains(job["restored_from"]["path"].GetString(), old_id));

  s.b.Control("start_job", R"({"name":"job-0"})");
  testing::ProgramRun dup = Run(s.dir, {"deploy", "--config", s.config, "--job", "job-0"});
  INFO(dup.output);
  CHECK(dup.code == 1);
  CHECK(Contains(dup.output, "2 live instances"));
  CHECK(Live(s.a).size() == 1);
  CHECK(Live(s.b).size() == 1);
}

}  // namespace
}  // namespace flinkguard
