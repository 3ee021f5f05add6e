#include "rules/rule_engine.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using flinkguard::Action;
using flinkguard::ClusterSnapshot;
using flinkguard::CompiledRule;
using flinkguard::CompileRule;
using flinkguard::Duration;
using flinkguard::Finding;
using flinkguard::JobSnapshot;
using flinkguard::JobStatus;
using flinkguard::MatchesGlob;
using flinkguard::ReadSignal;
using flinkguard::RenderTemplate;
using flinkguard::RuleEngine;
using flinkguard::RuleEngineOptions;
using flinkguard::RuleEvaluation;
using flinkguard::RuleSpec;
using flinkguard::RuleState;
using flinkguard::RuleStatus;
using flinkguard::RuleTransition;
using flinkguard::Severity;
using flinkguard::Truth;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t kSec = 1000;
constexpr std::int64_t kMin = 60 * kSec;
constexpr std::int64_t kT0 = 1'700'000'000'000;

RuleSpec Rule(std::string name, std::string when, Duration for_duration = Duration(0),
              Duration keep_firing_for = Duration(0)) {
  RuleSpec r;
  r.name = std::move(name);
  r.when = std::move(when);
  r.for_duration = for_duration;
  r.keep_firing_for = keep_firing_for;
  r.severity = Severity::kCritical;
  r.action = Action::kRecover;
  return r;
}

RuleEngine Engine(const std::vector<RuleSpec>& specs, Duration interval = 10s,
                  const std::set<std::string>& custom = {}) {
  std::vector<CompiledRule> rules;
  for (const RuleSpec& s : specs) {
    auto r = CompileRule(s, custom);
    if (!r) FAIL("compile " << s.name << ": " << r.error().ToString());
    rules.push_back(std::move(*r));
  }
  RuleEngineOptions options;
  options.sample_interval = interval;
  return RuleEngine(std::move(rules), options);
}

// A healthy RUNNING job observed at `t`, every field fresh.
JobSnapshot Job(const std::string& name, std::int64_t t, JobStatus status = JobStatus::kRunning) {
  JobSnapshot s;
  s.cluster = "yarn-a";
  s.job_id = name + "-id1";
  s.name = name;
  s.observed_at_ms = t;
  s.start_time_ms = kT0 - 60 * kMin;
  s.status.SetFresh(status, t);
  s.all_tasks_running.SetFresh(status == JobStatus::kRunning, t);
  s.restarts.SetFresh(0, t);
  s.uptime_ms.SetFresh(t - s.start_time_ms, t);
  s.checkpoint_age_ms.SetFresh(30 * kSec, t);
  s.checkpoint_settings.SetFresh(flinkguard::CheckpointSettings{60 * kSec, 10 * kMin, 0, true}, t);
  s.checkpoints_completed.SetFresh(100, t);
  s.checkpoints_failed.SetFresh(0, t);
  s.checkpoint_duration_ms.SetFresh(2 * kSec, t);
  s.qps.SetFresh(1000, t);
  s.backpressure.SetFresh(0, t);
  s.lag.SetFresh(0, t);
  return s;
}

std::string Describe(const RuleEvaluation& ev) {
  std::ostringstream o;
  for (const auto& t : ev.transitions) {
    o << "T " << t.rule << " " << t.job << " " << t.job_id << " " << RuleStateName(t.from) << "->"
      << RuleStateName(t.to) << " @" << t.at_ms << " " << t.reason;
    for (const auto& [k, v] : t.labels) o << " " << k << "=" << v;
    o << "\n";
  }
  for (const auto& f : ev.findings) {
    o << "F " << f.rule << " " << f.job << " since " << f.firing_since_ms << " " << f.reason
      << "\n";
  }
  return o.str();
}

}  // namespace

TEST_CASE("status in [FAILED, CANCELED] fires at once with for 0, and resolves when it runs") {
  RuleEngine engine = Engine({Rule("job-failed", "status in [FAILED, CANCELED]")});
  auto ev = engine.Evaluate({Job("ads", kT0)}, kT0);
  CHECK(ev.transitions.empty());
  CHECK(ev.findings.empty());

  ev = engine.Evaluate({Job("ads", kT0 + 10 * kSec, JobStatus::kFailed)}, kT0 + 10 * kSec);
  REQUIRE(ev.transitions.size() == 1);
  const RuleTransition& t = ev.transitions[0];
  CHECK(t.from == RuleState::kInactive);
  CHECK(t.to == RuleState::kFiring);
  CHECK(t.job == "ads");
  CHECK(t.job_id == "ads-id1");
  CHECK(t.cluster == "yarn-a");
  CHECK(t.at_ms == kT0 + 10 * kSec);
  CHECK(t.severity == Severity::kCritical);
  CHECK(t.action == Action::kRecover);
  CHECK(t.reason == "status = FAILED in [FAILED, CANCELED]");
  REQUIRE(ev.findings.size() == 1);
  CHECK(ev.findings[0].firing_since_ms == kT0 + 10 * kSec);

  // Still failed: no transition, still a finding.
  ev = engine.Evaluate({Job("ads", kT0 + 20 * kSec, JobStatus::kFailed)}, kT0 + 20 * kSec);
  CHECK(ev.transitions.empty());
  REQUIRE(ev.findings.size() == 1);
  CHECK(ev.findings[0].firing_since_ms == kT0 + 10 * kSec);

  ev = engine.Evaluate({Job("ads", kT0 + 30 * kSec)}, kT0 + 30 * kSec);
  REQUIRE(ev.transitions.size() == 1);
  CHECK(ev.transitions[0].from == RuleState::kFiring);
  CHECK(ev.transitions[0].to == RuleState::kInactive);  // resolved
  CHECK(ev.transitions[0].reason == "status = RUNNING in [FAILED, CANCELED]");
  CHECK(ev.findings.empty());
}

