#include "agent/admin/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>

#include "rules/job_status.h"

namespace flinkguard {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Histogram;

const char* OutcomeLabel(RecoveryAttempt::Outcome o) {
  switch (o) {
    case RecoveryAttempt::Outcome::kInProgress:
      return "in_progress";
    case RecoveryAttempt::Outcome::kSucceeded:
      return "succeeded";
    case RecoveryAttempt::Outcome::kFailed:
      return "failed";
    case RecoveryAttempt::Outcome::kDidNotStick:
      return "did_not_stick";
  }
  return "unknown";
}

// Seconds from a few hundred milliseconds (a fast REST answer, a detection within one cycle) to
// tens of minutes (a recovery restoring a large state).
Histogram::BucketBoundaries DetectBuckets() { return {1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600}; }
Histogram::BucketBoundaries RecoverBuckets() {
  return {1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800};
}
Histogram::BucketBoundaries RequestBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// The instance of a job name that stands for the job: a live one (newest start) before a
// terminal one (newest start), as the rule engine chooses.
const JobSnapshot* Current(const JobSnapshot* a, const JobSnapshot& b) {
  if (a == nullptr) return &b;
  auto live = [](const JobSnapshot& s) {
    return !s.status.known() || !IsGloballyTerminal(*s.status.value);
  };
  if (live(*a) != live(b)) return live(b) ? &b : a;
  return b.start_time_ms > a->start_time_ms ? &b : a;
}

}  // namespace

