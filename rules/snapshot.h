#pragma once

// What the agent knows about each job and cluster at one moment: the input of every decision.
// Every field says whether it is fresh (observed this cycle), stale (an older value kept because
// this cycle's observation failed) or unknown (never observed, or not applicable) — so that
// missing data can never be mistaken for a healthy or a broken job.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rules/job_status.h"

namespace flinkguard {

enum class Freshness { kUnknown, kStale, kFresh };

// "unknown", "stale", "fresh".
const char* FreshnessName(Freshness f);

struct JobSnapshot;
// Sets every snapshot's live_instances (fresh at `now_ms`) from the whole set.
void CountLiveInstances(std::vector<JobSnapshot>& jobs, std::int64_t now_ms);

// One observed value with its provenance. Times are epoch milliseconds (agent wall clock).
// A kFresh field without a value was observed to be absent (e.g. "no checkpoint completed yet"),
// which is different from kUnknown (not observed).
template <typename T>
struct Observed {
  std::optional<T> value;  // set for kStale; for kFresh unless observed absent; never for kUnknown
  Freshness freshness = Freshness::kUnknown;
  std::int64_t observed_at_ms = 0;  // when `value` was observed
  std::string why;                  // for kStale/kUnknown: what is missing and why

  bool fresh() const { return freshness == Freshness::kFresh; }
  bool known() const { return value.has_value(); }

  void SetFresh(T v, std::int64_t at_ms) {
    value = std::move(v);
    freshness = Freshness::kFresh;
    observed_at_ms = at_ms;
    why.clear();
  }
  // Observed this cycle: there is no such thing (no checkpoint yet, no savepoint).
  void SetAbsent(std::int64_t at_ms) {
    value.reset();
    freshness = Freshness::kFresh;
    observed_at_ms = at_ms;
    why.clear();
  }
  // Keeps the last value (now stale) when there is one; otherwise stays unknown.
  void MarkStale(std::string reason) {
    freshness = value || freshness != Freshness::kUnknown ? Freshness::kStale : Freshness::kUnknown;
    why = std::move(reason);
  }
  void SetUnknown(std::string reason) {
    value.reset();
    freshness = Freshness::kUnknown;
    why = std::move(reason);
  }
};

// A completed checkpoint or savepoint a job could be restored from.
struct RestorePoint {
  enum class Kind { kCheckpoint, kSavepoint };
  Kind kind = Kind::kCheckpoint;
  std::int64_t id = 0;             // Flink's checkpoint id
  std::string path;                // external path ("file:/...", "s3://...")
  std::int64_t trigger_ms = 0;     // Flink's trigger_timestamp
  std::int64_t completed_ms = 0;   // latest_ack_timestamp; 0 when unknown
  bool discarded = false;          // Flink already removed or subsumed it
  bool addressable = true;         // false for "<checkpoint-not-externally-addressable>"
};

// The checkpointing settings of a job (from /jobs/:id/checkpoints/config).
struct CheckpointSettings {
  std::int64_t interval_ms = 0;
  std::int64_t timeout_ms = 0;
  std::int64_t tolerable_failures = 0;
  bool retained_on_cancel = false;  // externalized, not deleted on cancellation
};

// One Flink job instance (one job id) on one cluster.
struct JobSnapshot {
  std::string cluster;
  std::string job_id;
  std::string name;
  std::int64_t observed_at_ms = 0;  // the cycle's wall time
  std::int64_t start_time_ms = 0;
  std::optional<std::int64_t> end_time_ms;

  Observed<JobStatus> status;
  std::string status_text;            // as Flink wrote it (kept when `status` is unknown to us)
  Observed<bool> all_tasks_running;   // every subtask RUNNING (or FINISHED)
  Observed<std::int64_t> tasks_total;
  Observed<std::int64_t> restarts;    // numRestarts (a counter; resets with a new job id)
  Observed<std::int64_t> uptime_ms;   // time since the job last entered RUNNING; 0 when not
  Observed<RestorePoint> last_checkpoint;  // newest completed checkpoint (may be a savepoint)
  Observed<RestorePoint> last_savepoint;   // newest completed savepoint
  Observed<std::int64_t> checkpoint_age_ms;  // server now - completion of the newest checkpoint
  // True when checkpoint_age_ms is an upper bound rather than an exact age: a checkpoint newer
  // than last_checkpoint completed since /checkpoints was last read (the completed counter in
  // the job metrics says so), so last_checkpoint is stale and the newest one's completion time
  // is only known to lie after an earlier metrics sample. The true age is at most the value.
  bool checkpoint_age_upper_bound = false;
  Observed<std::int64_t> checkpoints_completed;
  Observed<std::int64_t> checkpoints_failed;
  Observed<std::int64_t> checkpoint_duration_ms;
  Observed<CheckpointSettings> checkpoint_settings;
  // Records out per second of the sources. From the TSDB every cycle when a `qps` signal is
  // configured; otherwise read from Flink with the job details (see `backpressure`).
  Observed<double> qps;
  // 0..1, the most backpressured vertex over the last two job-detail reads. Measured when the
  // details are read (every few cycles for unchanged jobs); it stays fresh, with the time of
  // that measurement in observed_at_ms, until the next read is due.
  Observed<double> backpressure;
  Observed<double> lag;           // source lag (records), from the TSDB when configured
  std::map<std::string, Observed<double>> signals;  // custom TSDB signals by name
  std::string backpressured_vertex;  // name of the vertex behind `backpressure`
  std::string root_exception;        // first lines of the newest root cause, when failed/restarted
  std::optional<std::int64_t> root_exception_ms;
  // Live (known, fresh, not globally terminal) instances of this job name on all clusters in
  // the same observation, this one included when live: more than 1 means duplicates.
  Observed<std::int64_t> live_instances;
};

// What a cluster offers to run jobs (from /overview).
struct ClusterCapacity {
  int taskmanagers = 0;
  int slots_total = 0;
  int slots_available = 0;
};

// One cluster's reachability and capacity.
struct ClusterSnapshot {
  std::string name;
  std::string az;
  std::int64_t observed_at_ms = 0;
  bool reachable = false;          // answered /jobs/overview this cycle
  std::string error;               // why not, when not
  int consecutive_failures = 0;    // cycles in a row without an answer
  std::int64_t last_ok_ms = 0;     // last cycle it answered; 0 = never
  // From /config or /overview: fresh when either told it this cycle; stale, the last one known,
  // when neither answered.
  Observed<std::string> flink_version;
  bool job_list_complete = false;  // every /jobs/overview entry was readable
  // Fresh when /overview answered this cycle; stale, the last answer's counts, when it did not.
  // Decisions (failover, failback) use fresh counts only.
  Observed<ClusterCapacity> capacity;
  int jobs_seen = 0;
};

// Everything one observation cycle produced.
struct Observation {
  std::int64_t at_ms = 0;             // wall time at the start of the cycle
  std::int64_t duration_us = 0;       // how long the cycle took
  std::vector<ClusterSnapshot> clusters;
  std::vector<JobSnapshot> jobs;      // every job instance seen on every cluster
  std::vector<std::string> problems;  // degraded paths this cycle (one line each)
  std::int64_t requests = 0;          // HTTP requests sent this cycle (retries included)
  std::int64_t retries = 0;           // of which retries after a 503 (leader election)
};

}  // namespace flinkguard
