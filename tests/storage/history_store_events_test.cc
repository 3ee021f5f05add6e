// SqliteHistoryStore: rule transitions, refusals, savepoints, observations, the notification
// outbox, and retention.

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "storage/history_store.h"
#include "tests/storage/history_test_util.h"

using namespace flinkguard;
using namespace flinkguard::history_test;

namespace {

RuleTransition SampleTransition(std::string job, std::int64_t at_ms) {
  RuleTransition t;
  t.rule = "too-many-restarts";
  t.job = std::move(job);
  t.cluster = "yarn-a";
  t.job_id = "ab12";
  t.from = RuleState::kPending;
  t.to = RuleState::kFiring;
  t.at_ms = at_ms;
  t.severity = Severity::kCritical;
  t.action = Action::kRecover;
  t.reason = "increase(restarts, 10m) = 7 > 5";
  t.labels = {{"team", "payments"}, {"quote\"key", kAwkward}};
  t.annotations = {{"summary", "it's restarting\n" + kAwkward}, {"", ""}};
  return t;
}

OutboxEntry SampleEntry(std::string receiver, std::string key, std::int64_t created_ms) {
  OutboxEntry e;
  e.receiver = std::move(receiver);
  e.idempotency_key = std::move(key);
  e.payload = R"({"text":")" + kAwkward + "\"}";
  e.created_ms = created_ms;
  e.next_attempt_ms = created_ms;
  return e;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

// --- Events ----------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("rule transitions round-trip every field, labels included", B, OnDisk,
                   InMemory) {
  B s;
  const RuleTransition a = SampleTransition("orders", 1'000);
  RuleTransition b = SampleTransition("billing", 2'000);
  b.from = RuleState::kFiring;
  b.to = RuleState::kInactive;
  b.severity = Severity::kInfo;
  b.action = Action::kNone;
  b.labels.clear();
  b.annotations.clear();
  RuleTransition c = SampleTransition("orders", 3'000);
  c.from = RuleState::kInactive;
  c.to = RuleState::kUnknown;
  c.severity = Severity::kWarning;
  c.action = Action::kFailover;
  c.labels = {{"nul", std::string("a\0b", 3)}};
  Must(s->RecordTransition(c));
  Must(s->RecordTransition(a));
  Must(s->RecordTransition(b));

  const auto all = Must(s->Transitions("", 0));
  REQUIRE(all.size() == 3);
  const RuleTransition* expected[] = {&a, &b, &c};
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    const RuleTransition& got = all[i];
    const RuleTransition& want = *expected[i];
    CHECK(got.rule == want.rule);
    CHECK(got.job == want.job);
    CHECK(got.cluster == want.cluster);
    CHECK(got.job_id == want.job_id);
    CHECK(got.from == want.from);
    CHECK(got.to == want.to);
    CHECK(got.at_ms == want.at_ms);
    CHECK(got.severity == want.severity);
    CHECK(got.action == want.action);
    CHECK(got.reason == want.reason);
    CHECK(got.labels == want.labels);
    CHECK(got.annotations == want.annotations);
  }
  const auto orders = Must(s->Transitions("orders", 1'001));
  REQUIRE(orders.size() == 1);
  CHECK(orders[0].at_ms == 3'000);
  CHECK(Must(s->Transitions("orders", 0)).size() == 2);
  CHECK(Must(s->Transitions("nobody", 0)).empty());
}

TEST_CASE_TEMPLATE("refusals round-trip every cause", B, OnDisk, InMemory) {
  B s;
  const RefusalCause causes[] = {RefusalCause::kNotInCatalog,   RefusalCause::kInProgress,
                                 RefusalCause::kUntrusted,      RefusalCause::kGaveUp,
                                 RefusalCause::kCooldown,       RefusalCause::kDuplicate,
                                 RefusalCause::kNoRestorePoint, RefusalCause::kBlastRadius};
  std::int64_t at = 100;
  for (RefusalCause cause : causes) {
    RefusalRecord r;
    r.at_ms = at;
    r.refusal = {.job = at % 200 == 0 ? "orders" : "billing",
                 .reason = std::string(RefusalCauseName(cause)) + ": " + kAwkward,
                 .page = cause == RefusalCause::kGaveUp,
                 .cause = cause};
    Must(s->RecordRefusal(r));
    at += 100;
  }
  const auto all = Must(s->Refusals("", 0));
  REQUIRE(all.size() == std::size(causes));
  for (std::size_t i = 0; i < all.size(); ++i) {
    CAPTURE(i);
    CHECK(all[i].at_ms == static_cast<std::int64_t>(100 * (i + 1)));
    CHECK(all[i].refusal.cause == causes[i]);
    CHECK(all[i].refusal.reason == std::string(RefusalCauseName(causes[i])) + ": " + kAwkward);
    CHECK(all[i].refusal.page == (causes[i] == RefusalCause::kGaveUp));
  }
  const auto orders = Must(s->Refusals("orders", 300));
  REQUIRE(orders.size() == 3);  // 400, 600, 800
  CHECK(orders[0].at_ms == 400);
  CHECK(orders[0].refusal.job == "orders");
}

TEST_CASE_TEMPLATE("savepoints are inserted with a new id and updated by id", B, OnDisk, InMemory) {
  B s;
  SavepointRecord sp;
  sp.id = 0;
  sp.job = "orders";
  sp.cluster = "yarn-a";
  sp.job_id = "ab12";
  sp.trigger_id = "trig-" + kAwkward;
  sp.origin = "periodic";
  sp.requested_ms = 1'000;
  sp.status = "pending";
  const std::int64_t id1 = Must(s->RecordSavepoint(sp));
  SavepointRecord other = sp;
  other.job = "billing";
  other.requested_ms = 2'000;
  const std::int64_t id2 = Must(s->RecordSavepoint(other));
  CHECK(id1 > 0);
  CHECK(id2 > id1);

  auto pending = Must(s->Savepoints("orders", 0));
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].id == id1);
  CHECK(pending[0].trigger_id == sp.trigger_id);
  CHECK_FALSE(pending[0].completed_ms.has_value());
  CHECK(pending[0].path.empty());

  sp.id = id1;
  sp.completed_ms = 1'700;
  sp.status = "completed";
  sp.path = "s3://sp/orders/savepoint-" + kAwkward;
  sp.error = "";
  CHECK(Must(s->RecordSavepoint(sp)) == id1);
  const auto done = Must(s->Savepoints("orders", 0));
  REQUIRE(done.size() == 1);
  CHECK(done[0].id == id1);
  CHECK(done[0].job == "orders");
  CHECK(done[0].cluster == "yarn-a");
  CHECK(done[0].job_id == "ab12");
  CHECK(done[0].origin == "periodic");
  CHECK(done[0].requested_ms == 1'000);
  CHECK(done[0].completed_ms == 1'700);
  CHECK(done[0].status == "completed");
  CHECK(done[0].path == sp.path);
  CHECK(done[0].error.empty());

  const auto all = Must(s->Savepoints("", 0));
  REQUIRE(all.size() == 2);
  CHECK(all[0].id == id1);
  CHECK(all[1].id == id2);
  CHECK(Must(s->Savepoints("", 1'500)).size() == 1);

  SavepointRecord ghost = sp;
  ghost.id = id2 + 100;
  auto missing = s->RecordSavepoint(ghost);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().kind == ErrorKind::kNotFound);
}

TEST_CASE_TEMPLATE("observations round-trip and filter by job and time", B, OnDisk, InMemory) {
  B s;
  for (int i = 0; i < 6; ++i) {
    Must(s->RecordObservation({.at_ms = 1'000 * i,
                               .cluster = "yarn-a",
                               .job = i % 2 ? "orders" : "billing-ü",
                               .job_id = "id" + std::to_string(i),
                               .status = "RUNNING",
                               .summary_json = R"({"restarts":)" + std::to_string(i) + "}"}));
  }
  const auto orders = Must(s->Observations("orders", 2'000));
  REQUIRE(orders.size() == 2);
  CHECK(orders[0].at_ms == 3'000);
  CHECK(orders[0].cluster == "yarn-a");
  CHECK(orders[0].job == "orders");
  CHECK(orders[0].job_id == "id3");
  CHECK(orders[0].status == "RUNNING");
  CHECK(orders[0].summary_json == R"({"restarts":3})");
  CHECK(orders[1].at_ms == 5'000);
  CHECK(Must(s->Observations("billing-ü", 0)).size() == 3);
  CHECK(Must(s->Observations("", 0)).size() == 6);
}

TEST_CASE("labels that are not a JSON object of strings are kInvalid naming the column") {
  OnDisk s;
  Must(s->RecordTransition(SampleTransition("orders", 1'000)));
  Must(s->RecordRefusal({.at_ms = 1, .refusal = {.job = "orders"}}));
  {
    RawDb raw(s.path);
    raw.Exec("UPDATE rule_transitions SET annotations = '{\"a\": 1}'");
    raw.Exec("UPDATE refusals SET cause = 'because'");
  }
  auto t = s->Transitions("orders", 0);
  REQUIRE_FALSE(t.has_value());
  CHECK(t.error().kind == ErrorKind::kInvalid);
  CHECK(Contains(t.error().message, "rule_transitions row 1"));
  CHECK(Contains(t.error().message, "annotations"));
  auto r = s->Refusals("", 0);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().kind == ErrorKind::kInvalid);
  CHECK(Contains(r.error().message, "refusals row 1: column cause: unknown value 'because'"));
}

// --- Outbox ----------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("an entry is enqueued once per receiver and idempotency key", B, OnDisk,
                   InMemory) {
  B s;
  OutboxEntry e = SampleEntry("slack", "orders/restarts/firing/1000", 1'000);
  CHECK(Must(s->Enqueue(e)));
  OutboxEntry again = e;
  again.payload = "a different payload";
  again.created_ms = 2'000;
  CHECK_FALSE(Must(s->Enqueue(again)));
  CHECK(Must(s->Enqueue(SampleEntry("pagerduty", e.idempotency_key, 1'500))));

  const auto due = Must(s->Due(10'000, 10));
  REQUIRE(due.size() == 2);
  CHECK(due[0].receiver == "slack");
  CHECK(due[0].payload == e.payload);
  CHECK(due[0].created_ms == 1'000);
  CHECK(due[0].next_attempt_ms == 1'000);
  CHECK(due[0].attempts == 0);
  CHECK(due[0].state == "pending");
  CHECK(due[0].last_error.empty());
  CHECK_FALSE(due[0].delivered_ms.has_value());
  CHECK(due[0].id > 0);
  CHECK(due[1].receiver == "pagerduty");
  CHECK(due[1].id != due[0].id);
}

TEST_CASE_TEMPLATE("due entries: pending, next attempt reached, oldest first, at most limit", B,
                   OnDisk, InMemory) {
  B s;
  // Created out of order; one not due until 9'000.
  CHECK(Must(s->Enqueue(SampleEntry("slack", "c", 3'000))));
  CHECK(Must(s->Enqueue(SampleEntry("slack", "a", 1'000))));
  OutboxEntry later = SampleEntry("slack", "later", 500);
  later.next_attempt_ms = 9'000;
  CHECK(Must(s->Enqueue(later)));
  CHECK(Must(s->Enqueue(SampleEntry("slack", "b", 2'000))));

  auto due = Must(s->Due(5'000, 10));
  REQUIRE(due.size() == 3);
  CHECK(due[0].idempotency_key == "a");
  CHECK(due[1].idempotency_key == "b");
  CHECK(due[2].idempotency_key == "c");
  due = Must(s->Due(5'000, 2));
  REQUIRE(due.size() == 2);
  CHECK(due[1].idempotency_key == "b");
  CHECK(Must(s->Due(5'000, 0)).empty());
  CHECK(Must(s->Due(999, 10)).empty());
  due = Must(s->Due(9'000, 10));
  REQUIRE(due.size() == 4);
  CHECK(due[0].idempotency_key == "later");

  const auto depth = Must(s->PendingDepth());
  CHECK(depth.pending == 4);
  CHECK(depth.oldest_created_ms == 500);
}

TEST_CASE_TEMPLATE("retry, dead and delivered move an entry through its states", B, OnDisk,
                   InMemory) {
  B s;
  REQUIRE(Must(s->Enqueue(SampleEntry("slack", "k1", 1'000))));
  REQUIRE(Must(s->Enqueue(SampleEntry("slack", "k2", 1'100))));
  REQUIRE(Must(s->Enqueue(SampleEntry("slack", "k3", 1'200))));
  auto due = Must(s->Due(2'000, 10));
  REQUIRE(due.size() == 3);
  const std::int64_t k1 = due[0].id, k2 = due[1].id, k3 = due[2].id;

  Must(s->MarkRetry(k1, 5'000, "503 " + kAwkward));
  Must(s->MarkRetry(k1, 8'000, "timeout"));
  Must(s->MarkDead(k2, "400 bad request"));
  Must(s->MarkDelivered(k3, 2'100));

  CHECK(Must(s->Due(7'999, 10)).empty());
  due = Must(s->Due(8'000, 10));
  REQUIRE(due.size() == 1);
  CHECK(due[0].id == k1);
  CHECK(due[0].attempts == 2);
  CHECK(due[0].next_attempt_ms == 8'000);
  CHECK(due[0].last_error == "timeout");
  CHECK(due[0].state == "pending");

  auto depth = Must(s->PendingDepth());
  CHECK(depth.pending == 1);
  CHECK(depth.oldest_created_ms == 1'000);

  Must(s->MarkDelivered(k1, 8'100));
  CHECK(Must(s->Due(100'000, 10)).empty());
  depth = Must(s->PendingDepth());
  CHECK(depth.pending == 0);
  CHECK(depth.oldest_created_ms == 0);

  if constexpr (B::kOnDisk) {
    RawDb raw(s.path);
    CHECK(raw.Scalar("SELECT state FROM outbox WHERE id = " + std::to_string(k2)) == "dead");
    CHECK(raw.Scalar("SELECT last_error FROM outbox WHERE id = " + std::to_string(k2)) ==
          "400 bad request");
    CHECK(raw.Scalar("SELECT delivered_ms FROM outbox WHERE id = " + std::to_string(k3)) == "2100");
    CHECK(raw.Scalar("SELECT state FROM outbox WHERE id = " + std::to_string(k1)) == "delivered");
  }

  for (auto r : {s->MarkDelivered(999, 1), s->MarkRetry(999, 1, "x"), s->MarkDead(999, "x")}) {
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == ErrorKind::kNotFound);
  }
}

// --- Retention -------------------------------------------------------------------------------

namespace {

constexpr std::int64_t kDay = 24LL * 3'600'000;
constexpr std::int64_t kNow = 100 * kDay;

// Every table's row count, through the interfaces.
struct Counts {
  std::size_t points, recoveries, transitions, refusals, savepoints, observations;
};

template <typename B>
Counts CountAll(B& s) {
  return {Must(s->RestorePoints("")).size(),  Must(s->Recoveries("", 0)).size(),
          Must(s->Transitions("", 0)).size(), Must(s->Refusals("", 0)).size(),
          Must(s->Savepoints("", 0)).size(),  Must(s->Observations("", 0)).size()};
}

}  // namespace

TEST_CASE_TEMPLATE("retention deletes old rows but keeps unfinished, pending and newest points", B,
                   OnDisk, InMemory) {
  B s;
  const std::int64_t old_ms = kNow - 40 * kDay;
  const std::int64_t recent_ms = kNow - 1 * kDay;
  Must(s->InTransaction([&]() -> Result<void> {
    for (std::int64_t t : {old_ms, recent_ms}) {
      for (int i = 0; i < 3; ++i) {
        if (auto r = s->RecordTransition(SampleTransition("orders", t + i)); !r) return r;
        if (auto r = s->RecordRefusal({.at_ms = t + i, .refusal = {.job = "orders"}}); !r) {
          return r;
        }
        if (auto r = s->RecordSavepoint({.job = "orders", .requested_ms = t + i}); !r) {
          return Fail(r.error());
        }
        if (auto r = s->RecordObservation({.at_ms = t + i, .job = "orders"}); !r) return r;
      }
    }
    return {};
  }));
  // Recoveries: old ended (with steps), old unfinished (with steps), recent ended.
  Must(s->BeginRecovery(SampleRecovery("old-done", "orders", old_ms)));
  Must(s->RecordStep({.recovery_id = "old-done", .seq = 0, .kind = "cancel"}));
  Must(s->EndRecovery("old-done", RecoveryAttempt::Outcome::kSucceeded, old_ms + 10, ""));
  Must(s->BeginRecovery(SampleRecovery("old-running", "orders", old_ms + 1)));
  Must(s->RecordStep({.recovery_id = "old-running", .seq = 0, .kind = "cancel"}));
  Must(s->BeginRecovery(SampleRecovery("recent-done", "orders", recent_ms)));
  Must(s->EndRecovery("recent-done", RecoveryAttempt::Outcome::kFailed, recent_ms + 10, "x"));
  // Outbox: old delivered, old dead, old pending, recent delivered.
  REQUIRE(Must(s->Enqueue(SampleEntry("slack", "old-delivered", old_ms))));
  REQUIRE(Must(s->Enqueue(SampleEntry("slack", "old-dead", old_ms + 1))));
  REQUIRE(Must(s->Enqueue(SampleEntry("slack", "old-pending", old_ms + 2))));
  REQUIRE(Must(s->Enqueue(SampleEntry("slack", "recent-delivered", recent_ms))));
  auto due = Must(s->Due(kNow, 10));
  REQUIRE(due.size() == 4);
  Must(s->MarkDelivered(due[0].id, old_ms + 5));
  Must(s->MarkDead(due[1].id, "gone"));
  Must(s->MarkDelivered(due[3].id, recent_ms + 5));
  // Restore points: 25 old ones per (job, cluster) on two clusters, plus two failed (one old,
  // one recent) on the first. All old: they are kept by count, not by age.
  for (const char* cluster : {"yarn-a", "yarn-b"}) {
    for (int i = 0; i < 25; ++i) {
      Must(s->UpsertRestorePoint(
          SamplePoint("orders", std::string("s3://cp/") + cluster + "/" + std::to_string(i),
                      old_ms + i, cluster),
          RestorePointOrigin::kObserved, old_ms + i));
    }
  }
  KnownRestorePoint failed_old = SamplePoint("orders", "s3://cp/failed-old", old_ms + 100);
  failed_old.failed_restore = true;
  Must(s->UpsertRestorePoint(failed_old, RestorePointOrigin::kObserved, old_ms + 100));
  KnownRestorePoint failed_new = SamplePoint("orders", "s3://cp/failed-new", recent_ms);
  failed_new.failed_restore = true;
  Must(s->UpsertRestorePoint(failed_new, RestorePointOrigin::kObserved, recent_ms));

  RetentionPolicy policy;  // 30 days, 1,000,000 rows, 20 points
  const auto report = Must(s->ApplyRetention(kNow, policy));
  // 4 tables x 3 old rows, 1 recovery, 2 outbox entries, 2 x 5 surplus points, 1 old failed.
  CHECK(report.rows_deleted == 12 + 1 + 2 + 10 + 1);

  const Counts c = CountAll(s);
  CHECK(c.transitions == 3);
  CHECK(c.refusals == 3);
  CHECK(c.savepoints == 3);
  CHECK(c.observations == 3);
  CHECK(Must(s->Transitions("", 0))[0].at_ms == recent_ms);
  CHECK(Must(s->Observations("", 0))[0].at_ms == recent_ms);

  const auto recoveries = Must(s->Recoveries("", 0));
  REQUIRE(recoveries.size() == 2);
  CHECK(recoveries[0].id == "old-running");
  CHECK(recoveries[1].id == "recent-done");
  CHECK(Must(s->Steps("old-running")).size() == 1);
  CHECK(Must(s->Steps("old-done")).empty());

  due = Must(s->Due(kNow, 10));
  REQUIRE(due.size() == 1);
  CHECK(due[0].idempotency_key == "old-pending");
  CHECK(Must(s->PendingDepth()).pending == 1);

  const auto points = Must(s->RestorePoints("orders"));
  REQUIRE(points.size() == 41);
  CHECK(points[0].point.path == "s3://cp/failed-new");
  for (const char* cluster : {"yarn-a", "yarn-b"}) {
    std::vector<std::string> kept;
    for (const auto& p : points) {
      if (p.cluster == cluster && !p.failed_restore) kept.push_back(p.point.path);
    }
    REQUIRE(kept.size() == 20);
    CHECK(kept.front() == std::string("s3://cp/") + cluster + "/24");
    CHECK(kept.back() == std::string("s3://cp/") + cluster + "/5");
  }
  // Nothing more to do the second time.
  CHECK(Must(s->ApplyRetention(kNow, policy)).rows_deleted == 0);
  if constexpr (B::kOnDisk) {
    RawDb raw(s.path);
    CHECK(raw.Count("outbox") == 2);  // old pending + recent delivered
    CHECK(raw.Count("recovery_steps") == 1);
  }
}

TEST_CASE_TEMPLATE("retention caps each table at max_rows, oldest first, in batches", B, OnDisk,
                   InMemory) {
  B s;
  constexpr int kRows = 5'000;  // more than one delete batch
  Must(s->InTransaction([&]() -> Result<void> {
    for (int i = 0; i < kRows; ++i) {
      if (auto r = s->RecordObservation({.at_ms = kNow - kRows + i, .job = "orders"}); !r) {
        return r;
      }
    }
    for (int i = 0; i < 30; ++i) {
      if (auto r = s->RecordTransition(SampleTransition("orders", kNow - 30 + i)); !r) return r;
    }
    for (int i = 0; i < 15; ++i) {
      auto rec = SampleRecovery("r-" + std::to_string(i), "orders", kNow - 15 + i);
      if (auto r = s->BeginRecovery(rec); !r) return r;
      // The five oldest are still running: never deleted, even beyond the cap.
      if (i >= 5) {
        if (auto r = s->EndRecovery(rec.id, RecoveryAttempt::Outcome::kSucceeded, kNow, ""); !r) {
          return r;
        }
      }
    }
    for (int i = 0; i < 12; ++i) {
      if (auto r = s->Enqueue(SampleEntry("slack", "k" + std::to_string(i), kNow - 12 + i)); !r) {
        return Fail(r.error());
      }
    }
    return {};
  }));
  // Deliver the newest 4 of 12 outbox entries; 8 stay pending.
  auto due = Must(s->Due(kNow, 100));
  REQUIRE(due.size() == 12);
  for (int i = 8; i < 12; ++i) Must(s->MarkDelivered(due[static_cast<std::size_t>(i)].id, kNow));

  RetentionPolicy policy;
  policy.max_rows = 10;
  const auto report = Must(s->ApplyRetention(kNow, policy));
  // observations 4990, transitions 20, recoveries 5 (of the 10 ended), outbox 2 delivered.
  CHECK(report.rows_deleted == 4'990 + 20 + 5 + 2);

  const auto obs = Must(s->Observations("", 0));
  REQUIRE(obs.size() == 10);
  CHECK(obs.front().at_ms == kNow - 10);
  CHECK(obs.back().at_ms == kNow - 1);
  CHECK(Must(s->Transitions("", 0)).size() == 10);
  const auto recs = Must(s->Recoveries("", 0));
  REQUIRE(recs.size() == 10);
  CHECK(recs[0].id == "r-0");   // running
  CHECK(recs[4].id == "r-4");   // running
  CHECK(recs[5].id == "r-10");  // the newest 5 ended ones
  CHECK(Must(s->PendingDepth()).pending == 8);
  if constexpr (B::kOnDisk) {
    RawDb raw(s.path);
    CHECK(raw.Count("outbox") == 10);
  }
}

TEST_CASE_TEMPLATE("retention keeps max_rows of restore points only by deleting failed ones", B,
                   OnDisk, InMemory) {
  B s;
  for (int i = 0; i < 6; ++i) {
    KnownRestorePoint p = SamplePoint("orders", "s3://cp/" + std::to_string(i), kNow - 10 + i);
    p.failed_restore = i < 3;  // the three oldest failed
    Must(s->UpsertRestorePoint(p, RestorePointOrigin::kObserved, kNow - 10 + i));
  }
  RetentionPolicy policy;
  policy.max_rows = 4;
  policy.keep_restore_points = 3;
  CHECK(Must(s->ApplyRetention(kNow, policy)).rows_deleted == 2);
  auto points = Must(s->RestorePoints("orders"));
  REQUIRE(points.size() == 4);
  CHECK(points[3].point.path == "s3://cp/2");
  CHECK(points[3].failed_restore);

  // The cap cannot go below the points kept by count.
  policy.max_rows = 1;
  CHECK(Must(s->ApplyRetention(kNow, policy)).rows_deleted == 1);
  points = Must(s->RestorePoints("orders"));
  REQUIRE(points.size() == 3);
  for (const auto& p : points) CHECK_FALSE(p.failed_restore);
}
