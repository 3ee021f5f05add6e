#pragma once

// Shared pieces of the SqliteHistoryStore tests: the two backends the contract suites run over
// (a file in a temp dir and ":memory:"), sample records with every field set, and a raw SQLite
// connection for reaching under the store (corrupting a row, reading a column the interfaces do
// not return).

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <memory>
#include <string>

#include "storage/history_store.h"
#include "tests/support/test_support.h"

namespace flinkguard::history_test {

// The store under test and where it lives. Open() may be called again after Close() to reopen
// the same file (for ":memory:" that is a new, empty database).
template <bool kDisk>
struct Backend {
  static constexpr bool kOnDisk = kDisk;
  testing::TempDir dir{"fg-history"};
  std::string path = kDisk ? dir.File("history.db") : ":memory:";
  std::unique_ptr<SqliteHistoryStore> store;

  Backend() { Open(); }
  void Open() {
    auto opened = SqliteHistoryStore::Open(path);
    REQUIRE_MESSAGE(opened.has_value(), opened.error().message);
    store = std::move(*opened);
  }
  void Close() { store.reset(); }
  SqliteHistoryStore& operator*() { return *store; }
  SqliteHistoryStore* operator->() { return store.get(); }
};
using OnDisk = Backend<true>;
using InMemory = Backend<false>;

// Unwraps a Result, failing the test with its message when it holds an error.
template <typename T>
T Must(Result<T> r) {
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
  return std::move(*r);
}
inline void Must(Result<void> r) {
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
}

// Text that breaks naive quoting and encoding: quotes, a backslash, a newline, non-ASCII.
inline const std::string kAwkward = "it's \"quoted\" \\ back\nslash — Grüße, 東京 🚀";

inline KnownRestorePoint SamplePoint(std::string job, std::string path, std::int64_t trigger_ms,
                                     std::string cluster = "yarn-a") {
  KnownRestorePoint p;
  p.job = std::move(job);
  p.cluster = std::move(cluster);
  p.job_id = "ab12cd34";
  p.point.kind = RestorePoint::Kind::kCheckpoint;
  p.point.id = trigger_ms / 1000;
  p.point.path = std::move(path);
  p.point.trigger_ms = trigger_ms;
  p.point.completed_ms = trigger_ms + 500;
  p.point.discarded = false;
  p.point.addressable = true;
  return p;
}

// Every field set, optionals present.
inline RecoveryRecord SampleRecovery(std::string id, std::string job, std::int64_t started_ms) {
  RecoveryRecord r;
  r.id = std::move(id);
  r.job = std::move(job);
  r.cluster = "yarn-b";
  r.trigger = "rule";
  r.started_ms = started_ms;
  r.strategy = Strategy::kSavepoint;
  r.restore_path = "s3://bucket/savepoints/" + kAwkward;
  r.outcome = RecoveryAttempt::Outcome::kInProgress;
  r.cooldown_ms = 90'000;
  r.dry_run = false;
  r.reason = "checkpoint 41 failed to restore; " + kAwkward;
  r.rules = "restarts,backpressure";
  r.severity = Severity::kCritical;
  r.plan = R"({"steps":["cancel","submit"],"note":"it's"})";
  r.progress = "step 0";
  r.fencing_token = 17;
  r.error = "";
  return r;
}

inline void CheckSameRecovery(const RecoveryRecord& a, const RecoveryRecord& b) {
  CHECK(a.id == b.id);
  CHECK(a.job == b.job);
  CHECK(a.cluster == b.cluster);
  CHECK(a.trigger == b.trigger);
  CHECK(a.started_ms == b.started_ms);
  CHECK(a.ended_ms == b.ended_ms);
  CHECK(a.strategy == b.strategy);
  CHECK(a.restore_path == b.restore_path);
  CHECK(a.outcome == b.outcome);
  CHECK(a.cooldown_ms == b.cooldown_ms);
  CHECK(a.dry_run == b.dry_run);
  CHECK(a.reason == b.reason);
  CHECK(a.rules == b.rules);
  CHECK(a.severity == b.severity);
  CHECK(a.plan == b.plan);
  CHECK(a.progress == b.progress);
  CHECK(a.fencing_token == b.fencing_token);
  CHECK(a.error == b.error);
}

inline void CheckSamePoint(const KnownRestorePoint& a, const KnownRestorePoint& b) {
  CHECK(a.job == b.job);
  CHECK(a.cluster == b.cluster);
  CHECK(a.job_id == b.job_id);
  CHECK(a.point.kind == b.point.kind);
  CHECK(a.point.id == b.point.id);
  CHECK(a.point.path == b.point.path);
  CHECK(a.point.trigger_ms == b.point.trigger_ms);
  CHECK(a.point.completed_ms == b.point.completed_ms);
  CHECK(a.point.discarded == b.point.discarded);
  CHECK(a.point.addressable == b.point.addressable);
  CHECK(a.failed_restore == b.failed_restore);
}

// A second, raw connection to an on-disk store's file.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  ~RawDb() { sqlite3_close_v2(db_); }

  void Exec(const std::string& sql) {
    char* msg = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg);
    const std::string text = msg ? msg : "";
    sqlite3_free(msg);
    REQUIRE_MESSAGE(rc == SQLITE_OK, (sql + ": " + text));
  }
  // The first column of the first row, as text ("" when no row or NULL).
  std::string Scalar(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return out;
  }
  std::int64_t Count(const std::string& table) {
    return std::stoll(Scalar("SELECT COUNT(*) FROM " + table));
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace flinkguard::history_test
