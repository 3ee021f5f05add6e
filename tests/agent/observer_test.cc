// The Observer's logic, on a scripted transport: which requests each cycle sends, and what the
// snapshots say (values, freshness, reasons). No sockets, no sleeps: times are passed in.
#include "agent/observation_format.h"
#include "agent/observer.h"
#include "agent/wiring.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "tests/fakes/scripted_transport.h"

using namespace flinkguard;
using flinkguard::testing::ScriptedTransport;

namespace {

constexpr const char* kJob = "0123456789abcdef0123456789abcdef";
constexpr const char* kSrc = "bc764cd8ddf7a0cff126f51c16239658";
constexpr const char* kSink = "20ba6b65f97481d5570070de90e4e791";
constexpr std::int64_t kT0 = 1'700'000'000'000;  // agent wall clock at the first cycle
constexpr std::int64_t kSkew = 5'000;            // the JobManager's clock runs 5 s ahead

const std::string kBase = "http://jm-a:8081";
std::string U(const std::string& path) { return kBase + path; }
const std::string kMetricsUrl =
    U(std::string("/jobs/") + kJob +
      "/metrics?get=numRestarts,numberOfCompletedCheckpoints,numberOfFailedCheckpoints,"
      "lastCheckpointDuration,lastCheckpointExternalPath,lastCompletedCheckpointId,"
      "lastCheckpointCompletedTimestamp");
const std::string kQpsUrl = U(std::string("/jobs/") + kJob + "/vertices/" + kSrc +
                              "/subtasks/metrics?get=numRecordsOutPerSecond&agg=sum");
// The source vertex's metric list (read once, for the lag metric's id), and throughput with lag.
const std::string kSrcListUrl =
    U(std::string("/jobs/") + kJob + "/vertices/" + kSrc + "/subtasks/metrics");
const std::string kSourceUrl =
    U(std::string("/jobs/") + kJob + "/vertices/" + kSrc +
      "/subtasks/metrics?get=numRecordsOutPerSecond,Source__Kafka.pendingRecords&agg=sum");

// A scripted Flink 1.20 cluster with one job whose counters the test moves.
struct FakeCluster {
  ScriptedTransport t;
  std::string name = "ads-spend";
  std::string state = "RUNNING";
  std::int64_t last_modification = kT0 - 60'000;
  std::int64_t server_now = kT0 + kSkew;
  std::int64_t restarts = 0;
  std::int64_t completed = 5;
  std::int64_t failed = 0;
  std::int64_t last_ack = kT0 + kSkew - 20'000;
  std::int64_t bp_acc_sink = 0;
  std::int64_t bp_acc_src = 0;
  int checkpoints_served = 0;
  int details_served = 0;
  // The source's lag metric as its metric list names it ("" = none) and its sum over subtasks.
  std::string lag_metric = "Source__Kafka.pendingRecords";
  double pending = 1500;
  int lists_served = 0;
  // Checkpoint paths in Flink's layout (<dir>/<job id>/chk-<id>) or a bare "s3://b/chk-<id>",
  // which the observer does not take from the gauges (so older tests see the /checkpoints path).
  bool job_dir_layout = false;
  bool completed_gauge = false;  // Flink 2.0's lastCheckpointCompletedTimestamp
  std::optional<std::string> gauge_path;  // lastCheckpointExternalPath when not the newest's
  std::optional<std::int64_t> gauge_id;   // lastCompletedCheckpointId when not the newest's

  // Flink 2.0 with checkpoints in Flink's own layout: the gauges tell path, id and time.
  void GaugesOf20() {
    job_dir_layout = true;
    completed_gauge = true;
  }

  std::string PathOf(std::int64_t id) const {
    return std::string("s3://b/") + (job_dir_layout ? std::string(kJob) + "/" : "") + "chk-" +
           std::to_string(id);
  }

