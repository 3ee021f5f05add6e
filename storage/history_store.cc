#include "storage/history_store.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

#include "storage/sqlite_db.h"

namespace flinkguard {

const char* RestorePointOriginName(RestorePointOrigin o) {
  switch (o) {
    case RestorePointOrigin::kObserved: return "observed";
    case RestorePointOrigin::kTaken: return "taken";
  }
  return "unknown";
}

namespace {

// --- Schema ----------------------------------------------------------------------------------

// One step from user_version `version - 1` to `version`. Each runs in its own transaction with
// the user_version bump, so a crash mid-migration leaves the previous version intact. A v2 is a
// new entry at the end of kMigrations; existing entries never change once released.
struct Migration {
  int version;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE restore_points (
  id INTEGER PRIMARY KEY,
  job TEXT NOT NULL,
  cluster TEXT NOT NULL,
  job_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  checkpoint_id INTEGER NOT NULL,
  path TEXT NOT NULL,
  trigger_ms INTEGER NOT NULL,
  completed_ms INTEGER NOT NULL,
  discarded INTEGER NOT NULL,
  addressable INTEGER NOT NULL,
  failed_restore INTEGER NOT NULL DEFAULT 0,
  origin TEXT NOT NULL,
  first_seen_ms INTEGER NOT NULL,
  UNIQUE (job, path)  -- also serves the lookups by job (a few dozen rows each, sorted after)
);

CREATE TABLE recoveries (
  id TEXT PRIMARY KEY,
  job TEXT NOT NULL,
  cluster TEXT NOT NULL,
  "trigger" TEXT NOT NULL,
  started_ms INTEGER NOT NULL,
  ended_ms INTEGER,
  strategy TEXT NOT NULL,
  restore_path TEXT NOT NULL,
  outcome TEXT NOT NULL,
  cooldown_ms INTEGER,
  dry_run INTEGER NOT NULL,
  reason TEXT NOT NULL,
  rules TEXT NOT NULL,
  severity TEXT NOT NULL,
  plan TEXT NOT NULL,
  progress TEXT NOT NULL,
  fencing_token INTEGER,
  error TEXT NOT NULL
);
CREATE INDEX recoveries_by_job ON recoveries (job, started_ms);
CREATE INDEX recoveries_by_start ON recoveries (started_ms);
CREATE INDEX recoveries_unfinished ON recoveries (started_ms) WHERE ended_ms IS NULL;

CREATE TABLE recovery_steps (
  recovery_id TEXT NOT NULL REFERENCES recoveries (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  started_ms INTEGER NOT NULL,
  ended_ms INTEGER,
  status TEXT NOT NULL,
  detail TEXT NOT NULL,
  fencing_token INTEGER,
  PRIMARY KEY (recovery_id, seq)
) WITHOUT ROWID;

CREATE TABLE rule_transitions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  rule TEXT NOT NULL,
  job TEXT NOT NULL,
  cluster TEXT NOT NULL,
  job_id TEXT NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  severity TEXT NOT NULL,
  action TEXT NOT NULL,
  reason TEXT NOT NULL,
  labels TEXT NOT NULL,
  annotations TEXT NOT NULL
);
CREATE INDEX rule_transitions_by_job ON rule_transitions (job, at_ms);
CREATE INDEX rule_transitions_by_time ON rule_transitions (at_ms);

CREATE TABLE refusals (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms INTEGER NOT NULL,
  job TEXT NOT NULL,
  reason TEXT NOT NULL,
  page INTEGER NOT NULL,
  cause TEXT NOT NULL
);
CREATE INDEX refusals_by_job ON refusals (job, at_ms);
CREATE INDEX refusals_by_time ON refusals (at_ms);

CREATE TABLE savepoints (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job TEXT NOT NULL,
  cluster TEXT NOT NULL,
  job_id TEXT NOT NULL,
  trigger_id TEXT NOT NULL,
  origin TEXT NOT NULL,
  requested_ms INTEGER NOT NULL,
  completed_ms INTEGER,
  status TEXT NOT NULL,
  path TEXT NOT NULL,
  error TEXT NOT NULL
);
CREATE INDEX savepoints_by_job ON savepoints (job, requested_ms);
CREATE INDEX savepoints_by_time ON savepoints (requested_ms);

CREATE TABLE observations (
  id INTEGER PRIMARY KEY,
  at_ms INTEGER NOT NULL,
  cluster TEXT NOT NULL,
  job TEXT NOT NULL,
  job_id TEXT NOT NULL,
  status TEXT NOT NULL,
  summary_json TEXT NOT NULL
);
-- By time only: every job writes one each cycle, and a (job, at_ms) index would take each of
-- them to a different page (tens of MiB of WAL per cycle at 10,000 jobs, see history_bench).
-- A job's observations are read through the time range, filtered by job.
CREATE INDEX observations_by_time ON observations (at_ms);

CREATE TABLE outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  receiver TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  state TEXT NOT NULL,
  last_error TEXT NOT NULL,
  delivered_ms INTEGER,
  UNIQUE (receiver, idempotency_key)
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_ms);
CREATE INDEX outbox_by_created ON outbox (created_ms);

PRAGMA user_version = 1;
)sql"},
    {2, R"sql(
CREATE TABLE placements (
  job TEXT PRIMARY KEY,
  cluster TEXT NOT NULL,
  since_ms INTEGER NOT NULL,
  reason TEXT NOT NULL
);

PRAGMA user_version = 2;
)sql"},
};

static_assert(std::size(kMigrations) > 0 && kMigrations[std::size(kMigrations) - 1].version ==
                                                SqliteHistoryStore::kSchemaVersion,
              "the last migration must reach kSchemaVersion");

// Rows deleted per DELETE statement by ApplyRetention: each batch is its own short write, so a
// large clean-up never holds the write lock (or grows the WAL) for long.
constexpr std::int64_t kRetentionBatch = 2000;

// --- Names and their parsers -----------------------------------------------------------------

const char* OutcomeName(RecoveryAttempt::Outcome o) {
  switch (o) {
    case RecoveryAttempt::Outcome::kInProgress: return "in-progress";
    case RecoveryAttempt::Outcome::kSucceeded: return "succeeded";
    case RecoveryAttempt::Outcome::kFailed: return "failed";
    case RecoveryAttempt::Outcome::kDidNotStick: return "did-not-stick";
  }
  return "unknown";
}

const char* KindName(RestorePoint::Kind k) {
  switch (k) {
    case RestorePoint::Kind::kCheckpoint: return "checkpoint";
    case RestorePoint::Kind::kSavepoint: return "savepoint";
  }
  return "unknown";
}

// The reverse of a Name() function, by trying every value.
template <typename E, std::size_t N>
std::optional<E> ParseByName(std::string_view text, const std::array<E, N>& all,
                             const char* (*name)(E)) {
  for (E e : all) {
    if (text == name(e)) return e;
  }
  return std::nullopt;
}

constexpr std::array kOutcomes = {
    RecoveryAttempt::Outcome::kInProgress, RecoveryAttempt::Outcome::kSucceeded,
    RecoveryAttempt::Outcome::kFailed, RecoveryAttempt::Outcome::kDidNotStick};
constexpr std::array kKinds = {RestorePoint::Kind::kCheckpoint, RestorePoint::Kind::kSavepoint};
constexpr std::array kStrategies = {Strategy::kCheckpoint, Strategy::kSavepoint, Strategy::kFresh};
constexpr std::array kSeverities = {Severity::kInfo, Severity::kWarning, Severity::kCritical};
constexpr std::array kRuleStates = {RuleState::kInactive, RuleState::kPending, RuleState::kFiring,
                                    RuleState::kUnknown};
constexpr std::array kActions = {Action::kAlert, Action::kRecover, Action::kSavepoint,
                                 Action::kFailover, Action::kNone};
