// `flinkguard observe --once --json` as an operator runs it: the built binary, a generated
// config, two flinksim clusters on 127.0.0.1 (one of them down). Polling loops are bounded.

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>

#include "tests/agent/observer/flinksim_process.h"
#include "tests/support/test_support.h"

namespace flinkguard {
namespace {

using testing::ChildProcess;
using testing::FlinksimProcess;
using testing::ParseJson;
using testing::TempDir;
using namespace std::chrono_literals;

struct Run {
  int exit_code = -1;  // -1: did not exit normally in time
  std::string out;
  std::string err;
};

// Runs `args` (argv[0] a path) with stdout and stderr in separate files under `dir`; waits at
// most `limit`.
Run RunBinary(const std::vector<std::string>& args, const TempDir& dir,
              std::chrono::milliseconds limit) {
  // The shell only splits the two streams; exec replaces it with the binary.
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$@\" 2>'" + dir.File("stderr") + "'",
                                   "sh"};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess proc = ChildProcess::Start(argv, dir.File("stdout"));
  const auto end = std::chrono::steady_clock::now() + limit;
  for (int i = 0; i < 10'000 && proc.Running() && std::chrono::steady_clock::now() < end; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  Run r;
  const int status = proc.Stop();  // the wait status when it had exited, else stops it
  if (status != -1 && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  r.out = testing::ReadFile(dir.File("stdout"));
  r.err = testing::ReadFile(dir.File("stderr"));
  return r;
}

const rapidjson::Value* Member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

// The "value" of an observed field of a job in the JSON document; nullptr when absent or null.
const rapidjson::Value* FieldValue(const rapidjson::Value& job, const char* field) {
  const rapidjson::Value* f = Member(job, field);
  if (f == nullptr) return nullptr;
  const rapidjson::Value* v = Member(*f, "value");
  return v == nullptr || v->IsNull() ? nullptr : v;
}

std::string Freshness(const rapidjson::Value& job, const char* field) {
  const rapidjson::Value* f = Member(job, field);
  const rapidjson::Value* s = f == nullptr ? nullptr : Member(*f, "freshness");
  return s != nullptr && s->IsString() ? s->GetString() : "";
}

TEST_CASE(
    "flinkguard observe --once --json: the live cluster's jobs in full, the dead one unreachable") {
  FlinksimProcess live("live", {"--jobs", "3"});
  FlinksimProcess dead("dead", {"--jobs", "1"});
  REQUIRE(live.WaitReady(3));
  dead.Control("cluster_down", R"({"mode":"refuse"})");
  REQUIRE(dead.WaitRestRefused());

  TempDir dir("observe-cli");
  const std::string config_path = dir.File("flinkguard.yaml");
  {
    std::ofstream config(config_path);
    config << "region: test\n"
              "agent:\n"
              "  state_dir: "
           << dir.File("state")
           << "\n"
              "  log_level: warn\n"
              "  instance_id: observe-cli-test\n"
              "clusters:\n"
              "  - {name: live, url: \""
           << live.rest()
           << "\", az: zone-a, timeout: 3s, connect_timeout: 1s}\n"
              "  - {name: dead, url: \""
           << dead.rest() << "\", az: zone-b, timeout: 1s, connect_timeout: 1s}\n";
  }

  const Run run = RunBinary(
      {FLINKGUARD_BINARY, "observe", "--config", config_path, "--once", "--json"}, dir, 30s);
  INFO("stdout: " << run.out);
  INFO("stderr: " << run.err);
  REQUIRE(run.exit_code == 0);
  const rapidjson::Document doc = ParseJson(run.out);
  REQUIRE(doc.IsObject());
  REQUIRE(Member(doc, "clusters") != nullptr);
  REQUIRE(Member(doc, "jobs") != nullptr);
  REQUIRE(doc["clusters"].IsArray());
  REQUIRE(doc["jobs"].IsArray());

  std::set<std::string> clusters;
  for (const auto& c : doc["clusters"].GetArray()) {
    const std::string name = c["name"].GetString();
    clusters.insert(name);
    if (name == "live") {
      CHECK(c["reachable"].GetBool());
      CHECK(c["az"].GetString() == std::string("zone-a"));
      CHECK(c["jobs"].GetInt() == 3);
      CHECK(std::string(c["flink_version"]["value"].GetString()).rfind("1.20", 0) == 0);
      CHECK(c["flink_version"]["freshness"].GetString() == std::string("fresh"));
      CHECK(c["capacity"]["freshness"].GetString() == std::string("fresh"));
      CHECK(c["capacity"]["value"]["slots_total"].GetInt() > 0);
    } else {
      CHECK(name == "dead");
      CHECK(!c["reachable"].GetBool());
      CHECK(c["consecutive_failures"].GetInt() == 2);  // --once observes twice
      CHECK(c["last_ok_ms"].GetInt64() == 0);
      REQUIRE(Member(c, "error") != nullptr);
      CHECK(std::string(c["error"].GetString()).find("cluster dead") != std::string::npos);
    }
  }
  CHECK(clusters == std::set<std::string>{"live", "dead"});

  const rapidjson::Document sim_jobs = live.SimJobs();
  std::set<std::string> expected;
  for (const auto& j : sim_jobs["jobs"].GetArray()) expected.insert(j["id"].GetString());
  std::set<std::string> seen;
  for (const auto& j : doc["jobs"].GetArray()) {
    const std::string name = j["name"].GetString();
    CAPTURE(name);
    // The dead cluster never answered: it has no jobs to report.
    CHECK(j["cluster"].GetString() == std::string("live"));
    seen.insert(j["job_id"].GetString());
    for (const char* field : {"status", "all_tasks_running", "restarts", "checkpoint_age_ms",
                              "last_checkpoint", "qps"}) {
      CAPTURE(field);
      CHECK(Freshness(j, field) == "fresh");
      CHECK(FieldValue(j, field) != nullptr);
    }
    if (const rapidjson::Value* v = FieldValue(j, "status")) {
      CHECK(v->GetString() == std::string("RUNNING"));
    }
    if (const rapidjson::Value* v = FieldValue(j, "all_tasks_running")) CHECK(v->GetBool());
    if (const rapidjson::Value* v = FieldValue(j, "restarts")) CHECK(v->GetInt64() == 0);
    if (const rapidjson::Value* v = FieldValue(j, "checkpoint_age_ms")) {
      CHECK(v->GetInt64() >= 0);
      CHECK(v->GetInt64() <= 20'000);  // two checkpoint intervals
    }
    if (const rapidjson::Value* v = FieldValue(j, "last_checkpoint")) {
      const std::string path = (*v)["path"].GetString();
      CHECK(path.rfind("file:/", 0) == 0);
      CHECK(path.find("/" + std::string(j["job_id"].GetString()) + "/chk-") != std::string::npos);
    }
    if (const rapidjson::Value* v = FieldValue(j, "qps")) CHECK(v->GetDouble() > 0);
  }
  CHECK(seen == expected);
  CHECK(doc["problems"].IsArray());
  bool dead_problem = false;
  for (const auto& p : doc["problems"].GetArray()) {
    dead_problem =
        dead_problem || std::string(p.GetString()).find("cluster dead") != std::string::npos;
  }
  CHECK(dead_problem);
}

// Uploads a jar whose program is named `job_name` and runs it; returns the job id.
std::string SubmitJob(const FlinksimProcess& sim, const std::string& job_name) {
  const std::string boundary = "observe-cli-boundary";
  const std::string body =
      "--" + boundary +
      "\r\nContent-Disposition: form-data; name=\"jarfile\"; "
      "filename=\"etl.jar\"\r\nContent-Type: application/x-java-archive\r\n\r\n"
      "Main-Class: com.example.Etl\nflinksim-job-name: " +
      job_name + "\n\r\n--" + boundary + "--\r\n";
  const testing::HttpReply up =
      testing::HttpCall("POST", sim.rest() + "/jars/upload", body,
                        {"Content-Type: multipart/form-data; boundary=" + boundary});
  INFO(up.body);
  REQUIRE(up.status == 200);
  const std::string file = ParseJson(up.body)["filename"].GetString();
  const testing::HttpReply run =
      testing::HttpCall("POST", sim.rest() + "/jars/" + file.substr(file.rfind('/') + 1) + "/run",
                        "{}", {"Content-Type: application/json"});
  INFO(run.body);
  REQUIRE(run.status == 200);
  return ParseJson(run.body)["jobid"].GetString();
}

TEST_CASE("flinkguard observe --once (table): one line per cluster and per job, however long") {
  FlinksimProcess sim("table", {"--jobs", "1"});
  // Flink SQL names a job after its statement: names of hundreds of characters are common.
  const std::string long_name =
      "insert-into_default_catalog.default_database." + std::string(600, 'q');
  SubmitJob(sim, long_name);
  REQUIRE(sim.WaitReady(2));

  TempDir dir("observe-table");
  const std::string config_path = dir.File("flinkguard.yaml");
  {
    std::ofstream config(config_path);
    config << "region: test\nagent:\n  state_dir: " << dir.File("state")
           << "\nclusters:\n  - {name: table, url: \"" << sim.rest() << "\", timeout: 3s}\n";
  }
  const Run run =
      RunBinary({FLINKGUARD_BINARY, "observe", "--config", config_path, "--once"}, dir, 30s);
  INFO("stdout: " << run.out);
  INFO("stderr: " << run.err);
  REQUIRE(run.exit_code == 0);
  std::vector<std::string> rows;  // lines that start with the cluster's name
  std::size_t start = 0;
  while (start < run.out.size()) {
    std::size_t end = run.out.find('\n', start);
    if (end == std::string::npos) end = run.out.size();
    const std::string line = run.out.substr(start, end - start);
    if (line.rfind("table ", 0) == 0) rows.push_back(line);
    start = end + 1;
  }
  REQUIRE(rows.size() == 3);  // the cluster, then its two jobs
  CHECK(rows[1].find("insert-into_default_catalog.default_database.qqq") != std::string::npos);
  CHECK(rows[2].find("job-0") != std::string::npos);
  CHECK(rows[2].find("RUNNING") != std::string::npos);
}

}  // namespace
}  // namespace flinkguard
