#pragma once

// The flinksim model: one emulated Flink session cluster (JobManager + TaskManagers) with its
// jobs, checkpoints, savepoints, jars and exception history. No sockets and no clock reads:
// every mutation takes the current simulated time (epoch ms) through AdvanceTo(), and the
// model moves forward event by event, so tests drive it with explicit times.
//
// Thread-safety: none. The owner (Simulator) serialises all calls with one mutex.
// File system: checkpoint/savepoint directories with a `_metadata` file and uploaded jars
// live under ClusterOptions::data_dir (or wherever a request points).

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "tests/flinksim/util.h"

namespace flinksim {

// ---------------------------------------------------------------------------------------------
// Versions and enums

// The Flink release lines flinksim emulates. Ordered: later lines compare greater.
enum class FlinkVersion { k1_18 = 0, k1_20 = 1, k2_0 = 2 };

// Accepts "1.18", "1.18.1", "1.20", "1.20.1", "2.0", "2.0.0". nullopt for anything else.
std::optional<FlinkVersion> ParseFlinkVersion(std::string_view text);
// The full version string reported by default for a line ("1.18.1", "1.20.1", "2.0.0").
std::string DefaultVersionString(FlinkVersion v);
inline bool AtLeast(FlinkVersion v, FlinkVersion min) {
  return static_cast<int>(v) >= static_cast<int>(min);
}

// org.apache.flink.api.common.JobStatus, in declaration order.
enum class JobStatus {
  kInitializing,
  kCreated,
  kRunning,
  kFailing,
  kFailed,
  kCancelling,
  kCanceled,
  kFinished,
  kRestarting,
  kSuspended,
  kReconciling
};
inline constexpr size_t kNumJobStatuses = 11;
const char* Name(JobStatus s);
JobStatus JobStatusAt(size_t index);
bool IsGloballyTerminal(JobStatus s);

// org.apache.flink.runtime.execution.ExecutionState, in declaration order.
enum class ExecState {
  kCreated,
  kScheduled,
  kDeploying,
  kRunning,
  kFinished,
  kCanceling,
  kCanceled,
  kFailed,
  kReconciling,
  kInitializing
};
inline constexpr size_t kNumExecStates = 10;
const char* Name(ExecState s);
ExecState ExecStateAt(size_t index);
bool IsTerminal(ExecState s);

// ---------------------------------------------------------------------------------------------
// Errors returned to the REST layer. `text` is the whole stringified Java exception (what
// Flink puts in the single "errors" string of a RestHandlerException).

enum class ErrorKind { kBadRequest, kNotFound, kConflict, kInternal };
struct SimError {
  ErrorKind kind;
  std::string text;
};
template <typename T>
using SimResult = tl::expected<T, SimError>;

// ---------------------------------------------------------------------------------------------
// Jobs

struct Operator {
  std::string uid;   // user-assigned uid (from the jar) — what savepoint state is keyed by
  std::string name;  // display name, e.g. "Source: Events"
  std::string id;    // 32 hex, derived from uid (Flink's OperatorID)
};

// One job vertex = one operator (flinksim does not chain). Counters cover the current
// execution attempt, summed over subtasks; they restart from zero after a restart.
struct Vertex {
  std::string id;
  std::string name;
  std::string metric_name;  // MetricOperatorName(name)
  std::string slot_sharing_group_id;
  int parallelism = 2;
  int max_parallelism = 128;
  bool is_source = false;
  bool is_sink = false;
  double records_in = 0;
  double records_out = 0;
  double bytes_in = 0;
  double bytes_out = 0;
  double busy_ms = 0;  // accumulated over subtasks; NaN for sources (legacy-source style)
  double idle_ms = 0;
  double backpressured_ms = 0;
};

// Rates of one subtask of a vertex at the current instant.
struct SubtaskRates {
  double records_in_per_s = 0;
  double records_out_per_s = 0;
  double busy_ms_per_s = 0;  // NaN for sources
  double idle_ms_per_s = 0;
  double backpressured_ms_per_s = 0;
};

struct ExceptionRecord {
  std::string class_name;
  std::string stacktrace;
  int64_t timestamp = 0;
  bool global = false;    // no task, endpoint or TM id (JobManager-side failure)
  std::string task_name;  // "Map (2/2) - execution #1"
  std::string endpoint;   // "localhost:41235" (location/endpoint)
  std::string tm_id;
};

// One entry of the checkpoint statistics (completed, failed or in progress).
struct CheckpointRecord {
  enum class State { kInProgress, kCompleted, kFailed };
  State state = State::kInProgress;
  int64_t id = 0;
  bool is_savepoint = false;
  std::string savepoint_format;  // "CANONICAL"/"NATIVE"; empty = null (checkpoints)
  std::string type;              // CHECKPOINT | SAVEPOINT | SYNC_SAVEPOINT
  int64_t trigger_ts = 0;
  int64_t ack_ts = -1;
  int64_t state_size = 0;
  int64_t checkpointed_size = 0;
  int64_t processed_data = 0;
  int num_subtasks = 0;
  int num_acked = 0;
  std::string external_path;  // "file:/..." once completed
  std::string local_dir;      // directory on disk
  bool discarded = false;
  int64_t failure_ts = 0;
  std::string failure_message;
  // Planning (internal).
  int64_t planned_duration = 0;
  std::string trigger_id;  // savepoint operation, if any
  bool written = false;    // `_metadata` written to disk
};

struct RestoredInfo {
  int64_t id = 0;
  int64_t restore_ts = 0;
  bool is_savepoint = false;
  std::string external_path;
  std::string claim_mode;
  bool allow_non_restored_state = false;
};

// An asynchronous savepoint / stop-with-savepoint operation (GET .../savepoints/:triggerid).
struct SavepointOperation {
  std::string trigger_id;
  int64_t created = 0;
  bool done = false;
  int64_t done_at = 0;
  std::string location;       // on success
  std::string failure_class;  // on failure (then location is empty)
  std::string failure_stack;
  bool stop = false;
  bool drain = false;
  bool cancel_job = false;
  std::string target_dir;
  std::string format = "CANONICAL";
  int64_t checkpoint_id = -1;  // -1 when never started
};

// Job-level settings resolved from the cluster configuration plus the job's
// flinkConfiguration (both old and 1.20+ key names are understood).
struct JobSettings {
  bool checkpointing = true;
  int64_t checkpoint_interval_ms = 10'000;
  int64_t checkpoint_timeout_ms = 600'000;
  int64_t min_pause_ms = 0;
  int num_retained = 1;
  int tolerable_failed = 3;
  std::string restart_strategy = "fixed-delay";  // fixed-delay | none
  int restart_attempts = 3;
  int64_t restart_delay_ms = 1000;
  std::string checkpoint_dir;  // local base path; checkpoints go to <dir>/<jobid>/chk-<n>
  std::string savepoint_dir;   // local path; empty = not configured
  std::string claim_mode = "NO_CLAIM";
};

enum class CheckpointFaultMode { kOk, kFail, kStall };

// Fault-injection state attached to one job by the control API.
struct JobFaults {
  CheckpointFaultMode checkpoint_mode = CheckpointFaultMode::kOk;
  std::string checkpoint_fail_message = "Checkpoint expired before completing.";
  bool restart_loop = false;
  int restart_loop_remaining = -1;  // -1 = forever
  int64_t restart_loop_after_ms = 5000;
  ExceptionSpec restart_loop_exception{"java.lang.RuntimeException", "Injected restart loop"};
  int64_t restart_loop_fail_at = kNever;
};

// Which source-lag metric the job's source vertex reports.
enum class LagMetric {
  kPendingRecords,  // FLIP-33 `pendingRecords` (a FLIP-27 source such as KafkaSource)
  kRecordsLagMax,   // `KafkaConsumer.records-lag-max` (the legacy FlinkKafkaConsumer; not in 2.0)
  kNone,            // none (a legacy SourceFunction that is not Kafka's)
};

struct Traffic {
  double qps = 1000;        // records per second entering the source
  double backpressure = 0;  // 0..1 ratio of time the non-sink tasks are backpressured
  // Backlog at the source: built up while backpressured and while a job that ran before is down
  // (restarting, redeploying: the input keeps arriving), drained at 1.5x the input rate otherwise.
  double lag_records = 0;
  LagMetric lag_metric = LagMetric::kPendingRecords;
};

// What the job is waiting for next (one timed state transition at a time).
enum class Phase {
  kNone,
  kInitialize,       // INITIALIZING -> CREATED (or FAILED on a bad restore)
  kSchedule,         // CREATED -> RUNNING, tasks SCHEDULED, then deploy when slots allow
  kDeployed,         // tasks DEPLOYING -> INITIALIZING
  kTasksRunning,     // tasks INITIALIZING -> RUNNING
  kRestartCanceled,  // RESTARTING: tasks CANCELING -> CANCELED
  kRestart,          // RESTARTING -> RUNNING (redeploy)
  kFailed,           // FAILING -> FAILED
  kCanceled,         // CANCELLING -> CANCELED
  kFinished,         // stop-with-savepoint: tasks FINISHED, job FINISHED
  kSlotTimeout,      // waiting in SCHEDULED for slots: fails when reached
};

struct Job {
  std::string id;
  std::string name;
  std::string jar_id;
  std::string entry_class;
  std::vector<std::string> program_args;
  std::vector<Operator> operators;
  std::vector<Vertex> vertices;
  JobSettings settings;
  std::map<std::string, std::string> job_config;  // flinkConfiguration as submitted

