#pragma once

// Savepoint policy, pure: when a periodic savepoint of a job is due, which savepoints the
// restore-point catalog keeps, and which instances of a duplicated job name to stop.
// No I/O, no clock reads: the caller passes the time and what it observed.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rules/decision.h"
#include "rules/snapshot.h"

namespace flinkguard {

// A job's savepoint settings (`jobs[].savepoints`).
struct SavepointPolicy {
  std::optional<std::int64_t> interval_ms;  // periodic savepoints; absent = none
  int keep = 10;                            // savepoints kept in the catalog, newest first
  std::int64_t max_age_ms = 7LL * 24 * 3'600'000;  // older ones leave the catalog
};

// Why a periodic savepoint of `job` is or is not due at `now_ms`: due when the policy has an
// interval, the job's current instance is RUNNING with every task running, nothing else acts on
// the job (`busy`), and the newest completed savepoint (`newest_savepoint_ms`: its completion,
// nullopt when none is known) is at least one interval old. With none known, the instance's
// uptime must reach the interval first, so a restart does not start with a savepoint storm.
struct SavepointDue {
  bool due = false;
  std::string reason;  // why (not); for logs and `explain`
};
SavepointDue PeriodicSavepointDue(const SavepointPolicy& policy, const JobSnapshot& current,
                                  std::optional<std::int64_t> newest_savepoint_ms, bool busy,
                                  std::int64_t now_ms);

// The savepoints of one job that leave the catalog at `now_ms`: beyond the newest `keep`, or
// older (by completion, else trigger time) than `max_age_ms`. The newest usable savepoint (not
// discarded, addressable, not failed to restore) always stays, whatever its age; checkpoints are
// never touched. `points` may hold several jobs' points; only savepoints of `job` are considered.
std::vector<KnownRestorePoint> SavepointsToForget(const std::vector<KnownRestorePoint>& points,
                                                  const std::string& job,
                                                  const SavepointPolicy& policy,
                                                  std::int64_t now_ms);

// For `on_duplicate: stop`: the live instances of `job` to stop with a savepoint so that one
// remains — the newest (latest start time; ties broken by job id for a stable answer). Only
// instances whose status is known, fresh and not terminal count; with an instance of unknown or
// stale status anywhere, nothing is stopped (the newest cannot be known for sure).
// The pointers point into `snapshots`, which must outlive the result.
struct DuplicateStops {
  std::vector<const JobSnapshot*> stop;  // oldest first
  const JobSnapshot* keep = nullptr;
  std::string reason;  // what was decided and why, or why nothing is stopped
};
DuplicateStops PlanDuplicateStops(const std::vector<JobSnapshot>& snapshots,
                                  const std::string& job);

}  // namespace flinkguard
