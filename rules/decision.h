#pragma once

// The decision core's vocabulary, shared by the rule engine and the recovery planner.
// Pure values: no I/O, no clock (every time is passed in, epoch milliseconds).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rules/severity.h"
#include "rules/snapshot.h"

namespace flinkguard {

// What a rule asks for when it fires.
enum class Action { kAlert, kRecover, kSavepoint, kFailover, kNone };
const char* ActionName(Action a);  // "alert", "recover", ...

// Where a (rule, job) pair stands. kUnknown: the condition could not be evaluated (stale or
// missing data); it neither fires nor resolves a rule by accident.
enum class RuleState { kInactive, kPending, kFiring, kUnknown };
const char* RuleStateName(RuleState s);  // "inactive", "pending", "firing", "unknown"

// A change of a (rule, job) state: what history records and alerts consume. "resolved" is the
// transition firing -> inactive.
struct RuleTransition {
  std::string rule;
  std::string job;      // job name (the catalog key)
  std::string cluster;  // where the instance was observed
  std::string job_id;
  RuleState from = RuleState::kInactive;
  RuleState to = RuleState::kInactive;
  std::int64_t at_ms = 0;
  Severity severity = Severity::kWarning;
  Action action = Action::kAlert;
  std::string reason;  // e.g. "increase(restarts, 10m) = 7 > 5"
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

// A rule that is firing for a job now, with why.
struct Finding {
  std::string rule;
  std::string job;
  std::string cluster;
  std::string job_id;
  Severity severity = Severity::kWarning;
  Action action = Action::kAlert;
  std::int64_t firing_since_ms = 0;
  std::string reason;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

// A job's recovery policy (from the catalog), in milliseconds.
struct RecoveryPolicy {
  bool allow_fresh_state = false;
  bool allow_non_restored_state = false;
  int max_recoveries = 3;                 // per window; then give up and page
  std::int64_t window_ms = 3'600'000;
  std::optional<std::int64_t> max_checkpoint_age_ms;  // restore points older are skipped
  std::int64_t cooldown_ms = 60'000;      // base of the exponential backoff between recoveries
  std::int64_t stable_after_ms = 300'000; // a recovery "stuck" once the job ran this long
  bool stop_with_savepoint = false;       // stop a live broken instance with a savepoint
};

// Where a recovery restores from.
enum class Strategy { kCheckpoint, kSavepoint, kFresh };
const char* StrategyName(Strategy s);  // "checkpoint", "savepoint", "fresh"

// A past or running recovery of a job, as history (storage) remembers it.
struct RecoveryAttempt {
  std::string id;
  std::string job;
  std::int64_t started_ms = 0;
  std::optional<std::int64_t> ended_ms;  // absent while in progress
  Strategy strategy = Strategy::kCheckpoint;
  std::string restore_path;              // "" for fresh state
  enum class Outcome { kInProgress, kSucceeded, kFailed, kDidNotStick } outcome =
      Outcome::kInProgress;
  // The cooldown (jitter included) the planner chose for after this recovery
  // (RecoveryPlan::cooldown_after_ms). Absent for recoveries it did not plan (e.g. by hand): the
  // planner then recomputes the backoff without jitter.
  std::optional<std::int64_t> cooldown_ms;
};

// A restore point the agent knows of for a job: observed on a cluster or taken by flinkguard, and
// remembered by history even after the cluster that held it is gone.
struct KnownRestorePoint {
  std::string job;      // job name (the catalog key)
  std::string cluster;  // where it was taken
  std::string job_id;   // the instance that took it; "" when unknown
  RestorePoint point;
  bool failed_restore = false;  // a restore from it failed or did not stick: never chosen again
};

// Where to restore from: a strategy and, unless fresh, the point.
struct RestoreChoice {
  Strategy strategy = Strategy::kCheckpoint;
  std::optional<RestorePoint> point;  // absent for fresh state
};

// One step the executor takes, in order.
enum class StepKind { kCancel, kStopWithSavepoint, kWaitTerminal, kSubmit, kVerify };
const char* StepKindName(StepKind k);

// What the planner decided for one job.
struct RecoveryPlan {
  std::string job;
  std::string cluster;                     // where to submit
  std::string stop_job_id;                 // a live broken instance to stop first; "" = none
  Strategy strategy = Strategy::kCheckpoint;
  std::optional<RestorePoint> restore_point;  // absent for fresh state
  bool allow_non_restored_state = false;
  std::vector<StepKind> steps;
  bool dry_run = false;                    // record as "would have"; execute nothing
  std::string reason;                      // why this rung, and why not the ones above it

  Severity severity = Severity::kWarning;  // the highest of the findings that asked for it
  std::vector<std::string> rules;          // the rules that asked for it, sorted
  // Set only when steps start with kStopWithSavepoint: submit from the savepoint that step
  // returns (`strategy` is then kSavepoint and `restore_point` absent). If the stop fails, the
  // instance is still running: the executor cancels it and restores from `if_stop_fails`, or,
  // when that is absent (nothing else usable), leaves it running and reports the recovery failed.
  bool restore_from_stop_savepoint = false;
  std::optional<RestoreChoice> if_stop_fails;
  // The cooldown to record with this recovery (RecoveryAttempt::cooldown_ms), jitter included.
  std::int64_t cooldown_after_ms = 0;
  // The previous recovery did not stick and this plan escalates past its restore point: the
  // executor records that attempt as kDidNotStick and its point as failed_restore. "" = none.
  std::string escalates_attempt_id;
  // A failover: clusters judged down whose silence the duplicate check before the submit
  // tolerates (their last-seen instances are stale copies, cancelled when they come back).
  std::vector<std::string> presumed_down;
  // Stop the instance and end there (a stale copy): steps {kCancel, kWaitTerminal}, no submit.
  bool stop_only = false;
};

// Why the planner declined; one counter per cause ("detected but not enforced").
enum class RefusalCause {
  kNotInCatalog,    // no catalog entry: flinkguard has nothing to resubmit
  kInProgress,      // single-flight: a recovery of the job is already running
  kUntrusted,       // TILT: stale or unknown observations, unreachable cluster, late loop
  kGaveUp,          // max_recoveries reached within the window
  kCooldown,        // too soon after the previous recovery
  kDuplicate,       // another live instance of the job exists
  kNoRestorePoint,  // nothing usable and fresh state not allowed (or fresh did not stick)
  kBlastRadius,     // the region's cap on jobs in recovery at once is reached
};
const char* RefusalCauseName(RefusalCause c);  // "not-in-catalog", "in-progress", ...

// The planner declined to act for a job.
struct Refusal {
  std::string job;
  std::string reason;
  bool page = false;  // a person must look (e.g. gave up after max_recoveries, no restore point)
  RefusalCause cause = RefusalCause::kUntrusted;
};

}  // namespace flinkguard
