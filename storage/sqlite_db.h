#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "rules/error.h"

struct sqlite3;

namespace flinkguard {

// One open SQLite database file, owned. WAL journal, a busy timeout, foreign keys on.
// The schema version lives in PRAGMA user_version: a file whose version is newer than the code's
// is refused (never touched), so an older agent cannot damage a newer agent's history.
// Not thread-safe: one owner thread uses it (SQLite is opened in NOMUTEX mode).
class SqliteDb {
 public:
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;
  ~SqliteDb();

  // Opens (creating when absent) `path`; ":memory:" gives a private in-memory database.
  // Fails with kInvalid when the file is not a SQLite database or its user_version is above
  // `max_schema_version`, and kPermanent for other open errors (permissions, missing directory).
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path, int max_schema_version);

  // Runs one or more SQL statements that return no rows.
  [[nodiscard]] Result<void> Exec(const std::string& sql);

  // PRAGMA user_version.
  [[nodiscard]] Result<int> SchemaVersion();

  // The raw handle, for statement preparation by the stores built on top. Owned by this object.
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

}  // namespace flinkguard
