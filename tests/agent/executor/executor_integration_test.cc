// The recovery executor and the agent loop end to end against flinksim processes on 127.0.0.1:
// real HTTP, a real SQLite journal in a temp dir, the real observer, rule engine and planner.
// Assertions are on flinksim's request log and job state and on the stored journal. After every
// tick the test counts the live instances of the job on every cluster: never more than one.
// Every loop is bounded in time.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent_loop.h"
#include "agent/config.h"
#include "agent/executor.h"
#include "agent/http/curl_transport.h"
#include "agent/observer.h"
#include "agent/wiring.h"
#include "storage/history_store.h"
#include "tests/agent/observer/flinksim_process.h"

namespace flinkguard {
namespace {

using testing::FlinksimProcess;
using testing::ParseJson;
using testing::WallMs;
using namespace std::chrono_literals;

ConfigEnvironment TestEnv() {
  ConfigEnvironment env;
  env.get_env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  env.hostname = "test-host";
  return env;
}

// A flinksim "jar": the manifest lines flinksim reads (job name, parallelism, interval).
void WriteJar(const std::string& path, const std::string& job) {
  std::ofstream out(path);
  out << "Manifest-Version: 1.0\nMain-Class: com.example.Events\nflinksim-job-name: " << job
      << "\nflinksim-parallelism: 2\nflinksim-checkpoint-interval: 2000ms\n";
}

bool Terminal(const std::string& status) {
  return status == "FAILED" || status == "CANCELED" || status == "FINISHED";
}

struct Options {
  std::string recovery = "{cooldown: 0s, max_recoveries: 3, window: 10m}";
  std::string rules =
      "  - {name: job-failed, when: \"status == FAILED\", action: recover, severity: critical}\n"
      "  - {name: restart-loop, when: \"increase(restarts, 5s) > 2\", action: recover, "
      "severity: critical}\n";
  bool dry_run = false;
  std::string checkpoint_interval = "2s";  // flinksim's, simulated time
  std::vector<std::string> sim_args;       // more flinksim arguments for cluster-a
  bool two_clusters = false;
  bool with_store = true;
  ExecutorOptions executor;
};

std::vector<std::string> SimArgs(const Options& o) {
  std::vector<std::string> args = {
      "--jobs", "1", "--checkpoint-interval", o.checkpoint_interval, "--flink-version", "1.20"};
  args.insert(args.end(), o.sim_args.begin(), o.sim_args.end());
  return args;
}

// One cluster (two with `two_clusters`) running job-0, and the whole agent in this process.
class Harness {
 public:
  explicit Harness(Options options = {})
      : options_(std::move(options)), a_("cluster-a", SimArgs(options_)) {
    if (options_.two_clusters) {
      b_.emplace("cluster-b", std::vector<std::string>{"--jobs", "0", "--flink-version", "1.20"});
    }
    if (options_.checkpoint_interval == "2s") {
      REQUIRE(a_.WaitReady(1));
    } else {
      REQUIRE(WaitRunning());
    }
    WriteJar(dir_.File("job-0.jar"), "job-0");
    std::string yaml = "region: test\nagent:\n  poll_interval: 1s\n  state_dir: " + dir_.path() +
                       "/state\n  dry_run: " + (options_.dry_run ? "true" : "false") +
                       "\nclusters:\n  - {name: cluster-a, url: \"" + a_.rest() +
                       "\", timeout: 3s, connect_timeout: 1s}\n";
    if (b_) {
      yaml +=
          "  - {name: cluster-b, url: \"" + b_->rest() + "\", timeout: 3s, connect_timeout: 1s}\n";
    }
    yaml += "jobs:\n  - name: job-0\n    cluster: cluster-a\n    jar: " + dir_.File("job-0.jar") +
            "\n    entry_class: com.example.Events\n    parallelism: 2\n    recovery: " +
            options_.recovery + "\nrules:\n" + options_.rules;
    ConfigLoadResult loaded = LoadConfigFromString(yaml, "test.yaml", dir_.path(), TestEnv());
    for (const ConfigProblem& p : loaded.problems) MESSAGE(FormatProblem(p));
    REQUIRE(loaded.ok());
    config_ = std::move(*loaded.config);
    if (options_.with_store) {
      std::filesystem::create_directories(dir_.path() + "/state");
      auto store = SqliteHistoryStore::Open(dir_.path() + "/state/history.db");
      REQUIRE(store.has_value());
      store_ = std::move(*store);
    }
    observer_ = std::make_unique<Observer>(observe_transport_, ObservedClustersFrom(config_),
                                           nullptr, std::vector<SignalQuery>{}, ObserverOptions{});
    if (store_) {
      executor_ = std::make_unique<Executor>(act_transport_, FlinkEndpointsFrom(config_),
                                             JobSubmissionsFrom(config_), *store_, *store_, *store_,
                                             fence_, options_.executor);
    }
    loop_ = std::make_unique<AgentLoop>(config_, *observer_, executor_.get(), store_.get(),
                                        [] { return 0.5; });
  }

