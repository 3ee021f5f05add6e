#include "storage/sqlite_db.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace flinkguard;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("fg-sqlite-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

}  // namespace

TEST_CASE_TEMPLATE_DEFINE("a database opens, runs SQL and keeps its schema version", T, db_open) {
  TempDir dir;
  const std::string path = T::kOnDisk ? (dir.path / "state.db").string() : ":memory:";
  auto db = SqliteDb::Open(path, 3);
  REQUIRE(db.has_value());
  CHECK(*(*db)->SchemaVersion() == 0);
  REQUIRE((*db)->Exec("CREATE TABLE t(x INTEGER); PRAGMA user_version=3;").has_value());
  CHECK(*(*db)->SchemaVersion() == 3);
  auto bad = (*db)->Exec("INSERT INTO missing VALUES(1)");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message.find("missing") != std::string::npos);
}
struct OnDisk { static constexpr bool kOnDisk = true; };
struct InMemory { static constexpr bool kOnDisk = false; };
TEST_CASE_TEMPLATE_INVOKE(db_open, OnDisk, InMemory);

TEST_CASE("a newer schema version is refused and the file is left untouched") {
  TempDir dir;
  const std::string path = (dir.path / "state.db").string();
  {
    auto db = SqliteDb::Open(path, 10);
    REQUIRE(db.has_value());
    REQUIRE((*db)->Exec("CREATE TABLE keep(x); INSERT INTO keep VALUES(7); PRAGMA user_version=9;"));
  }
  const auto size_before = fs::file_size(path);
  auto old = SqliteDb::Open(path, 2);
  REQUIRE_FALSE(old.has_value());
  CHECK(old.error().kind == ErrorKind::kInvalid);
  CHECK(old.error().message.find("schema version 9 is newer") != std::string::npos);
  CHECK(fs::file_size(path) == size_before);
  auto again = SqliteDb::Open(path, 10);
  REQUIRE(again.has_value());
  CHECK(*(*again)->SchemaVersion() == 9);
}

TEST_CASE("a file that is not a database is refused, not overwritten") {
  TempDir dir;
  const fs::path path = dir.path / "state.db";
  {
    std::ofstream out(path);
    out << "this is not a sqlite database, it is a text file that someone put here by mistake\n";
  }
  auto db = SqliteDb::Open(path.string(), 1);
  REQUIRE_FALSE(db.has_value());
  CHECK(db.error().kind == ErrorKind::kInvalid);
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  CHECK(first.rfind("this is not a sqlite database", 0) == 0);
}

TEST_CASE("a missing directory is a clear permanent error") {
  auto db = SqliteDb::Open("/nonexistent-dir-for-flinkguard/state.db", 1);
  REQUIRE_FALSE(db.has_value());
  CHECK(db.error().kind == ErrorKind::kPermanent);
  CHECK(db.error().message.find("/nonexistent-dir-for-flinkguard/state.db") != std::string::npos);
}