  FakeCluster() {
    t.Reply("GET", U("/config"), 200,
            R"({"refresh-interval":3000,"flink-version":"1.20.1","flink-revision":"x",)"
            R"("features":{"web-submit":true,"web-cancel":true}})");
    t.Reply("GET", U("/overview"), 200,
            R"({"taskmanagers":2,"slots-total":32,"slots-available":30,"jobs-running":1,)"
            R"("jobs-finished":0,"jobs-cancelled":0,"jobs-failed":0,"flink-version":"1.20.1"})");
    t.On("GET", U("/jobs/overview"), [this](const HttpRequest&) {
      return Ok(std::string(R"({"jobs":[{"jid":")") + kJob + R"(","name":")" + name +
                R"(","state":")" + state + R"(","start-time":)" + std::to_string(kT0 - 3'600'000) +
                R"(,"end-time":-1,"duration":1,"last-modification":)" +
                std::to_string(last_modification) + R"(,"tasks":{"total":4,"running":)" +
                (state == "RUNNING" ? "4" : "0") + R"(,"canceled":0}}]})");
    });
    t.On("GET", U(std::string("/jobs/") + kJob), [this](const HttpRequest&) {
      ++details_served;
      return Ok(
          std::string(R"({"jid":")") + kJob + R"(","name":")" + name + R"(","state":")" + state +
          R"(","start-time":1,"end-time":-1,"duration":1,"now":)" + std::to_string(server_now) +
          R"(,"timestamps":{"RUNNING":)" + std::to_string(kT0 + kSkew - 600'000) +
          R"(},"vertices":[)" + R"({"id":")" + kSrc +
          R"(","name":"Source: Kafka","parallelism":2,"status":"RUNNING",)" +
          R"("tasks":{"RUNNING":2},"metrics":{"accumulated-backpressured-time":)" +
          std::to_string(bp_acc_src) + R"(}},{"id":")" + kSink +
          R"(","name":"Sink: Print","parallelism":2,"status":"RUNNING","tasks":{"RUNNING":2},)" +
          R"("metrics":{"accumulated-backpressured-time":)" + std::to_string(bp_acc_sink) + "}}]}");
    });
    t.Reply(
        "GET", U(std::string("/jobs/") + kJob + "/checkpoints/config"), 200,
        R"({"mode":"exactly_once","interval":60000,"timeout":600000,"min_pause":0,)"
        R"("max_concurrent":1,"externalization":{"enabled":true,"delete_on_cancellation":false},)"
        R"("tolerable_failed_checkpoints":2})");
    t.On("GET", kMetricsUrl, [this](const HttpRequest&) {
      return Ok(R"([{"id":"numRestarts","value":")" + std::to_string(restarts) +
                R"("},{"id":"numberOfCompletedCheckpoints","value":")" + std::to_string(completed) +
                R"("},{"id":"numberOfFailedCheckpoints","value":")" + std::to_string(failed) +
                R"("},{"id":"lastCheckpointDuration","value":"120"},)" +
                R"({"id":"lastCheckpointExternalPath","value":")" + gauge_path.value_or(PathOf(completed)) +
                R"("},{"id":"lastCompletedCheckpointId","value":")" +
                std::to_string(gauge_id.value_or(completed)) + R"("})" +
                (completed_gauge ? R"(,{"id":"lastCheckpointCompletedTimestamp","value":")" +
                                       std::to_string(last_ack) + R"("})"
                                 : std::string()) +
                "]");
    });
    t.On("GET", U(std::string("/jobs/") + kJob + "/checkpoints"), [this](const HttpRequest&) {
      ++checkpoints_served;
      return Ok(
          R"({"counts":{"restored":0,"total":)" + std::to_string(completed + failed) +
          R"(,"in_progress":0,"completed":)" + std::to_string(completed) + R"(,"failed":)" +
          std::to_string(failed) + R"(},"latest":{"completed":{"className":"completed","id":)" +
          std::to_string(completed) +
          R"(,"status":"COMPLETED","is_savepoint":false,"trigger_timestamp":)" +
          std::to_string(last_ack - 100) + R"(,"latest_ack_timestamp":)" +
          std::to_string(last_ack) + R"(,"external_path":")" + PathOf(completed) +
          R"(","discarded":false},"savepoint":null,"failed":null,"restored":null},"history":[]})");
    });
    t.On("GET", kQpsUrl,
         [](const HttpRequest&) { return Ok(R"([{"id":"numRecordsOutPerSecond","sum":812.5}])"); });
    t.On("GET", kSrcListUrl, [this](const HttpRequest&) {
      ++lists_served;
      return Ok(R"([{"id":"numRecordsOutPerSecond"},{"id":"Source__Kafka.numRecordsOutPerSecond"})" +
                (lag_metric.empty() ? "" : R"(,{"id":")" + lag_metric + R"("})") + "]");
    });
    t.On("GET", kSourceUrl, [this](const HttpRequest&) {
      // Flink's quirk: one requested id without a value empties the whole answer.
      if (lag_metric != "Source__Kafka.pendingRecords") return Ok("[]");
      return Ok(R"([{"id":"numRecordsOutPerSecond","sum":812.5},)"
                R"({"id":"Source__Kafka.pendingRecords","sum":)" +
                std::to_string(pending) + "}]");
    });
    t.Reply(
        "GET", U(std::string("/jobs/") + kJob + "/exceptions?maxExceptions=1"), 200,
        R"({"exceptionHistory":{"entries":[{"exceptionName":"java.io.IOException",)"
        R"x("stacktrace":"java.io.IOException: broker gone\n\tat a.B(B.java:1)\n\tat c.D(D.java:2)\n\tat e.F(F.java:3)",)x"
        R"("timestamp":1,"concurrentExceptions":[]}],"truncated":false}})");
  }

  static Result<HttpResponse> Ok(std::string body) {
    HttpResponse r;
    r.status = 200;
    r.body = std::move(body);
    return r;
  }

  std::vector<ObservedCluster> Clusters() const {
    ObservedCluster c;
    c.endpoint.cluster = "yarn-a";
    c.endpoint.base_url = kBase;
    c.az = "az-1";
    return {c};
  }
};

const JobSnapshot& OnlyJob(const Observation& o) {
  REQUIRE(o.jobs.size() == 1);
  return o.jobs[0];
}

}  // namespace

