// Cluster (AZ) failover with `flinkguard run` against three flinksim clusters on 127.0.0.1:
// a cluster that stays down has its catalog job moved to the first backup with room, restored
// from the last checkpoint recorded before the outage; when the cluster comes back with the old
// instance still running (a partition), that copy is cancelled, and the window in which both
// ran is measured and printed. A job whose restore points are not on shared storage is paged,
// not started elsewhere. Every wait is bounded in time.

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdio>
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



// Status of the instance `id` in flinksim's own view ("" when unknown).
std::string StatusOf(const FlinksimProcess& sim, const std::string& id) {
  rapidjson::Document doc = sim.SimJobs();
  if (!doc.IsObject() || !doc.HasMember("jobs")) return "";
  for (const auto& j : doc["jobs"].GetArray()) {
    if (id == j["id"].GetString()) return j["status"].GetString();
  }
  return "";
}

// The newest instance of job-0 on `sim` that is RUNNING, as its /_sim/jobs entry's id.
std::string RunningJob0(const FlinksimProcess& sim) {
  return testing::NewestSimInstance(
      testing::HttpCall("GET", sim.rest() + "/_sim/jobs").body, "job-0", "RUNNING");
}

struct Region {
  testing::TempDir dir{"fg-failover"};
  // Ten retained checkpoints (time runs 20x here): the newest one the agent saw before
  // the outage may have been subsumed by one it never saw.
  FlinksimProcess a{"cluster-a",
                    {"--jobs", "1", "--checkpoint-interval", "10s", "--flink-version", "1.20",
                     "--conf", "state.checkpoints.num-retained=10"}};
  // Full: one slot, the job needs two.
  FlinksimProcess b{"cluster-b",
                    {"--jobs", "0", "--taskmanagers", "1", "--slots", "1", "--flink-version",
                     "1.20"}};
  FlinksimProcess c{"cluster-c", {"--jobs", "0", "--flink-version", "1.20"}};
  std::string config = dir.File("flinkguard.yaml");
  std::optional<ChildProcess> agent;

  void Start(const std::string& failover_section, const std::string& job_extra = "") {
    REQUIRE(a.WaitReady(1));
    {
      std::ofstream jar(dir.File("job-0.jar"));
      jar << "Manifest-Version: 1.0\nMain-Class: com.example.Events\n"
             "flinksim-job-name: job-0\nflinksim-parallelism: 2\n"
             "flinksim-checkpoint-interval: 10000ms\n";
    }
    std::ofstream out(config);
    out << "region: test\nagent:\n  poll_interval: 1s\n  state_dir: " << dir.path()
        << "/state\n"
        << failover_section << "clusters:\n";
    for (const FlinksimProcess* s : {&a, &b, &c}) {
      out << "  - {name: " << s->name() << ", url: \"" << s->rest()
          << "\", timeout: 2s, connect_timeout: 1s}\n";
    }
    out << "jobs:\n  - name: job-0\n    cluster: cluster-a\n    failover: [cluster-b, "
           "cluster-c]\n    parallelism: 2\n    jar: "
        << dir.File("job-0.jar") << "\n"
        << job_extra << "rules:\n  - {name: job-failed, when: \"status == FAILED\", action: recover}\n";
    out.close();
    agent.emplace(ChildProcess::Start({FLINKGUARD_BINARY, "run", "--config", config},
                                      dir.File("agent.log")));
    REQUIRE(WaitFor([&] { return Contains(agent->Log(), "flinkguard running"); }));
  }
  // Stops the agent (SIGTERM) and returns the one placement its history holds ("" when not one).
  std::string StopAndReadPlacement() {
    agent->Signal(SIGTERM);
    for (int i = 0; i < 200 && agent->Running(); ++i) std::this_thread::sleep_for(50ms);
    agent->Stop();
    auto h = SqliteHistoryStore::Open(dir.path() + "/state/history.db");
    REQUIRE(h.has_value());
    auto placements = (*h)->Placements();
    REQUIRE(placements.has_value());
    return placements->size() == 1 ? placements->front().cluster : "";
  }
  // Cluster A's JobManager stops answering and its job stops checkpointing (as when its AZ is
  // cut off); returns the newest checkpoint path A had completed.
  std::string TakeADown() {
    a.Control("checkpoints", R"({"job":"job-0","mode":"stall"})");
    std::this_thread::sleep_for(300ms);
    rapidjson::Document doc = a.SimJobs();
    const std::string latest =
        FlinksimProcess::SimJob(doc, "job-0")["checkpoints"]["latest_completed"].GetString();
    a.Control("cluster_down", R"({"mode":"refuse"})");
    return latest;
  }
};