AgentMetrics::AgentMetrics(std::string_view version, std::string_view revision)
    : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  BuildGauge()
      .Name("flinkguard_build_info")
      .Help("Always 1; the labels say which flinkguard build runs")
      .Register(r)
      .Add({{"version", std::string(version)}, {"revision", std::string(revision)}})
      .Set(1);
  jobs_ = &BuildGauge()
               .Name("flinkguard_jobs")
               .Help("Job instances observed, by cluster and Flink job state")
               .Register(r);
  job_up_ = &BuildGauge()
                 .Name("flinkguard_job_up")
                 .Help("1 when the job has a RUNNING instance, 0 otherwise (catalog jobs not "
                       "observed included)")
                 .Register(r);
  job_healthy_ = &BuildGauge()
                      .Name("flinkguard_job_healthy")
                      .Help("1 when the job runs with all tasks RUNNING and no rule firing for it")
                      .Register(r);
  cluster_up_ = &BuildGauge()
                     .Name("flinkguard_cluster_up")
                     .Help("1 when the cluster answered /jobs/overview in the last cycle")
                     .Register(r);
  rule_state_ = &BuildGauge()
                     .Name("flinkguard_rule_state")
                     .Help("1 for each (rule, job) pair in a state other than inactive (pending, "
                           "firing, unknown); inactive pairs have no series")
                     .Register(r);
  refused_ = &BuildGauge()
                  .Name("flinkguard_recoveries_refused")
                  .Help("Jobs that need a recovery which the planner refused in the last cycle, "
                        "by cause (gave-up: max_recoveries reached)")
                  .Register(r);
  recoveries_ = &BuildCounter()
                     .Name("flinkguard_recoveries_total")
                     .Help("Recoveries that ended, by strategy and outcome (dry runs excluded)")
                     .Register(r);
  recoveries_started_ = &BuildCounter()
                             .Name("flinkguard_recoveries_started_total")
                             .Help("Recoveries started (dry runs excluded), by trigger (rule, "
                                   "api)")
                             .Register(r);
  // Time to detect: from the last cycle that observed the job healthy (a RUNNING instance with
  // all tasks RUNNING and no rule firing) to the cycle in which the first rule fired for it in
  // that episode. It includes the rule's `for` duration and the poll interval; a job never seen
  // healthy by this process contributes nothing.
  time_to_detect_ = &BuildHistogram()
                         .Name("flinkguard_time_to_detect_seconds")
                         .Help("From the job last observed healthy to the first rule firing for "
                               "it, by that rule")
                         .Register(r);
  // Time to recover: from the start of a recovery (journaled, before its first request to
  // Flink) to its successful end (the new instance verified running); failed recoveries are
  // counted in flinkguard_recoveries_total only.
  time_to_recover_ = &BuildHistogram()
                          .Name("flinkguard_time_to_recover_seconds")
                          .Help("From the start of a recovery to its verified success, by strategy")
                          .Register(r);
  scrape_duration_ = &BuildHistogram()
                          .Name("flinkguard_scrape_duration_seconds")
                          .Help("Duration of the observer's requests to Flink, by cluster and "
                                "REST endpoint (ids as {id})")
                          .Register(r);
  scrape_errors_ = &BuildCounter()
                        .Name("flinkguard_scrape_errors_total")
                        .Help("Observer requests to Flink that failed (transport error or HTTP "
                              "status >= 400 other than 404), by cluster and endpoint")
                        .Register(r);
  tsdb_errors_ = &BuildCounter()
                      .Name("flinkguard_tsdb_query_errors_total")
                      .Help("TSDB signal queries that failed, by signal")
                      .Register(r);
  notifications_ = &BuildCounter()
                        .Name("flinkguard_notifications_total")
                        .Help("Notification delivery attempts, by receiver and outcome "
                              "(delivered, retry, dead)")
                        .Register(r);
  leader_ = &BuildGauge()
                 .Name("flinkguard_leader")
                 .Help("1 while this agent is the one acting (leader; a single instance always is)")
                 .Register(r)
                 .Add({});
  ha_session_ = &BuildGauge()
                     .Name("flinkguard_ha_session")
                     .Help("1 for the coordination session's current state (local, connecting, "
                           "connected, suspended, lost)")
                     .Register(r);
  for (SessionState st : {SessionState::kLocal, SessionState::kConnecting, SessionState::kConnected,
                          SessionState::kSuspended, SessionState::kLost}) {
    ha_session_->Add({{"state", SessionStateName(st)}}).Set(st == SessionState::kLocal ? 1 : 0);
  }
  ha_fencing_rejections_ = &BuildCounter()
                                .Name("flinkguard_ha_fencing_rejections_total")
                                .Help("Destructive steps not taken because the fence said no")
                                .Register(r)
                                .Add({});
  ha_lock_waits_ = &BuildCounter()
                        .Name("flinkguard_ha_lock_waits_total")
                        .Help("Job locks acquired only after waiting for another holder")
                        .Register(r)
                        .Add({});
  ha_last_lock_wait_ = &BuildGauge()
                            .Name("flinkguard_ha_last_lock_wait_seconds")
                            .Help("How long the last job lock took to acquire")
                            .Register(r)
                            .Add({});
  ha_sessions_lost_ = &BuildCounter()
                           .Name("flinkguard_ha_sessions_lost_total")
                           .Help("ZooKeeper sessions lost (expired, or given up as expired)")
                           .Register(r)
                           .Add({});
  ha_ignored_nodes_ = &BuildCounter()
                           .Name("flinkguard_ha_ignored_nodes_total")
                           .Help("Foreign or garbage znodes seen under flinkguard's paths")
                           .Register(r)
                           .Add({});
  journal_depth_ = &BuildGauge()
                        .Name("flinkguard_journal_unfinished_recoveries")
                        .Help("Recoveries journaled and not ended")
                        .Register(r)
                        .Add({});
  outbox_depth_ = &BuildGauge()
                       .Name("flinkguard_outbox_pending_notifications")
                       .Help("Notifications waiting in the outbox for delivery")
                       .Register(r)
                       .Add({});
  outbox_oldest_ = &BuildGauge()
                        .Name("flinkguard_outbox_oldest_age_seconds")
                        .Help("Age of the oldest pending notification; 0 when none")
                        .Register(r)
                        .Add({});
  cycles_ = &BuildCounter()
                 .Name("flinkguard_cycles_total")
                 .Help("Observe-decide-act cycles run")
                 .Register(r)
                 .Add({});
  cycle_duration_ = &BuildHistogram()
                         .Name("flinkguard_cycle_duration_seconds")
                         .Help("Duration of one observe-decide-act cycle")
                         .Register(r)
                         .Add({}, RequestBuckets());
  last_cycle_ = &BuildGauge()
                     .Name("flinkguard_last_cycle_timestamp_seconds")
                     .Help("Wall time (Unix seconds) at which the last cycle started")
                     .Register(r)
                     .Add({});
  history_write_errors_ = &BuildCounter()
                               .Name("flinkguard_history_write_errors_total")
                               .Help("Cycles whose writes could not reach the history store")
                               .Register(r)
                               .Add({});
  // Exported from the start so dashboards and alerts see a 0 rather than no series.
  for (const char* o : {"succeeded", "failed", "did_not_stick"}) {
    for (const char* s : {"checkpoint", "savepoint", "fresh"}) {
      recoveries_->Add({{"strategy", s}, {"outcome", o}});
    }
  }
  for (const char* t : {"rule", "api", "failover", "failback", "stale-copy"}) {
    recoveries_started_->Add({{"trigger", t}});
  }
  for (RefusalCause c : {RefusalCause::kGaveUp, RefusalCause::kNoRestorePoint}) {
    refused_->Add({{"cause", RefusalCauseName(c)}}).Set(0);
    refusal_causes_.insert(RefusalCauseName(c));
  }
  leader_->Set(1);
}