TEST_CASE("checkpoint_age > 3 * checkpoint_interval with for 5m: pending, then firing") {
  RuleEngine engine =
      Engine({Rule("checkpoint-stale", "checkpoint_age > 3 * checkpoint_interval", 5min)});
  const auto stale = [](std::int64_t t) {
    JobSnapshot s = Job("ads", t);
    s.checkpoint_age_ms.SetFresh(4 * kMin, t);  // interval 1m: 4m > 3m
    return s;
  };
  auto ev = engine.Evaluate({stale(kT0)}, kT0);
  REQUIRE(ev.transitions.size() == 1);
  CHECK(ev.transitions[0].to == RuleState::kPending);
  CHECK(ev.transitions[0].reason ==
        "checkpoint_age = 4m > 3 * checkpoint_interval = 3m; fires if it holds for 5m");
  CHECK(ev.findings.empty());
  // `for` not yet elapsed: nothing changes for 4m50s.
  for (std::int64_t t = kT0 + 10 * kSec; t < kT0 + 5 * kMin; t += 10 * kSec) {
    ev = engine.Evaluate({stale(t)}, t);
    CHECK(ev.transitions.empty());
    CHECK(ev.findings.empty());
  }
  CHECK(engine.Explain("ads")[0].state == RuleState::kPending);
  CHECK(engine.Explain("ads")[0].active_since_ms == kT0);
  ev = engine.Evaluate({stale(kT0 + 5 * kMin)}, kT0 + 5 * kMin);
  REQUIRE(ev.transitions.size() == 1);
  CHECK(ev.transitions[0].from == RuleState::kPending);
  CHECK(ev.transitions[0].to == RuleState::kFiring);
  CHECK(ev.transitions[0].reason ==
        "checkpoint_age = 4m > 3 * checkpoint_interval = 3m; held for 5m");
  REQUIRE(ev.findings.size() == 1);
  CHECK(ev.findings[0].firing_since_ms == kT0 + 5 * kMin);
}

TEST_CASE("a pending rule whose condition stops holding goes back to inactive, never firing") {
  RuleEngine engine = Engine({Rule("not-running", "not all_tasks_running", 1min)});
  JobSnapshot s = Job("ads", kT0);
  s.all_tasks_running.SetFresh(false, kT0);
  CHECK(engine.Evaluate({s}, kT0).transitions.at(0).to == RuleState::kPending);
  auto ev = engine.Evaluate({Job("ads", kT0 + 30 * kSec)}, kT0 + 30 * kSec);
  REQUIRE(ev.transitions.size() == 1);
  CHECK(ev.transitions[0].from == RuleState::kPending);
  CHECK(ev.transitions[0].to == RuleState::kInactive);
  CHECK(ev.transitions[0].reason == "not (all_tasks_running = true)");
  // Holding again restarts the `for` clock.
  s.all_tasks_running.SetFresh(false, kT0 + 40 * kSec);
  engine.Evaluate({s}, kT0 + 40 * kSec);
  s.all_tasks_running.SetFresh(false, kT0 + 90 * kSec);
  CHECK(engine.Evaluate({s}, kT0 + 90 * kSec).transitions.empty());  // 50s of 1m
  s.all_tasks_running.SetFresh(false, kT0 + 100 * kSec);
  CHECK(engine.Evaluate({s}, kT0 + 100 * kSec).transitions.at(0).to == RuleState::kFiring);
}

TEST_CASE("keep_firing_for: a firing rule resolves only after its condition is false that long") {
  RuleEngine engine = Engine({Rule("backpressured", "backpressure > 0.5", Duration(0), 2min)});
  const auto bp = [](std::int64_t t, double v) {
    JobSnapshot s = Job("ads", t);
    s.backpressure.SetFresh(v, t);
    return s;
  };
  CHECK(engine.Evaluate({bp(kT0, 0.9)}, kT0).transitions.at(0).to == RuleState::kFiring);
  // False for 1m, then true again: the keep clock restarts.
  CHECK(engine.Evaluate({bp(kT0 + 1 * kMin, 0.1)}, kT0 + 1 * kMin).transitions.empty());
  CHECK(engine.Evaluate({bp(kT0 + 2 * kMin, 0.1)}, kT0 + 2 * kMin).findings.size() == 1);
  CHECK(engine.Evaluate({bp(kT0 + 3 * kMin, 0.8)}, kT0 + 3 * kMin).transitions.empty());
  CHECK(engine.Evaluate({bp(kT0 + 4 * kMin, 0.1)}, kT0 + 4 * kMin).transitions.empty());
  auto ev = engine.Evaluate({bp(kT0 + 5 * kMin, 0.1)}, kT0 + 5 * kMin);
  CHECK(ev.transitions.empty());
  REQUIRE(ev.findings.size() == 1);
  ev = engine.Evaluate({bp(kT0 + 6 * kMin, 0.1)}, kT0 + 6 * kMin);
  REQUIRE(ev.transitions.size() == 1);
  CHECK(ev.transitions[0].to == RuleState::kInactive);
  CHECK(ev.transitions[0].reason == "backpressure = 0.1 > 0.5; false for 2m (keep_firing_for 2m)");
  CHECK(ev.findings.empty());
}

