#pragma once

// Local locks for a single-instance agent (no ZooKeeper): advisory flock(2) locks on files in
// `state_dir`, released by the kernel when the process dies (so a kill -9 never leaves a stale
// lock behind).

#include <map>
#include <memory>
#include <string>

#include "agent/executor.h"
#include "rules/error.h"

namespace flinkguard {

// An exclusive lock on one file, held while the object lives.
class FileLock {
 public:
  // Takes the lock without waiting: kConflict when another process holds it (the message names
  // the file and, when it wrote one, that process's pid), kPermanent when the file cannot be
  // created. Writes our pid into the file.
  static Result<std::unique_ptr<FileLock>> TryAcquire(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  FileLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

// Per-job action locks: `<state_dir>/locks/<job>.lock`, taken by the first destructive step of a
// recovery and held until it ends, so the daemon and a person's `flinkguard recover` never act
// on one job at once. No fencing token (the locks die with the process that holds them).
class LocalJobFence final : public ActionFence {
 public:
  explicit LocalJobFence(std::string state_dir) : dir_(std::move(state_dir) + "/locks") {}
  Result<std::optional<std::int64_t>> Check(const std::string& job,
                                            const std::string& action) override;
  void Release(const std::string& job) override { held_.erase(job); }

 private:
  std::string dir_;
  std::map<std::string, std::unique_ptr<FileLock>> held_;
};

}  // namespace flinkguard