  JobStatus status = JobStatus::kInitializing;
  std::array<int64_t, kNumJobStatuses> timestamps{};  // last entry into each state, 0 = never
  int64_t start_time = 0;
  int64_t end_time = -1;
  int64_t last_modification = 0;

  ExecState task_state = ExecState::kCreated;
  std::array<int64_t, kNumExecStates> task_timestamps{};  // current attempt
  int64_t deploy_time = -1;  // current attempt entered DEPLOYING; -1 = never
  int attempt = 0;
  int failed_vertex = -1;  // vertex whose subtask 0 shows FAILED after a terminal failure

  Phase phase = Phase::kNone;
  int64_t phase_at = kNever;

  int num_restarts = 0;
  int64_t restart_at = kNever;              // when the current restart redeploys
  std::vector<ExceptionRecord> exceptions;  // oldest first, at most 16 kept
  std::optional<std::pair<std::string, int64_t>> root_failure;  // 1.x root-exception/timestamp
  std::optional<ExceptionRecord> failed_task_exception;         // 1.x all-exceptions when FAILED
  std::string init_failure;  // non-empty: INITIALIZING fails with this stringified exception
  std::optional<std::string> restore_path;  // savepointPath of the submission
  bool restore_allow_non_restored = false;

  // Checkpoint statistics (since this JobMaster started).
  int64_t next_checkpoint_id = 1;
  int64_t next_checkpoint_at = kNever;
  std::map<int64_t, CheckpointRecord> checkpoints;  // every record still referenced
  std::deque<int64_t> history;                      // newest first, at most 10
  std::deque<int64_t> retained;                     // completed checkpoints on disk, oldest first
  std::optional<int64_t> latest_completed;
  std::optional<int64_t> latest_savepoint;
  std::optional<int64_t> latest_failed;
  std::optional<RestoredInfo> restored;
  int count_completed = 0;
  int count_failed = 0;
  int consecutive_failures = 0;
  std::optional<int64_t> last_completed_any;  // checkpoint or savepoint (lastCheckpoint* gauges)
  std::optional<int64_t> pending_checkpoint;
  std::vector<int64_t> pending_savepoints;
  std::vector<int64_t> completed_sizes;      // for the summary (bounded)
  std::vector<int64_t> completed_durations;  // for the summary (bounded)
  std::vector<int64_t> completed_processed;  // for the summary (bounded)
  bool disk_dirty = false;                   // retained checkpoints not yet written
  int64_t integrated_to = 0;                 // counters and backlog are computed up to this time