TEST_CASE("cluster down: the job moves to the first backup with room, from the last checkpoint; "
          "the stale copy is cancelled when the cluster returns") {
  Region r;
  r.Start("failover: {down_after: 2s, down_after_polls: 2, shared_schemes: [file]}\n");
  const std::string old_id = r.a.JobId("job-0");
  // Let the agent record a few checkpoints of the job.
  std::this_thread::sleep_for(3500ms);
  const std::string last = r.TakeADown();
  REQUIRE_FALSE(last.empty());

  const bool moved_ok = WaitFor([&] { return !RunningJob0(r.c).empty(); }, 40s);
  if (!moved_ok) {
    const std::string log = r.agent->Log();
    MESSAGE(log.substr(log.size() > 4000 ? log.size() - 4000 : 0));
  }
  REQUIRE(moved_ok);
  const std::string new_id = RunningJob0(r.c);
  rapidjson::Document doc = r.c.SimJobs();
  const rapidjson::Value& moved = FlinksimProcess::SimJob(doc, "job-0");
  REQUIRE(moved["restored_from"].IsObject());
  const std::string from = moved["restored_from"]["path"].GetString();
  INFO("restored from " << from << ", A's last completed " << last);
  // The checkpoint the agent last saw before the outage: A's newest, or one just before it.
  CHECK(Contains(from, "/checkpoints/" + old_id + "/chk-"));
  const auto chk = [](const std::string& p) { return std::stol(p.substr(p.rfind("chk-") + 4)); };
  CHECK(chk(from) <= chk(last));
  CHECK(chk(from) >= chk(last) - 2);
  // Cluster B (full) was passed over: nothing was submitted there.
  CHECK(Mutations(r.b).empty());
  CHECK(Contains(r.agent->Log(), "moving job-0 to cluster-c"));

  // A comes back with its old instance still RUNNING: it is cancelled, not savepointed.
  const auto up = std::chrono::steady_clock::now();
  r.a.Control("cluster_up");
  REQUIRE(WaitFor([&] { return StatusOf(r.a, old_id) == "CANCELED"; }, 30s));
  const double window_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - up).count();
  std::printf("double-run window after the partition healed: %.2f s (poll interval 1 s)\n",
              window_s);
  const std::vector<std::string> on_a = Mutations(r.a);
  REQUIRE(on_a.size() == 1);
  CHECK(Contains(on_a[0], "PATCH /jobs/" + old_id));
  CHECK(RunningJob0(r.c) == new_id);
  CHECK(Contains(r.agent->Log(), "stale copy " + old_id));

  // The placement survives a restart of the agent: it does not move the job back.
  CHECK(r.StopAndReadPlacement() == "cluster-c");
}

// Live instances of job-0 on `sims` (not FAILED, CANCELED or FINISHED), as flinksim sees them.
int LiveJob0(std::initializer_list<const FlinksimProcess*> sims) {
  int n = 0;
  for (const FlinksimProcess* sim : sims) {
    rapidjson::Document doc = sim->SimJobs();
    if (!doc.IsObject() || !doc.HasMember("jobs")) continue;
    for (const auto& j : doc["jobs"].GetArray()) {
      const std::string status = j["status"].GetString();
      if (std::string(j["name"].GetString()) == "job-0" && status != "FAILED" &&
          status != "CANCELED" && status != "FINISHED") {
        ++n;
      }
    }
  }
  return n;
}

