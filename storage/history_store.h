#pragma once

// What flinkguard remembers: the restore-point catalog, the recovery journal (recoveries and
// their steps), rule transitions, refusals, savepoints, sampled observations and the
// notification outbox. Small role interfaces (what each user needs) and one SQLite
// implementation of all of them, SqliteHistoryStore.
//
// Times are epoch milliseconds. No method throws; every failure is an Error naming the database
// file and what failed (kTransient for SQLITE_BUSY/LOCKED, kPermanent for disk full, read-only
// file or I/O errors, kInvalid for a row that cannot be decoded).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/decision.h"
#include "rules/error.h"

namespace flinkguard {

// --- Restore points --------------------------------------------------------------------------

// Where a restore point came from.
enum class RestorePointOrigin { kObserved, kTaken };  // seen on a cluster / triggered by us
const char* RestorePointOriginName(RestorePointOrigin o);  // "observed", "taken"

// The catalog of every completed checkpoint and savepoint seen or taken, per job and cluster.
// It survives the cluster that held the job: a recovery on another cluster starts from here.
class RestorePointCatalog {
 public:
  virtual ~RestorePointCatalog() = default;
  // Inserts the point, or updates the row of the same (job, path): discarded/addressable/
  // completed_ms/id are refreshed; failed_restore is never cleared by an upsert (once poisoned,
  // it stays poisoned). `seen_ms` is recorded as first-seen on insert.
  [[nodiscard]] virtual Result<void> UpsertRestorePoint(const KnownRestorePoint& point,
                                                        RestorePointOrigin origin,
                                                        std::int64_t seen_ms) = 0;
  // Marks (job, path) as failed to restore. kNotFound when there is no such row.
  [[nodiscard]] virtual Result<void> MarkRestoreFailed(std::string_view job,
                                                       std::string_view path) = 0;
  // Every point of `job` ("" = every job), newest (trigger_ms) first.
  [[nodiscard]] virtual Result<std::vector<KnownRestorePoint>> RestorePoints(
      std::string_view job) = 0;
  // Removes (job, path) from the catalog (savepoint retention: the point is no longer offered
  // for restores; its files are left alone). Ok when there was no such row.
  [[nodiscard]] virtual Result<void> ForgetRestorePoint(std::string_view job,
                                                        std::string_view path) = 0;
};

// --- Recovery journal ------------------------------------------------------------------------

// One recovery (or a dry-run "would have"), as journaled before its first step.
struct RecoveryRecord {
  std::string id;        // unique; chosen by the caller
  std::string job;
  std::string cluster;   // where it submits
  std::string trigger;   // "rule" (the daemon), "manual" (flinkguard recover), "update", ...
  std::int64_t started_ms = 0;
  std::optional<std::int64_t> ended_ms;  // absent while in progress
  Strategy strategy = Strategy::kCheckpoint;
  std::string restore_path;  // "" for fresh state or when restoring from the stop's savepoint
  RecoveryAttempt::Outcome outcome = RecoveryAttempt::Outcome::kInProgress;
  std::optional<std::int64_t> cooldown_ms;
  bool dry_run = false;
  std::string reason;   // the planner's reason: why this rung and not the ones above
  std::string rules;    // the rules that asked for it, comma-separated
  Severity severity = Severity::kWarning;
  std::string plan;      // the plan as the executor serialised it (opaque here)
  std::string progress;  // the executor's resumable state (opaque here), updated per step
  std::optional<std::int64_t> fencing_token;
  std::string error;     // why it failed; "" otherwise
};

// One step of a recovery: a request to Flink and its result.
struct StepRecord {
  std::string recovery_id;
  int seq = 0;  // 0, 1, 2... within the recovery
  std::string kind;    // StepKindName() or a finer name ("upload-jar", "poll-savepoint")
  std::int64_t started_ms = 0;
  std::optional<std::int64_t> ended_ms;
  std::string status;  // "started", "done", "failed", "skipped"
  std::string detail;  // request and result in words, e.g. "PATCH /jobs/ab12?mode=cancel: 202"
  std::optional<std::int64_t> fencing_token;
};

// The crash-safe record of recoveries: written before each step is taken, so an agent killed
// at any point can finish or roll forward what it started.
class RecoveryJournal {
 public:
  virtual ~RecoveryJournal() = default;
  // kConflict when the id exists.
  [[nodiscard]] virtual Result<void> BeginRecovery(const RecoveryRecord& record) = 0;
  // Replaces the progress (and fencing token, when given) of an unfinished recovery.
  // kNotFound when absent, kConflict when it already ended.
  [[nodiscard]] virtual Result<void> SaveProgress(std::string_view id, std::string_view progress,
                                                  std::optional<std::int64_t> fencing_token) = 0;
  // Changes where an unfinished recovery restores from (e.g. a newer checkpoint than planned, or
  // the savepoint its stop returned). kNotFound when absent, kConflict when it already ended.
  [[nodiscard]] virtual Result<void> SetRestore(std::string_view id, Strategy strategy,
                                                std::string_view restore_path) = 0;
  // Sets outcome, ended_ms and error. kNotFound when absent, kConflict when it already ended.
  [[nodiscard]] virtual Result<void> EndRecovery(std::string_view id,
                                                 RecoveryAttempt::Outcome outcome,
                                                 std::int64_t ended_ms,
                                                 std::string_view error) = 0;
  // Changes the outcome of an ended recovery to kDidNotStick (escalation after it did not hold).
  [[nodiscard]] virtual Result<void> MarkDidNotStick(std::string_view id) = 0;
  // Inserts the step, or replaces the row with the same (recovery_id, seq).
  [[nodiscard]] virtual Result<void> RecordStep(const StepRecord& step) = 0;
  // Recoveries without ended_ms (including dry-run ones), oldest first.
  [[nodiscard]] virtual Result<std::vector<RecoveryRecord>> UnfinishedRecoveries() = 0;
  // Recoveries of `job` ("" = all) started at or after `since_ms`, oldest first.
  [[nodiscard]] virtual Result<std::vector<RecoveryRecord>> Recoveries(std::string_view job,
                                                                       std::int64_t since_ms) = 0;
  [[nodiscard]] virtual Result<std::vector<StepRecord>> Steps(std::string_view recovery_id) = 0;
  // Non-dry-run recoveries started at or after `since_ms`, as the planner takes them.
  [[nodiscard]] virtual Result<std::vector<RecoveryAttempt>> Attempts(std::int64_t since_ms) = 0;
};

// --- Events ----------------------------------------------------------------------------------

// A decision not to act, as recorded (the caller records it when it first happens or changes,
// not every cycle).
struct RefusalRecord {
  std::int64_t at_ms = 0;
  Refusal refusal;
};

// A savepoint flinkguard triggered (by hand, periodically, before an update, by a stop).
struct SavepointRecord {
  std::int64_t id = 0;  // assigned by the store on insert; ignored by RecordSavepoint's insert
  std::string job;
  std::string cluster;
  std::string job_id;
  std::string trigger_id;  // Flink's request id
  std::string origin;      // "manual", "periodic", "update", "stop"
  std::int64_t requested_ms = 0;
  std::optional<std::int64_t> completed_ms;
  std::string status;  // "pending", "completed", "failed"
  std::string path;    // the location Flink returned
  std::string error;
};

// A sampled job observation, for history and for `flinkguard history`.
struct ObservationRecord {
  std::int64_t at_ms = 0;
  std::string cluster;
  std::string job;
  std::string job_id;
  std::string status;  // JobStatusName
  std::string summary_json;  // the snapshot's fields, as JSON text (opaque here)
};

class EventLog {
 public:
  virtual ~EventLog() = default;
  [[nodiscard]] virtual Result<void> RecordTransition(const RuleTransition& t) = 0;
  // Of `job` ("" = all) at or after since_ms, oldest first.
  [[nodiscard]] virtual Result<std::vector<RuleTransition>> Transitions(std::string_view job,
                                                                        std::int64_t since_ms) = 0;
  [[nodiscard]] virtual Result<void> RecordRefusal(const RefusalRecord& r) = 0;
  [[nodiscard]] virtual Result<std::vector<RefusalRecord>> Refusals(std::string_view job,
                                                                    std::int64_t since_ms) = 0;
  // Inserts when record.id == 0 (returns the new id), otherwise updates that row.
  [[nodiscard]] virtual Result<std::int64_t> RecordSavepoint(const SavepointRecord& s) = 0;
  [[nodiscard]] virtual Result<std::vector<SavepointRecord>> Savepoints(std::string_view job,
                                                                        std::int64_t since_ms) = 0;
  [[nodiscard]] virtual Result<void> RecordObservation(const ObservationRecord& o) = 0;
  [[nodiscard]] virtual Result<std::vector<ObservationRecord>> Observations(
      std::string_view job, std::int64_t since_ms) = 0;
};

// --- Notification outbox ---------------------------------------------------------------------

struct OutboxEntry {
  std::int64_t id = 0;  // assigned on insert
  std::string receiver;
  std::string idempotency_key;  // unique per receiver; a second Enqueue with it is a no-op
  std::string payload;          // what to send (opaque here)
  std::int64_t created_ms = 0;
  std::int64_t next_attempt_ms = 0;
  int attempts = 0;
  std::string state = "pending";  // "pending", "delivered", "dead"
  std::string last_error;
  std::optional<std::int64_t> delivered_ms;
};

// --- Placements ------------------------------------------------------------------------------

// Where a catalog job lives now, when that differs from its configured cluster (a failover or
// a move): every restart of the agent agrees where the job lives.
struct Placement {
  std::string job;
  std::string cluster;
  std::int64_t since_ms = 0;
  std::string reason;  // why it lives there (the failover's or move's reason)
};

class PlacementStore {
 public:
  virtual ~PlacementStore() = default;
  // Records that `p.job` lives on `p.cluster` from now on (replacing any earlier placement).
  [[nodiscard]] virtual Result<void> SetPlacement(const Placement& p) = 0;
  // Every recorded placement, by job name.
  [[nodiscard]] virtual Result<std::vector<Placement>> Placements() = 0;
};

class Outbox {
 public:
  virtual ~Outbox() = default;
  // Returns true when inserted, false when (receiver, idempotency_key) was already there.
  [[nodiscard]] virtual Result<bool> Enqueue(const OutboxEntry& e) = 0;
  // Pending entries with next_attempt_ms <= now_ms, oldest first, at most `limit`.
  [[nodiscard]] virtual Result<std::vector<OutboxEntry>> Due(std::int64_t now_ms, int limit) = 0;
  [[nodiscard]] virtual Result<void> MarkDelivered(std::int64_t id, std::int64_t now_ms) = 0;
  // attempts += 1, next_attempt_ms and last_error set.
  [[nodiscard]] virtual Result<void> MarkRetry(std::int64_t id, std::int64_t next_attempt_ms,
                                               std::string_view error) = 0;
  [[nodiscard]] virtual Result<void> MarkDead(std::int64_t id, std::string_view error) = 0;
  // Pending entries and the creation time of the oldest (0 when none).
  struct Depth {
    std::int64_t pending = 0;
    std::int64_t oldest_created_ms = 0;
  };
  [[nodiscard]] virtual Result<Depth> PendingDepth() = 0;
};

// --- Retention and the SQLite store ----------------------------------------------------------

// Keeps the file bounded. Rows older than max_age are deleted, then the oldest rows beyond
// max_rows per table. Never deleted: unfinished recoveries (and their steps), pending outbox
// entries, and per (job, cluster) the newest `keep_restore_points` restore points that have not
// failed. Restore points are kept by count, not by age (an old checkpoint can be the only one).
struct RetentionPolicy {
  std::int64_t max_age_ms = 30LL * 24 * 3'600'000;  // 30 days
  std::int64_t max_rows = 1'000'000;                // per table
  int keep_restore_points = 20;                     // per (job, cluster)
};

struct RetentionReport {
  std::int64_t rows_deleted = 0;
};

class SqliteDb;

// All of the above in one SQLite file (WAL, busy timeout, schema migrations through PRAGMA
// user_version). Opened by one writer; a file that is not a database, or whose schema is newer
// than kSchemaVersion, is refused and left untouched.
// Not thread-safe: one thread uses it at a time.
class SqliteHistoryStore final : public RestorePointCatalog,
                                 public RecoveryJournal,
                                 public EventLog,
                                 public Outbox,
                                 public PlacementStore {
 public:
  static constexpr int kSchemaVersion = 2;

  // Opens `path` (":memory:" for a private in-memory store), creating and migrating the schema.
  static Result<std::unique_ptr<SqliteHistoryStore>> Open(const std::string& path);
  ~SqliteHistoryStore() override;

  // Runs `body` in one transaction (BEGIN IMMEDIATE ... COMMIT): every write of a cycle commits
  // together or not at all. When `body` fails, or the commit fails, everything is rolled back and
  // the error returned. Not reentrant.
  [[nodiscard]] Result<void> InTransaction(const std::function<Result<void>()>& body);

  [[nodiscard]] Result<RetentionReport> ApplyRetention(std::int64_t now_ms,
                                                       const RetentionPolicy& policy);

  // RestorePointCatalog
  Result<void> UpsertRestorePoint(const KnownRestorePoint& point, RestorePointOrigin origin,
                                  std::int64_t seen_ms) override;
  Result<void> MarkRestoreFailed(std::string_view job, std::string_view path) override;
  Result<void> ForgetRestorePoint(std::string_view job, std::string_view path) override;
  // PlacementStore
  Result<void> SetPlacement(const Placement& p) override;
  Result<std::vector<Placement>> Placements() override;
  Result<std::vector<KnownRestorePoint>> RestorePoints(std::string_view job) override;
  // RecoveryJournal
  Result<void> BeginRecovery(const RecoveryRecord& record) override;
  Result<void> SaveProgress(std::string_view id, std::string_view progress,
                            std::optional<std::int64_t> fencing_token) override;
  Result<void> SetRestore(std::string_view id, Strategy strategy,
                          std::string_view restore_path) override;
  Result<void> EndRecovery(std::string_view id, RecoveryAttempt::Outcome outcome,
                           std::int64_t ended_ms, std::string_view error) override;
  Result<void> MarkDidNotStick(std::string_view id) override;
  Result<void> RecordStep(const StepRecord& step) override;
  Result<std::vector<RecoveryRecord>> UnfinishedRecoveries() override;
  Result<std::vector<RecoveryRecord>> Recoveries(std::string_view job,
                                                 std::int64_t since_ms) override;
  Result<std::vector<StepRecord>> Steps(std::string_view recovery_id) override;
  Result<std::vector<RecoveryAttempt>> Attempts(std::int64_t since_ms) override;
  // EventLog
  Result<void> RecordTransition(const RuleTransition& t) override;
  Result<std::vector<RuleTransition>> Transitions(std::string_view job,
                                                  std::int64_t since_ms) override;
  Result<void> RecordRefusal(const RefusalRecord& r) override;
  Result<std::vector<RefusalRecord>> Refusals(std::string_view job, std::int64_t since_ms) override;
  Result<std::int64_t> RecordSavepoint(const SavepointRecord& s) override;
  Result<std::vector<SavepointRecord>> Savepoints(std::string_view job,
                                                  std::int64_t since_ms) override;
  Result<void> RecordObservation(const ObservationRecord& o) override;
  Result<std::vector<ObservationRecord>> Observations(std::string_view job,
                                                      std::int64_t since_ms) override;
  // Outbox
  Result<bool> Enqueue(const OutboxEntry& e) override;
  Result<std::vector<OutboxEntry>> Due(std::int64_t now_ms, int limit) override;
  Result<void> MarkDelivered(std::int64_t id, std::int64_t now_ms) override;
  Result<void> MarkRetry(std::int64_t id, std::int64_t next_attempt_ms,
                         std::string_view error) override;
  Result<void> MarkDead(std::int64_t id, std::string_view error) override;
  Result<Depth> PendingDepth() override;

  const std::string& path() const;

 private:
  explicit SqliteHistoryStore(std::unique_ptr<SqliteDb> db);
  class Statements;
  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<Statements> stmts_;  // prepared once
};

}  // namespace flinkguard
