#pragma once

// The agent's own metrics, exported on /metrics in the Prometheus text format (prometheus-cpp).
//
// Every name starts with `flinkguard_`, uses base units (seconds) and counters end in `_total`.
// Label sets stay bounded: job names, rule names, cluster names, REST endpoints with ids
// replaced by "{id}", strategies, outcomes and causes — never job ids, exception texts or times.
// A job that is no longer observed (and not in the catalog) is removed from every per-job gauge.
//
// Writers: the daemon's loop thread (ObserveCycle, RecoveryEnded, the depth setters), the HA
// side (SetLeader), the alert delivery side (CountNotification). Readers: the admin HTTP thread
// (Serialize). prometheus-cpp's metrics and registry are safe to update and collect from
// several threads; the per-job bookkeeping of this class is guarded by its own mutex.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "agent/observer.h"
#include "rules/decision.h"
#include "rules/planner.h"
#include "rules/rule_engine.h"
#include "rules/snapshot.h"
#include "storage/history_store.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

#include "agent/ha/coordinator.h"

namespace flinkguard {

class AgentMetrics {
 public:
  // `version` and `revision` go into flinkguard_build_info.
  AgentMetrics(std::string_view version, std::string_view revision);
  ~AgentMetrics();
  AgentMetrics(const AgentMetrics&) = delete;
  AgentMetrics& operator=(const AgentMetrics&) = delete;

  // One cycle of the loop: `o` the observation, `e` the rule evaluation, `d` the planner's
  // decisions, `requests` every request the observer sent, `catalog_jobs` the job names of the
  // catalog (they keep their per-job series, with up 0, while not observed), `cycle_seconds`
  // how long the whole cycle took.
  void ObserveCycle(const Observation& o, const RuleEvaluation& e, const PlanOutput& d,
                    const std::vector<RequestSample>& requests,
                    const std::vector<std::string>& catalog_jobs, double cycle_seconds);

  // A recovery ended (not a dry run): counts it by strategy and outcome, and a successful one's
  // time to recover.
  void RecoveryEnded(const RecoveryRecord& record);
  // `count` recoveries (not dry runs) were started by `trigger`: "rule" (the daemon's rules) or
  // "api" (the admin API).
  void RecoveryStarted(std::string_view trigger, int count = 1);

  // 1 while this agent is the one acting (the leader; a single instance always is), else 0.
  void SetLeader(bool leader);
  // The coordination session (ZooKeeper, or "local" for a single instance): the session state
  // one-hot, and the coordinator's cumulative counts turned into counters.
  void SetCoordination(const CoordinatorStatus& status);
  // Recoveries journaled and not ended.
  void SetJournalDepth(std::int64_t unfinished);
  // Notifications waiting in the outbox and the age of the oldest (0 when none).
  void SetOutboxDepth(std::int64_t pending, double oldest_age_seconds);
  // `count` delivery attempts of notifications to `receiver` (a configured receiver's name) ended
  // with `outcome`: "delivered", "retry" (a transient failure, retried later) or "dead" (given
  // up). Safe to call from any thread.
  void CountNotification(std::string_view receiver, std::string_view outcome,
                         std::int64_t count = 1);
  // The configured receivers and TSDB signals: their notification and query-error series exist
  // (at 0) from the start, so dashboards and alerts see them before the first event.
  void Declare(const std::vector<std::string>& receivers, const std::vector<std::string>& signals);
  // The history store could not be written (a cycle's writes were lost).
  void CountHistoryWriteError();

  // The text exposition of every metric (Content-Type text/plain; version=0.0.4).
  std::string Serialize() const;

 private:
  void UpdateJobs(const Observation& o, const RuleEvaluation& e,
                  const std::vector<std::string>& catalog_jobs);
  void UpdateRules(const RuleEvaluation& e);

  std::shared_ptr<prometheus::Registry> registry_;
  std::mutex mu_;  // guards the maps below (the prometheus-cpp metrics guard themselves)

  prometheus::Family<prometheus::Gauge>* jobs_ = nullptr;
  prometheus::Family<prometheus::Gauge>* job_up_ = nullptr;
  prometheus::Family<prometheus::Gauge>* job_healthy_ = nullptr;
  prometheus::Family<prometheus::Gauge>* cluster_up_ = nullptr;
  prometheus::Family<prometheus::Gauge>* rule_state_ = nullptr;
  prometheus::Family<prometheus::Gauge>* refused_ = nullptr;
  prometheus::Family<prometheus::Counter>* recoveries_ = nullptr;
  prometheus::Family<prometheus::Counter>* recoveries_started_ = nullptr;
  prometheus::Family<prometheus::Histogram>* time_to_detect_ = nullptr;
  prometheus::Family<prometheus::Histogram>* time_to_recover_ = nullptr;
  prometheus::Family<prometheus::Histogram>* scrape_duration_ = nullptr;
  prometheus::Family<prometheus::Counter>* scrape_errors_ = nullptr;
  prometheus::Family<prometheus::Counter>* tsdb_errors_ = nullptr;
  prometheus::Family<prometheus::Counter>* notifications_ = nullptr;
  prometheus::Gauge* leader_ = nullptr;
  prometheus::Family<prometheus::Gauge>* ha_session_ = nullptr;
  prometheus::Counter* ha_fencing_rejections_ = nullptr;
  prometheus::Counter* ha_lock_waits_ = nullptr;
  prometheus::Gauge* ha_last_lock_wait_ = nullptr;
  prometheus::Counter* ha_sessions_lost_ = nullptr;
  prometheus::Counter* ha_ignored_nodes_ = nullptr;
  CoordinatorStatus ha_last_;  // the counts already exported
  prometheus::Gauge* journal_depth_ = nullptr;
  prometheus::Gauge* outbox_depth_ = nullptr;
  prometheus::Gauge* outbox_oldest_ = nullptr;
  prometheus::Counter* cycles_ = nullptr;
  prometheus::Histogram* cycle_duration_ = nullptr;
  prometheus::Gauge* last_cycle_ = nullptr;
  prometheus::Counter* history_write_errors_ = nullptr;

  // (cluster, state) pairs exported last cycle, so a pair that went away is set to 0.
  std::set<std::pair<std::string, std::string>> job_states_;
  std::set<std::string> clusters_;
  std::set<std::string> jobs_exported_;
  // Per job: the last cycle (epoch ms) it was seen healthy, and whether a rule already fired
  // in the current episode (the first firing is the one detection is measured to).
  std::map<std::string, std::int64_t> last_healthy_ms_;
  std::set<std::string> detected_;
  // (rule, job) -> the state exported (pending, firing, unknown); inactive pairs are absent.
  std::map<std::pair<std::string, std::string>, std::string> rule_states_;
  std::set<std::string> refusal_causes_;
};

}  // namespace flinkguard
