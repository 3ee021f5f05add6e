#pragma once

// One observe → decide → act → record cycle of the daemon (`flinkguard run`), and the loop
// state that lives between cycles: the rule engine's history, the planner's page memory, what
// was last recorded (so unchanged restore points and repeated refusals are not written again).
//
// The executor and the history store are optional: without a working journal the agent keeps
// observing and evaluating, but refuses to act and says so every cycle that a plan exists.
// Not thread-safe: one thread calls RunCycle (the same thread that ticks the executor).

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "agent/config.h"
#include "agent/executor.h"
#include "agent/ha/coordinator.h"
#include "agent/observer.h"
#include "agent/savepoints.h"
#include "alerts/alert_planner.h"
#include "rules/planner.h"
#include "rules/rule_engine.h"
#include "rules/failover.h"
#include "rules/savepoint_policy.h"
#include "storage/history_store.h"

namespace flinkguard {

struct CycleReport {
  Observation observation;
  RuleEvaluation evaluation;
  PlanOutput decisions;
  std::vector<std::string> started;   // recovery ids started this cycle
  std::map<std::string, int> started_by_trigger;  // rule, failover, failback, stale-copy
  std::vector<std::string> savepoints_started;  // "job (origin)" of savepoints requested
  std::vector<std::string> problems;  // degraded paths of the cycle, one line each
  bool recorded = false;              // the cycle's writes reached the history store
};

struct LoopOptions {
  // A sampled observation of each job is recorded this often.
  std::int64_t sample_every_ms = 60'000;
};

class AgentLoop {
 public:
  // `config`, `observer` and whatever `executor`/`store` point to must outlive the loop.
  // `executor` and `store` are null when the journal could not be opened.
  AgentLoop(const Config& config, Observer& observer, Executor* executor, SqliteHistoryStore* store,
            UniformRandom random, LoopOptions options = {});

  // Savepoints (periodic per job policy, rule action `savepoint`, `on_duplicate: stop`) go
  // through `driver`; without one (no journal) none are taken. Must outlive the loop.
  void SetSavepointDriver(SavepointDriver* driver) { savepoints_ = driver; }

  // With `ha:`, placements (where jobs live after failovers and moves) are shared through the
  // coordinator so every replica agrees; null or a local coordinator = the history only.
  void SetCoordinator(Coordinator* coordinator) { coordinator_ = coordinator; }
  // This replica stands by (HA: another one leads): plans are not carried out, and `why` says so
  // (at debug level: it is the normal state of a standby).
  void SetStandby(std::string why) { standby_ = std::move(why); }
  // Notifications: rule transitions become outbox entries in the cycle's transaction; recovery
  // starts and give-ups are written as they happen. A standby keeps the alert state but
  // enqueues nothing (the leader notifies). Without a planner none are made. Must outlive the
  // loop.
  void SetAlerts(AlertPlanner* alerts) { alerts_ = alerts; }

  // Advances the savepoints in flight and applies the catalog's savepoint retention to the jobs
  // whose savepoints ended. Call between cycles, like Executor::Tick.
  void TickSavepoints(std::int64_t now_ms);

  // Applies savepoint retention (jobs[].savepoints.keep / max_age) to every catalog job.
  void PruneSavepoints(std::int64_t now_ms);

  // Runs one cycle at `now_ms` (the cycle's wall time). `late_reason` non-empty: the loop ran
  // late (TILT): observe and record, plan nothing.
  CycleReport RunCycle(std::int64_t now_ms, const std::string& late_reason = "");

 private:
  void Record(const Observation& o, const RuleEvaluation& e, std::int64_t now_ms,
              CycleReport& report);
  struct RecordedPoint {
    std::string job_id;
    std::string path;
    RestorePoint point;
  };
  [[nodiscard]] Result<void> SubsumeOlderCheckpoints(const JobSnapshot& s,
                                                     const RestorePoint& newest,
                                                     const RecordedPoint* previous,
                                                     std::int64_t now_ms);
  void RecordRefusals(const PlanOutput& out, std::int64_t now_ms, CycleReport& report);
  // Starts `plan` through the executor (unless a standby or without a journal) and notifies;
  // the recovery id, or nullopt when nothing was started.
  std::optional<std::string> StartPlan(const RecoveryPlan& plan, const std::string& trigger,
                                       std::int64_t now_ms, CycleReport& report);
  // Cluster failover and stale copies (rules/failover.h); refusals to page go to `refusals`.
  void RunFailover(const Observation& o, std::int64_t now_ms, CycleReport& report,
                   std::vector<Refusal>& refusals);
  void ScheduleSavepoints(const Observation& o, const RuleEvaluation& e, std::int64_t now_ms,
                          CycleReport& report);
  void RequestSavepoint(const JobSnapshot& instance, const std::string& origin, bool stop,
                        std::int64_t now_ms, CycleReport& report);
  void PruneSavepointsOf(const std::string& job, std::int64_t now_ms);

  const Config& config_;
  Observer& observer_;
  Executor* executor_;
  std::string standby_;  // non-empty: a standby replica (see SetStandby)
  SqliteHistoryStore* store_;
  LoopOptions options_;
  RuleEngine engine_;
  Planner planner_;
  std::vector<CatalogJob> catalog_;
  SavepointDriver* savepoints_ = nullptr;
  Coordinator* coordinator_ = nullptr;
  // Records a placement in the history and, with a coordinator, shares it; an Error when either
  // write failed (the caller then does not act on it).
  [[nodiscard]] Result<void> RecordPlacement(const Placement& p);
  AlertPlanner* alerts_ = nullptr;  // see SetAlerts
  // (rule, job) pairs whose firing already asked for a savepoint (one per firing episode).
  std::set<std::pair<std::string, std::string>> savepoint_rules_;
  // Job name -> completion of its newest savepoint known (Flink's history, or taken by us).
  std::map<std::string, std::int64_t> newest_savepoint_ms_;
  std::set<std::string> seeded_savepoints_;
  // Where jobs live when not on their configured cluster (failovers), as recorded in history.
  std::map<std::string, Placement> placements_;
  // Failovers under way: recovery id -> (job, the placement before it; nullopt = home).
  std::map<std::string, std::pair<std::string, std::optional<Placement>>> failovers_;
  // Cluster -> start of its current run of answered polls (absent: not answering now).
  std::map<std::string, std::int64_t> up_since_;
  // Copies of jobs on clusters judged down where the job no longer lives: stale, cancelled when
  // their cluster answers again; they do not hold up a recovery where the job lives (planner).
  std::vector<DepartedCopy> departed_;
  // (job, cluster, kind) -> the point last written to the restore-point catalog.
  std::map<std::tuple<std::string, std::string, int>, RecordedPoint> recorded_points_;
  std::map<std::string, std::int64_t> last_sample_ms_;  // job id -> last sampled observation
  std::map<std::string, std::pair<RefusalCause, bool>> last_refusal_;  // job -> (cause, paged)
  // Dry-run plans recorded per job in the current episode: job -> (reason, when).
  std::map<std::string, std::pair<std::string, std::int64_t>> dry_runs_;
};

}  // namespace flinkguard