AgentMetrics::~AgentMetrics() = default;

void AgentMetrics::ObserveCycle(const Observation& o, const RuleEvaluation& e,
                                const PlanOutput& d, const std::vector<RequestSample>& requests,
                                const std::vector<std::string>& catalog_jobs,
                                double cycle_seconds) {
  std::lock_guard lock(mu_);
  cycles_->Increment();
  cycle_duration_->Observe(cycle_seconds);
  last_cycle_->Set(static_cast<double>(o.at_ms) / 1000.0);

  // Clusters.
  std::set<std::string> clusters;
  for (const ClusterSnapshot& c : o.clusters) {
    clusters.insert(c.name);
    cluster_up_->Add({{"cluster", c.name}}).Set(c.reachable ? 1 : 0);
  }
  for (const std::string& c : clusters_) {
    if (!clusters.contains(c)) cluster_up_->Remove(&cluster_up_->Add({{"cluster", c}}));
  }
  clusters_ = std::move(clusters);

  // Instances by (cluster, state). Pairs seen before and not now drop to 0 rather than vanish,
  // so rate() and dashboards see the change; they go away with their cluster.
  std::map<std::pair<std::string, std::string>, int> counts;
  for (const JobSnapshot& s : o.jobs) {
    const std::string state = s.status.known() ? JobStatusName(*s.status.value) : "UNKNOWN";
    ++counts[{s.cluster, state}];
  }
  for (const auto& pair : job_states_) {
    if (counts.contains(pair)) continue;
    if (clusters_.contains(pair.first)) {
      counts[pair] = 0;
    } else {
      jobs_->Remove(&jobs_->Add({{"cluster", pair.first}, {"state", pair.second}}));
    }
  }
  job_states_.clear();
  for (const auto& [pair, n] : counts) {
    jobs_->Add({{"cluster", pair.first}, {"state", pair.second}}).Set(n);
    job_states_.insert(pair);
  }

  UpdateJobs(o, e, catalog_jobs);
  UpdateRules(e);

  // Refusals by cause in this cycle.
  std::map<std::string, int> refused;
  for (const std::string& c : refusal_causes_) refused[c] = 0;
  for (const Refusal& r : d.refusals) ++refused[RefusalCauseName(r.cause)];
  for (const auto& [cause, n] : refused) {
    refused_->Add({{"cause", cause}}).Set(n);
    refusal_causes_.insert(cause);
  }

  for (const RequestSample& r : requests) {
    if (r.cluster.empty()) {
      // A TSDB query: "signal:<name>".
      if (r.failed) {
        tsdb_errors_->Add({{"signal", r.endpoint.substr(r.endpoint.find(':') + 1)}}).Increment();
      }
      continue;
    }
    const prometheus::Labels labels{{"cluster", r.cluster}, {"endpoint", r.endpoint}};
    if (r.failed) {
      scrape_errors_->Add(labels).Increment();
    } else {
      scrape_errors_->Add(labels);  // the series exists at 0 before the first error
      scrape_duration_->Add(labels, RequestBuckets()).Observe(r.seconds);
    }
  }
}

