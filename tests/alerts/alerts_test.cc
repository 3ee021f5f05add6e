// Unit tests of alerts/: routing and lifecycle (AlertPlanner), payload shapes of each receiver,
// and outbox delivery outcomes (backoff, Retry-After, dead letters) over a real SQLite outbox.

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <deque>
#include <set>

#include "alerts/alert_planner.h"
#include "alerts/alerts.h"
#include "alerts/delivery.h"
#include "alerts/notification.h"
#include "alerts/receivers.h"

using namespace flinkguard;

namespace {

constexpr std::int64_t kT0 = 1'763'762'400'000;  // 2025-11-21T22:00:00Z
constexpr std::int64_t kMin = 60'000;

RuleTransition Tr(const std::string& rule, const std::string& job, RuleState from, RuleState to,
                  Severity sev = Severity::kCritical) {
  RuleTransition t;
  t.rule = rule;
  t.job = job;
  t.cluster = "yarn-a";
  t.job_id = "a1b2c3";
  t.from = from;
  t.to = to;
  t.severity = sev;
  t.reason = "increase(restarts, 10m) = 7 > 5";
  t.labels = {{"team", "ads"}};
  t.annotations = {{"runbook", "https://wiki/restart-loop"}};
  return t;
}

RuleTransition Fire(const std::string& rule, const std::string& job,
                    Severity sev = Severity::kCritical) {
  return Tr(rule, job, RuleState::kPending, RuleState::kFiring, sev);
}
RuleTransition Resolve(const std::string& rule, const std::string& job,
                       Severity sev = Severity::kCritical) {
  return Tr(rule, job, RuleState::kFiring, RuleState::kInactive, sev);
}

AlertPolicy TwoReceivers() {
  AlertPolicy p;
  p.receivers = {{"hook", Severity::kInfo, 0}, {"pd", Severity::kCritical, 0}};
  p.group_interval_ms = 5 * kMin;
  p.cluster_urls = {{"yarn-a", "http://jm-a:8081/"}};
  p.instance = "agent-host-1";
  return p;
}

std::multiset<std::string> Receivers(const AlertBatch& b) {
  std::multiset<std::string> out;
  for (const OutboxEntry& e : b.entries) out.insert(e.receiver);
  return out;
}

Notification Decode(const OutboxEntry& e) {
  auto n = NotificationFromJson(e.payload);
  REQUIRE(n.has_value());
  return *n;
}

rapidjson::Document Json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

std::string Member(const rapidjson::Value& v, const char* key) {
  REQUIRE(v.HasMember(key));
  REQUIRE(v[key].IsString());
  return v[key].GetString();
}

}  // namespace

TEST_CASE("a receiver gets alerts at or above its minimum severity") {
  CHECK(SeverityPasses(Severity::kCritical, Severity::kWarning));
  CHECK(SeverityPasses(Severity::kWarning, Severity::kWarning));
  CHECK_FALSE(SeverityPasses(Severity::kInfo, Severity::kWarning));
}

TEST_CASE("firing is sent once to every receiver it routes to, then resolved once") {
  AlertPlanner p(TwoReceivers());
  AlertBatch b = p.OnTransitions({Fire("restart-loop", "ads")}, kT0);
  CHECK(Receivers(b) == std::multiset<std::string>{"hook", "pd"});
  const Notification n = Decode(b.entries.front());
  CHECK(n.status == NotificationStatus::kFiring);
  CHECK(n.labels == std::map<std::string, std::string>{{"alertname", "restart-loop"},
                                                       {"cluster", "yarn-a"},
                                                       {"job", "ads"},
                                                       {"severity", "critical"},
                                                       {"team", "ads"}});
  CHECK(n.annotations.at("reason") == "increase(restarts, 10m) = 7 > 5");
  CHECK(n.annotations.at("runbook") == "https://wiki/restart-loop");
  CHECK(n.annotations.at("instance") == "agent-host-1");  // replica-specific: annotation only
  CHECK(n.labels.count("instance") == 0);
  CHECK(n.flink_ui == "http://jm-a:8081/#/job/a1b2c3/overview");
  p.Commit(b);
  CHECK(p.Firing().size() == 1);

  // Firing again (another cycle, another replica's view): deduplicated.
  AlertBatch again = p.OnTransitions({Fire("restart-loop", "ads")}, kT0 + kMin);
  CHECK(again.entries.empty());
  p.Commit(again);

  AlertBatch r = p.OnTransitions({Resolve("restart-loop", "ads")}, kT0 + 2 * kMin);
  REQUIRE(r.entries.size() == 2);
  const Notification rn = Decode(r.entries.front());
  CHECK(rn.status == NotificationStatus::kResolved);
  CHECK(rn.starts_ms == kT0);
  CHECK(rn.ends_ms == kT0 + 2 * kMin);
  CHECK(rn.labels == n.labels);  // the same identity as what fired
  CHECK(r.entries[0].idempotency_key != b.entries[0].idempotency_key);
  p.Commit(r);
  CHECK(p.Firing().empty());
  // A resolve of something not firing sends nothing.
  CHECK(p.OnTransitions({Resolve("restart-loop", "ads")}, kT0 + 3 * kMin).entries.empty());
  // Pending and unknown transitions are not notified.
  CHECK(p.OnTransitions({Tr("x", "ads", RuleState::kInactive, RuleState::kPending),
                         Tr("x", "ads", RuleState::kFiring, RuleState::kUnknown)},
                        kT0)
            .entries.empty());
}