  std::vector<size_t> slot_tm;  // slot i (subtask i of every vertex) -> TaskManager index
  bool slots_allocated = false;

  Traffic traffic;
  JobFaults faults;

  int64_t Duration(int64_t now) const { return (end_time >= 0 ? end_time : now) - start_time; }
  int MaxParallelism() const;
  int TotalSubtasks() const;
  // State of one subtask (all subtasks share the job's task state, except a failed task).
  ExecState SubtaskState(size_t vertex, int subtask) const;
};

// ---------------------------------------------------------------------------------------------
// Cluster-level things

struct TaskManager {
  std::string id;    // "localhost:34457-7b2520"
  std::string host;  // "localhost"
  std::string path;  // RPC address
  int data_port = 0;
  int slots = 16;
  std::vector<std::string> slot_owner;  // job id per slot, "" = free
  int64_t registered_at = 0;
  int FreeSlots() const;
};

struct Jar {
  std::string id;    // "<uuid>_name.jar"
  std::string name;  // original file name
  std::string path;  // absolute path on disk
  int64_t uploaded = 0;
  std::string entry_class;                 // Main-Class line, "" when unknown
  std::vector<std::string> operator_uids;  // from "flinksim-operators:"; empty = default topology
  std::string job_name;                    // from "flinksim-job-name:", "" = derived from file
  int parallelism = 2;                     // from "flinksim-parallelism:"
  std::optional<int64_t> checkpoint_interval_ms;  // from "flinksim-checkpoint-interval:"
};

struct ClusterOptions {
  FlinkVersion version = FlinkVersion::k1_20;
  std::string version_string;  // empty = DefaultVersionString(version)
  std::string data_dir;        // must exist or be creatable
  int taskmanagers = 2;
  int slots_per_tm = 16;
  uint64_t seed = 42;
  std::string rest_address = "127.0.0.1";
  int rest_port = 8081;
  // Extra/overriding configuration entries ("key" -> "value"); an empty value removes a key.
  std::map<std::string, std::string> config;
};

// Body of POST /jars/:jarid/run after version-specific parsing.
struct RunRequest {
  std::string entry_class;
  std::vector<std::string> program_args;
  std::optional<int> parallelism;
  std::optional<std::string> job_id;
  std::optional<std::string> savepoint_path;
  bool allow_non_restored_state = false;
  std::optional<std::string> claim_mode;  // restoreMode / claimMode, upper case
  std::map<std::string, std::string> flink_configuration;
};

struct SavepointRequest {
  std::optional<std::string> target_directory;
  bool cancel_job = false;
  bool stop = false;  // stop-with-savepoint (/stop)
  bool drain = false;
  std::string format = "CANONICAL";
  std::optional<std::string> trigger_id;
};

// The emulated cluster.
class Cluster {
 public:
  // Creates the cluster at simulated time `now_ms`: TaskManagers registered, no jobs.
  Cluster(ClusterOptions options, int64_t now_ms);