TEST_CASE("unknown data never fires: an inactive rule reports unknown, then fires on fresh data") {
  RuleEngine engine = Engine({Rule("job-failed", "status == FAILED")});
  engine.Evaluate({Job("ads", kT0)}, kT0);
  // The cluster is unreachable; the last status (FAILED, say) is kept but stale.
  JobSnapshot s = Job("ads", kT0 + 10 * kSec, JobStatus::kFailed);
  s.status.MarkStale("cluster yarn-a unreachable: connection refused");
  auto ev = engine.Evaluate({s}, kT0 + 10 * kSec);
  REQUIRE(ev.transitions.size() == 1);
  CHECK(ev.transitions[0].from == RuleState::kInactive);
  CHECK(ev.transitions[0].to == RuleState::kUnknown);
  CHECK(ev.transitions[0].reason ==
        "status unknown: stale: cluster yarn-a unreachable: connection refused");
  CHECK(ev.findings.empty());
  const RuleStatus st = engine.Explain("ads")[0];
  CHECK(st.state == RuleState::kUnknown);
  CHECK_FALSE(st.data_known);
  CHECK(st.truth == Truth::kUnknown);

  ev = engine.Evaluate({Job("ads", kT0 + 20 * kSec, JobStatus::kFailed)}, kT0 + 20 * kSec);
  REQUIRE(ev.transitions.size() == 1);
  CHECK(ev.transitions[0].from == RuleState::kUnknown);
  CHECK(ev.transitions[0].to == RuleState::kFiring);
  CHECK(ev.findings.size() == 1);
}

TEST_CASE("unknown data never resolves: a firing rule stays firing, marked, until data says so") {
  RuleEngine engine = Engine({Rule("job-failed", "status == FAILED")});
  engine.Evaluate({Job("ads", kT0, JobStatus::kFailed)}, kT0);
  for (int i = 1; i <= 30; ++i) {
    const std::int64_t t = kT0 + i * (10 * kSec);
    JobSnapshot s = Job("ads", t);  // RUNNING, but nobody knows: stale
    s.status.MarkStale("cluster yarn-a unreachable");
    const auto ev = engine.Evaluate({s}, t);
    CHECK(ev.transitions.empty());
    REQUIRE(ev.findings.size() == 1);
    CHECK(ev.findings[0].firing_since_ms == kT0);
    CHECK(ev.findings[0].reason ==
          "data unknown now (status unknown: stale: cluster yarn-a unreachable); last known: "
          "status = FAILED == FAILED");
  }
  const RuleStatus st = engine.Explain("ads")[0];
  CHECK(st.state == RuleState::kFiring);
  CHECK_FALSE(st.data_known);
  const auto ev = engine.Evaluate({Job("ads", kT0 + 310 * kSec)}, kT0 + 310 * kSec);
  REQUIRE(ev.transitions.size() == 1);
  CHECK(ev.transitions[0].from == RuleState::kFiring);
  CHECK(ev.transitions[0].to == RuleState::kInactive);
}

TEST_CASE("a pending rule with unknown data does not fire; it fires on the next known true") {
  RuleEngine engine = Engine({Rule("slow", "checkpoint_duration > 1m", 1min)});
  const auto slow = [](std::int64_t t, bool stale) {
    JobSnapshot s = Job("ads", t);
    s.checkpoint_duration_ms.SetFresh(2 * kMin, t);
    if (stale) s.checkpoint_duration_ms.MarkStale("metrics request timed out");
    return s;
  };
  CHECK(engine.Evaluate({slow(kT0, false)}, kT0).transitions.at(0).to == RuleState::kPending);
  for (std::int64_t t = kT0 + 10 * kSec; t <= kT0 + 3 * kMin; t += 10 * kSec) {
    const auto ev = engine.Evaluate({slow(t, true)}, t);
    CHECK(ev.transitions.empty());
    CHECK(ev.findings.empty());
  }
  CHECK(engine.Explain("ads")[0].state == RuleState::kPending);
  const auto ev = engine.Evaluate({slow(kT0 + 190 * kSec, false)}, kT0 + 190 * kSec);
  REQUIRE(ev.transitions.size() == 1);
  CHECK(ev.transitions[0].to == RuleState::kFiring);
}

TEST_CASE("increase(restarts, 10m) > 5: unknown until ten minutes of history, then fires") {
  RuleEngine engine = Engine({Rule("restart-loop", "increase(restarts, 10m) > 5")});
  std::int64_t restarts = 0;
  RuleEvaluation ev;
  for (std::int64_t t = kT0; t <= kT0 + 10 * kMin; t += 10 * kSec) {
    if ((t - kT0) % (kMin) == 0 && t > kT0) ++restarts;  // one restart a minute
    JobSnapshot s = Job("ads", t);
    s.restarts.SetFresh(restarts, t);
    ev = engine.Evaluate({s}, t);
    if (t == kT0) {
      REQUIRE(ev.transitions.size() == 1);
      CHECK(ev.transitions[0].to == RuleState::kUnknown);
      CHECK(ev.transitions[0].reason ==
            "increase(restarts, 10m) unknown: the history of restarts covers 0s of 10m");
    } else if (t < kT0 + 10 * kMin) {
      CHECK(ev.transitions.empty());
    }
  }
  // At t0+10m the window is covered: 10 restarts.
  REQUIRE(ev.transitions.size() == 1);
  CHECK(ev.transitions[0].from == RuleState::kUnknown);
  CHECK(ev.transitions[0].to == RuleState::kFiring);
  CHECK(ev.transitions[0].reason == "increase(restarts, 10m) = 10 > 5");
}

