#pragma once

// The recovery planner: from the findings that ask for recovery, what the agent observes and what
// history remembers, it decides per job either a RecoveryPlan (which restore point, which steps)
// or a Refusal (why not, and whether a person must look). It holds the safety rails: single
// flight, TILT, give-up after max_recoveries, cooldown with backoff and jitter, deduplication of
// live instances, the ladder of restore points, and the blast-radius cap.
//
// Pure: no I/O, no clock (now is passed in), no threads, no logging, no exceptions. Randomness
// (the cooldown jitter) is injected. Given the same input, the same draws and the same page
// memory (see Planner), the output is the same.

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "rules/decision.h"
#include "rules/snapshot.h"

namespace flinkguard {

// A catalog job as far as recovery is concerned.
struct CatalogJob {
  std::string name;          // the catalog key; matches JobSnapshot::name and Finding::job
  std::string home_cluster;  // where to submit when no instance says otherwise
  RecoveryPolicy policy;
};

// Region-wide settings of the planner.
struct PlannerSettings {
  int max_concurrent_recoveries = 3;         // blast radius: jobs in recovery at once, region-wide
  bool dry_run = false;                      // plans are produced and flagged dry_run
  std::int64_t max_cooldown_ms = 3'600'000;  // cap of the exponential backoff
  double jitter = 0.1;                       // the cooldown varies by ±this fraction
  std::int64_t max_status_age_ms = 120'000;  // a job status observed longer ago is untrusted
};

// One call's input. The spans are not owned: what they view must outlive the Plan() call.
// An instance of `job` on `cluster`, a cluster judged down (rules/failover.h) where the job no
// longer lives: a stale copy, cancelled when the cluster answers again. Its unknown state does
// not hold up a recovery where the job lives, and the plan names the cluster in presumed_down.
struct DepartedCopy {
  std::string job;
  std::string cluster;
};

struct PlanInput {
  std::int64_t now_ms = 0;  // epoch milliseconds
  PlannerSettings settings;
  // All current findings; only those with Action::kRecover are considered.
  std::span<const Finding> findings;
  std::span<const CatalogJob> catalog;
  // Every instance of every job on every cluster, fresh or stale (the agent keeps the last
  // snapshot of an instance whose cluster stopped answering, marked stale).
  std::span<const JobSnapshot> snapshots;
  std::span<const ClusterSnapshot> clusters;
  std::span<const KnownRestorePoint> restore_points;  // from history, any job
  std::span<const RecoveryAttempt> attempts;          // from history, any job, any age
  std::span<const std::string> in_progress;           // jobs with a recovery under way
  std::span<const DepartedCopy> departed;
  // TILT: the loop ran late (clock jump, overload); nothing is planned this cycle.
  bool loop_late = false;
  std::string loop_late_reason;  // e.g. "cycle started 45s late"
};

// What one call decided.
struct PlanOutput {
  // At most one per job, in the order the slots were given (severity, then name).
  std::vector<RecoveryPlan> plans;
  // At most one per job with a recovery finding and no plan, sorted by job name.
  std::vector<Refusal> refusals;
  int detected = 0;  // jobs with at least one recovery finding
  // "Detected but not enforced": refusals by cause (causes with no refusal are absent).
  std::map<RefusalCause, int> not_enforced;

  int NotEnforced(RefusalCause c) const {
    auto it = not_enforced.find(c);
    return it == not_enforced.end() ? 0 : it->second;
  }
};

// Returns a uniform draw in [0, 1). Called once per plan produced, in plan order.
using UniformRandom = std::function<double()>;

// Not thread-safe. Keeps one piece of memory between calls: which paging refusals it has
// already paged for, so that a person is paged once per episode (a give-up is one episode per
// newest attempt in the window; "no restore point" and "several live instances" one per
// finding onset); repeats come with page = false and say "paged already". A restart of the
// agent forgets it and pages once more.
class Planner {
 public:
  // `random` must return values in [0, 1); values outside are clamped.
  explicit Planner(UniformRandom random);

  // Decides for every job with a recovery finding. See the README ("How flinkguard decides to
  // recover") for the rules, in order.
  PlanOutput Plan(const PlanInput& in);

 private:
  UniformRandom random_;
  std::map<std::pair<std::string, RefusalCause>, std::int64_t> paged_;  // (job, cause) -> episode
};

}  // namespace flinkguard
