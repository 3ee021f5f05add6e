#include "storage/sqlite_db.h"

#include <sqlite3.h>

namespace flinkguard {
namespace {

std::string Describe(sqlite3* db, const std::string& path, const std::string& what) {
  return "sqlite " + path + ": " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
}

}  // namespace

SqliteDb::~SqliteDb() { sqlite3_close_v2(db_); }

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, int max_schema_version) {
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error e = Error::Permanent(Describe(raw, path, "cannot open"));
    sqlite3_close_v2(raw);
    return Fail(std::move(e));
  }
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw, path));
  sqlite3_busy_timeout(raw, 5000);
  // Reading the version first also detects "file is not a database" before we write anything.
  Result<int> version = db->SchemaVersion();
  if (!version) return Fail(Error::Invalid(version.error().message));
  if (*version > max_schema_version) {
    return Fail(Error::Invalid("sqlite " + path + ": schema version " + std::to_string(*version) +
                               " is newer than this flinkguard supports (" +
                               std::to_string(max_schema_version) +
                               "); refusing to open it. Upgrade flinkguard or use another state_dir"));
  }
  if (path != ":memory:") {
    if (Result<void> r = db->Exec("PRAGMA journal_mode=WAL;"); !r) return Fail(r.error());
  }
  if (Result<void> r = db->Exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;"); !r) {
    return Fail(r.error());
  }
  return db;
}

Result<void> SqliteDb::Exec(const std::string& sql) {
  char* msg = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg);
  if (rc == SQLITE_OK) return {};
  std::string text = msg ? msg : sqlite3_errstr(rc);
  sqlite3_free(msg);
  const std::string full = "sqlite " + path_ + ": " + text;
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return Fail(Error::Transient(full));
  return Fail(Error::Permanent(full));
}

Result<int> SqliteDb::SchemaVersion() {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, "PRAGMA user_version;", -1, &stmt, nullptr) != SQLITE_OK) {
    return Fail(Error::Permanent(Describe(db_, path_, "cannot read schema version")));
  }
  int version = 0;
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) version = sqlite3_column_int(stmt, 0);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW) {
    return Fail(Error::Permanent(Describe(db_, path_, "cannot read schema version")));
  }
  return version;
}

}  // namespace flinkguard