TEST_CASE("a new instance resets the counter: increase counts its restarts, never negative") {
  RuleEngine engine = Engine({Rule("restart-loop", "increase(restarts, 1m) > 5")}, 10s);
  RuleEvaluation ev;
  for (int i = 0; i <= 6; ++i) {
    const std::int64_t t = kT0 + i * (10 * kSec);
    JobSnapshot s = Job("ads", t);
    s.restarts.SetFresh(40, t);
    ev = engine.Evaluate({s}, t);
  }
  CHECK(engine.Explain("ads")[0].reason == "increase(restarts, 1m) = 0 > 5");
  // The job was recovered: a new job id whose counter starts again and climbs to 6.
  for (int i = 7; i <= 9; ++i) {
    const std::int64_t t = kT0 + i * (10 * kSec);
    JobSnapshot s = Job("ads", t);
    s.job_id = "ads-id2";
    s.restarts.SetFresh(2 * std::int64_t{i - 6}, t);
    ev = engine.Evaluate({s}, t);
  }
  REQUIRE(ev.transitions.size() == 1);
  CHECK(ev.transitions[0].reason == "increase(restarts, 1m) = 6 > 5");
  CHECK(ev.transitions[0].job_id == "ads-id2");
}

TEST_CASE("several instances of a name: the live one, then the newest, is evaluated") {
  RuleEngine engine = Engine({Rule("job-failed", "status == FAILED")});
  JobSnapshot old_failed = Job("ads", kT0, JobStatus::kFailed);
  old_failed.job_id = "old";
  old_failed.start_time_ms = kT0 - kMin;
  JobSnapshot fresh = Job("ads", kT0);
  fresh.job_id = "new";
  fresh.start_time_ms = kT0 - 2 * kMin;  // even an older start loses to a live status
  auto ev = engine.Evaluate({old_failed, fresh}, kT0);
  CHECK(ev.transitions.empty());
  CHECK(engine.Explain("ads")[0].job_id == "new");
  // Two live copies (a stale copy on the old cluster came back): the newest start wins.
  JobSnapshot copy = Job("ads", kT0 + kMin, JobStatus::kFailed);
  copy.job_id = "copy";
  copy.status.SetFresh(JobStatus::kRestarting, kT0 + kMin);
  copy.start_time_ms = kT0;
  fresh.observed_at_ms = kT0 + kMin;
  engine.Evaluate({fresh, copy}, kT0 + kMin);
  CHECK(engine.Explain("ads")[0].job_id == "copy");
  // Only terminal instances: the newest one.
  JobSnapshot a = Job("ads", kT0 + 2 * kMin, JobStatus::kCanceled);
  a.job_id = "a";
  JobSnapshot b = Job("ads", kT0 + 2 * kMin, JobStatus::kFailed);
  b.job_id = "b";
  b.start_time_ms = a.start_time_ms + 1;
  ev = engine.Evaluate({a, b}, kT0 + 2 * kMin);
  REQUIRE(ev.transitions.size() == 1);
  CHECK(ev.transitions[0].job_id == "b");
}

TEST_CASE("job globs and per-job overrides decide which jobs a rule watches") {
  RuleSpec r = Rule("job-failed", "status == FAILED");
  r.jobs = {"ads-*", "billing-?"};
  r.disabled_for = {"ads-legacy"};
  RuleEngine engine = Engine({r, Rule("all", "status == FAILED")});
  std::vector<JobSnapshot> jobs;
  for (const char* name : {"ads-spend", "ads-legacy", "billing-1", "billing-10", "search"}) {
    jobs.push_back(Job(name, kT0, JobStatus::kFailed));
  }
  const auto ev = engine.Evaluate(jobs, kT0);
  std::set<std::string> fired;
  for (const Finding& f : ev.findings) {
    if (f.rule == "job-failed") fired.insert(f.job);
  }
  CHECK(fired == std::set<std::string>{"ads-spend", "billing-1"});
  CHECK(ev.findings.size() == 7);
  const RuleStatus legacy = engine.Explain("ads-legacy")[0];
  CHECK_FALSE(legacy.applies);
  CHECK(legacy.reason == "disabled for this job");
  const RuleStatus search = engine.Explain("search")[0];
  CHECK_FALSE(search.applies);
  CHECK(search.reason == "the rule's job patterns do not match this job");
  CHECK(engine.Explain("search")[1].applies);
  CHECK(engine.Explain("search")[1].state == RuleState::kFiring);
}

TEST_CASE("glob matching: * any run, ? one character, everything else literal") {
  CHECK(MatchesGlob("*", ""));
  CHECK(MatchesGlob("*", "anything"));
  CHECK(MatchesGlob("ads-*", "ads-"));
  CHECK(MatchesGlob("ads-*", "ads-spend"));
  CHECK_FALSE(MatchesGlob("ads-*", "ad-spend"));
  CHECK(MatchesGlob("*-agg*", "ads-aggregator"));
  CHECK(MatchesGlob("a*b*c", "aXbYbZc"));
  CHECK_FALSE(MatchesGlob("a*b*c", "aXbYbZ"));
  CHECK(MatchesGlob("billing-?", "billing-1"));
  CHECK_FALSE(MatchesGlob("billing-?", "billing-"));
  CHECK_FALSE(MatchesGlob("billing-?", "billing-10"));
  CHECK(MatchesGlob("exact", "exact"));
  CHECK_FALSE(MatchesGlob("exact", "exactly"));
  CHECK_FALSE(MatchesGlob("", "x"));
  CHECK(MatchesGlob("**a", "bba"));
  CHECK(MatchesGlob(std::string(200, '*') + "b", std::string(5000, 'a') + "b"));
}