  // Moves simulated time forward to `now_ms` (earlier values are ignored), processing every
  // state change, checkpoint and savepoint due on the way, then syncs checkpoint directories
  // on disk. `settle` (what every reader needs) also brings every job's traffic counters to
  // `now_ms` and expires old finished jobs; the background tick passes false, leaving that to
  // the next reader — integrating a job over one long span equals integrating it over the
  // ticks in between, and every state or traffic change integrates the job first.
  void AdvanceTo(int64_t now_ms, bool settle = true);
  // What AdvanceTo(now(), true) adds to AdvanceTo(now(), false), for one job only when
  // `job_id` is set: a request that reads one job (GET /jobs/<id>/...) integrates that job, not
  // every job of the cluster. Finished jobs past their expiry are removed either way.
  void Settle(const std::string* job_id = nullptr);
  int64_t now() const { return now_; }

  FlinkVersion version() const { return options_.version; }
  const std::string& version_string() const { return version_string_; }
  const ClusterOptions& options() const { return options_; }

  // Effective cluster configuration in key order (what /jobmanager/config shows). Key names
  // follow the emulated version (state.savepoints.dir vs execution.checkpointing.savepoint-dir).
  std::vector<std::pair<std::string, std::string>> Configuration() const;
  // Sets (or, with an empty value, removes) one cluster configuration entry. Accepts either
  // key spelling; affects jobs submitted afterwards.
  void SetConfig(const std::string& key, const std::string& value);