constexpr std::array kCauses = {RefusalCause::kNotInCatalog,   RefusalCause::kInProgress,
                                RefusalCause::kUntrusted,      RefusalCause::kGaveUp,
                                RefusalCause::kCooldown,       RefusalCause::kDuplicate,
                                RefusalCause::kNoRestorePoint, RefusalCause::kBlastRadius};

// --- Labels as JSON --------------------------------------------------------------------------

std::string EncodeMap(const std::map<std::string, std::string>& m) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  for (const auto& [k, v] : m) {
    w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

// std::nullopt when `text` is not a JSON object of strings.
std::optional<std::map<std::string, std::string>> DecodeMap(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  std::map<std::string, std::string> out;
  for (const auto& member : doc.GetObject()) {
    if (!member.value.IsString()) return std::nullopt;
    out.insert_or_assign(std::string(member.name.GetString(), member.name.GetStringLength()),
                         std::string(member.value.GetString(), member.value.GetStringLength()));
  }
  return out;
}

// --- Statement execution ---------------------------------------------------------------------

Error SqliteError(sqlite3* db, const std::string& path, std::string_view operation, int rc) {
  std::string message = "sqlite " + path + ": " + std::string(operation) + ": " +
                        (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Error::Transient(std::move(message));
    default: return Error::Permanent(std::move(message));
  }
}

// One use of a prepared statement: binds parameters in order (?1, ?2, ...), steps, and resets
// the statement when it goes out of scope so the next use starts clean.
class Call {
 public:
  Call(sqlite3_stmt* stmt, const std::string& path, std::string operation)
      : stmt_(stmt), path_(path), operation_(std::move(operation)) {}
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;
  ~Call() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  Call& Text(std::string_view v) {
    // A null data pointer would bind NULL; an empty string must stay an empty string.
    // SQLITE_TRANSIENT: the caller's buffer may not outlive the step.
    const char* data = v.data() != nullptr ? v.data() : "";
    return Check(
        sqlite3_bind_text64(stmt_, next_++, data, v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  Call& Int(std::int64_t v) { return Check(sqlite3_bind_int64(stmt_, next_++, v)); }
  Call& Bool(bool v) { return Int(v ? 1 : 0); }
  Call& OptInt(std::optional<std::int64_t> v) {
    return v ? Int(*v) : Check(sqlite3_bind_null(stmt_, next_++));
  }

  // Steps a statement that returns no rows. Returns the number of rows it changed.
  Result<std::int64_t> Run() {
    Result<bool> row = Step();
    if (!row) return Fail(row.error());
    return sqlite3_changes64(sqlite3_db_handle(stmt_));
  }

  // Steps once: true when a row is available, false when done.
  Result<bool> Step() {
    sqlite3* db = sqlite3_db_handle(stmt_);
    if (bind_rc_ != SQLITE_OK) {
      rc_ = bind_rc_;
      return Fail(SqliteError(db, path_, operation_, bind_rc_));
    }
    rc_ = sqlite3_step(stmt_);
    if (rc_ == SQLITE_ROW) return true;
    if (rc_ == SQLITE_DONE) return false;
    rc_ = sqlite3_extended_errcode(db);
    return Fail(SqliteError(db, path_, operation_, rc_));
  }

  // The extended result code of the last Step() (e.g. SQLITE_CONSTRAINT_PRIMARYKEY).
  int rc() const { return rc_; }
  sqlite3_stmt* stmt() const { return stmt_; }

 private:
  Call& Check(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
  }

  sqlite3_stmt* stmt_;
  const std::string& path_;
  std::string operation_;
  int next_ = 1;
  int bind_rc_ = SQLITE_OK;
  int rc_ = SQLITE_OK;
};

// Reads the columns of the current row. The first failure (a NULL where a value is required, a
// value of the wrong type, a name no enum has) is kept and reported once the row is read, as a
// kInvalid error naming the table, the row and the column.
class RowReader {
 public:
  RowReader(sqlite3_stmt* stmt, const std::string& path, const char* table, std::string row)
      : stmt_(stmt), path_(path), table_(table), row_(std::move(row)) {}

  std::string Text(int col) {
    if (sqlite3_column_type(stmt_, col) != SQLITE_TEXT) {
      Bad(col, "expected text");
      return {};
    }
    return ColumnText(stmt_, col);
  }
  std::int64_t Int(int col) {
    if (sqlite3_column_type(stmt_, col) != SQLITE_INTEGER) {
      Bad(col, "expected an integer");
      return 0;
    }
    return sqlite3_column_int64(stmt_, col);
  }
  std::optional<std::int64_t> OptInt(int col) {
    if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
    return Int(col);
  }
  bool Bool(int col) {
    const std::int64_t v = Int(col);
    if (v != 0 && v != 1) Bad(col, "expected 0 or 1, got " + std::to_string(v));
    return v == 1;
  }
  // An enum stored by name.
  template <typename E, std::size_t N>
  E Enum(int col, const std::array<E, N>& all, const char* (*name)(E)) {
    const std::string text = Text(col);
    if (error_) return all[0];
    std::optional<E> e = ParseByName(text, all, name);
    if (!e) {
      Bad(col, "unknown value '" + text + "'");
      return all[0];
    }
    return *e;
  }
  std::map<std::string, std::string> Map(int col) {
    const std::string text = Text(col);
    if (error_) return {};
    std::optional<std::map<std::string, std::string>> m = DecodeMap(text);
    if (!m) {
      Bad(col, "not a JSON object of strings");
      return {};
    }
    return std::move(*m);
  }

  const std::optional<Error>& error() const { return error_; }

  static std::string ColumnText(sqlite3_stmt* stmt, int col) {
    const auto* p = sqlite3_column_text(stmt, col);
    const int n = sqlite3_column_bytes(stmt, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n))
             : std::string();
  }

 private:
  void Bad(int col, const std::string& what) {
    if (error_) return;
    const char* column = sqlite3_column_name(stmt_, col);
    error_ = Error::Invalid("sqlite " + path_ + ": read " + table_ + " row " + row_ + ": column " +
                            (column ? column : "?") + ": " + what);
  }

  sqlite3_stmt* stmt_;
  const std::string& path_;
  const char* table_;
  std::string row_;
  std::optional<Error> error_;
};

// Steps `call` to the end, decoding each row with `read(stmt)` -> Result<T>.
template <typename T, typename Read>
Result<std::vector<T>> Collect(Call& call, Read read) {
  std::vector<T> out;
  for (;;) {
    Result<bool> row = call.Step();
    if (!row) return Fail(row.error());
    if (!*row) return out;
    Result<T> item = read(call.stmt());
    if (!item) return Fail(item.error());
    out.push_back(std::move(*item));
  }
}

// --- Row decoders (each SELECT lists its columns in the order its decoder reads them) -------

constexpr const char* kRestorePointColumns =
    "id, job, cluster, job_id, kind, checkpoint_id, path, trigger_ms, completed_ms, discarded, "
    "addressable, failed_restore";

Result<KnownRestorePoint> ReadRestorePoint(sqlite3_stmt* s, const std::string& path) {
  RowReader r(s, path, "restore_points", std::to_string(sqlite3_column_int64(s, 0)));
  KnownRestorePoint p;
  p.job = r.Text(1);
  p.cluster = r.Text(2);
  p.job_id = r.Text(3);
  p.point.kind = r.Enum(4, kKinds, KindName);
  p.point.id = r.Int(5);
  p.point.path = r.Text(6);
  p.point.trigger_ms = r.Int(7);
  p.point.completed_ms = r.Int(8);
  p.point.discarded = r.Bool(9);
  p.point.addressable = r.Bool(10);
  p.failed_restore = r.Bool(11);
  if (r.error()) return Fail(*r.error());
  return p;
}

constexpr const char* kRecoveryColumns =
    "id, job, cluster, \"trigger\", started_ms, ended_ms, strategy, restore_path, outcome, "
    "cooldown_ms, dry_run, reason, rules, severity, plan, progress, fencing_token, error";

Result<RecoveryRecord> ReadRecovery(sqlite3_stmt* s, const std::string& path) {
  RowReader r(s, path, "recoveries", RowReader::ColumnText(s, 0));
  RecoveryRecord rec;
  rec.id = r.Text(0);
  rec.job = r.Text(1);
  rec.cluster = r.Text(2);
  rec.trigger = r.Text(3);
  rec.started_ms = r.Int(4);
  rec.ended_ms = r.OptInt(5);
  rec.strategy = r.Enum(6, kStrategies, StrategyName);
  rec.restore_path = r.Text(7);
  rec.outcome = r.Enum(8, kOutcomes, OutcomeName);
  rec.cooldown_ms = r.OptInt(9);
  rec.dry_run = r.Bool(10);
  rec.reason = r.Text(11);
  rec.rules = r.Text(12);
  rec.severity = r.Enum(13, kSeverities, SeverityName);
  rec.plan = r.Text(14);
  rec.progress = r.Text(15);
  rec.fencing_token = r.OptInt(16);
  rec.error = r.Text(17);
  if (r.error()) return Fail(*r.error());
  return rec;
}

constexpr const char* kAttemptColumns =
    "id, job, started_ms, ended_ms, strategy, restore_path, outcome, cooldown_ms";

Result<RecoveryAttempt> ReadAttempt(sqlite3_stmt* s, const std::string& path) {
  RowReader r(s, path, "recoveries", RowReader::ColumnText(s, 0));
  RecoveryAttempt a;
  a.id = r.Text(0);
  a.job = r.Text(1);
  a.started_ms = r.Int(2);
  a.ended_ms = r.OptInt(3);
  a.strategy = r.Enum(4, kStrategies, StrategyName);
  a.restore_path = r.Text(5);
  a.outcome = r.Enum(6, kOutcomes, OutcomeName);
  a.cooldown_ms = r.OptInt(7);
  if (r.error()) return Fail(*r.error());
  return a;
}

constexpr const char* kStepColumns =
    "recovery_id, seq, kind, started_ms, ended_ms, status, detail, fencing_token";

Result<StepRecord> ReadStep(sqlite3_stmt* s, const std::string& path) {
  RowReader r(s, path, "recovery_steps",
              RowReader::ColumnText(s, 0) + "/" + std::to_string(sqlite3_column_int64(s, 1)));
  StepRecord step;
  step.recovery_id = r.Text(0);
  const std::int64_t seq = r.Int(1);
  step.seq = static_cast<int>(seq);
  step.kind = r.Text(2);
  step.started_ms = r.Int(3);
  step.ended_ms = r.OptInt(4);
  step.status = r.Text(5);
  step.detail = r.Text(6);
  step.fencing_token = r.OptInt(7);
  if (r.error()) return Fail(*r.error());
  return step;
}

constexpr const char* kTransitionColumns =
    "id, rule, job, cluster, job_id, from_state, to_state, at_ms, severity, action, reason, "
    "labels, annotations";

Result<RuleTransition> ReadTransition(sqlite3_stmt* s, const std::string& path) {
  RowReader r(s, path, "rule_transitions", std::to_string(sqlite3_column_int64(s, 0)));
  RuleTransition t;
  t.rule = r.Text(1);
  t.job = r.Text(2);
  t.cluster = r.Text(3);
  t.job_id = r.Text(4);
  t.from = r.Enum(5, kRuleStates, RuleStateName);
  t.to = r.Enum(6, kRuleStates, RuleStateName);
  t.at_ms = r.Int(7);
  t.severity = r.Enum(8, kSeverities, SeverityName);
  t.action = r.Enum(9, kActions, ActionName);
  t.reason = r.Text(10);
  t.labels = r.Map(11);
  t.annotations = r.Map(12);
  if (r.error()) return Fail(*r.error());
  return t;
}

constexpr const char* kRefusalColumns = "id, at_ms, job, reason, page, cause";

Result<RefusalRecord> ReadRefusal(sqlite3_stmt* s, const std::string& path) {
  RowReader r(s, path, "refusals", std::to_string(sqlite3_column_int64(s, 0)));
  RefusalRecord rec;
  rec.at_ms = r.Int(1);
  rec.refusal.job = r.Text(2);
  rec.refusal.reason = r.Text(3);
  rec.refusal.page = r.Bool(4);
  rec.refusal.cause = r.Enum(5, kCauses, RefusalCauseName);
  if (r.error()) return Fail(*r.error());
  return rec;
}

constexpr const char* kSavepointColumns =
    "id, job, cluster, job_id, trigger_id, origin, requested_ms, completed_ms, status, path, "
    "error";

Result<SavepointRecord> ReadSavepoint(sqlite3_stmt* s, const std::string& path) {
  RowReader r(s, path, "savepoints", std::to_string(sqlite3_column_int64(s, 0)));
  SavepointRecord rec;
  rec.id = r.Int(0);
  rec.job = r.Text(1);
  rec.cluster = r.Text(2);
  rec.job_id = r.Text(3);
  rec.trigger_id = r.Text(4);
  rec.origin = r.Text(5);
  rec.requested_ms = r.Int(6);
  rec.completed_ms = r.OptInt(7);
  rec.status = r.Text(8);
  rec.path = r.Text(9);
  rec.error = r.Text(10);
  if (r.error()) return Fail(*r.error());
  return rec;
}

constexpr const char* kObservationColumns = "id, at_ms, cluster, job, job_id, status, summary_json";

Result<ObservationRecord> ReadObservation(sqlite3_stmt* s, const std::string& path) {
  RowReader r(s, path, "observations", std::to_string(sqlite3_column_int64(s, 0)));
  ObservationRecord o;
  o.at_ms = r.Int(1);
  o.cluster = r.Text(2);
  o.job = r.Text(3);
  o.job_id = r.Text(4);
  o.status = r.Text(5);
  o.summary_json = r.Text(6);
  if (r.error()) return Fail(*r.error());
  return o;
}

constexpr const char* kOutboxColumns =
    "id, receiver, idempotency_key, payload, created_ms, next_attempt_ms, attempts, state, "
    "last_error, delivered_ms";

Result<OutboxEntry> ReadOutboxEntry(sqlite3_stmt* s, const std::string& path) {
  RowReader r(s, path, "outbox", std::to_string(sqlite3_column_int64(s, 0)));
  OutboxEntry e;
  e.id = r.Int(0);
  e.receiver = r.Text(1);
  e.idempotency_key = r.Text(2);
  e.payload = r.Text(3);
  e.created_ms = r.Int(4);
  e.next_attempt_ms = r.Int(5);
  e.attempts = static_cast<int>(r.Int(6));
  e.state = r.Text(7);
  e.last_error = r.Text(8);
  e.delivered_ms = r.OptInt(9);
  if (r.error()) return Fail(*r.error());
  return e;
}

std::string Quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

// --- Prepared statements ---------------------------------------------------------------------

class SqliteHistoryStore::Statements {
 public:
  sqlite3_stmt* begin = nullptr;
  sqlite3_stmt* commit = nullptr;
  sqlite3_stmt* rollback = nullptr;

  sqlite3_stmt* upsert_restore_point = nullptr;
  sqlite3_stmt* mark_restore_failed = nullptr;
  sqlite3_stmt* restore_points_all = nullptr;
  sqlite3_stmt* restore_points_of_job = nullptr;

  sqlite3_stmt* insert_recovery = nullptr;
  sqlite3_stmt* save_progress = nullptr;
  sqlite3_stmt* set_restore = nullptr;
  sqlite3_stmt* end_recovery = nullptr;
  sqlite3_stmt* mark_did_not_stick = nullptr;
  sqlite3_stmt* recovery_ended = nullptr;
  sqlite3_stmt* upsert_step = nullptr;
  sqlite3_stmt* unfinished_recoveries = nullptr;
  sqlite3_stmt* recoveries_all = nullptr;
  sqlite3_stmt* recoveries_of_job = nullptr;
  sqlite3_stmt* steps = nullptr;
  sqlite3_stmt* attempts = nullptr;

  sqlite3_stmt* insert_transition = nullptr;
  sqlite3_stmt* transitions_all = nullptr;
  sqlite3_stmt* transitions_of_job = nullptr;
  sqlite3_stmt* insert_refusal = nullptr;
  sqlite3_stmt* refusals_all = nullptr;
  sqlite3_stmt* refusals_of_job = nullptr;
  sqlite3_stmt* insert_savepoint = nullptr;
  sqlite3_stmt* update_savepoint = nullptr;
  sqlite3_stmt* savepoints_all = nullptr;
  sqlite3_stmt* savepoints_of_job = nullptr;
  sqlite3_stmt* insert_observation = nullptr;
  sqlite3_stmt* observations_all = nullptr;
  sqlite3_stmt* observations_of_job = nullptr;

  sqlite3_stmt* enqueue = nullptr;
  sqlite3_stmt* due = nullptr;
  sqlite3_stmt* mark_delivered = nullptr;
  sqlite3_stmt* mark_retry = nullptr;
  sqlite3_stmt* mark_dead = nullptr;
  sqlite3_stmt* pending_depth = nullptr;

  // Retention, per table: `age` deletes (cutoff ?1, limit ?2) rows older than the cutoff that
  // may go; `count` counts every row; `cap` deletes the oldest ?1 rows that may go.
  struct RetentionTable {
    const char* name;
    sqlite3_stmt* age = nullptr;
    sqlite3_stmt* count = nullptr;
    sqlite3_stmt* cap = nullptr;
  };
  std::array<RetentionTable, 7> retention = {RetentionTable{"restore_points"},
                                             RetentionTable{"recoveries"},
                                             RetentionTable{"rule_transitions"},
                                             RetentionTable{"refusals"},
                                             RetentionTable{"savepoints"},
                                             RetentionTable{"observations"},
                                             RetentionTable{"outbox"}};
  // The ids of the restore points beyond the newest ?1 non-failed per (job, cluster).
  sqlite3_stmt* restore_points_beyond_keep = nullptr;
  sqlite3_stmt* delete_restore_point = nullptr;  // by id ?1
  sqlite3_stmt* forget_restore_point = nullptr;  // by job ?1 and path ?2
  sqlite3_stmt* set_placement = nullptr;
  sqlite3_stmt* placements_all = nullptr;

  Statements() = default;
  Statements(const Statements&) = delete;
  Statements& operator=(const Statements&) = delete;
  ~Statements() {
    for (sqlite3_stmt* s : all_) sqlite3_finalize(s);
  }

  Result<void> Prepare(sqlite3* db, const std::string& path) {
    const std::string rp_cols = kRestorePointColumns;
    const std::string rec_cols = kRecoveryColumns;
    const std::string tr_cols = kTransitionColumns;
    const std::string ref_cols = kRefusalColumns;
    const std::string sp_cols = kSavepointColumns;
    const std::string obs_cols = kObservationColumns;
    const std::string out_cols = kOutboxColumns;
    const std::pair<sqlite3_stmt**, std::string> specs[] = {
        {&begin, "BEGIN IMMEDIATE"},
        {&commit, "COMMIT"},
        {&rollback, "ROLLBACK"},

        {&upsert_restore_point,
         "INSERT INTO restore_points (job, cluster, job_id, kind, checkpoint_id, path, "
         "trigger_ms, completed_ms, discarded, addressable, failed_restore, origin, "
         "first_seen_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
         "ON CONFLICT (job, path) DO UPDATE SET checkpoint_id = excluded.checkpoint_id, "
         // 0 means "not known": a later observation without the ack time keeps the known one.
         // A point first seen without it (from the checkpoint gauges before Flink 2.0) had its
         // trigger time estimated: an observation with the exact times replaces both.
         "trigger_ms = CASE WHEN excluded.completed_ms != 0 AND completed_ms = 0 "
         "THEN excluded.trigger_ms ELSE trigger_ms END, "
         "completed_ms = CASE WHEN excluded.completed_ms != 0 THEN excluded.completed_ms "
         "ELSE completed_ms END, "
         "discarded = excluded.discarded, addressable = excluded.addressable, "
         "job_id = CASE WHEN job_id = '' THEN excluded.job_id ELSE job_id END, "
         // Poisoned points stay poisoned: an upsert can set the flag, never clear it.
         "failed_restore = MAX(failed_restore, excluded.failed_restore) "
         // The loop upserts every job's newest point each cycle; most are unchanged, and not
         // rewriting them keeps the cycle's transaction (and the WAL) small.
         "WHERE checkpoint_id != excluded.checkpoint_id OR discarded != excluded.discarded "
         "OR addressable != excluded.addressable "
         "OR (excluded.completed_ms != 0 AND completed_ms != excluded.completed_ms) "
         "OR (job_id = '' AND excluded.job_id != '') "
         "OR excluded.failed_restore > failed_restore"},
        {&mark_restore_failed,
         "UPDATE restore_points SET failed_restore = 1 WHERE job = ?1 AND path = ?2"},
        {&restore_points_all,
         "SELECT " + rp_cols + " FROM restore_points ORDER BY trigger_ms DESC, id DESC"},
        {&restore_points_of_job, "SELECT " + rp_cols +
                                     " FROM restore_points WHERE job = ?1 "
                                     "ORDER BY trigger_ms DESC, id DESC"},

        {&insert_recovery,
         "INSERT INTO recoveries (" + rec_cols +
             ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
             "?17, ?18)"},
        {&save_progress,
         "UPDATE recoveries SET progress = ?2, fencing_token = COALESCE(?3, fencing_token) "
         "WHERE id = ?1 AND ended_ms IS NULL"},
        {&set_restore,
         "UPDATE recoveries SET strategy = ?2, restore_path = ?3 "
         "WHERE id = ?1 AND ended_ms IS NULL"},
        {&end_recovery,
         "UPDATE recoveries SET outcome = ?2, ended_ms = ?3, error = ?4 "
         "WHERE id = ?1 AND ended_ms IS NULL"},
        {&mark_did_not_stick,
         "UPDATE recoveries SET outcome = 'did-not-stick' WHERE id = ?1 AND ended_ms IS NOT "
         "NULL"},
        {&recovery_ended, "SELECT ended_ms IS NOT NULL FROM recoveries WHERE id = ?1"},
        {&upsert_step,
         "INSERT INTO recovery_steps (" + std::string(kStepColumns) +
             ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (recovery_id, seq) DO "
             "UPDATE SET kind = excluded.kind, started_ms = excluded.started_ms, ended_ms = "
             "excluded.ended_ms, status = excluded.status, detail = excluded.detail, "
             "fencing_token = excluded.fencing_token"},
        {&unfinished_recoveries, "SELECT " + rec_cols +
                                     " FROM recoveries WHERE ended_ms IS NULL "
                                     "ORDER BY started_ms, rowid"},
        {&recoveries_all, "SELECT " + rec_cols +
                              " FROM recoveries WHERE started_ms >= ?1 "
                              "ORDER BY started_ms, rowid"},
        {&recoveries_of_job, "SELECT " + rec_cols +
                                 " FROM recoveries WHERE job = ?1 AND started_ms >= ?2 "
                                 "ORDER BY started_ms, rowid"},
        {&steps, "SELECT " + std::string(kStepColumns) +
                     " FROM recovery_steps WHERE recovery_id = ?1 ORDER BY seq"},
        {&attempts, "SELECT " + std::string(kAttemptColumns) +
                        " FROM recoveries WHERE started_ms >= ?1 AND dry_run = 0 "
                        "ORDER BY started_ms, rowid"},

        {&insert_transition,
         "INSERT INTO rule_transitions (rule, job, cluster, job_id, from_state, to_state, "
         "at_ms, severity, action, reason, labels, annotations) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
         "?7, ?8, ?9, ?10, ?11, ?12)"},
        {&transitions_all,
         "SELECT " + tr_cols + " FROM rule_transitions WHERE at_ms >= ?1 ORDER BY at_ms, id"},
        {&transitions_of_job, "SELECT " + tr_cols +
                                  " FROM rule_transitions WHERE job = ?1 AND at_ms >= ?2 "
                                  "ORDER BY at_ms, id"},
        {&insert_refusal,
         "INSERT INTO refusals (at_ms, job, reason, page, cause) VALUES (?1, ?2, ?3, ?4, ?5)"},
        {&refusals_all,
         "SELECT " + ref_cols + " FROM refusals WHERE at_ms >= ?1 ORDER BY at_ms, id"},
        {&refusals_of_job, "SELECT " + ref_cols +
                               " FROM refusals WHERE job = ?1 AND at_ms >= ?2 "
                               "ORDER BY at_ms, id"},
        {&insert_savepoint,
         "INSERT INTO savepoints (job, cluster, job_id, trigger_id, origin, requested_ms, "
         "completed_ms, status, path, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"},
        {&update_savepoint,
         "UPDATE savepoints SET job = ?2, cluster = ?3, job_id = ?4, trigger_id = ?5, origin = "
         "?6, requested_ms = ?7, completed_ms = ?8, status = ?9, path = ?10, error = ?11 "
         "WHERE id = ?1"},
        {&savepoints_all, "SELECT " + sp_cols +
                              " FROM savepoints WHERE requested_ms >= ?1 "
                              "ORDER BY requested_ms, id"},
        {&savepoints_of_job, "SELECT " + sp_cols +
                                 " FROM savepoints WHERE job = ?1 AND requested_ms >= ?2 "
                                 "ORDER BY requested_ms, id"},
        {&insert_observation,
         "INSERT INTO observations (at_ms, cluster, job, job_id, status, summary_json) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
        {&observations_all,
         "SELECT " + obs_cols + " FROM observations WHERE at_ms >= ?1 ORDER BY at_ms, id"},
        {&observations_of_job, "SELECT " + obs_cols +
                                   " FROM observations WHERE job = ?1 AND at_ms >= ?2 "
                                   "ORDER BY at_ms, id"},

        {&enqueue,
         "INSERT INTO outbox (receiver, idempotency_key, payload, created_ms, next_attempt_ms, "
         "attempts, state, last_error, delivered_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
         "?9) ON CONFLICT (receiver, idempotency_key) DO NOTHING"},
        {&due, "SELECT " + out_cols +
                   " FROM outbox WHERE state = 'pending' AND next_attempt_ms <= ?1 "
                   "ORDER BY created_ms, id LIMIT ?2"},
        {&mark_delivered, "UPDATE outbox SET state = 'delivered', delivered_ms = ?2 WHERE id = ?1"},
        {&mark_retry,
         "UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = ?2, last_error = ?3 "
         "WHERE id = ?1"},
        {&mark_dead, "UPDATE outbox SET state = 'dead', last_error = ?2 WHERE id = ?1"},
        {&pending_depth,
         "SELECT COUNT(*), COALESCE(MIN(created_ms), 0) FROM outbox WHERE state = 'pending'"},

        // restore_points: kept by count; failed ones go by age (first seen) and row cap only.
        {&retention[0].age,
         "DELETE FROM restore_points WHERE id IN (SELECT id FROM restore_points WHERE "
         "failed_restore = 1 AND first_seen_ms < ?1 LIMIT ?2)"},
        {&retention[0].count, "SELECT COUNT(*) FROM restore_points"},
        {&retention[0].cap,
         "DELETE FROM restore_points WHERE id IN (SELECT id FROM restore_points WHERE "
         "failed_restore = 1 ORDER BY trigger_ms, id LIMIT ?1)"},
        {&restore_points_beyond_keep,
         "SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY job, cluster ORDER BY "
         "trigger_ms DESC, id DESC) AS rank FROM restore_points WHERE failed_restore = 0) "
         "WHERE rank > ?1"},
        {&delete_restore_point, "DELETE FROM restore_points WHERE id = ?1"},
        {&forget_restore_point, "DELETE FROM restore_points WHERE job = ?1 AND path = ?2"},
        {&set_placement,
         "INSERT INTO placements (job, cluster, since_ms, reason) VALUES (?1, ?2, ?3, ?4) "
         "ON CONFLICT (job) DO UPDATE SET cluster = excluded.cluster, "
         "since_ms = excluded.since_ms, reason = excluded.reason"},
        {&placements_all, "SELECT job, cluster, since_ms, reason FROM placements ORDER BY job"},
        // recoveries: unfinished ones (and, by the cascade, their steps) are never deleted.
        {&retention[1].age,
         "DELETE FROM recoveries WHERE rowid IN (SELECT rowid FROM recoveries WHERE "
         "started_ms < ?1 AND ended_ms IS NOT NULL LIMIT ?2)"},
        {&retention[1].count, "SELECT COUNT(*) FROM recoveries"},
        {&retention[1].cap,
         "DELETE FROM recoveries WHERE rowid IN (SELECT rowid FROM recoveries WHERE ended_ms "
         "IS NOT NULL ORDER BY started_ms, rowid LIMIT ?1)"},
        {&retention[2].age,
         "DELETE FROM rule_transitions WHERE id IN (SELECT id FROM rule_transitions WHERE "
         "at_ms < ?1 LIMIT ?2)"},
        {&retention[2].count, "SELECT COUNT(*) FROM rule_transitions"},
        {&retention[2].cap,
         "DELETE FROM rule_transitions WHERE id IN (SELECT id FROM rule_transitions ORDER BY "
         "at_ms, id LIMIT ?1)"},
        {&retention[3].age,
         "DELETE FROM refusals WHERE id IN (SELECT id FROM refusals WHERE at_ms < ?1 LIMIT "
         "?2)"},
        {&retention[3].count, "SELECT COUNT(*) FROM refusals"},
        {&retention[3].cap,
         "DELETE FROM refusals WHERE id IN (SELECT id FROM refusals ORDER BY at_ms, id LIMIT "
         "?1)"},
        {&retention[4].age,
         "DELETE FROM savepoints WHERE id IN (SELECT id FROM savepoints WHERE requested_ms < "
         "?1 LIMIT ?2)"},
        {&retention[4].count, "SELECT COUNT(*) FROM savepoints"},
        {&retention[4].cap,
         "DELETE FROM savepoints WHERE id IN (SELECT id FROM savepoints ORDER BY "
         "requested_ms, id LIMIT ?1)"},
        {&retention[5].age,
         "DELETE FROM observations WHERE id IN (SELECT id FROM observations WHERE at_ms < ?1 "
         "LIMIT ?2)"},
        {&retention[5].count, "SELECT COUNT(*) FROM observations"},
        {&retention[5].cap,
         "DELETE FROM observations WHERE id IN (SELECT id FROM observations ORDER BY at_ms, id "
         "LIMIT ?1)"},
        // outbox: pending entries are never deleted.
        {&retention[6].age,
         "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE created_ms < ?1 AND "
         "state != 'pending' LIMIT ?2)"},
        {&retention[6].count, "SELECT COUNT(*) FROM outbox"},
        {&retention[6].cap,
         "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE state != 'pending' "
         "ORDER BY created_ms, id LIMIT ?1)"},
    };
    for (const auto& [slot, sql] : specs) {
      sqlite3_stmt* stmt = nullptr;
      const int rc = sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()) + 1,
                                        SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) {
        return Fail(SqliteError(db, path, "prepare \"" + sql + "\"", rc));
      }
      all_.push_back(stmt);
      *slot = stmt;
    }
    return {};
  }

 private:
  std::vector<sqlite3_stmt*> all_;  // owned: finalized by the destructor
};

// --- Opening and migrating -------------------------------------------------------------------

namespace {

Result<void> Migrate(SqliteDb& db) {
  Result<int> version = db.SchemaVersion();
  if (!version) return Fail(version.error());
  for (const Migration& m : kMigrations) {
    if (m.version <= *version) continue;
    // IMMEDIATE: take the write lock before reading anything, so two agents starting on one
    // file cannot both migrate.
    if (Result<void> r = db.Exec("BEGIN IMMEDIATE;"); !r) return Fail(r.error());
    Result<void> step = db.Exec(m.sql);
    if (step) step = db.Exec("COMMIT;");
    if (!step) {
      (void)db.Exec("ROLLBACK;");
      return Fail(Error{step.error().kind, step.error().message + " (migrating to schema version " +
                                               std::to_string(m.version) + ")"});
    }
  }
  return {};
}

}  // namespace

SqliteHistoryStore::SqliteHistoryStore(std::unique_ptr<SqliteDb> db)
    : db_(std::move(db)), stmts_(std::make_unique<Statements>()) {}

SqliteHistoryStore::~SqliteHistoryStore() {
  stmts_.reset();  // statements are finalized before the connection closes
}

Result<std::unique_ptr<SqliteHistoryStore>> SqliteHistoryStore::Open(const std::string& path) {
  Result<std::unique_ptr<SqliteDb>> db = SqliteDb::Open(path, kSchemaVersion);
  if (!db) return Fail(db.error());
  if (Result<void> r = Migrate(**db); !r) return Fail(r.error());
  std::unique_ptr<SqliteHistoryStore> store(new SqliteHistoryStore(std::move(*db)));
  if (Result<void> r = store->stmts_->Prepare(store->db_->handle(), store->path()); !r) {
    return Fail(r.error());
  }
  return store;
}

const std::string& SqliteHistoryStore::path() const { return db_->path(); }

Result<void> SqliteHistoryStore::InTransaction(const std::function<Result<void>()>& body) {
  sqlite3* db = db_->handle();
  if (!sqlite3_get_autocommit(db)) {
    return Fail(Error::Invalid("sqlite " + path() + ": begin: a transaction is already open"));
  }
  {
    Call begin(stmts_->begin, path(), "begin");
    if (Result<std::int64_t> r = begin.Run(); !r) return Fail(r.error());
  }
  Result<void> result = body();
  if (result) {
    Call commit(stmts_->commit, path(), "commit");
    if (Result<std::int64_t> r = commit.Run(); !r) result = Fail(r.error());
  }
  // Some errors (disk full, I/O) make SQLite roll back by itself; only roll back what is open.
  if (!result && !sqlite3_get_autocommit(db)) {
    Call rollback(stmts_->rollback, path(), "rollback");
    (void)rollback.Run();
  }
  return result;
}

// --- RestorePointCatalog ---------------------------------------------------------------------

Result<void> SqliteHistoryStore::UpsertRestorePoint(const KnownRestorePoint& point,
                                                    RestorePointOrigin origin,
                                                    std::int64_t seen_ms) {
  Call c(stmts_->upsert_restore_point, path(), "upsert restore point");
  c.Text(point.job)
      .Text(point.cluster)
      .Text(point.job_id)
      .Text(KindName(point.point.kind))
      .Int(point.point.id)
      .Text(point.point.path)
      .Int(point.point.trigger_ms)
      .Int(point.point.completed_ms)
      .Bool(point.point.discarded)
      .Bool(point.point.addressable)
      .Bool(point.failed_restore)
      .Text(RestorePointOriginName(origin))
      .Int(seen_ms);
  if (Result<std::int64_t> r = c.Run(); !r) return Fail(r.error());
  return {};
}

Result<void> SqliteHistoryStore::MarkRestoreFailed(std::string_view job, std::string_view path) {
  Call c(stmts_->mark_restore_failed, this->path(), "mark restore point failed");
  c.Text(job).Text(path);
  Result<std::int64_t> changed = c.Run();
  if (!changed) return Fail(changed.error());
  if (*changed == 0) {
    return Fail(Error::NotFound("sqlite " + this->path() + ": mark restore point failed: no " +
                                "restore point " + Quoted(path) + " of job " + Quoted(job)));
  }
  return {};
}

Result<void> SqliteHistoryStore::ForgetRestorePoint(std::string_view job, std::string_view path) {
  Call c(stmts_->forget_restore_point, this->path(), "forget restore point");
  c.Text(job).Text(path);
  Result<std::int64_t> changed = c.Run();
  if (!changed) return Fail(changed.error());
  return {};
}

Result<void> SqliteHistoryStore::SetPlacement(const Placement& p) {
  Call c(stmts_->set_placement, path(), "record placement of " + Quoted(p.job));
  c.Text(p.job).Text(p.cluster).Int(p.since_ms).Text(p.reason);
  Result<std::int64_t> changed = c.Run();
  if (!changed) return Fail(changed.error());
  return {};
}

Result<std::vector<Placement>> SqliteHistoryStore::Placements() {
  Call c(stmts_->placements_all, path(), "read placements");
  return Collect<Placement>(c, [this](sqlite3_stmt* s) -> Result<Placement> {
    RowReader r(s, path(), "placements", RowReader::ColumnText(s, 0));
    Placement p;
    p.job = r.Text(0);
    p.cluster = r.Text(1);
    p.since_ms = r.Int(2);
    p.reason = r.Text(3);
    if (r.error()) return Fail(*r.error());
    return p;
  });
}

Result<std::vector<KnownRestorePoint>> SqliteHistoryStore::RestorePoints(std::string_view job) {
  const bool all = job.empty();
  Call c(all ? stmts_->restore_points_all : stmts_->restore_points_of_job, path(),
         "read restore points");
  if (!all) c.Text(job);
  return Collect<KnownRestorePoint>(
      c, [this](sqlite3_stmt* s) { return ReadRestorePoint(s, path()); });
}

// --- RecoveryJournal -------------------------------------------------------------------------

namespace {

// After an UPDATE ... WHERE id = ? AND <state> changed nothing: kNotFound or kConflict.
Result<void> ExplainNoChange(sqlite3_stmt* ended_stmt, const std::string& path,
                             const std::string& operation, std::string_view id, bool want_ended) {
  Call c(ended_stmt, path, operation);
  c.Text(id);
  Result<bool> row = c.Step();
  if (!row) return Fail(row.error());
  if (!*row) {
    return Fail(
        Error::NotFound("sqlite " + path + ": " + operation + ": no recovery " + Quoted(id)));
  }
  const bool ended = sqlite3_column_int(ended_stmt, 0) != 0;
  if (ended != want_ended) {
    return Fail(Error::Conflict("sqlite " + path + ": " + operation + ": recovery " + Quoted(id) +
                                (ended ? " has already ended" : " has not ended yet")));
  }
  return {};  // unreachable in practice: the UPDATE would have matched
}

}  // namespace

Result<void> SqliteHistoryStore::BeginRecovery(const RecoveryRecord& rec) {
  const std::string op = "begin recovery " + Quoted(rec.id);
  Call c(stmts_->insert_recovery, path(), op);
  c.Text(rec.id)
      .Text(rec.job)
      .Text(rec.cluster)
      .Text(rec.trigger)
      .Int(rec.started_ms)
      .OptInt(rec.ended_ms)
      .Text(StrategyName(rec.strategy))
      .Text(rec.restore_path)
      .Text(OutcomeName(rec.outcome))
      .OptInt(rec.cooldown_ms)
      .Bool(rec.dry_run)
      .Text(rec.reason)
      .Text(rec.rules)
      .Text(SeverityName(rec.severity))
      .Text(rec.plan)
      .Text(rec.progress)
      .OptInt(rec.fencing_token)
      .Text(rec.error);
  if (Result<std::int64_t> r = c.Run(); !r) {
    if (c.rc() == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return Fail(Error::Conflict("sqlite " + path() + ": " + op + ": the id exists already"));
    }
    return Fail(r.error());
  }
  return {};
}

Result<void> SqliteHistoryStore::SaveProgress(std::string_view id, std::string_view progress,
                                              std::optional<std::int64_t> fencing_token) {
  const std::string op = "save progress of recovery " + Quoted(id);
  std::int64_t changed = 0;
  {
    Call c(stmts_->save_progress, path(), op);
    c.Text(id).Text(progress).OptInt(fencing_token);
    Result<std::int64_t> r = c.Run();
    if (!r) return Fail(r.error());
    changed = *r;
  }
  if (changed == 0) return ExplainNoChange(stmts_->recovery_ended, path(), op, id, false);
  return {};
}

Result<void> SqliteHistoryStore::SetRestore(std::string_view id, Strategy strategy,
                                            std::string_view restore_path) {
  const std::string op = "set restore point of recovery " + Quoted(id);
  std::int64_t changed = 0;
  {
    Call c(stmts_->set_restore, path(), op);
    c.Text(id).Text(StrategyName(strategy)).Text(restore_path);
    Result<std::int64_t> r = c.Run();
    if (!r) return Fail(r.error());
    changed = *r;
  }
  if (changed == 0) return ExplainNoChange(stmts_->recovery_ended, path(), op, id, false);
  return {};
}

Result<void> SqliteHistoryStore::EndRecovery(std::string_view id, RecoveryAttempt::Outcome outcome,
                                             std::int64_t ended_ms, std::string_view error) {
  const std::string op = "end recovery " + Quoted(id);
  if (outcome == RecoveryAttempt::Outcome::kInProgress) {
    return Fail(Error::Invalid("sqlite " + path() + ": " + op + ": outcome in-progress"));
  }
  std::int64_t changed = 0;
  {
    Call c(stmts_->end_recovery, path(), op);
    c.Text(id).Text(OutcomeName(outcome)).Int(ended_ms).Text(error);
    Result<std::int64_t> r = c.Run();
    if (!r) return Fail(r.error());
    changed = *r;
  }
  if (changed == 0) return ExplainNoChange(stmts_->recovery_ended, path(), op, id, false);
  return {};
}

Result<void> SqliteHistoryStore::MarkDidNotStick(std::string_view id) {
  const std::string op = "mark recovery " + Quoted(id) + " did-not-stick";
  std::int64_t changed = 0;
  {
    Call c(stmts_->mark_did_not_stick, path(), op);
    c.Text(id);
    Result<std::int64_t> r = c.Run();
    if (!r) return Fail(r.error());
    changed = *r;
  }
  if (changed == 0) return ExplainNoChange(stmts_->recovery_ended, path(), op, id, true);
  return {};
}

Result<void> SqliteHistoryStore::RecordStep(const StepRecord& step) {
  const std::string op =
      "record step " + std::to_string(step.seq) + " of recovery " + Quoted(step.recovery_id);
  Call c(stmts_->upsert_step, path(), op);
  c.Text(step.recovery_id)
      .Int(step.seq)
      .Text(step.kind)
      .Int(step.started_ms)
      .OptInt(step.ended_ms)
      .Text(step.status)
      .Text(step.detail)
      .OptInt(step.fencing_token);
  if (Result<std::int64_t> r = c.Run(); !r) {
    if (c.rc() == SQLITE_CONSTRAINT_FOREIGNKEY) {
      return Fail(Error::NotFound("sqlite " + path() + ": " + op + ": no such recovery"));
    }
    return Fail(r.error());
  }
  return {};
}

Result<std::vector<RecoveryRecord>> SqliteHistoryStore::UnfinishedRecoveries() {
  Call c(stmts_->unfinished_recoveries, path(), "read unfinished recoveries");
  return Collect<RecoveryRecord>(c, [this](sqlite3_stmt* s) { return ReadRecovery(s, path()); });
}

Result<std::vector<RecoveryRecord>> SqliteHistoryStore::Recoveries(std::string_view job,
                                                                   std::int64_t since_ms) {
  const bool all = job.empty();
  Call c(all ? stmts_->recoveries_all : stmts_->recoveries_of_job, path(), "read recoveries");
  if (!all) c.Text(job);
  c.Int(since_ms);
  return Collect<RecoveryRecord>(c, [this](sqlite3_stmt* s) { return ReadRecovery(s, path()); });
}

Result<std::vector<StepRecord>> SqliteHistoryStore::Steps(std::string_view recovery_id) {
  Call c(stmts_->steps, path(), "read steps of recovery " + Quoted(recovery_id));
  c.Text(recovery_id);
  return Collect<StepRecord>(c, [this](sqlite3_stmt* s) { return ReadStep(s, path()); });
}

Result<std::vector<RecoveryAttempt>> SqliteHistoryStore::Attempts(std::int64_t since_ms) {
  Call c(stmts_->attempts, path(), "read recovery attempts");
  c.Int(since_ms);
  return Collect<RecoveryAttempt>(c, [this](sqlite3_stmt* s) { return ReadAttempt(s, path()); });
}

// --- EventLog --------------------------------------------------------------------------------

Result<void> SqliteHistoryStore::RecordTransition(const RuleTransition& t) {
  Call c(stmts_->insert_transition, path(), "record transition of rule " + Quoted(t.rule));
  c.Text(t.rule)
      .Text(t.job)
      .Text(t.cluster)
      .Text(t.job_id)
      .Text(RuleStateName(t.from))
      .Text(RuleStateName(t.to))
      .Int(t.at_ms)
      .Text(SeverityName(t.severity))
      .Text(ActionName(t.action))
      .Text(t.reason)
      .Text(EncodeMap(t.labels))
      .Text(EncodeMap(t.annotations));
  if (Result<std::int64_t> r = c.Run(); !r) return Fail(r.error());
  return {};
}

Result<std::vector<RuleTransition>> SqliteHistoryStore::Transitions(std::string_view job,
                                                                    std::int64_t since_ms) {
  const bool all = job.empty();
  Call c(all ? stmts_->transitions_all : stmts_->transitions_of_job, path(),
         "read rule transitions");
  if (!all) c.Text(job);
  c.Int(since_ms);
  return Collect<RuleTransition>(c, [this](sqlite3_stmt* s) { return ReadTransition(s, path()); });
}

Result<void> SqliteHistoryStore::RecordRefusal(const RefusalRecord& r) {
  Call c(stmts_->insert_refusal, path(), "record refusal for job " + Quoted(r.refusal.job));
  c.Int(r.at_ms)
      .Text(r.refusal.job)
      .Text(r.refusal.reason)
      .Bool(r.refusal.page)
      .Text(RefusalCauseName(r.refusal.cause));
  if (Result<std::int64_t> res = c.Run(); !res) return Fail(res.error());
  return {};
}

Result<std::vector<RefusalRecord>> SqliteHistoryStore::Refusals(std::string_view job,
                                                                std::int64_t since_ms) {
  const bool all = job.empty();
  Call c(all ? stmts_->refusals_all : stmts_->refusals_of_job, path(), "read refusals");
  if (!all) c.Text(job);
  c.Int(since_ms);
  return Collect<RefusalRecord>(c, [this](sqlite3_stmt* s) { return ReadRefusal(s, path()); });
}

Result<std::int64_t> SqliteHistoryStore::RecordSavepoint(const SavepointRecord& s) {
  const bool insert = s.id == 0;
  const std::string op = insert ? "record savepoint of job " + Quoted(s.job)
                                : "update savepoint " + std::to_string(s.id);
  Call c(insert ? stmts_->insert_savepoint : stmts_->update_savepoint, path(), op);
  if (!insert) c.Int(s.id);
  c.Text(s.job)
      .Text(s.cluster)
      .Text(s.job_id)
      .Text(s.trigger_id)
      .Text(s.origin)
      .Int(s.requested_ms)
      .OptInt(s.completed_ms)
      .Text(s.status)
      .Text(s.path)
      .Text(s.error);
  Result<std::int64_t> changed = c.Run();
  if (!changed) return Fail(changed.error());
  if (insert) return sqlite3_last_insert_rowid(db_->handle());
  if (*changed == 0) {
    return Fail(Error::NotFound("sqlite " + path() + ": " + op + ": no such savepoint"));
  }
  return s.id;
}

Result<std::vector<SavepointRecord>> SqliteHistoryStore::Savepoints(std::string_view job,
                                                                    std::int64_t since_ms) {
  const bool all = job.empty();
  Call c(all ? stmts_->savepoints_all : stmts_->savepoints_of_job, path(), "read savepoints");
  if (!all) c.Text(job);
  c.Int(since_ms);
  return Collect<SavepointRecord>(c, [this](sqlite3_stmt* s) { return ReadSavepoint(s, path()); });
}

Result<void> SqliteHistoryStore::RecordObservation(const ObservationRecord& o) {
  Call c(stmts_->insert_observation, path(), "record observation of job " + Quoted(o.job));
  c.Int(o.at_ms).Text(o.cluster).Text(o.job).Text(o.job_id).Text(o.status).Text(o.summary_json);
  if (Result<std::int64_t> r = c.Run(); !r) return Fail(r.error());
  return {};
}

Result<std::vector<ObservationRecord>> SqliteHistoryStore::Observations(std::string_view job,
                                                                        std::int64_t since_ms) {
  const bool all = job.empty();
  Call c(all ? stmts_->observations_all : stmts_->observations_of_job, path(), "read observations");
  if (!all) c.Text(job);
  c.Int(since_ms);
  return Collect<ObservationRecord>(c,
                                    [this](sqlite3_stmt* s) { return ReadObservation(s, path()); });
}

// --- Outbox ----------------------------------------------------------------------------------

Result<bool> SqliteHistoryStore::Enqueue(const OutboxEntry& e) {
  Call c(stmts_->enqueue, path(),
         "enqueue " + Quoted(e.idempotency_key) + " for receiver " + Quoted(e.receiver));
  c.Text(e.receiver)
      .Text(e.idempotency_key)
      .Text(e.payload)
      .Int(e.created_ms)
      .Int(e.next_attempt_ms)
      .Int(e.attempts)
      .Text(e.state)
      .Text(e.last_error)
      .OptInt(e.delivered_ms);
  Result<std::int64_t> changed = c.Run();
  if (!changed) return Fail(changed.error());
  return *changed > 0;
}

Result<std::vector<OutboxEntry>> SqliteHistoryStore::Due(std::int64_t now_ms, int limit) {
  Call c(stmts_->due, path(), "read due outbox entries");
  c.Int(now_ms).Int(std::max(limit, 0));
  return Collect<OutboxEntry>(c, [this](sqlite3_stmt* s) { return ReadOutboxEntry(s, path()); });
}

namespace {

Result<void> RequireChanged(Result<std::int64_t> changed, const std::string& path,
                            const std::string& op) {
  if (!changed) return Fail(changed.error());
  if (*changed == 0) {
    return Fail(Error::NotFound("sqlite " + path + ": " + op + ": no such outbox entry"));
  }
  return {};
}

}  // namespace

Result<void> SqliteHistoryStore::MarkDelivered(std::int64_t id, std::int64_t now_ms) {
  const std::string op = "mark outbox entry " + std::to_string(id) + " delivered";
  Call c(stmts_->mark_delivered, path(), op);
  c.Int(id).Int(now_ms);
  return RequireChanged(c.Run(), path(), op);
}

Result<void> SqliteHistoryStore::MarkRetry(std::int64_t id, std::int64_t next_attempt_ms,
                                           std::string_view error) {
  const std::string op = "schedule retry of outbox entry " + std::to_string(id);
  Call c(stmts_->mark_retry, path(), op);
  c.Int(id).Int(next_attempt_ms).Text(error);
  return RequireChanged(c.Run(), path(), op);
}

Result<void> SqliteHistoryStore::MarkDead(std::int64_t id, std::string_view error) {
  const std::string op = "mark outbox entry " + std::to_string(id) + " dead";
  Call c(stmts_->mark_dead, path(), op);
  c.Int(id).Text(error);
  return RequireChanged(c.Run(), path(), op);
}

Result<Outbox::Depth> SqliteHistoryStore::PendingDepth() {
  Call c(stmts_->pending_depth, path(), "read outbox depth");
  Result<bool> row = c.Step();
  if (!row) return Fail(row.error());
  Depth d;
  if (*row) {
    d.pending = sqlite3_column_int64(stmts_->pending_depth, 0);
    d.oldest_created_ms = sqlite3_column_int64(stmts_->pending_depth, 1);
  }
  return d;
}

// --- Retention -------------------------------------------------------------------------------

namespace {

// Runs a batched DELETE (its last parameter the batch size) until a batch deletes fewer rows
// than asked, or `budget` rows are gone. Returns the rows deleted.
Result<std::int64_t> DeleteInBatches(sqlite3_stmt* stmt, const std::string& path,
                                     const std::string& op,
                                     const std::optional<std::int64_t>& first_param,
                                     std::int64_t budget) {
  std::int64_t total = 0;
  while (total < budget) {
    const std::int64_t want = std::min(kRetentionBatch, budget - total);
    Call c(stmt, path, op);
    if (first_param) c.Int(*first_param);
    c.Int(want);
    Result<std::int64_t> n = c.Run();
    if (!n) return Fail(n.error());
    total += *n;
    if (*n < want) break;
  }
  return total;
}

}  // namespace

Result<RetentionReport> SqliteHistoryStore::ApplyRetention(std::int64_t now_ms,
                                                           const RetentionPolicy& policy) {
  constexpr std::int64_t kUnbounded = std::numeric_limits<std::int64_t>::max();
  const std::int64_t cutoff = now_ms - policy.max_age_ms;
  RetentionReport report;

  // Restore points beyond the newest keep_restore_points: the ranking is a window over the whole
  // table, so it is evaluated once and the rows are then deleted by id, kRetentionBatch per
  // transaction (ranking again for every batch made a large clean-up quadratic).
  std::vector<std::int64_t> surplus;
  {
    Call c(stmts_->restore_points_beyond_keep, path(), "retention: rank restore_points");
    c.Int(std::max(policy.keep_restore_points, 0));
    Result<std::vector<std::int64_t>> ids = Collect<std::int64_t>(
        c, [](sqlite3_stmt* s) -> Result<std::int64_t> { return sqlite3_column_int64(s, 0); });
    if (!ids) return Fail(ids.error());
    surplus = std::move(*ids);
  }
  for (std::size_t from = 0; from < surplus.size();
       from += static_cast<std::size_t>(kRetentionBatch)) {
    const std::size_t to =
        std::min(surplus.size(), from + static_cast<std::size_t>(kRetentionBatch));
    auto batch = [&]() -> Result<void> {
      for (std::size_t i = from; i < to; ++i) {
        Call c(stmts_->delete_restore_point, path(), "retention: delete restore point");
        c.Int(surplus[i]);
        Result<std::int64_t> n = c.Run();
        if (!n) return Fail(n.error());
        report.rows_deleted += *n;
      }
      return {};
    };
    // Inside the caller's transaction the batches simply join it.
    Result<void> r = sqlite3_get_autocommit(db_->handle()) ? InTransaction(batch) : batch();
    if (!r) return Fail(r.error());
  }
  for (const Statements::RetentionTable& t : stmts_->retention) {
    const std::string table = t.name;
    Result<std::int64_t> aged =
        DeleteInBatches(t.age, path(), "retention: " + table + " by age", cutoff, kUnbounded);
    if (!aged) return Fail(aged.error());
    report.rows_deleted += *aged;

    std::int64_t rows = 0;
    {
      Call c(t.count, path(), "retention: count " + table);
      Result<bool> row = c.Step();
      if (!row) return Fail(row.error());
      if (*row) rows = sqlite3_column_int64(t.count, 0);
    }
    if (rows > policy.max_rows) {
      Result<std::int64_t> capped =
          DeleteInBatches(t.cap, path(), "retention: " + table + " by row cap", std::nullopt,
                          rows - std::max<std::int64_t>(policy.max_rows, 0));
      if (!capped) return Fail(capped.error());
      report.rows_deleted += *capped;
    }
  }
  return report;
}

}  // namespace flinkguard