void AgentMetrics::UpdateJobs(const Observation& o, const RuleEvaluation& e,
                              const std::vector<std::string>& catalog_jobs) {
  std::map<std::string, const JobSnapshot*> current;
  for (const JobSnapshot& s : o.jobs) current[s.name] = Current(current[s.name], s);
  std::set<std::string> firing;
  for (const Finding& f : e.findings) firing.insert(f.job);
  std::set<std::string> names(catalog_jobs.begin(), catalog_jobs.end());
  for (const auto& [name, s] : current) names.insert(name);

  for (const std::string& name : names) {
    auto it = current.find(name);
    const JobSnapshot* s = it == current.end() ? nullptr : it->second;
    const bool up = s != nullptr && s->status.value == JobStatus::kRunning;
    const bool healthy =
        up && s->all_tasks_running.value.value_or(false) && !firing.contains(name);
    job_up_->Add({{"job_name", name}}).Set(up ? 1 : 0);
    job_healthy_->Add({{"job_name", name}}).Set(healthy ? 1 : 0);
    if (healthy) {
      last_healthy_ms_[name] = o.at_ms;
      detected_.erase(name);
    }
  }
  for (const std::string& name : jobs_exported_) {
    if (names.contains(name)) continue;
    job_up_->Remove(&job_up_->Add({{"job_name", name}}));
    job_healthy_->Remove(&job_healthy_->Add({{"job_name", name}}));
    last_healthy_ms_.erase(name);
    detected_.erase(name);
  }
  jobs_exported_ = std::move(names);

  // Time to detect: the first transition to firing of a job's episode.
  for (const RuleTransition& t : e.transitions) {
    if (t.to != RuleState::kFiring || detected_.contains(t.job)) continue;
    detected_.insert(t.job);
    auto h = last_healthy_ms_.find(t.job);
    if (h == last_healthy_ms_.end() || t.at_ms < h->second) continue;
    time_to_detect_->Add({{"rule", t.rule}}, DetectBuckets())
        .Observe(static_cast<double>(t.at_ms - h->second) / 1000.0);
  }
}

void AgentMetrics::UpdateRules(const RuleEvaluation& e) {
  for (const RuleTransition& t : e.transitions) {
    const std::pair<std::string, std::string> key{t.rule, t.job};
    if (auto it = rule_states_.find(key); it != rule_states_.end()) {
      rule_state_->Remove(
          &rule_state_->Add({{"rule", t.rule}, {"job_name", t.job}, {"state", it->second}}));
      rule_states_.erase(it);
    }
    if (t.to == RuleState::kInactive) continue;
    const std::string state = RuleStateName(t.to);
    rule_state_->Add({{"rule", t.rule}, {"job_name", t.job}, {"state", state}}).Set(1);
    rule_states_[key] = state;
  }
  // A pair whose job is no longer exported goes with it.
  for (auto it = rule_states_.begin(); it != rule_states_.end();) {
    if (jobs_exported_.contains(it->first.second)) {
      ++it;
      continue;
    }
    rule_state_->Remove(&rule_state_->Add(
        {{"rule", it->first.first}, {"job_name", it->first.second}, {"state", it->second}}));
    it = rule_states_.erase(it);
  }
}

