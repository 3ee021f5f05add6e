#pragma once

// What flinkguard reads from the Flink REST API, as plain values. Times are epoch milliseconds
// as Flink sends them (int64); -1 / 0 sentinels are turned into std::nullopt where noted.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/job_status.h"

namespace flinkguard {

// A Flink release as "major.minor", from /config or /overview ("1.20.1", "2.0-SNAPSHOT").
struct FlinkVersion {
  int major = 0;
  int minor = 0;
  std::string text;  // as Flink reported it

  bool AtLeast(int maj, int min) const { return major > maj || (major == maj && minor >= min); }
};

// Parses "1.20.1", "1.18.0", "2.0-SNAPSHOT", "1.14.4"; std::nullopt when there is no
// major.minor prefix.
std::optional<FlinkVersion> ParseFlinkVersion(const std::string& text);

// GET /config.
struct DashboardConfig {
  std::optional<FlinkVersion> version;
  std::string revision;
  std::int64_t refresh_interval_ms = 0;
  bool web_submit = false;  // false: /jars/* is not served, resubmission is impossible
  std::optional<bool> web_cancel;  // 1.14+
};

// GET /overview.
struct ClusterOverview {
  int taskmanagers = 0;
  int slots_total = 0;
  int slots_available = 0;
  int jobs_running = 0;
  int jobs_finished = 0;
  int jobs_cancelled = 0;
  int jobs_failed = 0;
  std::string flink_version;
};

// One job of GET /jobs/overview.
struct JobOverview {
  std::string id;                  // 32 lowercase hex
  std::string name;
  std::string state_text;          // as sent; kept even when `state` is unknown to us
  std::optional<JobStatus> state;  // std::nullopt: a state this build does not know
  std::int64_t start_time = 0;
  std::optional<std::int64_t> end_time;  // absent while not terminal (Flink sends -1)
  std::int64_t duration = 0;
  std::int64_t last_modification = 0;
  std::map<std::string, int> tasks;  // lower-case ExecutionState -> subtasks, plus "total"

  // Every subtask RUNNING (or FINISHED, as in bounded sources), and at least one subtask.
  bool AllTasksRunning() const;
};

// A list parsed from a larger response: entries that failed to parse are left out and
// described in `problems`, so one odd job does not hide the others.
template <typename T>
struct Parsed {
  std::vector<T> items;
  std::vector<std::string> problems;
};

// One entry of checkpoint statistics (latest.* or history[]).
struct CheckpointEntry {
  std::string kind;  // "completed", "failed", "in_progress" (className, or @class before 1.15)
  std::int64_t id = 0;
  std::string status;           // COMPLETED | FAILED | IN_PROGRESS
  bool is_savepoint = false;
  std::string checkpoint_type;  // CHECKPOINT, SAVEPOINT, SYNC_SAVEPOINT, UNALIGNED_CHECKPOINT
  std::int64_t trigger_timestamp = 0;
  std::optional<std::int64_t> latest_ack_timestamp;  // absent when Flink sent -1
  std::optional<std::int64_t> end_to_end_duration;
  std::string external_path;    // empty when absent
  bool discarded = false;
  std::optional<std::int64_t> failure_timestamp;  // failed entries
  std::string failure_message;                     // failed entries

  // A path a job can be restored from: present and not "<checkpoint-not-externally-addressable>".
  bool ExternallyAddressable() const;
};

// What Flink reports as the path of a checkpoint that is not retained externally, in the
// checkpoint statistics and in the lastCheckpointExternalPath gauge.
inline constexpr std::string_view kNotAddressablePath = "<checkpoint-not-externally-addressable>";

struct RestoredCheckpoint {
  std::int64_t id = 0;
  std::int64_t restore_timestamp = 0;
  bool is_savepoint = false;
  std::string external_path;
};

// GET /jobs/:id/checkpoints.
struct CheckpointStats {
  std::int64_t restored = 0;
  std::int64_t total = 0;
  std::int64_t in_progress = 0;
  std::int64_t completed = 0;
  std::int64_t failed = 0;
  std::optional<CheckpointEntry> latest_completed;
  std::optional<CheckpointEntry> latest_savepoint;
  std::optional<CheckpointEntry> latest_failed;
  std::optional<RestoredCheckpoint> latest_restored;
  std::vector<CheckpointEntry> history;  // newest first, as Flink sends it
  std::vector<std::string> problems;     // history entries that could not be read
};

// GET /jobs/:id/checkpoints/config (404 when checkpointing is off).
struct CheckpointConfigInfo {
  std::string mode;  // exactly_once | at_least_once
  std::int64_t interval_ms = 0;
  std::int64_t timeout_ms = 0;
  std::int64_t min_pause_ms = 0;
  std::int64_t max_concurrent = 0;
  bool externalization_enabled = false;  // retained on cancellation/failure
  bool delete_on_cancellation = true;
  std::int64_t tolerable_failed_checkpoints = 0;
  std::string state_backend;
};

struct VertexInfo {
  std::string id;
  std::string name;
  int parallelism = 0;
  std::string status;  // ExecutionState
  std::map<std::string, int> tasks;  // UPPER-case ExecutionState -> subtasks
  std::optional<std::int64_t> read_records;
  std::optional<std::int64_t> write_records;
  std::optional<std::int64_t> accumulated_backpressured_ms;  // 1.16+
  std::optional<double> accumulated_busy_ms;                 // 1.16+, may be NaN
};

// GET /jobs/:id.
struct JobDetails {
  std::string id;
  std::string name;
  std::string state_text;
  std::optional<JobStatus> state;
  std::int64_t start_time = 0;
  std::optional<std::int64_t> end_time;
  std::int64_t duration = 0;
  std::int64_t now = 0;  // the JobManager's clock: compute ages against it, not ours
  std::map<std::string, std::int64_t> timestamps;  // JobStatus name -> last entry (0 = never)
  std::vector<VertexInfo> vertices;
  std::optional<std::string> job_type;  // 1.20+: BATCH | STREAMING
};

// One {"id","value"} pair of a metric list. Values are strings on the wire.
struct MetricEntry {
  std::string id;
  std::optional<std::string> value;  // absent when the list was fetched without ?get=

  std::optional<double> AsDouble() const;
};

// One {"id","min","max","avg","sum","skew"} entry of an aggregated metric list.
struct AggregatedMetric {
  std::string id;
  std::optional<double> min, max, avg, sum, skew;
};

// The newest root cause from GET /jobs/:id/exceptions, whatever the version's shape.
struct RootException {
  std::string exception_name;  // class name, or parsed from the first stack-trace line
  std::string stacktrace;
  std::optional<std::int64_t> timestamp;
  std::string task_name;       // empty for global (JobManager) failures
  std::string endpoint;        // "host:port" (location before 1.19), empty when unknown
  std::map<std::string, std::string> failure_labels;

  // The first `n` lines of the stack trace, for alerts.
  std::string FirstLines(int n) const;
};

// GET /jobs/:id/savepoints/:triggerid (also used for stop-with-savepoint).
struct SavepointStatus {
  bool in_progress = false;
  std::optional<std::string> location;  // set when it completed successfully
  std::optional<std::string> failure_class;  // set when it "COMPLETED" with a failure cause
  std::string failure_stacktrace;
};

struct TaskManagerInfo {
  std::string id;
  int slots = 0;
  int free_slots = 0;
  std::int64_t last_heartbeat = 0;  // epoch ms (the field is misnamed timeSinceLastHeartbeat)
};

}  // namespace flinkguard