  // job-0 RUNNING with all tasks RUNNING (no checkpoint needed). At most 15 s.
  bool WaitRunning() {
    for (int i = 0; i < 300; ++i) {
      rapidjson::Document doc = a_.SimJobs();
      if (doc.IsObject() && doc.HasMember("jobs")) {
        for (const auto& j : doc["jobs"].GetArray()) {
          if (std::string(j["status"].GetString()) == "RUNNING" &&
              std::string(j["task_state"].GetString()) == "RUNNING") {
            return true;
          }
        }
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  FlinksimProcess& a() { return a_; }
  FlinksimProcess& b() { return *b_; }
  SqliteHistoryStore& store() { return *store_; }
  Executor& executor() { return *executor_; }
  int max_live() const { return max_live_; }
  const std::vector<CycleReport>& reports() const { return reports_; }

  // Live (not FAILED/CANCELED/FINISHED) instances of job-0 over all clusters, per flinksim.
  int LiveInstances() {
    int live = 0;
    for (FlinksimProcess* sim : {&a_, b_ ? &*b_ : nullptr}) {
      if (sim == nullptr) continue;
      rapidjson::Document doc = sim->SimJobs();
      if (!doc.IsObject() || !doc.HasMember("jobs")) continue;
      for (const auto& j : doc["jobs"].GetArray()) {
        if (std::string(j["name"].GetString()) == "job-0" && !Terminal(j["status"].GetString())) {
          ++live;
        }
      }
    }
    return live;
  }

  // Runs the agent: a cycle every second, the executor ticking every 20 ms in between, until
  // `done` holds or `limit` passes. Checks the live-instance count after every tick.
  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = 30s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (std::chrono::steady_clock::now() >= next_cycle_) {
        reports_.push_back(loop_->RunCycle(WallMs()));
        next_cycle_ = std::chrono::steady_clock::now() + 1s;
      }
      if (executor_) executor_->Tick(WallMs());
      max_live_ = std::max(max_live_, LiveInstances());
      if (done()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  // Recoveries of job-0 in the journal.
  std::vector<RecoveryRecord> Recoveries() {
    auto r = store_->Recoveries("job-0", 0);
    REQUIRE(r.has_value());
    return *r;
  }
  bool EndedRecoveries(std::size_t n) {
    std::size_t ended = 0;
    for (const RecoveryRecord& r : Recoveries()) ended += r.ended_ms.has_value() ? 1U : 0U;
    return ended >= n;
  }

  // flinksim's log of mutating requests on cluster a, as "METHOD path".
  std::vector<std::string> Mutations(FlinksimProcess& sim) { return MutationsOf(sim); }
  static std::vector<std::string> MutationsOf(const FlinksimProcess& sim) {
    std::vector<std::string> out;
    rapidjson::Document doc =
        ParseJson(testing::HttpCall("GET", sim.rest() + "/_sim/requests").body);
    if (!doc.IsObject() || !doc.HasMember("requests")) return out;
    for (const auto& r : doc["requests"].GetArray()) {
      out.push_back(std::string(r["method"].GetString()) + " " + r["path"].GetString());
    }
    return out;
  }
  // The body of the first POST /jars/:id/run on `sim`; "" when there was none.
  std::string RunBody(FlinksimProcess& sim) {
    rapidjson::Document doc =
        ParseJson(testing::HttpCall("GET", sim.rest() + "/_sim/requests").body);
    for (const auto& r : doc["requests"].GetArray()) {
      const std::string path = r["path"].GetString();
      if (std::string(r["method"].GetString()) == "POST" && path.size() > 4 &&
          path.compare(path.size() - 4, 4, "/run") == 0) {
        return r["body"].GetString();
      }
    }
    return "";
  }

 private:
  Options options_;
  testing::TempDir dir_{"fg-exec"};
  FlinksimProcess a_;
  std::optional<FlinksimProcess> b_;
  Config config_;
  std::unique_ptr<SqliteHistoryStore> store_;
  CurlTransport observe_transport_{{}};
  CurlTransport act_transport_{{}};
  std::unique_ptr<Observer> observer_;
  SingleInstanceFence fence_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<AgentLoop> loop_;
  std::chrono::steady_clock::time_point next_cycle_{};
  std::vector<CycleReport> reports_;
  int max_live_ = 0;
};

// The latest completed checkpoint path of job `id` per flinksim.
std::string LatestCheckpoint(FlinksimProcess& sim, const std::string& id) {
  rapidjson::Document doc = sim.SimJobs();
  for (const auto& j : doc["jobs"].GetArray()) {
    if (j["id"].GetString() == id) return j["checkpoints"]["latest_completed"].GetString();
  }
  return "";
}

// The newest job-0's status and id per flinksim.
std::pair<std::string, std::string> Newest(FlinksimProcess& sim) {
  rapidjson::Document doc = sim.SimJobs();
  const rapidjson::Value& j = FlinksimProcess::SimJob(doc, "job-0");
  return {j["id"].GetString(),
          j["status"].GetString() + std::string("/") + j["task_state"].GetString()};
}

TEST_CASE("restores are NO_CLAIM even where the cluster's default is CLAIM: the restored "
          "checkpoint stays on disk after newer ones subsume it") {
  Options o;
  o.sim_args = {"--conf", "execution.state-recovery.claim-mode=CLAIM"};
  Harness h(o);
  const std::string old_id = h.a().JobId("job-0");
  REQUIRE(h.RunUntil([&] { return h.reports().size() >= 2; }, 10s));
  h.a().Control("fail_job", R"({"job":"job-0","terminal":true})");
  REQUIRE(h.RunUntil([&] { return h.EndedRecoveries(1); }, 40s));
  const std::vector<RecoveryRecord> recs = h.Recoveries();
  REQUIRE(recs.size() == 1);
  REQUIRE(recs.front().outcome == RecoveryAttempt::Outcome::kSucceeded);
  const std::string restored = recs.front().restore_path;
  rapidjson::Document doc = h.a().SimJobs();
  const rapidjson::Value& job = FlinksimProcess::SimJob(doc, "job-0");
  REQUIRE(job["restored_from"].IsObject());
  CHECK(std::string(job["restored_from"]["claim_mode"].GetString()) == "NO_CLAIM");
  // Several checkpoints of the new job later (num-retained 1), the restored one is still there.
  const std::string new_id = job["id"].GetString();
  const std::string first = LatestCheckpoint(h.a(), new_id);
  REQUIRE(h.RunUntil(
      [&] {
        const std::string now = LatestCheckpoint(h.a(), new_id);
        return !now.empty() && now != first;
      },
      20s));
  const std::string dir = restored.substr(restored.find(':') + 1);
  CHECK(std::filesystem::exists(dir));
}

TEST_CASE("a FAILED job is resubmitted from its latest completed checkpoint") {
  Harness h;
  const std::string old_id = h.a().JobId("job-0");
  // Let the agent see it healthy first (and record its checkpoints).
  REQUIRE(h.RunUntil([&] { return h.reports().size() >= 2; }, 10s));
  h.a().Control(
      "fail_job",
      R"({"job":"job-0","exception":"java.lang.RuntimeException: boom","terminal":true})");
  const std::string checkpoint = LatestCheckpoint(h.a(), old_id);
  REQUIRE_FALSE(checkpoint.empty());

  REQUIRE(h.RunUntil([&] { return h.EndedRecoveries(1); }, 40s));
  const std::vector<RecoveryRecord> recs = h.Recoveries();
  REQUIRE(recs.size() == 1);
  const RecoveryRecord& rec = recs.front();
  CHECK(rec.outcome == RecoveryAttempt::Outcome::kSucceeded);
  CHECK(rec.error == "");
  CHECK(rec.strategy == Strategy::kCheckpoint);
  CHECK(rec.restore_path == checkpoint);
  CHECK(rec.rules == "job-failed");

  // flinksim: the new instance has the derived id, restored from that checkpoint, all RUNNING.
  const auto [new_id, state] = Newest(h.a());
  CHECK(new_id == Executor::DerivedJobId(rec.id));
  CHECK(state == "RUNNING/RUNNING");
  rapidjson::Document doc = h.a().SimJobs();
  const rapidjson::Value& job = FlinksimProcess::SimJob(doc, "job-0");
  REQUIRE(job["restored_from"].IsObject());
  CHECK(std::string(job["restored_from"]["path"].GetString()) == checkpoint);

  // The requests: no cancel (the instance was FAILED already), one upload, one run.
  const std::vector<std::string> m = h.Mutations(h.a());
  CHECK(std::count_if(m.begin(), m.end(),
                      [](const std::string& s) { return s.rfind("PATCH", 0) == 0; }) == 0);
  CHECK(std::count(m.begin(), m.end(), "POST /jars/upload") == 1);
  CHECK(std::count_if(m.begin(), m.end(), [](const std::string& s) {
          return s.rfind("POST /jars/", 0) == 0 && s.find("/run") != std::string::npos;
        }) == 1);
  const std::string run_body = h.RunBody(h.a());
  CHECK(run_body.find("\"savepointPath\":\"" + checkpoint + "\"") != std::string::npos);
  CHECK(run_body.find("\"jobId\":\"" + Executor::DerivedJobId(rec.id) + "\"") != std::string::npos);
  CHECK(h.max_live() <= 1);

  // The journal tells the story, step by step.
  auto steps = h.store().Steps(rec.id);
  REQUIRE(steps.has_value());
  std::vector<std::string> kinds;
  for (const StepRecord& s : *steps) kinds.push_back(s.kind + ":" + s.status);
  CHECK(std::find(kinds.begin(), kinds.end(), "check-duplicates:done") != kinds.end());
  CHECK(std::find(kinds.begin(), kinds.end(), "upload-jar:done") != kinds.end());
  CHECK(std::find(kinds.begin(), kinds.end(), "submit:done") != kinds.end());
  CHECK(std::find(kinds.begin(), kinds.end(), "verify:done") != kinds.end());
  // The rule transition that started it is recorded too.
  auto transitions = h.store().Transitions("job-0", 0);
  REQUIRE(transitions.has_value());
  CHECK(std::any_of(transitions->begin(), transitions->end(), [](const RuleTransition& t) {
    return t.rule == "job-failed" && t.to == RuleState::kFiring;
  }));
}

TEST_CASE("a restart loop: the looping instance is cancelled first, then resubmitted") {
  Options o;
  // Enough restart attempts that the loop stays a loop (does not end FAILED) while we watch.
  o.sim_args = {"--conf", "restart-strategy.fixed-delay.attempts=1000"};
  Harness h(o);
  const std::string old_id = h.a().JobId("job-0");
  REQUIRE(h.RunUntil([&] { return h.reports().size() >= 2; }, 10s));
  h.a().Control("restart_loop", R"({"job":"job-0","after":"2s"})");
  REQUIRE(h.RunUntil([&] { return h.EndedRecoveries(1); }, 60s));
  const std::vector<RecoveryRecord> recs = h.Recoveries();
  REQUIRE(recs.size() == 1);
  CHECK(recs.front().outcome == RecoveryAttempt::Outcome::kSucceeded);
  CHECK(recs.front().rules == "restart-loop");

  const std::vector<std::string> m = h.Mutations(h.a());
  const auto cancel = std::find(m.begin(), m.end(), "PATCH /jobs/" + old_id);
  const auto run = std::find_if(m.begin(), m.end(), [](const std::string& s) {
    return s.rfind("POST /jars/", 0) == 0 && s.find("/run") != std::string::npos;
  });
  REQUIRE(cancel != m.end());
  REQUIRE(run != m.end());
  CHECK(cancel < run);
  rapidjson::Document doc = h.a().SimJobs();
  for (const auto& j : doc["jobs"].GetArray()) {
    if (j["id"].GetString() == old_id) CHECK(std::string(j["status"].GetString()) == "CANCELED");
  }
  CHECK(h.LiveInstances() == 1);
  CHECK(h.max_live() <= 1);
}

TEST_CASE(
    "dry run: the plan is recorded as 'would have' and flinksim receives no mutating request") {
  Options o;
  o.dry_run = true;
  Harness h(o);
  REQUIRE(h.RunUntil([&] { return h.reports().size() >= 2; }, 10s));
  h.a().Control(
      "fail_job",
      R"({"job":"job-0","exception":"java.lang.RuntimeException: boom","terminal":true})");
  h.a().Control("clear_requests");
  REQUIRE(h.RunUntil([&] { return !h.Recoveries().empty(); }, 20s));
  // A few more cycles: the same plan is not recorded again every cycle.
  const std::size_t cycles = h.reports().size();
  h.RunUntil([&] { return h.reports().size() >= cycles + 3; }, 10s);
  const std::vector<RecoveryRecord> recs = h.Recoveries();
  REQUIRE(recs.size() == 1);
  CHECK(recs.front().dry_run);
  CHECK(recs.front().ended_ms.has_value());
  CHECK(h.Mutations(h.a()).empty());
  CHECK(h.LiveInstances() == 0);
  auto attempts = h.store().Attempts(0);
  REQUIRE(attempts.has_value());
  CHECK(attempts->empty());  // a dry run is not an attempt (no cooldown, no give-up)
}

TEST_CASE("without a journal the agent observes and decides but does not act, and says why") {
  Options o;
  o.with_store = false;
  Harness h(o);
  REQUIRE(h.RunUntil([&] { return h.reports().size() >= 2; }, 10s));
  h.a().Control(
      "fail_job",
      R"({"job":"job-0","exception":"java.lang.RuntimeException: boom","terminal":true})");
  h.a().Control("clear_requests");
  bool refused = false;
  h.RunUntil(
      [&] {
        for (const CycleReport& r : h.reports()) {
          for (const std::string& p : r.problems) {
            if (p.find("journal") != std::string::npos &&
                p.find("does not act") != std::string::npos) {
              refused = true;
            }
          }
        }
        return refused;
      },
      15s);
  CHECK(refused);
  CHECK(h.Mutations(h.a()).empty());
}

TEST_CASE(
    "a restore point that is gone: the restore fails, the point is marked, the next rung is used") {
  Harness h;
  const std::string old_id = h.a().JobId("job-0");
  // A savepoint first (older than the checkpoints that follow it).
  testing::HttpReply sp =
      testing::HttpCall("POST", h.a().rest() + "/jobs/" + old_id + "/savepoints",
                        R"({"cancel-job": false})", {"Content-Type: application/json"});
  REQUIRE(sp.status == 202);
  std::string savepoint;
  REQUIRE(h.RunUntil(
      [&] {
        rapidjson::Document doc = h.a().SimJobs();
        const rapidjson::Value& j = FlinksimProcess::SimJob(doc, "job-0");
        savepoint = j["checkpoints"]["latest_savepoint"].GetString();
        return !savepoint.empty() && h.reports().size() >= 3;
      },
      15s));
  // Let checkpoints newer than the savepoint complete and be observed.
  h.RunUntil([&] { return h.reports().size() >= 5; }, 10s);
  h.a().Control(
      "fail_job",
      R"({"job":"job-0","exception":"java.lang.RuntimeException: boom","terminal":true})");
  const std::string checkpoint = LatestCheckpoint(h.a(), old_id);
  REQUIRE_FALSE(checkpoint.empty());
  h.a().Control("delete_checkpoint", R"({"job":"job-0","checkpoint":"latest"})");

  REQUIRE(h.RunUntil([&] { return h.EndedRecoveries(2); }, 60s));
  const std::vector<RecoveryRecord> recs = h.Recoveries();
  REQUIRE(recs.size() >= 2);
  CHECK(recs[0].strategy == Strategy::kCheckpoint);
  CHECK(recs[0].restore_path == checkpoint);
  CHECK(recs[0].outcome == RecoveryAttempt::Outcome::kFailed);
  CHECK(recs[0].error.find("marked as failed") != std::string::npos);
  CHECK(recs[1].strategy == Strategy::kSavepoint);
  CHECK(recs[1].restore_path == savepoint);
  CHECK(recs[1].outcome == RecoveryAttempt::Outcome::kSucceeded);
  auto points = h.store().RestorePoints("job-0");
  REQUIRE(points.has_value());
  for (const KnownRestorePoint& p : *points) {
    if (p.point.path == checkpoint) CHECK(p.failed_restore);
  }
  CHECK(h.max_live() <= 1);
}

TEST_CASE("no restore point: no submit and a page without opt-in; a fresh start with it") {
  SUBCASE("without allow_fresh_state") {
    Options o;
    o.checkpoint_interval = "1h";  // the job never completes a checkpoint during the test
    Harness h(o);
    REQUIRE(h.RunUntil([&] { return h.reports().size() >= 2; }, 10s));
    h.a().Control(
        "fail_job",
        R"({"job":"job-0","exception":"java.lang.RuntimeException: boom","terminal":true})");
    h.a().Control("clear_requests");
    std::vector<RefusalRecord> refusals;
    REQUIRE(h.RunUntil(
        [&] {
          auto r = h.store().Refusals("job-0", 0);
          if (r) refusals = *r;
          return !refusals.empty();
        },
        20s));
    const std::size_t cycles = h.reports().size();
    h.RunUntil([&] { return h.reports().size() >= cycles + 2; }, 10s);
    CHECK(refusals.front().refusal.cause == RefusalCause::kNoRestorePoint);
    CHECK(refusals.front().refusal.page);
    CHECK(refusals.front().refusal.reason.find("fresh state not allowed") != std::string::npos);
    CHECK(h.Recoveries().empty());
    CHECK(h.Mutations(h.a()).empty());
    // Refused once, not once per cycle.
    auto again = h.store().Refusals("job-0", 0);
    REQUIRE(again.has_value());
    CHECK(again->size() == 1);
  }
  SUBCASE("with allow_fresh_state") {
    Options o;
    o.checkpoint_interval = "1h";
    o.recovery = "{cooldown: 0s, allow_fresh_state: true}";
    Harness h(o);
    REQUIRE(h.RunUntil([&] { return h.reports().size() >= 2; }, 10s));
    h.a().Control(
        "fail_job",
        R"({"job":"job-0","exception":"java.lang.RuntimeException: boom","terminal":true})");
    REQUIRE(h.RunUntil([&] { return h.EndedRecoveries(1); }, 30s));
    const std::vector<RecoveryRecord> recs = h.Recoveries();
    REQUIRE(recs.size() == 1);
    CHECK(recs.front().strategy == Strategy::kFresh);
    CHECK(recs.front().outcome == RecoveryAttempt::Outcome::kSucceeded);
    const std::string run_body = h.RunBody(h.a());
    CHECK_FALSE(run_body.empty());
    CHECK(run_body.find("savepointPath") == std::string::npos);
    rapidjson::Document doc = h.a().SimJobs();
    const rapidjson::Value& job = FlinksimProcess::SimJob(doc, "job-0");
    CHECK(job["restored_from"].IsNull());
    CHECK(job["restore_request"].IsNull());
    CHECK(h.max_live() <= 1);
  }
}

TEST_CASE(
    "Flink answering 503 mid-recovery: the step retries, then succeeds; a persistent error fails "
    "cleanly") {
  SUBCASE("a short leader election is ridden out") {
    Harness h;
    REQUIRE(h.RunUntil([&] { return h.reports().size() >= 2; }, 10s));
    h.a().Control(
        "fail_job",
        R"({"job":"job-0","exception":"java.lang.RuntimeException: boom","terminal":true})");
    h.a().Control("error_500", R"({"path_prefix":"/jars","duration":"20s"})");
    // 20 simulated seconds = 1 s real at the time scale: the upload retries through it.
    REQUIRE(h.RunUntil([&] { return h.EndedRecoveries(1); }, 40s));
    const std::vector<RecoveryRecord> recs = h.Recoveries();
    REQUIRE(recs.size() == 1);
    CHECK(recs.front().outcome == RecoveryAttempt::Outcome::kSucceeded);
    CHECK(h.max_live() <= 1);
  }
  SUBCASE("an error that outlasts the phase deadline fails the recovery and records why") {
    Options o;
    o.executor.phase_timeout_ms = 3000;
    o.recovery = "{cooldown: 10m, max_recoveries: 3, window: 10m}";
    Harness h(o);
    REQUIRE(h.RunUntil([&] { return h.reports().size() >= 2; }, 10s));
    h.a().Control(
        "fail_job",
        R"({"job":"job-0","exception":"java.lang.RuntimeException: boom","terminal":true})");
    h.a().Control("error_500", R"({"path_prefix":"/jars","duration":"1h"})");
    REQUIRE(h.RunUntil([&] { return h.EndedRecoveries(1); }, 30s));
    const std::vector<RecoveryRecord> recs = h.Recoveries();
    REQUIRE(recs.size() == 1);
    CHECK(recs.front().outcome == RecoveryAttempt::Outcome::kFailed);
    CHECK(recs.front().error.find("upload-jar") != std::string::npos);
    CHECK(recs.front().error.find("gave up after") != std::string::npos);
    CHECK(h.LiveInstances() == 0);
  }
}

TEST_CASE("a live instance of the job on another cluster blocks the submit") {
  Options o;
  o.two_clusters = true;
  Harness h(o);
  REQUIRE(h.RunUntil([&] { return h.reports().size() >= 2; }, 10s));
  // job-0 also runs on cluster-b (someone started it by hand).
  h.b().Control("start_job", R"({"name":"job-0"})");
  h.a().Control(
      "fail_job",
      R"({"job":"job-0","exception":"java.lang.RuntimeException: boom","terminal":true})");
  h.a().Control("clear_requests");
  h.RunUntil(
      [&] {
        auto refusals = h.store().Refusals("job-0", 0);
        return (refusals && !refusals->empty()) || h.EndedRecoveries(1);
      },
      20s);
  // Either the planner saw the duplicate (refusal) or the executor's check did (failed recovery);
  // in both cases nothing was submitted to cluster-a.
  for (const std::string& m : h.Mutations(h.a())) CHECK(m.find("/run") == std::string::npos);
}

// A journal that stops writing on command (a full or read-only disk), forwarding to the real
// store otherwise. Reads always work.
class FailingJournal final : public RecoveryJournal {
 public:
  explicit FailingJournal(RecoveryJournal& real) : real_(real) {}
  bool failing = false;

  Result<void> BeginRecovery(const RecoveryRecord& r) override {
    return Gate() ? real_.BeginRecovery(r) : Full();
  }
  Result<void> SaveProgress(std::string_view id, std::string_view p,
                            std::optional<std::int64_t> t) override {
    return Gate() ? real_.SaveProgress(id, p, t) : Full();
  }
  Result<void> SetRestore(std::string_view id, Strategy s, std::string_view p) override {
    return Gate() ? real_.SetRestore(id, s, p) : Full();
  }
  Result<void> EndRecovery(std::string_view id, RecoveryAttempt::Outcome o, std::int64_t at,
                           std::string_view e) override {
    return Gate() ? real_.EndRecovery(id, o, at, e) : Full();
  }
  Result<void> MarkDidNotStick(std::string_view id) override {
    return Gate() ? real_.MarkDidNotStick(id) : Full();
  }
  Result<void> RecordStep(const StepRecord& step) override {
    return Gate() ? real_.RecordStep(step) : Full();
  }
  Result<std::vector<RecoveryRecord>> UnfinishedRecoveries() override {
    return real_.UnfinishedRecoveries();
  }
  Result<std::vector<RecoveryRecord>> Recoveries(std::string_view job,
                                                 std::int64_t since) override {
    return real_.Recoveries(job, since);
  }
  Result<std::vector<StepRecord>> Steps(std::string_view id) override { return real_.Steps(id); }
  Result<std::vector<RecoveryAttempt>> Attempts(std::int64_t since) override {
    return real_.Attempts(since);
  }

 private:
  bool Gate() const { return !failing; }
  static tl::unexpected<Error> Full() {
    return tl::unexpected<Error>(Error::Permanent("sqlite history.db: database or disk is full"));
  }
  RecoveryJournal& real_;
};

TEST_CASE("the journal failing mid-recovery: no further step is taken until it writes again") {
  testing::TempDir dir("fg-journal");
  FlinksimProcess sim("cluster-a",
                      {"--jobs", "1", "--checkpoint-interval", "2s", "--flink-version", "1.20"});
  REQUIRE(sim.WaitReady(1));
  WriteJar(dir.File("job-0.jar"), "job-0");
  auto opened = SqliteHistoryStore::Open(":memory:");
  REQUIRE(opened.has_value());
  SqliteHistoryStore& store = **opened;
  FailingJournal journal(store);
  CurlTransport transport{{}};
  SingleInstanceFence fence;
  FlinkEndpoint endpoint{"cluster-a", sim.rest(), 3000ms, 1000ms, nullptr, {}};
  JobSubmission job;
  job.job = "job-0";
  job.jar = dir.File("job-0.jar");
  job.parallelism = 2;
  Executor executor(transport, {endpoint}, {{"job-0", job}}, journal, store, store, fence,
                    ExecutorOptions{.phase_timeout_ms = 60'000, .poll_interval_ms = 100});

  const std::string old_id = sim.JobId("job-0");
  RecoveryPlan plan;
  plan.job = "job-0";
  plan.cluster = "cluster-a";
  plan.stop_job_id = old_id;
  plan.strategy = Strategy::kFresh;
  plan.steps = {StepKind::kCancel, StepKind::kWaitTerminal, StepKind::kSubmit, StepKind::kVerify};
  plan.reason = "test";
  sim.Control("clear_requests");

  // Without the journal a recovery does not even start.
  journal.failing = true;
  auto refused = executor.Start(plan, "manual", WallMs());
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message.find("cannot journal") != std::string::npos);
  CHECK(executor.Idle());

  // Started with the journal; then the disk fills before the first step is recorded as done.
  journal.failing = false;
  auto id = executor.Start(plan, "manual", WallMs());
  REQUIRE(id.has_value());
  journal.failing = true;
  for (int i = 0; i < 40; ++i) {
    executor.Tick(WallMs());
    std::this_thread::sleep_for(25ms);
  }
  // The cancel (journaled before the disk filled) may have been sent, repeatedly even; nothing
  // after it was: the wait, the upload and the submit all need the journal first.
  for (const std::string& m : Harness::MutationsOf(sim)) {
    CHECK(m == "PATCH /jobs/" + old_id);
  }
  CHECK_FALSE(executor.Idle());

  // The disk has room again: the recovery goes on and finishes.
  journal.failing = false;
  for (int i = 0; i < 600 && !executor.Idle(); ++i) {
    executor.Tick(WallMs());
    std::this_thread::sleep_for(25ms);
  }
  REQUIRE(executor.Idle());
  auto recs = store.Recoveries("job-0", 0);
  REQUIRE(recs.has_value());
  REQUIRE(recs->size() == 1);
  CHECK(recs->front().outcome == RecoveryAttempt::Outcome::kSucceeded);
  bool submitted = false;
  for (const std::string& m : Harness::MutationsOf(sim)) {
    submitted = submitted || m.find("/run") != std::string::npos;
  }
  CHECK(submitted);
}

}  // namespace
}  // namespace flinkguard