TEST_CASE("an uncommitted batch changes nothing: the same event is planned again") {
  AlertPlanner p(TwoReceivers());
  AlertBatch lost = p.OnTransitions({Fire("restart-loop", "ads")}, kT0);
  CHECK(lost.entries.size() == 2);
  // The transaction failed: no Commit. The next attempt plans it again.
  AlertBatch b = p.OnTransitions({Fire("restart-loop", "ads")}, kT0);
  CHECK(b.entries.size() == 2);
  CHECK(b.entries[0].idempotency_key == lost.entries[0].idempotency_key);
}

TEST_CASE("a flapping job notifies at most once per group_interval") {
  AlertPlanner p(TwoReceivers());
  auto step = [&](const RuleTransition& t, std::int64_t at) {
    AlertBatch b = p.OnTransitions({t}, at);
    const std::size_t n = b.entries.size();
    p.Commit(b);
    return n;
  };
  auto tick = [&](std::int64_t at) {
    AlertBatch b = p.Tick(at);
    const std::size_t n = b.entries.size();
    p.Commit(b);
    return n;
  };
  CHECK(step(Fire("job-failed", "ads"), kT0) == 2);
  CHECK(step(Resolve("job-failed", "ads"), kT0 + 10'000) == 2);  // resolves are not held
  // Back within group_interval (5 min) of the last notification: held.
  CHECK(step(Fire("job-failed", "ads"), kT0 + 20'000) == 0);
  CHECK(tick(kT0 + 60'000) == 0);
  CHECK(step(Resolve("job-failed", "ads"), kT0 + 30'000) == 0);  // held firing dropped
  CHECK(step(Fire("job-failed", "ads"), kT0 + 40'000) == 0);
  // Still firing once group_interval has passed since the resolve: sent by Tick.
  CHECK(tick(kT0 + 10'000 + 5 * kMin - 1) == 0);
  CHECK(tick(kT0 + 10'000 + 5 * kMin) == 2);
  CHECK(tick(kT0 + 10'000 + 5 * kMin + 1) == 0);
  CHECK(step(Resolve("job-failed", "ads"), kT0 + 7 * kMin) == 2);
}

TEST_CASE("firing alerts are re-sent every repeat_interval of each receiver") {
  AlertPolicy policy = TwoReceivers();
  policy.receivers.push_back({"am", Severity::kInfo, kMin});
  policy.receivers[0].repeat_interval_ms = 4 * 60 * kMin;
  AlertPlanner p(policy);
  AlertBatch b = p.OnTransitions({Fire("restart-loop", "ads")}, kT0);
  CHECK(b.entries.size() == 3);
  p.Commit(b);
  AlertBatch t1 = p.Tick(kT0 + kMin - 1);
  CHECK(t1.entries.empty());
  AlertBatch t2 = p.Tick(kT0 + kMin);
  CHECK(Receivers(t2) == std::multiset<std::string>{"am"});
  CHECK(Decode(t2.entries[0]).starts_ms == kT0);
  p.Commit(t2);
  AlertBatch t3 = p.Tick(kT0 + 4 * 60 * kMin);
  CHECK(Receivers(t3) == std::multiset<std::string>{"am", "hook"});  // pd: no repeat
  p.Commit(t3);
  AlertBatch r = p.OnTransitions({Resolve("restart-loop", "ads")}, kT0 + 4 * 60 * kMin + 5);
  p.Commit(r);
  CHECK(p.Tick(kT0 + 10 * 60 * kMin).entries.empty());
}

TEST_CASE("routes choose receivers by severity, rule, job glob and labels") {
  AlertPolicy policy;
  policy.receivers = {{"ads-hook", Severity::kInfo, 0},
                      {"pd", Severity::kInfo, 0},
                      {"slack", Severity::kWarning, 0}};
  policy.routes = {
      AlertRoute{{"ads-hook"}, std::nullopt, {}, {"ads-*"}, {}},
      AlertRoute{{"pd"}, Severity::kCritical, {"job-failed", "restart-*"}, {}, {}},
      AlertRoute{{"slack"}, std::nullopt, {}, {}, {{"team", "ads"}}},
  };
  AlertPlanner p(policy);
  auto to = [&](const RuleTransition& t) { return Receivers(p.OnTransitions({t}, kT0)); };
  CHECK(to(Fire("restart-loop", "ads-spend")) ==
        std::multiset<std::string>{"ads-hook", "pd", "slack"});
  CHECK(to(Fire("restart-loop", "ads-spend", Severity::kWarning)) ==
        std::multiset<std::string>{"ads-hook", "slack"});
  CHECK(to(Fire("qps-drop", "search")) == std::multiset<std::string>{"slack"});
  RuleTransition other_team = Fire("qps-drop", "search");
  other_team.labels = {{"team", "search"}};
  CHECK(to(other_team).empty());  // no route matches: nowhere
  // The receiver's own min_severity applies after routing.
  other_team.labels = {{"team", "ads"}};
  other_team.severity = Severity::kInfo;
  CHECK(to(other_team).empty());
}

TEST_CASE("recovery notifications carry the diagnosis and follow the recovery's lifecycle") {
  AlertPlanner p(TwoReceivers());
  JobSnapshot s;
  s.cluster = "yarn-a";
  s.name = "ads";
  s.job_id = "a1b2c3";
  s.root_exception = "java.lang.RuntimeException: boom\n\tat A.b(A.java:1)\n\tat C.d(C.java:2)";
  s.backpressured_vertex = "Sink: kafka";
  s.backpressure.SetFresh(0.85, kT0);
  RestorePoint cp;
  cp.id = 812;
  cp.path = "s3://b/cp/chk-812";
  s.last_checkpoint.SetFresh(cp, kT0);
  s.checkpoint_age_ms.SetFresh(41'000, kT0);
  s.checkpoints_failed.SetFresh(3, kT0);
  p.Observe({s});

  RecoveryRecord r;
  r.id = "rec-1";
  r.job = "ads";
  r.cluster = "yarn-a";
  r.strategy = Strategy::kCheckpoint;
  r.restore_path = "s3://b/cp/chk-812";
  r.reason = "newest retained checkpoint 812 is newer than savepoint 700";
  r.rules = "restart-loop";
  r.severity = Severity::kCritical;
  AlertBatch started = p.OnRecoveryStarted(r, kT0);
  REQUIRE(started.entries.size() == 2);
  const Notification n = Decode(started.entries[0]);
  CHECK(n.alertname == kRecoveryAlert);
  CHECK(n.event == "recovery-started");
  CHECK(n.annotations.at("root_exception").find("RuntimeException: boom") != std::string::npos);
  CHECK(n.annotations.at("backpressured_vertex") == "Sink: kafka (85% backpressured)");
  CHECK(n.annotations.at("checkpoint") ==
        "last completed checkpoint 812 (age 41 s), 3 failed checkpoints");
  CHECK(n.annotations.at("restore_point") == "checkpoint s3://b/cp/chk-812");
  CHECK(n.annotations.at("restore_reason") == r.reason);
  CHECK(n.flink_ui == "http://jm-a:8081/#/job/a1b2c3/overview");
  p.Commit(started);

  r.outcome = RecoveryAttempt::Outcome::kFailed;
  r.error = "submit: HTTP 500";
  AlertBatch failed = p.OnRecoveryEnded(r, "", kT0 + kMin);
  std::set<std::pair<std::string, std::string>> what;
  for (const OutboxEntry& e : failed.entries) {
    const Notification f = Decode(e);
    what.insert({f.alertname, NotificationStatusName(f.status)});
    if (f.alertname == kRecoveryFailedAlert) CHECK(f.annotations.at("error") == "submit: HTTP 500");
  }
  CHECK(what == std::set<std::pair<std::string, std::string>>{
                    {std::string(kRecoveryAlert), "resolved"},
                    {std::string(kRecoveryFailedAlert), "firing"}});
  p.Commit(failed);

  Refusal gave_up{"ads", "3 recoveries in 1h, giving up", true, RefusalCause::kUntrusted};
  AlertBatch page = p.OnGaveUp(gave_up, kT0 + 2 * kMin);
  REQUIRE(page.entries.size() == 2);
  CHECK(Decode(page.entries[0]).alertname == kGaveUpAlert);
  CHECK(Decode(page.entries[0]).cluster == "yarn-a");  // where the job was last seen
  CHECK(Decode(page.entries[0]).severity == Severity::kCritical);
  p.Commit(page);

  r.outcome = RecoveryAttempt::Outcome::kSucceeded;
  r.error.clear();
  r.id = "rec-2";
  // A new recovery within group_interval of the last recovery notification is told (an action
  // is an event, not a flapping condition)...
  AlertBatch s2 = p.OnRecoveryStarted(r, kT0 + 3 * kMin);
  CHECK(s2.entries.size() == 2);
  p.Commit(s2);
  // ...and its success resolves it and the failed and gave-up alerts.
  AlertBatch ok = p.OnRecoveryEnded(r, "d4e5f6", kT0 + 4 * kMin);
  std::set<std::string> resolved;
  for (const OutboxEntry& e : ok.entries) {
    const Notification f = Decode(e);
    CHECK(f.status == NotificationStatus::kResolved);
    resolved.insert(f.alertname);
  }
  CHECK(resolved == std::set<std::string>{std::string(kRecoveryAlert),
                                          std::string(kRecoveryFailedAlert),
                                          std::string(kGaveUpAlert)});
  p.Commit(ok);
  CHECK(p.Firing().empty());
  // Dry runs are not notified.
  r.dry_run = true;
  CHECK(p.OnRecoveryStarted(r, kT0 + 60 * kMin).entries.empty());
}

TEST_CASE("recovery notifications are events: a second action on a job within group_interval "
          "is told, not held as flapping; its end says what was done") {
  AlertPlanner p(TwoReceivers());
  RecoveryRecord r;
  r.id = "rec-1";
  r.job = "ads";
  r.cluster = "yarn-a";
  r.trigger = "rule";
  r.strategy = Strategy::kCheckpoint;
  r.restore_path = "s3://b/cp/chk-9";
  r.severity = Severity::kCritical;
  AlertBatch b = p.OnRecoveryStarted(r, kT0);
  REQUIRE(!b.entries.empty());
  p.Commit(b);
  r.outcome = RecoveryAttempt::Outcome::kSucceeded;
  b = p.OnRecoveryEnded(r, "new1", kT0 + 2000);
  REQUIRE(!b.entries.empty());
  p.Commit(b);
  // A minute later (group_interval is 5 minutes) the stale copy on yarn-a is cancelled.
  r.id = "rec-2";
  r.trigger = "stale-copy";
  r.restore_path.clear();
  r.outcome = RecoveryAttempt::Outcome::kInProgress;
  b = p.OnRecoveryStarted(r, kT0 + kMin);
  REQUIRE(!b.entries.empty());
  CHECK(Decode(b.entries[0]).annotations.at("summary") ==
        "cancelling a stale copy of ads on yarn-a");
  p.Commit(b);
  r.outcome = RecoveryAttempt::Outcome::kSucceeded;
  b = p.OnRecoveryEnded(r, "", kT0 + kMin + 1000);
  REQUIRE(!b.entries.empty());
  CHECK(Decode(b.entries[0]).annotations.at("summary") == "cancelled the stale copy of ads on yarn-a");
}

TEST_CASE("a started action's summary says what kind it is: recovery, failover, failback, "
          "stale copy") {
  RecoveryRecord r;
  r.job = "ads";
  r.cluster = "yarn-b";
  r.strategy = Strategy::kCheckpoint;
  r.restore_path = "s3://b/cp/chk-9";
  r.severity = Severity::kCritical;
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"rule", "recovering ads on yarn-b from checkpoint s3://b/cp/chk-9"},
      {"failover", "failing ads over to yarn-b from checkpoint s3://b/cp/chk-9"},
      {"failback", "moving ads back home to yarn-b from checkpoint s3://b/cp/chk-9"},
      {"stale-copy", "cancelling a stale copy of ads on yarn-b"},
  };
  std::int64_t t = kT0;
  for (const auto& [trigger, summary] : expected) {
    AlertPlanner p(TwoReceivers());
    r.id = "rec-" + trigger;
    r.trigger = trigger;
    t += kMin;
    const AlertBatch b = p.OnRecoveryStarted(r, t);
    REQUIRE(!b.entries.empty());
    const Notification n = Decode(b.entries[0]);
    CHECK(n.annotations.at("summary") == summary);
    CHECK(n.annotations.at("trigger") == trigger);
  }
}

TEST_CASE("a notification survives its JSON form; malformed payloads are named") {
  AlertPlanner p(TwoReceivers());
  const AlertBatch b = p.OnTransitions({Fire("restart-loop", "ads")}, kT0);
  const Notification n = Decode(b.entries[0]);
  CHECK(NotificationToJson(n) == b.entries[0].payload);
  CHECK(NotificationFromJson("[]").error().message == "notification payload is not a JSON object");
  auto bad = NotificationFromJson(
      R"({"status":"maybe","event":"","alertname":"a","job":"j","cluster":"c","severity":"critical",)"
      R"("labels":{},"annotations":{},"starts_ms":0,"ends_ms":0,"at_ms":0,"flink_ui":""})");
  CHECK(bad.error().message == "notification payload: status 'maybe' is not firing or resolved");
  CHECK(NotificationFromJson(R"({"status":"firing"})").error().message ==
        "notification payload: 'event' is missing or not a string");
  CHECK(Rfc3339(kT0 + 123) == "2025-11-21T22:00:00.123Z");
}

TEST_CASE("payloads have each receiver's shape") {
  AlertPlanner p(TwoReceivers());
  const Notification firing =
      Decode(p.OnTransitions({Fire("restart-loop", "ads")}, kT0).entries[0]);
  Notification resolved = firing;
  resolved.status = NotificationStatus::kResolved;
  resolved.ends_ms = kT0 + kMin;

  SUBCASE("generic webhook: Alertmanager's webhook payload, version 4") {
    auto d = Json(RenderWebhook(firing, "hook", "key-1"));
    for (const char* k :
         {"version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels",
          "commonLabels", "commonAnnotations", "externalURL", "alerts"}) {
      CHECK_MESSAGE(d.HasMember(k), k);
    }
    CHECK(Member(d, "version") == "4");
    CHECK(Member(d, "status") == "firing");
    CHECK(Member(d, "receiver") == "hook");
    CHECK(Member(d, "groupKey") ==
          "{}:{alertname=\"restart-loop\", cluster=\"yarn-a\", job=\"ads\"}");
    REQUIRE(d["alerts"].Size() == 1);
    const auto& a = d["alerts"][0];
    for (const char* k :
         {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}) {
      CHECK_MESSAGE(a.HasMember(k), k);
    }
    CHECK(Member(a, "startsAt") == "2025-11-21T22:00:00.000Z");
    CHECK(Member(a, "endsAt") == "0001-01-01T00:00:00Z");  // as Alertmanager sends firing alerts
    CHECK(Member(a, "fingerprint") == "key-1");
    CHECK(Member(a["labels"], "alertname") == "restart-loop");
    auto r = Json(RenderWebhook(resolved, "hook", "key-2"));
    CHECK(Member(r, "status") == "resolved");
    CHECK(Member(r["alerts"][0], "endsAt") == "2025-11-21T22:01:00.000Z");
  }
  SUBCASE("Alertmanager: an array of postable alerts; endsAt only when resolved") {
    auto d = Json(RenderAlertmanager(firing));
    REQUIRE(d.IsArray());
    REQUIRE(d.Size() == 1);
    CHECK(Member(d[0]["labels"], "alertname") == "restart-loop");
    CHECK(Member(d[0]["annotations"], "instance") == "agent-host-1");
    CHECK_FALSE(d[0]["labels"].HasMember("instance"));
    CHECK_FALSE(d[0].HasMember("endsAt"));
    CHECK(Member(d[0], "generatorURL") == "http://jm-a:8081/#/job/a1b2c3/overview");
    auto r = Json(RenderAlertmanager(resolved));
    CHECK(Member(r[0], "endsAt") == "2025-11-21T22:01:00.000Z");
  }
  SUBCASE("PagerDuty Events v2: trigger and resolve with one stable dedup_key") {
    auto t = Json(RenderPagerDuty(firing, "R0UT1NGKEY"));
    CHECK(Member(t, "routing_key") == "R0UT1NGKEY");
    CHECK(Member(t, "event_action") == "trigger");
    CHECK(Member(t, "dedup_key") == "flinkguard/restart-loop/yarn-a/ads");
    CHECK(Member(t["payload"], "severity") == "critical");
    CHECK(Member(t["payload"], "source") == "yarn-a");
    CHECK(Member(t["payload"], "component") == "ads");
    CHECK(Member(t["payload"]["custom_details"], "reason") == "increase(restarts, 10m) = 7 > 5");
    CHECK(Member(t["links"][0], "href") == "http://jm-a:8081/#/job/a1b2c3/overview");
    auto r = Json(RenderPagerDuty(resolved, "R0UT1NGKEY"));
    CHECK(Member(r, "event_action") == "resolve");
    CHECK(Member(r, "dedup_key") == "flinkguard/restart-loop/yarn-a/ads");
    CHECK_FALSE(r.HasMember("payload"));
    CHECK(std::string(PagerDutySeverity(Severity::kInfo)) == "info");
  }
  SUBCASE("Slack: text as the fallback, blocks with the diagnosis") {
    auto d = Json(RenderSlack(firing));
    CHECK(Member(d, "text").rfind("[FIRING] [critical] restart-loop firing for ads", 0) == 0);
    REQUIRE(d["blocks"].IsArray());
    const std::string details = Member(d["blocks"][1]["text"], "text");
    CHECK(details.find("*reason*: increase(restarts, 10m) = 7 > 5") != std::string::npos);
    CHECK(details.find("<http://jm-a:8081/#/job/a1b2c3/overview|Flink UI>") != std::string::npos);
  }
}

TEST_CASE("HTTP statuses map to delivered, retried or permanent") {
  auto reply = [](long status, std::optional<std::chrono::seconds> after = {}) {
    return Result<AlertHttpResponse>(AlertHttpResponse{status, "body", after});
  };
  CHECK(OutcomeOfHttp("r", reply(200)).kind == SendOutcome::Kind::kDelivered);
  CHECK(OutcomeOfHttp("r", reply(202)).kind == SendOutcome::Kind::kDelivered);
  for (long s : {408L, 429L, 500L, 503L}) {
    CHECK(OutcomeOfHttp("r", reply(s)).kind == SendOutcome::Kind::kRetry);
  }
  for (long s : {400L, 401L, 403L, 404L, 410L, 422L}) {
    CHECK(OutcomeOfHttp("r", reply(s)).kind == SendOutcome::Kind::kPermanent);
  }
  CHECK(OutcomeOfHttp("r", reply(429, std::chrono::seconds(7))).retry_after ==
        std::chrono::seconds(7));
  CHECK(OutcomeOfHttp("receiver x", reply(400)).error == "receiver x: HTTP 400: body");
  auto refused = Result<AlertHttpResponse>(tl::unexpected(Error::Transient("refused")));
  CHECK(OutcomeOfHttp("r", refused).kind == SendOutcome::Kind::kRetry);
}

namespace {

// A receiver that answers from a script of outcomes and records what it was sent.
class ScriptedNotifier final : public Notifier {
 public:
  std::deque<SendOutcome> script;
  std::vector<std::string> keys;
  SendOutcome Send(const Notification&, const std::string& key) override {
    keys.push_back(key);
    REQUIRE_FALSE(script.empty());
    SendOutcome o = script.front();
    script.pop_front();
    return o;
  }
};

OutboxEntry Entry(const std::string& receiver, const std::string& key, std::int64_t at) {
  AlertPlanner p(TwoReceivers());
  OutboxEntry e = p.OnTransitions({Fire("restart-loop", "ads")}, at).entries[0];
  e.receiver = receiver;
  e.idempotency_key = key;
  return e;
}

}  // namespace

TEST_CASE("delivery retries with backoff and jitter, honours Retry-After, dead-letters 4xx") {
  auto store = SqliteHistoryStore::Open(":memory:");
  REQUIRE(store.has_value());
  SqliteHistoryStore& outbox = **store;
  ScriptedNotifier hook;
  double jitter = 0.0;
  OutboxDelivery d(outbox, {{"hook", &hook}}, [&] { return jitter; });
  CHECK(d.Backoff(1) == 1'000);  // 2 s * 0.5
  jitter = 0.999;
  CHECK(d.Backoff(1) == 1'999);
  CHECK(d.Backoff(3) == 7'996);
  CHECK(d.Backoff(30) == 299'850);  // capped at 5 min
  jitter = 0.0;

  REQUIRE(outbox.Enqueue(Entry("hook", "k1", kT0)).value());
  CHECK_FALSE(outbox.Enqueue(Entry("hook", "k1", kT0)).value());  // same key: no second entry
  REQUIRE(outbox.Enqueue(Entry("gone", "k2", kT0)).value());

  hook.script = {SendOutcome::Retry("HTTP 500")};
  CHECK(d.DeliverDue(kT0).value() == 2);
  CHECK(d.Counts().attempts.at({"gone", "dead"}) == 1);  // receiver no longer configured
  CHECK(d.Counts().attempts.at({"hook", "retry"}) == 1);
  CHECK(d.Counts().pending == 1);
  CHECK(d.DeliverDue(kT0 + 999).value() == 0);  // backoff 1 s
  hook.script = {SendOutcome::Retry("HTTP 429", std::chrono::seconds(120))};
  CHECK(d.DeliverDue(kT0 + 1'000).value() == 1);
  CHECK(outbox.Due(kT0 + 1'000 + 119'999, 10)->empty());  // Retry-After beats the 2 s backoff
  hook.script = {SendOutcome::Delivered()};
  CHECK(d.DeliverDue(kT0 + 1'000 + 120'000).value() == 1);
  CHECK(hook.keys == std::vector<std::string>{"k1", "k1", "k1"});  // one key on every attempt
  CHECK(d.Counts().attempts.at({"hook", "delivered"}) == 1);
  CHECK(d.Counts().pending == 0);
  CHECK(d.Counts().oldest_created_ms == 0);

  REQUIRE(outbox.Enqueue(Entry("hook", "k3", kT0)).value());
  hook.script = {SendOutcome::Permanent("receiver hook: HTTP 400: invalid_payload")};
  CHECK(d.DeliverDue(kT0 + 200'000).value() == 1);
  CHECK(outbox.Due(kT0 + 100 * 3'600'000LL, 10)->empty());  // dead: never again
  CHECK(d.Counts().attempts.at({"hook", "dead"}) == 1);
}

TEST_CASE("a transient failure older than give_up_after is dead-lettered with its error") {
  auto store = SqliteHistoryStore::Open(":memory:");
  REQUIRE(store.has_value());
  ScriptedNotifier hook;
  std::vector<std::string> failures;
  DeliveryOptions options;
  options.give_up_after_ms = 3'600'000;
  options.on_failure = [&](const OutboxEntry& e, const std::string& outcome,
                           const std::string& error) {
    failures.push_back(e.idempotency_key + " " + outcome + " " + error);
  };
  OutboxDelivery d(
      **store, {{"hook", &hook}}, [] { return 0.5; }, options);
  REQUIRE((*store)->Enqueue(Entry("hook", "k1", kT0)).value());
  hook.script = {SendOutcome::Retry("HTTP 503"), SendOutcome::Retry("HTTP 503")};
  CHECK(d.DeliverDue(kT0).value() == 1);
  CHECK(d.DeliverDue(kT0 + 3'600'000).value() == 1);
  CHECK(failures == std::vector<std::string>{"k1 retry HTTP 503",
                                             "k1 dead gave up after 2 attempts: HTTP 503"});
  CHECK((*store)->PendingDepth()->pending == 0);
}
