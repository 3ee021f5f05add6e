// The Observer against flinksim processes on 127.0.0.1: real HTTP through CurlTransport, Flink's
// 1.18/1.20/2.0 REST shapes, and faults injected through flinksim's control API. flinksim runs 20
// simulated seconds per real second; longer stretches of Flink time are jumped with advance_time.
// Every polling loop is bounded in cycles and in time.

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/http/curl_transport.h"
#include "agent/observation_format.h"
#include "agent/observer.h"
#include "rules/rule_engine.h"
#include "tests/agent/observer/flinksim_process.h"

namespace flinkguard {
namespace {

using testing::FlinksimProcess;
using testing::kTimeScale;
using testing::ParseJson;
using testing::WallMs;
using namespace std::chrono_literals;

// A healthy cluster's request timeout: generous, so a loaded machine does not fail it.
constexpr std::chrono::milliseconds kHealthyTimeout = 3000ms;
// The faulty cluster's: what a hanging or slow cluster may cost a cycle.
constexpr std::chrono::milliseconds kFaultyTimeout = 1000ms;

const ClusterSnapshot* FindCluster(const Observation& o, const std::string& name) {
  for (const ClusterSnapshot& c : o.clusters) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// The newest instance of the job named `name` on `cluster`.
const JobSnapshot* FindJob(const Observation& o, const std::string& cluster,
                           const std::string& name) {
  const JobSnapshot* found = nullptr;
  for (const JobSnapshot& j : o.jobs) {
    if (j.cluster == cluster && j.name == name &&
        (found == nullptr || j.start_time_ms >= found->start_time_ms)) {
      found = &j;
    }
  }
  return found;
}

// Job ids are unique per cluster only (both test clusters run with the same seed, so they share
// ids, as a job resubmitted with its id on another cluster does).
const JobSnapshot* FindJobById(const Observation& o, const std::string& cluster,
                               const std::string& id) {
  for (const JobSnapshot& j : o.jobs) {
    if (j.cluster == cluster && j.job_id == id) return &j;
  }
  return nullptr;
}

std::vector<const JobSnapshot*> JobsOf(const Observation& o, const std::string& cluster) {
  std::vector<const JobSnapshot*> out;
  for (const JobSnapshot& j : o.jobs) {
    if (j.cluster == cluster) out.push_back(&j);
  }
  return out;
}

bool HasProblem(const Observation& o, const std::string& a, const std::string& b) {
  for (const std::string& p : o.problems) {
    if (p.find(a) != std::string::npos && p.find(b) != std::string::npos) return true;
  }
  return false;
}

template <typename T>
std::string Describe(const char* name, const Observed<T>& f) {
  return std::string(name) + " is " + FreshnessName(f.freshness) +
         (f.known() ? "" : " (no value)") + (f.why.empty() ? "" : ": " + f.why) + "; ";
}

// "" when every field of a RUNNING job was observed this cycle; otherwise what was not.
std::string JobIncomplete(const JobSnapshot& j) {
  std::string out;
  auto need = [&](const char* name, const auto& f) {
    if (!f.fresh() || !f.known()) out += Describe(name, f);
  };
  need("status", j.status);
  if (j.status.value != JobStatus::kRunning) out += "status is " + j.status_text + "; ";
  need("all_tasks_running", j.all_tasks_running);
  if (j.all_tasks_running.value != true) out += "not all tasks running; ";
  need("tasks_total", j.tasks_total);
  need("restarts", j.restarts);
  need("uptime_ms", j.uptime_ms);
  // Between two reads of the checkpoint statistics a newer checkpoint may be counted but not
  // read yet: the restore point is then stale, with the age an upper bound. Or it was taken
  // from the checkpoint gauges, which before Flink 2.0 do not tell when it completed: fresh,
  // without a completion time, the age an upper bound.
  const bool from_gauges = j.last_checkpoint.fresh() && j.last_checkpoint.value &&
                           j.last_checkpoint.value->completed_ms == 0;
  if (!j.checkpoint_age_upper_bound) need("last_checkpoint", j.last_checkpoint);
  if (j.checkpoint_age_upper_bound && j.last_checkpoint.freshness != Freshness::kStale &&
      !from_gauges) {
    out += "checkpoint age bounded, last_checkpoint " +
           std::string(FreshnessName(j.last_checkpoint.freshness)) + "; ";
  }
  need("checkpoint_age_ms", j.checkpoint_age_ms);
  need("checkpoints_completed", j.checkpoints_completed);
  need("checkpoints_failed", j.checkpoints_failed);
  need("checkpoint_settings", j.checkpoint_settings);
  need("qps", j.qps);
  need("lag", j.lag);
  return out.empty() ? out : j.cluster + "/" + j.name + ": " + out;
}

// "" when `cluster` answered this cycle and all of its `jobs` RUNNING jobs are complete.
std::string Incomplete(const Observation& o, const std::string& cluster, int jobs) {
  const ClusterSnapshot* c = FindCluster(o, cluster);
  if (c == nullptr) return "no cluster " + cluster;
  if (!c->reachable) return "cluster " + cluster + " unreachable: " + c->error;
  std::string out;
  if (c->jobs_seen != jobs) out += cluster + ": " + std::to_string(c->jobs_seen) + " jobs seen; ";
  const auto listed = JobsOf(o, cluster);
  if (static_cast<int>(listed.size()) != jobs) {
    out += cluster + ": " + std::to_string(listed.size()) + " job snapshots; ";
  }
  for (const JobSnapshot* j : listed) out += JobIncomplete(*j);
  return out;
}

// The snapshot's promise: a fresh field was observed in this cycle. (Backpressure is a rate
// between two job-details samples, taken every few cycles: it is left out.)
std::string FreshFromAnotherCycle(const Observation& o) {
  std::string out;
  for (const JobSnapshot& j : o.jobs) {
    auto check = [&](const char* name, const auto& f) {
      if (f.fresh() && f.observed_at_ms != o.at_ms) {
        out += j.cluster + "/" + j.name + " " + name + " fresh but observed at " +
               std::to_string(f.observed_at_ms) + "; ";
      }
    };
    check("status", j.status);
    check("all_tasks_running", j.all_tasks_running);
    check("tasks_total", j.tasks_total);
    check("restarts", j.restarts);
    check("uptime_ms", j.uptime_ms);
    check("last_checkpoint", j.last_checkpoint);
    check("last_savepoint", j.last_savepoint);
    check("checkpoint_age_ms", j.checkpoint_age_ms);
    check("checkpoints_completed", j.checkpoints_completed);
    check("checkpoints_failed", j.checkpoints_failed);
    check("checkpoint_duration_ms", j.checkpoint_duration_ms);
    check("checkpoint_settings", j.checkpoint_settings);
    // qps and backpressure are measured with the job details (every few cycles for an
    // unchanged job) and stay fresh until the next read is due (rules/snapshot.h).
    // An age is only as current as the checkpoint it is measured from — or an upper bound,
    // said so, when a newer checkpoint was counted but not read yet.
    if (j.checkpoint_age_ms.fresh() && !j.last_checkpoint.fresh() &&
        !(j.checkpoint_age_upper_bound && j.last_checkpoint.freshness == Freshness::kStale)) {
      out += j.cluster + "/" + j.name + " checkpoint_age_ms fresh, last_checkpoint " +
             FreshnessName(j.last_checkpoint.freshness) + "; ";
    }
  }
  return out;
}

// One cycle at the current wall time, checked against the freshness promise.
Observation Cycle(Observer& observer) {
  Observation o = observer.RunCycle(WallMs());
  INFO(ObservationToTable(o));
  CHECK(FreshFromAnotherCycle(o) == "");
  return o;
}

// Cycles (50 ms apart) until `done(observation)`, at most `max_cycles` and `limit`; returns the
// last observation either way.
Observation CycleUntil(Observer& observer, const std::function<bool(const Observation&)>& done,
                       int max_cycles = 100, std::chrono::milliseconds limit = 15s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  Observation o = Cycle(observer);
  for (int i = 1; i < max_cycles && !done(o) && std::chrono::steady_clock::now() < end; ++i) {
    std::this_thread::sleep_for(50ms);
    o = Cycle(observer);
  }
  return o;
}

std::string LocalPath(const std::string& file_uri) {
  return file_uri.rfind("file:", 0) == 0 ? file_uri.substr(5) : file_uri;
}

bool MetadataOnDisk(const std::string& file_uri) {
  return std::filesystem::exists(LocalPath(file_uri) + "/_metadata");
}

std::chrono::milliseconds Elapsed(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               since);
}

TEST_CASE("running jobs on the 1.18, 1.20 and 2.0 REST shapes: every field observed and right") {
  for (const std::string version : {"1.18", "1.20", "2.0"}) {
    CAPTURE(version);
    FlinksimProcess sim("shape", {"--flink-version", version, "--jobs", "3"});
    REQUIRE(sim.WaitReady(3));
    // Only the newest checkpoint stays on disk (num-retained 1): hold the next ones so the one
    // in the snapshot is still there when the test looks.
    const std::int64_t stalled_ms = WallMs();
    sim.Control("checkpoints", R"({"mode":"stall"})");
    const rapidjson::Document config = ParseJson(sim.Get("/config").body);
    const rapidjson::Document overview = ParseJson(sim.Get("/overview").body);
    const rapidjson::Document sim_jobs = sim.SimJobs();
    REQUIRE(config.IsObject());
    REQUIRE(overview.IsObject());
    REQUIRE(sim_jobs.IsObject());

    CurlTransport transport({});
    Observer observer(transport, {sim.Cluster(kHealthyTimeout)}, nullptr, {}, {});
    // The first cycle reads everything; the second reuses what did not change.
    for (int cycle = 0; cycle < 2; ++cycle) {
      CAPTURE(cycle);
      const Observation o = Cycle(observer);
      INFO(ObservationToTable(o));
      REQUIRE(Incomplete(o, "shape", 3) == "");
      CHECK(o.problems.empty());
      const ClusterSnapshot& c = *FindCluster(o, "shape");
      CHECK(c.az == "az-shape");
      REQUIRE(c.flink_version.fresh());
      CHECK(*c.flink_version.value == config["flink-version"].GetString());
      CHECK(c.flink_version.value->rfind(version + ".", 0) == 0);
      REQUIRE(c.capacity.fresh());
      const ClusterCapacity& cap = *c.capacity.value;
      CHECK(cap.taskmanagers == overview["taskmanagers"].GetInt());
      CHECK(cap.slots_total == overview["slots-total"].GetInt());
      CHECK(cap.slots_available == overview["slots-available"].GetInt());
      CHECK(cap.slots_total - cap.slots_available == 3 * 2);  // parallelism 2, one slot group
      CHECK(c.consecutive_failures == 0);
      CHECK(c.last_ok_ms == o.at_ms);

      for (const auto& sj : sim_jobs["jobs"].GetArray()) {
        const std::string name = sj["name"].GetString();
        CAPTURE(name);
        const JobSnapshot* j = FindJob(o, "shape", name);
        REQUIRE(j != nullptr);
        CHECK(j->job_id == sj["id"].GetString());
        CHECK(j->status.value == JobStatus::kRunning);
        CHECK(j->status_text == "RUNNING");
        CHECK(*j->all_tasks_running.value);
        CHECK(j->tasks_total.value == sj["operators"].Size() * sj["parallelism"].GetInt64());
        CHECK(j->restarts.value == 0);
        CHECK(*j->uptime_ms.value >= 0);
        CHECK(j->root_exception.empty());

        const RestorePoint& cp = *j->last_checkpoint.value;
        CHECK(cp.kind == RestorePoint::Kind::kCheckpoint);
        CHECK(cp.path == sj["checkpoints"]["latest_completed"].GetString());
        CHECK(cp.path.rfind("file:/", 0) == 0);
        CHECK(MetadataOnDisk(cp.path));
        CHECK(cp.addressable);
        CHECK(!cp.discarded);
        CHECK(cp.completed_ms >= cp.trigger_ms);
        CHECK(j->last_savepoint.fresh());
        CHECK(!j->last_savepoint.known());  // none taken: observed absent
        CHECK(j->checkpoints_completed.value == sj["checkpoints"]["completed"].GetInt64());
        CHECK(j->checkpoints_failed.value == 0);

        const std::int64_t interval = sj["settings"]["checkpoint_interval_ms"].GetInt64();
        CHECK(j->checkpoint_settings.value->interval_ms == interval);
        CHECK(j->checkpoint_settings.value->timeout_ms > 0);
        CHECK(*j->checkpoint_age_ms.value >= 0);
        // At most an interval (and a checkpoint's duration) old when stalled, aging since.
        CHECK(*j->checkpoint_age_ms.value <=
              interval + 1'000 + kTimeScale * (o.at_ms - stalled_ms));

        const double traffic = sj["traffic"]["qps"].GetDouble();
        CHECK(traffic > 0);
        CHECK(*j->qps.value > 0);
        CHECK(*j->qps.value == doctest::Approx(traffic).epsilon(0.01));
      }
    }
  }
}

TEST_CASE("a failure handled by the restart strategy, then a terminal failure") {
  FlinksimProcess sim("fail", {"--jobs", "2"});
  REQUIRE(sim.WaitReady(2));
  CurlTransport transport({});
  Observer observer(transport, {sim.Cluster(kHealthyTimeout)}, nullptr, {}, {});
  auto complete = [](const Observation& o) { return Incomplete(o, "fail", 2).empty(); };
  Observation o = CycleUntil(observer, complete);
  REQUIRE(Incomplete(o, "fail", 2) == "");
  CHECK(FindJob(o, "fail", "job-0")->restarts.value == 0);

  sim.Control(
      "fail_job",
      R"({"job":"job-0","exception":"java.lang.IllegalStateException: poison record 4711"})");
  o = CycleUntil(observer, [](const Observation& ob) {
    const JobSnapshot* j = FindJob(ob, "fail", "job-0");
    return j != nullptr && j->restarts.fresh() && j->restarts.value >= 1 &&
           !j->root_exception.empty();
  });
  {
    INFO(ObservationToJson(o, true));
    const JobSnapshot& j0 = *FindJob(o, "fail", "job-0");
    CHECK(j0.restarts.fresh());
    CHECK(j0.restarts.value == 1);
    CHECK(j0.root_exception.find("IllegalStateException: poison record 4711") != std::string::npos);
    CHECK(j0.root_exception_ms.has_value());
  }
  // Back to RUNNING by itself (fixed-delay, 1 s): complete again, the count and cause kept.
  o = CycleUntil(observer, complete);
  {
    INFO(ObservationToJson(o, true));
    CHECK(Incomplete(o, "fail", 2) == "");
    const JobSnapshot& j0 = *FindJob(o, "fail", "job-0");
    CHECK(j0.restarts.value == 1);
    CHECK(j0.root_exception.find("poison record 4711") != std::string::npos);
    const JobSnapshot& j1 = *FindJob(o, "fail", "job-1");
    CHECK(j1.restarts.value == 0);
    CHECK(j1.root_exception.empty());
  }

  sim.Control(
      "fail_job",
      R"({"job":"job-1","terminal":true,"exception":"java.io.IOException: quota exceeded on /state"})");
  auto failed = [](const Observation& ob) {
    const JobSnapshot* j = FindJob(ob, "fail", "job-1");
    return j != nullptr && j->status.fresh() && j->status.value == JobStatus::kFailed;
  };
  o = CycleUntil(observer, failed);
  REQUIRE(failed(o));
  const std::string sim_path = [&] {
    const rapidjson::Document doc = sim.SimJobs();
    return std::string(
        FlinksimProcess::SimJob(doc, "job-1")["checkpoints"]["latest_completed"].GetString());
  }();
  // The next cycles read nothing new for the terminal job but still report it in full.
  for (int cycle = 0; cycle < 2; ++cycle) {
    CAPTURE(cycle);
    INFO(ObservationToJson(o, true));
    const JobSnapshot& j1 = *FindJob(o, "fail", "job-1");
    CHECK(j1.status.value == JobStatus::kFailed);
    CHECK(j1.status_text == "FAILED");
    CHECK(j1.all_tasks_running.fresh());
    CHECK(j1.all_tasks_running.value == false);
    CHECK(j1.end_time_ms.has_value());
    CHECK(j1.root_exception.find("quota exceeded on /state") != std::string::npos);
    // The restore point outlives the job.
    CHECK(j1.last_checkpoint.fresh());
    REQUIRE(j1.last_checkpoint.known());
    CHECK(j1.last_checkpoint.value->path == sim_path);
    CHECK(MetadataOnDisk(j1.last_checkpoint.value->path));
    // A job that will not run again has no checkpoint age to watch.
    CHECK(j1.checkpoint_age_ms.freshness == Freshness::kUnknown);
    // Flink stops reporting a terminal job's metrics: the last counts are kept, not refreshed.
    CHECK(j1.restarts.freshness == Freshness::kStale);
    CHECK(j1.restarts.value == 0);
    CHECK(JobIncomplete(*FindJob(o, "fail", "job-0")) == "");
    o = Cycle(observer);
  }
}

TEST_CASE("a root cause that could not be read when the job failed is read on a later cycle") {
  FlinksimProcess sim("cause", {"--jobs", "2"});
  REQUIRE(sim.WaitReady(2));
  CurlTransport transport({});
  Observer observer(transport, {sim.Cluster(kHealthyTimeout)}, nullptr, {}, {});
  Observation o = CycleUntil(
      observer, [](const Observation& ob) { return Incomplete(ob, "cause", 2).empty(); });
  REQUIRE(Incomplete(o, "cause", 2) == "");
  const std::string id0 = sim.JobId("job-0");
  const std::string id1 = sim.JobId("job-1");

  // Both jobs' exception histories answer 500 while the jobs fail: job-0 restarts, job-1 fails
  // for good.
  sim.Control("error_500", R"({"path_prefix":"/jobs/)" + id0 + R"(/exceptions"})");
  sim.Control("fail_job",
              R"({"job":"job-0","exception":"java.lang.IllegalStateException: poison record 99"})");
  o = CycleUntil(observer, [](const Observation& ob) {
    const JobSnapshot* j = FindJob(ob, "cause", "job-0");
    return j != nullptr && j->restarts.value >= 1 && j->status.value == JobStatus::kRunning;
  });
  CHECK(FindJob(o, "cause", "job-0")->restarts.value == 1);
  sim.Control("error_500", R"({"path_prefix":"/jobs/)" + id1 + R"(/exceptions"})");
  sim.Control("fail_job",
              R"({"job":"job-1","terminal":true,"exception":"java.io.IOException: bucket gone"})");
  o = CycleUntil(observer, [](const Observation& ob) {
    const JobSnapshot* j = FindJob(ob, "cause", "job-1");
    return j != nullptr && j->status.value == JobStatus::kFailed;
  });
  CHECK(HasProblem(o, "cluster cause", "/jobs/" + id1 + "/exceptions"));
  CHECK(FindJob(o, "cause", "job-1")->root_exception.empty());

  sim.Control("clear_faults");
  o = CycleUntil(
      observer,
      [](const Observation& ob) {
        return !FindJob(ob, "cause", "job-0")->root_exception.empty() &&
               !FindJob(ob, "cause", "job-1")->root_exception.empty();
      },
      5);
  INFO(ObservationToJson(o, true));
  CHECK(FindJob(o, "cause", "job-0")->root_exception.find("poison record 99") != std::string::npos);
  CHECK(FindJob(o, "cause", "job-1")->root_exception.find("bucket gone") != std::string::npos);
}

TEST_CASE("stalled checkpoints age while the job runs; failing checkpoints are counted") {
  FlinksimProcess sim("cp", {"--jobs", "2"});
  REQUIRE(sim.WaitReady(2));
  CurlTransport transport({});
  // Job details every cycle: the server's clock (which jumps here) is re-read each time.
  Observer observer(transport, {sim.Cluster(kHealthyTimeout)}, nullptr, {}, {.detail_every = 1});
  Observation o =
      CycleUntil(observer, [](const Observation& ob) { return Incomplete(ob, "cp", 2).empty(); });
  REQUIRE(Incomplete(o, "cp", 2) == "");

  sim.Control("checkpoints", R"({"job":"job-0","mode":"stall"})");
  o = Cycle(observer);
  REQUIRE(Incomplete(o, "cp", 2) == "");
  const JobSnapshot stalled_at = *FindJob(o, "cp", "job-0");
  const std::int64_t interval = stalled_at.checkpoint_settings.value->interval_ms;
  std::int64_t age = *stalled_at.checkpoint_age_ms.value;
  for (int step = 1; step <= 3; ++step) {
    CAPTURE(step);
    const std::int64_t previous_at = o.at_ms;
    sim.Control("advance_time", R"({"by":"1min"})");
    o = Cycle(observer);
    INFO(ObservationToJson(o, true));
    CHECK(Incomplete(o, "cp", 2) == "");
    const JobSnapshot& j0 = *FindJob(o, "cp", "job-0");
    CHECK(j0.status.value == JobStatus::kRunning);
    CHECK(j0.last_checkpoint.value->id == stalled_at.last_checkpoint.value->id);
    CHECK(j0.checkpoints_completed.value == stalled_at.checkpoints_completed.value);
    CHECK(j0.checkpoints_failed.value == 0);
    // The jump plus the simulated time that passed between the cycles, give or take the
    // latency of the details reply that carries the server's clock.
    const std::int64_t expected = age + 60'000 + kTimeScale * (o.at_ms - previous_at);
    CHECK(*j0.checkpoint_age_ms.value >= expected - 3'000);
    CHECK(*j0.checkpoint_age_ms.value <= expected + 3'000);
    age = *j0.checkpoint_age_ms.value;
    // The other job kept checkpointing through the jump.
    const JobSnapshot& j1 = *FindJob(o, "cp", "job-1");
    CHECK(*j1.checkpoint_age_ms.value <= 2 * interval);
  }

  sim.Control("checkpoints",
              R"({"job":"job-1","mode":"fail","message":"Checkpoint declined: disk full",)"
              R"("tolerable":1000})");
  o = Cycle(observer);
  const JobSnapshot failing_at = *FindJob(o, "cp", "job-1");
  REQUIRE(failing_at.checkpoints_failed.fresh());
  sim.Control("advance_time", R"({"by":"45s"})");
  o = Cycle(observer);
  INFO(ObservationToJson(o, true));
  CHECK(Incomplete(o, "cp", 2) == "");
  const JobSnapshot& j1 = *FindJob(o, "cp", "job-1");
  CHECK(j1.status.value == JobStatus::kRunning);
  CHECK(*j1.checkpoints_failed.value >= *failing_at.checkpoints_failed.value + 3);
  CHECK(j1.checkpoints_completed.value == failing_at.checkpoints_completed.value);
  CHECK(j1.last_checkpoint.value->id == failing_at.last_checkpoint.value->id);
  CHECK(*j1.checkpoint_age_ms.value >= *failing_at.checkpoint_age_ms.value + 45'000 - 3'000);
}

TEST_CASE(
    "between detail reads a new checkpoint comes from the checkpoint gauges: path fresh, age a "
    "bound; a failed checkpoint or a restart reads the statistics at once") {
  FlinksimProcess sim("between", {"--jobs", "1"});
  REQUIRE(sim.WaitReady(1));
  CurlTransport transport({});
  // Details (and with them the checkpoint statistics) on the first two cycles only.
  Observer observer(transport, {sim.Cluster(kHealthyTimeout)}, nullptr, {}, {.detail_every = 1000});
  Cycle(observer);
  Observation o = Cycle(observer);
  REQUIRE(Incomplete(o, "between", 1) == "");
  const JobSnapshot read = *FindJob(o, "between", "job-0");
  REQUIRE(read.last_checkpoint.fresh());
  REQUIRE(read.checkpoints_completed.known());
  const std::int64_t read_count = *read.checkpoints_completed.value;

  // flinksim checkpoints every 10 simulated seconds (half a second here): the next cycles take
  // new checkpoints from the metrics answer's gauges (path and id; 1.20 has no completion time
  // there), without reading /checkpoints.
  o = CycleUntil(observer, [&](const Observation& ob) {
    const JobSnapshot* j = FindJob(ob, "between", "job-0");
    return j != nullptr && j->checkpoints_completed.fresh() &&
           *j->checkpoints_completed.value > read_count;
  });
  {
    INFO(ObservationToJson(o, true));
    CHECK(Incomplete(o, "between", 1) == "");
    const JobSnapshot& j = *FindJob(o, "between", "job-0");
    REQUIRE(j.checkpoints_completed.fresh());
    CHECK(*j.checkpoints_completed.value > read_count);
    REQUIRE(j.last_checkpoint.fresh());
    CHECK(j.last_checkpoint.value->id > read.last_checkpoint.value->id);
    CHECK(j.last_checkpoint.value->path ==
          read.last_checkpoint.value->path.substr(0, read.last_checkpoint.value->path.rfind('/')) +
              "/chk-" + std::to_string(j.last_checkpoint.value->id));
    CHECK(j.last_checkpoint.value->completed_ms == 0);
    CHECK(j.last_savepoint.fresh());
    CHECK(j.checkpoint_age_ms.fresh());
    CHECK(j.checkpoint_age_upper_bound);
    CHECK(*j.checkpoint_age_ms.value >= 0);
    // That checkpoint exists on flinksim's disk, and /checkpoints was not asked this cycle.
    CHECK(std::filesystem::exists(j.last_checkpoint.value->path.substr(5) + "/_metadata"));
    int metric_reads = 0;
    for (const RequestSample& r : observer.LastRequests()) {
      CHECK(r.endpoint != "/jobs/{id}/checkpoints");
      metric_reads += r.endpoint == "/jobs/{id}/metrics";
    }
    CHECK(metric_reads == 1);
  }

  // A failed checkpoint: the statistics are read in the cycle that sees the counter move.
  sim.Control("checkpoints",
              R"({"job":"job-0","mode":"fail","message":"Checkpoint declined: disk full",)"
              R"("tolerable":1000})");
  o = CycleUntil(observer, [](const Observation& ob) {
    const JobSnapshot* j = FindJob(ob, "between", "job-0");
    return j != nullptr && j->checkpoints_failed.fresh() && *j->checkpoints_failed.value > 0;
  });
  {
    INFO(ObservationToJson(o, true));
    const JobSnapshot& j = *FindJob(o, "between", "job-0");
    REQUIRE(j.checkpoints_failed.fresh());
    CHECK(*j.checkpoints_failed.value > 0);
    CHECK(j.last_checkpoint.fresh());
    CHECK(!j.checkpoint_age_upper_bound);
    CHECK(j.last_checkpoint.value->id > read.last_checkpoint.value->id);
    const rapidjson::Document doc = sim.SimJobs();
    CHECK(j.last_checkpoint.value->path ==
          FlinksimProcess::SimJob(doc, "job-0")["checkpoints"]["latest_completed"].GetString());
  }

  // A restart: read at once as well (with the root cause).
  sim.Control("checkpoints", R"({"job":"job-0","mode":"ok"})");
  sim.Control("fail_job", R"({"job":"job-0","exception":"java.lang.RuntimeException: boom"})");
  o = CycleUntil(observer, [](const Observation& ob) {
    const JobSnapshot* j = FindJob(ob, "between", "job-0");
    return j != nullptr && j->restarts.fresh() && *j->restarts.value >= 1;
  });
  {
    INFO(ObservationToJson(o, true));
    const JobSnapshot& j = *FindJob(o, "between", "job-0");
    REQUIRE(j.restarts.fresh());
    CHECK(*j.restarts.value >= 1);
    CHECK(j.last_checkpoint.fresh());
    CHECK(!j.checkpoint_age_upper_bound);
  }
}

TEST_CASE("backpressure set through set_traffic: the ratio after two cycles, the vertex named") {
  FlinksimProcess sim("bp", {"--jobs", "2"});
  REQUIRE(sim.WaitReady(2));
  sim.Control("set_traffic", R"({"job":"job-0","qps":1000,"backpressure":0.6})");
  CurlTransport transport({});
  // Backpressure is a rate between two job-details samples; details every cycle (as
  // `observe --once` does) make two cycles enough.
  Observer observer(transport, {sim.Cluster(kHealthyTimeout)}, nullptr, {}, {.detail_every = 1});
  Observation o = Cycle(observer);
  // One sample of the accumulated backpressured time is not a rate yet.
  CHECK(!FindJob(o, "bp", "job-0")->backpressure.fresh());
  std::this_thread::sleep_for(100ms);  // two simulated seconds between the samples
  o = Cycle(observer);
  INFO(ObservationToJson(o, true));
  CHECK(Incomplete(o, "bp", 2) == "");
  const JobSnapshot& j0 = *FindJob(o, "bp", "job-0");
  CHECK(j0.backpressure.fresh());
  CHECK(j0.backpressure.observed_at_ms == o.at_ms);
  CHECK(j0.backpressure.value.value_or(-1) == doctest::Approx(0.6).epsilon(0.05));
  // Every vertex but the sink reports the pressure; the observer names one of them.
  CHECK((j0.backpressured_vertex == "Source: Events" || j0.backpressured_vertex == "Map"));
  CHECK(j0.qps.value.value_or(-1) == doctest::Approx(1000 * (1 - 0.6)).epsilon(0.02));
  const JobSnapshot& j1 = *FindJob(o, "bp", "job-1");
  CHECK(j1.backpressure.fresh());
  CHECK(j1.backpressure.value == 0.0);
  CHECK(j1.backpressured_vertex.empty());
}

// flinksim's backlog of `job` (records, summed over the source subtasks as its metrics say).
std::int64_t SimPending(const FlinksimProcess& sim, const std::string& job) {
  const rapidjson::Document doc = sim.SimJobs();
  const rapidjson::Value& j = FlinksimProcess::SimJob(doc, job);
  REQUIRE(j.HasMember("traffic"));
  return j["traffic"]["pending_records"].GetInt64();
}

TEST_CASE(
    "source lag: pendingRecords summed over the source subtasks, records-lag-max as the legacy "
    "fallback, unknown without either; a rule on lag fires") {
  FlinksimProcess sim("lag", {"--jobs", "3"});
  REQUIRE(sim.WaitReady(3));
  // Backpressure makes the backlog grow (600 records per simulated second).
  sim.Control("set_traffic", R"({"job":"job-0","qps":1000,"backpressure":0.6})");
  sim.Control("set_traffic",
              R"({"job":"job-1","qps":1000,"backpressure":0.6,"lag_metric":"records-lag-max"})");
  sim.Control("set_traffic", R"({"job":"job-2","lag_metric":"none"})");
  CurlTransport transport({});
  Observer observer(transport, {sim.Cluster(kHealthyTimeout)}, nullptr, {}, {.detail_every = 1});
  auto compiled = CompileRule(RuleSpec{.name = "source-lag", .when = "lag > 5000"}, {});
  REQUIRE(compiled);
  std::vector<CompiledRule> rules;
  rules.push_back(std::move(*compiled));
  RuleEngine engine(std::move(rules));

  // The backlog only grows, so what the observer read lies between flinksim's figures before
  // and after the cycle.
  for (int round = 0; round < 3; ++round) {
    const std::int64_t before0 = SimPending(sim, "job-0");
    const std::int64_t before1 = SimPending(sim, "job-1");
    const Observation o = Cycle(observer);
    const std::int64_t after0 = SimPending(sim, "job-0");
    const std::int64_t after1 = SimPending(sim, "job-1");
    INFO("round " << round << ": " << ObservationToJson(o, true));
    const JobSnapshot& j0 = *FindJob(o, "lag", "job-0");
    REQUIRE(j0.lag.fresh());
    CHECK(*j0.lag.value >= static_cast<double>(before0));
    CHECK(*j0.lag.value <= static_cast<double>(after0));
    const JobSnapshot& j1 = *FindJob(o, "lag", "job-1");
    REQUIRE(j1.lag.fresh());
    CHECK(*j1.lag.value >= static_cast<double>(before1));
    CHECK(*j1.lag.value <= static_cast<double>(after1));
    const JobSnapshot& j2 = *FindJob(o, "lag", "job-2");
    CHECK(j2.lag.freshness == Freshness::kUnknown);
    CHECK(!j2.lag.known());
    CHECK(j2.lag.why.find("reports no lag metric") != std::string::npos);
    CHECK(j2.qps.fresh());  // the throughput does not depend on it
    std::this_thread::sleep_for(100ms);
  }

  // The rule fires for the backlogged job and not for the others: job-2's lag is unknown, which
  // never counts as "not lagging" or as lagging.
  Observation o = CycleUntil(observer, [](const Observation& ob) {
    const JobSnapshot* j = FindJob(ob, "lag", "job-0");
    return j != nullptr && j->lag.value.value_or(0) > 6000;
  });
  INFO(ObservationToJson(o, true));
  const RuleEvaluation ev = engine.Evaluate(o.jobs, o.at_ms, o.clusters);
  std::set<std::string> firing;
  for (const Finding& f : ev.findings) firing.insert(f.job);
  CHECK(firing == std::set<std::string>{"job-0", "job-1"});
  bool job2_unknown = false;
  for (const RuleStatus& st : engine.Explain("job-2")) job2_unknown = !st.data_known;
  CHECK(job2_unknown);

  // The lag metric goes away (as after a restart, before the reader has splits): Flink answers
  // the combined request with [] — the throughput is still read this cycle, the lag is stale,
  // and the next cycle lists the vertex again and finds none.
  sim.Control("set_traffic", R"({"job":"job-0","lag_metric":"none"})");
  o = Cycle(observer);
  {
    INFO(ObservationToJson(o, true));
    const JobSnapshot& j0 = *FindJob(o, "lag", "job-0");
    CHECK(j0.qps.fresh());
    CHECK(j0.lag.freshness == Freshness::kStale);
    CHECK(j0.lag.why.find("pendingRecords not reported") != std::string::npos);
  }
  o = Cycle(observer);
  {
    INFO(ObservationToJson(o, true));
    const JobSnapshot& j0 = *FindJob(o, "lag", "job-0");
    CHECK(j0.qps.fresh());
    CHECK(j0.lag.freshness == Freshness::kUnknown);
  }
}

TEST_CASE("each cluster's own detail_every is honoured: job details every cycle on one, rarely "
          "on the other") {
  FlinksimProcess often("often", {"--jobs", "2"});
  FlinksimProcess rarely("rarely", {"--jobs", "2"});
  REQUIRE(often.WaitReady(2));
  REQUIRE(rarely.WaitReady(2));
  ObservedCluster a = often.Cluster(kHealthyTimeout);
  a.detail_every = 1;
  ObservedCluster b = rarely.Cluster(kHealthyTimeout);
  b.detail_every = 4;
  CurlTransport transport({});
  // Observer-wide: every 2 cycles; each cluster replaces it.
  Observer observer(transport, {a, b}, nullptr, {}, {.detail_every = 2});
  std::map<std::string, int> details;  // per cluster, over cycles 2..9
  for (int i = 0; i < 10; ++i) {
    const Observation o = Cycle(observer);
    INFO("cycle " << i << ": " << ObservationToJson(o, true));
    CHECK(Incomplete(o, "often", 2) == "");
    CHECK(Incomplete(o, "rarely", 2) == "");
    if (i < 2) continue;  // new jobs, then the second backpressure sample: details everywhere
    for (const RequestSample& r : observer.LastRequests()) {
      if (r.endpoint == "/jobs/{id}") ++details[r.cluster];
    }
  }
  CHECK(details["often"] == 2 * 8);
  // Each job in its own phase, once in every 4 cycles: 2 in 8 cycles.
  CHECK(details["rarely"] == 2 * 2);
}

// Two clusters, `a` healthy and `b` the one that faults; each runs job-0 and job-1.
class TwoClusters {
 public:
  TwoClusters() {
    REQUIRE(a_.WaitReady(2));
    REQUIRE(b_.WaitReady(2));
    observer_ = std::make_unique<Observer>(
        transport_,
        std::vector<ObservedCluster>{a_.Cluster(kHealthyTimeout), b_.Cluster(kFaultyTimeout)},
        nullptr, std::vector<SignalQuery>{}, ObserverOptions{});
    last_ = CycleUntil(*observer_, [](const Observation& o) { return BothComplete(o); });
    INFO(ObservationToJson(last_, true));
    REQUIRE(BothComplete(last_));
  }

  FlinksimProcess& b() { return b_; }
  const Observation& last() const { return last_; }

  static bool BothComplete(const Observation& o) {
    return Incomplete(o, "a", 2).empty() && Incomplete(o, "b", 2).empty();
  }

  // One cycle, in which `a` must be complete whatever `b` does; `elapsed` is its wall time.
  Observation CycleWithHealthyA(std::chrono::milliseconds* elapsed = nullptr) {
    const auto start = std::chrono::steady_clock::now();
    last_ = Cycle(*observer_);
    if (elapsed != nullptr) *elapsed = Elapsed(start);
    INFO(ObservationToJson(last_, true));
    CHECK(Incomplete(last_, "a", 2) == "");
    return last_;
  }

  // Lifts every fault of `b`; within a few cycles both clusters are complete again.
  void Recover() {
    b_.Control("cluster_up");
    b_.Control("clear_faults");
    REQUIRE(b_.WaitRestAnswers());
    last_ = CycleUntil(
        *observer_, [](const Observation& o) { return BothComplete(o); }, 20);
    INFO(ObservationToJson(last_, true));
    CHECK(BothComplete(last_));
    const ClusterSnapshot& b = *FindCluster(last_, "b");
    CHECK(b.consecutive_failures == 0);
    CHECK(b.error.empty());
  }

 private:
  FlinksimProcess a_{"a", {"--jobs", "2"}};
  FlinksimProcess b_{"b", {"--jobs", "2"}};
  CurlTransport transport_{{}};
  std::unique_ptr<Observer> observer_;
  Observation last_;
};

// `b` did not answer: its jobs are still listed with their last values, every field stale with a
// reason naming the cluster.
void CheckUnreachableKeptStale(const Observation& o, const Observation& before) {
  INFO(ObservationToJson(o, true));
  const ClusterSnapshot& b = *FindCluster(o, "b");
  CHECK(!b.reachable);
  CHECK(b.error.find("cluster b") != std::string::npos);
  CHECK(b.consecutive_failures >= 1);
  CHECK(b.last_ok_ms > 0);
  CHECK(b.last_ok_ms < o.at_ms);
  // The cluster's facts too: the last known version and capacity, stale, from the last answer.
  const ClusterSnapshot& b_before = *FindCluster(before, "b");
  CHECK(b.flink_version.freshness == Freshness::kStale);
  CHECK(b.flink_version.value == b_before.flink_version.value);
  CHECK(b.capacity.freshness == Freshness::kStale);
  REQUIRE(b.capacity.value);
  REQUIRE(b_before.capacity.value);
  CHECK(b.capacity.value->slots_total == b_before.capacity.value->slots_total);
  CHECK(b.capacity.observed_at_ms <= b_before.capacity.observed_at_ms);
  CHECK(b.capacity.why.find("cluster b") != std::string::npos);
  CHECK(HasProblem(o, "cluster b", "/jobs/overview"));
  const auto prev_jobs = JobsOf(before, "b");
  CHECK(prev_jobs.size() == 2);
  CHECK(JobsOf(o, "b").size() == prev_jobs.size());
  for (const JobSnapshot* prev : prev_jobs) {
    const JobSnapshot* j = FindJobById(o, "b", prev->job_id);
    REQUIRE(j != nullptr);
    CAPTURE(j->name);
    auto stale = [&](const char* name, const auto& f, const auto& was) {
      CAPTURE(name);
      CHECK(f.freshness == Freshness::kStale);
      CHECK(f.why.find("cluster b") != std::string::npos);
      CHECK(f.value == was.value);
    };
    stale("status", j->status, prev->status);
    stale("all_tasks_running", j->all_tasks_running, prev->all_tasks_running);
    stale("restarts", j->restarts, prev->restarts);
    stale("checkpoints_completed", j->checkpoints_completed, prev->checkpoints_completed);
    stale("checkpoint_age_ms", j->checkpoint_age_ms, prev->checkpoint_age_ms);
    stale("qps", j->qps, prev->qps);
    CHECK(j->last_checkpoint.freshness == Freshness::kStale);
    CHECK(j->last_checkpoint.why.find("cluster b") != std::string::npos);
    REQUIRE(j->last_checkpoint.known());
    CHECK(j->last_checkpoint.value->path == prev->last_checkpoint.value->path);
    CHECK(j->checkpoint_settings.freshness == Freshness::kStale);
  }
}

TEST_CASE("fault: cluster down, connections refused") {
  TwoClusters t;
  const Observation before = t.last();
  t.b().Control("cluster_down", R"({"mode":"refuse"})");
  REQUIRE(t.b().WaitRestRefused());
  std::chrono::milliseconds elapsed{};
  Observation o = t.CycleWithHealthyA(&elapsed);
  CheckUnreachableKeptStale(o, before);
  CHECK(FindCluster(o, "b")->consecutive_failures == 1);
  CHECK(FindCluster(o, "b")->last_ok_ms == before.at_ms);
  CHECK(elapsed < kFaultyTimeout);  // refused at once: no timeout to wait for
  o = t.CycleWithHealthyA();
  CheckUnreachableKeptStale(o, before);
  CHECK(FindCluster(o, "b")->consecutive_failures == 2);
  t.Recover();
}

TEST_CASE("fault: cluster hangs; the cycle costs the faulty cluster's timeout, no more") {
  TwoClusters t;
  const Observation before = t.last();
  t.b().Control("cluster_down", R"({"mode":"hang"})");
  std::chrono::milliseconds elapsed{};
  const Observation o = t.CycleWithHealthyA(&elapsed);
  CheckUnreachableKeptStale(o, before);
  CHECK(elapsed >= kFaultyTimeout - 100ms);
  CHECK(elapsed < kFaultyTimeout + 1500ms);
  t.Recover();
}

TEST_CASE("fault: a slow cluster: beyond the timeout stale, below it fine") {
  TwoClusters t;
  const Observation before = t.last();
  t.b().Control("slow", R"({"delay_ms":1500})");
  std::chrono::milliseconds elapsed{};
  Observation o = t.CycleWithHealthyA(&elapsed);
  CheckUnreachableKeptStale(o, before);
  CHECK(elapsed < kFaultyTimeout + 1500ms);

  t.b().Control("slow", R"({"delay_ms":150})");
  o = t.CycleWithHealthyA(&elapsed);
  INFO(ObservationToJson(o, true));
  CHECK(Incomplete(o, "b", 2) == "");
  CHECK(elapsed >= 300ms);  // at least /jobs/overview, then the per-job requests
  t.Recover();
}

TEST_CASE("fault: leader election (503) makes one cycle stale; fresh again once it is over") {
  TwoClusters t;
  const Observation before = t.last();
  t.b().Control("leader_election", R"({"duration":"5min"})");
  Observation o = t.CycleWithHealthyA();
  CheckUnreachableKeptStale(o, before);
  CHECK(FindCluster(o, "b")->error.find("503") != std::string::npos);
  CHECK(o.retries > 0);  // retried within the cycle first
  t.b().Control("advance_time", R"({"by":"6min"})");
  o = t.CycleWithHealthyA();
  INFO(ObservationToJson(o, true));
  CHECK(Incomplete(o, "b", 2) == "");
  CHECK(FindCluster(o, "b")->consecutive_failures == 0);
  t.Recover();
}

TEST_CASE("fault: a leader election of a few requests is ridden out within the cycle") {
  TwoClusters t;
  t.b().Control("leader_election", R"({"requests":3})");
  const Observation o = t.CycleWithHealthyA();
  INFO(ObservationToJson(o, true));
  CHECK(Incomplete(o, "b", 2) == "");
  CHECK(o.retries >= 2);  // /overview and /jobs/overview (and /config when due) once each
  CHECK(o.retries <= 3);
  CHECK_FALSE(HasProblem(o, "cluster b", "503"));
  t.Recover();
}

TEST_CASE("fault: garbage bodies, on the whole cluster and on one job's endpoints") {
  TwoClusters t;
  const Observation before = t.last();
  t.b().Control("garbage");
  Observation o = t.CycleWithHealthyA();
  CheckUnreachableKeptStale(o, before);
  t.Recover();

  const std::string id = t.b().JobId("job-0");
  t.b().Control("garbage", R"({"path_prefix":"/jobs/)" + id + R"("})");
  const Observation was = t.last();
  o = t.CycleWithHealthyA();
  INFO(ObservationToJson(o, true));
  CHECK(FindCluster(o, "b")->reachable);
  CHECK(JobIncomplete(*FindJob(o, "b", "job-1")) == "");
  const JobSnapshot& j0 = *FindJob(o, "b", "job-0");
  const JobSnapshot& j0_was = *FindJob(was, "b", "job-0");
  // /jobs/overview still answers for it...
  CHECK(j0.status.fresh());
  CHECK(j0.status.value == JobStatus::kRunning);
  CHECK(j0.all_tasks_running.fresh());
  // ...but nothing read from its own endpoints is fresh; the last values are kept.
  const std::string metrics_path = "/jobs/" + id + "/metrics";
  CHECK(HasProblem(o, "cluster b", metrics_path));
  CHECK(j0.restarts.freshness == Freshness::kStale);
  CHECK(j0.restarts.why.find(metrics_path) != std::string::npos);
  CHECK(j0.restarts.value == j0_was.restarts.value);
  CHECK(j0.checkpoints_completed.freshness == Freshness::kStale);
  CHECK(j0.qps.freshness == Freshness::kStale);
  CHECK(j0.qps.value == j0_was.qps.value);
  CHECK(j0.last_checkpoint.freshness == Freshness::kStale);
  CHECK(j0.last_checkpoint.value->path == j0_was.last_checkpoint.value->path);
  CHECK(!j0.checkpoint_age_ms.fresh());
  t.Recover();
}

TEST_CASE("fault: truncated bodies, on the whole cluster and on one job's checkpoint statistics") {
  TwoClusters t;
  const Observation before = t.last();
  t.b().Control("truncate");
  Observation o = t.CycleWithHealthyA();
  CheckUnreachableKeptStale(o, before);
  t.Recover();

  const std::string id = t.b().JobId("job-0");
  const std::string checkpoints_path = "/jobs/" + id + "/checkpoints";
  t.b().Control("truncate", R"({"path_prefix":")" + checkpoints_path + R"("})");
  // New checkpoints complete, so the observer reads the statistics again.
  t.b().Control("advance_time", R"({"by":"30s"})");
  const Observation was = t.last();
  o = t.CycleWithHealthyA();
  INFO(ObservationToJson(o, true));
  CHECK(JobIncomplete(*FindJob(o, "b", "job-1")) == "");
  const JobSnapshot& j0 = *FindJob(o, "b", "job-0");
  const JobSnapshot& j0_was = *FindJob(was, "b", "job-0");
  CHECK(HasProblem(o, "cluster b", checkpoints_path));
  CHECK(j0.status.fresh());
  CHECK(j0.restarts.fresh());
  CHECK(j0.qps.fresh());
  CHECK(j0.checkpoints_completed.fresh());
  CHECK(*j0.checkpoints_completed.value > *j0_was.checkpoints_completed.value);
  CHECK(j0.last_checkpoint.freshness == Freshness::kStale);
  CHECK(j0.last_checkpoint.why.find(checkpoints_path) != std::string::npos);
  CHECK(j0.last_checkpoint.value->path == j0_was.last_checkpoint.value->path);
  CHECK(j0.checkpoint_age_ms.freshness == Freshness::kStale);
  t.Recover();
}

TEST_CASE("fault: HTTP 500 from the whole cluster") {
  TwoClusters t;
  const Observation before = t.last();
  t.b().Control("error_500");
  const Observation o = t.CycleWithHealthyA();
  CheckUnreachableKeptStale(o, before);
  CHECK(FindCluster(o, "b")->error.find("500") != std::string::npos);
  t.Recover();
}

TEST_CASE("a job that leaves the job store is dropped; a new job appears on the next cycle") {
  FlinksimProcess sim("store", {"--jobs", "2"});
  REQUIRE(sim.WaitReady(2));
  CurlTransport transport({});
  Observer observer(transport, {sim.Cluster(kHealthyTimeout)}, nullptr, {}, {});
  Observation o = CycleUntil(
      observer, [](const Observation& ob) { return Incomplete(ob, "store", 2).empty(); });
  REQUIRE(Incomplete(o, "store", 2) == "");
  const std::string gone = sim.JobId("job-1");

  sim.Control("cancel_job", R"({"job":"job-1"})");
  o = CycleUntil(observer, [&](const Observation& ob) {
    const JobSnapshot* j = FindJobById(ob, "store", gone);
    return j != nullptr && j->status.value == JobStatus::kCanceled;
  });
  {
    INFO(ObservationToJson(o, true));
    const JobSnapshot* j = FindJobById(o, "store", gone);
    REQUIRE(j != nullptr);
    CHECK(j->status.fresh());
    CHECK(j->status.value == JobStatus::kCanceled);
    CHECK(j->last_checkpoint.known());  // retained on cancellation
  }

  // Terminal jobs stay listed for jobstore.expiration-time (1 h).
  sim.Control("advance_time", R"({"by":"61min"})");
  o = Cycle(observer);
  {
    INFO(ObservationToJson(o, true));
    CHECK(FindJobById(o, "store", gone) == nullptr);
    CHECK(JobsOf(o, "store").size() == 1);
    CHECK(FindCluster(o, "store")->jobs_seen == 1);
    CHECK(JobIncomplete(*FindJob(o, "store", "job-0")) == "");
  }

  sim.Control("start_job", R"({"name":"job-new"})");
  const std::string fresh_id = sim.JobId("job-new");
  o = Cycle(observer);
  {
    INFO(ObservationToJson(o, true));
    const JobSnapshot* j = FindJob(o, "store", "job-new");
    REQUIRE(j != nullptr);
    CHECK(j->job_id == fresh_id);
    CHECK(j->status.fresh());
    CHECK(FindCluster(o, "store")->jobs_seen == 2);
  }
  o = CycleUntil(observer,
                 [](const Observation& ob) { return Incomplete(ob, "store", 2).empty(); });
  INFO(ObservationToJson(o, true));
  CHECK(Incomplete(o, "store", 2) == "");
  CHECK(FindJob(o, "store", "job-new")->restarts.value == 0);
}

}  // namespace
}  // namespace flinkguard