  // --- jars
  // Stores `content` as an uploaded jar named `file_name`. Errors: 400 when the name does not
  // end with ".jar".
  SimResult<Jar> UploadJar(const std::string& file_name, std::string_view content);
  // false when unknown.
  bool DeleteJar(const std::string& jar_id);
  const std::vector<Jar>& jars() const { return jars_; }
  const std::string& upload_dir() const { return upload_dir_; }

  // --- jobs
  // Submits a job from an uploaded jar; returns the job id. Errors (400) mirror JarRunHandler:
  // unknown jar, malformed job id, duplicate job id. A bad savepointPath or unmappable state
  // is not an error here: the job is accepted and then FAILS during initialization, as in
  // Flink, where the JobMaster restores state asynchronously after submission.
  SimResult<std::string> RunJar(const std::string& jar_id, const RunRequest& request);
  // Cancels a job. Errors: 404 unknown; 409 when it already reached FINISHED or FAILED.
  // Cancelling a CANCELED job succeeds (Flink's Dispatcher acknowledges it).
  SimResult<void> CancelJob(const std::string& job_id);
  // Triggers a savepoint (or stop-with-savepoint). Returns the trigger id. Errors: 400 when no
  // directory is given and none is configured. Failures that Flink reports asynchronously
  // (job not running, unknown job) become a COMPLETED operation with a failure cause.
  SimResult<std::string> TriggerSavepoint(const std::string& job_id, const SavepointRequest& req);
  // nullptr when no such operation exists (or it expired, rest.async.store-duration = 5 min).
  const SavepointOperation* FindSavepointOperation(const std::string& job_id,
                                                   const std::string& trigger_id) const;

  Job* FindJob(const std::string& job_id);
  const Job* FindJob(const std::string& job_id) const;
  // Jobs in the job store, in submission order (terminal ones until jobstore expiry).
  const std::vector<std::unique_ptr<Job>>& jobs() const { return jobs_; }
  // Resolves a job reference from the control API: a job id, or a job name (the newest
  // non-terminal job with that name, else the newest one).
  Job* ResolveJob(const std::string& ref);

  // --- task managers
  const std::vector<TaskManager>& taskmanagers() const { return taskmanagers_; }
  int TotalSlots() const;
  int FreeSlots() const;

  // --- derived values for rendering
  SubtaskRates Rates(const Job& job, size_t vertex) const;
  // Pending records (consumer lag) of the source, per subtask.
  double PendingRecordsPerSubtask(const Job& job) const;
  // True when the job's tasks are deployed (metrics exist for them).
  static bool TasksHaveMetrics(const Job& job);