TEST_CASE("labels and annotations render $job, $cluster, $value and friends") {
  RuleSpec r = Rule("restart-loop", "restarts > 5");
  r.labels = {{"team", "streaming"}, {"job", "{{ $job }}"}};
  r.annotations = {{"summary", "{{$job}} on {{ $cluster }} restarted {{ $value }} times"},
                   {"rule", "{{ $rule }}/{{ $severity }}/{{ $job_id }}"}};
  RuleEngine engine = Engine({r});
  JobSnapshot s = Job("ads", kT0);
  s.restarts.SetFresh(7, kT0);
  const auto ev = engine.Evaluate({s}, kT0);
  REQUIRE(ev.transitions.size() == 1);
  const RuleTransition& t = ev.transitions[0];
  CHECK(t.labels.at("team") == "streaming");
  CHECK(t.labels.at("job") == "ads");
  CHECK(t.annotations.at("summary") == "ads on yarn-a restarted 7 times");
  CHECK(t.annotations.at("rule") == "restart-loop/critical/ads-id1");
  REQUIRE(ev.findings.size() == 1);
  CHECK(ev.findings[0].annotations == t.annotations);
  CHECK(ev.findings[0].labels == t.labels);
  CHECK(RenderTemplate("{{ $x }} and {{ $job }}", {{"job", "j"}}) == "{{ $x }} and j");
  CHECK(RenderTemplate("no placeholders {", {}) == "no placeholders {");
}

TEST_CASE("rule compile errors name the field, the offset and what is wrong") {
  auto e = CompileRule(Rule("r", "checkpoint_age > 600000"), {});
  REQUIRE_FALSE(e.has_value());
  CHECK(e.error().field == "when");
  CHECK(e.error().offset == 17);
  CHECK(e.error().ToString() ==
        "when: column 18: checkpoint_age > 600000: cannot compare a duration with a number; "
        "write 10m");

  RuleSpec bad = Rule("r", "status == FAILED");
  bad.annotations = {{"summary", "job {{ $jobname }} failed"}};
  e = CompileRule(bad, {});
  REQUIRE_FALSE(e.has_value());
  CHECK(e.error().field == "annotations.summary");
  CHECK(e.error().offset == 4);
  CHECK(e.error().message.rfind("unknown template variable '$jobname'; variables are $job", 0) ==
        0);

  bad.annotations.clear();
  bad.labels = {{"x", "{{ $job"}};
  e = CompileRule(bad, {});
  REQUIRE_FALSE(e.has_value());
  CHECK(e.error().field == "labels.x");
  CHECK(e.error().message.rfind("unclosed '{{'", 0) == 0);

  bad.labels = {{"x", "{{ job }}"}};
  CHECK(CompileRule(bad, {}).error().message ==
        "expected a variable such as {{ $job }}; found '{{ job }}'");

  CHECK(CompileRule(Rule("r", "qps"), {}).error().message.rfind("a condition must be true", 0) ==
        0);
  CHECK(CompileRule(Rule("r", "kafka_lag > 5"), {"kafka_lag"}).has_value());
}

TEST_CASE("cluster_up comes from the cluster observation; without one it is unknown") {
  RuleEngine engine = Engine({Rule("cluster-down", "not cluster_up", 30s)});
  ClusterSnapshot up;
  up.name = "yarn-a";
  up.reachable = true;
  ClusterSnapshot down = up;
  down.reachable = false;
  CHECK(engine.Evaluate({Job("ads", kT0)}, kT0, {up}).transitions.empty());
  auto ev = engine.Evaluate({Job("ads", kT0 + 10 * kSec)}, kT0 + 10 * kSec, {down});
  CHECK(ev.transitions.at(0).to == RuleState::kPending);
  CHECK(ev.transitions.at(0).reason == "not (cluster_up = false); fires if it holds for 30s");
  engine.Evaluate({Job("ads", kT0 + 20 * kSec)}, kT0 + 20 * kSec, {down});
  ev = engine.Evaluate({Job("ads", kT0 + 40 * kSec)}, kT0 + 40 * kSec, {down});
  CHECK(ev.transitions.at(0).to == RuleState::kFiring);

  RuleEngine blind = Engine({Rule("cluster-down", "not cluster_up")});
  ev = blind.Evaluate({Job("ads", kT0)}, kT0);
  CHECK(ev.transitions.at(0).to == RuleState::kUnknown);
  CHECK(ev.transitions.at(0).reason ==
        "cluster_up unknown: cluster yarn-a not in this cycle's observation");
}

TEST_CASE("qps < 0.2 * avg_over_time(qps, 1h) for 10m: a drop after an hour of traffic") {
  RuleEngine engine = Engine({Rule("qps-drop", "qps < 0.2 * avg_over_time(qps, 1h)", 10min)}, 1min);
  RuleEvaluation ev;
  std::vector<RuleTransition> all;
  for (std::int64_t m = 0; m <= 90; ++m) {
    const std::int64_t t = kT0 + m * kMin;
    JobSnapshot s = Job("ads", t);
    s.qps.SetFresh(m < 70 ? 1000.0 : 50.0, t);
    ev = engine.Evaluate({s}, t);
    all.insert(all.end(), ev.transitions.begin(), ev.transitions.end());
  }
  // unknown for the first hour, inactive at 60m, pending at 70m, firing at 80m.
  REQUIRE(all.size() == 4);
  CHECK(all[0].to == RuleState::kUnknown);
  CHECK(all[0].at_ms == kT0);
  CHECK(all[1].to == RuleState::kInactive);
  CHECK(all[1].at_ms == kT0 + 60 * kMin);
  CHECK(all[2].to == RuleState::kPending);
  CHECK(all[2].at_ms == kT0 + 70 * kMin);
  CHECK(all[3].to == RuleState::kFiring);
  CHECK(all[3].at_ms == kT0 + 80 * kMin);
  CHECK(all[3].reason.rfind("qps = 50 < 0.2 * avg_over_time(qps, 1h) = ", 0) == 0);
  CHECK(ev.findings.size() == 1);
}

