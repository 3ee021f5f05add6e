// Starts the flinksim binary on ephemeral loopback ports and talks HTTP to it. Polling loops
// are bounded in count and time.

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>

#include "tests/support/test_support.h"

namespace {

using flinkguard::testing::ChildProcess;
using flinkguard::testing::HttpCall;
using flinkguard::testing::HttpReply;
using flinkguard::testing::TempDir;
using namespace std::chrono_literals;

std::string Field(const std::string& line, const std::string& key) {
  size_t pos = line.find(key + "=");
  if (pos == std::string::npos) return "";
  size_t start = pos + key.size() + 1;
  size_t end = line.find(' ', start);
  return "http://" + line.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

rapidjson::Document Parse(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  return d;
}

class Flinksim {
 public:
  explicit Flinksim(const std::vector<std::string>& extra = {}) : dir_("flinksim-it") {
    std::vector<std::string> argv = {FLINKSIM_BINARY,
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--port-file",
                                     dir_.File("ports"),
                                     "--time-scale",
                                     "20",
                                     "--seed",
                                     "5",
                                     "--data-dir",
                                     dir_.File("data"),
                                     "--prometheus-listen",
                                     "127.0.0.1:0",
                                     "--control-listen",
                                     "127.0.0.1:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc_ = ChildProcess::Start(argv, dir_.File("flinksim.log"));
    auto line = flinkguard::testing::WaitForFileLine(dir_.File("ports"), 15s);
    INFO(proc_.Log());
    REQUIRE(line.has_value());
    rest_ = Field(*line, "rest");
    prometheus_ = Field(*line, "prometheus");
    control_ = Field(*line, "control");
    REQUIRE(!rest_.empty());
    REQUIRE(!prometheus_.empty());
    REQUIRE(!control_.empty());
  }

  HttpReply Get(const std::string& path, std::chrono::milliseconds timeout = 5000ms) {
    return HttpCall("GET", rest_ + path, "", {}, timeout);
  }
  HttpReply Control(const std::string& action, const std::string& body) {
    HttpReply r =
        HttpCall("POST", control_ + "/_sim/" + action, body, {"Content-Type: application/json"});
    INFO(action << " " << body << " -> " << r.status << " " << r.body);
    CHECK(r.status == 200);
    return r;
  }
  // Polls `path` every 50 ms for at most `timeout` until `done(body)`.
  template <typename Pred>
  bool WaitFor(const std::string& path, Pred done, std::chrono::milliseconds timeout = 15000ms) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    for (int i = 0; i < 10'000 && std::chrono::steady_clock::now() < end; ++i) {
      HttpReply r = Get(path);
      if (r.status == 200 && done(r.body)) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  ChildProcess& proc() { return proc_; }
  const std::string& rest() const { return rest_; }
  const std::string& prometheus() const { return prometheus_; }
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  ChildProcess proc_;
  std::string rest_;
  std::string prometheus_;
  std::string control_;
};

int RunningJobs(const std::string& body) {
  auto d = Parse(body);
  int n = 0;
  if (!d.IsObject() || !d.HasMember("jobs")) return 0;
  for (const auto& j : d["jobs"].GetArray()) {
    if (std::string(j["state"].GetString()) == "RUNNING" &&
        j["tasks"]["running"].GetInt() == j["tasks"]["total"].GetInt()) {
      ++n;
    }
  }
  return n;
}

TEST_CASE(
    "flinksim starts N running jobs, checkpoints over time, serves /v1 and stops cleanly on "
    "SIGTERM") {
  Flinksim sim({"--jobs", "3"});
  CHECK(sim.WaitFor("/jobs/overview", [](const std::string& b) { return RunningJobs(b) == 3; }));
  HttpReply v1 = sim.Get("/v1/jobs/overview");
  CHECK(v1.status == 200);
  CHECK(v1.content_type.find("application/json") == 0);
  auto jobs = Parse(v1.body);
  std::string id = jobs["jobs"][0]["jid"].GetString();
  auto completed = [](const std::string& body) {
    auto d = Parse(body);
    return d.IsObject() && d.HasMember("counts") ? d["counts"]["completed"].GetInt() : 0;
  };
  int first = 0;
  CHECK(sim.WaitFor("/jobs/" + id + "/checkpoints",
                    [&](const std::string& b) { return (first = completed(b)) >= 1; }));
  CHECK(sim.WaitFor("/jobs/" + id + "/checkpoints",
                    [&](const std::string& b) { return completed(b) >= first + 2; }));
  auto cp = Parse(sim.Get("/jobs/" + id + "/checkpoints").body);
  std::string path = cp["latest"]["completed"]["external_path"].GetString();
  CHECK(path.rfind("file:" + sim.dir().File("data") + "/checkpoints/" + id + "/chk-", 0) == 0);

  const int status = sim.proc().Stop(5000ms);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("fault injection over HTTP: 503 leader election, garbage, refuse, hang") {
  Flinksim sim({"--jobs", "1"});
  sim.Control("leader_election", R"({"requests":1})");
  HttpReply le = sim.Get("/overview");
  CHECK(le.status == 503);
  CHECK(
      le.body ==
      R"({"errors":["Service temporarily unavailable due to an ongoing leader election. Please refresh."]})");
  CHECK(sim.Get("/overview").status == 200);

  sim.Control("garbage", R"({"path_prefix":"/config"})");
  HttpReply g = sim.Get("/config");
  CHECK(g.status == 200);
  CHECK(Parse(g.body).HasParseError());
  sim.Control("clear_faults", "{}");

  sim.Control("cluster_down", R"({"mode":"refuse"})");
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    HttpReply r = sim.Get("/overview", 1000ms);
    refused = r.status == 0;
    if (!refused) std::this_thread::sleep_for(50ms);
  }
  CHECK(refused);
  sim.Control("cluster_up", "{}");
  bool back = false;
  for (int i = 0; i < 200 && !back; ++i) {
    back = sim.Get("/overview", 1000ms).status == 200;
    if (!back) std::this_thread::sleep_for(50ms);
  }
  CHECK(back);

  // Hang for 60 s simulated = 3 s real at --time-scale 20: a 500 ms client timeout fires.
  sim.Control("cluster_down", R"({"mode":"hang","duration":"60s"})");
  HttpReply h = sim.Get("/overview", 500ms);
  CHECK(h.status == 0);
  CHECK_FALSE(h.error.empty());
  sim.Control("cluster_up", "{}");
  CHECK(sim.Get("/overview", 2000ms).status == 200);
}

TEST_CASE("mutating requests are logged with the client identity headers") {
  Flinksim sim({"--jobs", "1"});
  CHECK(sim.WaitFor("/jobs/overview", [](const std::string& b) { return RunningJobs(b) == 1; }));
  std::string id = Parse(sim.Get("/jobs").body)["jobs"][0]["id"].GetString();
  HttpReply cancel = HttpCall("PATCH", sim.rest() + "/jobs/" + id + "?mode=cancel", "",
                              {"User-Agent: flinkguard-test/1", "X-Flinkguard-Instance: it-agent"});
  CHECK(cancel.status == 202);
  CHECK(cancel.body == "{}");
  HttpReply log = HttpCall("GET", sim.rest() + "/_sim/requests");
  REQUIRE(log.status == 200);
  auto d = Parse(log.body);
  REQUIRE(d["requests"].Size() == 1);
  CHECK(std::string(d["requests"][0]["method"].GetString()) == "PATCH");
  CHECK(std::string(d["requests"][0]["instance"].GetString()) == "it-agent");
  CHECK(std::string(d["requests"][0]["user_agent"].GetString()) == "flinkguard-test/1");
  CHECK(d["requests"][0]["status"].GetInt() == 202);
  CHECK(HttpCall("DELETE", sim.rest() + "/_sim/requests").status == 200);
}

TEST_CASE("multipart jar upload and run over HTTP") {
  Flinksim sim({"--flink-version", "2.0"});
  const std::string boundary = "XyZflinksim";
  std::string body =
      "--" + boundary +
      "\r\nContent-Disposition: form-data; name=\"jarfile\"; filename=\"orders.jar\"\r\n"
      "Content-Type: application/x-java-archive\r\n\r\n"
      "Main-Class: com.acme.Orders\nflinksim-operators: src=Source: "
      "Orders,agg=Aggregate,sink=Sink: DB\n"
      "\r\n--" +
      boundary + "--\r\n";
  HttpReply up = HttpCall("POST", sim.rest() + "/jars/upload", body,
                          {"Content-Type: multipart/form-data; boundary=" + boundary});
  INFO(up.body);
  REQUIRE(up.status == 200);
  std::string filename = Parse(up.body)["filename"].GetString();
  std::string jar = filename.substr(filename.rfind('/') + 1);
  HttpReply run = HttpCall("POST", sim.rest() + "/jars/" + jar + "/run", R"({"parallelism":1})",
                           {"Content-Type: application/json"});
  INFO(run.body);
  REQUIRE(run.status == 200);
  std::string id = Parse(run.body)["jobid"].GetString();
  CHECK(sim.WaitFor("/jobs/" + id, [](const std::string& b) {
    auto d = Parse(b);
    return std::string(d["state"].GetString()) == "RUNNING" &&
           d["status-counts"]["RUNNING"].GetInt() == 3;
  }));
  auto details = Parse(sim.Get("/jobs/" + id).body);
  CHECK(std::string(details["name"].GetString()) == "orders");
  CHECK(std::string(details["vertices"][1]["name"].GetString()) == "Aggregate");
  CHECK(details.HasMember("pending-operators"));
}

TEST_CASE("the Prometheus endpoint serves Flink's exposition and passes promtool's parser") {
  Flinksim sim({"--jobs", "2"});
  CHECK(sim.WaitFor("/jobs/overview", [](const std::string& b) { return RunningJobs(b) == 2; }));
  HttpReply m = HttpCall("GET", sim.prometheus() + "/metrics");
  REQUIRE(m.status == 200);
  CHECK(m.content_type.find("text/plain") == 0);
  CHECK(m.body.find("flink_taskmanager_job_task_operator_numRecordsOutPerSecond{") !=
        std::string::npos);
  CHECK(m.body.find("flink_jobmanager_job_numRestarts{") != std::string::npos);
  if (std::system("command -v promtool > /dev/null 2>&1") == 0) {
    const std::string file = sim.dir().File("metrics.txt");
    FILE* f = std::fopen(file.c_str(), "w");
    REQUIRE(f != nullptr);
    std::fputs(m.body.c_str(), f);
    std::fclose(f);
    const std::string out = sim.dir().File("promtool.txt");
    int rc = std::system(("promtool check metrics < " + file + " > " + out + " 2>&1").c_str());
    std::string report = flinkguard::testing::ReadFile(out);
    // Flink's metric names are camelCase by nature; that lint (exit 3) is the only problem allowed.
    std::string other;
    size_t start = 0;
    while (start < report.size()) {
      size_t end = report.find('\n', start);
      std::string line =
          report.substr(start, end == std::string::npos ? std::string::npos : end - start);
      start = end == std::string::npos ? report.size() : end + 1;
      if (!line.empty() &&
          line.find("should be written in 'snake_case' not 'camelCase'") == std::string::npos) {
        other += line + "\n";
      }
    }
    INFO(other);
    CHECK(other.empty());
    CHECK((WEXITSTATUS(rc) == 0 || WEXITSTATUS(rc) == 3));
  }
}

}  // namespace
