// AgentMetrics and AdminServer without the daemon: the metrics' label sets and their bookkeeping
// (a job that disappears leaves the gauges, rule states are sparse), and the HTTP endpoint on a
// real civetweb server on 127.0.0.1 (an ephemeral port): routing, readiness, JSON errors, and the
// bearer token guarding the mutating endpoints (nothing reaches the loop without it).

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <thread>

#include "agent/admin/admin_server.h"
#include "agent/admin/metrics.h"
#include "tests/support/test_support.h"

namespace flinkguard {
namespace {

using testing::HttpCall;

JobSnapshot Job(const std::string& name, JobStatus status, bool all_running = true) {
  JobSnapshot s;
  s.cluster = "cluster-a";
  s.job_id = name + "-id";
  s.name = name;
  s.status.SetFresh(status, 1000);
  s.all_tasks_running.SetFresh(all_running, 1000);
  return s;
}

Observation Obs(std::int64_t at_ms, std::vector<JobSnapshot> jobs) {
  Observation o;
  o.at_ms = at_ms;
  ClusterSnapshot c;
  c.name = "cluster-a";
  c.reachable = true;
  o.clusters.push_back(c);
  o.jobs = std::move(jobs);
  return o;
}

bool Has(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

TEST_CASE("metrics: per-job gauges follow the observed jobs; a job that disappears is removed") {
  AgentMetrics m("1.2.3", "abc1234");
  const std::vector<RequestSample> requests = {{"cluster-a", "/jobs/overview", 0.01, false},
                                               {"cluster-a", "/jobs/{id}", 0, true},
                                               {"", "signal:lag", 0.02, true}};
  m.ObserveCycle(Obs(10'000, {Job("a", JobStatus::kRunning), Job("b", JobStatus::kRunning, false)}),
                 {}, {}, requests, {"a", "c"}, 0.5);
  std::string text = m.Serialize();
  CHECK(Has(text, "flinkguard_build_info{revision=\"abc1234\",version=\"1.2.3\"} 1"));
  CHECK(Has(text, "flinkguard_job_up{job_name=\"a\"} 1"));
  CHECK(Has(text, "flinkguard_job_healthy{job_name=\"a\"} 1"));
  CHECK(Has(text, "flinkguard_job_up{job_name=\"b\"} 1"));
  CHECK(Has(text, "flinkguard_job_healthy{job_name=\"b\"} 0"));  // a task not running
  CHECK(Has(text, "flinkguard_job_up{job_name=\"c\"} 0"));       // in the catalog, not observed
  CHECK(Has(text, "flinkguard_jobs{cluster=\"cluster-a\",state=\"RUNNING\"} 2"));
  CHECK(Has(text, "flinkguard_scrape_errors_total{cluster=\"cluster-a\",endpoint=\"/jobs/{id}\"} 1"));
  CHECK(Has(text,
            "flinkguard_scrape_duration_seconds_count{cluster=\"cluster-a\",endpoint=\"/jobs/"
            "overview\"} 1"));
  CHECK(Has(text, "flinkguard_tsdb_query_errors_total{signal=\"lag\"} 1"));
  CHECK(Has(text, "flinkguard_cycles_total 1"));
  CHECK(Has(text, "flinkguard_leader 1"));

  // Next cycle: b is gone (not observed, not in the catalog); a failed.
  RuleEvaluation e;
  RuleTransition t;
  t.rule = "job-failed";
  t.job = "a";
  t.from = RuleState::kInactive;
  t.to = RuleState::kFiring;
  t.at_ms = 25'000;
  e.transitions.push_back(t);
  Finding f;
  f.rule = "job-failed";
  f.job = "a";
  e.findings.push_back(f);
  PlanOutput d;
  d.refusals.push_back(Refusal{"a", "max_recoveries reached", true, RefusalCause::kGaveUp});
  m.ObserveCycle(Obs(25'000, {Job("a", JobStatus::kFailed)}), e, d, {}, {"a", "c"}, 0.5);
  text = m.Serialize();
  CHECK_FALSE(Has(text, "job_name=\"b\""));
  CHECK(Has(text, "flinkguard_job_up{job_name=\"a\"} 0"));
  CHECK(Has(text, "flinkguard_jobs{cluster=\"cluster-a\",state=\"RUNNING\"} 0"));
  CHECK(Has(text, "flinkguard_jobs{cluster=\"cluster-a\",state=\"FAILED\"} 1"));
  CHECK(Has(text, "flinkguard_rule_state{job_name=\"a\",rule=\"job-failed\",state=\"firing\"} 1"));
  CHECK(Has(text, "flinkguard_recoveries_refused{cause=\"gave-up\"} 1"));
  // Healthy at 10 s, firing at 25 s: 15 s to detect.
  CHECK(Has(text, "flinkguard_time_to_detect_seconds_sum{rule=\"job-failed\"} 15"));
  CHECK(Has(text, "flinkguard_time_to_detect_seconds_count{rule=\"job-failed\"} 1"));

  // Resolved: the pair leaves the rule-state gauge.
  RuleEvaluation resolved;
  t.from = RuleState::kFiring;
  t.to = RuleState::kInactive;
  resolved.transitions.push_back(t);
  m.ObserveCycle(Obs(30'000, {Job("a", JobStatus::kRunning)}), resolved, {}, {}, {"a"}, 0.5);
  text = m.Serialize();
  CHECK_FALSE(Has(text, "flinkguard_rule_state{"));
  CHECK(Has(text, "flinkguard_recoveries_refused{cause=\"gave-up\"} 0"));
  CHECK_FALSE(Has(text, "job_name=\"c\""));  // left the catalog

  RecoveryRecord r;
  r.strategy = Strategy::kCheckpoint;
  r.outcome = RecoveryAttempt::Outcome::kSucceeded;
  r.started_ms = 40'000;
  r.ended_ms = 52'000;
  m.RecoveryEnded(r);
  r.dry_run = true;
  m.RecoveryEnded(r);  // not counted
  r.dry_run = false;
  r.trigger = "stale-copy";  // a cancel: strategy none, no time to recover
  m.RecoveryEnded(r);
  m.CountNotification("oncall", "delivered");
  m.SetLeader(false);
  m.SetOutboxDepth(3, 12.5);
  text = m.Serialize();
  CHECK(Has(text, "flinkguard_recoveries_total{outcome=\"succeeded\",strategy=\"checkpoint\"} 1"));
  CHECK(Has(text, "flinkguard_time_to_recover_seconds_sum{strategy=\"checkpoint\"} 12"));
  CHECK(Has(text, "flinkguard_time_to_recover_seconds_count{strategy=\"checkpoint\"} 1"));
  CHECK(Has(text, "flinkguard_recoveries_total{outcome=\"succeeded\",strategy=\"none\"} 1"));
  CHECK(Has(text, "flinkguard_notifications_total{outcome=\"delivered\",receiver=\"oncall\"} 1"));
  CHECK(Has(text, "flinkguard_leader 0"));
  CHECK(Has(text, "flinkguard_outbox_pending_notifications 3"));
  CHECK(Has(text, "flinkguard_outbox_oldest_age_seconds 12.5"));
}

TEST_CASE("metrics: the coordination session one-hot and its counts as counters") {
  AgentMetrics m("1.2.3", "abc1234");
  std::string text = m.Serialize();
  CHECK(Has(text, "flinkguard_ha_session{state=\"local\"} 1"));
  CoordinatorStatus st;
  st.session = SessionState::kConnected;
  st.fencing_rejections = 2;
  st.lock_waits = 1;
  st.last_lock_wait_ms = 1500;
  st.sessions_lost = 1;
  m.SetCoordination(st);
  st.session = SessionState::kSuspended;
  st.fencing_rejections = 5;
  m.SetCoordination(st);
  text = m.Serialize();
  CHECK(Has(text, "flinkguard_ha_session{state=\"suspended\"} 1"));
  CHECK(Has(text, "flinkguard_ha_session{state=\"connected\"} 0"));
  CHECK(Has(text, "flinkguard_ha_session{state=\"local\"} 0"));
  CHECK(Has(text, "flinkguard_ha_fencing_rejections_total 5"));
  CHECK(Has(text, "flinkguard_ha_lock_waits_total 1"));
  CHECK(Has(text, "flinkguard_ha_last_lock_wait_seconds 1.5"));
  CHECK(Has(text, "flinkguard_ha_sessions_lost_total 1"));
  // A new coordinator (a reload) counts from 0 again: its counts add, never subtract.
  m.SetCoordination(CoordinatorStatus{SessionState::kConnected, false, "", 1, 0, 0, 0, 0});
  CHECK(Has(m.Serialize(), "flinkguard_ha_fencing_rejections_total 6"));
}

TEST_CASE("ConstantTimeEquals compares whole strings") {
  CHECK(ConstantTimeEquals("secret", "secret"));
  CHECK_FALSE(ConstantTimeEquals("secreT", "secret"));
  CHECK_FALSE(ConstantTimeEquals("secret", "secret2"));
  CHECK_FALSE(ConstantTimeEquals("", "secret"));
  CHECK_FALSE(ConstantTimeEquals(std::string("secret\0x", 8), "secret"));
}

struct Server {
  AgentMetrics metrics{"1.0", "r"};
  std::unique_ptr<AdminServer> server;
  std::string base;

  explicit Server(std::optional<Secret> token) {
    AdminServer::Options o;
    o.listen = HostPort{"127.0.0.1", 0};
    o.token = std::move(token);
    o.command_timeout = std::chrono::milliseconds(2000);
    auto s = AdminServer::Start(std::move(o), metrics);
    REQUIRE(s.has_value());
    server = std::move(*s);
    REQUIRE(server->port() > 0);
    base = "http://127.0.0.1:" + std::to_string(server->port());
  }
};

std::string ErrorOf(const testing::HttpReply& r) {
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  if (!d.IsObject() || !d.HasMember("error") || !d["error"].IsString()) return "<no error>";
  return d["error"].GetString();
}

TEST_CASE("admin server: health, readiness, read API and JSON errors") {
  Server s(std::nullopt);
  CHECK(HttpCall("GET", s.base + "/healthz").status == 200);
  auto ready = HttpCall("GET", s.base + "/readyz");
  CHECK(ready.status == 503);
  CHECK(Has(ErrorOf(ready), "first cycle"));
  CHECK(HttpCall("GET", s.base + "/api/v1/jobs").status == 503);
  auto metrics = HttpCall("GET", s.base + "/metrics");
  CHECK(metrics.status == 200);
  CHECK(Has(metrics.content_type, "text/plain"));
  CHECK(Has(metrics.body, "flinkguard_build_info"));

  auto view = std::make_shared<AdminView>();
  view->not_ready = "the history store is not available";
  view->observation = Obs(5'000, {Job("a", JobStatus::kRunning)});
  view->catalog = {"a", "b"};
  s.server->Publish(view);
  ready = HttpCall("GET", s.base + "/readyz");
  CHECK(ready.status == 503);
  CHECK(ErrorOf(ready) == "the history store is not available");
  auto ok_view = std::make_shared<AdminView>(*view);
  ok_view->not_ready.clear();
  ok_view->rule_states.push_back({"slow", "a", "cluster-a", "pending", 4'000, "lag > 10"});
  s.server->Publish(ok_view);
  CHECK(HttpCall("GET", s.base + "/readyz").status == 200);

  auto jobs = HttpCall("GET", s.base + "/api/v1/jobs");
  REQUIRE(jobs.status == 200);
  rapidjson::Document d;
  d.Parse(jobs.body.c_str());
  REQUIRE(d.IsObject());
  REQUIRE(d["jobs"].Size() == 2);
  CHECK(std::string(d["jobs"][0]["name"].GetString()) == "a");
  CHECK(d["jobs"][0]["up"].GetBool());
  CHECK(d["jobs"][0]["rules"][0]["state"].GetString() == std::string("pending"));
  CHECK(d["jobs"][1]["state"].IsNull());  // b: in the catalog, not observed

  auto one = HttpCall("GET", s.base + "/api/v1/jobs/a");
  REQUIRE(one.status == 200);
  d.Parse(one.body.c_str());
  REQUIRE(d.IsObject());
  CHECK(d["instances"].Size() == 1);
  CHECK(HttpCall("GET", s.base + "/api/v1/jobs/nope").status == 404);
  CHECK(HttpCall("GET", s.base + "/api/v1/rules").status == 200);
  CHECK(HttpCall("GET", s.base + "/no/such").status == 404);
  CHECK(HttpCall("DELETE", s.base + "/metrics").status == 405);
  CHECK(HttpCall("GET", s.base + "/api/v1/jobs/a/recover").status == 405);
  auto bad_since = HttpCall("GET", s.base + "/api/v1/history?since=yesterday");
  CHECK(bad_since.status == 400);
  CHECK(Has(ErrorOf(bad_since), "since"));
  CHECK(HttpCall("GET", s.base + "/api/v1/history").status == 503);  // no history file given
}

TEST_CASE("admin server: mutating endpoints are off without a token") {
  Server s(std::nullopt);
  auto r = HttpCall("POST", s.base + "/api/v1/jobs/a/recover", "",
                    {"Authorization: Bearer anything"});
  CHECK(r.status == 403);
  CHECK(Has(ErrorOf(r), "admin_token_file"));
  CHECK(s.server->ServeCommands([](const AdminCommand&) { return AdminReply{}; }) == 0);
}

TEST_CASE("admin server: a missing or wrong token gets 401 and nothing reaches the loop") {
  Server s(Secret("right-token", "test"));
  std::atomic<int> handled{0};
  std::atomic<bool> stop{false};
  AdminCommand seen;
  std::mutex seen_mu;
  // The loop: answers commands as the daemon does, on its own thread.
  std::thread loop([&] {
    while (!stop.load()) {
      s.server->ServeCommands([&](const AdminCommand& c) {
        ++handled;
        std::lock_guard lock(seen_mu);
        seen = c;
        return AdminReply{202, R"({"status":"started"})"};
      });
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  const std::string url = s.base + "/api/v1/jobs/a/recover";
  CHECK(HttpCall("POST", url).status == 401);
  CHECK(HttpCall("POST", url, "", {"Authorization: Bearer wrong-token"}).status == 401);
  CHECK(HttpCall("POST", url, "", {"Authorization: Bearer right-token2"}).status == 401);
  CHECK(HttpCall("POST", url, "", {"Authorization: Basic right-token"}).status == 401);
  CHECK(HttpCall("POST", s.base + "/api/v1/jobs/a/savepoint", "",
                 {"Authorization: Bearer wrong"})
            .status == 401);
  // Bad bodies are refused before the loop sees them.
  const std::vector<std::string> auth = {"Authorization: Bearer right-token"};
  CHECK(HttpCall("POST", url, "{not json", auth).status == 400);
  CHECK(HttpCall("POST", url, R"({"from": "yesterday"})", auth).status == 400);
  CHECK(HttpCall("POST", url, R"({"from": "auto", "force": true})", auth).status == 400);
  CHECK(HttpCall("POST", url, R"([1,2])", auth).status == 400);
  CHECK(handled.load() == 0);

  auto ok = HttpCall("POST", url, R"({"from": "savepoint"})", auth);
  CHECK(ok.status == 202);
  CHECK(handled.load() == 1);
  {
    std::lock_guard lock(seen_mu);
    CHECK(seen.kind == AdminCommand::Kind::kRecover);
    CHECK(seen.job == "a");
    CHECK(seen.from == "savepoint");
  }
  CHECK(HttpCall("POST", s.base + "/api/v1/jobs/a/savepoint", "", auth).status == 202);
  CHECK(handled.load() == 2);
  // A new token (reload) replaces the old one.
  s.server->SetToken(Secret("new-token", "test"));
  CHECK(HttpCall("POST", url, "", auth).status == 401);
  CHECK(HttpCall("POST", url, "", {"Authorization: Bearer new-token"}).status == 202);
  CHECK(handled.load() == 3);
  stop = true;
  loop.join();
}

TEST_CASE("admin server: a command the loop does not take in time is withdrawn, never run later") {
  Server s(Secret("t", "test"));
  auto r = HttpCall("POST", s.base + "/api/v1/jobs/a/recover", "", {"Authorization: Bearer t"},
                    std::chrono::milliseconds(10'000));
  CHECK(r.status == 503);
  CHECK(Has(ErrorOf(r), "nothing was done"));
  CHECK(s.server->ServeCommands([](const AdminCommand&) { return AdminReply{}; }) == 0);
}

TEST_CASE("admin server: a port in use is a clear error, not a crash") {
  Server first(std::nullopt);
  AgentMetrics m("1", "r");
  AdminServer::Options o;
  o.listen = HostPort{"127.0.0.1", static_cast<std::uint16_t>(first.server->port())};
  auto second = AdminServer::Start(std::move(o), m);
  REQUIRE_FALSE(second.has_value());
  CHECK(Has(second.error().message, "cannot listen on 127.0.0.1:"));
}

}  // namespace
}  // namespace flinkguard