TEST_CASE("a job that disappears is frozen, then forgotten after forget_after") {
  RuleEngine engine =
      Engine({Rule("job-failed", "status == FAILED"), Rule("absent-lag", "absent(lag)")});
  engine.Evaluate({Job("ads", kT0, JobStatus::kFailed), Job("search", kT0)}, kT0);
  CHECK(engine.JobCount() == 2);
  auto ev = engine.Evaluate({Job("search", kT0 + 30 * kMin)}, kT0 + 30 * kMin);
  CHECK(ev.transitions.empty());  // absent(lag) is not evaluated for a job not seen
  REQUIRE(ev.findings.size() == 1);
  CHECK(ev.findings[0].job == "ads");
  CHECK(ev.findings[0].reason ==
        "job ads not observed for 30m; last known: status = FAILED == FAILED");
  ev = engine.Evaluate({Job("search", kT0 + 60 * kMin)}, kT0 + 60 * kMin);
  REQUIRE(ev.transitions.size() == 1);
  CHECK(ev.transitions[0].job == "ads");
  CHECK(ev.transitions[0].from == RuleState::kFiring);
  CHECK(ev.transitions[0].to == RuleState::kInactive);
  CHECK(ev.transitions[0].reason == "job ads not observed for 1h; forgotten");
  CHECK(ev.findings.empty());
  CHECK(engine.JobCount() == 1);
  CHECK_FALSE(engine.Explain("ads")[0].evaluated);
  CHECK(engine.Explain("ads")[0].reason == "not evaluated yet: job ads not observed");
}

TEST_CASE("checkpoint rules are unknown when checkpointing is disabled") {
  RuleEngine engine =
      Engine({Rule("checkpoint-stale", "checkpoint_age > 3 * checkpoint_interval")});
  JobSnapshot s = Job("ads", kT0);
  s.checkpoint_settings.SetFresh(flinkguard::CheckpointSettings{0, 0, 0, false}, kT0);
  s.checkpoint_age_ms.SetAbsent(kT0);
  const auto ev = engine.Evaluate({s}, kT0);
  REQUIRE(ev.transitions.size() == 1);
  CHECK(ev.transitions[0].to == RuleState::kUnknown);
  CHECK(ev.transitions[0].reason ==
        "checkpoint_age unknown: no completed checkpoint; checkpoint_interval unknown: "
        "checkpointing is disabled");
}

