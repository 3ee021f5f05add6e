// Control API, fault injection, request log, scenario files and the Prometheus exposition,
// through the Simulator with a ManualClock (no sockets, no sleeps).

#include "tests/flinksim/simulator.h"

#include <doctest/doctest.h>

#include <memory>
#include <regex>
#include <string>

#include "tests/flinksim/prometheus_text.h"
#include "tests/support/test_support.h"

namespace flinksim {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

class Env {
 public:
  explicit Env(int jobs = 2, std::vector<ScenarioStep> scenario = {},
               FlinkVersion v = FlinkVersion::k1_20)
      : dir_("flinksim-sim"), clock_(kT0) {
    SimulatorOptions o;
    o.cluster.version = v;
    o.cluster.data_dir = dir_.path();
    o.initial_jobs = jobs;
    o.scenario = std::move(scenario);
    sim_ = std::make_unique<Simulator>(std::move(o), clock_);
    Advance(1'000);
  }
  void Advance(int64_t ms) {
    clock_.Advance(ms);
    sim_->Tick();
  }
  Simulator& sim() { return *sim_; }
  RestOutcome Rest(const std::string& method, const std::string& uri, const std::string& body = "",
                   std::vector<std::pair<std::string, std::string>> headers = {}) {
    return sim_->HandleRest(Request(method, uri, body, std::move(headers)));
  }
  HttpResponse Control(const std::string& method, const std::string& uri,
                       const std::string& body = "") {
    return sim_->HandleControl(Request(method, uri, body, {}));
  }
  Job& job(const std::string& ref) {
    Job* j = sim_->cluster_for_testing().ResolveJob(ref);
    REQUIRE(j != nullptr);
    return *j;
  }

 private:
  static HttpRequest Request(const std::string& method, const std::string& uri,
                             const std::string& body,
                             std::vector<std::pair<std::string, std::string>> headers) {
    HttpRequest r;
    r.method = method;
    size_t q = uri.find('?');
    r.path = uri.substr(0, q);
    r.query = q == std::string::npos ? "" : uri.substr(q + 1);
    r.body = body;
    r.headers = std::move(headers);
    return r;
  }

  flinkguard::testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Simulator> sim_;
};

TEST_CASE("leader election answers 503 with Flink's text for N requests, then normal service") {
  Env env;
  CHECK(env.Control("POST", "/_sim/leader_election", R"({"requests":2})").status == 200);
  for (int i = 0; i < 2; ++i) {
    RestOutcome r = env.Rest("GET", "/jobs/overview");
    CHECK(r.response.status == 503);
    CHECK(
        r.response.body ==
        R"({"errors":["Service temporarily unavailable due to an ongoing leader election. Please refresh."]})");
  }
  CHECK(env.Rest("GET", "/jobs/overview").response.status == 200);
  // A time-bounded window (simulated time).
  env.Control("POST", "/_sim/action", R"({"action":"leader_election","duration":"10s"})");
  CHECK(env.Rest("GET", "/overview").response.status == 503);
  env.Advance(10'001);
  CHECK(env.Rest("GET", "/overview").response.status == 200);
}

TEST_CASE(
    "garbage, truncated and 500 bodies, limited to a path prefix; slow answers carry a delay") {
  Env env;
  env.Control("POST", "/_sim/garbage", R"({"path_prefix":"/jobs/overview"})");
  RestOutcome g = env.Rest("GET", "/v1/jobs/overview");
  CHECK(g.response.status == 200);
  CHECK(g.response.body.find("{{{") != std::string::npos);
  CHECK(env.Rest("GET", "/overview").response.body.front() == '{');
  env.Control("POST", "/_sim/clear_faults");

  env.Control("POST", "/_sim/truncate", R"({"path_prefix":"/overview"})");
  RestOutcome t = env.Rest("GET", "/overview");
  CHECK(t.response.status == 200);
  CHECK(t.response.body.front() == '{');
  CHECK(t.response.body.back() != '}');
  env.Control("POST", "/_sim/clear_faults");

  env.Control("POST", "/_sim/error_500", R"({"duration":"5s"})");
  RestOutcome e = env.Rest("GET", "/config");
  CHECK(e.response.status == 500);
  CHECK(e.response.body.find(
            R"({"errors":["Internal server error.","<Exception on server side:\n)") == 0);
  env.Advance(6'000);
  CHECK(env.Rest("GET", "/config").response.status == 200);

  env.Control("POST", "/_sim/slow", R"({"delay_ms":250,"path_prefix":"/jobs"})");
  CHECK(env.Rest("GET", "/jobs").delay_ms == 250);
  CHECK(env.Rest("GET", "/config").delay_ms == 0);
}

TEST_CASE(
    "cluster down: refuse closes the listener, hang holds requests; both bounded by a duration") {
  Env env;
  CHECK(env.sim().RestShouldListen());
  env.Control("POST", "/_sim/cluster_down", R"({"mode":"refuse","duration":"30s"})");
  CHECK_FALSE(env.sim().RestShouldListen());
  // The control API keeps answering.
  CHECK(env.Control("GET", "/_sim/state").body.find(R"("cluster":"refuse")") != std::string::npos);
  env.Advance(30'001);
  CHECK(env.sim().RestShouldListen());

  env.Control("POST", "/_sim/cluster_down", R"({"mode":"hang"})");
  CHECK(env.Rest("GET", "/overview").hang);
  CHECK(env.sim().Hanging());
  // /_sim/ on the REST port is never affected by faults.
  CHECK(env.Rest("GET", "/_sim/state").response.status == 200);
  env.Control("POST", "/_sim/cluster_up");
  CHECK_FALSE(env.sim().Hanging());
  CHECK(env.Rest("GET", "/overview").response.status == 200);
}

TEST_CASE(
    "the request log records mutating requests with identity headers and sim time; it can be "
    "cleared") {
  Env env;
  std::string id = env.job("job-0").id;
  env.Rest("GET", "/jobs/overview");
  env.Rest("PATCH", "/jobs/" + id + "?mode=cancel", "",
           {{"User-Agent", "flinkguard/0.1"}, {"X-Flinkguard-Instance", "agent-7"}});
  env.Rest("POST", "/jobs/" + id + "/savepoints", R"({"target-directory":"/tmp/x"})");
  HttpResponse log = env.Control("GET", "/_sim/requests");
  CHECK(log.status == 200);
  rapidjson::Document d;
  d.Parse(log.body.c_str());
  REQUIRE(d["requests"].Size() == 2);
  const auto& first = d["requests"][0];
  CHECK(std::string(first["method"].GetString()) == "PATCH");
  CHECK(std::string(first["path"].GetString()) == "/jobs/" + id);
  CHECK(std::string(first["query"].GetString()) == "mode=cancel");
  CHECK(std::string(first["user_agent"].GetString()) == "flinkguard/0.1");
  CHECK(std::string(first["instance"].GetString()) == "agent-7");
  CHECK(first["status"].GetInt() == 202);
  CHECK(first["sim_time"].GetInt64() >= kT0);
  CHECK(std::string(d["requests"][1]["body"].GetString()) == R"({"target-directory":"/tmp/x"})");
  CHECK(env.Control("DELETE", "/_sim/requests").status == 200);
  CHECK(env.Control("GET", "/_sim/requests").body == R"({"requests":[]})");
}

TEST_CASE(
    "control actions: fail (restart/terminal), restart loops, checkpoints, traffic, time, "
    "deletion") {
  Env env;
  CHECK(env.Control("POST", "/_sim/fail_job",
                    R"({"job":"job-0","exception":"java.lang.RuntimeException: boom"})")
            .status == 200);
  CHECK(env.job("job-0").status == JobStatus::kRestarting);
  CHECK(env.Control("POST", "/_sim/fail_job", R"({"job":"job-1","terminal":true})").status == 200);
  CHECK(env.job("job-1").status == JobStatus::kFailed);
  CHECK(env.Control("POST", "/_sim/fail_job", R"({"job":"job-1"})").status == 409);
  CHECK(env.Control("POST", "/_sim/fail_job", R"({"job":"nope"})").status == 404);
  CHECK(env.Control("POST", "/_sim/no_such_action", "{}").status == 400);

  env.Advance(3'000);
  CHECK(env.Control("POST", "/_sim/set_traffic", R"({"job":"job-0","qps":5000,"backpressure":0.8})")
            .status == 200);
  CHECK(env.job("job-0").traffic.qps == doctest::Approx(5000.0));
  CHECK(env.Control("POST", "/_sim/restart_loop", R"({"job":"job-0","after":"2s","times":1})")
            .status == 200);
  CHECK(env.Control("POST", "/_sim/advance_time", R"({"by":"3s"})").status == 200);
  CHECK(env.job("job-0").num_restarts == 2);

  env.Advance(20'000);
  Job& j = env.job("job-0");
  REQUIRE(j.latest_completed.has_value());
  std::string dir = j.checkpoints.at(*j.latest_completed).local_dir;
  CHECK(ReadWholeFile(dir + "/_metadata").has_value());
  CHECK(env.Control("POST", "/_sim/delete_checkpoint", R"({"job":"job-0","checkpoint":"latest"})")
            .status == 200);
  CHECK_FALSE(ReadWholeFile(dir + "/_metadata").has_value());

  CHECK(env.Control("POST", "/_sim/checkpoints", R"({"mode":"stall"})").status == 200);
  CHECK(env.job("job-0").faults.checkpoint_mode == CheckpointFaultMode::kStall);
  CHECK(env.Control("POST", "/_sim/actions",
                    R"([{"action":"clear_faults"},{"action":"start_job","name":"extra"}])")
            .status == 200);
  CHECK(env.job("job-0").faults.checkpoint_mode == CheckpointFaultMode::kOk);
  CHECK(env.job("extra").status == JobStatus::kInitializing);

  HttpResponse jobs = env.Control("GET", "/_sim/jobs");
  CHECK(jobs.status == 200);
  CHECK(jobs.body.find(R"("name":"extra")") != std::string::npos);
  CHECK(jobs.body.find(R"("restored_from":null)") != std::string::npos);
  CHECK(env.Control("GET", "/overview").status == 404);  // the control port serves only /_sim/
}

TEST_CASE("set_traffic chooses the source-lag metric; 2.0 has no legacy Kafka consumer") {
  Env env(1);
  CHECK(env.job("job-0").traffic.lag_metric == LagMetric::kPendingRecords);
  CHECK(
      env.Control("POST", "/_sim/set_traffic", R"({"job":"job-0","lag_metric":"records-lag-max"})")
          .status == 200);
  CHECK(env.job("job-0").traffic.lag_metric == LagMetric::kRecordsLagMax);
  CHECK(env.Control("GET", "/_sim/jobs")
            .body.find(R"("lag_metric":"KafkaConsumer.records-lag-max")") != std::string::npos);
  CHECK(env.Control("POST", "/_sim/set_traffic", R"({"job":"job-0","lag_metric":"none"})").status ==
        200);
  CHECK(env.job("job-0").traffic.lag_metric == LagMetric::kNone);
  HttpResponse bad =
      env.Control("POST", "/_sim/set_traffic", R"({"job":"job-0","lag_metric":"lag"})");
  CHECK(bad.status == 400);
  CHECK(bad.body.find("lag_metric must be") != std::string::npos);
  CHECK(env.job("job-0").traffic.lag_metric == LagMetric::kNone);

  Env v2(1, {}, FlinkVersion::k2_0);
  CHECK(v2.Control("POST", "/_sim/set_traffic", R"({"job":"job-0","lag_metric":"records-lag-max"})")
            .status == 400);
  CHECK(v2.Control("POST", "/_sim/set_traffic", R"({"job":"job-0","lag_metric":"none"})").status ==
        200);
}

TEST_CASE("scenario files schedule actions on simulated time") {
  auto steps = ParseScenario(R"(
- {at: 30s, action: fail_job, job: job-1, exception: "java.lang.RuntimeException: boom"}
- {at: 10s, action: set_traffic, job: job-0, backpressure: 0.5}
- at: 1m
  action: checkpoints
  job: job-0
  mode: fail
  message: storage unavailable
)");
  REQUIRE(steps.size() == 3);
  CHECK(steps[0].at_ms == 10'000);
  CHECK(steps[2].at_ms == 60'000);
  Env env(2, steps);  // already 1 s in
  env.Advance(8'000);
  CHECK(env.job("job-0").traffic.backpressure == doctest::Approx(0.0));
  env.Advance(1'500);
  CHECK(env.job("job-0").traffic.backpressure == doctest::Approx(0.5));
  env.Advance(21'000);
  CHECK(env.job("job-1").num_restarts == 1);
  CHECK(env.job("job-1").exceptions.back().stacktrace.find("boom") != std::string::npos);
  env.Advance(30'000);
  CHECK(env.job("job-0").faults.checkpoint_mode == CheckpointFaultMode::kFail);
  CHECK(env.job("job-0").faults.checkpoint_fail_message == "storage unavailable");

  CHECK_THROWS_WITH_AS(ParseScenario("- {at: soon, action: cluster_up}"),
                       doctest::Contains("step 1 (line 1): key `at`"), std::runtime_error);
  CHECK_THROWS_AS(ParseScenario("- {at: 1s}"), std::runtime_error);
  CHECK(ParseScenario("actions:\n  - {action: cluster_up}\n").size() == 1);
}

TEST_CASE("Prometheus exposition: Flink's names, labels, HELP/TYPE and value format") {
  Env env(1);
  env.Control("POST", "/_sim/fail_job", R"({"job":"job-0"})");
  env.Advance(5'000);
  std::string text = env.sim().Prometheus();
  const std::string id = env.job("job-0").id;
  CHECK(text.find("# HELP flink_jobmanager_job_numRestarts numRestarts (scope: jobmanager_job)\n"
                  "# TYPE flink_jobmanager_job_numRestarts gauge\n"
                  "flink_jobmanager_job_numRestarts{job_id=\"" +
                  id + "\",job_name=\"job_0\",host=\"localhost\",} 1.0\n") != std::string::npos);
  CHECK(text.find("flink_jobmanager_job_uptime{") != std::string::npos);
  CHECK(text.find("flink_jobmanager_job_lastCheckpointDuration{") != std::string::npos);
  CHECK(text.find("flink_taskmanager_job_task_backPressuredTimeMsPerSecond{") != std::string::npos);
  CHECK(text.find("flink_taskmanager_job_task_operator_pendingRecords{") != std::string::npos);
  CHECK(text.find("flink_taskmanager_job_task_buffers_inPoolUsage{") != std::string::npos);
  std::regex op_sample(
      R"re(flink_taskmanager_job_task_operator_numRecordsOutPerSecond\{job_id="[0-9a-f]{32}",job_name="job_0",task_name="Source:_Events",operator_name="Source:_Events",subtask_index="0",task_attempt_num="1",tm_id="localhost:\d+_[0-9a-f]{6}",host="localhost",task_id="[0-9a-f]{32}",operator_id="[0-9a-f]{32}",task_attempt_id="[0-9a-f]{32}",\} \d+\.\d+)re");
  CHECK(std::regex_search(text, op_sample));
  // Every sample line belongs to the family announced just before it.
  std::string family;
  size_t lines = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++lines;
    if (StartsWith(line, "# TYPE ")) {
      family = line.substr(7, line.find(' ', 7) - 7);
    } else if (!StartsWith(line, "# HELP ")) {
      CHECK(StartsWith(line, family + "{"));
    }
  }
  CHECK(lines > 100);
  // Task metrics only while the tasks run.
  env.Control("POST", "/_sim/cancel_job", R"({"job":"job-0"})");
  env.Advance(1'000);
  CHECK(env.sim().Prometheus().find("flink_taskmanager_job_task_") == std::string::npos);
}

TEST_CASE("Java number formatting used by metric values") {
  CHECK(JavaDoubleToString(0.0) == "0.0");
  CHECK(JavaDoubleToString(689.4833333333333) == "689.4833333333333");
  CHECK(JavaDoubleToString(1651445646439.0) == "1.651445646439E12");
  CHECK(JavaDoubleToString(1e7) == "1.0E7");
  CHECK(JavaDoubleToString(9999999.0) == "9999999.0");
  CHECK(JavaDoubleToString(0.001) == "0.001");
  CHECK(JavaDoubleToString(0.0001) == "1.0E-4");
  CHECK(JavaDoubleToString(-2.5) == "-2.5");
  CHECK(JavaDoubleToString(std::nan("")) == "NaN");
  CHECK(ParseDurationMs("10 s") == 10'000);
  CHECK(ParseDurationMs("2min") == 120'000);
  CHECK(ParseDurationMs("250") == 250);
  CHECK_FALSE(ParseDurationMs("later").has_value());
}

}  // namespace
}  // namespace flinksim
