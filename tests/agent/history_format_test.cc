#include "agent/history_format.h"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "storage/history_store.h"

namespace flinkguard {
namespace {

// 2026-11-21 18:00:00 UTC: the start of the query window.
constexpr std::int64_t kSince = 1'795'284'000'000;
// 2026-11-21 19:30:22 UTC: orders fails.
constexpr std::int64_t kT0 = 1'795'289'422'000;
constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kMinute = 60 * kSecond;
// When the on-call engineer runs `flinkguard history`.
constexpr std::int64_t kNow = kT0 + 9 * kMinute;

const char* const kCheckpoint = "hdfs:///flink/checkpoints/orders/ab12/chk-41";
const char* const kSavepoint = "hdfs:///flink/savepoints/orders/savepoint-ab12-7f3e";
const char* const kR1Reason =
    "checkpoint 41 completed 40s ago is the newest usable restore point; no savepoint is newer";

template <typename T>
T Must(Result<T> r) {
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
  return std::move(*r);
}
inline void Must(Result<void> r) {
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
}

RuleTransition Transition(std::string job, std::string rule, RuleState from, RuleState to,
                          std::int64_t at_ms, Severity severity, std::string reason) {
  RuleTransition t;
  t.rule = std::move(rule);
  t.job = job;
  t.cluster = job == "payments" ? "yarn-b" : "yarn-a";
  t.job_id = job == "payments" ? "ee99" : "ab12";
  t.from = from;
  t.to = to;
  t.at_ms = at_ms;
  t.severity = severity;
  t.action = Action::kRecover;
  t.reason = std::move(reason);
  t.labels = {{"team", "checkout"}};
  return t;
}

RecoveryRecord Recovery(std::string id, std::string job, std::int64_t started_ms) {
  RecoveryRecord r;
  r.id = std::move(id);
  r.job = job;
  r.cluster = job == "payments" ? "yarn-b" : "yarn-a";
  r.trigger = "rule";
  r.started_ms = started_ms;
  r.strategy = Strategy::kCheckpoint;
  r.restore_path = kCheckpoint;
  r.cooldown_ms = 60'000;
  r.rules = "job-failed";
  r.severity = Severity::kCritical;
  r.plan = R"({"job":")" + job + R"("})";
  r.progress = R"({"phase":"check-duplicates"})";
  r.fencing_token = 17;
  return r;
}

void Step(RecoveryJournal& j, const std::string& id, int seq, std::string kind,
          std::int64_t started_ms, std::optional<std::int64_t> ended_ms, std::string status,
          std::string detail) {
  Must(j.RecordStep(StepRecord{id, seq, std::move(kind), started_ms, ended_ms, std::move(status),
                               std::move(detail), 17}));
}

SavepointRecord Savepoint(std::string job, std::string origin, std::int64_t requested_ms) {
  SavepointRecord s;
  s.job = job;
  s.cluster = job == "payments" ? "yarn-b" : "yarn-a";
  s.job_id = "ab12";
  s.trigger_id = "5c1e0b7d2a9f4e0c8b6a3d2f1e0c9b8a";
  s.origin = std::move(origin);
  s.requested_ms = requested_ms;
  return s;
}

// The incident: orders on yarn-a fails at 19:30:22, is recovered from a checkpoint, fails again,
// a second recovery fails at the submit, the planner gives up and pages, and an engineer starts
// a manual recovery from fresh state that is still running. Earlier, while the agent ran in dry
// run, it would have recovered orders once. payments on yarn-b has its own trouble at the same
// time, and orders has events before the window.
std::unique_ptr<SqliteHistoryStore> Incident() {
  auto store = Must(SqliteHistoryStore::Open(":memory:"));
  SqliteHistoryStore& s = *store;

  // Before the window.
  Must(s.RecordTransition(Transition("orders", "job-failed", RuleState::kInactive,
                                     RuleState::kFiring, kSince - 60 * kMinute, Severity::kCritical,
                                     "status is FAILED (long ago)")));
  {
    SavepointRecord sp = Savepoint("orders", "periodic", kSince - 1);
    sp.status = "completed";
    sp.completed_ms = kSince + 2 * kSecond;
    sp.path = "hdfs:///flink/savepoints/orders/savepoint-too-old";
    (void)Must(s.RecordSavepoint(sp));
    Must(s.BeginRecovery(Recovery("r-old", "orders", kSince - 5 * kMinute)));
  }

  // 18:00:00, exactly at the start of the window: a periodic savepoint.
  {
    SavepointRecord sp = Savepoint("orders", "periodic", kSince);
    sp.status = "completed";
    sp.completed_ms = kSince + 2100;
    sp.path = kSavepoint;
    (void)Must(s.RecordSavepoint(sp));
  }

  // 19:10:22: restarts pile up while the agent runs in dry run.
  const std::int64_t dry_at = kT0 - 20 * kMinute;
  Must(s.RecordTransition(Transition("orders", "too-many-restarts", RuleState::kPending,
                                     RuleState::kFiring, dry_at, Severity::kWarning,
                                     "increase(restarts, 10m) = 7 > 5")));
  {
    RecoveryRecord r = Recovery("r-dry", "orders", dry_at);
    r.dry_run = true;
    r.rules = "too-many-restarts";
    r.severity = Severity::kWarning;
    r.reason = "checkpoint 38 completed 1m ago is the newest usable restore point";
    r.restore_path = "hdfs:///flink/checkpoints/orders/ab12/chk-38";
    Must(s.BeginRecovery(r));
    Step(s, "r-dry", 0, "dry-run", dry_at, dry_at, "skipped", "dry run: would have " + r.reason);
    Must(s.EndRecovery("r-dry", RecoveryAttempt::Outcome::kSucceeded, dry_at, ""));
  }
  Must(s.RecordTransition(Transition("orders", "too-many-restarts", RuleState::kFiring,
                                     RuleState::kInactive, kT0 - 10 * kMinute, Severity::kWarning,
                                     "increase(restarts, 10m) = 0 <= 5")));

  // 19:30:22: orders fails; the rule fires after 30s pending; recovery r1 succeeds.
  Must(s.RecordTransition(Transition("orders", "job-failed", RuleState::kInactive,
                                     RuleState::kPending, kT0 - 30 * kSecond, Severity::kCritical,
                                     "status is FAILED")));
  {
    // Journaled before the transition of the same cycle: the report still puts the rule first.
    RecoveryRecord r = Recovery("r1", "orders", kT0);
    r.reason = kR1Reason;
    Must(s.BeginRecovery(r));
    // Recorded out of order: the report lists steps by seq.
    Step(s, "r1", 6, "verify", kT0 + 4400, kT0 + 16400, "done",
         "all tasks RUNNING 12.0s after the submit");
    Step(s, "r1", 0, "cancel", kT0, kT0 + 400, "done", "PATCH /jobs/ab12?mode=cancel: 202");
    Step(s, "r1", 1, "wait-terminal", kT0 + 400, kT0 + 1600, "done", "ab12 is CANCELED");
    Step(s, "r1", 2, "check-duplicates", kT0 + 1600, kT0 + 1800, "done",
         "no live instance of orders on yarn-a, yarn-b");
    Step(s, "r1", 3, "upload-jar", kT0 + 1800, kT0 + 3800, "done",
         "uploaded /opt/jobs/orders.jar as 5f2c_orders.jar");
    Step(s, "r1", 4, "check-submitted", kT0 + 3800, kT0 + 3900, "done", "cd34 not submitted yet");
    Step(s, "r1", 5, "submit", kT0 + 3900, kT0 + 4400, "done",
         "POST /jars/5f2c_orders.jar/run: 200, job cd34");
    Must(s.EndRecovery("r1", RecoveryAttempt::Outcome::kSucceeded, kT0 + 16400, ""));
  }
  Must(
      s.RecordTransition(Transition("orders", "job-failed", RuleState::kPending, RuleState::kFiring,
                                    kT0, Severity::kCritical, "status is FAILED for 30s")));
  Must(s.RecordTransition(Transition("orders", "job-failed", RuleState::kFiring,
                                     RuleState::kInactive, kT0 + 20 * kSecond, Severity::kCritical,
                                     "status is RUNNING")));

  // 19:35:22: it fails again; r2 restores from the savepoint and fails at the submit.
  const std::int64_t t2 = kT0 + 5 * kMinute;
  Must(s.RecordTransition(Transition("orders", "job-failed", RuleState::kInactive,
                                     RuleState::kFiring, t2, Severity::kCritical,
                                     "status is FAILED")));
  {
    RecoveryRecord r = Recovery("r2", "orders", t2);
    r.strategy = Strategy::kSavepoint;
    r.restore_path = kSavepoint;
    r.reason = "checkpoint 41 failed to restore; savepoint 7f3e is the newest usable point";
    Must(s.BeginRecovery(r));
    Step(s, "r2", 0, "check-duplicates", t2, t2 + 300, "done",
         "no live instance of orders on yarn-a, yarn-b");
    Step(s, "r2", 1, "check-jar", t2 + 300, t2 + 500, "done",
         "jar 5f2c_orders.jar is on the cluster");
    Step(s, "r2", 2, "check-submitted", t2 + 500, t2 + 600, "done", "ef56 not submitted yet");
    Step(s, "r2", 3, "submit", t2 + 600, t2 + 40 * kSecond, "failed",
         "POST /jars/5f2c_orders.jar/run: 500, Could not execute application");
    Must(s.EndRecovery("r2", RecoveryAttempt::Outcome::kFailed, t2 + 40 * kSecond,
                       "submit: POST /jars/5f2c_orders.jar/run: 500 (gave up after 39.4s)"));
  }
  {
    SavepointRecord sp = Savepoint("orders", "manual", kT0 + 6 * kMinute);
    sp.status = "failed";
    sp.completed_ms = kT0 + 6 * kMinute + 500;
    sp.error = "job ab12 is not running";
    (void)Must(s.RecordSavepoint(sp));
  }
  // 19:37:22: the planner gives up and pages.
  Must(s.RecordRefusal(RefusalRecord{
      kT0 + 7 * kMinute,
      Refusal{"orders", "2 recoveries of orders within 1h failed (max 2): a person must look", true,
              RefusalCause::kGaveUp}}));
  // 19:38:22: an engineer starts a recovery from fresh state; it is still uploading the jar.
  {
    const std::int64_t t3 = kT0 + 8 * kMinute;
    RecoveryRecord r = Recovery("r3", "orders", t3);
    r.trigger = "manual";
    r.rules = "";
    r.strategy = Strategy::kFresh;
    r.restore_path = "";
    r.reason = "requested by hand: --fresh";
    Must(s.BeginRecovery(r));
    Step(s, "r3", 0, "check-duplicates", t3, t3 + 200, "done",
         "no live instance of orders on yarn-a, yarn-b");
    Step(s, "r3", 1, "upload-jar", t3 + 200, std::nullopt, "started", "");
  }

  // payments on yarn-b, in the same window: never in a report about orders.
  Must(s.RecordTransition(Transition("payments", "job-failed", RuleState::kInactive,
                                     RuleState::kFiring, kT0 + kMinute, Severity::kCritical,
                                     "status is FAILED")));
  Must(s.RecordRefusal(RefusalRecord{
      kT0 + kMinute, Refusal{"payments", "cooldown: 2m0s left", false, RefusalCause::kCooldown}}));
  Must(s.BeginRecovery(Recovery("p1", "payments", kT0 + 2 * kMinute)));
  (void)Must(s.RecordSavepoint(Savepoint("payments", "periodic", kT0 + 2 * kMinute)));
  return store;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The index of the first line at or after `from` containing `needle`; fails the test if none.
std::size_t LineWith(const std::vector<std::string>& lines, const std::string& needle,
                     std::size_t from = 0) {
  for (std::size_t i = from; i < lines.size(); ++i) {
    if (lines[i].find(needle) != std::string::npos) return i;
  }
  FAIL("no line contains: " << needle);
  return 0;
}

std::string Id(const HistoryEvent& e) {
  if (const auto* t = std::get_if<RuleTransition>(&e.what)) {
    return t->rule + ":" + RuleStateName(t->to);
  }
  if (const auto* r = std::get_if<RefusalRecord>(&e.what)) {
    return std::string("refusal:") + RefusalCauseName(r->refusal.cause);
  }
  if (const auto* r = std::get_if<RecoveryHistory>(&e.what)) return r->record.id;
  const auto& s = std::get<SavepointRecord>(e.what);
  return "savepoint:" + s.origin;
}

const std::vector<std::string> kOrdersStory = {
    "savepoint:periodic",
    "too-many-restarts:firing",
    "r-dry",
    "too-many-restarts:inactive",
    "job-failed:pending",
    "job-failed:firing",  // same ms as r1: the rule comes first
    "r1",
    "job-failed:inactive",
    "job-failed:firing",
    "r2",
    "savepoint:manual",
    "refusal:gave-up",
    "r3",
};

TEST_CASE("ReadHistory tells one job's story in time order, nothing before since, no other job") {
  auto store = Incident();
  const HistoryReport r = Must(ReadHistory(*store, *store, HistoryQuery{"orders", kSince}));
  CHECK(r.query.job == "orders");
  CHECK(r.query.since_ms == kSince);

  std::vector<std::string> ids;
  for (const HistoryEvent& e : r.events) ids.push_back(Id(e));
  CHECK(ids == kOrdersStory);
  for (std::size_t i = 1; i < r.events.size(); ++i) {
    CHECK(r.events[i - 1].at_ms <= r.events[i].at_ms);
  }
  CHECK(r.events.front().at_ms == kSince);  // since is inclusive

  const auto& r1 = std::get<RecoveryHistory>(r.events[6].what);
  CHECK(r.events[6].at_ms == kT0);
  CHECK(r1.record.outcome == RecoveryAttempt::Outcome::kSucceeded);
  CHECK(r1.record.restore_path == kCheckpoint);
  std::vector<std::string> kinds;
  for (const StepRecord& s : r1.steps) kinds.push_back(s.kind);
  CHECK(kinds == std::vector<std::string>{"cancel", "wait-terminal", "check-duplicates",
                                          "upload-jar", "check-submitted", "submit", "verify"});

  const auto& r3 = std::get<RecoveryHistory>(r.events[12].what);
  CHECK_FALSE(r3.record.ended_ms.has_value());
  CHECK(r3.steps.size() == 2);
  CHECK(std::string(r.events[11].TypeName()) == "refusal");
  CHECK(std::string(r.events[0].TypeName()) == "savepoint");
  CHECK(std::string(r.events[1].TypeName()) == "transition");
  CHECK(std::string(r.events[2].TypeName()) == "recovery");
}

TEST_CASE("ReadHistory with no job reads every job") {
  auto store = Incident();
  const HistoryReport r = Must(ReadHistory(*store, *store, HistoryQuery{"", kSince}));
  CHECK(r.events.size() == kOrdersStory.size() + 4);
  int payments = 0;
  for (const HistoryEvent& e : r.events) {
    if (const auto* rec = std::get_if<RecoveryHistory>(&e.what)) {
      payments += rec->record.job == "payments";
    } else if (const auto* t = std::get_if<RuleTransition>(&e.what)) {
      payments += t->job == "payments";
    } else if (const auto* f = std::get_if<RefusalRecord>(&e.what)) {
      payments += f->refusal.job == "payments";
    } else {
      payments += std::get<SavepointRecord>(e.what).job == "payments";
    }
  }
  CHECK(payments == 4);
  const std::string text = HistoryToText(r, kNow);
  CHECK(text.find("history of every job since 2026-11-21 18:00:00 UTC") == 0);
  CHECK(text.find("payments on yarn-b  refused to recover") == std::string::npos);  // no cluster
  CHECK(text.find("payments  refused to recover (cooldown), no page") != std::string::npos);
  rapidjson::Document doc;
  doc.Parse(HistoryToJson(r, false).c_str());
  REQUIRE_FALSE(doc.HasParseError());
  CHECK(doc["job"].IsNull());
}

TEST_CASE("the text tells the incident in order, compactly") {
  auto store = Incident();
  const HistoryReport r = Must(ReadHistory(*store, *store, HistoryQuery{"orders", kSince}));
  const std::string text = HistoryToText(r, kNow);
  const std::vector<std::string> lines = Lines(text);

  CHECK(lines[0] ==
        "history of job orders since 2026-11-21 18:00:00 UTC (1h39m ago): 13 events, "
        "times in UTC");
  CHECK(lines[1].empty());
  CHECK(text.find("payments") == std::string::npos);
  CHECK(text.find("too-old") == std::string::npos);
  CHECK(text.find("long ago") == std::string::npos);
  CHECK(text.find("r-old") == std::string::npos);

  // The savepoint at the start of the window.
  std::size_t at = LineWith(lines,
                            "2026-11-21 18:00:00 (1h39m ago)  orders on yarn-a  savepoint "
                            "(periodic) completed in 2.1s: " +
                                std::string(kSavepoint));

  // The dry run, marked as such.
  at = LineWith(lines,
                "2026-11-21 19:10:22 (29m ago)  orders on yarn-a  rule too-many-restarts: "
                "pending -> firing (warning)",
                at);
  CHECK(lines[at + 1] == "    increase(restarts, 10m) = 7 > 5");
  at = LineWith(lines,
                "2026-11-21 19:10:22 (29m ago)  orders on yarn-a  DRY RUN: would have recovered "
                "(r-dry; trigger: rule; rules: too-many-restarts; warning)",
                at);
  CHECK(lines[at + 1] ==
        "    would have restored from checkpoint hdfs:///flink/checkpoints/orders/ab12/chk-38");
  CHECK(lines[at + 2] ==
        "    why: checkpoint 38 completed 1m ago is the newest usable restore point");
  CHECK(lines[at + 4] == "    => DRY RUN: nothing was done");

  // The failure, the rule, the recovery with every step, the outcome.
  at = LineWith(lines,
                "2026-11-21 19:29:52 (9m ago)  orders on yarn-a  rule job-failed: "
                "inactive -> pending (critical)",
                at);
  at = LineWith(lines,
                "2026-11-21 19:30:22 (9m ago)  orders on yarn-a  rule job-failed: "
                "pending -> firing (critical)",
                at);
  CHECK(lines[at + 1] == "    status is FAILED for 30s");
  at = LineWith(
      lines,
      "2026-11-21 19:30:22 (9m ago)  orders on yarn-a  recovery (r1; trigger: rule; rules: "
      "job-failed; critical)",
      at);
  CHECK(at == LineWith(lines, "job-failed: pending -> firing") + 2);
  CHECK(lines[at + 1] == "    restore from checkpoint " + std::string(kCheckpoint));
  CHECK(lines[at + 2] == "    why: " + std::string(kR1Reason));
  CHECK(lines[at + 3] ==
        "    +0.0s  cancel            done   0.4s  PATCH /jobs/ab12?mode=cancel: 202");
  CHECK(lines[at + 4] == "    +0.4s  wait-terminal     done   1.2s  ab12 is CANCELED");
  CHECK(lines[at + 5] ==
        "    +1.6s  check-duplicates  done   0.2s  no live instance of orders on yarn-a, yarn-b");
  CHECK(lines[at + 6] ==
        "    +1.8s  upload-jar        done   2.0s  uploaded /opt/jobs/orders.jar "
        "as 5f2c_orders.jar");
  CHECK(lines[at + 7] == "    +3.8s  check-submitted   done   0.1s  cd34 not submitted yet");
  CHECK(lines[at + 8] ==
        "    +3.9s  submit            done   0.5s  POST /jars/5f2c_orders.jar/run: 200, job cd34");
  CHECK(lines[at + 9] ==
        "    +4.4s  verify            done  12.0s  all tasks RUNNING 12.0s after the submit");
  CHECK(lines[at + 10] == "    => succeeded in 16.4s");
  at = LineWith(lines, "rule job-failed: firing -> inactive (critical)", at);

  // The second failure: a failed recovery with its error.
  at = LineWith(lines, "2026-11-21 19:35:22 (4m ago)  orders on yarn-a  recovery (r2;", at);
  CHECK(lines[at + 1] == "    restore from savepoint " + std::string(kSavepoint));
  CHECK(lines[at + 6] ==
        "    +0.6s  submit            failed  39.4s  POST "
        "/jars/5f2c_orders.jar/run: 500, Could not execute application");
  CHECK(lines[at + 7] ==
        "    => failed after 40.0s: submit: POST /jars/5f2c_orders.jar/run: 500 "
        "(gave up after 39.4s)");
  at = LineWith(lines,
                "2026-11-21 19:36:22 (3m ago)  orders on yarn-a  savepoint (manual) failed "
                "in 0.5s: job ab12 is not running",
                at);

  // The page.
  at = LineWith(lines, "2026-11-21 19:37:22 (2m ago)  orders  refused to recover (gave-up), paged",
                at);
  CHECK(lines[at + 1] == "    2 recoveries of orders within 1h failed (max 2): a person must look");

  // The manual recovery, still running.
  at = LineWith(lines,
                "2026-11-21 19:38:22 (1m ago)  orders on yarn-a  recovery (r3; trigger: manual; "
                "critical)",
                at);
  CHECK(lines[at + 1] == "    restore from fresh state");
  CHECK(lines[at + 2] == "    why: requested by hand: --fresh");
  CHECK(lines[at + 3] ==
        "    +0.0s  check-duplicates  done             0.2s  no live instance of orders on yarn-a, "
        "yarn-b");
  CHECK(lines[at + 4] == "    +0.2s  upload-jar        started  59.8s so far");
  CHECK(lines[at + 5] == "    => in progress for 1m, at upload-jar");
  CHECK(at + 6 == lines.size());
}

TEST_CASE("an empty report says so") {
  auto store = Incident();
  const HistoryReport none = Must(ReadHistory(*store, *store, HistoryQuery{"inventory", kSince}));
  CHECK(none.events.empty());
  CHECK(HistoryToText(none, kNow) ==
        "no events for job inventory since 2026-11-21 18:00:00 UTC (1h39m ago)\n");
  const HistoryReport later = Must(ReadHistory(*store, *store, HistoryQuery{"", kNow + 1}));
  CHECK(HistoryToText(later, kNow + 2 * kSecond) ==
        "no events for any job since 2026-11-21 19:39:22 UTC (1s ago)\n");
  CHECK(HistoryToText(HistoryReport{}, kNow) == "no events for any job in the history\n");
  CHECK(HistoryToJson(none, false) ==
        R"({"job":"inventory","since_ms":1795284000000,"events":[]})");
}

TEST_CASE("the JSON carries every field; times are epoch ms") {
  auto store = Incident();
  const HistoryReport r = Must(ReadHistory(*store, *store, HistoryQuery{"orders", kSince}));
  for (bool pretty : {false, true}) {
    CAPTURE(pretty);
    const std::string json = HistoryToJson(r, pretty);
    CHECK((json.find('\n') != std::string::npos) == pretty);
    rapidjson::Document doc;
    doc.Parse(json.c_str());
    REQUIRE_FALSE(doc.HasParseError());
    REQUIRE(doc.IsObject());
    CHECK(std::string(doc["job"].GetString()) == "orders");
    CHECK(doc["since_ms"].GetInt64() == kSince);
    const auto& events = doc["events"];
    REQUIRE(events.IsArray());
    REQUIRE(events.Size() == kOrdersStory.size());
    std::vector<std::string> types;
    for (const auto& e : events.GetArray()) types.emplace_back(e["type"].GetString());
    CHECK(types == std::vector<std::string>{"savepoint", "transition", "recovery", "transition",
                                            "transition", "transition", "recovery", "transition",
                                            "transition", "recovery", "savepoint", "refusal",
                                            "recovery"});

    const auto& sp = events[0];
    CHECK(sp["at_ms"].GetInt64() == kSince);
    CHECK(sp["id"].GetInt64() > 0);
    CHECK(std::string(sp["origin"].GetString()) == "periodic");
    CHECK(std::string(sp["status"].GetString()) == "completed");
    CHECK(sp["requested_ms"].GetInt64() == kSince);
    CHECK(sp["completed_ms"].GetInt64() == kSince + 2100);
    CHECK(std::string(sp["path"].GetString()) == kSavepoint);
    CHECK(std::string(sp["trigger_id"].GetString()) == "5c1e0b7d2a9f4e0c8b6a3d2f1e0c9b8a");
    CHECK(std::string(sp["error"].GetString()).empty());

    const auto& fired = events[5];
    CHECK(fired["at_ms"].GetInt64() == kT0);
    CHECK(std::string(fired["rule"].GetString()) == "job-failed");
    CHECK(std::string(fired["job"].GetString()) == "orders");
    CHECK(std::string(fired["cluster"].GetString()) == "yarn-a");
    CHECK(std::string(fired["job_id"].GetString()) == "ab12");
    CHECK(std::string(fired["from"].GetString()) == "pending");
    CHECK(std::string(fired["to"].GetString()) == "firing");
    CHECK(std::string(fired["severity"].GetString()) == "critical");
    CHECK(std::string(fired["action"].GetString()) == "recover");
    CHECK(std::string(fired["reason"].GetString()) == "status is FAILED for 30s");
    CHECK(std::string(fired["labels"]["team"].GetString()) == "checkout");
    CHECK(fired["annotations"].ObjectEmpty());

    const auto& r1 = events[6];
    CHECK(std::string(r1["id"].GetString()) == "r1");
    CHECK(std::string(r1["trigger"].GetString()) == "rule");
    CHECK(r1["started_ms"].GetInt64() == kT0);
    CHECK(r1["ended_ms"].GetInt64() == kT0 + 16400);
    CHECK(std::string(r1["strategy"].GetString()) == "checkpoint");
    CHECK(std::string(r1["restore_path"].GetString()) == kCheckpoint);
    CHECK(std::string(r1["outcome"].GetString()) == "succeeded");
    CHECK(r1["cooldown_ms"].GetInt64() == 60'000);
    CHECK(r1["dry_run"].GetBool() == false);
    CHECK(std::string(r1["reason"].GetString()) == kR1Reason);
    REQUIRE(r1["rules"].Size() == 1);
    CHECK(std::string(r1["rules"][0].GetString()) == "job-failed");
    CHECK(std::string(r1["severity"].GetString()) == "critical");
    CHECK(std::string(r1["plan"].GetString()) == R"({"job":"orders"})");
    CHECK(r1["fencing_token"].GetInt64() == 17);
    CHECK(std::string(r1["error"].GetString()).empty());
    const auto& steps = r1["steps"];
    REQUIRE(steps.Size() == 7);
    CHECK(steps[0]["seq"].GetInt() == 0);
    CHECK(std::string(steps[0]["kind"].GetString()) == "cancel");
    CHECK(steps[0]["started_ms"].GetInt64() == kT0);
    CHECK(steps[0]["ended_ms"].GetInt64() == kT0 + 400);
    CHECK(std::string(steps[0]["status"].GetString()) == "done");
    CHECK(std::string(steps[0]["detail"].GetString()) == "PATCH /jobs/ab12?mode=cancel: 202");
    CHECK(steps[0]["fencing_token"].GetInt64() == 17);
    CHECK(std::string(steps[6]["kind"].GetString()) == "verify");

    CHECK(events[2]["dry_run"].GetBool());
    const auto& r2 = events[9];
    CHECK(std::string(r2["outcome"].GetString()) == "failed");
    CHECK(std::string(r2["error"].GetString()) ==
          "submit: POST /jars/5f2c_orders.jar/run: 500 (gave up after 39.4s)");
    CHECK(std::string(r2["steps"][3]["status"].GetString()) == "failed");

    const auto& refusal = events[11];
    CHECK(refusal["at_ms"].GetInt64() == kT0 + 7 * kMinute);
    CHECK(std::string(refusal["job"].GetString()) == "orders");
    CHECK(std::string(refusal["cause"].GetString()) == "gave-up");
    CHECK(refusal["page"].GetBool());

    const auto& r3 = events[12];
    CHECK(std::string(r3["outcome"].GetString()) == "in-progress");
    CHECK(r3["ended_ms"].IsNull());
    CHECK(std::string(r3["strategy"].GetString()) == "fresh");
    CHECK(r3["rules"].Empty());
    CHECK(r3["steps"][1]["ended_ms"].IsNull());
  }
}

// An event log whose reads fail as SQLite does when another writer holds the file.
class BusyEventLog final : public EventLog {
 public:
  Result<void> RecordTransition(const RuleTransition&) override { return Busy(); }
  Result<std::vector<RuleTransition>> Transitions(std::string_view, std::int64_t) override {
    return {};
  }
  Result<void> RecordRefusal(const RefusalRecord&) override { return Busy(); }
  Result<std::vector<RefusalRecord>> Refusals(std::string_view, std::int64_t) override {
    return Busy();
  }
  Result<std::int64_t> RecordSavepoint(const SavepointRecord&) override { return Busy(); }
  Result<std::vector<SavepointRecord>> Savepoints(std::string_view, std::int64_t) override {
    return {};
  }
  Result<void> RecordObservation(const ObservationRecord&) override { return Busy(); }
  Result<std::vector<ObservationRecord>> Observations(std::string_view, std::int64_t) override {
    return Busy();
  }

 private:
  static tl::unexpected<Error> Busy() {
    return Fail(Error::Transient("history.db: database is locked"));
  }
};

TEST_CASE("ReadHistory fails with the store's error kind, naming what it could not read") {
  auto store = Incident();
  BusyEventLog busy;
  const Result<HistoryReport> r = ReadHistory(*store, busy, HistoryQuery{"orders", kSince});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().kind == ErrorKind::kTransient);
  CHECK(r.error().message == "history: cannot read refusals: history.db: database is locked");
}

TEST_CASE("the text of outcomes and savepoints the incident does not show") {
  HistoryReport r;
  r.query.job = "orders";
  RecoveryRecord rec = Recovery("r9", "orders", kT0);
  rec.strategy = Strategy::kSavepoint;
  rec.restore_path = "";  // from the savepoint its stop takes
  rec.outcome = RecoveryAttempt::Outcome::kDidNotStick;
  rec.ended_ms = kT0 + 3 * kMinute + 5 * kSecond;
  r.events.push_back({kT0, RecoveryHistory{rec, {}}});
  SavepointRecord sp = Savepoint("orders", "stop", kT0 + kSecond);
  sp.status = "pending";
  r.events.push_back({kT0 + kSecond, sp});
  RecoveryRecord failed = Recovery("r10", "orders", kT0 + kSecond);
  failed.outcome = RecoveryAttempt::Outcome::kFailed;
  failed.ended_ms = kT0 + 2 * kSecond;
  failed.error = "submit: 500\norg.apache.flink.client.program.ProgramInvocationException\n";
  r.events.push_back({kT0 + kSecond, RecoveryHistory{failed, {}}});

  const std::vector<std::string> lines =
      Lines(HistoryToText(r, kT0 + 3 * 86'400'000LL + 7'200'000));
  REQUIRE(lines.size() == 10);
  CHECK(lines[0] == "history of job orders in the history: 3 events, times in UTC");
  CHECK(lines[2] ==
        "2026-11-21 19:30:22 (3d2h ago)  orders on yarn-a  recovery (r9; trigger: rule; "
        "rules: job-failed; critical)");
  CHECK(lines[3] == "    restore from the savepoint its stop-with-savepoint takes");
  CHECK(lines[4] ==
        "    => did not stick: finished in 3m5s, but the job did not stay up and a later "
        "recovery escalated past it");
  CHECK(lines[5] ==
        "2026-11-21 19:30:23 (3d1h ago)  orders on yarn-a  savepoint (stop) pending "
        "(trigger 5c1e0b7d2a9f4e0c8b6a3d2f1e0c9b8a)");
  // A multi-line error stays inside its block.
  CHECK(lines[8] == "    => failed after 1.0s: submit: 500");
  CHECK(lines[9] == "        org.apache.flink.client.program.ProgramInvocationException");
}

}  // namespace
}  // namespace flinkguard
