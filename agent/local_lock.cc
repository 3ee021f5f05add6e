#include "agent/local_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

namespace flinkguard {

Result<std::unique_ptr<FileLock>> FileLock::TryAcquire(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Fail(Error::Permanent("cannot open lock file " + path + ": " + std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string holder;
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n > 0) holder = std::string(buf, static_cast<std::size_t>(n));
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Fail(Error::Conflict(path + " is locked by another flinkguard process" +
                                  (holder.empty() ? std::string() : " (pid " + holder + ")")));
    }
    return Fail(Error::Permanent("cannot lock " + path + ": " + std::strerror(err)));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) {
    (void)!::pwrite(fd, pid.data(), pid.size(), 0);
  }
  return std::unique_ptr<FileLock>(new FileLock(fd, path));
}

FileLock::~FileLock() { ::close(fd_); }

Result<std::optional<std::int64_t>> LocalJobFence::Check(const std::string& job,
                                                         const std::string& action) {
  if (held_.count(job)) return std::optional<std::int64_t>{};
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  // Job names may hold any character; keep the file name safe.
  std::string file;
  for (char c : job) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.';
    file += safe ? c : '_';
  }
  auto lock = FileLock::TryAcquire(dir_ + "/" + file + ".lock");
  if (!lock) {
    return Fail(
        Error{lock.error().kind, "before " + action + " of " + job + ": " + lock.error().message});
  }
  held_[job] = std::move(*lock);
  return std::optional<std::int64_t>{};
}

}  // namespace flinkguard