  // --- control API (fault injection); the job must be known.
  // Fails the job with the given exception: through the restart strategy, or terminally
  // (FAILED at once). Error 409 when the job is not in a state that can fail.
  SimResult<void> FailJob(const std::string& job_id, const ExceptionSpec& exception, bool terminal);
  // Starts a restart loop: the job fails `after_ms` after each time it is fully running,
  // `times` times (-1 = until cleared).
  void SetRestartLoop(const std::string& job_id, int64_t after_ms, int times,
                      const ExceptionSpec& exception);
  void ClearRestartLoop(const std::string& job_id);
  void SetCheckpointMode(const std::string& job_id, CheckpointFaultMode mode,
                         const std::string& message);
  void SetTraffic(const std::string& job_id, std::optional<double> qps,
                  std::optional<double> backpressure,
                  std::optional<LagMetric> lag_metric = std::nullopt);
  // Deletes a checkpoint/savepoint directory from disk (path or file: URI). The model keeps
  // believing it exists, like Flink does when storage is removed behind its back.
  bool DeleteSnapshotDirectory(const std::string& path_or_uri);
  // Starts a streaming job like the --jobs ones (jar uploaded first). Returns the job id.
  std::string StartDefaultJob(const std::string& name, int64_t checkpoint_interval_ms);

 private:
  int64_t NextEventTime(const Job& job) const;
  void ProcessDue(Job& job);
  void Integrate(Job& job, int64_t from, int64_t to);
  // Integrates `dt` seconds; a backlog that drains within them splits the span where it does,
  // so the busy and idle times follow the catch-up rate, then the input rate.
  void IntegrateSeconds(Job& job, double dt);
  // Brings the job's counters up to now_ (before any change of its state or traffic).
  void IntegrateTo(Job& job);
  void SetStatus(Job& job, JobStatus status);
  void SetTaskState(Job& job, ExecState state);
  void EnterPhase(Job& job, Phase phase, int64_t at);
  void OnTasksRunning(Job& job);
  void TryDeploy(Job& job);
  void TryDeployWaitingJobs();
  void ReleaseSlots(Job& job);
  bool AllocateSlots(Job& job);
  void Terminate(Job& job, JobStatus final_status);
  void HandleFailure(Job& job, const std::string& class_name, const std::string& stacktrace,
                     bool global, bool terminal, int vertex);
  ExceptionRecord MakeExceptionRecord(const Job& job, const std::string& class_name,
                                      const std::string& stacktrace, bool global, int vertex) const;
  void RecordException(Job& job, ExceptionRecord record);
  void TriggerCheckpoint(Job& job);
  int64_t StartSnapshot(Job& job, bool is_savepoint, const std::string& type,
                        const std::string& format, const std::string& trigger_id,
                        const std::string& target_dir);
  void CompleteSnapshot(Job& job, int64_t id);
  void FailSnapshot(Job& job, int64_t id, const std::string& message, bool count_for_tolerance);
  void AbortPendingSnapshots(Job& job, const std::string& message);
  void AddToHistory(Job& job, int64_t id);
  void PruneRecords(Job& job);
  void DiscardRetained(Job& job);
  void SyncDisk(Job& job);
  std::string SnapshotMetadata(const Job& job, const CheckpointRecord& rec) const;
  void ApplyRestore(Job& job);
  JobSettings ResolveSettings(const std::map<std::string, std::string>& job_config) const;
  std::optional<std::string> ConfigValue(const std::map<std::string, std::string>& job_config,
                                         std::initializer_list<const char*> keys) const;
  Job& CreateJob(const Jar& jar, const RunRequest& request, const std::string& job_id);
  void ExpireJobs();
  std::string NewTriggerId() { return rng_.Hex(32); }

  ClusterOptions options_;
  std::string version_string_;
  int64_t now_;
  Rng rng_;
  std::map<std::string, std::string> config_;  // canonical (version-specific) key names
  std::vector<TaskManager> taskmanagers_;
  std::vector<Jar> jars_;
  std::string upload_dir_;
  std::vector<std::unique_ptr<Job>> jobs_;
  std::vector<int64_t> next_at_;  // AdvanceTo's next event per job, kept to reuse its storage
  std::map<std::string, bool> used_job_ids_;  // JobResultStore: every id ever accepted
  std::map<std::string, SavepointOperation> savepoint_ops_;  // "<jobid>/<triggerid>"
  bool others_changed_ = false;  // an event of one job changed another job's schedule
};

}  // namespace flinksim