TEST_CASE("signals read from a snapshot: fresh values only, with why otherwise") {
  JobSnapshot s = Job("ads", kT0);
  CHECK(*ReadSignal(s, "checkpoint_interval", nullptr).value == 60'000);
  CHECK(*ReadSignal(s, "checkpoint_timeout", nullptr).value == 600'000);
  CHECK(*ReadSignal(s, "tolerable_failed_checkpoints", nullptr).value == 0);
  CHECK(*ReadSignal(s, "status", nullptr).value == static_cast<double>(JobStatus::kRunning));
  CHECK(*ReadSignal(s, "all_tasks_running", nullptr).value == 1);
  CHECK(*ReadSignal(s, "uptime", nullptr).value == 60 * kMin);
  s.lag.SetUnknown("no TSDB configured");
  CHECK(ReadSignal(s, "lag", nullptr).why_unknown == "no TSDB configured");
  s.status.SetUnknown("");
  s.status.freshness = flinkguard::Freshness::kFresh;
  s.status_text = "DEPLOYING";
  CHECK(ReadSignal(s, "status", nullptr).why_unknown ==
        "status 'DEPLOYING' is not a known job status");
  s.signals["kafka_lag_seconds"].SetFresh(12.5, kT0);
  CHECK(*ReadSignal(s, "kafka_lag_seconds", nullptr).value == 12.5);
  CHECK(ReadSignal(s, "other", nullptr).why_unknown == "no value from the TSDB for this job");
  s.qps.MarkStale("");
  CHECK(ReadSignal(s, "qps", nullptr).why_unknown == "stale");
}

TEST_CASE("custom TSDB signals feed rules per job") {
  RuleEngine engine =
      Engine({Rule("lagging", "kafka_lag_seconds > 300", 0s)}, 10s, {"kafka_lag_seconds"});
  JobSnapshot a = Job("ads", kT0);
  a.signals["kafka_lag_seconds"].SetFresh(900, kT0);
  JobSnapshot b = Job("search", kT0);
  const auto ev = engine.Evaluate({a, b}, kT0);
  REQUIRE(ev.transitions.size() == 2);
  CHECK(ev.transitions[0].job == "ads");
  CHECK(ev.transitions[0].to == RuleState::kFiring);
  CHECK(ev.transitions[1].job == "search");
  CHECK(ev.transitions[1].to == RuleState::kUnknown);
  CHECK(ev.transitions[1].reason ==
        "kafka_lag_seconds unknown: no value from the TSDB for this job");
}

TEST_CASE("histories stay bounded however long the engine runs") {
  RuleEngine engine = Engine({Rule("restart-loop", "increase(restarts, 10m) > 5"),
                              Rule("qps-drop", "qps < 0.2 * avg_over_time(qps, 1h)"),
                              Rule("job-failed", "status == FAILED")},
                             10s);
  std::vector<JobSnapshot> jobs;
  for (int cycle = 0; cycle < 2000; ++cycle) {  // 5.5 hours at 10 s
    const std::int64_t t = kT0 + cycle * (10 * kSec);
    jobs = {Job("a", t), Job("b", t)};
    engine.Evaluate(jobs, t);
  }
  // restarts: 62 samples, qps: 362, status: 1 — per job.
  CHECK(engine.SampleCount() == 2 * (62 + 362 + 1));
}

TEST_CASE("the wall clock going back restarts the histories: windows read unknown, not wrong") {
  RuleEngine engine = Engine({Rule("restart-loop", "increase(restarts, 1m) > 5")});
  for (int i = 0; i <= 6; ++i) {
    const std::int64_t t = kT0 + i * (10 * kSec);
    JobSnapshot s = Job("ads", t);
    s.restarts.SetFresh(3, t);
    engine.Evaluate({s}, t);
  }
  CHECK(engine.Explain("ads")[0].truth == Truth::kFalse);
  JobSnapshot s = Job("ads", kT0);
  s.restarts.SetFresh(100, kT0);
  const auto ev = engine.Evaluate({s}, kT0);  // one minute back
  REQUIRE(ev.transitions.size() == 1);
  CHECK(ev.transitions[0].to == RuleState::kUnknown);
}

TEST_CASE("Statuses lists every evaluated pair with its value and reason") {
  RuleEngine engine =
      Engine({Rule("job-failed", "status == FAILED"), Rule("restarts", "restarts >= 0")});
  engine.Evaluate({Job("b", kT0), Job("a", kT0)}, kT0);
  const std::vector<RuleStatus> all = engine.Statuses();
  REQUIRE(all.size() == 4);
  CHECK(all[0].job == "a");
  CHECK(all[0].rule == "job-failed");
  CHECK(all[0].state == RuleState::kInactive);
  CHECK(all[0].truth == Truth::kFalse);
  CHECK(all[1].state == RuleState::kFiring);
  CHECK(flinkguard::FormatValue(*all[1].value) == "0");
  CHECK(all[1].reason == "restarts = 0 >= 0");
  CHECK(all[1].evaluated_at_ms == kT0);
  CHECK(all[3].job == "b");
}

namespace {

// A random expression from the grammar: often well-typed, sometimes not.
std::string RandomExpr(std::mt19937_64& rng, int depth) {
  const auto pick = [&](const std::vector<std::string>& v) {
    return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
  };
  const std::vector<std::string> numbers{
      "restarts", "qps", "lag", "backpressure", "checkpoints_failed",
      "custom_x", "0",   "5",   "0.2",          "100"};
  const std::vector<std::string> durations{
      "uptime", "checkpoint_age", "checkpoint_interval", "checkpoint_duration", "10s", "5m", "1h"};
  const std::vector<std::string> windows{"30s", "1m", "5m", "10m"};
  const std::vector<std::string> cmp{" < ", " <= ", " > ", " >= ", " == ", " != "};
  const int kind = std::uniform_int_distribution<int>(0, depth > 3 ? 5 : 11)(rng);
  switch (kind) {
    case 0: return pick(numbers) + pick(cmp) + pick(numbers);
    case 1: return pick(durations) + pick(cmp) + pick(durations);
    case 2: return "status in [FAILED, RUNNING]";
    case 3:
      return "increase(" + pick({"restarts", "checkpoints_failed", "custom_x"}) + ", " +
             pick(windows) + ")" + pick(cmp) + pick(numbers);
    case 4:
      return pick({"avg_over_time", "min_over_time", "max_over_time"}) + "(qps, " + pick(windows) +
             ")" + pick(cmp) + pick(numbers) + " * " + pick(numbers);
    case 5:
      return pick({"absent(lag)", "all_tasks_running", "cluster_up", "true",
                   "changes(status, 1m) > 1", "rate(restarts, 1m) > 0.01"});
    case 6:
    case 7:
      return RandomExpr(rng, depth + 1) + pick({" and ", " or "}) + RandomExpr(rng, depth + 1);
    case 8: return "not (" + RandomExpr(rng, depth + 1) + ")";
    case 9:
      return pick(numbers) + pick({" + ", " - ", " * ", " / "}) + pick(numbers) + pick(cmp) +
             pick(numbers);
    case 10: return pick(durations) + " / " + pick(durations) + pick(cmp) + pick(numbers);
    default: return pick(numbers) + pick(cmp) + pick(durations);  // a type error
  }
}

// A snapshot whose fields are randomly fresh, stale, unknown or absent.
JobSnapshot RandomJob(std::mt19937_64& rng, const std::string& name, std::int64_t t) {
  JobSnapshot s = Job(name, t);
  std::uniform_int_distribution<int> coin(0, 9);
  std::uniform_int_distribution<int> small(0, 20);
  const auto vary = [&](auto& field, auto value) {
    const int c = coin(rng);
    field.SetFresh(value, t);
    if (c == 0) field.MarkStale("random outage");
    if (c == 1) field.SetUnknown("never seen");
    if (c == 2) field.SetAbsent(t);
  };
  vary(s.status, static_cast<JobStatus>(std::uniform_int_distribution<int>(0, 10)(rng)));
  vary(s.all_tasks_running, coin(rng) < 5);
  vary(s.restarts, static_cast<std::int64_t>(small(rng)));
  vary(s.uptime_ms, static_cast<std::int64_t>(small(rng)) * kMin);
  vary(s.checkpoint_age_ms, static_cast<std::int64_t>(small(rng)) * kMin);
  vary(s.checkpoints_failed, static_cast<std::int64_t>(small(rng)));
  vary(s.qps, static_cast<double>(small(rng)) / 4.0);
  vary(s.lag, static_cast<double>(small(rng)));
  vary(s.backpressure, static_cast<double>(small(rng)) / 20.0);
  vary(s.checkpoint_settings,
       flinkguard::CheckpointSettings{small(rng) * kSec, 10 * kMin, small(rng), true});
  if (coin(rng) < 7) s.signals["custom_x"].SetFresh(static_cast<double>(small(rng)), t);
  s.job_id = name + "-" + std::to_string(coin(rng) < 8 ? 1 : 2);
  return s;
}

}  // namespace

TEST_CASE("property: random rules over random snapshots never crash and are deterministic") {
  std::mt19937_64 rng(20240611);
  int compiled = 0;
  for (int round = 0; round < 40; ++round) {
    std::vector<RuleSpec> specs;
    for (int i = 0; i < 6; ++i) {
      RuleSpec r = Rule("r" + std::to_string(i), RandomExpr(rng, 0),
                        Duration(std::uniform_int_distribution<int>(0, 3)(rng) * 20'000),
                        Duration(std::uniform_int_distribution<int>(0, 2)(rng) * 20'000));
      r.annotations = {{"v", "{{ $value }} {{ $job }}"}};
      auto c = CompileRule(r, {"custom_x"});
      if (c) {
        ++compiled;
        specs.push_back(r);
      } else {
        CHECK_FALSE(c.error().message.empty());
      }
    }
    RuleEngine one = Engine(specs, 10s, {"custom_x"});
    RuleEngine two = Engine(specs, 10s, {"custom_x"});
    for (int cycle = 0; cycle < 60; ++cycle) {
      const std::int64_t t = kT0 + cycle * (10 * kSec);
      std::vector<JobSnapshot> jobs;
      for (const char* name : {"a", "b", "c"}) {
        if (std::uniform_int_distribution<int>(0, 19)(rng) != 0) {
          jobs.push_back(RandomJob(rng, name, t));
        }
      }
      const RuleEvaluation x = one.Evaluate(jobs, t);
      const RuleEvaluation y = two.Evaluate(jobs, t);
      REQUIRE(Describe(x) == Describe(y));
      for (const Finding& f : x.findings) CHECK_FALSE(f.reason.empty());
      for (const RuleTransition& tr : x.transitions) {
        CHECK(tr.from != tr.to);
        CHECK_FALSE(tr.reason.empty());
      }
    }
  }
  CHECK(compiled > 100);  // the generator mostly produces valid rules
}

TEST_CASE("property: arbitrary text never crashes the compiler, and errors point inside it") {
  std::mt19937_64 rng(7);
  const std::string alphabet = "abcdeqrstu_ACDEFGILNRU0123456789.()[],+-*/<>=!&| \t\"'#$\x01\xC3";
  const std::vector<std::string> words{"status", "restarts", "increase(", "in",    "and",     "or",
                                       "not",    "FAILED",   "10m",       "1h30m", "absent(", "qps",
                                       ")",      "]",        "[",         ","};
  for (int i = 0; i < 5000; ++i) {
    std::string text;
    const int len = std::uniform_int_distribution<int>(0, 40)(rng);
    for (int k = 0; k < len; ++k) {
      if (std::uniform_int_distribution<int>(0, 2)(rng) == 0) {
        text += words[std::uniform_int_distribution<std::size_t>(0, words.size() - 1)(rng)] + " ";
      } else {
        text += alphabet[std::uniform_int_distribution<std::size_t>(0, alphabet.size() - 1)(rng)];
      }
    }
    auto e = flinkguard::Expr::CompileCondition(text, {});
    if (!e) {
      CHECK(e.error().offset <= text.size());
      CHECK_FALSE(e.error().message.empty());
    } else {
      CHECK(e->type() == flinkguard::ExprType::kBool);
      flinkguard::SignalHistory h;
      const auto ev = e->Evaluate(h, kT0);
      CHECK_FALSE(ev.reason.empty());
    }
  }
}

TEST_CASE("property: the order of the snapshots does not matter, cycle after cycle") {
  // The engine keeps the last call's name order and only checks it when the next call lists the
  // same number of snapshots; this compares it with an engine given them already sorted by name
  // (stable, as the engine itself would sort), over kept orders, shuffles, duplicate names and
  // jobs that come and go.
  std::mt19937_64 rng(20261122);
  const std::vector<RuleSpec> specs{
      Rule("failed", "status == FAILED"),
      Rule("restarts", "increase(restarts, 1m) > 3", Duration(20'000)),
      Rule("qps", "qps < 0.5 * avg_over_time(qps, 1m)", Duration(0), Duration(20'000)),
      Rule("bp", "max_over_time(backpressure, 30s) > 0.5 or absent(lag)"),
  };
  const std::vector<std::string> names{"job-1", "job-10", "job-2", "b", "a", "job-1"};
  for (int round = 0; round < 20; ++round) {
    RuleEngine any_order = Engine(specs);
    RuleEngine sorted = Engine(specs);
    std::vector<std::string> order = names;
    for (int cycle = 0; cycle < 40; ++cycle) {
      const std::int64_t t = kT0 + cycle * (10 * kSec);
      const int change = std::uniform_int_distribution<int>(0, 5)(rng);
      if (change == 0) std::shuffle(order.begin(), order.end(), rng);
      if (change == 1 && order.size() > 1) std::swap(order.front(), order.back());
      if (change == 2 && order.size() > 2) order.pop_back();
      if (change == 3) {
        order.push_back(names[std::uniform_int_distribution<std::size_t>(0, 5)(rng)]);
      }
      std::vector<JobSnapshot> jobs;
      for (const std::string& name : order) jobs.push_back(RandomJob(rng, name, t));
      std::vector<JobSnapshot> by_name = jobs;
      std::stable_sort(by_name.begin(), by_name.end(),
                       [](const JobSnapshot& a, const JobSnapshot& b) { return a.name < b.name; });
      const RuleEvaluation x = any_order.Evaluate(jobs, t);
      const RuleEvaluation y = sorted.Evaluate(by_name, t);
      REQUIRE(Describe(x) == Describe(y));
      const std::vector<RuleStatus> xs = any_order.Statuses();
      const std::vector<RuleStatus> ys = sorted.Statuses();
      REQUIRE(xs.size() == ys.size());
      for (std::size_t i = 0; i < xs.size(); ++i) {
        CHECK(xs[i].job == ys[i].job);
        CHECK(xs[i].job_id == ys[i].job_id);
        CHECK(xs[i].reason == ys[i].reason);
        CHECK(xs[i].state == ys[i].state);
      }
    }
  }
}
