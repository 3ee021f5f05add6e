#pragma once

// Cluster (AZ) failover, pure: which clusters are down, which of their catalog jobs move where
// and from which restore point, and which instances are stale copies to cancel. No I/O, no
// clock reads; the caller passes the time, the observation, the catalog, the restore-point
// history and where each job lives now (its placement).

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rules/decision.h"
#include "rules/snapshot.h"

namespace flinkguard {

struct FailoverSettings {
  // A cluster is down once it has failed this many polls in a row AND not answered for
  // `down_after_ms` (one blip or one slow poll is not an outage).
  int down_after_polls = 3;
  std::int64_t down_after_ms = 60'000;
  int max_concurrent = 5;  // failovers started per cycle and in flight at once, region-wide
  // URI schemes of restore points every cluster can read (shared storage). A point elsewhere
  // (e.g. file: on the dead cluster's disk) is not used to start the job on another cluster.
  std::set<std::string> shared_schemes = {"s3",   "s3a", "s3n",  "s3p", "hdfs", "viewfs", "gs",
                                          "oss",  "abfs", "abfss", "wasb", "wasbs", "cos", "obs"};
  bool dry_run = false;
  // Automatic failback: a job living on a backup cluster moves home (stop-with-savepoint, submit
  // at home from it) once its home cluster has answered every poll for this long and the job
  // has lived on the backup at least as long. nullopt = manual (`flinkguard move`).
  std::optional<std::int64_t> failback_after_ms;
};

// A catalog job as failover sees it.
struct FailoverJob {
  std::string name;
  std::string home;                   // the configured cluster
  std::vector<std::string> failover;  // backup clusters, in order of preference
  int slots = 1;                      // slots the job needs (its parallelism; 1 when unknown)
  bool allow_fresh_state = false;
  bool allow_non_restored_state = false;
  std::optional<std::int64_t> max_checkpoint_age_ms;
};

struct FailoverInput {
  std::int64_t now_ms = 0;
  FailoverSettings settings;
  std::vector<FailoverJob> jobs;
  std::vector<ClusterSnapshot> clusters;
  std::vector<JobSnapshot> snapshots;        // every instance, fresh or stale
  std::vector<KnownRestorePoint> points;     // restore points of the jobs (newest first or not)
  std::map<std::string, std::string> placement;  // job -> cluster it lives on now (absent = home)
  std::map<std::string, std::int64_t> placed_since;  // job -> since when (with `placement`)
  // cluster -> start of its current run of answered polls, as this agent saw it (absent = not
  // answering now, or not known long enough).
  std::map<std::string, std::int64_t> up_since;
  std::set<std::string> busy;                // jobs with a recovery or failover under way
  int in_flight = 0;                         // failovers under way now
};

// Move a job to another cluster.
struct FailoverMove {
  RecoveryPlan plan;  // plan.cluster = the target; no stop step (the source does not answer)
  std::string from;   // the down cluster
};

// Cancel a copy of a job running where the job no longer lives (its cluster came back after a
// failover): no savepoint over the new instance's state.
struct StaleCancel {
  RecoveryPlan plan;  // steps {kCancel, kWaitTerminal}; plan.cluster = where the copy runs
  std::string lives_on;
};

struct FailoverOutput {
  std::vector<std::string> down;  // clusters considered down, sorted
  std::vector<FailoverMove> moves;
  // Jobs going home (automatic failback): plan.steps {kStopWithSavepoint, kWaitTerminal,
  // kSubmit, kVerify} with restore_from_stop_savepoint; `from` = the backup it leaves.
  std::vector<FailoverMove> failbacks;
  std::vector<StaleCancel> stale;
  std::vector<Refusal> refusals;  // pages (no usable point, no backup) and deferrals
};

// True when `path` is on storage every cluster can read: its scheme is in `shared_schemes`.
bool OnSharedStorage(const std::string& path, const std::set<std::string>& shared_schemes);

FailoverOutput PlanFailovers(const FailoverInput& in);

}  // namespace flinkguard
