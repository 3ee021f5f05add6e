// Model tests on simulated time: every step is an explicit AdvanceTo(); nothing sleeps.

#include "tests/flinksim/cluster.h"
#include "tests/flinksim/metrics.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "tests/support/test_support.h"

namespace flinksim {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kT0 = 1'700'000'000'000;

class Sim {
 public:
  explicit Sim(FlinkVersion v = FlinkVersion::k1_20, std::map<std::string, std::string> conf = {})
      : dir_("flinksim-model"), cluster_(Options(v, std::move(conf)), kT0) {}

  Cluster& c() { return cluster_; }
  const std::string& dir() const { return dir_.path(); }
  int64_t now() const { return cluster_.now(); }
  // Advances by `ms` simulated milliseconds.
  void Step(int64_t ms) { cluster_.AdvanceTo(cluster_.now() + ms); }
  Job& job(const std::string& id) {
    Job* j = cluster_.FindJob(id);
    REQUIRE(j != nullptr);
    return *j;
  }
  // Starts a default job and runs until all its tasks are RUNNING.
  std::string RunningJob(const std::string& name, int64_t interval_ms = 10'000) {
    std::string id = cluster_.StartDefaultJob(name, interval_ms);
    REQUIRE(!id.empty());
    Step(1000);
    REQUIRE(job(id).status == JobStatus::kRunning);
    REQUIRE(job(id).task_state == ExecState::kRunning);
    return id;
  }
  std::string UploadJar(const std::string& name, const std::string& content) {
    auto jar = cluster_.UploadJar(name, content);
    REQUIRE(jar.has_value());
    return jar->id;
  }
  const CheckpointRecord& Checkpoint(const std::string& job_id, int64_t id) {
    auto& j = job(job_id);
    auto it = j.checkpoints.find(id);
    REQUIRE(it != j.checkpoints.end());
    return it->second;
  }

 private:
  ClusterOptions Options(FlinkVersion v, std::map<std::string, std::string> conf) {
    ClusterOptions o;
    o.version = v;
    o.data_dir = dir_.path();
    o.seed = 7;
    o.config = std::move(conf);
    return o;
  }