TEST_CASE("after a failover: a failure on the backup is recovered there while the old cluster "
          "is silent; automatic failback moves the job home once home has been healthy") {
  Region r;
  r.Start("failover: {down_after: 2s, down_after_polls: 2, shared_schemes: [file], "
          "failback: auto, failback_after: 4s}\n",
          "    recovery: {stable_after: 2s, cooldown: 1s}\n");
  const std::string old_id = r.a.JobId("job-0");
  std::this_thread::sleep_for(3500ms);
  r.TakeADown();
  REQUIRE(WaitFor([&] { return !RunningJob0(r.c).empty(); }, 40s));
  // The failover verified (its new instance RUNNING with all tasks) before the next failure.
  REQUIRE(WaitFor([&] { return Contains(r.agent->Log(), "recovered in"); }, 40s));
  std::this_thread::sleep_for(3s);  // past stable_after: the next failure is a new one
  const std::string on_c = RunningJob0(r.c);

  // The job fails on cluster-c while cluster-a (holding a stale RUNNING copy) stays silent: the
  // stale copy does not hold up the recovery where the job lives now.
  REQUIRE(r.c.Control("fail_job", R"({"job":"job-0","terminal":true})").status == 200);
  const bool recovered = WaitFor(
      [&] {
        const std::string id = RunningJob0(r.c);
        return !id.empty() && id != on_c;
      },
      40s);
  if (!recovered) {
    const std::string log = r.agent->Log();
    MESSAGE(log.substr(log.size() > 4000 ? log.size() - 4000 : 0));
  }
  REQUIRE(recovered);
  const std::string recovered_id = RunningJob0(r.c);
  CHECK(Mutations(r.b).empty());

  // cluster-a returns: its stale copy is cancelled; once cluster-a has answered for 4 s the job
  // goes home with a stop-with-savepoint on cluster-c and a submit on cluster-a from it.
  r.a.Control("cluster_up");
  REQUIRE(WaitFor([&] { return StatusOf(r.a, old_id) == "CANCELED"; }, 30s));
  int max_live = 0;
  const bool home = WaitFor(
      [&] {
        max_live = std::max(max_live, LiveJob0({&r.a, &r.b, &r.c}));
        const std::string id = RunningJob0(r.a);
        return !id.empty() && id != old_id && StatusOf(r.c, recovered_id) == "FINISHED";
      },
      60s);
  if (!home) {
    const std::string log = r.agent->Log();
    MESSAGE(log.substr(log.size() > 4000 ? log.size() - 4000 : 0));
  }
  REQUIRE(home);
  CHECK(max_live <= 1);
  rapidjson::Document doc = r.a.SimJobs();
  std::string restored_from;
  for (const auto& j : doc["jobs"].GetArray()) {
    if (RunningJob0(r.a) == j["id"].GetString() && j["restored_from"].IsObject()) {
      restored_from = j["restored_from"]["path"].GetString();
    }
  }
  INFO("restored from " << restored_from);
  CHECK(Contains(restored_from, "savepoint"));
  CHECK(Contains(r.agent->Log(), "failback: cluster-a has answered every poll"));
  // Still home a few polls later: no second failback, no move back.
  std::this_thread::sleep_for(3s);
  CHECK(LiveJob0({&r.a, &r.b, &r.c}) == 1);
  CHECK(!RunningJob0(r.a).empty());

  CHECK(r.StopAndReadPlacement() == "cluster-a");
}

TEST_CASE("cluster down, restore points only on its own disk: paged, nothing started elsewhere") {
  Region r;
  r.Start("failover: {down_after: 2s, down_after_polls: 2}\n");
  std::this_thread::sleep_for(3s);
  r.TakeADown();
  REQUIRE(WaitFor(
      [&] { return Contains(r.agent->Log(), "has no restore point on shared storage"); }, 30s));
  std::this_thread::sleep_for(2s);
  CHECK(Mutations(r.b).empty());
  CHECK(Mutations(r.c).empty());
  CHECK(RunningJob0(r.c).empty());
  r.agent->Stop();
}

}  // namespace
}  // namespace flinkguard
