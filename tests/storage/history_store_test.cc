// SqliteHistoryStore: the restore-point catalog, the recovery journal, transactions, and what
// happens with files that are not ours, newer than us, or cannot be written.

#include "storage/history_store.h"

#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "storage/sqlite_db.h"
#include "tests/storage/history_test_util.h"

using namespace flinkguard;
using namespace flinkguard::history_test;
namespace fs = std::filesystem;

namespace {

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

// --- Restore points --------------------------------------------------------------------------

TEST_CASE_TEMPLATE("restore points round-trip every field, newest first, per job or all", B, OnDisk,
                   InMemory) {
  B s;
  KnownRestorePoint a = SamplePoint("orders", "s3://cp/orders/chk-1", 1'000);
  KnownRestorePoint b = SamplePoint("orders", "s3://cp/orders/" + kAwkward, 3'000);
  b.point.kind = RestorePoint::Kind::kSavepoint;
  b.point.discarded = true;
  b.point.addressable = false;
  b.point.completed_ms = 0;
  b.job_id = "";
  KnownRestorePoint c = SamplePoint("Zahlungen-ü", "hdfs:///cp/z/chk-9", 2'000, "yarn-'b'");
  Must(s->UpsertRestorePoint(a, RestorePointOrigin::kObserved, 10));
  Must(s->UpsertRestorePoint(b, RestorePointOrigin::kTaken, 11));
  Must(s->UpsertRestorePoint(c, RestorePointOrigin::kObserved, 12));

  const auto orders = Must(s->RestorePoints("orders"));
  REQUIRE(orders.size() == 2);
  CheckSamePoint(orders[0], b);
  CheckSamePoint(orders[1], a);

  const auto every = Must(s->RestorePoints(""));
  REQUIRE(every.size() == 3);
  CHECK(every[0].point.path == b.point.path);
  CheckSamePoint(every[1], c);
  CHECK(every[2].point.path == a.point.path);

  CHECK(Must(s->RestorePoints("nobody")).empty());
}

TEST_CASE_TEMPLATE("a point first seen without its times gets the exact ones from a later upsert",
                   B, OnDisk, InMemory) {
  B s;
  // From the checkpoint gauges before Flink 2.0: the completion time is not known and the
  // trigger time is an estimate (the latest it can have been).
  KnownRestorePoint p = SamplePoint("orders", "s3://cp/orders/chk-7", 7'500);
  p.point.completed_ms = 0;
  Must(s->UpsertRestorePoint(p, RestorePointOrigin::kObserved, 7'600));
  CHECK(Must(s->RestorePoints("orders"))[0].point.trigger_ms == 7'500);

  // /checkpoints later tells both.
  KnownRestorePoint exact = p;
  exact.point.trigger_ms = 7'000;
  exact.point.completed_ms = 7'200;
  Must(s->UpsertRestorePoint(exact, RestorePointOrigin::kObserved, 9'000));
  auto points = Must(s->RestorePoints("orders"));
  REQUIRE(points.size() == 1);
  CHECK(points[0].point.trigger_ms == 7'000);
  CHECK(points[0].point.completed_ms == 7'200);

  // Known times are not replaced by another estimate.
  Must(s->UpsertRestorePoint(p, RestorePointOrigin::kObserved, 9'500));
  points = Must(s->RestorePoints("orders"));
  CHECK(points[0].point.trigger_ms == 7'000);
  CHECK(points[0].point.completed_ms == 7'200);
}

TEST_CASE_TEMPLATE("an upsert refreshes a point but never clears failed_restore", B, OnDisk,
                   InMemory) {
  B s;
  KnownRestorePoint p = SamplePoint("orders", "s3://cp/orders/chk-7", 7'000);
  Must(s->UpsertRestorePoint(p, RestorePointOrigin::kObserved, 7'100));
  Must(s->MarkRestoreFailed("orders", p.point.path));
  CHECK(Must(s->RestorePoints("orders"))[0].failed_restore);

  // Seen again on the cluster: Flink has since subsumed it; we still never pick it.
  KnownRestorePoint again = p;
  again.point.discarded = true;
  again.point.addressable = false;
  again.point.id = 77;
  again.point.completed_ms = 7'900;
  again.failed_restore = false;
  Must(s->UpsertRestorePoint(again, RestorePointOrigin::kObserved, 9'000));
  const auto points = Must(s->RestorePoints("orders"));
  REQUIRE(points.size() == 1);
  CHECK(points[0].failed_restore);
  CHECK(points[0].point.discarded);
  CHECK_FALSE(points[0].point.addressable);
  CHECK(points[0].point.id == 77);
  CHECK(points[0].point.completed_ms == 7'900);

  // An observation that does not know the ack time (0) keeps the known one.
  again.point.completed_ms = 0;
  Must(s->UpsertRestorePoint(again, RestorePointOrigin::kObserved, 9'500));
  CHECK(Must(s->RestorePoints("orders"))[0].point.completed_ms == 7'900);

  // An upsert that says "failed" sets the flag.
  KnownRestorePoint other = SamplePoint("orders", "s3://cp/orders/chk-8", 8'000);
  Must(s->UpsertRestorePoint(other, RestorePointOrigin::kObserved, 8'100));
  other.failed_restore = true;
  Must(s->UpsertRestorePoint(other, RestorePointOrigin::kObserved, 8'200));
  CHECK(Must(s->RestorePoints("orders"))[0].failed_restore);
}

TEST_CASE("an upsert keeps origin and first-seen time of the first sighting") {
  OnDisk s;
  KnownRestorePoint p = SamplePoint("orders", "s3://sp/orders/sp-1", 5'000);
  p.job_id = "";
  Must(s->UpsertRestorePoint(p, RestorePointOrigin::kTaken, 5'100));
  p.job_id = "ff00";
  Must(s->UpsertRestorePoint(p, RestorePointOrigin::kObserved, 6'000));
  RawDb raw(s.path);
  CHECK(raw.Scalar("SELECT origin FROM restore_points") == "taken");
  CHECK(raw.Scalar("SELECT first_seen_ms FROM restore_points") == "5100");
  // A job id learnt later fills an unknown one.
  CHECK(raw.Scalar("SELECT job_id FROM restore_points") == "ff00");
}

TEST_CASE_TEMPLATE("marking a point that is not in the catalog is kNotFound", B, OnDisk, InMemory) {
  B s;
  Must(s->UpsertRestorePoint(SamplePoint("orders", "s3://cp/a", 1), RestorePointOrigin::kObserved,
                             1));
  auto r = s->MarkRestoreFailed("orders", "s3://cp/missing");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().kind == ErrorKind::kNotFound);
  CHECK(Contains(r.error().message, "s3://cp/missing"));
  // Same path, other job.
  auto other = s->MarkRestoreFailed("billing", "s3://cp/a");
  REQUIRE_FALSE(other.has_value());
  CHECK(other.error().kind == ErrorKind::kNotFound);
  CHECK_FALSE(Must(s->RestorePoints("orders"))[0].failed_restore);
}

// --- Recovery journal ------------------------------------------------------------------------

TEST_CASE_TEMPLATE("a recovery round-trips every field, optionals present and absent", B, OnDisk,
                   InMemory) {
  B s;
  const RecoveryRecord full = SampleRecovery("r-1", "orders", 1'000);
  RecoveryRecord bare;
  bare.id = "r-2 \"quoted\" 'id'";
  bare.job = "orders";
  bare.started_ms = 2'000;
  bare.strategy = Strategy::kFresh;
  bare.severity = Severity::kInfo;
  bare.trigger = "manual";
  Must(s->BeginRecovery(full));
  Must(s->BeginRecovery(bare));

  const auto all = Must(s->Recoveries("", 0));
  REQUIRE(all.size() == 2);
  CheckSameRecovery(all[0], full);
  CheckSameRecovery(all[1], bare);
  CHECK_FALSE(all[1].ended_ms.has_value());
  CHECK_FALSE(all[1].cooldown_ms.has_value());
  CHECK_FALSE(all[1].fencing_token.has_value());

  // Ended, with an error, every enum value that differs from the defaults.
  Must(s->EndRecovery(full.id, RecoveryAttempt::Outcome::kFailed, 1'500, kAwkward));
  RecoveryRecord ended = full;
  ended.ended_ms = 1'500;
  ended.outcome = RecoveryAttempt::Outcome::kFailed;
  ended.error = kAwkward;
  CheckSameRecovery(Must(s->Recoveries("orders", 1'000))[0], ended);

  CHECK(Must(s->Recoveries("orders", 1'001)).size() == 1);
  CHECK(Must(s->Recoveries("orders", 2'001)).empty());
  CHECK(Must(s->Recoveries("billing", 0)).empty());
}

TEST_CASE_TEMPLATE("beginning a recovery twice is kConflict and keeps the first", B, OnDisk,
                   InMemory) {
  B s;
  Must(s->BeginRecovery(SampleRecovery("r-1", "orders", 1'000)));
  RecoveryRecord dup = SampleRecovery("r-1", "billing", 9'000);
  auto r = s->BeginRecovery(dup);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().kind == ErrorKind::kConflict);
  CHECK(Contains(r.error().message, "'r-1'"));
  CHECK(Contains(r.error().message, "sqlite " + s.path + ": "));
  const auto all = Must(s->Recoveries("", 0));
  REQUIRE(all.size() == 1);
  CHECK(all[0].job == "orders");
}

TEST_CASE_TEMPLATE("progress is saved while a recovery runs and refused once it ended", B, OnDisk,
                   InMemory) {
  B s;
  Must(s->BeginRecovery(SampleRecovery("r-1", "orders", 1'000)));

  Must(s->SaveProgress("r-1", "step 2: submitted " + kAwkward, 18));
  auto rec = Must(s->UnfinishedRecoveries());
  REQUIRE(rec.size() == 1);
  CHECK(rec[0].progress == "step 2: submitted " + kAwkward);
  CHECK(rec[0].fencing_token == 18);
  // No token given: the stored one stays.
  Must(s->SaveProgress("r-1", "step 3", std::nullopt));
  rec = Must(s->UnfinishedRecoveries());
  CHECK(rec[0].progress == "step 3");
  CHECK(rec[0].fencing_token == 18);

  // Where it restores from can change while it runs (a newer checkpoint, the stop's savepoint).
  Must(s->SetRestore("r-1", Strategy::kSavepoint, "s3://sp/savepoint-1"));
  rec = Must(s->UnfinishedRecoveries());
  CHECK(rec[0].strategy == Strategy::kSavepoint);
  CHECK(rec[0].restore_path == "s3://sp/savepoint-1");
  auto missing_restore = s->SetRestore("r-404", Strategy::kFresh, "");
  REQUIRE_FALSE(missing_restore.has_value());
  CHECK(missing_restore.error().kind == ErrorKind::kNotFound);

  auto missing = s->SaveProgress("r-404", "x", std::nullopt);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().kind == ErrorKind::kNotFound);
  auto missing_end = s->EndRecovery("r-404", RecoveryAttempt::Outcome::kSucceeded, 2, "");
  REQUIRE_FALSE(missing_end.has_value());
  CHECK(missing_end.error().kind == ErrorKind::kNotFound);

  // kInProgress is not an end.
  auto not_an_end = s->EndRecovery("r-1", RecoveryAttempt::Outcome::kInProgress, 2'000, "");
  REQUIRE_FALSE(not_an_end.has_value());
  CHECK(not_an_end.error().kind == ErrorKind::kInvalid);

  Must(s->EndRecovery("r-1", RecoveryAttempt::Outcome::kSucceeded, 2'000, ""));
  CHECK(Must(s->UnfinishedRecoveries()).empty());

  auto late_progress = s->SaveProgress("r-1", "step 4", 19);
  REQUIRE_FALSE(late_progress.has_value());
  CHECK(late_progress.error().kind == ErrorKind::kConflict);
  CHECK(Contains(late_progress.error().message, "already ended"));
  auto late_restore = s->SetRestore("r-1", Strategy::kCheckpoint, "x");
  REQUIRE_FALSE(late_restore.has_value());
  CHECK(late_restore.error().kind == ErrorKind::kConflict);
  auto second_end = s->EndRecovery("r-1", RecoveryAttempt::Outcome::kFailed, 3'000, "boom");
  REQUIRE_FALSE(second_end.has_value());
  CHECK(second_end.error().kind == ErrorKind::kConflict);

  const auto after = Must(s->Recoveries("orders", 0));
  REQUIRE(after.size() == 1);
  CHECK(after[0].progress == "step 3");
  CHECK(after[0].fencing_token == 18);
  CHECK(after[0].outcome == RecoveryAttempt::Outcome::kSucceeded);
  CHECK(after[0].ended_ms == 2'000);
  CHECK(after[0].error.empty());
}

TEST_CASE_TEMPLATE("did-not-stick applies to ended recoveries only", B, OnDisk, InMemory) {
  B s;
  Must(s->BeginRecovery(SampleRecovery("r-1", "orders", 1'000)));
  auto running = s->MarkDidNotStick("r-1");
  REQUIRE_FALSE(running.has_value());
  CHECK(running.error().kind == ErrorKind::kConflict);
  CHECK(Contains(running.error().message, "has not ended"));
  auto missing = s->MarkDidNotStick("r-2");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().kind == ErrorKind::kNotFound);

  Must(s->EndRecovery("r-1", RecoveryAttempt::Outcome::kSucceeded, 2'000, ""));
  Must(s->MarkDidNotStick("r-1"));
  const auto rec = Must(s->Recoveries("orders", 0));
  CHECK(rec[0].outcome == RecoveryAttempt::Outcome::kDidNotStick);
  CHECK(rec[0].ended_ms == 2'000);
}

TEST_CASE_TEMPLATE("steps are recorded in order and replaced by (recovery, seq)", B, OnDisk,
                   InMemory) {
  B s;
  Must(s->BeginRecovery(SampleRecovery("r-1", "orders", 1'000)));
  Must(s->BeginRecovery(SampleRecovery("r-2", "orders", 1'100)));
  StepRecord submit{.recovery_id = "r-1",
                    .seq = 1,
                    .kind = "submit",
                    .started_ms = 1'200,
                    .ended_ms = std::nullopt,
                    .status = "started",
                    .detail = "POST /jars/x/run: " + kAwkward,
                    .fencing_token = std::nullopt};
  StepRecord cancel{.recovery_id = "r-1",
                    .seq = 0,
                    .kind = "cancel",
                    .started_ms = 1'000,
                    .ended_ms = 1'100,
                    .status = "done",
                    .detail = "PATCH /jobs/ab12?mode=cancel: 202",
                    .fencing_token = 17};
  Must(s->RecordStep(submit));
  Must(s->RecordStep(cancel));
  Must(s->RecordStep({.recovery_id = "r-2", .seq = 0, .kind = "verify", .status = "skipped"}));

  auto steps = Must(s->Steps("r-1"));
  REQUIRE(steps.size() == 2);
  CHECK(steps[0].seq == 0);
  CHECK(steps[0].kind == "cancel");
  CHECK(steps[0].ended_ms == 1'100);
  CHECK(steps[0].fencing_token == 17);
  CHECK(steps[0].detail == cancel.detail);
  CHECK(steps[1].seq == 1);
  CHECK(steps[1].detail == submit.detail);
  CHECK_FALSE(steps[1].ended_ms.has_value());
  CHECK_FALSE(steps[1].fencing_token.has_value());

  submit.ended_ms = 1'400;
  submit.status = "failed";
  submit.fencing_token = 18;
  Must(s->RecordStep(submit));
  steps = Must(s->Steps("r-1"));
  REQUIRE(steps.size() == 2);
  CHECK(steps[1].status == "failed");
  CHECK(steps[1].ended_ms == 1'400);
  CHECK(steps[1].fencing_token == 18);
  CHECK(Must(s->Steps("r-2")).size() == 1);
  CHECK(Must(s->Steps("r-404")).empty());

  auto orphan = s->RecordStep({.recovery_id = "r-404", .seq = 0, .kind = "cancel"});
  REQUIRE_FALSE(orphan.has_value());
  CHECK(orphan.error().kind == ErrorKind::kNotFound);
}

TEST_CASE_TEMPLATE("unfinished recoveries include dry runs; attempts exclude them", B, OnDisk,
                   InMemory) {
  B s;
  RecoveryRecord old_done = SampleRecovery("r-old", "orders", 500);
  RecoveryRecord running = SampleRecovery("r-run", "orders", 3'000);
  running.cooldown_ms = std::nullopt;
  running.strategy = Strategy::kCheckpoint;
  RecoveryRecord dry = SampleRecovery("r-dry", "billing", 2'000);
  dry.dry_run = true;
  RecoveryRecord done = SampleRecovery("r-done", "billing", 1'000);
  Must(s->BeginRecovery(running));
  Must(s->BeginRecovery(dry));
  Must(s->BeginRecovery(done));
  Must(s->BeginRecovery(old_done));
  Must(s->EndRecovery("r-done", RecoveryAttempt::Outcome::kFailed, 1'800, "no"));
  Must(s->EndRecovery("r-old", RecoveryAttempt::Outcome::kSucceeded, 600, ""));

  const auto unfinished = Must(s->UnfinishedRecoveries());
  REQUIRE(unfinished.size() == 2);
  CHECK(unfinished[0].id == "r-dry");  // oldest first
  CHECK(unfinished[0].dry_run);
  CHECK(unfinished[1].id == "r-run");

  const auto attempts = Must(s->Attempts(1'000));
  REQUIRE(attempts.size() == 2);
  CHECK(attempts[0].id == "r-done");
  CHECK(attempts[0].job == "billing");
  CHECK(attempts[0].started_ms == 1'000);
  CHECK(attempts[0].ended_ms == 1'800);
  CHECK(attempts[0].strategy == Strategy::kSavepoint);
  CHECK(attempts[0].restore_path == done.restore_path);
  CHECK(attempts[0].outcome == RecoveryAttempt::Outcome::kFailed);
  CHECK(attempts[0].cooldown_ms == 90'000);
  CHECK(attempts[1].id == "r-run");
  CHECK_FALSE(attempts[1].ended_ms.has_value());
  CHECK(attempts[1].strategy == Strategy::kCheckpoint);
  CHECK(attempts[1].outcome == RecoveryAttempt::Outcome::kInProgress);
  CHECK_FALSE(attempts[1].cooldown_ms.has_value());
  CHECK(Must(s->Attempts(0)).size() == 3);
}

TEST_CASE("unfinished recoveries and their steps survive closing and reopening the file") {
  OnDisk s;
  Must(s->BeginRecovery(SampleRecovery("r-1", "orders", 1'000)));
  Must(s->RecordStep({.recovery_id = "r-1", .seq = 0, .kind = "cancel", .status = "done"}));
  Must(s->SaveProgress("r-1", "cancelled; next submit", 21));
  Must(s->BeginRecovery(SampleRecovery("r-2", "billing", 1'100)));
  Must(s->EndRecovery("r-2", RecoveryAttempt::Outcome::kSucceeded, 1'200, ""));
  Must(s->UpsertRestorePoint(SamplePoint("orders", "s3://cp/1", 900), RestorePointOrigin::kObserved,
                             950));
  s.Close();

  s.Open();
  const auto unfinished = Must(s->UnfinishedRecoveries());
  REQUIRE(unfinished.size() == 1);
  CHECK(unfinished[0].id == "r-1");
  CHECK(unfinished[0].progress == "cancelled; next submit");
  CHECK(unfinished[0].fencing_token == 21);
  CHECK(Must(s->Steps("r-1")).size() == 1);
  CHECK(Must(s->Recoveries("", 0)).size() == 2);
  CHECK(Must(s->RestorePoints("orders")).size() == 1);
  // The resumed recovery can be finished.
  Must(s->EndRecovery("r-1", RecoveryAttempt::Outcome::kSucceeded, 5'000, ""));
  CHECK(Must(s->UnfinishedRecoveries()).empty());
}

TEST_CASE("a process killed inside a transaction leaves only what was committed") {
  OnDisk s;
  Must(s->BeginRecovery(SampleRecovery("r-committed", "orders", 1'000)));
  s.Close();
  std::fflush(nullptr);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child opens the file, journals a step and dies halfway through the next cycle's
    // transaction, without closing anything (as SIGKILL would leave it).
    auto store = SqliteHistoryStore::Open(s.path);
    if (!store) ::_exit(2);
    if (!(*store)->RecordStep({.recovery_id = "r-committed", .seq = 0, .kind = "cancel"})) {
      ::_exit(3);
    }
    (void)(*store)->InTransaction([&]() -> Result<void> {
      (void)(*store)->BeginRecovery(SampleRecovery("r-uncommitted", "billing", 2'000));
      (void)(*store)->SaveProgress("r-committed", "never saved", 99);
      ::_exit(0);
    });
    ::_exit(4);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  s.Open();
  const auto unfinished = Must(s->UnfinishedRecoveries());
  REQUIRE(unfinished.size() == 1);
  CHECK(unfinished[0].id == "r-committed");
  CHECK(unfinished[0].progress == "step 0");
  CHECK(Must(s->Steps("r-committed")).size() == 1);
}

// --- Transactions ----------------------------------------------------------------------------

TEST_CASE_TEMPLATE("a transaction commits every write of its body together", B, OnDisk, InMemory) {
  B s;
  Must(s->InTransaction([&]() -> Result<void> {
    if (auto r = s->BeginRecovery(SampleRecovery("r-1", "orders", 1'000)); !r) return r;
    if (auto r = s->RecordStep({.recovery_id = "r-1", .seq = 0, .kind = "cancel"}); !r) return r;
    return s->UpsertRestorePoint(SamplePoint("orders", "s3://cp/1", 900),
                                 RestorePointOrigin::kObserved, 950);
  }));
  CHECK(Must(s->Recoveries("", 0)).size() == 1);
  CHECK(Must(s->Steps("r-1")).size() == 1);
  CHECK(Must(s->RestorePoints("")).size() == 1);
  if constexpr (B::kOnDisk) {
    RawDb raw(s.path);  // visible to another connection: committed, not just cached
    CHECK(raw.Count("recoveries") == 1);
  }
}

TEST_CASE_TEMPLATE("a failing body rolls back everything it wrote and returns its error", B, OnDisk,
                   InMemory) {
  B s;
  Must(s->BeginRecovery(SampleRecovery("r-0", "orders", 500)));
  auto r = s->InTransaction([&]() -> Result<void> {
    if (auto w = s->BeginRecovery(SampleRecovery("r-1", "orders", 1'000)); !w) return w;
    if (auto w = s->UpsertRestorePoint(SamplePoint("orders", "s3://cp/1", 900),
                                       RestorePointOrigin::kObserved, 950);
        !w) {
      return w;
    }
    if (auto w = s->SaveProgress("r-0", "changed", 5); !w) return w;
    return Fail(Error::Transient("flink said 503"));
  });
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().kind == ErrorKind::kTransient);
  CHECK(r.error().message == "flink said 503");
  CHECK(Must(s->Recoveries("", 0)).size() == 1);
  CHECK(Must(s->RestorePoints("")).empty());
  CHECK(Must(s->UnfinishedRecoveries())[0].progress == "step 0");

  // A store error inside the body (a duplicate id) rolls back the writes before it too.
  auto dup = s->InTransaction([&]() -> Result<void> {
    if (auto w = s->BeginRecovery(SampleRecovery("r-2", "orders", 2'000)); !w) return w;
    return s->BeginRecovery(SampleRecovery("r-0", "orders", 2'000));
  });
  REQUIRE_FALSE(dup.has_value());
  CHECK(dup.error().kind == ErrorKind::kConflict);
  CHECK(Must(s->Recoveries("", 0)).size() == 1);

  // The store is usable afterwards, in and out of transactions.
  Must(
      s->InTransaction([&]() { return s->BeginRecovery(SampleRecovery("r-3", "orders", 3'000)); }));
  Must(s->BeginRecovery(SampleRecovery("r-4", "orders", 4'000)));
  CHECK(Must(s->Recoveries("", 0)).size() == 3);
}

TEST_CASE_TEMPLATE("transactions do not nest", B, OnDisk, InMemory) {
  B s;
  Result<void> inner;
  auto outer = s->InTransaction([&]() -> Result<void> {
    if (auto w = s->BeginRecovery(SampleRecovery("r-1", "orders", 1'000)); !w) return w;
    inner = s->InTransaction([&]() -> Result<void> { return {}; });
    return {};
  });
  Must(std::move(outer));
  REQUIRE_FALSE(inner.has_value());
  CHECK(inner.error().kind == ErrorKind::kInvalid);
  CHECK(Must(s->Recoveries("", 0)).size() == 1);
}

// --- Files that are not ours, newer than us, or cannot be written ---------------------------

TEST_CASE("a fresh file is migrated to the current schema version; reopening does not migrate") {
  OnDisk s;
  s.Close();
  {
    auto db = SqliteDb::Open(s.path, 99);
    REQUIRE(db.has_value());
    CHECK(*(*db)->SchemaVersion() == SqliteHistoryStore::kSchemaVersion);
  }
  s.Open();
  s.Open();
  RawDb raw(s.path);
  CHECK(raw.Scalar("PRAGMA journal_mode") == "wal");
  for (const char* table : {"restore_points", "recoveries", "recovery_steps", "rule_transitions",
                            "refusals", "savepoints", "observations", "outbox"}) {
    CAPTURE(table);
    CHECK(raw.Count(table) == 0);
  }
}

TEST_CASE("a migration that fails is rolled back whole and the file stays at its version") {
  testing::TempDir dir("fg-history");
  const std::string path = dir.File("history.db");
  {
    // A database of something else that happens to have a table called outbox.
    auto db = SqliteDb::Open(path, 0);
    REQUIRE(db.has_value());
    REQUIRE((*db)->Exec("CREATE TABLE outbox (x); INSERT INTO outbox VALUES (1);"));
  }
  auto store = SqliteHistoryStore::Open(path);
  REQUIRE_FALSE(store.has_value());
  CHECK(store.error().kind == ErrorKind::kPermanent);
  CHECK(Contains(store.error().message, "migrating to schema version 1"));
  CHECK(Contains(store.error().message, "outbox"));
  RawDb raw(path);
  CHECK(raw.Scalar("PRAGMA user_version") == "0");
  CHECK(raw.Scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'recoveries'") == "0");
  CHECK(raw.Count("outbox") == 1);
}

TEST_CASE("a file of garbage is refused with kInvalid and left byte for byte as it was") {
  testing::TempDir dir("fg-history");
  const std::string path = dir.File("history.db");
  std::string garbage;
  for (int i = 0; i < 8192; ++i) garbage.push_back(static_cast<char>((i * 131 + 7) % 256));
  {
    std::ofstream out(path, std::ios::binary);
    out << garbage;
  }
  auto store = SqliteHistoryStore::Open(path);
  REQUIRE_FALSE(store.has_value());
  CHECK(store.error().kind == ErrorKind::kInvalid);
  CHECK(Contains(store.error().message, path));
  CHECK(ReadBytes(path) == garbage);
  CHECK_FALSE(fs::exists(path + "-wal"));
}

TEST_CASE("a file with a newer schema version is refused and left unchanged") {
  OnDisk s;
  Must(s->BeginRecovery(SampleRecovery("r-1", "orders", 1'000)));
  s.Close();
  {
    auto db = SqliteDb::Open(s.path, 2);
    REQUIRE(db.has_value());
    REQUIRE((*db)->Exec("PRAGMA user_version = 99; PRAGMA wal_checkpoint(TRUNCATE);"));
  }
  const std::string before = ReadBytes(s.path);
  auto newer = SqliteHistoryStore::Open(s.path);
  REQUIRE_FALSE(newer.has_value());
  CHECK(newer.error().kind == ErrorKind::kInvalid);
  CHECK(Contains(newer.error().message, "schema version 99 is newer"));
  CHECK(ReadBytes(s.path) == before);
  RawDb raw(s.path);
  CHECK(raw.Scalar("PRAGMA user_version") == "99");
  CHECK(raw.Count("recoveries") == 1);
}

TEST_CASE("a row that cannot be decoded is kInvalid naming table, row and column") {
  OnDisk s;
  Must(s->BeginRecovery(SampleRecovery("r-1", "orders", 1'000)));
  Must(s->UpsertRestorePoint(SamplePoint("orders", "s3://cp/1", 900), RestorePointOrigin::kObserved,
                             950));
  {
    RawDb raw(s.path);
    raw.Exec("UPDATE recoveries SET strategy = 'teleport'");
    raw.Exec("UPDATE restore_points SET trigger_ms = 'yesterday'");
  }
  auto rec = s->Recoveries("", 0);
  REQUIRE_FALSE(rec.has_value());
  CHECK(rec.error().kind == ErrorKind::kInvalid);
  CHECK(Contains(rec.error().message, "recoveries"));
  CHECK(Contains(rec.error().message, "r-1"));
  CHECK(Contains(rec.error().message, "strategy"));
  CHECK(Contains(rec.error().message, "teleport"));
  auto attempts = s->Attempts(0);
  REQUIRE_FALSE(attempts.has_value());
  CHECK(attempts.error().kind == ErrorKind::kInvalid);

  auto points = s->RestorePoints("orders");
  REQUIRE_FALSE(points.has_value());
  CHECK(points.error().kind == ErrorKind::kInvalid);
  CHECK(Contains(points.error().message, "restore_points row 1"));
  CHECK(Contains(points.error().message, "trigger_ms"));
  // The store stays usable.
  Must(s->BeginRecovery(SampleRecovery("r-2", "orders", 2'000)));
}

TEST_CASE("another writer holding the lock makes a write kTransient after the busy timeout") {
  OnDisk s;
  Must(s->BeginRecovery(SampleRecovery("r-1", "orders", 1'000)));
  RawDb other(s.path);
  other.Exec("BEGIN IMMEDIATE; UPDATE recoveries SET rules = 'x';");
  auto r = s->BeginRecovery(SampleRecovery("r-2", "orders", 2'000));  // waits 5 s, then gives up
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().kind == ErrorKind::kTransient);
  CHECK(Contains(r.error().message, "sqlite " + s.path + ": begin recovery 'r-2': "));
  CHECK(Contains(r.error().message, "locked"));
  // Readers are not blocked by a writer (WAL).
  CHECK(Must(s->Recoveries("", 0)).size() == 1);
  auto tx = s->InTransaction([]() -> Result<void> { return {}; });
  REQUIRE_FALSE(tx.has_value());
  CHECK(tx.error().kind == ErrorKind::kTransient);
  other.Exec("ROLLBACK");
  Must(s->BeginRecovery(SampleRecovery("r-2", "orders", 2'000)));
}

TEST_CASE("a file that cannot grow fails writes with a clear kPermanent error; reads still work") {
  // Root ignores file permissions, so a read-only file cannot be provoked portably; the file-size
  // limit stops root's writes too and fails them the way a full disk does (write(2) errors).
  OnDisk s;
  Must(s->BeginRecovery(SampleRecovery("r-1", "orders", 1'000)));
  const auto wal_size = fs::file_size(s.path + "-wal");

  struct rlimit saved {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
  void (*old_handler)(int) = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit limited = saved;
  limited.rlim_cur = static_cast<rlim_t>(wal_size + 4096);
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);

  RecoveryRecord big = SampleRecovery("r-big", "orders", 2'000);
  big.plan.assign(512 * 1024, 'p');
  auto r = s->BeginRecovery(big);
  auto tx = s->InTransaction([&]() {
    RecoveryRecord also_big = big;
    also_big.id = "r-big-2";
    return s->BeginRecovery(also_big);
  });

  REQUIRE(::setrlimit(RLIMIT_FSIZE, &saved) == 0);
  std::signal(SIGXFSZ, old_handler);

  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().kind == ErrorKind::kPermanent);
  CHECK(Contains(r.error().message, "sqlite " + s.path + ": begin recovery 'r-big': "));
  MESSAGE("write past the file-size limit: " << r.error().message);
  REQUIRE_FALSE(tx.has_value());
  CHECK(tx.error().kind == ErrorKind::kPermanent);

  const auto all = Must(s->Recoveries("", 0));
  REQUIRE(all.size() == 1);
  CHECK(all[0].id == "r-1");
  // Once the file can grow again, writing works again.
  Must(s->BeginRecovery(big));
}

TEST_CASE("a read-only file fails writes with kPermanent (skipped as root)") {
  if (::geteuid() == 0) {
    MESSAGE("running as root: file permissions do not stop writes; see the file-size test");
    return;
  }
  OnDisk s;
  Must(s->BeginRecovery(SampleRecovery("r-1", "orders", 1'000)));
  s.Close();
  fs::permissions(s.path, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  auto reopened = SqliteHistoryStore::Open(s.path);
  if (reopened) {
    auto r = (*reopened)->BeginRecovery(SampleRecovery("r-2", "orders", 2'000));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == ErrorKind::kPermanent);
    CHECK(Contains(r.error().message, "readonly"));
    CHECK(Must((*reopened)->Recoveries("", 0)).size() == 1);
  } else {
    CHECK(reopened.error().kind == ErrorKind::kPermanent);
    CHECK(Contains(reopened.error().message, s.path));
  }
  fs::permissions(s.path, fs::perms::owner_all);
}

namespace flinkguard::history_test {
namespace {

TEST_CASE("placements: set, replace, read back after a reopen; ForgetRestorePoint") {
  OnDisk s;
  CHECK(Must(s->Placements()).empty());
  Must(s->SetPlacement(Placement{"orders", "yarn-b", 1'000, "cluster yarn-a is down"}));
  Must(s->SetPlacement(Placement{"clicks", "yarn-c", 2'000, kAwkward}));
  Must(s->SetPlacement(Placement{"orders", "yarn-a", 3'000, "moved back by hand"}));
  s.Close();
  s.Open();
  const std::vector<Placement> all = Must(s->Placements());
  REQUIRE(all.size() == 2);
  CHECK(all[0].job == "clicks");
  CHECK(all[0].reason == kAwkward);
  CHECK(all[1].job == "orders");
  CHECK(all[1].cluster == "yarn-a");
  CHECK(all[1].since_ms == 3'000);

  Must(s->UpsertRestorePoint(SamplePoint("orders", "s3://b/sp-1", 10), RestorePointOrigin::kTaken,
                             10));
  Must(s->UpsertRestorePoint(SamplePoint("orders", "s3://b/sp-2", 20), RestorePointOrigin::kTaken,
                             20));
  Must(s->ForgetRestorePoint("orders", "s3://b/sp-1"));
  Must(s->ForgetRestorePoint("orders", "s3://b/not-there"));  // no row: still fine
  const auto points = Must(s->RestorePoints("orders"));
  REQUIRE(points.size() == 1);
  CHECK(points[0].point.path == "s3://b/sp-2");
}

TEST_CASE("a version 1 file is migrated to version 2 and keeps its rows") {
  OnDisk s;
  Must(s->BeginRecovery(SampleRecovery("r-1", "orders", 1'000)));
  s.Close();
  {
    RawDb raw(s.path);
    raw.Exec("DROP TABLE placements; PRAGMA user_version = 1;");
  }
  s.Open();
  CHECK(Must(s->Recoveries("", 0)).size() == 1);
  Must(s->SetPlacement(Placement{"orders", "yarn-b", 1'000, "failover"}));
  CHECK(Must(s->Placements()).size() == 1);
  RawDb raw(s.path);
  CHECK(raw.Scalar("PRAGMA user_version") == "2");
}

}  // namespace
}  // namespace flinkguard::history_test