  flinkguard::testing::TempDir dir_;
  Cluster cluster_;
};

std::string Slurp(const std::string& path) { return ReadWholeFile(path).value_or("<missing>"); }

TEST_CASE(
    "a submitted job goes INITIALIZING -> CREATED -> RUNNING and its tasks follow within a "
    "second") {
  Sim s;
  std::string id = s.c().StartDefaultJob("job-0", 10'000);
  Job& j = s.job(id);
  CHECK(j.status == JobStatus::kInitializing);
  CHECK(j.end_time == -1);
  CHECK(j.vertices.size() == 3);
  CHECK(j.vertices[0].name == "Source: Events");
  CHECK(j.vertices[0].parallelism == 2);
  s.Step(250);
  CHECK(j.status == JobStatus::kCreated);
  s.Step(200);
  CHECK(j.status == JobStatus::kRunning);
  CHECK(j.task_state == ExecState::kDeploying);
  s.Step(250);
  CHECK(j.task_state == ExecState::kInitializing);
  s.Step(300);
  CHECK(j.task_state == ExecState::kRunning);
  CHECK(j.timestamps[static_cast<size_t>(JobStatus::kInitializing)] == kT0);
  CHECK(j.timestamps[static_cast<size_t>(JobStatus::kCreated)] == kT0 + 200);
  CHECK(j.timestamps[static_cast<size_t>(JobStatus::kRunning)] == kT0 + 400);
  CHECK(j.timestamps[static_cast<size_t>(JobStatus::kFailed)] == 0);
  CHECK(s.c().FreeSlots() == s.c().TotalSlots() - 2);
}

TEST_CASE(
    "checkpoints complete at the interval with a real _metadata file; only the newest is "
    "retained") {
  Sim s;
  std::string id = s.RunningJob("job-0", 10'000);
  s.Step(9'000);
  CHECK(s.job(id).count_completed == 0);
  s.Step(1'500);  // first trigger at RUNNING + 10 s, completes within 250 ms
  CHECK(s.job(id).count_completed == 1);
  s.Step(20'000);
  Job& j = s.job(id);
  CHECK(j.count_completed == 3);
  REQUIRE(j.latest_completed.has_value());
  CHECK(*j.latest_completed == 3);
  const CheckpointRecord& latest = s.Checkpoint(id, 3);
  CHECK(latest.external_path == "file:" + s.dir() + "/checkpoints/" + id + "/chk-3");
  CHECK_FALSE(latest.discarded);
  std::string metadata = Slurp(s.dir() + "/checkpoints/" + id + "/chk-3/_metadata");
  CHECK(metadata.find("checkpoint-id: 3") != std::string::npos);
  CHECK(metadata.find("job-name: job-0") != std::string::npos);
  CHECK(metadata.find(" events-source") != std::string::npos);
  // Subsumed checkpoints are gone from disk and marked discarded in the history.
  CHECK_FALSE(fs::exists(s.dir() + "/checkpoints/" + id + "/chk-1"));
  CHECK_FALSE(fs::exists(s.dir() + "/checkpoints/" + id + "/chk-2"));
  CHECK(s.Checkpoint(id, 1).discarded);
  CHECK(s.Checkpoint(id, 2).discarded);
  CHECK(j.history.size() == 3);
  CHECK(j.history.front() == 3);
}

TEST_CASE("num-retained keeps the newest N checkpoints; the history holds the newest 10") {
  Sim s(FlinkVersion::k1_20, {{"state.checkpoints.num-retained", "3"}});
  std::string id = s.RunningJob("job-0", 1'000);
  s.Step(15'000);
  Job& j = s.job(id);
  CHECK(j.count_completed >= 12);
  CHECK(j.history.size() == 10);
  CHECK(j.retained.size() == 3);
  int on_disk = 0;
  for (const auto& e : fs::directory_iterator(s.dir() + "/checkpoints/" + id)) {
    CHECK(fs::exists(e.path() / "_metadata"));
    ++on_disk;
  }
  CHECK(on_disk == 3);
}

TEST_CASE("the restart strategy restarts a failing job until its attempts run out, then it FAILS") {
  Sim s;
  std::string id = s.RunningJob("job-0");
  Job& j = s.job(id);
  for (int n = 1; n <= 3; ++n) {
    REQUIRE(s.c().FailJob(id, {"java.lang.RuntimeException", "boom " + std::to_string(n)}, false));
    CHECK(j.status == JobStatus::kRestarting);
    CHECK(j.num_restarts == n);
    CHECK(j.task_state == ExecState::kCanceling);
    s.Step(150);
    CHECK(j.task_state == ExecState::kCanceled);
    s.Step(900);  // fixed-delay 1 s
    CHECK(j.status == JobStatus::kRunning);
    s.Step(1000);
    CHECK(j.task_state == ExecState::kRunning);
    CHECK(j.attempt == n);
  }
  CHECK(j.exceptions.size() == 3);
  CHECK(j.exceptions.back().stacktrace.find("boom 3") != std::string::npos);
  CHECK(j.exceptions.back().task_name == "Map (1/2) - execution #2");
  REQUIRE(s.c().FailJob(id, {"java.lang.RuntimeException", "boom 4"}, false));
  CHECK(j.status == JobStatus::kFailing);
  s.Step(200);
  CHECK(j.status == JobStatus::kFailed);
  CHECK(j.end_time > 0);
  CHECK(j.num_restarts == 3);
  REQUIRE(j.root_failure.has_value());
  CHECK(j.root_failure->first.find("Recovery is suppressed by FixedDelayRestartBackoffTimeStrategy("
                                   "maxNumberRestartAttempts=3, backoffTimeMS=1000)") !=
        std::string::npos);
  CHECK(j.root_failure->first.find("Caused by: java.lang.RuntimeException: boom 4") !=
        std::string::npos);
  CHECK(s.c().FreeSlots() == s.c().TotalSlots());
}

TEST_CASE("a terminal failure makes the job FAILED at once") {
  Sim s;
  std::string id = s.RunningJob("job-0");
  REQUIRE(s.c().FailJob(id, {"java.lang.IllegalStateException", "fatal"}, true));
  CHECK(s.job(id).status == JobStatus::kFailed);
  CHECK(s.job(id).num_restarts == 0);
  CHECK_FALSE(s.c().FailJob(id, {"x.Y", "again"}, true));
}

TEST_CASE("a savepoint is asynchronous and leaves a directory with _metadata under the target") {
  Sim s;
  std::string id = s.RunningJob("job-0");
  SavepointRequest req;
  req.target_directory = s.dir() + "/my-savepoints";
  auto trigger = s.c().TriggerSavepoint(id, req);
  REQUIRE(trigger.has_value());
  const SavepointOperation* op = s.c().FindSavepointOperation(id, *trigger);
  REQUIRE(op != nullptr);
  CHECK_FALSE(op->done);
  s.Step(1000);
  op = s.c().FindSavepointOperation(id, *trigger);
  REQUIRE(op != nullptr);
  REQUIRE(op->done);
  CHECK(op->failure_class.empty());
  CHECK(StartsWith(op->location,
                   "file:" + s.dir() + "/my-savepoints/savepoint-" + id.substr(0, 6) + "-"));
  CHECK(fs::exists(LocalPathFromUri(op->location) + "/_metadata"));
  CHECK(Slurp(LocalPathFromUri(op->location) + "/_metadata").find("kind: savepoint") !=
        std::string::npos);
  Job& j = s.job(id);
  REQUIRE(j.latest_savepoint.has_value());
  CHECK(s.Checkpoint(id, *j.latest_savepoint).type == "SAVEPOINT");
  CHECK(j.status == JobStatus::kRunning);
  // The same trigger id again is idempotent.
  SavepointRequest again = req;
  again.trigger_id = *trigger;
  CHECK(*s.c().TriggerSavepoint(id, again) == *trigger);
  // Operation results expire after rest.async.store-duration (5 min).
  s.Step(301'000);
  CHECK(s.c().FindSavepointOperation(id, *trigger) == nullptr);
}

TEST_CASE("savepoint without a directory: the configured default, or 400 when none is configured") {
  Sim s;
  std::string id = s.RunningJob("job-0");
  auto t = s.c().TriggerSavepoint(id, SavepointRequest{});
  REQUIRE(t.has_value());
  s.Step(1000);
  CHECK(StartsWith(s.c().FindSavepointOperation(id, *t)->location,
                   "file:" + s.dir() + "/savepoints/savepoint-"));
  s.c().SetConfig("state.savepoints.dir", "");
  auto missing = s.c().TriggerSavepoint(id, SavepointRequest{});
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().kind == ErrorKind::kBadRequest);
  CHECK(missing.error().text.find(
            "Config key [execution.checkpointing.savepoint-dir] is not set. Property "
            "[target-directory] must be provided.") != std::string::npos);
  SavepointRequest stop;
  stop.stop = true;
  CHECK(s.c().TriggerSavepoint(id, stop).error().text.find("Property [targetDirectory]") !=
        std::string::npos);
}

TEST_CASE("savepoint on a job that is not running completes with a failure cause") {
  Sim s;
  std::string id = s.RunningJob("job-0");
  REQUIRE(s.c().FailJob(id, {"java.lang.RuntimeException", "boom"}, false));
  auto t = s.c().TriggerSavepoint(id, SavepointRequest{});
  const SavepointOperation* op = s.c().FindSavepointOperation(id, *t);
  REQUIRE(op->done);
  CHECK(op->failure_class == "java.util.concurrent.CompletionException");
  CHECK(op->failure_stack.find("is not being executed at the moment") != std::string::npos);
  auto unknown = s.c().TriggerSavepoint("0123456789abcdef0123456789abcdef", SavepointRequest{});
  REQUIRE(unknown.has_value());
  CHECK(s.c().FindSavepointOperation("0123456789abcdef0123456789abcdef", *unknown)->failure_class ==
        "org.apache.flink.runtime.messages.FlinkJobNotFoundException");
}

TEST_CASE("stop-with-savepoint ends FINISHED and discards the retained checkpoints") {
  Sim s;
  std::string id = s.RunningJob("job-0");
  s.Step(11'000);
  Job& j = s.job(id);
  REQUIRE(j.latest_completed.has_value());
  std::string chk_dir = s.Checkpoint(id, *j.latest_completed).local_dir;
  CHECK(fs::exists(chk_dir));
  SavepointRequest stop;
  stop.stop = true;
  stop.drain = true;
  auto t = s.c().TriggerSavepoint(id, stop);
  REQUIRE(t.has_value());
  s.Step(1000);
  CHECK(j.status == JobStatus::kFinished);
  CHECK(j.task_state == ExecState::kFinished);
  CHECK(j.end_time > 0);
  const SavepointOperation* op = s.c().FindSavepointOperation(id, *t);
  REQUIRE(op->done);
  CHECK(fs::exists(LocalPathFromUri(op->location) + "/_metadata"));
  CHECK(s.Checkpoint(id, *j.latest_savepoint).type == "SYNC_SAVEPOINT");
  CHECK_FALSE(fs::exists(chk_dir));
  CHECK(s.Checkpoint(id, *j.latest_completed).discarded);
}

TEST_CASE(
    "cancel: CANCELLING then CANCELED; again acknowledged; FINISHED/FAILED give 409; unknown 404") {
  Sim s;
  std::string id = s.RunningJob("job-0");
  s.Step(11'000);
  std::string chk = s.Checkpoint(id, *s.job(id).latest_completed).local_dir;
  REQUIRE(s.c().CancelJob(id));
  CHECK(s.job(id).status == JobStatus::kCancelling);
  s.Step(400);
  CHECK(s.job(id).status == JobStatus::kCanceled);
  CHECK(s.job(id).task_state == ExecState::kCanceled);
  // Retained checkpoints survive cancellation (RETAIN_ON_CANCELLATION).
  CHECK(fs::exists(chk + "/_metadata"));
  // Flink's Dispatcher acknowledges cancelling an already CANCELED job.
  CHECK(s.c().CancelJob(id).has_value());

  std::string failed = s.RunningJob("job-1");
  REQUIRE(s.c().FailJob(failed, {"java.lang.RuntimeException", "x"}, true));
  auto conflict = s.c().CancelJob(failed);
  REQUIRE_FALSE(conflict.has_value());
  CHECK(conflict.error().kind == ErrorKind::kConflict);
  CHECK(conflict.error().text.find("already reached another terminal state (FAILED)") !=
        std::string::npos);

  auto unknown = s.c().CancelJob("0123456789abcdef0123456789abcdef");
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().kind == ErrorKind::kNotFound);
}

TEST_CASE("restore from a savepoint: ids continue, restored info is set, and the job runs") {
  Sim s;
  std::string id = s.RunningJob("job-0");
  s.Step(25'000);  // two checkpoints
  SavepointRequest req;
  auto t = s.c().TriggerSavepoint(id, req);
  s.Step(1000);
  const SavepointOperation* op = s.c().FindSavepointOperation(id, *t);
  REQUIRE(op->done);
  const std::string location = op->location;
  const int64_t savepoint_id = op->checkpoint_id;
  REQUIRE(s.c().CancelJob(id));
  s.Step(500);

  RunRequest run;
  run.savepoint_path = location;
  auto restored = s.c().RunJar(s.job(id).jar_id, run);
  REQUIRE(restored.has_value());
  s.Step(1500);
  Job& j = s.job(*restored);
  CHECK(j.status == JobStatus::kRunning);
  CHECK(j.task_state == ExecState::kRunning);
  REQUIRE(j.restored.has_value());
  CHECK(j.restored->is_savepoint);
  CHECK(j.restored->id == savepoint_id);
  CHECK(j.restored->external_path == location);
  CHECK(j.restored->restore_ts > 0);
  CHECK_FALSE(j.latest_completed.has_value());
  s.Step(10'000);
  REQUIRE(j.latest_completed.has_value());
  CHECK(*j.latest_completed == savepoint_id + 1);
}

TEST_CASE("restore from a retained checkpoint (given as the _metadata file or the directory)") {
  Sim s;
  std::string id = s.RunningJob("job-0");
  s.Step(11'000);
  std::string path = s.Checkpoint(id, *s.job(id).latest_completed).external_path;
  REQUIRE(s.c().CancelJob(id));
  s.Step(500);
  RunRequest run;
  run.savepoint_path = path + "/_metadata";
  auto rid = s.c().RunJar(s.job(id).jar_id, run);
  REQUIRE(rid.has_value());
  s.Step(1500);
  Job& j = s.job(*rid);
  CHECK(j.status == JobStatus::kRunning);
  REQUIRE(j.restored.has_value());
  CHECK_FALSE(j.restored->is_savepoint);
  CHECK(j.restored->external_path == path);
}

TEST_CASE("restore from a missing path: accepted, then FAILED from INITIALIZING") {
  Sim s;
  std::string id = s.RunningJob("job-0");
  RunRequest run;
  run.savepoint_path = "file:" + s.dir() + "/nowhere/savepoint-123456-abcdefabcdef";
  auto rid = s.c().RunJar(s.job(id).jar_id, run);
  REQUIRE(rid.has_value());
  CHECK(s.job(*rid).status == JobStatus::kInitializing);
  s.Step(300);
  Job& j = s.job(*rid);
  CHECK(j.status == JobStatus::kFailed);
  CHECK(j.timestamps[static_cast<size_t>(JobStatus::kCreated)] == 0);
  REQUIRE(j.root_failure.has_value());
  CHECK(j.root_failure->first.find(
            "org.apache.flink.runtime.client.JobInitializationException: Could not start "
            "the JobMaster.") == 0);
  CHECK(j.root_failure->first.find(
            "java.io.FileNotFoundException: Cannot find checkpoint or savepoint") !=
        std::string::npos);
  CHECK(j.exceptions.empty());
}

TEST_CASE("state that maps to no operator fails the restore unless allowNonRestoredState") {
  Sim s;
  std::string id = s.RunningJob("job-0");
  auto t = s.c().TriggerSavepoint(id, SavepointRequest{});
  s.Step(1000);
  std::string location = s.c().FindSavepointOperation(id, *t)->location;
  // A new version of the program without the "enrich-map" operator.
  std::string jar = s.UploadJar("v2.jar",
                                "Main-Class: x.Main\nflinksim-operators: events-source=Source: "
                                "Events,print-sink=Sink: Print\n");
  RunRequest run;
  run.savepoint_path = location;
  auto strict = s.c().RunJar(jar, run);
  REQUIRE(strict.has_value());
  s.Step(300);
  CHECK(s.job(*strict).status == JobStatus::kFailed);
  CHECK(s.job(*strict).root_failure->first.find(
            "Cannot map checkpoint/savepoint state for operator " +
            StableHex32("operator-uid:enrich-map")) != std::string::npos);
  run.allow_non_restored_state = true;
  auto lenient = s.c().RunJar(jar, run);
  REQUIRE(lenient.has_value());
  s.Step(1500);
  CHECK(s.job(*lenient).status == JobStatus::kRunning);
  CHECK(s.job(*lenient).vertices.size() == 2);
  CHECK(s.job(*lenient).restored->allow_non_restored_state);
}

TEST_CASE("a job id already used (running, or terminal and still remembered) is rejected") {
  Sim s;
  std::string id = s.RunningJob("job-0");
  RunRequest run;
  run.job_id = id;
  auto dup = s.c().RunJar(s.job(id).jar_id, run);
  REQUIRE_FALSE(dup.has_value());
  CHECK(dup.error().kind == ErrorKind::kBadRequest);
  CHECK(dup.error().text.find("RestHandlerException: Could not execute application.") !=
        std::string::npos);
  CHECK(dup.error().text.find("DuplicateJobSubmissionException: Job has already been submitted.") !=
        std::string::npos);
  REQUIRE(s.c().CancelJob(id));
  s.Step(500);
  CHECK_FALSE(s.c().RunJar(s.job(id).jar_id, run).has_value());
  RunRequest fresh;
  fresh.job_id = "0123456789ABCDEF0123456789ABCDEF";
  auto ok = s.c().RunJar(s.job(id).jar_id, fresh);
  REQUIRE(ok.has_value());
  CHECK(*ok == "0123456789abcdef0123456789abcdef");
}

TEST_CASE(
    "injected checkpoint failures count as failed and restart the job past the tolerable number") {
  Sim s;
  std::string id = s.RunningJob("job-0", 1'000);
  s.c().SetCheckpointMode(id, CheckpointFaultMode::kFail, "Checkpoint was declined (injected)");
  s.Step(3'500);
  Job& j = s.job(id);
  CHECK(j.count_failed == 3);
  REQUIRE(j.latest_failed.has_value());
  CHECK(s.Checkpoint(id, *j.latest_failed).failure_message == "Checkpoint was declined (injected)");
  CHECK(j.status == JobStatus::kRunning);
  s.Step(1'000);  // 4th consecutive failure > 3 tolerable
  CHECK(j.status == JobStatus::kRestarting);
  CHECK(j.exceptions.back().class_name == "org.apache.flink.util.FlinkRuntimeException");
  CHECK(j.exceptions.back().global);
  s.c().SetCheckpointMode(id, CheckpointFaultMode::kOk, "");
  s.Step(4'000);
  CHECK(j.status == JobStatus::kRunning);
  CHECK(j.consecutive_failures == 0);
  CHECK(j.latest_completed.has_value());
}

TEST_CASE("stalled checkpoints stay in progress until the timeout expires them") {
  Sim s(FlinkVersion::k1_20, {{"execution.checkpointing.timeout", "30 s"}});
  std::string id = s.RunningJob("job-0", 5'000);
  s.c().SetCheckpointMode(id, CheckpointFaultMode::kStall, "");
  s.Step(10'000);
  Job& j = s.job(id);
  CHECK(j.pending_checkpoint.has_value());
  CHECK(j.count_completed == 0);
  s.Step(30'000);
  CHECK(j.count_failed == 1);
  CHECK(s.Checkpoint(id, *j.latest_failed).failure_message ==
        "Checkpoint expired before completing.");
  s.c().SetCheckpointMode(id, CheckpointFaultMode::kOk, "");
  s.Step(10'000);
  CHECK(j.count_completed >= 1);
}

TEST_CASE("a restart loop fails the job after each restart, K times") {
  Sim s;
  std::string id = s.RunningJob("job-0");
  s.c().SetRestartLoop(id, 5'000, 2, {"java.io.IOException", "flaky"});
  s.Step(5'100);
  Job& j = s.job(id);
  CHECK(j.num_restarts == 1);
  s.Step(2'500);
  CHECK(j.task_state == ExecState::kRunning);
  s.Step(5'000);
  CHECK(j.num_restarts == 2);
  s.Step(20'000);
  CHECK(j.num_restarts == 2);
  CHECK(j.status == JobStatus::kRunning);
  CHECK(j.exceptions.back().class_name == "java.io.IOException");
}

TEST_CASE("CLAIM mode deletes the restored checkpoint once it is subsumed; NO_CLAIM keeps it") {
  for (const char* mode : {"CLAIM", "NO_CLAIM"}) {
    CAPTURE(mode);
    Sim s;
    std::string id = s.RunningJob("job-0");
    s.Step(11'000);
    std::string dir = s.Checkpoint(id, *s.job(id).latest_completed).local_dir;
    REQUIRE(s.c().CancelJob(id));
    s.Step(500);
    RunRequest run;
    run.savepoint_path = dir;
    run.claim_mode = mode;
    auto rid = s.c().RunJar(s.job(id).jar_id, run);
    s.Step(12'000);
    REQUIRE(s.job(*rid).latest_completed.has_value());
    CHECK(fs::exists(dir) == (std::string(mode) == "NO_CLAIM"));
  }
}

TEST_CASE("backpressure lowers throughput and builds up pending records; they drain afterwards") {
  Sim s;
  std::string id = s.RunningJob("job-0");
  s.c().SetTraffic(id, 1000.0, 0.5);
  Job& j = s.job(id);
  const double before = s.c().PendingRecordsPerSubtask(j);
  s.Step(10'000);
  CHECK(s.c().PendingRecordsPerSubtask(j) > before + 2000);
  CHECK(s.c().Rates(j, 0).records_out_per_s == doctest::Approx(250.0));  // per subtask
  CHECK(s.c().Rates(j, 0).backpressured_ms_per_s == doctest::Approx(500.0));
  s.c().SetTraffic(j.id, std::nullopt, 0.0);
  s.Step(60'000);
  CHECK(j.traffic.lag_records == doctest::Approx(0.0));
}

TEST_CASE("traffic integrated only when read equals traffic integrated at every tick") {
  // Two identical clusters live through backpressure, its release, a failure and the drain of
  // the backlog: one settles every 50 ms tick, the other moves time without settling (as the
  // background tick does) and settles one job when a request reads it, the other at the end.
  Sim eager;
  Sim lazy;
  const std::string a = eager.RunningJob("job-0");
  const std::string b = eager.RunningJob("job-1");
  REQUIRE(lazy.RunningJob("job-0") == a);
  REQUIRE(lazy.RunningJob("job-1") == b);
  auto both = [&](auto&& f) {
    f(eager.c());
    f(lazy.c());
  };
  auto run = [&](int64_t ms) {
    for (int64_t t = 0; t < ms; t += 50) {
      eager.c().AdvanceTo(eager.now() + 50);
      lazy.c().AdvanceTo(lazy.now() + 50, /*settle=*/false);
    }
  };
  both([&](Cluster& c) { c.SetTraffic(a, 2000.0, 0.4); });
  run(7'000);
  lazy.c().Settle(&a);  // a read of job-0 alone
  both([&](Cluster& c) { c.SetTraffic(a, std::nullopt, 0.0); });
  run(3'000);
  both([&](Cluster& c) { REQUIRE(c.FailJob(b, {"java.lang.RuntimeException", "boom"}, false)); });
  run(20'000);
  lazy.c().Settle(&a);
  const Job& ea = eager.job(a);
  const Job& la = lazy.job(a);
  CHECK(la.integrated_to == lazy.now());
  CHECK(lazy.job(b).integrated_to < lazy.now());  // not read since its failure changed it
  lazy.c().Settle();
  for (const std::string& id : {a, b}) {
    CAPTURE(id);
    const Job& e = eager.job(id);
    const Job& l = lazy.job(id);
    CHECK(l.integrated_to == e.integrated_to);
    CHECK(l.traffic.lag_records == doctest::Approx(e.traffic.lag_records).epsilon(1e-9));
    REQUIRE(l.vertices.size() == e.vertices.size());
    for (size_t v = 0; v < e.vertices.size(); ++v) {
      CHECK(l.vertices[v].records_out == doctest::Approx(e.vertices[v].records_out).epsilon(1e-9));
      CHECK(l.vertices[v].records_in == doctest::Approx(e.vertices[v].records_in).epsilon(1e-9));
      CHECK(l.vertices[v].backpressured_ms ==
            doctest::Approx(e.vertices[v].backpressured_ms).epsilon(1e-9));
      CHECK(l.vertices[v].idle_ms == doctest::Approx(e.vertices[v].idle_ms).epsilon(1e-9));
    }
  }
  CHECK(ea.vertices.front().records_out > 0);
  CHECK(la.num_restarts == 0);
  CHECK(lazy.job(b).num_restarts == 1);
}

TEST_CASE("a restarting job builds up pending records at its input rate; they drain once running") {
  Sim s;
  std::string id = s.RunningJob("job-0");
  s.c().SetTraffic(id, 1000.0, 0.0);
  Job& j = s.job(id);
  CHECK(j.traffic.lag_records == doctest::Approx(0.0));
  REQUIRE(s.c().FailJob(id, {"java.lang.RuntimeException", "boom"}, false));
  s.Step(1'000);  // fixed-delay 1 s: down all along
  const double down = j.traffic.lag_records;
  CHECK(down == doctest::Approx(1000.0).epsilon(0.05));
  s.Step(2'000);  // running again: the sources catch up
  CHECK(j.status == JobStatus::kRunning);
  CHECK(j.task_state == ExecState::kRunning);
  CHECK(j.traffic.lag_records < down);
  s.Step(10'000);
  CHECK(j.traffic.lag_records == doctest::Approx(0.0));
}

TEST_CASE(
    "the source reports pendingRecords, the legacy Kafka consumer's records-lag-max, or none") {
  Sim s;
  std::string id = s.RunningJob("job-0");
  s.c().SetTraffic(id, 1000.0, 0.5);
  s.Step(10'000);
  Job& j = s.job(id);
  auto value_of = [&](const std::string& wanted) -> std::optional<std::string> {
    for (const auto& m : SubtaskMetrics(s.c(), j, 0, 1)) {
      if (m.id == wanted) return m.value;
    }
    return std::nullopt;
  };
  const auto pending = static_cast<int64_t>(s.c().PendingRecordsPerSubtask(j));
  CHECK(pending > 2000);
  CHECK(value_of("Source__Events.pendingRecords") == std::to_string(pending));
  CHECK(!value_of("Source__Events.KafkaConsumer.records-lag-max"));
  s.c().SetTraffic(id, std::nullopt, std::nullopt, LagMetric::kRecordsLagMax);
  CHECK(!value_of("Source__Events.pendingRecords"));
  CHECK(value_of("Source__Events.KafkaConsumer.records-lag-max") ==
        JavaDoubleToString(static_cast<double>(pending)));
  s.c().SetTraffic(id, std::nullopt, std::nullopt, LagMetric::kNone);
  CHECK(!value_of("Source__Events.pendingRecords"));
  CHECK(!value_of("Source__Events.KafkaConsumer.records-lag-max"));
  CHECK(value_of("Source__Events.numRecordsOutPerSecond"));  // the rest is unchanged
  // Only the source vertex has source metrics.
  for (const auto& m : SubtaskMetrics(s.c(), j, 1, 0)) {
    CHECK(m.id.find("pendingRecords") == std::string::npos);
  }
}

TEST_CASE("jobs are held in the job store until jobstore.expiration-time") {
  Sim s(FlinkVersion::k1_20, {{"jobstore.expiration-time", "60"}});
  std::string id = s.RunningJob("job-0");
  REQUIRE(s.c().CancelJob(id));
  s.Step(30'000);
  CHECK(s.c().FindJob(id) != nullptr);
  s.Step(31'000);
  CHECK(s.c().FindJob(id) == nullptr);
}

TEST_CASE("a job waits in SCHEDULED without free slots and deploys once slots are released") {
  Sim s(FlinkVersion::k1_20);
  // 2 TMs x 16 slots, parallelism 2 each: 16 jobs fill the cluster.
  std::vector<std::string> ids;
  for (int i = 0; i < 16; ++i)
    ids.push_back(s.c().StartDefaultJob("job-" + std::to_string(i), 10'000));
  std::string waiting = s.c().StartDefaultJob("late", 10'000);
  s.Step(1'000);
  CHECK(s.c().FreeSlots() == 0);
  CHECK(s.job(waiting).status == JobStatus::kRunning);
  CHECK(s.job(waiting).task_state == ExecState::kScheduled);
  REQUIRE(s.c().CancelJob(ids[0]));
  s.Step(2'000);
  CHECK(s.job(waiting).task_state == ExecState::kRunning);
}

}  // namespace
}  // namespace flinksim