TEST_CASE("a first cycle reads everything and fills a fresh snapshot") {
  FakeCluster f;
  Observer obs(f.t, f.Clusters(), nullptr, {}, {});
  const Observation o = obs.RunCycle(kT0);
  CHECK(f.t.unexpected().empty());
  REQUIRE(o.clusters.size() == 1);
  CHECK(o.clusters[0].reachable);
  CHECK(o.clusters[0].flink_version.fresh());
  CHECK(o.clusters[0].flink_version.value == "1.20.1");
  REQUIRE(o.clusters[0].capacity.fresh());
  CHECK(o.clusters[0].capacity.value->slots_available == 30);
  const JobSnapshot& j = OnlyJob(o);
  CHECK(j.cluster == "yarn-a");
  CHECK(j.name == "ads-spend");
  CHECK(j.status.fresh());
  CHECK(j.status.value == JobStatus::kRunning);
  CHECK(j.all_tasks_running.value == true);
  CHECK(j.restarts.value == 0);
  CHECK(j.checkpoints_completed.value == 5);
  REQUIRE(j.last_checkpoint.value.has_value());
  CHECK(j.last_checkpoint.value->path == "s3://b/chk-5");
  CHECK(j.last_checkpoint.fresh());
  // Ages use the JobManager's clock (5 s ahead), learned from the details' `now`.
  CHECK(j.checkpoint_age_ms.value == 20'000);
  CHECK(j.uptime_ms.value == 600'000);
  CHECK(j.checkpoint_settings.value->interval_ms == 60'000);
  CHECK(j.checkpoint_settings.value->tolerable_failures == 2);
  CHECK(j.checkpoint_settings.value->retained_on_cancel);
  CHECK(j.qps.value == 812.5);
  CHECK(j.qps.fresh());
  CHECK(j.lag.value == 1500);
  CHECK(j.lag.fresh());
  CHECK(f.lists_served == 1);
  CHECK_FALSE(j.backpressure.known());  // a rate needs a second sample
  CHECK(o.problems.empty());
  CHECK(o.requests == static_cast<std::int64_t>(f.t.sent().size()));
}

TEST_CASE("unchanged counters: no checkpoint requests, not even with the details; facts age") {
  FakeCluster f;
  Observer obs(f.t, f.Clusters(), nullptr, {}, ObserverOptions{.detail_every = 3});
  obs.RunCycle(kT0);
  f.t.ClearLog();
  f.server_now += 10'000;
  const Observation o = obs.RunCycle(kT0 + 10'000);
  // Details are read a second time right away: backpressure is a rate over two samples. The
  // checkpoint statistics would be read with them if a newer checkpoint had been counted.
  CHECK(f.details_served == 2);
  CHECK(f.checkpoints_served == 1);
  CHECK(f.t.Count("GET " + U("/config")) == 0);  // the version is re-read only when due
  const JobSnapshot& j = OnlyJob(o);
  CHECK(j.last_checkpoint.fresh());
  CHECK(j.last_checkpoint.observed_at_ms == kT0 + 10'000);
  CHECK(j.checkpoint_age_ms.value == 30'000);
  CHECK(j.qps.fresh());
  CHECK(j.backpressure.value == 0.0);
  // Then once every third cycle, in the job's own phase (phases spread jobs over the cycles):
  // nine more cycles read details exactly three times, never more than three cycles apart.
  int since_last = 0;
  int longest_gap = 0;
  for (int i = 2; i <= 10; ++i) {
    const int before = f.details_served;
    f.server_now += 10'000;
    const Observation oi = obs.RunCycle(kT0 + i * 10'000);
    since_last = f.details_served > before ? 0 : since_last + 1;
    longest_gap = std::max(longest_gap, since_last);
    CHECK(OnlyJob(oi).backpressure.fresh());
    CHECK(OnlyJob(oi).last_checkpoint.fresh());  // the counters did not move
  }
  CHECK(f.details_served == 5);
  CHECK(f.checkpoints_served == 1);
  CHECK(longest_gap <= 2);
}

TEST_CASE("a new checkpoint moves the counters and is read; a restart fetches the root cause") {
  FakeCluster f;
  Observer obs(f.t, f.Clusters(), nullptr, {}, {});
  obs.RunCycle(kT0);
  CHECK(f.checkpoints_served == 1);
  f.completed = 6;
  f.last_ack = kT0 + kSkew + 9'000;
  f.restarts = 1;
  f.server_now += 10'000;
  const Observation o = obs.RunCycle(kT0 + 10'000);
  CHECK(f.checkpoints_served == 2);
  const JobSnapshot& j = OnlyJob(o);
  CHECK(j.last_checkpoint.value->id == 6);
  CHECK(j.checkpoint_age_ms.value == 1'000);
  CHECK(j.restarts.value == 1);
  CHECK(j.root_exception ==
        "java.io.IOException: broker gone\n\tat a.B(B.java:1)\n\tat c.D(D.java:2)");
  // Same restart count next cycle: the exception is not fetched again.
  f.t.ClearLog();
  obs.RunCycle(kT0 + 20'000);
  CHECK(f.t.Count("GET " + U(std::string("/jobs/") + kJob + "/exceptions")) == 0);
}

const std::string kCheckpointsUrl = U(std::string("/jobs/") + kJob + "/checkpoints");

// Details on the first two cycles only (the second backpressure sample), then not for 100
// cycles: what happens between two detail reads.
ObserverOptions RareDetails() {
  ObserverOptions o;
  o.detail_every = 100;
  o.metric_fetch_interval_ms = 10'000;
  return o;
}

TEST_CASE(
    "between detail reads a completed checkpoint is counted, not read: stale path, age bound") {
  FakeCluster f;
  Observer obs(f.t, f.Clusters(), nullptr, {}, RareDetails());
  obs.RunCycle(kT0);  // reads everything
  f.server_now += 10'000;
  obs.RunCycle(kT0 + 10'000);  // second details sample; nothing newer to read
  CHECK(f.checkpoints_served == 1);
  CHECK(f.details_served == 2);
  // Unchanged counters: the checkpoint read on the first cycle is still the newest, exact age.
  f.server_now += 10'000;
  const JobSnapshot a = OnlyJob(obs.RunCycle(kT0 + 20'000));
  CHECK(f.checkpoints_served == 1);
  CHECK(a.last_checkpoint.fresh());
  CHECK(a.checkpoint_age_ms.value == 40'000);
  CHECK_FALSE(a.checkpoint_age_upper_bound);

  // Checkpoint 6 completes 2 s before the next cycle; the counter says so, /checkpoints is not
  // read (no details due).
  f.server_now += 10'000;
  f.completed = 6;
  f.last_ack = f.server_now - 2'000;
  f.t.ClearLog();
  const JobSnapshot b = OnlyJob(obs.RunCycle(kT0 + 30'000));
  CHECK(f.t.Count("GET " + kCheckpointsUrl) == 0);
  CHECK(f.t.unexpected().empty());
  CHECK(b.checkpoints_completed.fresh());
  CHECK(b.checkpoints_completed.value == 6);
  // The restore points may be outdated: stale, last values kept, with the reason.
  CHECK(b.last_checkpoint.freshness == Freshness::kStale);
  CHECK(b.last_checkpoint.value->path == "s3://b/chk-5");
  CHECK(b.last_checkpoint.why.find("numberOfCompletedCheckpoints is 6, 5") != std::string::npos);
  CHECK(b.last_savepoint.freshness == Freshness::kStale);
  // The age is fresh but an upper bound: checkpoint 6 completed after the metrics read of the
  // previous cycle (at kT0 + 20 s) showed 5 — which Flink's metric store may have answered
  // with values as old as the read before it (kT0 + 10 s) less its 10 s fetch interval.
  REQUIRE(b.checkpoint_age_ms.fresh());
  CHECK(b.checkpoint_age_upper_bound);
  CHECK(b.checkpoint_age_ms.value == 30'000);
  CHECK(*b.checkpoint_age_ms.value >= 2'000);  // never below the true age
  // A cycle later, no newer one: the same bound, aged by the interval.
  f.server_now += 10'000;
  const JobSnapshot c = OnlyJob(obs.RunCycle(kT0 + 40'000));
  CHECK(f.checkpoints_served == 1);
  CHECK(c.last_checkpoint.freshness == Freshness::kStale);
  CHECK(c.checkpoint_age_upper_bound);
  CHECK(c.checkpoint_age_ms.value == 40'000);
}

TEST_CASE("the age bound never exceeds the age of the checkpoint read before") {
  FakeCluster f;
  f.last_ack = kT0 + kSkew - 1'000;  // checkpoint 5 completed 1 s before the first cycle
  Observer obs(f.t, f.Clusters(), nullptr, {}, RareDetails());
  obs.RunCycle(kT0);
  f.server_now += 10'000;
  obs.RunCycle(kT0 + 10'000);
  f.server_now += 10'000;
  f.completed = 6;
  f.last_ack = f.server_now - 500;
  const JobSnapshot j = OnlyJob(obs.RunCycle(kT0 + 20'000));
  CHECK(f.checkpoints_served == 1);
  CHECK(j.checkpoint_age_upper_bound);
  // Checkpoint 6 completed after checkpoint 5: at most 21 s ago (the metric bound says 30 s).
  CHECK(j.checkpoint_age_ms.value == 21'000);
}

// Ten seconds on, one more checkpoint completed `ago` ms before cycle `i` observes it.
JobSnapshot CheckpointAndCycle(FakeCluster& f, Observer& obs, int i, std::int64_t ago) {
  f.server_now += 10'000;
  f.completed += 1;
  f.last_ack = f.server_now - ago;
  return OnlyJob(obs.RunCycle(kT0 + i * 10'000));
}

TEST_CASE("a steadily checkpointing 1.20 job is followed through the checkpoint gauges") {
  FakeCluster f;
  f.job_dir_layout = true;
  Observer obs(f.t, f.Clusters(), nullptr, {}, ObserverOptions{.detail_every = 3});
  obs.RunCycle(kT0);
  CHECK(f.checkpoints_served == 1);
  for (int i = 1; i <= 9; ++i) {
    const JobSnapshot j = CheckpointAndCycle(f, obs, i, 2'000);
    CAPTURE(i);
    CHECK(f.t.unexpected().empty());
    REQUIRE(j.last_checkpoint.value.has_value());
    CHECK(j.last_checkpoint.fresh());
    CHECK(j.last_checkpoint.value->id == f.completed);
    CHECK(j.last_checkpoint.value->path == f.PathOf(f.completed));
    CHECK(j.last_checkpoint.value->addressable);
    REQUIRE(j.checkpoint_age_ms.fresh());
    CHECK(*j.checkpoint_age_ms.value >= 2'000);  // never below the true age
    if (i >= 2) {
      // Taken from the gauges (1.20 has no completion time there): the time is not known, the
      // trigger time is the latest possible, and the age is the metric sample's bound: after
      // the read of two cycles ago less Flink's 10 s metric fetch interval.
      CHECK(j.last_checkpoint.value->completed_ms == 0);
      CHECK(j.last_checkpoint.value->trigger_ms == f.server_now - 120);
      CHECK(j.checkpoint_age_upper_bound);
      CHECK(j.checkpoint_age_ms.value == 30'000);
    }
  }
  // One /checkpoints read for the first cycle, one on the second (no earlier metrics sample
  // bounded when checkpoint 6 completed yet); none after, although details came every third cycle.
  CHECK(f.checkpoints_served == 2);
  CHECK(f.details_served >= 4);
}

TEST_CASE("with Flink 2.0's completion gauge a checkpoint from the gauges has exact times") {
  FakeCluster f;
  f.GaugesOf20();
  Observer obs(f.t, f.Clusters(), nullptr, {}, {});
  obs.RunCycle(kT0);
  for (int i = 1; i <= 4; ++i) {
    const JobSnapshot j = CheckpointAndCycle(f, obs, i, 3'000);
    CAPTURE(i);
    REQUIRE(j.last_checkpoint.fresh());
    CHECK(j.last_checkpoint.value->id == f.completed);
    CHECK(j.last_checkpoint.value->completed_ms == f.last_ack);
    CHECK(j.last_checkpoint.value->trigger_ms == f.last_ack - 120);  // lastCheckpointDuration
    CHECK_FALSE(j.checkpoint_age_upper_bound);
    CHECK(j.checkpoint_age_ms.value == 3'000);
  }
  CHECK(f.checkpoints_served == 1);
}

// Flink 2.0's gauges, details (and /checkpoints) on the first two cycles only, both run.
struct GaugesOf20Fixture {
  FakeCluster fc;  // not `f`: doctest names the test body so
  Observer obs{fc.t, fc.Clusters(), nullptr, {}, RareDetails()};

  GaugesOf20Fixture() {
    fc.GaugesOf20();
    obs.RunCycle(kT0);
    fc.server_now += 10'000;
    obs.RunCycle(kT0 + 10'000);
    REQUIRE(fc.checkpoints_served == 1);
  }
};

TEST_CASE_FIXTURE(GaugesOf20Fixture,
                  "the gauges are not taken when they could describe something else") {
  fc.server_now += 10'000;
  fc.last_ack = fc.server_now - 1'000;
  SUBCASE("two completed since the last known: a savepoint may be the one in between") {
    fc.completed += 2;
  }
  SUBCASE("the newest is a savepoint") {
    fc.completed += 1;
    fc.gauge_path = "s3://b/savepoints/savepoint-0a1b2c-3d4e5f6a7b8c";
  }
  SUBCASE("the path is another job's checkpoint directory") {
    fc.completed += 1;
    fc.gauge_path = "s3://b/00000000000000000000000000000000/chk-6";
  }
  SUBCASE("lastCompletedCheckpointId disagrees with the path") {
    fc.completed += 1;
    fc.gauge_id = 7;
  }
  SUBCASE("the path does not name a checkpoint id") {
    fc.completed += 1;
    fc.gauge_path = std::string("s3://b/") + kJob + "/chk-6x";
  }
  fc.t.ClearLog();
  const JobSnapshot j = OnlyJob(obs.RunCycle(kT0 + 20'000));
  CHECK(fc.t.Count("GET " + kCheckpointsUrl) == 0);  // no details due: read with the next ones
  CHECK(j.last_checkpoint.freshness == Freshness::kStale);
  CHECK(j.last_checkpoint.value->id == 5);
  CHECK(j.checkpoint_age_upper_bound);
}

TEST_CASE_FIXTURE(GaugesOf20Fixture,
                  "an unaddressable checkpoint from the gauges takes its id from "
                  "lastCompletedCheckpointId") {
  fc.server_now += 10'000;
  fc.completed = 6;
  fc.last_ack = fc.server_now - 1'000;
  fc.gauge_path = "<checkpoint-not-externally-addressable>";
  const JobSnapshot j = OnlyJob(obs.RunCycle(kT0 + 20'000));
  REQUIRE(j.last_checkpoint.fresh());
  CHECK(j.last_checkpoint.value->id == 6);
  CHECK_FALSE(j.last_checkpoint.value->addressable);
  CHECK(j.checkpoint_age_ms.value == 1'000);
  CHECK(fc.checkpoints_served == 1);
}

TEST_CASE("a moved failed-checkpoint counter reads the checkpoint statistics at once") {
  FakeCluster f;
  Observer obs(f.t, f.Clusters(), nullptr, {}, RareDetails());
  obs.RunCycle(kT0);
  f.server_now += 10'000;
  obs.RunCycle(kT0 + 10'000);
  f.server_now += 10'000;
  f.completed = 6;
  f.last_ack = f.server_now - 3'000;
  obs.RunCycle(kT0 + 20'000);
  CHECK(f.checkpoints_served == 1);
  f.server_now += 10'000;
  f.failed = 1;
  f.t.ClearLog();
  const JobSnapshot j = OnlyJob(obs.RunCycle(kT0 + 30'000));
  CHECK(f.t.Count("GET " + kCheckpointsUrl) == 1);
  CHECK(f.details_served == 2);  // the details are not due
  CHECK(j.last_checkpoint.fresh());
  CHECK(j.last_checkpoint.value->id == 6);
  CHECK(j.last_checkpoint.value->path == "s3://b/chk-6");
  CHECK(j.last_savepoint.fresh());
  CHECK_FALSE(j.checkpoint_age_upper_bound);
  CHECK(j.checkpoint_age_ms.value == 13'000);
  CHECK(j.checkpoints_failed.value == 1);
  // Read once: the counter has not moved since.
  f.server_now += 10'000;
  obs.RunCycle(kT0 + 40'000);
  CHECK(f.checkpoints_served == 2);
}

TEST_CASE("a restart reads the checkpoint statistics at once, with the root cause") {
  FakeCluster f;
  Observer obs(f.t, f.Clusters(), nullptr, {}, RareDetails());
  obs.RunCycle(kT0);
  f.server_now += 10'000;
  obs.RunCycle(kT0 + 10'000);
  f.server_now += 10'000;
  f.completed = 6;
  f.restarts = 1;
  f.last_ack = f.server_now - 4'000;
  f.t.ClearLog();
  const JobSnapshot j = OnlyJob(obs.RunCycle(kT0 + 20'000));
  CHECK(f.t.Count("GET " + kCheckpointsUrl) == 1);
  CHECK(f.t.Count("GET " + U(std::string("/jobs/") + kJob + "/exceptions")) == 1);
  CHECK(j.restarts.value == 1);
  CHECK(j.last_checkpoint.fresh());
  CHECK(j.last_checkpoint.value->id == 6);
  CHECK(j.checkpoint_age_ms.value == 4'000);
  CHECK_FALSE(j.checkpoint_age_upper_bound);
}

TEST_CASE("unreadable checkpoint counters read the checkpoint statistics every cycle") {
  FakeCluster f;
  Observer obs(f.t, f.Clusters(), nullptr, {}, RareDetails());
  obs.RunCycle(kT0);
  f.server_now += 10'000;
  obs.RunCycle(kT0 + 10'000);
  // Right after a restart Flink's metric store may not have the checkpoint gauges yet.
  f.t.Reply("GET", kMetricsUrl, 200, R"([{"id":"numRestarts","value":"0"}])");
  f.server_now += 10'000;
  f.completed = 6;
  f.last_ack = f.server_now - 1'000;
  const JobSnapshot j = OnlyJob(obs.RunCycle(kT0 + 20'000));
  CHECK(f.checkpoints_served == 2);
  CHECK(j.last_checkpoint.fresh());
  CHECK(j.last_checkpoint.value->id == 6);
  CHECK(j.checkpoint_age_ms.value == 1'000);
  CHECK(j.checkpoints_completed.fresh());  // from the checkpoint statistics instead
  CHECK(j.checkpoints_completed.value == 6);
}

TEST_CASE("a checkpoint every cycle: the statistics are read only with the details") {
  FakeCluster f;
  Observer obs(f.t, f.Clusters(), nullptr, {}, ObserverOptions{.detail_every = 3});
  int bounded = 0;
  for (int i = 0; i < 12; ++i) {
    const int details_before = f.details_served;
    const int checkpoints_before = f.checkpoints_served;
    ++f.completed;
    f.last_ack = f.server_now - 1'000;
    const JobSnapshot j = OnlyJob(obs.RunCycle(kT0 + i * 10'000));
    const bool details = f.details_served > details_before;
    CHECK((f.checkpoints_served > checkpoints_before) == details);
    if (details) {
      CHECK(j.last_checkpoint.fresh());
      CHECK(j.last_checkpoint.value->id == f.completed);
      CHECK(j.checkpoint_age_ms.value == 1'000);
      CHECK_FALSE(j.checkpoint_age_upper_bound);
    } else {
      ++bounded;
      CHECK(j.last_checkpoint.freshness == Freshness::kStale);
      REQUIRE(j.checkpoint_age_ms.fresh());
      CHECK(j.checkpoint_age_upper_bound);
      CHECK(*j.checkpoint_age_ms.value >= 1'000);
      CHECK(*j.checkpoint_age_ms.value <= 30'000);
    }
    f.server_now += 10'000;
  }
  CHECK(bounded >= 6);  // 2 of 3 cycles after the first two
  CHECK(f.t.unexpected().empty());
}

TEST_CASE("source lag: the metric list is read once, then lag comes with the throughput") {
  FakeCluster f;
  Observer obs(f.t, f.Clusters(), nullptr, {}, ObserverOptions{.detail_every = 1});
  const JobSnapshot a = OnlyJob(obs.RunCycle(kT0));
  CHECK(f.t.unexpected().empty());
  CHECK(a.lag.fresh());
  CHECK(a.lag.value == 1500);
  f.t.ClearLog();
  f.pending = 90'000;
  f.server_now += 10'000;
  const JobSnapshot b = OnlyJob(obs.RunCycle(kT0 + 10'000));
  CHECK(f.lists_served == 1);  // not listed again
  CHECK(f.t.Count("GET " + kSourceUrl) == 1);
  CHECK(f.t.Count("GET " + kQpsUrl) == 0);  // one request per source vertex carries both
  CHECK(b.lag.value == 90'000);
  CHECK(b.qps.value == 812.5);

  // The metric goes away (a reader without splits after a restart): Flink answers the combined
  // request with [] — throughput read alone in the same cycle, lag stale; next time the vertex
  // is listed again, and a source without a lag metric has an unknown lag, never 0.
  f.lag_metric = "";
  f.t.ClearLog();
  f.server_now += 10'000;
  const JobSnapshot c = OnlyJob(obs.RunCycle(kT0 + 20'000));
  CHECK(f.t.Count("GET " + kQpsUrl) == 1);
  CHECK(c.qps.fresh());
  CHECK(c.qps.value == 812.5);
  CHECK(c.lag.freshness == Freshness::kStale);
  CHECK(c.lag.value == 90'000);
  CHECK(c.lag.why == "Source__Kafka.pendingRecords not reported");
  f.server_now += 10'000;
  const JobSnapshot d = OnlyJob(obs.RunCycle(kT0 + 30'000));
  CHECK(f.lists_served == 2);
  CHECK(d.lag.freshness == Freshness::kUnknown);
  CHECK_FALSE(d.lag.known());
  CHECK(d.lag.why.find("reports no lag metric") != std::string::npos);
  CHECK(d.qps.fresh());
  // Listed again only every 30 cycles while it lists none.
  int lists_before = f.lists_served;
  for (int i = 4; i < 33; ++i) {
    f.server_now += 10'000;
    obs.RunCycle(kT0 + i * 10'000);
  }
  CHECK(f.lists_served == lists_before);
  f.lag_metric = "Source__Kafka.KafkaConsumer.records-lag-max";  // the legacy Kafka consumer
  f.t.Reply("GET",
            U(std::string("/jobs/") + kJob + "/vertices/" + kSrc +
              "/subtasks/metrics?get=numRecordsOutPerSecond,"
              "Source__Kafka.KafkaConsumer.records-lag-max&agg=sum"),
            200,
            R"([{"id":"numRecordsOutPerSecond","sum":812.5},)"
            R"({"id":"Source__Kafka.KafkaConsumer.records-lag-max","sum":321.0}])");
  f.server_now += 10'000;
  const JobSnapshot e = OnlyJob(obs.RunCycle(kT0 + 33 * 10'000));
  CHECK(f.lists_served == lists_before + 1);
  CHECK(e.lag.fresh());
  CHECK(e.lag.value == 321.0);
  CHECK(f.t.unexpected().empty());
}

TEST_CASE("a source vertex whose operator name needs escaping in the query") {
  FakeCluster f;
  f.lag_metric = "Source__T(table=[a&b]).pendingRecords";
  const std::string url = U(std::string("/jobs/") + kJob + "/vertices/" + kSrc +
                            "/subtasks/metrics?get=numRecordsOutPerSecond,"
                            "Source__T%28table%3D%5Ba%26b%5D%29.pendingRecords&agg=sum");
  f.t.Reply("GET", url, 200,
            R"([{"id":"numRecordsOutPerSecond","sum":10},)"
            R"({"id":"Source__T(table=[a&b]).pendingRecords","sum":77}])");
  Observer obs(f.t, f.Clusters(), nullptr, {}, {});
  const JobSnapshot j = OnlyJob(obs.RunCycle(kT0));
  CHECK(f.t.unexpected().empty());
  CHECK(j.lag.value == 77);
  CHECK(j.qps.value == 10);
}

TEST_CASE("a cluster's own detail_every and metric fetch interval replace the observer-wide ones") {
  // Observer-wide: details every 100 cycles; the cluster: every cycle.
  {
    FakeCluster f;
    std::vector<ObservedCluster> clusters = f.Clusters();
    clusters[0].detail_every = 1;
    Observer obs(f.t, clusters, nullptr, {}, RareDetails());
    for (int i = 0; i < 6; ++i) {
      obs.RunCycle(kT0 + i * 10'000);
      f.server_now += 10'000;
    }
    CHECK(f.details_served == 6);
  }
  // Observer-wide: every cycle; the cluster: every 4th (after the two first reads).
  {
    FakeCluster f;
    std::vector<ObservedCluster> clusters = f.Clusters();
    clusters[0].detail_every = 4;
    Observer obs(f.t, clusters, nullptr, {}, ObserverOptions{.detail_every = 1});
    for (int i = 0; i < 10; ++i) {
      obs.RunCycle(kT0 + i * 10'000);
      f.server_now += 10'000;
    }
    CHECK(f.details_served >= 4);
    CHECK(f.details_served <= 5);
  }
  // The age bound of a counted, unread checkpoint uses the cluster's metric fetch interval
  // (4 s here, the observer-wide 10 s otherwise: 30 s in the test above).
  {
    FakeCluster f;
    std::vector<ObservedCluster> clusters = f.Clusters();
    clusters[0].metric_fetch_interval_ms = 4'000;
    Observer obs(f.t, clusters, nullptr, {}, RareDetails());
    obs.RunCycle(kT0);
    f.server_now += 10'000;
    obs.RunCycle(kT0 + 10'000);
    f.server_now += 10'000;
    obs.RunCycle(kT0 + 20'000);
    f.server_now += 10'000;
    f.completed = 6;
    f.last_ack = f.server_now - 2'000;
    const JobSnapshot b = OnlyJob(obs.RunCycle(kT0 + 30'000));
    REQUIRE(b.checkpoint_age_ms.fresh());
    CHECK(b.checkpoint_age_upper_bound);
    CHECK(b.checkpoint_age_ms.value == 24'000);
  }
}

TEST_CASE("backpressure is the busiest vertex's backpressured share between two samples") {
  FakeCluster f;
  Observer obs(f.t, f.Clusters(), nullptr, {}, ObserverOptions{.detail_every = 1});
  obs.RunCycle(kT0);
  f.server_now += 10'000;
  f.bp_acc_src += 2 * 7'000;  // 2 subtasks, 700 ms per second each
  f.bp_acc_sink += 1'000;
  const JobSnapshot j = OnlyJob(obs.RunCycle(kT0 + 10'000));
  REQUIRE(j.backpressure.value.has_value());
  CHECK(j.backpressure.value.value() == doctest::Approx(0.7));
  CHECK(j.backpressured_vertex == "Source: Kafka");
  // A counter that went down (a new attempt) is a reset, not negative backpressure.
  f.server_now += 10'000;
  f.bp_acc_src = 0;
  f.bp_acc_sink = 0;
  const JobSnapshot k = OnlyJob(obs.RunCycle(kT0 + 20'000));
  CHECK_FALSE(k.backpressure.fresh());
}

TEST_CASE("an unreachable cluster keeps its jobs' last values, stale, with the reason") {
  FakeCluster f;
  Observer obs(f.t, f.Clusters(), nullptr, {}, {});
  obs.RunCycle(kT0);
  const Error refused = Error::Transient("GET http://jm-a:8081/x: Connection refused");
  for (const char* p : {"/config", "/overview", "/jobs/overview"})
    f.t.FailWith("GET", U(p), refused);
  const Observation o = obs.RunCycle(kT0 + 10'000);
  REQUIRE(o.clusters.size() == 1);
  CHECK_FALSE(o.clusters[0].reachable);
  CHECK(o.clusters[0].consecutive_failures == 1);
  CHECK(o.clusters[0].last_ok_ms == kT0);
  const JobSnapshot& j = OnlyJob(o);
  CHECK(j.status.freshness == Freshness::kStale);
  CHECK(j.status.value == JobStatus::kRunning);  // last known, not a guess
  CHECK(j.status.why.find("cluster yarn-a unreachable") != std::string::npos);
  CHECK(j.last_checkpoint.freshness == Freshness::kStale);
  CHECK(j.last_checkpoint.value->path == "s3://b/chk-5");
  CHECK(j.qps.freshness == Freshness::kStale);
  CHECK(o.problems.size() == 2);  // /overview and /jobs/overview (/config was not due)
  // The cluster's own facts: the last answer's, stale, with when and why.
  const ClusterSnapshot& c = o.clusters[0];
  CHECK(c.capacity.freshness == Freshness::kStale);
  REQUIRE(c.capacity.value);
  CHECK(c.capacity.value->slots_available == 30);
  CHECK(c.capacity.observed_at_ms == kT0);
  CHECK(c.capacity.why.find("Connection refused") != std::string::npos);
  CHECK(c.flink_version.freshness == Freshness::kStale);
  CHECK(c.flink_version.value == "1.20.1");
  CHECK(c.flink_version.observed_at_ms == kT0);
  const std::string table = ObservationToTable(o);
  CHECK_MESSAGE(table.find("~30/") != std::string::npos, table);
  CHECK_MESSAGE(table.find("~1.20.1") != std::string::npos, table);
}

TEST_CASE("a cluster never answered has its version and capacity unknown") {
  FakeCluster f;
  const Error refused = Error::Transient("GET http://jm-a:8081/x: Connection refused");
  for (const char* p : {"/config", "/overview", "/jobs/overview"})
    f.t.FailWith("GET", U(p), refused);
  Observer obs(f.t, f.Clusters(), nullptr, {}, {});
  const Observation o = obs.RunCycle(kT0);
  REQUIRE(o.clusters.size() == 1);
  const ClusterSnapshot& c = o.clusters[0];
  CHECK(c.capacity.freshness == Freshness::kUnknown);
  CHECK_FALSE(c.capacity.value);
  CHECK(c.capacity.why.find("Connection refused") != std::string::npos);
  CHECK(c.flink_version.freshness == Freshness::kUnknown);
  const std::string table = ObservationToTable(o);
  CHECK_MESSAGE(table.find(" ?  ") != std::string::npos, table);
}

TEST_CASE("a state this build does not know is reported as unknown, not mapped") {
  FakeCluster f;
  f.state = "HIBERNATING";
  Observer obs(f.t, f.Clusters(), nullptr, {}, {});
  const JobSnapshot j = OnlyJob(obs.RunCycle(kT0));
  CHECK(j.status.freshness == Freshness::kUnknown);
  CHECK(j.status_text == "HIBERNATING");
  CHECK(j.status.why.find("HIBERNATING") != std::string::npos);
}

TEST_CASE("a terminal job is read once: checkpoints and root cause, no metrics") {
  FakeCluster f;
  f.state = "FAILED";
  Observer obs(f.t, f.Clusters(), nullptr, {}, {});
  const JobSnapshot j = OnlyJob(obs.RunCycle(kT0));
  CHECK(j.status.value == JobStatus::kFailed);
  CHECK(j.last_checkpoint.value->path == "s3://b/chk-5");
  CHECK(j.root_exception.rfind("java.io.IOException: broker gone", 0) == 0);
  CHECK(j.checkpoint_age_ms.freshness == Freshness::kUnknown);  // not a signal once terminal
  CHECK(f.t.Count("GET " + kMetricsUrl) == 0);
  // First seen terminal: the settings are read too (retained checkpoints decide a recovery).
  CHECK(f.t.Count("GET " + U(std::string("/jobs/") + kJob + "/checkpoints/config")) == 1);
  CHECK(j.checkpoint_settings.fresh());
  CHECK(j.checkpoint_settings.value->retained_on_cancel);
  CHECK(j.restarts.freshness == Freshness::kUnknown);
  f.t.ClearLog();
  const JobSnapshot k = OnlyJob(obs.RunCycle(kT0 + 10'000));
  CHECK(f.t.sent().size() == 2);  // only /overview and /jobs/overview
  CHECK(k.last_checkpoint.fresh());
  CHECK(k.checkpoint_settings.fresh());
  CHECK(k.root_exception == j.root_exception);
}

TEST_CASE("TSDB signals: one query for all jobs, matched by Flink's rewritten job name") {
  FakeCluster f;
  PrometheusClient prom(f.t, {.base_url = "http://prom:9090"});
  const std::string promql = "sum by (job_name) (x)";
  const std::string url = prom.BuildRequest(promql).url;
  f.t.Reply("GET", url, 200,
            R"({"status":"success","data":{"resultType":"vector","result":[)"
            R"({"metric":{"job_name":"ads_spend"},"value":[1,"42"]},)"
            R"({"metric":{"job_name":"other"},"value":[1,"7"]}]}})");
  Observer obs(f.t, f.Clusters(), &prom, {{"qps", promql, ""}, {"lag", promql, ""}}, {});
  const JobSnapshot j = OnlyJob(obs.RunCycle(kT0));
  CHECK(f.t.unexpected().empty());
  CHECK(f.t.Count("GET " + url) == 2);
  CHECK(f.t.Count("GET " + kQpsUrl) == 0);  // the TSDB owns qps and lag: no REST source calls
  CHECK(f.t.Count("GET " + kSourceUrl) == 0);
  CHECK(f.lists_served == 0);
  CHECK(j.qps.value == 42);
  CHECK(j.qps.fresh());
  CHECK(j.lag.value == 42);
  // The TSDB failing marks only its fields stale.
  f.t.FailWith("GET", url, Error::Transient("GET " + url + ": timeout"));
  const JobSnapshot k = OnlyJob(obs.RunCycle(kT0 + 10'000));
  CHECK(k.qps.freshness == Freshness::kStale);
  CHECK(k.qps.value == 42);
  CHECK(k.status.fresh());
}

TEST_CASE("a job-specific signal query replaces the global one for that job") {
  FakeCluster f;
  PrometheusClient prom(f.t, {.base_url = "http://prom:9090"});
  const std::string global = prom.BuildRequest("global").url;
  const std::string own = prom.BuildRequest("own").url;
  f.t.Reply(
      "GET", global, 200,
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"job_name":"ads-spend"},"value":[1,"1"]}]}})");
  f.t.Reply("GET", own, 200,
            R"({"status":"success","data":{"resultType":"scalar","result":[1,"99"]}})");
  Observer obs(f.t, f.Clusters(), &prom, {{"ingest", "global", ""}, {"ingest", "own", "ads-spend"}},
               {});
  const JobSnapshot j = OnlyJob(obs.RunCycle(kT0));
  REQUIRE(j.signals.count("ingest") == 1);
  CHECK(j.signals.at("ingest").value == 99);
}

TEST_CASE("a job gone from the job store is dropped") {
  FakeCluster f;
  Observer obs(f.t, f.Clusters(), nullptr, {}, {});
  obs.RunCycle(kT0);
  f.t.Reply("GET", U("/jobs/overview"), 200, R"({"jobs":[]})");
  const Observation o = obs.RunCycle(kT0 + 10'000);
  CHECK(o.jobs.empty());
  CHECK(o.clusters[0].reachable);
}

TEST_CASE("Prometheus-safe names follow Flink's reporter") {
  CHECK(PrometheusSafeName("ads-spend.v2 (eu)") == "ads_spend_v2__eu_");
  CHECK(PrometheusSafeName("a:b_C9") == "a:b_C9");
}

TEST_CASE("a 503 during a leader election is retried within the cycle, with backoff") {
  FakeCluster f;
  int overview_calls = 0;
  std::vector<std::int64_t> delays;
  f.t.On("GET", U("/jobs/overview"), [&](const HttpRequest& req) -> Result<HttpResponse> {
    delays.push_back(req.delay.count());
    if (++overview_calls <= 2) {
      HttpResponse r;
      r.status = 503;
      r.body =
          R"({"errors":["Service temporarily unavailable due to an ongoing leader election. Please refresh."]})";
      return r;
    }
    return FakeCluster::Ok(std::string(R"({"jobs":[]})"));
  });
  ObservedCluster c = f.Clusters()[0];
  c.endpoint.timeout = std::chrono::seconds(5);
  Observer obs(f.t, {c}, nullptr, {}, {});
  const Observation o = obs.RunCycle(kT0);
  CHECK(o.clusters[0].reachable);
  CHECK(o.retries == 2);
  CHECK(delays == std::vector<std::int64_t>{0, 250, 500});
  // Still electing after the retries: this cycle reports it, the next one tries again.
  overview_calls = -10;
  const Observation o2 = obs.RunCycle(kT0 + 10'000);
  CHECK_FALSE(o2.clusters[0].reachable);
  CHECK(o2.clusters[0].error.find("HTTP 503") != std::string::npos);
  CHECK(o2.clusters[0].error.find("leader election") != std::string::npos);
}

TEST_CASE("basic auth headers are base64 as RFC 4648 gives it") {
  CHECK(Base64("") == "");
  CHECK(Base64("f") == "Zg==");
  CHECK(Base64("fo") == "Zm8=");
  CHECK(Base64("foo") == "Zm9v");
  CHECK(Base64("foobar") == "Zm9vYmFy");
  CHECK(Base64("user:p\xc3\xa4ss") == "dXNlcjpww6Rzcw==");
}