void AgentMetrics::RecoveryEnded(const RecoveryRecord& record) {
  if (record.dry_run) return;
  // A stale copy's cancel restores nothing: strategy "none", and not a time to recover.
  const bool cancel_only = record.trigger == "stale-copy";
  recoveries_->Add({{"strategy", cancel_only ? "none" : StrategyName(record.strategy)},
                    {"outcome", OutcomeLabel(record.outcome)}})
      .Increment();
  if (!cancel_only && record.outcome == RecoveryAttempt::Outcome::kSucceeded && record.ended_ms &&
      *record.ended_ms >= record.started_ms) {
    time_to_recover_->Add({{"strategy", StrategyName(record.strategy)}}, RecoverBuckets())
        .Observe(static_cast<double>(*record.ended_ms - record.started_ms) / 1000.0);
  }
}

void AgentMetrics::RecoveryStarted(std::string_view trigger, int count) {
  recoveries_started_->Add({{"trigger", std::string(trigger)}}).Increment(count);
}

void AgentMetrics::SetLeader(bool leader) { leader_->Set(leader ? 1 : 0); }

void AgentMetrics::SetCoordination(const CoordinatorStatus& status) {
  std::lock_guard<std::mutex> lock(mu_);
  for (SessionState st : {SessionState::kLocal, SessionState::kConnecting, SessionState::kConnected,
                          SessionState::kSuspended, SessionState::kLost}) {
    ha_session_->Add({{"state", SessionStateName(st)}}).Set(st == status.session ? 1 : 0);
  }
  // The coordinator's counts only grow; a new coordinator (a reload) starts again from 0.
  const auto grow = [](prometheus::Counter* c, std::int64_t now, std::int64_t before) {
    if (now > before) c->Increment(static_cast<double>(now - before));
  };
  const bool restarted = status.fencing_rejections < ha_last_.fencing_rejections ||
                         status.lock_waits < ha_last_.lock_waits ||
                         status.sessions_lost < ha_last_.sessions_lost ||
                         status.ignored_nodes < ha_last_.ignored_nodes;
  if (restarted) ha_last_ = CoordinatorStatus{};
  grow(ha_fencing_rejections_, status.fencing_rejections, ha_last_.fencing_rejections);
  grow(ha_lock_waits_, status.lock_waits, ha_last_.lock_waits);
  grow(ha_sessions_lost_, status.sessions_lost, ha_last_.sessions_lost);
  grow(ha_ignored_nodes_, status.ignored_nodes, ha_last_.ignored_nodes);
  ha_last_lock_wait_->Set(static_cast<double>(status.last_lock_wait_ms) / 1000.0);
  ha_last_ = status;
}

void AgentMetrics::SetJournalDepth(std::int64_t unfinished) {
  journal_depth_->Set(static_cast<double>(unfinished));
}

void AgentMetrics::SetOutboxDepth(std::int64_t pending, double oldest_age_seconds) {
  outbox_depth_->Set(static_cast<double>(pending));
  outbox_oldest_->Set(pending > 0 ? std::max(0.0, oldest_age_seconds) : 0.0);
}

void AgentMetrics::CountNotification(std::string_view receiver, std::string_view outcome,
                                     std::int64_t count) {
  if (count <= 0) return;
  notifications_->Add({{"receiver", std::string(receiver)}, {"outcome", std::string(outcome)}})
      .Increment(static_cast<double>(count));
}

void AgentMetrics::Declare(const std::vector<std::string>& receivers,
                           const std::vector<std::string>& signals) {
  for (const std::string& r : receivers) {
    for (const char* o : {"delivered", "retry", "dead"}) {
      notifications_->Add({{"receiver", r}, {"outcome", o}});
    }
  }
  for (const std::string& s : signals) tsdb_errors_->Add({{"signal", s}});
}

void AgentMetrics::CountHistoryWriteError() { history_write_errors_->Increment(); }

std::string AgentMetrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace flinkguard
